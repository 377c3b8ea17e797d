/**
 * Idempotency keys on both start mutations, end to end: the same user and key within 24 hours get the
 * same session and the same device token (after a restart too); the same key with a different input
 * is CONFLICT; concurrent duplicates create one Face session; a start that failed frees its key; the
 * device token is stored only sealed and never logged.
 *
 * "One Face session" is counted at a standalone emulator, which reports every request it serves.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  type StartLivenessSessionInput,
  type StartLivenessWithVerifySessionInput,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { TestGateway, type GraphQLResponse } from '../helpers/gateway';
import { GIF_1X1, PNG_1X1 } from '../helpers/images';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../helpers/services';

const FACE_KEY = `idempotency-face-key-${randomBytes(8).toString('hex')}`;

let emulator: FaceEmulator;
let faceUrl: string;
let gateway: TestGateway;
/** Session creations that reached Face, by path. */
const created: string[] = [];

beforeAll(async () => {
  emulator = createFaceEmulator({
    apiKey: FACE_KEY,
    onRequest: (method, requestPath) => {
      if (method === 'POST' && /^\/face\/v1\.2\/detectLiveness(WithVerify)?-sessions$/.test(requestPath)) created.push(requestPath);
    },
  });
  faceUrl = await emulator.listen(0);
  gateway = await TestGateway.start({ env: { FACE_ENDPOINT: faceUrl, FACE_APIKEY: FACE_KEY } });
});
afterAll(async () => {
  await gateway?.stop();
  await emulator?.close();
});
afterEach(async () => {
  await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
});

const newUser = () => `user-${randomBytes(4).toString('hex')}`;
const newKey = () => `start-${randomBytes(6).toString('hex')}`;

const startLiveness = (token: string, input: StartLivenessSessionInput) => gateway.graphql(StartLivenessSessionDocument, { input }, token);
const startVerify = (token: string, input: StartLivenessWithVerifySessionInput) => gateway.graphql(StartLivenessWithVerifySessionDocument, { input }, token);

function started(result: GraphQLResponse<{ startLivenessSession: { authToken: string; session: { id: string } } }>) {
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data.startLivenessSession;
}

function startedVerify(result: GraphQLResponse<{ startLivenessWithVerifySession: { authToken: string; session: { id: string } } }>) {
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data.startLivenessWithVerifySession;
}

