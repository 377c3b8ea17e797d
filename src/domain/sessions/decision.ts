/**
 * Where decisions are derived: the public verdict rules, as a pure function of
 * what Face reports and the clock.
 */
import type { FaceAttempt, FaceStatus } from '../ports/face.port';
import type { DecisionDraft, SessionKind, SessionStatus } from './session.model';

/** Face allows at most three attempts per session. */
export const MAX_ATTEMPTS = 3;

export interface DecisionInput {
  kind: SessionKind;
  faceStatus: FaceStatus;
  attempts: readonly FaceAttempt[];
  nowMillis: number;
  expiresAtMillis: number;
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
  if (input.faceStatus === 'FAILED' || failed.length >= MAX_ATTEMPTS) {
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
