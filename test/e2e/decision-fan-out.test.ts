/**
 * What the fast paths of issue 6 must keep: a decision reaches each subscriber with its session as
 * stored, though the session is no longer read again per subscriber and one execution is shared by
 * subscribers who asked the same; WebSocket documents keep their limits though kept once parsed; HTTP
 * answers keep `Cache-Control: no-store` without Apollo's cache-control plugin; and between two
 * instances, a completion is polled by the instance it was reported to unless the other holds the
 * session's poll lease.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/domain/viewer';
import { GraphQLWsConnection } from '../../tools/bench/ws-client';
import { CompleteLivenessSessionDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { createAzureFace } from '../../src/adapters/face/azure-face';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import type { FacePort } from '../../src/domain/ports/face.port';
import { createLogger } from '../../src/observability/logger';
import { createInProcessPubSub } from '../../src/adapters/pubsub/in-process';
import type { PubSub } from '../../src/domain/ports/pubsub';
import type { DecisionEvent } from '../../src/domain/sessions/session.model';
import { createSessionServices, type SessionServices } from '../../src/domain/sessions';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import type { Store } from '../../src/domain/ports/store';
import { eventually, TestGateway } from '../helpers/gateway';

type Payload = { data?: Record<string, unknown> | null; errors?: unknown[] };

/** Subscribes over a raw graphql-transport-ws connection; resolves with the first `next` payload. */
function firstEvent(ws: GraphQLWsConnection, query: string, variables: Record<string, unknown>): Promise<Payload> {
  return new Promise((resolve, reject) => {
    ws.subscribe(randomUUID(), query, variables, {
      next: (payload) => resolve(payload as Payload),
      error: (errors) => reject(new Error(JSON.stringify(errors))),
      complete: () => undefined,
    });
  });
}

/** The first frame of a subscription, whatever it is: `next` payload or `error` payload. */
function firstFrame(ws: GraphQLWsConnection, query: string, variables: Record<string, unknown>): Promise<{ kind: 'next' | 'error'; payload: unknown }> {
  return new Promise((resolve) => {
    ws.subscribe(randomUUID(), query, variables, {
      next: (payload) => resolve({ kind: 'next', payload }),
      error: (payload) => resolve({ kind: 'error', payload }),
      complete: () => undefined,
    });
  });
}

const SESSION_FIELDS = `id kind status operationMode userId tenant deviceCorrelationId createdAt expiresAt modelVersion
  verifyReference { qualityForRecognition }
  attempts { attemptId status livenessDecision digest }
  decision { verdict livenessDecision attemptId decidedAt }
  auditTrail(first: 10) { totalCount edges { node { sequence action session { id } } } }`;

