/**
 * Signed webhooks end to end: the real gateway on port 0 (SQLite), real admins registering endpoints
 * over GraphQL with real JWTs, the emulator deciding sessions, and a real receiver on 127.0.0.1 that
 * verifies every delivery with the `standardwebhooks` library. Backoff, interval and timeout are set
 * short; loopback is allowed on purpose (WEBHOOK_ALLOWED_CIDRS), everything else private is not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookVerificationError } from 'standardwebhooks';
import {
  AuditHistoryDocument,
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  DeleteLivenessSessionDocument,
  DeleteWebhookEndpointDocument,
  RedeliverWebhookDocument,
  RotateWebhookSecretDocument,
  StartLivenessSessionDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
  type WebhookEventType,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { LOCAL_DELIVERY_ENV, WebhookReceiver } from '../helpers/webhook-receiver';
import { STORES, type TestDatabase } from '../helpers/services';

let gateway: TestGateway;
const receivers: WebhookReceiver[] = [];

const admin = () => gateway.token({ sub: 'acme-admin', roles: ['admin'], tenant: 'acme' });
const auditor = (tenant = 'acme') => gateway.token({ sub: `${tenant}-auditor`, roles: ['auditor'], tenant });

async function receiver(): Promise<WebhookReceiver> {
  const started = await WebhookReceiver.start();
  receivers.push(started);
  return started;
}

async function register(url: string, eventTypes: WebhookEventType[] = ['SESSION_DECIDED' as WebhookEventType], token = admin()) {
  return (await gateway.ok(CreateWebhookEndpointDocument, { input: { url, eventTypes } }, token)).createWebhookEndpoint;
}

/** A session of acme decided PASS by the emulator; its id. */
async function decidedSession(): Promise<string> {
  const token = gateway.token({ sub: `user-${Math.random()}`, tenant: 'acme' });
  const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
  await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
  return started.session.id;
}

async function deliveries(endpointId: string, token = admin()) {
  return (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 20 }, token)).webhookEndpoint!;
}

