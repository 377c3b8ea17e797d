/**
 * A session's life beyond the happy path, end to end: correlation ids, deletion, expiry, restarts,
 * a store that fails after Face created the session, Face failures, health probes and what the logs
 * never contain. Every gateway here is real (port 0, a real SQLite file); the Face service is the
 * emulator, embedded or standalone (so that it outlives a gateway restart).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  type AuditAction,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { eventually, TestGateway, type DeviceOutcome, type GraphQLResponse } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { createTestDatabase, postgresAdminUrl } from '../helpers/services';

/** The embedded emulator's key: distinctive, so a log line that carried it would be found. */
const EMBEDDED_FACE_KEY = `embedded-face-key-${randomBytes(12).toString('hex')}`;

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start({ env: { FACE_EMULATOR_KEY: EMBEDDED_FACE_KEY } });
});
afterAll(async () => {
  await gateway?.stop();
});

const userToken = (on: TestGateway, sub = `user-${randomBytes(4).toString('hex')}`) => on.token({ sub, tenant: 'acme' });

async function startSession(on: TestGateway, token: string, ttlSeconds = 600) {
  return (await on.ok(StartLivenessSessionDocument, { input: { authTokenTimeToLiveSeconds: ttlSeconds } }, token)).startLivenessSession;
}

async function sessionOf(on: TestGateway, token: string, id: string) {
  const session = (await on.ok(SessionDocument, { id }, token)).session;
  if (!session) throw new Error(`session ${id} not found`);
  return session;
}

async function auditActions(on: TestGateway, token: string, id: string): Promise<AuditAction[]> {
  const trail = (await on.ok(SessionAuditTrailDocument, { id, first: 100 }, token)).session!.auditTrail;
  return trail.edges.map((edge) => edge.node.action).reverse();
}

function errorCode(result: GraphQLResponse<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

/** Calls a standalone emulator as the device's Face SDK would. */
function deviceAt(faceUrl: string, authToken: string, outcome: DeviceOutcome): Promise<Response> {
  return fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(outcome),
  });
}

async function faultAt(faceUrl: string, fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${faceUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  expect(response.status).toBe(200);
}

async function clearFaultsAt(faceUrl: string): Promise<void> {
  const response = await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
  expect(response.status).toBe(204);
}

/** Face's own view of a session, as the management API answers it. */
function faceGet(faceUrl: string, key: string, id: string): Promise<Response> {
  return fetch(`${faceUrl}/face/v1.2/detectLiveness-sessions/${id}`, { headers: { 'Ocp-Apim-Subscription-Key': key } });
}

/** Log lines of warnings that a poll of `sessionId` failed. */
const failedPolls = (on: TestGateway, sessionId: string) =>
  on.logEntries().filter((entry) => entry.sessionId === sessionId && entry.msg === 'poll of the Face session failed; will retry');

describe('device correlation ids', () => {
  // One id per end user, as Azure's abuse monitoring expects (test/e2e/evidence-integrity.test.ts covers the rest).
  it("a session started without one gets the id derived for its user, the same for each of the user's sessions", async () => {
    const token = userToken(gateway);
    const first = await startSession(gateway, token);
    const second = await startSession(gateway, token);
    expect(first.session.deviceCorrelationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.session.deviceCorrelationId).toBe(first.session.deviceCorrelationId);
    expect((await sessionOf(gateway, token, first.session.id)).deviceCorrelationId).toBe(first.session.deviceCorrelationId);
  });

  it('a session started with one keeps it', async () => {
    const token = userToken(gateway);
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: { deviceCorrelationId: 'phone-42' } }, token)).startLivenessSession;
    expect(started.session.deviceCorrelationId).toBe('phone-42');
    expect((await sessionOf(gateway, token, started.session.id)).deviceCorrelationId).toBe('phone-42');
  });
});

