/**
 * Webhook deliveries across real processes: a gateway SIGKILLed while a delivery is in flight
 * delivers it after a restart (the outbox row was committed with the decision; the dead instance's
 * lease runs out), and two instances on one PostgreSQL database deliver each event once. The
 * receiver is a real HTTP server verifying with the `standardwebhooks` library.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  StartLivenessSessionDocument,
  WebhookDeliveriesDocument,
  type WebhookEventType,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { eventually } from '../helpers/gateway';
import { createTestDatabase, POSTGRES_SKIP_REASON, postgresAdminUrl, servicesFor, type TestDatabase } from '../helpers/services';
import { WebhookReceiver } from '../helpers/webhook-receiver';

const secret = randomBytes(32).toString('hex');
const IDEMPOTENCY_SECRET = randomBytes(32).toString('base64');
const started: ChildGateway[] = [];
const dirs: string[] = [];
let receiver: WebhookReceiver;

/** Short timings: a 500 ms attempt timeout makes a dead instance's delivery lease 2 s. */
const WEBHOOK_ENV = {
  WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
  WEBHOOK_DISPATCH_INTERVAL_MS: '20',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_TIMEOUT_MS: '500',
  POLL_INTERVAL_MS: '20',
  POLL_MAX_INTERVAL_MS: '200',
  EXPIRY_SWEEP_INTERVAL_MS: '200',
  RATE_LIMIT_USER_STARTS: '0',
  RATE_LIMIT_DEVICE_STARTS: '0',
  JWT_SECRET: secret,
  IDEMPOTENCY_KEY_SECRET: IDEMPOTENCY_SECRET,
};

function token(sub: string, roles = ['user'], tenant = 'acme') {
  return jwt.sign({ roles, tenant }, secret, { subject: sub, expiresIn: 600 });
}

async function graphql<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables, bearer: string): Promise<TData> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: TData; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`GraphQL errors from ${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function start(env: Record<string, string>): Promise<ChildGateway> {
  const gateway = await startChildGateway({ ...WEBHOOK_ENV, ...env });
  started.push(gateway);
  return gateway;
}

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-'));
  dirs.push(dir);
  return dir;
}

/** Starts a session on `starter`, plays the device at `faceUrl`, reports completion on `completer`. */
async function decide(starter: string, completer: string, faceUrl: string): Promise<string> {
  const user = token(`user-${randomBytes(4).toString('hex')}`);
  const session = (await graphql(starter, StartLivenessSessionDocument, { input: {} }, user)).startLivenessSession;
  const device = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.authToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ livenessDecision: 'realface' }),
  });
  expect(device.status).toBe(200);
  await graphql(completer, CompleteLivenessSessionDocument, { id: session.session.id }, user);
  return session.session.id;
}

async function register(url: string): Promise<{ id: string; secret: string }> {
  const created = (await graphql(url, CreateWebhookEndpointDocument, { input: { url: receiver.url, eventTypes: ['SESSION_DECIDED' as WebhookEventType] } }, token('admin', ['admin']))).createWebhookEndpoint;
  return { id: created.endpoint.id, secret: created.secret };
}

async function log(url: string, endpointId: string) {
  return (await graphql(url, WebhookDeliveriesDocument, { id: endpointId, first: 50 }, token('admin', ['admin']))).webhookEndpoint!.deliveries;
}

beforeEach(async () => {
  receiver = await WebhookReceiver.start();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((gateway) => gateway.kill()));
  await receiver.close();
});

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('webhooks across processes', () => {
  it('a gateway SIGKILLed while delivering a decision delivers it after a restart, with the same webhook-id', async () => {
    const env = { DATA_DIR: dataDir() };
    const first = await start(env);
    const endpoint = await register(first.url);
    receiver.script.push('hang');

    const sessionId = await decide(first.url, first.url, `${first.url}/emulator`);
    const [inFlight] = await receiver.waitFor(1);
    expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await start(env);
    const [, delivered] = await receiver.waitFor(2);
    expect(delivered.id).toBe(inFlight.id);
    expect(WebhookReceiver.verify(delivered, endpoint.secret)).toMatchObject({ type: 'session.decided', data: { sessionId } });
    const deliveries = await eventually(async () => {
      const found = await log(second.url, endpoint.id);
      return found.edges[0]?.node.status === 'DELIVERED' ? found : undefined;
    });
    expect(deliveries.totalCount).toBe(1);
    // The attempt the killed instance had started was never recorded: only the one that succeeded is.
    expect(deliveries.edges[0].node.attempts.map((attempt) => attempt.statusCode)).toEqual([204]);
  });
});

const services = servicesFor('the webhook cluster suite', [postgresAdminUrl === undefined ? POSTGRES_SKIP_REASON : undefined]);

describe.skipIf(!services.run)('webhooks from two instances on PostgreSQL', () => {
  let database: TestDatabase | undefined;
  let emulator: FaceEmulator | undefined;

  afterEach(async () => {
    await emulator?.close();
    await database?.drop();
  });

  it('deliver each event once', async () => {
    if (services.missing) throw new Error(services.missing);
    database = await createTestDatabase();
    emulator = createFaceEmulator();
    const faceUrl = await emulator.listen(0);
    const shared = { DATABASE_URL: database.url, FACE_ENDPOINT: faceUrl, FACE_APIKEY: 'cluster-key', FACE_MAX_RETRIES: '0', FACE_MAX_CALLS_PER_SECOND: '10000' };
    const [a, b] = await Promise.all([start({ ...shared, DATA_DIR: dataDir() }), start({ ...shared, DATA_DIR: dataDir() })]);
    const endpoint = await register(a.url);

    const sessions = await Promise.all(Array.from({ length: 8 }, (_, i) => decide(i % 2 ? a.url : b.url, i % 3 ? b.url : a.url, faceUrl)));
    const deliveries = await eventually(async () => {
      const found = await log(b.url, endpoint.id);
      return found.totalCount === sessions.length && found.edges.every((edge) => edge.node.status === 'DELIVERED') ? found : undefined;
    }, 20_000);

    // Every delivery is recorded DELIVERED: none is pending, so none can be attempted again.
    expect(deliveries.edges.map((edge) => edge.node.attemptCount)).toEqual(sessions.map(() => 1));
    const ids = receiver.received.map((request) => request.id);
    expect(ids).toHaveLength(sessions.length);
    expect(new Set(ids)).toEqual(new Set(deliveries.edges.map((edge) => edge.node.id)));
    const delivered = receiver.received.map((request) => (WebhookReceiver.verify(request, endpoint.secret) as { data: { sessionId: string } }).data.sessionId);
    expect(delivered.sort()).toEqual([...sessions].sort());
  }, 60_000);
});
