/**
 * Several gateway instances behave as one: real child processes on one PostgreSQL database and one
 * Redis, sharing one standalone Face emulator. Needs DATABASE_URL and REDIS_URL (CI sets both);
 * without them these suites are skipped and say why, except in CI, where they fail and say why.
 */
import { randomBytes, randomUUID, verify as verifySignature } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import Redis from 'ioredis';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckAuditChainDocument,
  CompleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  type SessionDecisionSubscription,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { eventually } from '../helpers/gateway';
import {
  createTestDatabase,
  POSTGRES_SKIP_REASON,
  postgresAdminUrl,
  REDIS_SKIP_REASON,
  redisUrl,
  servicesFor,
  type TestDatabase,
} from '../helpers/services';

const services = servicesFor('the cluster suite', [
  postgresAdminUrl === undefined ? POSTGRES_SKIP_REASON : undefined,
  redisUrl === undefined ? REDIS_SKIP_REASON : undefined,
]);
const secret = randomBytes(32).toString('hex');
const IDEMPOTENCY_SECRET = randomBytes(32).toString('base64');
const LEASE_MILLIS = 1_500;
/** Both instances share it; other test runs on the same Redis use their own. */
const CHANNEL_PREFIX = `test-${randomBytes(4).toString('hex')}:`;
/** How soon a decision must reach another instance's subscriber through Redis. */
const REDIS_DELIVERY_MILLIS = 3_000;
/**
 * For an instance that must hear of decisions through Redis alone: its subscribers' fallback poll and
 * its sweep (which also picks up sessions awaiting a result) are ten minutes and an hour away.
 */
const NO_POLLING_OF_ITS_OWN = { POLL_MAX_INTERVAL_MS: '600000', EXPIRY_SWEEP_INTERVAL_MS: '3600000' };

function token(sub: string, roles = ['user'], tenant = 'cluster') {
  return jwt.sign({ roles, tenant }, secret, { subject: sub, expiresIn: 600 });
}

async function graphqlResult<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables, bearer: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as FormattedExecutionResult<TData>;
}

async function graphql<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables, bearer: string): Promise<TData> {
  const body = await graphqlResult(url, document, variables, bearer);
  if (body.errors || !body.data) throw new Error(`GraphQL errors from ${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Gateway child processes on one database, one Redis and one emulator, and their cleanup. */
function cluster(channelPrefix: string) {
  let database: TestDatabase | undefined;
  let emulator: FaceEmulator | undefined;
  let faceUrl = '';
  const dataDirs: string[] = [];
  const started: ChildGateway[] = [];
  return {
    get faceUrl() {
      return faceUrl;
    },
    /** The shared emulator itself, for a test that serves it through a server of its own. */
    get emulator() {
      return emulator!;
    },
    async setUp() {
      database = await createTestDatabase();
      emulator = createFaceEmulator();
      faceUrl = await emulator.listen(0);
    },
    /** One more instance; `env` adds to or overrides the shared settings. */
    async instance(env: Record<string, string> = {}) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-'));
      dataDirs.push(dataDir);
      const gateway = await startChildGateway({
        DATA_DIR: dataDir,
        DATABASE_URL: database!.url,
        REDIS_URL: redisUrl!,
        REDIS_CHANNEL_PREFIX: channelPrefix,
        FACE_ENDPOINT: faceUrl,
        FACE_APIKEY: 'cluster-key',
        FACE_MAX_RETRIES: '0',
        FACE_MAX_CALLS_PER_SECOND: '10000',
        JWT_SECRET: secret,
        POLL_INTERVAL_MS: '20',
        POLL_MAX_INTERVAL_MS: '200',
        EXPIRY_SWEEP_INTERVAL_MS: '200',
        SESSION_LEASE_MS: String(LEASE_MILLIS),
        // The trails asserted here end at the decision (see test/helpers/gateway.ts).
        FACE_DELETE_AFTER_DECISION: 'false',
        RATE_LIMIT_USER_STARTS: '100000',
        RATE_LIMIT_DEVICE_STARTS: '100000',
        IDEMPOTENCY_KEY_SECRET: IDEMPOTENCY_SECRET,
        AUDIT_CHECKPOINT_EVERY_EVENTS: '50',
        ...env,
      });
      started.push(gateway);
      return gateway;
    },
    async tearDown() {
      await Promise.all(started.map((gateway) => gateway.kill()));
      await emulator?.close();
      await database?.drop();
      for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `promise`, or a failure saying `what` did not happen within `millis`. */
function within<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${millis} ms`)), millis))),
  ]);
}

