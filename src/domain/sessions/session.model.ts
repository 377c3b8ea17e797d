/**
 * The gateway's own records of liveness sessions: plain data, free of GraphQL and of Face's wire
 * format. Enum values equal the names of the public GraphQL enums.
 */
import type {
  FaceAttempt,
  FaceQualityForRecognition,
  FaceRectangle,
  FaceLivenessDecision,
  FaceOperationMode,
  FaceSessionKind,
  FaceStatus,
  FaceVerifyResult,
} from '../ports/face.port';

export type SessionKind = FaceSessionKind;
export type OperationMode = FaceOperationMode;
export type LivenessDecision = FaceLivenessDecision;
/** Face's states, plus the two endings only the gateway knows. */
export type SessionStatus = FaceStatus | 'EXPIRED' | 'DELETED';
export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'EXPIRED';
/** Why a verdict is not what Face's result alone gives: the device's digest differs from Face's. */
export type DecisionReason = 'DIGEST_MISMATCH';

/**
 * The reference face of a liveness-with-verify session: what Face found in the image, and the proof of
 * which image it was: the gateway's own SHA-256 of the bytes it sent, and the hash Face reported.
 */
export interface VerifyReference {
  faceRectangle: FaceRectangle;
  qualityForRecognition: FaceQualityForRecognition;
  /** Lower-case hex SHA-256 of the image bytes the gateway sent (absent for sessions started before it was kept). */
  verifyImageSha256?: string;
  /** Face's `verifyImageHash`, as Face wrote it, from the first attempt that carried one. */
  faceVerifyImageHash?: string;
}

/** Every status once; a `Record` so that a status added to the union must be added here too. */
const STATUS_NAMES: Record<SessionStatus, true> = { NOT_STARTED: true, RUNNING: true, SUCCEEDED: true, FAILED: true, CANCELED: true, EXPIRED: true, DELETED: true };
export const SESSION_STATUSES = Object.keys(STATUS_NAMES) as readonly SessionStatus[];

/** Statuses after which a session never changes again. */
export const FINAL_STATUSES: ReadonlySet<SessionStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'EXPIRED', 'DELETED']);

/**
 * What a session keeps of its tenant's policy at start (`policy/tenant-policy.ts`), so that a later
 * change of the policy does not rewrite the rules of a session already running.
 */
export interface SessionRules {
  maxAttempts: number;
  requireDeviceDigest: boolean;
  evidenceRetentionDays: number;
}

export interface SessionRecord {
  id: string;
  kind: SessionKind;
  status: SessionStatus;
  operationMode: OperationMode;
  userId: string;
  tenant: string;
  deviceCorrelationId: string;
  createdAt: Date;
  expiresAt: Date;
  modelVersion?: string;
  verifyReference?: VerifyReference;
  enableSessionImage: boolean;
  /** When the client first reported that the device is done; polling runs from then on. */
  completionReportedAt?: Date;
  /** The digest the device's Face SDK gave the client, reported with the completion; compared with Face's. */
  reportedDigest?: string;
  /**
   * The rules of its tenant's policy the session keeps from its start, so that a later change of the
   * policy does not rewrite a running session; absent: the configured defaults.
   */
  rules?: SessionRules;
}

/** An attempt as stored: what Face reported for it, and when we first saw it. */
export interface AttemptRecord extends FaceAttempt {
  sessionId: string;
  recordedAt: Date;
}

export interface DecisionRecord {
  sessionId: string;
  verdict: Verdict;
  livenessDecision?: LivenessDecision;
  verifyResult?: FaceVerifyResult;
  attemptId?: number;
  /** Set when the verdict was overruled (FAIL) for a reason other than Face's result. */
  reason?: DecisionReason;
  decidedAt: Date;
}

/**
 * A decision as `sessionDecision` subscribers receive it when it is reached: with the session as the
 * same transition left it, so that `Decision.session` is not read from the store again for every
 * subscriber. Decisions read back from the store carry no session.
 */
export interface DecisionEvent extends DecisionRecord {
  session?: SessionRecord;
}

/** A decision as the rules derive it, before it is stored. */
export type DecisionDraft = Omit<DecisionRecord, 'sessionId' | 'decidedAt'>;
