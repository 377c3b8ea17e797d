/** The verdict rules of docs/api.md, as `deriveDecision` applies them. */
import { describe, expect, it } from 'vitest';
import type { FaceAttempt, FaceStatus } from '../../src/domain/ports/face.port';
import { checkDigest, deriveDecision, MAX_ATTEMPTS, sha256Hex, type DecisionInput } from '../../src/domain/sessions/decision';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const IN_TEN_MINUTES = NOW + 600_000;

function input(overrides: Partial<DecisionInput> = {}): DecisionInput {
  return { kind: 'LIVENESS', faceStatus: 'RUNNING', attempts: [], nowMillis: NOW, expiresAtMillis: IN_TEN_MINUTES, ...overrides };
}

const result = (attemptId: number, livenessDecision: FaceAttempt['livenessDecision'], extra: Partial<FaceAttempt> = {}): FaceAttempt => ({
  attemptId,
  status: 'SUCCEEDED',
  livenessDecision,
  digest: `D${attemptId}`,
  ...extra,
});
const failure = (attemptId: number, code = 'FaceWithMaskDetected'): FaceAttempt => ({
  attemptId,
  status: 'FAILED',
  error: { code, message: 'Mask detected.' },
});

describe('liveness sessions', () => {
  it('a real face yields PASS with its attempt', () => {
    expect(deriveDecision(input({ faceStatus: 'SUCCEEDED', attempts: [result(1, 'REAL_FACE')] }))).toEqual({
      status: 'SUCCEEDED',
      decision: { verdict: 'PASS', livenessDecision: 'REAL_FACE', verifyResult: undefined, attemptId: 1 },
    });
  });

  it('a spoofed face yields FAIL', () => {
    const outcome = deriveDecision(input({ faceStatus: 'SUCCEEDED', attempts: [result(1, 'SPOOF_FACE')] }));
    expect(outcome?.decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'SPOOF_FACE', attemptId: 1 });
    expect(outcome?.status).toBe('SUCCEEDED');
  });

  it('an uncertain result yields INCONCLUSIVE', () => {
    const outcome = deriveDecision(input({ faceStatus: 'SUCCEEDED', attempts: [result(1, 'UNCERTAIN')] }));
    expect(outcome?.decision).toMatchObject({ verdict: 'INCONCLUSIVE', livenessDecision: 'UNCERTAIN' });
  });

  it('a result decides even while Face still reports the session running', () => {
    const outcome = deriveDecision(input({ faceStatus: 'RUNNING', attempts: [failure(1), result(2, 'REAL_FACE')] }));
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 2 } });
  });

  it('the latest attempt with a result decides, whatever order Face lists them in', () => {
    const outcome = deriveDecision(input({ faceStatus: 'SUCCEEDED', attempts: [result(2, 'SPOOF_FACE'), failure(1), result(1, 'REAL_FACE')] }));
    expect(outcome?.decision).toMatchObject({ verdict: 'FAIL', attemptId: 2 });
  });

  it('an attempt still running is no result', () => {
    expect(deriveDecision(input({ attempts: [{ attemptId: 1, status: 'RUNNING' }] }))).toBeUndefined();
  });

  it('an attempt marked succeeded but without a liveness decision is no result', () => {
    expect(deriveDecision(input({ attempts: [{ attemptId: 1, status: 'SUCCEEDED' }] }))).toBeUndefined();
  });
});

