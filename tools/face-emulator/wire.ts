/**
 * The Face REST API v1.2 bodies of sessions and attempts, key for key and in Azure's key order
 * (see the published examples in `specification/ai/Face/examples/v1.2` and the liveness tutorial).
 */
import type { EmulatedAttempt, EmulatedSession } from './sessions';

/** The create answer: the only body that carries the device's `authToken`. */
export function createdSessionBody(session: EmulatedSession): object {
  return sessionBody(session, session.authToken, true);
}

/** The GET answer: `authToken` is empty, and `verifyReferences` carry no `referenceType` (as Azure answers). */
export function sessionResultBody(session: EmulatedSession): object {
  return sessionBody(session, '', false);
}

/** An attempt as it appears in `results.attempts[]`. */
export function attemptBody(attempt: EmulatedAttempt): object {
  const targets = { color: { faceRectangle: { ...attempt.faceRectangle } } };
  if (attempt.error) {
    return {
      attemptId: attempt.attemptId,
      attemptStatus: attempt.status,
      error: { code: attempt.error.code, message: attempt.error.message, targets },
    };
  }
  const result = attempt.result;
  return {
    attemptId: attempt.attemptId,
    attemptStatus: attempt.status,
    ...(result && {
      result: {
        livenessDecision: result.livenessDecision,
        targets,
        digest: result.digest,
        ...(result.sessionImageId !== undefined && { sessionImageId: result.sessionImageId }),
        ...(result.verifyResult && {
          verifyResult: {
            matchConfidence: result.verifyResult.matchConfidence,
            isIdentical: result.verifyResult.isIdentical,
          },
        }),
        ...(result.verifyImageHash !== undefined && { verifyImageHash: result.verifyImageHash }),
      },
    }),
  };
}

function sessionBody(session: EmulatedSession, authToken: string, withReferenceType: boolean): object {
  const reference = session.verifyReference;
  return {
    sessionId: session.id,
    authToken,
    status: session.status,
    modelVersion: session.modelVersion,
    results: {
      attempts: session.attempts.map(attemptBody),
      ...(reference && {
        verifyReferences: [
          {
            ...(withReferenceType && { referenceType: 'image' }),
            faceRectangle: { ...reference.faceRectangle },
            qualityForRecognition: reference.qualityForRecognition,
          },
        ],
      }),
    },
  };
}