describe('deleting a session', () => {
  it('marks it DELETED with an EXPIRED decision and revokes the device token at Face', async () => {
    const token = userToken(gateway);
    const started = await startSession(gateway, token);
    const id = started.session.id;

    const deleted = (await gateway.ok(DeleteLivenessSessionDocument, { id }, token)).deleteLivenessSession;
    expect(deleted.status).toBe('DELETED');
    expect(deleted.decision).toMatchObject({ sessionId: id, verdict: 'EXPIRED', livenessDecision: null, attemptId: null });

    const stored = await sessionOf(gateway, token, id);
    expect(stored.status).toBe('DELETED');
    expect(stored.decision?.verdict).toBe('EXPIRED');

    const device = await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' });
    expect(device.status).toBe(401);
    expect((await faceGet(gateway.emulatorUrl, EMBEDDED_FACE_KEY, id)).status).toBe(404);
  });

  it('a session deleted after a failed attempt is decided INCONCLUSIVE, with the attempt stored', async () => {
    const token = userToken(gateway);
    const started = await startSession(gateway, token);
    expect((await gateway.device('LIVENESS', started.authToken, { error: { code: 'FaceNotFound', message: 'No face.' } })).status).toBe(200);
    const deleted = (await gateway.ok(DeleteLivenessSessionDocument, { id: started.session.id }, token)).deleteLivenessSession;
    expect(deleted.status).toBe('DELETED');
    expect(deleted.decision).toMatchObject({ verdict: 'INCONCLUSIVE', attemptId: 1 });
    const stored = await sessionOf(gateway, token, started.session.id);
    expect(stored.attempts.map((attempt) => [attempt.attemptId, attempt.status, attempt.error?.code])).toEqual([[1, 'FAILED', 'FaceNotFound']]);
  });

  it('a session deleted after the device reached a result, never reported, keeps its real verdict', async () => {
    const token = userToken(gateway);
    const started = await startSession(gateway, token);
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'spoofface' })).status).toBe(200);
    const deleted = (await gateway.ok(DeleteLivenessSessionDocument, { id: started.session.id }, token)).deleteLivenessSession;
    expect(deleted.status).toBe('DELETED');
    expect(deleted.decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'SPOOF_FACE' });
    expect(await auditActions(gateway, token, started.session.id)).toEqual([
      'SESSION_STARTED',
      'ATTEMPT_RECORDED',
      'DECISION_REACHED',
      'SESSION_DELETED',
    ]);
  });

  it('a deleted session cannot be completed: CONFLICT', async () => {
    const token = userToken(gateway);
    const { session } = await startSession(gateway, token);
    await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, token);
    const completed = await gateway.graphql(CompleteLivenessSessionDocument, { id: session.id }, token);
    expect(errorCode(completed)).toBe('CONFLICT');
    expect((await sessionOf(gateway, token, session.id)).status).toBe('DELETED');
  });

  it('deleting twice answers the deleted session both times and records one deletion', async () => {
    const token = userToken(gateway);
    const { session } = await startSession(gateway, token);
    const first = (await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, token)).deleteLivenessSession;
    const second = (await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, token)).deleteLivenessSession;
    expect(second.status).toBe('DELETED');
    expect(second.decision).toEqual(first.decision);
    expect(await auditActions(gateway, token, session.id)).toEqual(['SESSION_STARTED', 'SESSION_DELETED', 'DECISION_REACHED']);
  });

  it('a subscriber of a deleted session gets its EXPIRED decision at once', async () => {
    const token = userToken(gateway);
    const { session } = await startSession(gateway, token);
    await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, token);
    const events = await gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: session.id }).done;
    expect(events).toHaveLength(1);
    expect(events[0].data?.sessionDecision).toMatchObject({ verdict: 'EXPIRED', session: { id: session.id, status: 'DELETED' } });
  });
});

