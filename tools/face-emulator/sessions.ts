import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { CreateSessionParams, OperationMode } from './create-request';
import { faceErrors } from './errors';

/** The two session families, each under its own path. */
export type SessionKind = 'liveness' | 'livenessWithVerify';

/** Face's OperationState, as the emulator uses it. */
export type SessionStatus = 'NotStarted' | 'Running' | 'Succeeded' | 'Failed';

export type LivenessDecision = 'realface' | 'spoofface' | 'uncertain';

export interface FaceRectangle {
  top: number;
  left: number;
  width: number;
  height: number;
}

/** One recorded device attempt: a result, or an error. */
export interface EmulatedAttempt {
  attemptId: number;
  status: 'Succeeded' | 'Failed';
  faceRectangle: FaceRectangle;
  result?: {
    livenessDecision: LivenessDecision;
    digest: string;
    sessionImageId?: string;
    verifyResult?: { matchConfidence: number; isIdentical: boolean };
    /** With-verify sessions created with `returnVerifyImageHash`: SHA-256 of the verify image. */
    verifyImageHash?: string;
  };
  error?: { code: string; message: string };
}

export interface EmulatedSession {
  readonly id: string;
  readonly kind: SessionKind;
  readonly authToken: string;
  readonly createdAtMillis: number;
  readonly authTokenTimeToLiveSeconds: number;
  readonly operationMode: OperationMode;
  readonly deviceCorrelationId?: string;
  readonly enableSessionImage: boolean;
  readonly modelVersion: string;
  readonly verifyConfidenceThreshold?: number;
  /** With-verify sessions only: the face found in the verify image. */
  readonly verifyReference?: { faceRectangle: FaceRectangle; qualityForRecognition: 'high' };
  /** Upper-case hex SHA-256 of the verify image, when the session was created with `returnVerifyImageHash`. */
  readonly verifyImageHash?: string;
  status: SessionStatus;
  readonly attempts: EmulatedAttempt[];
}

/** What the device reports for one attempt (the emulator's stand-in for the Face client SDK). */
export type DeviceOutcome =
  | { livenessDecision: LivenessDecision; isIdentical?: boolean; matchConfidence?: number }
  | { error: { code: string; message: string } };

/** Face keeps a session for 48 hours after its creation. */
export const SESSION_RETENTION_MILLIS = 48 * 60 * 60 * 1000;
/** Face allows three attempts per session; the emulator may be told otherwise (`maxAttempts`). */
export const DEFAULT_MAX_ATTEMPTS = 3;
const SWEEP_INTERVAL_MILLIS = 60_000;
const DEFAULT_MATCH_CONFIDENCE = 0.9;

/** Sessions kept at most, unless the emulator is told otherwise. */
export const DEFAULT_MAX_SESSIONS = 10_000;

/** The emulator's sessions, in memory, forgotten 48 hours after creation or, past `maxSessions`, oldest first. */
/** What a with-verify session is created from besides its fields: the verify image's hash, if asked for. */
export interface VerifyImageFacts {
  verifyImageHash?: string;
}

export interface SessionStore {
  create(kind: SessionKind, params: CreateSessionParams, verify?: VerifyImageFacts): EmulatedSession;
  /** The session, or `undefined` when unknown, deleted, of the other kind, or past retention. */
  get(kind: SessionKind, id: string): EmulatedSession | undefined;
  /** Returns whether a session was deleted. */
  delete(kind: SessionKind, id: string): boolean;
  /** The session a device token authorises on `kind`'s device path, if the token is still valid. */
  authorize(kind: SessionKind, authToken: string): EmulatedSession | undefined;
  /** The session an attempt's session image belongs to, while Face keeps that session (not deleted, not past retention). */
  findByImage(sessionImageId: string): EmulatedSession | undefined;
  /** Records a device attempt; throws an `EmulatorHttpError` when the session takes no more attempts. */
  recordAttempt(session: EmulatedSession, outcome: DeviceOutcome): EmulatedAttempt;
  /** How many sessions are kept (for tests of the retention sweep). */
  readonly size: number;
}