describe.each(STORES)('webhooks on $store', ({ available, database }) => {
  let testDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({
      env: {
        ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}),
        ...LOCAL_DELIVERY_ENV,
        WEBHOOK_FAILING_AFTER: '2',
        GLOBAL_ADMIN_TENANT: 'ops',
      },
    });
  });

  afterEach(async () => {
    if (!available) return;
    // Each test's endpoints go, so that the next test's decisions reach only its own receiver.
    const endpoints = (await gateway.ok(WebhookEndpointsDocument, {}, admin())).webhookEndpoints;
    const ops = gateway.token({ sub: 'ops-admin', roles: ['admin'], tenant: 'ops' });
    for (const endpoint of endpoints) await gateway.ok(DeleteWebhookEndpointDocument, { id: endpoint.id }, ops);
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('a decision is delivered once, signed so that the Standard Webhooks library verifies it', async () => {
    const hooks = await receiver();
    const { endpoint, secret } = await register(hooks.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const sessionId = await decidedSession();
    const [received] = await hooks.waitFor(1);
    const payload = WebhookReceiver.verify(received, secret) as Record<string, unknown>;
    expect(payload).toMatchObject({
      type: 'session.decided',
      data: { sessionId, tenant: 'acme', status: 'SUCCEEDED', decision: { verdict: 'PASS', livenessDecision: 'REAL_FACE', verifyResult: null } },
    });
    expect(received.id).toMatch(/^msg_/);
    expect(received.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(received.body).not.toContain('authToken');

    const log = await eventually(async () => {
      const found = await deliveries(endpoint.id);
      return found.deliveries.edges[0]?.node.status === 'DELIVERED' ? found : undefined;
    });
    expect(log.deliveries.totalCount).toBe(1);
    const [delivery] = log.deliveries.edges.map((edge) => edge.node);
    expect(delivery).toMatchObject({ id: received.id, sessionId, eventType: 'SESSION_DECIDED', attemptCount: 1, lastStatusCode: 204, nextAttemptAt: null });
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([204]);
    expect(hooks.received).toHaveLength(1);
  });

  it.skipIf(!available)('a receiver failing with 500s, then recovering, gets the same delivery after retries; the endpoint is marked failing meanwhile', async () => {
    const hooks = await receiver();
    hooks.script.push({ status: 500 }, { status: 500 }, { status: 500 });
    const { endpoint, secret } = await register(hooks.url);

    // Held after the failures, so that the failing mark can be seen before the recovery clears it.
    hooks.script.push('hang');
    await decidedSession();
    const arrived = await hooks.waitFor(4);
    expect(new Set(arrived.map((request) => request.id)).size).toBe(1);
    for (const request of arrived) WebhookReceiver.verify(request, secret);

    const failing = await eventually(async () => {
      const listed = (await gateway.ok(WebhookEndpointsDocument, { tenant: 'acme' }, auditor())).webhookEndpoints.find((e) => e.id === endpoint.id);
      return listed?.failing ? listed : undefined;
    });
    expect(failing.consecutiveFailures).toBe(3);
    hooks.release(200);

    const log = await eventually(async () => {
      const found = await deliveries(endpoint.id, auditor());
      return found.deliveries.edges[0]?.node.status === 'DELIVERED' ? found : undefined;
    });
    expect(log.deliveries.edges[0].node.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 500, 200]);
    expect(log).toMatchObject({ failing: false, consecutiveFailures: 0 });

    const trail = (await gateway.ok(AuditHistoryDocument, { filter: { sessionId: endpoint.id }, first: 20 }, auditor())).auditHistory.edges.map((edge) => edge.node);
    expect(trail.map((event) => [event.action, event.actor]).reverse()).toEqual([
      ['WEBHOOK_ENDPOINT_CREATED', 'acme-admin'],
      ['WEBHOOK_ENDPOINT_FAILING', 'system'],
      ['WEBHOOK_ENDPOINT_RECOVERED', 'system'],
    ]);
  });

  it.skipIf(!available)("honours the receiver's Retry-After", async () => {
    const hooks = await receiver();
    hooks.script.push({ status: 503, headers: { 'retry-after': '2' } });
    const { endpoint } = await register(hooks.url);
    await decidedSession();
    const [first, second] = await hooks.waitFor(2);
    // With a 20 ms backoff base, only the Retry-After can have held the retry back this long.
    expect(second.arrivedAt - first.arrivedAt).toBeGreaterThanOrEqual(2_000);
    const log = await deliveries(endpoint.id);
    const [attempt1, attempt2] = await eventually(async () => {
      const attempts = (await deliveries(endpoint.id)).deliveries.edges[0].node.attempts;
      return attempts.length === 2 ? attempts : undefined;
    });
    expect(attempt1.statusCode).toBe(503);
    expect(new Date(attempt2.at).getTime() - new Date(attempt1.at).getTime()).toBeGreaterThanOrEqual(2_000);
    expect(log.deliveries.totalCount).toBe(1);
  });

  it.skipIf(!available)('secret rotation: during the overlap a delivery verifies with both secrets, after it with the new one only', async () => {
    const hooks = await receiver();
    const { endpoint, secret: oldSecret } = await register(hooks.url, ['SESSION_DECIDED', 'SESSION_DELETED'] as WebhookEventType[]);
    const rotated = (await gateway.ok(RotateWebhookSecretDocument, { id: endpoint.id, overlapSeconds: 3600 }, admin())).rotateWebhookSecret;
    expect(rotated.secret).not.toBe(oldSecret);
    expect(rotated.endpoint.previousSecretExpiresAt).not.toBeNull();

    const sessionId = await decidedSession();
    const [during] = await hooks.waitFor(1);
    expect(during.signature.split(' ')).toHaveLength(2);
    expect(WebhookReceiver.verify(during, oldSecret)).toMatchObject({ type: 'session.decided' });
    expect(WebhookReceiver.verify(during, rotated.secret)).toMatchObject({ type: 'session.decided' });

    const again = (await gateway.ok(RotateWebhookSecretDocument, { id: endpoint.id, overlapSeconds: 0 }, admin())).rotateWebhookSecret;
    expect(JSON.parse(during.body)).toMatchObject({ data: { sessionId } });
    // Its owner deletes a session: a session.deleted event, signed after the overlap ended.
    const decided = await decidedSessionOwnedBy('carol');
    await gateway.ok(DeleteLivenessSessionDocument, { id: decided }, gateway.token({ sub: 'carol', tenant: 'acme' }));
    const after = await hooks.waitFor(3);
    const deleted = after.find((request) => (JSON.parse(request.body) as { type: string }).type === 'session.deleted')!;
    expect(deleted.signature.split(' ')).toHaveLength(1);
    expect(WebhookReceiver.verify(deleted, again.secret)).toMatchObject({ type: 'session.deleted', data: { sessionId: decided, status: 'DELETED' } });
    expect(() => WebhookReceiver.verify(deleted, rotated.secret)).toThrow(WebhookVerificationError);
    expect(() => WebhookReceiver.verify(deleted, oldSecret)).toThrow(WebhookVerificationError);
  });

  it.skipIf(!available)('refuses endpoints on private, link-local (metadata) or loopback addresses not allowed, and schemes other than http(s)', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.1.2.3/hook', 'https://192.168.0.10/hook', 'http://[::1]:8080/hook', 'http://[fd00:ec2::254]/', 'http://[::ffff:10.0.0.1]/', 'ftp://127.0.0.1/hook']) {
      const result = await gateway.graphql(CreateWebhookEndpointDocument, { input: { url, eventTypes: ['SESSION_DECIDED' as WebhookEventType] } }, admin());
      expect(result.errors?.[0]?.extensions?.code, url).toBe('BAD_USER_INPUT');
    }
    expect((await gateway.ok(WebhookEndpointsDocument, {}, admin())).webhookEndpoints).toEqual([]);
  });

  it.skipIf(!available)('roles: users may not register, auditors only read their tenant, a tenant admin manages only its tenant, a global admin any', async () => {
    const hooks = await receiver();
    const user = gateway.token({ sub: 'alice', tenant: 'acme' });
    const input = { url: hooks.url, eventTypes: ['SESSION_DECIDED' as WebhookEventType] };
    expect((await gateway.graphql(CreateWebhookEndpointDocument, { input }, user)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gateway.graphql(CreateWebhookEndpointDocument, { input }, auditor())).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const globex = gateway.token({ sub: 'globex-admin', roles: ['admin'], tenant: 'globex' });
    expect((await gateway.graphql(CreateWebhookEndpointDocument, { input: { ...input, tenant: 'acme' } }, globex)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const ops = gateway.token({ sub: 'ops-admin', roles: ['admin'], tenant: 'ops' });
    const { endpoint } = (await gateway.ok(CreateWebhookEndpointDocument, { input: { ...input, tenant: 'acme' } }, ops)).createWebhookEndpoint;
    expect(endpoint.tenant).toBe('acme');
    const disable = { id: endpoint.id, input: { enabled: false } };
    expect((await gateway.graphql(UpdateWebhookEndpointDocument, disable, globex)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gateway.ok(UpdateWebhookEndpointDocument, disable, admin())).updateWebhookEndpoint.enabled).toBe(false);

    expect((await gateway.ok(WebhookEndpointsDocument, {}, auditor('globex'))).webhookEndpoints).toEqual([]);
    expect((await gateway.graphql(WebhookDeliveriesDocument, { id: endpoint.id }, auditor('globex'))).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await gateway.ok(WebhookDeliveriesDocument, { id: endpoint.id }, auditor())).webhookEndpoint!.enabled).toBe(false);

    const actions = (await gateway.ok(AuditHistoryDocument, { filter: { sessionId: endpoint.id }, first: 10 }, auditor())).auditHistory.edges.map((edge) => edge.node.action);
    expect(actions.reverse()).toEqual(['WEBHOOK_ENDPOINT_CREATED', 'WEBHOOK_ENDPOINT_UPDATED']);
  });

  it.skipIf(!available)('a disabled endpoint is sent nothing; an admin redelivers a delivery, with the same webhook-id', async () => {
    const hooks = await receiver();
    const { endpoint, secret } = await register(hooks.url);
    await gateway.ok(UpdateWebhookEndpointDocument, { id: endpoint.id, input: { enabled: false } }, admin());
    await decidedSessionSettled();
    expect((await deliveries(endpoint.id)).deliveries.totalCount).toBe(0);

    await gateway.ok(UpdateWebhookEndpointDocument, { id: endpoint.id, input: { enabled: true } }, admin());
    await decidedSession();
    const [first] = await hooks.waitFor(1);
    const delivered = await eventually(async () => {
      const node = (await deliveries(endpoint.id)).deliveries.edges[0]?.node;
      return node?.status === 'DELIVERED' ? node : undefined;
    });
    expect((await gateway.graphql(RedeliverWebhookDocument, { deliveryId: delivered.id }, auditor())).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const again = (await gateway.ok(RedeliverWebhookDocument, { deliveryId: delivered.id }, admin())).redeliverWebhook;
    expect(again.status).toBe('PENDING');
    const [, second] = await hooks.waitFor(2);
    expect(second.id).toBe(first.id);
    expect(WebhookReceiver.verify(second, secret)).toEqual(WebhookReceiver.verify(first, secret));
  });
});

describe.each(STORES)('docs/partners.md on $store', ({ available, database }) => {
  let testDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({
      env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}), WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_DISPATCH_INTERVAL_MS: '20' },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('the receiver snippet verifies a real delivery and refuses a forged one; the registration and log operations run as written', async () => {
    const [register] = partnersBlocks('Registering an endpoint', 'graphql');
    const [logQuery] = partnersBlocks('The delivery log', 'graphql');
    const [snippet] = partnersBlocks('Verifying a delivery', 'js');
    // Inside the project's node_modules, so that `import 'standardwebhooks'` resolves as in a partner's project.
    // A fresh clone has no node_modules/.cache until something makes it.
    fs.mkdirSync(path.join(root, 'node_modules/.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(root, 'node_modules/.cache/partners-receiver-'));
    fs.writeFileSync(path.join(dir, 'receiver.mjs'), snippet);

    const created = await gateway.graphql<{ createWebhookEndpoint: { secret: string; endpoint: { id: string } } }, { url: string }>(register, { url: 'http://127.0.0.1:9/placeholder' }, admin());
    expect(created.errors).toBeUndefined();
    const { secret, endpoint } = created.data!.createWebhookEndpoint;
    const child = spawn(process.execPath, [path.join(dir, 'receiver.mjs')], { env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: secret, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const port = await eventually(() => /listening on (\d+)/.exec(output)?.[1]);
      await gateway.ok(UpdateWebhookEndpointDocument, { id: endpoint.id, input: { url: `http://127.0.0.1:${port}/hooks` } }, admin());

      const forged = await fetch(`http://127.0.0.1:${port}/hooks`, {
        method: 'POST',
        headers: { 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
        body: '{"type":"session.decided"}',
      });
      expect(forged.status).toBe(400);

      const sessionId = await decidedSession();
      const line = await eventually(() => output.split('\n').find((text) => text.includes(sessionId)));
      expect(JSON.parse(line)).toMatchObject({ type: 'session.decided', data: { sessionId, status: 'SUCCEEDED' } });

      const log = await eventually(async () => {
        const result = await gateway.graphql<{ webhookEndpoint: { deliveries: { edges: { node: { status: string; attempts: { statusCode: number }[] } }[] } } }, { id: string }>(logQuery, { id: endpoint.id }, auditor());
        expect(result.errors).toBeUndefined();
        const node = result.data!.webhookEndpoint.deliveries.edges[0]?.node;
        return node?.status === 'DELIVERED' ? node : undefined;
      });
      expect(log.attempts.map((attempt) => attempt.statusCode)).toEqual([204]);
    } finally {
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const root = path.resolve(__dirname, '../..');

/** The fenced blocks of `language` in the docs/partners.md section whose heading starts with `heading`. */
function partnersBlocks(heading: string, language: string): string[] {
  const text = fs.readFileSync(path.join(root, 'docs/partners.md'), 'utf8');
  const start = text.indexOf(`\n## ${heading}`);
  if (start === -1) throw new Error(`docs/partners.md has no section "${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]);
}

async function decidedSessionOwnedBy(sub: string): Promise<string> {
  const token = gateway.token({ sub, tenant: 'acme' });
  const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
  await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
  return started.session.id;
}

/** A decided session, once its decision is stored (its outbox rows are written in the same transaction). */
async function decidedSessionSettled(): Promise<void> {
  const token = gateway.token({ sub: 'dave', tenant: 'acme' });
  const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' });
  await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
  await eventually(async () => {
    const result = await gateway.graphql(
      'query ($id: ID!) { session(id: $id) { decision { verdict } } }',
      { id: started.session.id },
      token,
    );
    return (result.data as { session: { decision: unknown } }).session.decision ? true : undefined;
  });
}
