/**
 * Face's JSON, both ways: our session requests as the Face REST API v1.2 wants them, and its answers
 * read into the port's types.
 */
import type { CreateLivenessWithVerifySessionContent } from '@azure-rest/ai-vision-face';
import {
  type CreateLivenessSessionRequest,
  type CreateLivenessWithVerifySessionRequest,
  type CreatedFaceSession,
  type FaceAttempt,
  type FaceLivenessDecision,
  type FaceQualityForRecognition,
  type FaceRectangle,
  type FaceSession,
  type FaceStatus,
  FaceUnavailableError,
  type FaceVerifyReference,
  type FaceVerifyResult,
} from '../../domain/ports/face.port';

// --- requests -------------------------------------------------------------------------------------

const OPERATION_MODES = { PASSIVE: 'Passive', PASSIVE_ACTIVE: 'PassiveActive' } as const;

export function creationBody(request: CreateLivenessSessionRequest) {
  // Face wants either our device correlation id, or to let the device SDK set it.
  const correlation = request.deviceCorrelationId
    ? { deviceCorrelationId: request.deviceCorrelationId }
    : { deviceCorrelationIdSetInClient: true };
  return {
    livenessOperationMode: OPERATION_MODES[request.operationMode],
    ...correlation,
    authTokenTimeToLiveInSeconds: request.authTokenTimeToLiveSeconds,
    enableSessionImage: request.enableSessionImage,
  };
}

export function verifyCreationParts(request: CreateLivenessWithVerifySessionRequest): CreateLivenessWithVerifySessionContent {
  return [
    { name: 'verifyImage', body: request.verifyImage, filename: 'verify-image' },
    { name: 'livenessOperationMode', body: OPERATION_MODES[request.operationMode] },
    request.deviceCorrelationId
      ? { name: 'deviceCorrelationId', body: request.deviceCorrelationId }
      : { name: 'deviceCorrelationIdSetInClient', body: true },
    { name: 'authTokenTimeToLiveInSeconds', body: request.authTokenTimeToLiveSeconds },
    { name: 'enableSessionImage', body: request.enableSessionImage },
    // Face then reports the SHA-256 of the image it compared, to set beside the gateway's own.
    { name: 'returnVerifyImageHash', body: true },
    ...(request.verifyConfidenceThreshold === undefined
      ? []
      : [{ name: 'verifyConfidenceThreshold' as const, body: request.verifyConfidenceThreshold }]),
  ];
}

// --- answers (lenient: unknown values and missing optional fields are tolerated) ------------------

export function toCreatedSession(body: unknown): CreatedFaceSession {
  const authToken = record(body)?.authToken;
  if (typeof authToken !== 'string' || authToken === '') {
    throw new FaceUnavailableError('Face created a session but sent no device token.', undefined, undefined, 'FACE_FAILING');
  }
  return { ...toSession(body), authToken };
}

export function toSession(body: unknown): FaceSession {
  const session = record(body);
  const sessionId = session?.sessionId;
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw new FaceUnavailableError('Face answered with a session body this gateway cannot read.', undefined, undefined, 'FACE_FAILING');
  }
  const results = record(session?.results);
  const attempts = Array.isArray(results?.attempts) ? results.attempts.flatMap(toAttempt) : [];
  const references = Array.isArray(results?.verifyReferences) ? results.verifyReferences : [];
  const verifyReference = references.map(toVerifyReference).find((reference) => reference !== undefined);
  const modelVersion = session?.modelVersion;
  return {
    sessionId,
    status: toStatus(session?.status),
    ...(typeof modelVersion === 'string' && { modelVersion }),
    attempts,
    ...(verifyReference && { verifyReference }),
  };
}

function toAttempt(value: unknown): FaceAttempt[] {
  const attempt = record(value);
  const attemptId = attempt?.attemptId;
  if (typeof attemptId !== 'number') return [];
  const result = record(attempt?.result);
  const error = record(attempt?.error);
  const faceRectangle = toRectangle(record(record(record(result ?? error)?.targets)?.color)?.faceRectangle);
  const livenessDecision = toDecision(result?.livenessDecision);
  const verifyResult = toVerifyResult(result?.verifyResult);
  const failureCode = error?.code;
  return [
    {
      attemptId,
      status: toStatus(attempt?.attemptStatus),
      ...(livenessDecision && { livenessDecision }),
      ...(faceRectangle && { faceRectangle }),
      ...(typeof result?.digest === 'string' && { digest: result.digest }),
      ...(typeof result?.sessionImageId === 'string' && { sessionImageId: result.sessionImageId }),
      ...(verifyResult && { verifyResult }),
      ...(typeof result?.verifyImageHash === 'string' && result.verifyImageHash !== '' && { verifyImageHash: result.verifyImageHash }),
      ...(typeof failureCode === 'string' && {
        error: { code: failureCode, message: typeof error?.message === 'string' ? error.message : '' },
      }),
    },
  ];
}

const STATUSES: Record<string, FaceStatus> = {
  notstarted: 'NOT_STARTED',
  running: 'RUNNING',
  started: 'RUNNING',
  succeeded: 'SUCCEEDED',
  resultavailable: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'CANCELED',
  cancelled: 'CANCELED',
};

// An unknown state is treated as still running, so callers keep polling rather than decide on it.
function toStatus(value: unknown): FaceStatus {
  return (typeof value === 'string' ? STATUSES[value.toLowerCase()] : undefined) ?? 'RUNNING';
}

const DECISIONS: Record<string, FaceLivenessDecision> = {
  realface: 'REAL_FACE',
  spoofface: 'SPOOF_FACE',
  uncertain: 'UNCERTAIN',
};

function toDecision(value: unknown): FaceLivenessDecision | undefined {
  if (typeof value !== 'string') return undefined;
  return DECISIONS[value.toLowerCase()] ?? 'UNCERTAIN';
}

const QUALITIES: Record<string, FaceQualityForRecognition> = { low: 'LOW', medium: 'MEDIUM', high: 'HIGH' };

function toVerifyReference(value: unknown): FaceVerifyReference | undefined {
  const reference = record(value);
  const faceRectangle = toRectangle(reference?.faceRectangle);
  if (!faceRectangle) return undefined;
  const quality = reference?.qualityForRecognition;
  return {
    faceRectangle,
    qualityForRecognition: (typeof quality === 'string' ? QUALITIES[quality.toLowerCase()] : undefined) ?? 'LOW',
  };
}

function toVerifyResult(value: unknown): FaceVerifyResult | undefined {
  const result = record(value);
  if (typeof result?.isIdentical !== 'boolean' || typeof result.matchConfidence !== 'number') return undefined;
  return { isIdentical: result.isIdentical, matchConfidence: result.matchConfidence };
}

function toRectangle(value: unknown): FaceRectangle | undefined {
  const rectangle = record(value);
  const { top, left, width, height } = rectangle ?? {};
  if (typeof top !== 'number' || typeof left !== 'number' || typeof width !== 'number' || typeof height !== 'number') {
    return undefined;
  }
  return { top, left, width, height };
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
