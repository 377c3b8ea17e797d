/**
 * Where decisions are derived: the public verdict rules, as a pure function of
 * what Face reports and the clock.
 */
import type { FaceAttempt, FaceStatus } from '../ports/face.port';
import type { DecisionDraft, SessionKind, SessionStatus } from './session.model';

/** Face allows at most three attempts per session: the default of `LIVENESS_MAX_ATTEMPTS`. */
export const MAX_ATTEMPTS = 3;

export interface DecisionInput {
  kind: SessionKind;
  faceStatus: FaceStatus;
  attempts: readonly FaceAttempt[];
  nowMillis: number;
  expiresAtMillis: number;
  /** Failed attempts that end a session Face still reports running (configuration; default `MAX_ATTEMPTS`). */
  maxAttempts?: number;
}

export interface DecisionOutcome {
  decision: DecisionDraft;
  /** The session's status once decided. */
  status: SessionStatus;
}

/** The decision a session has reached, or undefined while it may still get a result. */
export function deriveDecision(input: DecisionInput): DecisionOutcome | undefined {
  const withResult = input.attempts
    .filter((attempt) => attempt.status === 'SUCCEEDED' && attempt.livenessDecision !== undefined)
    .sort((a, b) => b.attemptId - a.attemptId)[0];

  if (withResult) {
    return {
      status: 'SUCCEEDED',
      decision: {
        verdict: verdictOf(input.kind, withResult),
        livenessDecision: withResult.livenessDecision,
        verifyResult: withResult.verifyResult,
        attemptId: withResult.attemptId,
      },
    };
  }

  const failed = input.attempts.filter((attempt) => attempt.status === 'FAILED');
  // Face's own status decides first; the limit ends a session whose attempts are used up even when
  // Face (or a tenant's stricter policy) has not said so yet.
  if (input.faceStatus === 'FAILED' || failed.length >= (input.maxAttempts ?? MAX_ATTEMPTS)) {
    // Every attempt ended in an error: nothing to judge the face by.
    // The last attempt by id: Face's list order is not a promise.
    const lastAttemptId = failed.length > 0 ? Math.max(...failed.map((attempt) => attempt.attemptId)) : undefined;
    return { status: 'FAILED', decision: { verdict: 'INCONCLUSIVE', attemptId: lastAttemptId } };
  }
  if (input.faceStatus === 'SUCCEEDED') {
    // Face says it is done but reported no result we can read.
    return { status: 'SUCCEEDED', decision: { verdict: 'INCONCLUSIVE' } };
  }
  const ended = input.faceStatus === 'CANCELED' ? 'CANCELED' : input.nowMillis >= input.expiresAtMillis ? 'EXPIRED' : undefined;
  if (!ended) return undefined;
  // Ended without a result. If the device did try and every try failed, that is what the verdict
  // reports (INCONCLUSIVE); a session nobody tried is EXPIRED.
  if (failed.length > 0) {
    const lastAttemptId = Math.max(...failed.map((attempt) => attempt.attemptId));
    return { status: ended, decision: { verdict: 'INCONCLUSIVE', attemptId: lastAttemptId } };
  }
  return { status: ended, decision: { verdict: 'EXPIRED' } };
}

function verdictOf(kind: SessionKind, attempt: FaceAttempt): DecisionDraft['verdict'] {
  switch (attempt.livenessDecision) {
    case 'SPOOF_FACE':
      return 'FAIL';
    case 'UNCERTAIN':
      return 'INCONCLUSIVE';
    case 'REAL_FACE':
      if (kind === 'LIVENESS') return 'PASS';
      // A verify session passes only when the live face is the reference face.
      if (!attempt.verifyResult) return 'INCONCLUSIVE';
      return attempt.verifyResult.isIdentical ? 'PASS' : 'FAIL';
    default:
      return 'INCONCLUSIVE';
  }
}

/**
 * Face's digest and the one the device reported are the same value (Face writes upper-case hex; a
 * client may not). A result whose digest differs, or that has none to compare, is not to be trusted.
 */
export function sameDigest(reported: string, fromFace: string | undefined): boolean {
  return fromFace !== undefined && reported.trim().toLowerCase() === fromFace.trim().toLowerCase();
}

/**
 * A decision held against the digest the device reported: when the attempt it rests on carries
 * another digest, the verdict is FAIL with reason DIGEST_MISMATCH. Without a reported digest, or for a
 * decision that rests on no attempt with a result, it stands as it is.
 */
export function checkDigest(decision: DecisionDraft, attempts: readonly FaceAttempt[], reportedDigest: string | undefined): DecisionDraft {
  if (reportedDigest === undefined || decision.attemptId === undefined || decision.livenessDecision === undefined) return decision;
  const attempt = attempts.find((candidate) => candidate.attemptId === decision.attemptId);
  if (sameDigest(reportedDigest, attempt?.digest)) return decision;
  return { ...decision, verdict: 'FAIL', reason: 'DIGEST_MISMATCH' };
}

/** Hex or base64 of a SHA-256, as lower-case hex; undefined when it is neither. */
export function sha256Hex(hash: string): string | undefined {
  const text = hash.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return text.toLowerCase();
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === 32 && /^[A-Za-z0-9+/]{43}=$/.test(text) ? bytes.toString('hex') : undefined;
}