describe.skipIf(!services.run)('gateway instances on PostgreSQL and Redis', () => {
  const nodes = cluster(CHANNEL_PREFIX);
  let a: ChildGateway;
  let b: ChildGateway;
  /** Hears of decisions reached elsewhere only through Redis: it is never asked to complete, and never polls. */
  let quiet: ChildGateway;
  let redis: Redis | undefined;
  const clients: Client[] = [];
  let faceUrl: string;

  beforeEach(() => {
    if (services.missing) throw new Error(services.missing);
  });

  beforeAll(async () => {
    if (services.missing) return;
    await nodes.setUp();
    faceUrl = nodes.faceUrl;
    redis = new Redis(redisUrl!, { lazyConnect: true });
    [a, b, quiet] = await Promise.all([nodes.instance(), nodes.instance(), nodes.instance(NO_POLLING_OF_ITS_OWN), redis.connect()]);
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    redis?.disconnect();
    await nodes.tearDown();
  });

  /**
   * Waits until `instances` instances have subscribed to the session's decisions on Redis (the
   * channel under our prefix that names the session), and a little longer for the store read that
   * follows, so that a decision reached after this can only reach them as a message.
   */
  async function subscribedOnRedis(sessionId: string, instances: number) {
    await eventually(async () => {
      const [channel] = (await redis!.pubsub('CHANNELS', `${CHANNEL_PREFIX}*${sessionId}`)) as string[];
      if (channel === undefined) return undefined;
      const [, subscribers] = (await redis!.pubsub('NUMSUB', channel)) as [string, number];
      return Number(subscribers) >= instances || undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  function subscribe(on: ChildGateway, bearer: string, sessionId: string): Promise<FormattedExecutionResult<SessionDecisionSubscription, unknown>[]> {
    const client = createClient({ url: `${on.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${bearer}` }, retryAttempts: 0 });
    clients.push(client);
    const events: FormattedExecutionResult<SessionDecisionSubscription, unknown>[] = [];
    return new Promise((resolve, reject) => {
      client.subscribe<SessionDecisionSubscription>(
        { query: print(SessionDecisionDocument), variables: { sessionId } },
        { next: (event) => events.push(event), error: reject, complete: () => resolve(events) },
      );
    });
  }

  async function device(authToken: string, livenessDecision = 'realface') {
    const response = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ livenessDecision }),
    });
    expect(response.status).toBe(200);
  }

  async function actions(on: ChildGateway, bearer: string, id: string) {
    const trail = await graphql(on.url, SessionAuditTrailDocument, { id, first: 100 }, bearer);
    return trail.session!.auditTrail.edges.map((edge) => edge.node.action).reverse();
  }

  it('a subscriber on an instance that never polls gets, within seconds and through Redis, the decision of a session completed on another', async () => {
    const user = token(`user-${randomUUID()}`);
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    const decision = subscribe(quiet, user, started.session.id);
    await subscribedOnRedis(started.session.id, 1);
    await device(started.authToken);
    await graphql(b.url, CompleteLivenessSessionDocument, { id: started.session.id }, user);
    const events = await within(decision, REDIS_DELIVERY_MILLIS, 'the decision reached on B did not come to the quiet instance through Redis');
    expect(events).toHaveLength(1);
    expect(events[0].data?.sessionDecision).toMatchObject({ sessionId: started.session.id, verdict: 'PASS' });
  });

  it('both instances asked to complete the same session record one decision, and subscribers on both and on a third get exactly one event', async () => {
    const user = token(`user-${randomUUID()}`);
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    const onA = subscribe(a, user, started.session.id);
    const onB = subscribe(b, user, started.session.id);
    // A and B each poll after their completion; the quiet instance hears of the decision through Redis alone.
    const onQuiet = subscribe(quiet, user, started.session.id);
    await subscribedOnRedis(started.session.id, 3);
    await device(started.authToken, 'spoofface');
    await Promise.all([
      graphql(a.url, CompleteLivenessSessionDocument, { id: started.session.id }, user),
      graphql(b.url, CompleteLivenessSessionDocument, { id: started.session.id }, user),
    ]);
    const [eventsA, eventsB, eventsQuiet] = await within(Promise.all([onA, onB, onQuiet]), REDIS_DELIVERY_MILLIS, 'the decision did not reach every subscriber');
    for (const events of [eventsA, eventsB, eventsQuiet]) expect(events.map((e) => e.data?.sessionDecision.verdict)).toEqual(['FAIL']);
    expect(eventsA[0].data?.sessionDecision.decidedAt).toBe(eventsB[0].data?.sessionDecision.decidedAt);
    expect(eventsQuiet[0].data?.sessionDecision.decidedAt).toBe(eventsA[0].data?.sessionDecision.decidedAt);
    expect(await actions(b, user, started.session.id)).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
  });

  it("200 sessions started and decided across both at once leave the tenant's chain valid", async () => {
    const tenant = `busy-${randomBytes(3).toString('hex')}`;
    const instances = [a, b];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const user = token(`user-${i}`, ['user'], tenant);
        const { startLivenessSession: started } = await graphql(instances[i % 2].url, StartLivenessSessionDocument, { input: {} }, user);
        const decision = subscribe(instances[(i + 1) % 2], user, started.session.id);
        await device(started.authToken, i % 3 === 0 ? 'spoofface' : 'realface');
        await graphql(instances[(i + 1) % 2].url, CompleteLivenessSessionDocument, { id: started.session.id }, user);
        const events = await decision;
        expect(events).toHaveLength(1);
        expect(events[0].data?.sessionDecision.verdict).toBe(i % 3 === 0 ? 'FAIL' : 'PASS');
      }),
    );
    const auditor = token('auditor', ['auditor'], tenant);
    const report = (await graphql(a.url, VerifyAuditChainDocument, { tenant }, auditor)).verifyAuditChain;
    expect(report).toEqual({ tenant, valid: true, checked: 200 * 4, firstBrokenSequence: null });

    // Both instances sealed the same head and signed checkpoints with the same derived keys, in turn
    // under the head's lock: the last append crossed 800, a multiple of AUDIT_CHECKPOINT_EVERY_EVENTS.
    const checked = (await graphql(b.url, CheckAuditChainDocument, { tenant }, auditor)).verifyAuditChain;
    expect(checked).toMatchObject({ valid: true, checked: 800, reason: null, latestCheckpoint: { tenant, sequence: 800 } });
    const [keyA, keyB] = await Promise.all([a, b].map(async (node) => (await fetch(`${node.url}/audit/checkpoint-key`)).text()));
    expect(keyB).toBe(keyA);
    const exported = (await (await fetch(`${a.url}/audit/export`, { headers: { authorization: `Bearer ${auditor}` } })).text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(exported).toHaveLength(801);
    expect(exported[799].hash).toBe(checked.latestCheckpoint!.hash);
    const line = exported[800];
    expect(line).toEqual({ kind: 'checkpoint', ...checked.latestCheckpoint });
    const signed = JSON.stringify(['audit-checkpoint-v1', line.tenant, line.sequence, line.hash, line.at]);
    expect(verifySignature(null, Buffer.from(signed), keyA, Buffer.from(line.signature, 'base64'))).toBe(true);
  }, 120_000);

  it('when the instance holding a session lease is killed mid-poll, the other takes over and decides once', async () => {
    const user = token(`user-${randomUUID()}`);
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    await device(started.authToken);
    // Face answers A's polls with 503: A holds the lease and keeps retrying.
    await fetch(`${faceUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 503, method: 'GET', count: 100_000 }) });
    await graphql(a.url, CompleteLivenessSessionDocument, { id: started.session.id }, user);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const killed = await a.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });

    const decided = await eventually(async () => {
      const trail = await actions(b, user, started.session.id);
      return trail.includes('DECISION_REACHED') ? trail : undefined;
    }, 20_000);
    expect(decided.filter((action) => action === 'DECISION_REACHED')).toHaveLength(1);
    expect(decided.filter((action) => action === 'ATTEMPT_RECORDED')).toHaveLength(1);
    a = await nodes.instance(); // for the tests that may follow
  }, 60_000);
});

/** One GET of a liveness session that reached Face: which key asked, and when. */
interface SessionGet {
  key: string;
  atMillis: number;
}

/**
 * Serves `emulator` on a port of its own, noting the `Ocp-Apim-Subscription-Key` of every GET of a
 * liveness session, so a test can tell which instance polled Face.
 */
async function serveNotingKeys(emulator: FaceEmulator) {
  const gets: SessionGet[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && /^\/face\/v1\.2\/detectLiveness-sessions\/[^/?]+/.test(url)) {
      gets.push({ key: String(req.headers['ocp-apim-subscription-key']), atMillis: Date.now() });
    }
    if (!emulator.handle(req, res, url)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not the emulator');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gets,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The Azure client keeps connections alive; close() alone would wait for them.
        server.closeAllConnections();
      }),
  };
}

describe.skipIf(!services.run)('one poller per session across gateway instances', () => {
  /** Long enough that a holder renewing every poll never loses it; short enough to wait out once. */
  const SESSION_LEASE_MILLIS = 3_000;
  /** Each subscriber's fallback poll of a session whose completion is never reported. */
  const FALLBACK_POLL_MILLIS = 200;
  const WINDOW_MILLIS = 2_000;
  /** Past the lease: the next fallback poll, a PostgreSQL round trip and a Face call. */
  const TAKEOVER_SLACK_MILLIS = FALLBACK_POLL_MILLIS + 800;
  const nodes = cluster(`test-${randomBytes(4).toString('hex')}:`);
  let face: Awaited<ReturnType<typeof serveNotingKeys>> | undefined;
  const byKey = new Map<string, ChildGateway>();
  const clients: Client[] = [];

  beforeEach(() => {
    if (services.missing) throw new Error(services.missing);
  });

  beforeAll(async () => {
    if (services.missing) return;
    await nodes.setUp();
    face = await serveNotingKeys(nodes.emulator);
    const settings = { FACE_ENDPOINT: face.url, POLL_MAX_INTERVAL_MS: String(FALLBACK_POLL_MILLIS), SESSION_LEASE_MS: String(SESSION_LEASE_MILLIS) };
    const [a, b] = await Promise.all([nodes.instance({ ...settings, FACE_APIKEY: 'key-a' }), nodes.instance({ ...settings, FACE_APIKEY: 'key-b' })]);
    byKey.set('key-a', a).set('key-b', b);
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await nodes.tearDown();
    await face?.close();
  });

  /** A subscriber that stays: its instance keeps a fallback poll task for the session until it dies. */
  function subscribe(on: ChildGateway, bearer: string, sessionId: string) {
    const client = createClient({ url: `${on.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${bearer}` }, retryAttempts: 0 });
    clients.push(client);
    // The socket of the instance killed below closes with an error; that is expected.
    client.subscribe({ query: print(SessionDecisionDocument), variables: { sessionId } }, { next: () => {}, error: () => {}, complete: () => {} });
  }

  it('a session watched on both instances is polled by the lease holder alone, and by the other within the lease once the holder is killed', async () => {
    const user = token(`user-${randomUUID()}`);
    const a = byKey.get('key-a')!;
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    // Completion is never reported: only the subscribers' fallback polls ask Face about the session.
    for (const on of byKey.values()) subscribe(on, user, started.session.id);
    await eventually(() => face!.gets.length > 0 || undefined);

    const windowStart = face!.gets.length;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MILLIS));
    const inWindow = face!.gets.slice(windowStart);
    const keysInWindow = [...new Set(inWindow.map((get) => get.key))];
    expect(keysInWindow, 'both instances polled Face about the same session').toHaveLength(1);
    // Every 200 ms for 2 s: about 10; fewer than 5 would mean the holder is not polling steadily.
    expect(inWindow.length).toBeGreaterThanOrEqual(5);

    const [holderKey] = keysInWindow;
    const otherKey = holderKey === 'key-a' ? 'key-b' : 'key-a';
    const killed = await byKey.get(holderKey)!.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const killedAt = Date.now();

    // From the window on: each instance's one check of Face at start is a GET too (of no session).
    const takeover = await eventually(() => face!.gets.slice(windowStart).find((get) => get.key === otherKey), SESSION_LEASE_MILLIS + TAKEOVER_SLACK_MILLIS + 2_000);
    const lastByHolder = face!.gets.filter((get) => get.key === holderKey).at(-1)!;
    const afterKill = takeover.atMillis - killedAt;
    expect(afterKill, `the other instance took over ${afterKill} ms after the kill`).toBeLessThanOrEqual(SESSION_LEASE_MILLIS + TAKEOVER_SLACK_MILLIS);
    // Not before the dead holder's lease (renewed at its last poll) ran out.
    expect(takeover.atMillis - lastByHolder.atMillis).toBeGreaterThanOrEqual(SESSION_LEASE_MILLIS - 100);
    // It goes on polling, alone.
    await eventually(() => face!.gets.filter((get) => get.key === otherKey).length >= 3 || undefined);
    expect(face!.gets.filter((get) => get.atMillis > lastByHolder.atMillis).every((get) => get.key === otherKey)).toBe(true);
  }, 30_000);
});

describe.skipIf(!services.run)('rate limits shared by gateway instances through Redis', () => {
  const LIMIT = 3;
  const DEVICE_LIMIT = 2;
  const nodes = cluster(`test-${randomBytes(4).toString('hex')}:`);
  let a: ChildGateway;
  let b: ChildGateway;

  beforeEach(() => {
    if (services.missing) throw new Error(services.missing);
  });

  beforeAll(async () => {
    if (services.missing) return;
    await nodes.setUp();
    // A one-hour window: no start is given back while the test runs.
    const limits = {
      RATE_LIMIT_USER_STARTS: String(LIMIT),
      RATE_LIMIT_USER_WINDOW_MS: '3600000',
      RATE_LIMIT_DEVICE_STARTS: String(DEVICE_LIMIT),
      RATE_LIMIT_DEVICE_WINDOW_MS: '3600000',
    };
    [a, b] = await Promise.all([nodes.instance(limits), nodes.instance(limits)]);
  }, 60_000);

  afterAll(() => nodes.tearDown());

  it("one user's starts, alternating between A and B, are counted once: 3 succeed in all and the rest are RATE_LIMITED", async () => {
    const user = token(`user-${randomUUID()}`);
    const outcomes: string[] = [];
    for (let i = 0; i < 2 * LIMIT + 2; i++) {
      const on = i % 2 === 0 ? a : b;
      const result = await graphqlResult(on.url, StartLivenessSessionDocument, { input: {} }, user);
      if (result.data?.startLivenessSession.session.id) {
        outcomes.push('started');
        continue;
      }
      const [error] = result.errors ?? [];
      expect(error?.extensions?.code, JSON.stringify(result.errors)).toBe('RATE_LIMITED');
      // The next start is allowed once an hour's third has passed since the first (GCRA, limit 3 per hour).
      const retryAfterSeconds = Number(error!.extensions!.retryAfterSeconds);
      expect(retryAfterSeconds).toBeGreaterThan(1_200 - 60);
      expect(retryAfterSeconds).toBeLessThanOrEqual(1_200);
      outcomes.push('RATE_LIMITED');
    }
    // Counted per instance, A and B would each have let 3 through: 6 in all.
    expect(outcomes).toEqual(['started', 'started', 'started', ...Array<string>(LIMIT + 2).fill('RATE_LIMITED')]);
  });
  it("a start refused for its device, on either instance, uses up none of its user's starts (both counted in one Redis script)", async () => {
    const user = token(`user-${randomUUID()}`);
    const start = async (on: ChildGateway, deviceCorrelationId: string) => {
      const result = await graphqlResult(on.url, StartLivenessSessionDocument, { input: { deviceCorrelationId } }, user);
      if (result.data?.startLivenessSession.session.id) return 'started';
      const [error] = result.errors ?? [];
      expect(error?.extensions?.code, JSON.stringify(result.errors)).toBe('RATE_LIMITED');
      return /this device/.test(error!.message) ? 'device limited' : /this user/.test(error!.message) ? 'user limited' : error!.message;
    };
    const phone = `phone-${randomUUID()}`;
    const outcomes = [];
    for (const on of [a, b, a, b, a, b]) outcomes.push(await start(on, phone));
    // The user's third start, on another phone: the four refusals above took none of the user's 3.
    outcomes.push(await start(b, `phone-${randomUUID()}`));
    outcomes.push(await start(a, `phone-${randomUUID()}`));
    expect(outcomes).toEqual(['started', 'started', ...Array<string>(4).fill('device limited'), 'started', 'user limited']);
  });

  it("an attacker's starts with a victim's device id, on both instances, never limit the victim's own starts on it", async () => {
    const phone = `phone-${randomUUID()}`;
    const attacker = token(`user-${randomUUID()}`);
    const startOn = (on: ChildGateway, user: string) => graphqlResult(on.url, StartLivenessSessionDocument, { input: { deviceCorrelationId: phone } }, user);
    for (const on of [a, b]) expect((await startOn(on, attacker)).errors).toBeUndefined();
    for (const on of [a, b]) expect((await startOn(on, attacker)).errors?.[0]?.message).toMatch(/this device/);

    const victim = token(`user-${randomUUID()}`);
    expect((await startOn(b, victim)).errors).toBeUndefined();
    expect((await startOn(a, victim)).errors).toBeUndefined();
    expect((await startOn(b, victim)).errors?.[0]?.message).toMatch(/this device/);
  });
});
