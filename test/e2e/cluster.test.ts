/**
 * Several gateway instances behave as one: two real child processes on one PostgreSQL database and
 * one Redis, sharing one standalone Face emulator. Needs DATABASE_URL and REDIS_URL (CI sets both);
 * without them this suite is skipped and says why.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  type SessionDecisionSubscription,
} from '../../src/client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../src/face/emulator';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { eventually } from '../helpers/gateway';
import { createTestDatabase, postgresAdminUrl, redisUrl, type TestDatabase } from '../helpers/services';

const available = postgresAdminUrl !== undefined && redisUrl !== undefined;
const secret = randomBytes(32).toString('hex');
const IDEMPOTENCY_SECRET = randomBytes(32).toString('base64');
const LEASE_MILLIS = 1_500;
/** Both instances share it; other test runs on the same Redis use their own. */
const CHANNEL_PREFIX = `test-${randomBytes(4).toString('hex')}:`;

function token(sub: string, roles = ['user'], tenant = 'cluster') {
  return jwt.sign({ roles, tenant }, secret, { subject: sub, expiresIn: 600 });
}

async function graphql<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables, bearer: string): Promise<TData> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: TData; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`GraphQL errors from ${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

describe.skipIf(!available)('two gateway instances on PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let emulator: FaceEmulator;
  let faceUrl: string;
  let a: ChildGateway;
  let b: ChildGateway;
  const clients: Client[] = [];
  const dataDirs: string[] = [];

  const instance = async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-'));
    dataDirs.push(dataDir);
    return startChildGateway({
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl!,
      REDIS_CHANNEL_PREFIX: CHANNEL_PREFIX,
      FACE_ENDPOINT: faceUrl,
      FACE_APIKEY: 'cluster-key',
      FACE_MAX_RETRIES: '0',
      FACE_MAX_CALLS_PER_SECOND: '10000',
      JWT_SECRET: secret,
      POLL_INTERVAL_MS: '20',
      POLL_MAX_INTERVAL_MS: '200',
      EXPIRY_SWEEP_INTERVAL_MS: '200',
      SESSION_LEASE_MS: String(LEASE_MILLIS),
      RATE_LIMIT_USER_STARTS: '100000',
      RATE_LIMIT_DEVICE_STARTS: '100000',
      IDEMPOTENCY_KEY_SECRET: IDEMPOTENCY_SECRET,
    });
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    emulator = createFaceEmulator();
    faceUrl = await emulator.listen(0);
    [a, b] = await Promise.all([instance(), instance()]);
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await Promise.all([a?.kill(), b?.kill()]);
    await emulator?.close();
    await database?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

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

  it('a subscriber on A gets the decision of a session completed on B', async () => {
    const user = token(`user-${randomUUID()}`);
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    const decision = subscribe(a, user, started.session.id);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the subscription reach A
    await device(started.authToken);
    await graphql(b.url, CompleteLivenessSessionDocument, { id: started.session.id }, user);
    const events = await decision;
    expect(events).toHaveLength(1);
    expect(events[0].data?.sessionDecision).toMatchObject({ sessionId: started.session.id, verdict: 'PASS' });
  });

  it('both instances asked to complete the same session record one decision, and subscribers on both get exactly one event', async () => {
    const user = token(`user-${randomUUID()}`);
    const { startLivenessSession: started } = await graphql(a.url, StartLivenessSessionDocument, { input: {} }, user);
    const onA = subscribe(a, user, started.session.id);
    const onB = subscribe(b, user, started.session.id);
    await device(started.authToken, 'spoofface');
    await Promise.all([
      graphql(a.url, CompleteLivenessSessionDocument, { id: started.session.id }, user),
      graphql(b.url, CompleteLivenessSessionDocument, { id: started.session.id }, user),
    ]);
    const [eventsA, eventsB] = await Promise.all([onA, onB]);
    expect(eventsA.map((e) => e.data?.sessionDecision.verdict)).toEqual(['FAIL']);
    expect(eventsB.map((e) => e.data?.sessionDecision.verdict)).toEqual(['FAIL']);
    expect(eventsA[0].data?.sessionDecision.decidedAt).toBe(eventsB[0].data?.sessionDecision.decidedAt);
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
    const report = (await graphql(a.url, VerifyAuditChainDocument, { tenant }, token('auditor', ['auditor'], tenant))).verifyAuditChain;
    expect(report).toEqual({ tenant, valid: true, checked: 200 * 4, firstBrokenSequence: null });
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
    a = await instance(); // for the tests that may follow, and a clean afterAll
  }, 60_000);
});