describe('expiry', () => {
  let clocked: TestGateway;
  beforeAll(async () => {
    clocked = await TestGateway.start();
  });
  afterAll(async () => {
    await clocked?.stop();
  });

  it('the sweeper decides EXPIRED for a session past its time to live, which then cannot be completed', async () => {
    const token = userToken(clocked);
    const started = await startSession(clocked, token, 60);
    const id = started.session.id;
    expect((await sessionOf(clocked, token, id)).decision).toBeNull();

    clocked.advanceClock(61_000);
    const expired = await eventually(async () => {
      const session = await sessionOf(clocked, token, id);
      return session.decision ? session : undefined;
    });
    expect(expired.status).toBe('EXPIRED');
    expect(expired.decision).toMatchObject({ verdict: 'EXPIRED', livenessDecision: null });
    expect(await auditActions(clocked, token, id)).toEqual(['SESSION_STARTED', 'SESSION_EXPIRED', 'DECISION_REACHED']);

    const completed = await clocked.graphql(CompleteLivenessSessionDocument, { id }, token);
    expect(errorCode(completed)).toBe('CONFLICT');
    const device = await clocked.device('LIVENESS', started.authToken, { livenessDecision: 'realface' });
    expect(device.status).toBe(401);
  });

  it('a device that finished before the expiry but was never reported still gets its real verdict', async () => {
    const token = userToken(clocked);
    const started = await startSession(clocked, token, 60);
    const id = started.session.id;
    expect((await clocked.device('LIVENESS', started.authToken, { livenessDecision: 'spoofface' })).status).toBe(200);
    // Never reported complete, and nobody subscribes: only the sweeper's final poll can see the result.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await sessionOf(clocked, token, id)).decision).toBeNull();

    clocked.advanceClock(61_000);
    const decided = await eventually(async () => {
      const session = await sessionOf(clocked, token, id);
      return session.decision ? session : undefined;
    });
    expect(decided.status).toBe('SUCCEEDED');
    expect(decided.decision).toMatchObject({ verdict: 'FAIL', livenessDecision: 'SPOOF_FACE', attemptId: 1 });
    expect(decided.attempts.map((attempt) => attempt.livenessDecision)).toEqual(['SPOOF_FACE']);
  });
});