export function createSessionStore(now: () => number, maxSessions = DEFAULT_MAX_SESSIONS, maxAttempts = DEFAULT_MAX_ATTEMPTS): SessionStore {
  const sessions = new Map<string, EmulatedSession>();
  const sessionIdByToken = new Map<string, string>();
  const sessionIdByImage = new Map<string, string>();
  let lastSweepMillis = now();

  const isRetained = (session: EmulatedSession, at: number) => at < session.createdAtMillis + SESSION_RETENTION_MILLIS;

  const forget = (session: EmulatedSession) => {
    sessions.delete(session.id);
    sessionIdByToken.delete(session.authToken);
    for (const attempt of session.attempts) if (attempt.result?.sessionImageId) sessionIdByImage.delete(attempt.result.sessionImageId);
  };

  // Lazy: at most once a minute, on the next request, so a long benchmark does not grow without bound.
  const sweep = () => {
    const at = now();
    if (at - lastSweepMillis < SWEEP_INTERVAL_MILLIS) return;
    lastSweepMillis = at;
    for (const session of sessions.values()) {
      if (!isRetained(session, at)) forget(session);
    }
  };

  const find = (kind: SessionKind, id: string) => {
    sweep();
    const session = sessions.get(id);
    if (!session || session.kind !== kind) return undefined;
    if (!isRetained(session, now())) {
      forget(session);
      return undefined;
    }
    return session;
  };

  return {
    create(kind, params, verify) {
      sweep();
      const session: EmulatedSession = {
        id: randomUUID(),
        kind,
        authToken: randomBytes(32).toString('base64url'),
        createdAtMillis: now(),
        authTokenTimeToLiveSeconds: params.authTokenTimeToLiveSeconds,
        operationMode: params.operationMode,
        ...(params.deviceCorrelationId !== undefined && { deviceCorrelationId: params.deviceCorrelationId }),
        enableSessionImage: params.enableSessionImage,
        modelVersion: params.modelVersion,
        ...(params.verifyConfidenceThreshold !== undefined && {
          verifyConfidenceThreshold: params.verifyConfidenceThreshold,
        }),
        ...(kind === 'livenessWithVerify' && {
          verifyReference: { faceRectangle: randomFaceRectangle(), qualityForRecognition: 'high' as const },
        }),
        ...(verify?.verifyImageHash !== undefined && { verifyImageHash: verify.verifyImageHash }),
        status: 'NotStarted',
        attempts: [],
      };
      // Whoever holds a key can create sessions in a loop; memory stays bounded however long that goes
      // on. A Map iterates in insertion order, so the first entry is the oldest session.
      while (sessions.size >= maxSessions) {
        const oldest = sessions.values().next().value;
        if (oldest === undefined) break;
        forget(oldest);
      }
      sessions.set(session.id, session);
      sessionIdByToken.set(session.authToken, session.id);
      return session;
    },

    get: find,

    delete(kind, id) {
      const session = find(kind, id);
      if (!session) return false;
      forget(session);
      return true;
    },

    authorize(kind, authToken) {
      const id = sessionIdByToken.get(authToken);
      const session = id === undefined ? undefined : find(kind, id);
      if (!session) return undefined;
      const expiresAtMillis = session.createdAtMillis + session.authTokenTimeToLiveSeconds * 1000;
      return now() < expiresAtMillis ? session : undefined;
    },

    findByImage(sessionImageId) {
      const id = sessionIdByImage.get(sessionImageId);
      const session = id === undefined ? undefined : sessions.get(id);
      return session && find(session.kind, session.id);
    },

    recordAttempt(session, outcome) {
      if (session.status === 'Succeeded') throw faceErrors.sessionCompleted();
      if (session.attempts.length >= maxAttempts) throw faceErrors.attemptsExhausted(maxAttempts);

      const attempt = buildAttempt(session, outcome);
      session.attempts.push(attempt);
      if (attempt.result?.sessionImageId) sessionIdByImage.set(attempt.result.sessionImageId, session.id);
      if (attempt.status === 'Succeeded') session.status = 'Succeeded';
      else session.status = session.attempts.length >= maxAttempts ? 'Failed' : 'Running';
      return attempt;
    },

    get size() {
      return sessions.size;
    },
  };
}

function buildAttempt(session: EmulatedSession, outcome: DeviceOutcome): EmulatedAttempt {
  const attemptId = session.attempts.length + 1;
  const faceRectangle = randomFaceRectangle();
  if ('error' in outcome) {
    return { attemptId, status: 'Failed', faceRectangle, error: { ...outcome.error } };
  }
  return {
    attemptId,
    status: 'Succeeded',
    faceRectangle,
    result: {
      livenessDecision: outcome.livenessDecision,
      digest: randomBytes(32).toString('hex').toUpperCase(),
      ...(session.enableSessionImage && { sessionImageId: randomSessionImageId() }),
      ...(session.kind === 'livenessWithVerify' && { verifyResult: verifyResultFor(session, outcome) }),
      ...(session.verifyImageHash !== undefined && { verifyImageHash: session.verifyImageHash }),
    },
  };
}

function verifyResultFor(
  session: EmulatedSession,
  outcome: { isIdentical?: boolean; matchConfidence?: number },
): { matchConfidence: number; isIdentical: boolean } {
  const matchConfidence = outcome.matchConfidence ?? DEFAULT_MATCH_CONFIDENCE;
  const threshold = session.verifyConfidenceThreshold;
  const isIdentical = outcome.isIdentical ?? (threshold === undefined ? true : matchConfidence >= threshold);
  return { matchConfidence, isIdentical };
}

/** A plausible face box in a phone selfie frame. */
function randomFaceRectangle(): FaceRectangle {
  const width = randomInt(200, 800);
  return { top: randomInt(80, 800), left: randomInt(60, 400), width, height: Math.round(width * 1.25) };
}

/** Looks like Azure's (44 letters and digits). */
function randomSessionImageId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(44), (byte) => alphabet[byte % alphabet.length]).join('');
}
