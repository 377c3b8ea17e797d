/**
 * Every verdict of docs/api.md, end to end: a user starts a session over HTTP, the device plays
 * against the emulator, the client reports completion, and the decision arrives over graphql-ws.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  SessionDecisionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
} from '../../client/generated/graphql';
import { TestGateway, type DeviceOutcome } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { STORES, type TestDatabase } from '../helpers/services';

let gateway: TestGateway;

async function decide(kind: 'LIVENESS' | 'LIVENESS_WITH_VERIFY', outcomes: DeviceOutcome[]) {
  const token = gateway.token({ sub: `user-${Math.random()}`, tenant: 'acme' });
  const started =
    kind === 'LIVENESS'
      ? (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession
      : (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
  const id = started.session.id;

  const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
  for (const outcome of outcomes) {
    const answer = await gateway.device(kind, started.authToken, outcome);
    expect(answer.status).toBe(200);
  }
  const completed = await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
  expect(completed.completeLivenessSession.id).toBe(id);

  const events = await subscription.done;
  expect(events).toHaveLength(1);
  expect(events[0].errors).toBeUndefined();
  const decision = events[0].data!.sessionDecision;
  expect(decision.sessionId).toBe(id);
  const stored = (await gateway.ok(SessionDocument, { id }, token)).session!;
  const { session: _session, ...pushed } = decision;
  expect(stored.decision).toEqual(pushed);
  return { decision, stored };
}

describe.each(STORES)('verdicts on $store', ({ available, database }) => {
  let testDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: testDatabase ? { DATABASE_URL: testDatabase.url } : {} });
  });
  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('a real face yields PASS', async () => {
    const { decision, stored } = await decide('LIVENESS', [{ livenessDecision: 'realface' }]);
    expect(decision).toMatchObject({ verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 1, verifyResult: null });
    expect(decision.session).toEqual({ id: stored.id, status: 'SUCCEEDED' });
    expect(stored.status).toBe('SUCCEEDED');
    expect(stored.attempts).toHaveLength(1);
    expect(stored.attempts[0]).toMatchObject({ attemptId: 1, status: 'SUCCEEDED', livenessDecision: 'REAL_FACE' });
    expect(stored.attempts[0].digest).toMatch(/^[0-9A-F]{64}$/);
  });

  it.skipIf(!available)('a spoofed face yields FAIL', async () => {
    const { decision } = await decide('LIVENESS', [{ livenessDecision: 'spoofface' }]);
    expect(decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'SPOOF_FACE' });
  });

  it.skipIf(!available)('an uncertain result yields INCONCLUSIVE', async () => {
    const { decision } = await decide('LIVENESS', [{ livenessDecision: 'uncertain' }]);
    expect(decision).toMatchObject({ verdict: 'INCONCLUSIVE', livenessDecision: 'UNCERTAIN' });
  });

  it.skipIf(!available)('three failed attempts yield INCONCLUSIVE, with every attempt stored', async () => {
    const failure = { error: { code: 'FaceWithMaskDetected', message: 'Mask detected.' } };
    const { decision, stored } = await decide('LIVENESS', [failure, failure, failure]);
    expect(decision).toMatchObject({ verdict: 'INCONCLUSIVE', livenessDecision: null });
    expect(stored.status).toBe('FAILED');
    expect(stored.attempts.map((a) => [a.attemptId, a.status, a.error?.code])).toEqual([
      [1, 'FAILED', 'FaceWithMaskDetected'],
      [2, 'FAILED', 'FaceWithMaskDetected'],
      [3, 'FAILED', 'FaceWithMaskDetected'],
    ]);
  });

  it.skipIf(!available)('a failed attempt followed by a real face yields PASS on the second attempt', async () => {
    const { decision, stored } = await decide('LIVENESS', [
      { error: { code: 'FaceNotFound', message: 'No face.' } },
      { livenessDecision: 'realface' },
    ]);
    expect(decision).toMatchObject({ verdict: 'PASS', attemptId: 2 });
    expect(stored.attempts.map((a) => a.status)).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it.skipIf(!available)('a live face identical to the reference yields PASS for a verify session', async () => {
    const { decision, stored } = await decide('LIVENESS_WITH_VERIFY', [{ livenessDecision: 'realface', isIdentical: true, matchConfidence: 0.93 }]);
    expect(decision).toMatchObject({ verdict: 'PASS', verifyResult: { isIdentical: true, matchConfidence: 0.93 } });
    expect(stored.kind).toBe('LIVENESS_WITH_VERIFY');
    expect(stored.verifyReference?.qualityForRecognition).toMatch(/^(LOW|MEDIUM|HIGH)$/);
  });

  it.skipIf(!available)('a live face of a different person yields FAIL for a verify session', async () => {
    const { decision } = await decide('LIVENESS_WITH_VERIFY', [{ livenessDecision: 'realface', isIdentical: false, matchConfidence: 0.08 }]);
    expect(decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'REAL_FACE', verifyResult: { isIdentical: false, matchConfidence: 0.08 } });
  });

  it.skipIf(!available)('a spoofed face yields FAIL for a verify session too', async () => {
    const { decision } = await decide('LIVENESS_WITH_VERIFY', [{ livenessDecision: 'spoofface', isIdentical: true, matchConfidence: 0.9 }]);
    expect(decision.verdict).toBe('FAIL');
  });
});
