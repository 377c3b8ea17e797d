/**
 * The Face port: the only view of the Azure AI Face liveness service the domain has.
 *
 * Adapters (`azure-face.ts`, talking to Azure or to the emulator through
 * `@azure-rest/ai-vision-face`) translate the Face REST API v1.2 bodies into these plain types,
 * so nothing outside `src/face/` knows about Azure's wire format.
 */

/** Which Face operation family a session belongs to. Values equal the GraphQL enum names. */
export type FaceSessionKind = 'LIVENESS' | 'LIVENESS_WITH_VERIFY';

/** Face's OperationState for a session or an attempt, upper-cased to our GraphQL enum names. */
export type FaceStatus = 'NOT_STARTED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED';

export type FaceLivenessDecision = 'REAL_FACE' | 'SPOOF_FACE' | 'UNCERTAIN';
export type FaceOperationMode = 'PASSIVE' | 'PASSIVE_ACTIVE';
export type FaceQualityForRecognition = 'LOW' | 'MEDIUM' | 'HIGH';

export interface FaceRectangle {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface FaceVerifyResult {
  isIdentical: boolean;
  matchConfidence: number;
}

export interface FaceVerifyReference {
  faceRectangle: FaceRectangle;
  qualityForRecognition: FaceQualityForRecognition;
}

/** Face refused to create a session because the device correlation id is flagged by its abuse monitoring. */
export const FLAGGED_CORRELATION_CODES: ReadonlySet<string> = new Set(['DeviceCorrelationIdFlagged']);

/** One attempt of the device at a session, as Face reports it. */
export interface FaceAttempt {
  attemptId: number;
  status: FaceStatus;
  /** Present when the attempt produced a result. */
  livenessDecision?: FaceLivenessDecision;
  faceRectangle?: FaceRectangle;
  digest?: string;
  /** Only when the session was created with session images enabled. */
  sessionImageId?: string;
  /** Only for liveness-with-verify sessions. */
  verifyResult?: FaceVerifyResult;
  /** Liveness-with-verify, when asked for: Face's SHA-256 of the verify image it compared against. */
  verifyImageHash?: string;
  /** Present when the attempt failed (e.g. `FaceWithMaskDetected`). */
  error?: { code: string; message: string };
}

/** A session as returned by Face's GET (the device token is never part of it). */
export interface FaceSession {
  sessionId: string;
  status: FaceStatus;
  modelVersion?: string;
  attempts: FaceAttempt[];
  /** Liveness-with-verify only: the reference face Face found in the verify image. */
  verifyReference?: FaceVerifyReference;
}

/** A freshly created session: the only moment Face hands out the device's `authToken`. */
export interface CreatedFaceSession extends FaceSession {
  authToken: string;
}

/** An attempt's session image as Face serves it. */
export interface FaceSessionImage {
  bytes: Buffer;
  /** e.g. `image/jpeg`. */
  contentType: string;
}

export interface CreateLivenessSessionRequest {
  operationMode: FaceOperationMode;
  deviceCorrelationId: string;
  authTokenTimeToLiveSeconds: number;
  enableSessionImage: boolean;
}

export interface CreateLivenessWithVerifySessionRequest extends CreateLivenessSessionRequest {
  /** The decoded reference image (JPEG, PNG, GIF, BMP or WEBP). */
  verifyImage: Buffer;
  verifyConfidenceThreshold?: number;
}

/**
 * Who waits on a Face call, for the gateway-wide cap on Face calls per second: `interactive` calls (a
 * user waits: starts, deletes) are served before `background` ones (polls).
 */
export type FaceCallPriority = 'interactive' | 'background';

export interface FacePort {
  createLivenessSession(request: CreateLivenessSessionRequest): Promise<CreatedFaceSession>;
  createLivenessWithVerifySession(request: CreateLivenessWithVerifySessionRequest): Promise<CreatedFaceSession>;
  /** A poll: `background` unless said otherwise (a delete reads the session first, as `interactive`). */
  getSession(kind: FaceSessionKind, sessionId: string, options?: { priority?: FaceCallPriority }): Promise<FaceSession>;
  /**
   * A session image Face kept for an attempt (`GET /sessionImages/{id}`), while it keeps the session.
   * A `background` call: it runs after the decision, and yields to starts and deletes.
   */
  getSessionImage(sessionImageId: string): Promise<FaceSessionImage>;
  /** Revokes the session (its device token stops working). Deleting an unknown session is not an error. */
  deleteSession(kind: FaceSessionKind, sessionId: string): Promise<void>;
  /**
   * Resolves when the Face service answers and accepts our credentials; rejects otherwise, and when
   * `signal` aborts. For `/readyz`.
   */
  ping(options?: { signal?: AbortSignal }): Promise<void>;
}

/** Face answered, but refused the request (a 4xx other than 408/429). */
export class FaceRequestError extends Error {
  constructor(
    /** Face's own error code, e.g. `InvalidRequest`, `SessionNotFound`. */
    readonly upstreamCode: string,
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
    this.name = 'FaceRequestError';
  }
}

/**
 * A 404 that is no "session not found" but the server knowing no such path: Azure's front door
 * answers `{"error":{"code":"404"}}`, other servers give no Face error code at all.
 */
export function isNoFaceRoute(httpStatus: number, upstreamCode: string): boolean {
  return httpStatus === 404 && ['404', 'NotFound', 'ResourceNotFound'].includes(upstreamCode);
}

/**
 * Why no answer came from Face, as a client reads it (`extensions.reason` of `UPSTREAM_UNAVAILABLE`):
 * no answer in time, no connection at all (the host does not resolve, nothing listens), Face
 * throttling or failing (429, or 408/5xx, after the retries), no Entra ID token, the circuit breaker
 * open, or the gateway's own queue of Face calls too long.
 */
export type FaceUnavailableReason =
  | 'FACE_TIMEOUT'
  | 'FACE_UNREACHABLE'
  | 'FACE_THROTTLED'
  | 'FACE_FAILING'
  | 'FACE_CREDENTIAL_UNAVAILABLE'
  | 'CIRCUIT_OPEN'
  | 'GATEWAY_BUSY';

/** Face did not answer in time, answered 408/429/5xx after our retries, or could not be reached. */
export class FaceUnavailableError extends Error {
  readonly reason: FaceUnavailableReason;
  constructor(
    message: string,
    readonly httpStatus?: number,
    /** Seconds Face asked us to wait (`Retry-After`), when it said. */
    readonly retryAfterSeconds?: number,
    /** Without one: from `httpStatus` (429 throttled, others failing), or a timeout when there is none. */
    reason?: FaceUnavailableReason,
    /** The network error's code (`ENOTFOUND`, `ECONNREFUSED` …) when no connection was made. */
    readonly networkCode?: string,
  ) {
    super(message);
    this.name = 'FaceUnavailableError';
    this.reason = reason ?? (httpStatus === 429 ? 'FACE_THROTTLED' : httpStatus !== undefined ? 'FACE_FAILING' : 'FACE_TIMEOUT');
  }
}