async function fault(rule: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${faceUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(response.status).toBe(200);
}

const codeOf = (result: GraphQLResponse<unknown>) => result.errors?.[0]?.extensions?.code;

describe('repeating a start with the same key', () => {
  it('returns the same session and the same device token, and Face created one session', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const before = created.length;

    const first = started(await startLiveness(token, { idempotencyKey, deviceCorrelationId: 'phone-7' }));
    const second = started(await startLiveness(token, { idempotencyKey, deviceCorrelationId: 'phone-7' }));

    expect(second.session.id).toBe(first.session.id);
    expect(second.authToken).toBe(first.authToken);
    expect(created.length - before).toBe(1);
    expect((await gateway.ok(SessionsDocument, { first: 10 }, token)).sessions.totalCount).toBe(1);
  });

  it("each request's lines carry its own request id: the start's, and the repeat's answered from the key", async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const send = (requestId: string) =>
      fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
        body: JSON.stringify({ query: print(StartLivenessSessionDocument), variables: { input: { idempotencyKey } } }),
      });
    const [first, repeat] = [`first-${idempotencyKey}`, `repeat-${idempotencyKey}`];
    expect((await send(first)).status).toBe(200);
    expect((await send(repeat)).status).toBe(200);

    const lines = gateway.logEntries();
    expect(lines.find((entry) => entry.msg === 'session started' && entry.requestId === first)).toMatchObject({ component: 'sessions' });
    expect(lines.find((entry) => entry.msg === 'idempotent start answered with the session it created before' && entry.requestId === repeat)).toMatchObject({
      component: 'idempotency',
    });
    expect(lines.filter((entry) => entry.msg === 'session started' && entry.requestId === repeat)).toEqual([]);
  });

  it('a repeat answers the session as it is now', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = started(await startLiveness(token, { idempotencyKey }));
    await gateway.ok(CompleteLivenessSessionDocument, { id: first.session.id }, token);
    const repeat = (await gateway.ok(StartLivenessSessionDocument, { input: { idempotencyKey } }, token)).startLivenessSession;
    expect(repeat.session.id).toBe(first.session.id);
    expect(repeat.authToken).toBe(first.authToken);
  });

  it('works for verify sessions, the image compared by content (a data URL of the same bytes is the same input)', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = startedVerify(await startVerify(token, { idempotencyKey, verifyImage: PNG_1X1, verifyConfidenceThreshold: 0.6 }));
    const again = startedVerify(await startVerify(token, { idempotencyKey, verifyImage: `data:image/png;base64,${PNG_1X1}`, verifyConfidenceThreshold: 0.6 }));
    expect(again.session.id).toBe(first.session.id);
    expect(again.authToken).toBe(first.authToken);
  });

  it('another user with the same key gets a session of its own', async () => {
    const idempotencyKey = newKey();
    const alice = started(await startLiveness(gateway.token({ sub: newUser() }), { idempotencyKey }));
    const bob = started(await startLiveness(gateway.token({ sub: newUser() }), { idempotencyKey }));
    expect(bob.session.id).not.toBe(alice.session.id);
    expect(bob.authToken).not.toBe(alice.authToken);
  });

  it('after 24 hours the key starts a new session', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = started(await startLiveness(token, { idempotencyKey }));
    gateway.advanceClock(24 * 3600 * 1000 + 1_000);
    const later = started(await startLiveness(token, { idempotencyKey }));
    expect(later.session.id).not.toBe(first.session.id);
  });
});

describe('the same key with a different input', () => {
  it.each([
    ['another time to live', { authTokenTimeToLiveSeconds: 900 }],
    ['another operation mode', { operationMode: 'PASSIVE_ACTIVE' as const }],
    ['another device correlation id', { deviceCorrelationId: 'phone-9' }],
    ['session images enabled', { enableSessionImage: true }],
  ])('is CONFLICT for %s, and starts nothing', async (_case, change) => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    started(await startLiveness(token, { idempotencyKey, deviceCorrelationId: 'phone-1' }));
    const before = created.length;
    const result = await startLiveness(token, { idempotencyKey, deviceCorrelationId: 'phone-1', ...change });
    expect(result.data ?? null).toBeNull();
    expect(codeOf(result)).toBe('CONFLICT');
    expect(result.errors?.[0]?.message).toMatch(/idempotencyKey/);
    expect(created.length).toBe(before);
  });

  it('is CONFLICT for another verify image, another threshold, or the other start mutation', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    startedVerify(await startVerify(token, { idempotencyKey, verifyImage: PNG_1X1 }));
    expect(codeOf(await startVerify(token, { idempotencyKey, verifyImage: GIF_1X1 }))).toBe('CONFLICT');
    expect(codeOf(await startVerify(token, { idempotencyKey, verifyImage: PNG_1X1, verifyConfidenceThreshold: 0.5 }))).toBe('CONFLICT');
    expect(codeOf(await startLiveness(token, { idempotencyKey }))).toBe('CONFLICT');
  });
});