describe('liveness-with-verify sessions', () => {
  const verify = (overrides: Partial<DecisionInput>) => input({ kind: 'LIVENESS_WITH_VERIFY', faceStatus: 'SUCCEEDED', ...overrides });

  it('a real face identical to the reference yields PASS and carries the verify result', () => {
    const attempt = result(1, 'REAL_FACE', { verifyResult: { isIdentical: true, matchConfidence: 0.93 } });
    expect(deriveDecision(verify({ attempts: [attempt] }))?.decision).toEqual({
      verdict: 'PASS',
      livenessDecision: 'REAL_FACE',
      verifyResult: { isIdentical: true, matchConfidence: 0.93 },
      attemptId: 1,
    });
  });

  it('a real face of a different person yields FAIL', () => {
    const attempt = result(1, 'REAL_FACE', { verifyResult: { isIdentical: false, matchConfidence: 0.08 } });
    expect(deriveDecision(verify({ attempts: [attempt] }))?.decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'REAL_FACE' });
  });

  it('a spoofed face yields FAIL even when it matches the reference', () => {
    const attempt = result(1, 'SPOOF_FACE', { verifyResult: { isIdentical: true, matchConfidence: 0.99 } });
    expect(deriveDecision(verify({ attempts: [attempt] }))?.decision.verdict).toBe('FAIL');
  });

  it('an uncertain face yields INCONCLUSIVE even when it matches the reference', () => {
    const attempt = result(1, 'UNCERTAIN', { verifyResult: { isIdentical: true, matchConfidence: 0.99 } });
    expect(deriveDecision(verify({ attempts: [attempt] }))?.decision.verdict).toBe('INCONCLUSIVE');
  });

  it('a real face without a verify result yields INCONCLUSIVE, never PASS', () => {
    expect(deriveDecision(verify({ attempts: [result(1, 'REAL_FACE')] }))?.decision.verdict).toBe('INCONCLUSIVE');
  });
});

describe('sessions without a result', () => {
  it('a session not yet started, before its expiry, is undecided', () => {
    expect(deriveDecision(input({ faceStatus: 'NOT_STARTED' }))).toBeUndefined();
  });

  it(`fewer than ${MAX_ATTEMPTS} failed attempts leave the session undecided`, () => {
    expect(deriveDecision(input({ attempts: [failure(1), failure(2)] }))).toBeUndefined();
  });

  it(`${MAX_ATTEMPTS} failed attempts yield INCONCLUSIVE with status FAILED, naming the last attempt`, () => {
    expect(deriveDecision(input({ attempts: [failure(1), failure(2), failure(3)] }))).toEqual({
      status: 'FAILED',
      decision: { verdict: 'INCONCLUSIVE', attemptId: 3 },
    });
  });

  it('the last failed attempt is named whatever order Face lists them in', () => {
    expect(deriveDecision(input({ attempts: [failure(3), failure(1), failure(2)] }))?.decision.attemptId).toBe(3);
  });

  it('Face reporting the session FAILED yields INCONCLUSIVE', () => {
    expect(deriveDecision(input({ faceStatus: 'FAILED', attempts: [failure(1)] }))).toMatchObject({
      status: 'FAILED',
      decision: { verdict: 'INCONCLUSIVE', attemptId: 1 },
    });
  });

  it('Face reporting the session SUCCEEDED without a readable result yields INCONCLUSIVE', () => {
    expect(deriveDecision(input({ faceStatus: 'SUCCEEDED' }))).toEqual({ status: 'SUCCEEDED', decision: { verdict: 'INCONCLUSIVE' } });
  });

  it('a canceled session yields EXPIRED with status CANCELED', () => {
    expect(deriveDecision(input({ faceStatus: 'CANCELED' }))).toEqual({ status: 'CANCELED', decision: { verdict: 'EXPIRED' } });
  });

  it('a session without a result is undecided one millisecond before its expiry', () => {
    expect(deriveDecision(input({ nowMillis: IN_TEN_MINUTES - 1 }))).toBeUndefined();
  });

  it.each<FaceStatus>(['NOT_STARTED', 'RUNNING'])('a %s session without a result yields EXPIRED from its expiry on', (faceStatus) => {
    expect(deriveDecision(input({ faceStatus, nowMillis: IN_TEN_MINUTES }))).toEqual({ status: 'EXPIRED', decision: { verdict: 'EXPIRED' } });
    expect(deriveDecision(input({ faceStatus, nowMillis: IN_TEN_MINUTES + 86_400_000 }))?.decision.verdict).toBe('EXPIRED');
  });

  it('a result the device reached before the expiry still decides after it', () => {
    const outcome = deriveDecision(input({ faceStatus: 'SUCCEEDED', attempts: [result(1, 'REAL_FACE')], nowMillis: IN_TEN_MINUTES + 60_000 }));
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 1 } });
  });

  it('a session that expires after some attempts, all failed, yields INCONCLUSIVE with status EXPIRED', () => {
    const outcome = deriveDecision(input({ faceStatus: 'RUNNING', attempts: [failure(1), failure(2)], nowMillis: IN_TEN_MINUTES }));
    expect(outcome).toEqual({ status: 'EXPIRED', decision: { verdict: 'INCONCLUSIVE', attemptId: 2 } });
  });

  it('a canceled session after a failed attempt yields INCONCLUSIVE with status CANCELED', () => {
    const outcome = deriveDecision(input({ faceStatus: 'CANCELED', attempts: [failure(1)] }));
    expect(outcome).toEqual({ status: 'CANCELED', decision: { verdict: 'INCONCLUSIVE', attemptId: 1 } });
  });

  it('exhausted attempts decide INCONCLUSIVE rather than EXPIRED after the expiry', () => {
    const outcome = deriveDecision(input({ attempts: [failure(1), failure(2), failure(3)], nowMillis: IN_TEN_MINUTES + 1 }));
    expect(outcome?.decision.verdict).toBe('INCONCLUSIVE');
  });
});