describe('one gateway', () => {
  let gateway: TestGateway;
  const sockets: GraphQLWsConnection[] = [];
  beforeAll(async () => {
    // A slow fallback poll, so a decision is reached by the completion, while the subscribers wait.
    gateway = await TestGateway.start({ env: { POLL_MAX_INTERVAL_MS: '600000' } });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await gateway?.stop();
  });
  const open = async (token: string) => {
    const socket = await GraphQLWsConnection.open(gateway.graphqlUrl, token);
    sockets.push(socket);
    return socket;
  };

  it('a decision reaches its waiting subscribers with the session as it was stored, the same as session(id) answers', async () => {
    const token = gateway.token({ sub: `fan-${randomUUID()}`, tenant: 'fan-out' });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: { deviceCorrelationId: 'dev-1' } }, token)).startLivenessSession;
    const id = started.session.id;
    const ws = await open(token);
    const event = firstEvent(ws, `subscription ($id: ID!) { sessionDecision(sessionId: $id) { sessionId verdict session { ${SESSION_FIELDS} } } }`, { id });
    await ws.roundTrip();
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const payload = await event;
    expect(payload.errors).toBeUndefined();
    const decision = payload.data?.sessionDecision as { verdict: string; session: Record<string, unknown> };
    expect(decision.verdict).toBe('PASS');
    const read = await gateway.graphql(`query ($id: ID!) { session(id: $id) { ${SESSION_FIELDS} } }`, { id }, token);
    expect(read.errors).toBeUndefined();
    expect(decision.session).toEqual((read.data as { session: unknown }).session);
    expect(decision.session).toMatchObject({ id, status: 'SUCCEEDED', deviceCorrelationId: 'dev-1', decision: { verdict: 'PASS' } });
  });

  it('subscribers of one session who ask different things, or ask as different viewers, each get their own answer', async () => {
    const userId = `fan-${randomUUID()}`;
    const owner = gateway.token({ sub: userId, tenant: 'fan-out' });
    const auditor = gateway.token({ sub: 'fan-auditor', roles: ['auditor'], tenant: 'fan-out' });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, owner)).startLivenessSession;
    const id = started.session.id;
    const [first, second, third] = [await open(owner), await open(owner), await open(auditor)];
    const full = `subscription ($sessionId: ID!) { sessionDecision(sessionId: $sessionId) { verdict session { id status userId } } }`;
    const slim = `subscription ($sessionId: ID!) { sessionDecision(sessionId: $sessionId) { verdict attemptId } }`;
    const events = [
      firstEvent(first, full, { sessionId: id }),
      firstEvent(second, full, { sessionId: id }),
      firstEvent(first, slim, { sessionId: id }),
      firstEvent(third, full, { sessionId: id }),
      firstEvent(third, slim, { sessionId: id }),
    ];
    await Promise.all([first, second, third].map((socket) => socket.roundTrip()));
    await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'spoofface' });
    await gateway.ok(CompleteLivenessSessionDocument, { id }, owner);
    const [a, b, c, d, e] = await Promise.all(events);
    const fullAnswer = { sessionDecision: { verdict: 'FAIL', session: { id, status: 'SUCCEEDED', userId } } };
    const slimAnswer = { sessionDecision: { verdict: 'FAIL', attemptId: 1 } };
    expect([a, b, c, d, e].map((payload) => payload.data)).toEqual([fullAnswer, fullAnswer, slimAnswer, fullAnswer, slimAnswer]);
  });

  it('GraphQL answers over HTTP carry Cache-Control: no-store, success or error, as with Apollo’s cache-control plugin', async () => {
    const token = gateway.token({ sub: 'fan-headers', tenant: 'fan-out' });
    const post = (query: string) =>
      fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
    for (const query of ['{ viewer { userId } }', '{ session(id: "nope") { id } }', '{ viewer { ', 'mutation { completeLivenessSession(id: "nope") { id } }']) {
      const answer = await post(query);
      await answer.text();
      expect(answer.headers.get('cache-control'), query).toBe('no-store');
    }
  });
});

