/**
 * The errors the emulator answers, as `{"error":{"code","message"}}` bodies.
 *
 * Codes and messages of the management API are Azure's own, from "Azure AI Face API error codes"
 * (https://learn.microsoft.com/azure/ai-services/computer-vision/reference-face-error-codes): the common
 * codes and the "Face Liveness Session error codes" table. The device-side refusals are the emulator's.
 */

/** An error answer: HTTP status, Face error code and message, and any extra headers (e.g. `Retry-After`). */
export class EmulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'EmulatorHttpError';
  }
}

const error = (status: number, code: string, message: string) => (): EmulatorHttpError =>
  new EmulatorHttpError(status, code, message);

/** Face's answers, keyed by what went wrong. Each call builds a fresh error. */
export const faceErrors = {
  accessDenied: error(
    401,
    '401',
    'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
  ),
  sessionNotFound: error(404, 'SessionNotFound', 'Session ID is not found. The session ID is expired or does not exist.'),
  resourceNotFound: error(404, '404', 'Resource not found.'),
  sessionImageNotFound: error(404, 'SessionImageNotFound', 'Session image ID is not found. The session image is expired or does not exist.'),
  invalidRequestBody: error(
    400,
    'InvalidRequestBody',
    'Incorrect request body provided. Please check the operation schema and try again.',
  ),
  invalidTokenLifetime: error(
    400,
    'InvalidTokenLifetime',
    'Invalid authTokenTimeToLiveInSeconds specified. Must be within 60 to 86400.',
  ),
  // Azure's table says "Must be 'Passive'." (written before v1.2 added PassiveActive).
  invalidLivenessOperationMode: error(
    400,
    'InvalidLivenessOperationMode',
    "Invalid livenessOperationMode specified. Must be 'Passive' or 'PassiveActive'.",
  ),
  invalidDeviceCorrelationId: error(
    400,
    'InvalidDeviceCorrelationId',
    'A device correlation ID is required in the request body during session create or session start. Must not be null or empty, and be no more than 64 characters.',
  ),
  // Not in Azure's table: a model version other than the one v1.2 offers.
  invalidLivenessModelVersion: error(
    400,
    'InvalidRequestBody',
    "Invalid livenessModelVersion specified. Must be '2024-11-15'.",
  ),
  invalidImage: error(400, 'InvalidImage', 'Decoding error, image format unsupported.'),
  noFaceInImage: error(400, 'InvalidImage', 'No face detected in the image.'),
  multipleFacesInImage: error(400, 'InvalidImage', 'Multiple faces detected in the image; the verify image must contain exactly one face.'),
  imageTooSmall: error(400, 'InvalidImageSize', 'Image size is too small.'),
  imageTooBig: error(400, 'InvalidImageSize', 'Image size is too big.'),

  // Device side (the Face client SDK's calls): the emulator's own wording.
  invalidSessionToken: error(
    401,
    '401',
    'Access denied due to an invalid or expired session authorization token.',
  ),
  attemptsExhausted: (maxAttempts: number) =>
    new EmulatorHttpError(403, 'MaxAttemptsReached', `The session allows at most ${maxAttempts} attempts.`),
  sessionCompleted: error(403, 'SessionCompleted', 'The session already has a result.'),
  // Azure's answer beyond a resource's calls per second (S0: 10), with the wait in `Retry-After`.
  throttled: (retryAfterSeconds: number) =>
    new EmulatorHttpError(429, '429', 'Rate limit is exceeded. Try again later.', { 'Retry-After': String(retryAfterSeconds) }),
} as const;

/** The JSON body of an error answer. */
export function errorBody(error: EmulatorHttpError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}