describe('the attempts limit from configuration', () => {
  it('fewer failed attempts than the configured limit leave the session undecided, as many decide it', () => {
    expect(deriveDecision(input({ attempts: [failure(1)], maxAttempts: 2 }))).toBeUndefined();
    expect(deriveDecision(input({ attempts: [failure(1), failure(2)], maxAttempts: 2 }))).toEqual({
      status: 'FAILED',
      decision: { verdict: 'INCONCLUSIVE', attemptId: 2 },
    });
  });

  it("Face's own FAILED status decides even below the configured limit", () => {
    expect(deriveDecision(input({ faceStatus: 'FAILED', attempts: [failure(1)], maxAttempts: 5 }))?.decision).toEqual({ verdict: 'INCONCLUSIVE', attemptId: 1 });
  });
});

describe("the device's digest", () => {
  const passed = { verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 2 } as const;
  const attempts = [failure(1), result(2, 'REAL_FACE', { digest: 'ABCDEF01' })];

  it.each([
    ['no reported digest', undefined, passed],
    ['the same digest', 'ABCDEF01', passed],
    ['the same digest in lower case', 'abcdef01', passed],
    ['another digest', 'ABCDEF02', { ...passed, verdict: 'FAIL', reason: 'DIGEST_MISMATCH' }],
  ])('%s: %o', (_case, reported, expected) => {
    expect(checkDigest(passed, attempts, reported)).toEqual(expected);
  });

  it('a reported digest against an attempt without one is a mismatch; a decision on no result is left alone', () => {
    expect(checkDigest({ ...passed }, [result(2, 'REAL_FACE', { digest: undefined })], 'ABCDEF01')).toMatchObject({ verdict: 'FAIL', reason: 'DIGEST_MISMATCH' });
    expect(checkDigest({ verdict: 'INCONCLUSIVE', attemptId: 1 }, attempts, 'ABCDEF01')).toEqual({ verdict: 'INCONCLUSIVE', attemptId: 1 });
  });

  it('reads a SHA-256 given as hex or base64 as lower-case hex, and nothing else', () => {
    const hex = 'ab'.repeat(32);
    expect(sha256Hex(hex.toUpperCase())).toBe(hex);
    expect(sha256Hex(Buffer.from(hex, 'hex').toString('base64'))).toBe(hex);
    expect(sha256Hex('not a hash')).toBeUndefined();
  });
});