describe('with a standalone Face emulator', () => {
  const faceKey = `standalone-face-key-${randomBytes(12).toString('hex')}`;
  let emulator: FaceEmulator;
  let faceUrl: string;
  beforeAll(async () => {
    emulator = createFaceEmulator({ apiKey: faceKey });
    faceUrl = await emulator.listen(0);
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('a gateway restarted while Face is down resumes polling a reported session and decides it exactly once', async () => {
    const first = await TestGateway.start({ env: { FACE_ENDPOINT: faceUrl, FACE_APIKEY: faceKey } });
    try {
      const token = userToken(first);
      const started = await startSession(first, token);
      const id = started.session.id;
      expect((await deviceAt(faceUrl, started.authToken, { livenessDecision: 'realface' })).status).toBe(200);

      await faultAt(faceUrl, { status: 503, code: 'ServiceUnavailable', count: 100_000, method: 'GET' });
      await first.ok(CompleteLivenessSessionDocument, { id }, token);
      await eventually(() => (failedPolls(first, id).length > 0 ? true : undefined));
      expect((await sessionOf(first, token, id)).decision).toBeNull();

      const logsBeforeRestart = first.logs.length;
      await first.restart();
      await clearFaultsAt(faceUrl);

      const decided = await eventually(async () => {
        const session = await sessionOf(first, token, id);
        return session.decision ? session : undefined;
      });
      expect(decided.status).toBe('SUCCEEDED');
      expect(decided.decision).toMatchObject({ verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 1 });
      const afterRestart = first.logEntries().slice(logsBeforeRestart);
      expect(afterRestart).toContainEqual(expect.objectContaining({ msg: 'resumed polling for sessions awaiting a result', sessions: 1 }));
      expect(afterRestart).toContainEqual(expect.objectContaining({ msg: 'decision reached', sessionId: id, verdict: 'PASS' }));

      // Give any stray second poller the time to decide again.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const actions = await auditActions(first, token, id);
      expect(actions.filter((action) => action === 'DECISION_REACHED')).toHaveLength(1);
      expect(actions).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
      expect(first.logs.join('\n')).not.toContain(faceKey);
    } finally {
      await clearFaultsAt(faceUrl);
      await first.stop();
    }
  });

  it('a Face outage during polling does not lose the decision', async () => {
    const on = await TestGateway.start({ env: { FACE_ENDPOINT: faceUrl, FACE_APIKEY: faceKey } });
    try {
      const token = userToken(on);
      const started = await startSession(on, token);
      const id = started.session.id;
      const subscription = on.subscribe(on.wsClient(token), SessionDecisionDocument, { sessionId: id });
      expect((await deviceAt(faceUrl, started.authToken, { livenessDecision: 'realface' })).status).toBe(200);

      await faultAt(faceUrl, { status: 503, count: 100_000, method: 'GET' });
      await on.ok(CompleteLivenessSessionDocument, { id }, token);
      await eventually(() => (failedPolls(on, id).length >= 2 ? true : undefined));
      expect(subscription.events).toHaveLength(0);
      await clearFaultsAt(faceUrl);

      const events = await subscription.done;
      expect(events).toHaveLength(1);
      expect(events[0].data?.sessionDecision).toMatchObject({ sessionId: id, verdict: 'PASS', session: { status: 'SUCCEEDED' } });
      expect((await sessionOf(on, token, id)).decision?.verdict).toBe('PASS');
    } finally {
      await clearFaultsAt(faceUrl);
      await on.stop();
    }
  });
});

describe('when the store fails after Face created the session', () => {
  it('the Face session is deleted again and the caller gets a generic INTERNAL_SERVER_ERROR', async () => {
    const token = userToken(gateway);
    const verifyGet = (id: string) =>
      fetch(`${gateway.emulatorUrl}/face/v1.2/detectLivenessWithVerify-sessions/${id}`, { headers: { 'Ocp-Apim-Subscription-Key': EMBEDDED_FACE_KEY } });
    const control = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
    expect((await verifyGet(control.session.id)).status).toBe(200);

    // Another connection takes the write lock and keeps it past the gateway's 5 s busy timeout.
    const intruder = new Database(path.join(gateway.dataDir, 'gateway.sqlite'));
    const logsBefore = gateway.logs.length;
    let result: GraphQLResponse<unknown>;
    try {
      intruder.exec('BEGIN EXCLUSIVE');
      result = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token);
    } finally {
      if (intruder.inTransaction) intruder.exec('ROLLBACK');
      intruder.close();
    }

    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([expect.objectContaining({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
    expect(JSON.stringify(result)).not.toMatch(/sqlite|locked|busy/i);

    const failure = gateway
      .logEntries()
      .slice(logsBefore)
      .find((entry) => entry.msg === 'could not store a session Face created; deleting it at Face');
    expect(failure?.sessionId).toEqual(expect.any(String));
    const orphan = failure!.sessionId as string;
    expect(orphan).not.toBe(control.session.id);
    expect((await verifyGet(orphan)).status).toBe(404);

    // The store works again: nothing of the failed start was kept, and new sessions start.
    expect(errorCode(await gateway.graphql(SessionDocument, { id: orphan }, token))).toBe('NOT_FOUND');
    expect((await startSession(gateway, token)).session.id).toBeTruthy();
  });
});

describe('Face failures when starting a session', () => {
  async function clearEmbeddedFaults(): Promise<void> {
    await clearFaultsAt(gateway.emulatorUrl);
  }

  it('Face answering 503 again and again yields UPSTREAM_UNAVAILABLE', async () => {
    const token = userToken(gateway);
    await gateway.fault({ status: 503, count: 10 });
    try {
      const result = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);
      expect(result.data ?? null).toBeNull();
      expect(errorCode(result)).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      await clearEmbeddedFaults();
    }
  });

  it('Face refusing the request yields UPSTREAM_ERROR carrying its error code', async () => {
    const token = userToken(gateway);
    await gateway.fault({ status: 400, code: 'InvalidRequest', count: 1 });
    try {
      const result = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'InvalidRequest' });
    } finally {
      await clearEmbeddedFaults();
    }
    expect((await startSession(gateway, token)).session.status).toBe('NOT_STARTED');
  });

  it('one 503 is retried and the session starts', async () => {
    const token = userToken(gateway);
    await gateway.fault({ status: 503, count: 1 });
    try {
      expect((await startSession(gateway, token)).session.status).toBe('NOT_STARTED');
    } finally {
      await clearEmbeddedFaults();
    }
  });
});

describe('health', () => {
  it('/healthz answers 200 {"status":"ok"}', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the store and Face answer', async () => {
    const response = await fetch(`${gateway.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ checks: { store: 'ok', face: 'ok' } });
  });

  it('/readyz answers 503 naming face when the Face endpoint is down, while /healthz stays 200', async () => {
    const closedPort = await new Promise<number>((resolve, reject) => {
      const probe = http.createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const down = await TestGateway.start({ env: { FACE_ENDPOINT: `http://127.0.0.1:${closedPort}`, FACE_APIKEY: 'any' } });
    try {
      const ready = await fetch(`${down.url}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: Record<string, string> };
      expect(body.checks.store).toBe('ok');
      expect(body.checks.face).toMatch(/^down/);
      expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
    } finally {
      await down.stop();
    }
  });
});

describe('readiness on PostgreSQL', () => {
  it.skipIf(!postgresAdminUrl)('/readyz answers 503 naming the store once its PostgreSQL database is gone, while /healthz stays 200', async () => {
    const database = await createTestDatabase();
    const onPostgres = await TestGateway.start({ env: { DATABASE_URL: database.url } });
    try {
      const ready = await fetch(`${onPostgres.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { store: 'ok', face: 'ok' } });

      await database.drop(); // WITH (FORCE): the gateway's pooled connections are cut, and it cannot reconnect
      // The last answer is reused for READINESS_CACHE_MS; the next one computed says the store is down.
      const gone = await eventually(async () => {
        const response = await fetch(`${onPostgres.url}/readyz`);
        return response.status === 503 ? response : (await response.arrayBuffer(), undefined);
      });
      expect(gone.status).toBe(503);
      const body = (await gone.json()) as { status: string; checks: Record<string, string> };
      expect(body.status).toBe('unavailable');
      expect(body.checks.store).toMatch(/^down/);
      expect(body.checks.face).toBe('ok');
      expect((await fetch(`${onPostgres.url}/healthz`)).status).toBe(200);
    } finally {
      await onPostgres.stop().catch(() => undefined);
      await database.drop();
    }
  });
});

describe('logs', () => {
  it('after a full flow no log line contains the JWT, the device token or the Face key', async () => {
    const token = userToken(gateway);
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token))
      .startLivenessWithVerifySession;
    const id = started.session.id;
    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
    expect((await gateway.device('LIVENESS_WITH_VERIFY', started.authToken, { livenessDecision: 'realface', isIdentical: true })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const [event] = await subscription.done;
    expect(event.data?.sessionDecision.verdict).toBe('PASS');
    await gateway.ok(SessionDocument, { id }, token);
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
    await gateway.graphql(SessionDocument, { id }, `${token}x`); // a refused token is not logged either

    const logs = gateway.logs.join('\n');
    expect(gateway.logs.length).toBeGreaterThan(5);
    expect(logs).toContain(id); // the lines are about this flow
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.split('.')[2]);
    expect(logs).not.toContain(started.authToken);
    expect(logs).not.toContain(EMBEDDED_FACE_KEY);
    expect(logs).not.toContain(gateway.jwtSecret);
  });
});