describe('concurrent duplicates', () => {
  it('10 identical requests at once create one Face session and all get it, with the same device token', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    // Face takes its time with the first create, so the duplicates arrive while it is in flight.
    await fault({ status: 200, latencyMs: 300, count: 1, method: 'POST' });
    const before = created.length;

    const results = await Promise.all(Array.from({ length: 10 }, () => startLiveness(token, { idempotencyKey })));

    const answers = results.map(started);
    expect(new Set(answers.map((answer) => answer.session.id)).size).toBe(1);
    expect(new Set(answers.map((answer) => answer.authToken)).size).toBe(1);
    expect(created.length - before).toBe(1);
    expect((await gateway.ok(SessionsDocument, { first: 10 }, token)).sessions.totalCount).toBe(1);
  });

  it('10 identical verify requests at once create one Face session', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    await fault({ status: 200, latencyMs: 300, count: 1, method: 'POST' });
    const before = created.length;
    const results = await Promise.all(Array.from({ length: 10 }, () => startVerify(token, { idempotencyKey, verifyImage: PNG_1X1 })));
    expect(new Set(results.map((result) => startedVerify(result).session.id)).size).toBe(1);
    expect(created.length - before).toBe(1);
  });

  it('duplicates sent at once to two gateways sharing the store create one Face session', async () => {
    const other = await TestGateway.start({ dataDir: gateway.dataDir, env: { JWT_SECRET: gateway.jwtSecret, FACE_ENDPOINT: faceUrl, FACE_APIKEY: FACE_KEY } });
    try {
      const token = gateway.token({ sub: newUser() });
      const idempotencyKey = newKey();
      await fault({ status: 200, latencyMs: 300, count: 1, method: 'POST' });
      const before = created.length;

      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? gateway : other).graphql(StartLivenessSessionDocument, { input: { idempotencyKey } }, token)),
      );

      const answers = results.map(started);
      expect(new Set(answers.map((answer) => answer.session.id)).size).toBe(1);
      expect(new Set(answers.map((answer) => answer.authToken)).size).toBe(1);
      expect(created.length - before).toBe(1);
    } finally {
      await other.stopGateway();
    }
  });

  it('concurrent duplicates of a start Face refuses all get the refusal; Face was asked once', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    // Face takes 300 ms to refuse the first create, so the duplicates arrive while it is in flight.
    await fault({ status: 400, code: 'InvalidRequest', latencyMs: 300, count: 1, method: 'POST' });
    const before = created.length;

    const results = await Promise.all(Array.from({ length: 5 }, () => startLiveness(token, { idempotencyKey })));

    expect(results.map((result) => result.errors?.[0]?.extensions)).toEqual(
      Array.from({ length: 5 }, () => expect.objectContaining({ code: 'UPSTREAM_ERROR', upstreamCode: 'InvalidRequest' })),
    );
    expect(created.length - before).toBe(1);
  });
});

describe('a start that failed', () => {
  it('frees its key: the same key then starts a session', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    await fault({ status: 503, code: 'ServiceUnavailable', count: 2, method: 'POST' });
    expect(codeOf(await startLiveness(token, { idempotencyKey }))).toBe('UPSTREAM_UNAVAILABLE');

    const retried = started(await startLiveness(token, { idempotencyKey }));
    const repeat = started(await startLiveness(token, { idempotencyKey }));
    expect(repeat.session.id).toBe(retried.session.id);
  });

  it('refused input frees nothing and claims nothing: BAD_USER_INPUT for a bad key, and a bad request keeps the key free', async () => {
    const token = gateway.token({ sub: newUser() });
    expect(codeOf(await startLiveness(token, { idempotencyKey: '' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await startLiveness(token, { idempotencyKey: 'k'.repeat(256) }))).toBe('BAD_USER_INPUT');
    started(await startLiveness(token, { idempotencyKey: 'k'.repeat(255) }));

    const idempotencyKey = newKey();
    expect(codeOf(await startLiveness(token, { idempotencyKey, authTokenTimeToLiveSeconds: 10 }))).toBe('BAD_USER_INPUT');
    started(await startLiveness(token, { idempotencyKey, authTokenTimeToLiveSeconds: 120 }));
  });
});

describe('the device token at rest and in logs', () => {
  it('is stored sealed: neither the SQLite file nor its log hold it, and the dev key lives in DATA_DIR', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = started(await startLiveness(token, { idempotencyKey }));

    const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'), { readonly: true });
    let row: Record<string, unknown>;
    try {
      row = db.prepare('SELECT * FROM idempotency_keys WHERE key = ?').get(idempotencyKey) as Record<string, unknown>;
    } finally {
      db.close();
    }
    expect(row).toMatchObject({ state: 'completed', session_id: first.session.id });
    expect(row.sealed_auth_token).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(row)).not.toContain(first.authToken);

    for (const file of fs.readdirSync(gateway.dataDir).filter((name) => name.startsWith('gateway.sqlite'))) {
      const bytes = fs.readFileSync(path.join(gateway.dataDir, file));
      expect(bytes.includes(Buffer.from(first.authToken))).toBe(false);
    }
    expect(Buffer.from(fs.readFileSync(path.join(gateway.dataDir, 'dev-idempotency-key'), 'utf8').trim(), 'base64')).toHaveLength(32);
  });

  it('is never logged, by the start or by its repeats', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = started(await startLiveness(token, { idempotencyKey }));
    for (let i = 0; i < 3; i += 1) started(await startLiveness(token, { idempotencyKey }));
    const logs = gateway.logs.join('\n');
    expect(logs).toContain(first.session.id);
    expect(logs).not.toContain(first.authToken);
  });

  it('is handed out again after a restart, opened with the key kept in DATA_DIR', async () => {
    const token = gateway.token({ sub: newUser() });
    const idempotencyKey = newKey();
    const first = started(await startLiveness(token, { idempotencyKey }));
    await gateway.restart();
    const after = started(await startLiveness(token, { idempotencyKey }));
    expect(after.session.id).toBe(first.session.id);
    expect(after.authToken).toBe(first.authToken);
  });
});