describe('WebSocket documents kept once parsed', () => {
  let strict: TestGateway;
  beforeAll(async () => {
    strict = await TestGateway.start({ env: { GRAPHQL_MAX_DEPTH: '3' } });
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it('a document past the limits is refused every time it is sent; one within them is answered every time', async () => {
    const token = strict.token({ sub: 'limits', tenant: 'fan-out' });
    const ws = await GraphQLWsConnection.open(strict.graphqlUrl, token);
    try {
      const deep = '{ viewer { userId } sessions(first: 1) { edges { node { decision { verdict } } } } }';
      const shallow = '{ viewer { userId tenant } }';
      for (let i = 0; i < 3; i += 1) {
        const refused = await firstFrame(ws, deep, {});
        expect(refused.kind).toBe('error');
        expect(JSON.stringify(refused.payload)).toContain('GRAPHQL_VALIDATION_FAILED');
        const answered = await firstFrame(ws, shallow, {});
        expect(answered).toEqual({ kind: 'next', payload: { data: { viewer: { userId: 'limits', tenant: 'fan-out' } } } });
      }
    } finally {
      await ws.close();
    }
  });
});

describe('two instances: who polls a completion', () => {
  const viewer: Viewer = { userId: 'two', tenant: 'fan-out', roles: ['USER'], expiresAtMillis: Date.now() + 3_600_000 };
  let emulator: FaceEmulator;
  let faceUrl: string;
  let dir: string;
  const stores: Store[] = [];
  const services: SessionServices[] = [];

  /** Messages go through JSON, as between instances over Redis. */
  function jsonPubSub(inner: PubSub): PubSub {
    return {
      publish: (topic, payload) => inner.publish(topic, JSON.parse(JSON.stringify(payload))),
      subscribe: (topic, listener) => inner.subscribe(topic, listener),
      close: () => inner.close(),
    };
  }

  /** An instance on the shared SQLite file and pub/sub, counting the poll leases it asks for and the Face polls it makes. */
  function instance(pubsub: PubSub, timing: { pollIntervalMillis: number; pollMaxIntervalMillis: number }) {
    const store = openSqliteStore(path.join(dir, 'gateway.sqlite'));
    stores.push(store);
    const leaseAsks: string[] = [];
    const askLease = store.sessions.tryLease.bind(store.sessions);
    store.sessions.tryLease = (sessionId, ...rest) => {
      leaseAsks.push(sessionId);
      return askLease(sessionId, ...rest);
    };
    const polls: string[] = [];
    const azure = createAzureFace({ endpoint: faceUrl, apiKey: 'two-instances', maxRetries: 0 });
    const face: FacePort = {
      ...azure,
      createLivenessSession: (request) => azure.createLivenessSession(request),
      getSession: (kind, sessionId, options) => {
        polls.push(sessionId);
        return azure.getSession(kind, sessionId, options);
      },
    };
    const service = createSessionServices({
      store,
      face,
      pubsub,
      logger: createLogger('silent'),
      now: Date.now,
      expirySweepIntervalMillis: 60_000,
      sessionLeaseMillis: 60_000,
      ...timing,
    });
    services.push(service);
    return { service, polls, leaseAsks };
  }

  async function playDevice(authToken: string) {
    const answer = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ livenessDecision: 'realface' }),
    });
    expect(answer.status).toBe(200);
  }

  const start = (service: SessionServices) =>
    service.commands.start(viewer, { operationMode: 'PASSIVE', authTokenTimeToLiveSeconds: 600, enableSessionImage: false, deviceCorrelationId: randomUUID() });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'two-instances-'));
    emulator = createFaceEmulator({ apiKey: 'two-instances' });
    faceUrl = await emulator.listen(0);
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    for (const store of stores) await store.close();
    await emulator?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a completion reported on A is polled by A alone when B only has subscribers waiting, and B’s subscriber gets the session with the decision', async () => {
    const pubsub = jsonPubSub(createInProcessPubSub());
    const a = instance(pubsub, { pollIntervalMillis: 50, pollMaxIntervalMillis: 600_000 });
    const b = instance(pubsub, { pollIntervalMillis: 50, pollMaxIntervalMillis: 600_000 });
    await a.service.startBackgroundWork();
    await b.service.startBackgroundWork();
    const started = await start(a.service);
    const id = started.session.id;
    const stream = await b.service.queries.decision(viewer, id);
    await playDevice(started.authToken);
    await a.service.commands.complete(viewer, id);
    const { value } = (await stream.next()) as IteratorResult<DecisionEvent>;
    expect(value).toMatchObject({ sessionId: id, verdict: 'PASS' });
    // Through JSON, as over Redis: the session comes back with its dates as dates.
    const stored = await stores[0].sessions.findById(id);
    expect(value.session).toEqual(stored);
    expect(value.session?.createdAt).toBeInstanceOf(Date);
    expect(a.polls).toEqual([id]);
    // B took no part: it never asked for the lease, let alone Face.
    expect(b.leaseAsks).toEqual([]);
    expect(b.polls).toEqual([]);
  });

  it('a completion reported on A is polled at once by B when B holds the session’s poll lease', async () => {
    const pubsub = createInProcessPubSub();
    // A would retry its refused lease only after a minute: the decision comes from B answering the hint.
    const a = instance(pubsub, { pollIntervalMillis: 60_000, pollMaxIntervalMillis: 60_000 });
    const b = instance(pubsub, { pollIntervalMillis: 50, pollMaxIntervalMillis: 60_000 });
    await a.service.startBackgroundWork();
    await b.service.startBackgroundWork();
    const started = await start(a.service);
    const id = started.session.id;
    const stream = await b.service.queries.decision(viewer, id);
    // B polls once (as its subscribers' fallback poll would) and so holds the lease.
    expect(await b.service.polling.pollOnce(id)).toBe('pending');
    await playDevice(started.authToken);
    await a.service.commands.complete(viewer, id);
    const { value } = (await stream.next()) as IteratorResult<DecisionEvent>;
    expect(value).toMatchObject({ sessionId: id, verdict: 'PASS' });
    expect(a.polls).toEqual([]);
    await eventually(() => (b.polls.filter((polled) => polled === id).length === 2 ? true : undefined));
  });
});