describe('on PostgreSQL, two gateways sharing one database', () => {
  // As the other multi-instance suites: runs where DATABASE_URL names a server (CI always sets it).
  const available = postgresAdminUrl !== undefined;
  let database: TestDatabase | undefined;
  const gateways: TestGateway[] = [];
  beforeAll(async () => {
    if (!available) return;
    database = await createTestDatabase();
    const secret = randomBytes(32).toString('hex');
    const idempotencySecret = randomBytes(32).toString('base64');
    for (let i = 0; i < 2; i += 1) {
      gateways.push(
        await TestGateway.start({
          env: { DATABASE_URL: database.url, JWT_SECRET: secret, IDEMPOTENCY_KEY_SECRET: idempotencySecret, FACE_ENDPOINT: faceUrl, FACE_APIKEY: FACE_KEY },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const each of gateways) await each.stop();
    await database?.drop();
  });

  it.skipIf(!available)('duplicates sent at once to both create one Face session, and all get its device token', async () => {
    const token = gateways[0].token({ sub: newUser() });
    const idempotencyKey = newKey();
    await fault({ status: 200, latencyMs: 300, count: 1, method: 'POST' });
    const before = created.length;

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gateways[i % 2].graphql(StartLivenessSessionDocument, { input: { idempotencyKey } }, token)),
    );

    const answers = results.map(started);
    expect(new Set(answers.map((answer) => answer.session.id)).size).toBe(1);
    expect(new Set(answers.map((answer) => answer.authToken)).size).toBe(1);
    expect(created.length - before).toBe(1);
    expect(codeOf(await gateways[1].graphql(StartLivenessSessionDocument, { input: { idempotencyKey, enableSessionImage: true } }, token))).toBe('CONFLICT');
  });

  it.skipIf(!available)('a start that failed on one frees the key for the other', async () => {
    const token = gateways[0].token({ sub: newUser() });
    const idempotencyKey = newKey();
    await fault({ status: 503, code: 'ServiceUnavailable', count: 2, method: 'POST' });
    expect(codeOf(await gateways[0].graphql(StartLivenessSessionDocument, { input: { idempotencyKey } }, token))).toBe('UPSTREAM_UNAVAILABLE');
    const retried = started(await gateways[1].graphql(StartLivenessSessionDocument, { input: { idempotencyKey } }, token));
    const repeat = started(await gateways[0].graphql(StartLivenessSessionDocument, { input: { idempotencyKey } }, token));
    expect(repeat.session.id).toBe(retried.session.id);
    expect(repeat.authToken).toBe(retried.authToken);
  });
});
