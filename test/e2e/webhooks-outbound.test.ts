/**
 * Outbound safety of webhook deliveries, end to end. DNS rebinding at delivery time: an endpoint is
 * registered under a host name, and the name's answer changes between registration and delivery. The gateway resolves through a real resolver
 * function handed to it in place of DNS (`GatewayOptions.resolveHost`), which answers what the
 * test says; the receiver is a real HTTP server on 127.0.0.1. Deliveries must check the address
 * they actually connect to, not the one the name had when the admin registered it. And what a
 * delivery does with the answer: a redirect is not followed, and an answer that never ends is read
 * only up to its bound.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  StartLivenessSessionDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
  type WebhookEventType,
} from '../../client/generated/graphql';
import type { HostResolver } from '../../src/adapters/webhooks/outbound-guard';
import { eventually, TestGateway } from '../helpers/gateway';
import { LOCAL_DELIVERY_ENV, WebhookReceiver } from '../helpers/webhook-receiver';

const HOST = 'hooks.partner.test';
/** A public address (example.com's): allowed, and never connected to in these tests. */
const PUBLIC_ADDRESS = '93.184.215.14';

/** What the stand-in DNS answers for HOST right now, and every name it was asked, in order. */
class StandInDns {
  answer: string[] = [PUBLIC_ADDRESS];
  readonly asked: string[] = [];
  readonly resolve: HostResolver = async (hostname) => {
    this.asked.push(hostname);
    if (hostname !== HOST) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return this.answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

const SESSION_DECIDED = ['SESSION_DECIDED' as WebhookEventType];

async function decidedSession(gateway: TestGateway): Promise<string> {
  const token = gateway.token({ sub: `user-${Math.random()}`, tenant: 'acme' });
  const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
  await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
  return started.session.id;
}

describe('a webhook host name that rebinds after registration', () => {
  const dns = new StandInDns();
  let gateway: TestGateway;
  let hooks: WebhookReceiver;
  const admin = () => gateway.token({ sub: 'acme-admin', roles: ['admin'], tenant: 'acme' });

  beforeAll(async () => {
    // No WEBHOOK_ALLOWED_CIDRS: loopback and private addresses are refused, as in production.
    gateway = await TestGateway.start({
      resolveHost: dns.resolve,
      env: { WEBHOOK_DISPATCH_INTERVAL_MS: '20', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_HORIZON_MS: '1000', WEBHOOK_TIMEOUT_MS: '5000' },
    });
    hooks = await WebhookReceiver.start();
  });
  afterEach(async () => {
    for (const endpoint of (await gateway.ok(WebhookEndpointsDocument, {}, admin())).webhookEndpoints) {
      await gateway.ok(DeleteWebhookEndpointDocument, { id: endpoint.id }, admin());
    }
  });
  afterAll(async () => {
    await hooks?.close();
    await gateway?.stop();
  });

  /** Registers `HOST` (on the receiver's port) while it resolves to a public address. */
  async function registerWhilePublic(): Promise<string> {
    dns.answer = [PUBLIC_ADDRESS];
    const url = hooks.url.replace('127.0.0.1', HOST);
    const { endpoint } = (await gateway.ok(CreateWebhookEndpointDocument, { input: { url, eventTypes: SESSION_DECIDED } }, admin())).createWebhookEndpoint;
    expect(endpoint.url).toBe(url);
    return endpoint.id;
  }

  /** The delivery of `sessionId` once it has `count` attempts recorded. */
  async function attemptsOf(endpointId: string, sessionId: string, count: number) {
    return eventually(async () => {
      const log = (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 20 }, admin())).webhookEndpoint!;
      const delivery = log.deliveries.edges.map((edge) => edge.node).find((node) => node.sessionId === sessionId);
      return delivery && delivery.attempts.length >= count ? delivery : undefined;
    });
  }

  it('a name resolving to loopback at registration is refused with BAD_USER_INPUT', async () => {
    dns.answer = ['127.0.0.1'];
    const url = hooks.url.replace('127.0.0.1', HOST);
    const refused = await gateway.graphql(CreateWebhookEndpointDocument, { input: { url, eventTypes: SESSION_DECIDED } }, admin());
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(/loopback, private, link-local/);
  });

  it('public at registration, loopback at delivery: the attempt is refused, recorded as failed with the reason, and nothing reaches the receiver', async () => {
    const endpointId = await registerWhilePublic();
    dns.answer = ['127.0.0.1'];
    const askedBefore = dns.asked.length;

    const sessionId = await decidedSession(gateway);
    const delivery = await attemptsOf(endpointId, sessionId, 1);
    const [attempt] = delivery.attempts;
    expect(attempt.statusCode).toBeNull();
    expect(attempt.error).toBe('the endpoint address may not be reached');
    expect(delivery.lastError).toBe('the endpoint address may not be reached');
    // The name was resolved again for the connection, not taken from the registration.
    expect(dns.asked.slice(askedBefore)).toContain(HOST);
    expect(hooks.received).toEqual([]);

    // Every attempt meets the same refusal until the retry horizon ends the delivery.
    const failed = await eventually(async () => {
      const node = (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 20 }, admin())).webhookEndpoint!.deliveries.edges[0]?.node;
      return node?.status === 'FAILED' ? node : undefined;
    });
    expect(new Set(failed.attempts.map((each) => each.error))).toEqual(new Set(['the endpoint address may not be reached']));
    expect(hooks.received).toEqual([]);
  });

  it('a private address, or a loopback one among public ones, at delivery is refused the same way', async () => {
    for (const answer of [['10.0.0.7'], ['169.254.169.254'], [PUBLIC_ADDRESS, '127.0.0.1'], ['::1']]) {
      const endpointId = await registerWhilePublic();
      dns.answer = answer;
      const sessionId = await decidedSession(gateway);
      const [attempt] = (await attemptsOf(endpointId, sessionId, 1)).attempts;
      expect(attempt, answer.join(',')).toMatchObject({ statusCode: null, error: 'the endpoint address may not be reached' });
      await gateway.ok(DeleteWebhookEndpointDocument, { id: endpointId }, admin());
    }
    expect(hooks.received).toEqual([]);
  });
});

describe('deliveries with loopback allowed', () => {
  const dns = new StandInDns();
  let gateway: TestGateway;
  let hooks: WebhookReceiver;

  beforeAll(async () => {
    gateway = await TestGateway.start({
      resolveHost: dns.resolve,
      env: LOCAL_DELIVERY_ENV,
    });
    hooks = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await hooks?.close();
    await gateway?.stop();
  });

  async function registerFor(tenant: string, url: string): Promise<string> {
    const admin = gateway.token({ sub: `${tenant}-admin`, roles: ['admin'], tenant });
    return (await gateway.ok(CreateWebhookEndpointDocument, { input: { url, eventTypes: SESSION_DECIDED } }, admin)).createWebhookEndpoint.endpoint.id;
  }

  async function decidedFor(tenant: string): Promise<string> {
    const token = gateway.token({ sub: `user-${Math.random()}`, tenant });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    return started.session.id;
  }

  function deliveryWhen(tenant: string, endpointId: string, check: (node: { status: string; attempts: { statusCode?: number | null; error?: string | null }[] }) => boolean) {
    const admin = gateway.token({ sub: `${tenant}-admin`, roles: ['admin'], tenant });
    return eventually(async () => {
      const node = (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 5 }, admin)).webhookEndpoint!.deliveries.edges[0]?.node;
      return node && check(node) ? node : undefined;
    });
  }

  it('a redirect, to another host or anywhere, is not followed: the attempt fails with its status and the target hears nothing', async () => {
    const target = await WebhookReceiver.start();
    const redirecting = await WebhookReceiver.start();
    try {
      redirecting.otherwise = { status: 307, headers: { location: target.url.replace('127.0.0.1', 'localhost') } };
      const endpointId = await registerFor('globex', redirecting.url);
      await decidedFor('globex');
      const delivery = await deliveryWhen('globex', endpointId, (node) => node.attempts.length >= 2);
      expect(delivery.status).toBe('PENDING');
      for (const attempt of delivery.attempts) expect(attempt).toMatchObject({ statusCode: 307, error: 'redirect (307) not followed' });
      expect(redirecting.received.length).toBeGreaterThanOrEqual(2);
      expect(target.received).toEqual([]);
    } finally {
      await target.close();
      await redirecting.close();
    }
  });

  it('an answer whose body never ends is read up to its bound and dropped: the 200 counts, the attempt does not run into its timeout', async () => {
    let closedWhileStreaming = false;
    const endless: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(16 * 1024, 0x61);
        const pump = () => {
          while (!response.destroyed && response.write(chunk));
        };
        response.on('drain', pump);
        response.on('close', () => (closedWhileStreaming = !response.writableEnded));
        pump();
      });
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const endpointId = await registerFor('initech', `http://127.0.0.1:${(endless.address() as AddressInfo).port}/hooks`);
      await decidedFor('initech');
      // With WEBHOOK_TIMEOUT_MS at 5 s, an attempt that read on would end as "no answer within 5000 ms".
      const delivery = await deliveryWhen('initech', endpointId, (node) => node.attempts.length >= 1);
      expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, error: null });
      expect(delivery.status).toBe('DELIVERED');
      await eventually(() => (closedWhileStreaming ? true : undefined));
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });

  it('with loopback allowed, a name that rebinds to 127.0.0.1 is delivered there: the socket connects to the address the check saw', async () => {
    const admin = gateway.token({ sub: 'acme-admin', roles: ['admin'], tenant: 'acme' });
    dns.answer = [PUBLIC_ADDRESS];
    const { secret } = (await gateway.ok(CreateWebhookEndpointDocument, { input: { url: hooks.url.replace('127.0.0.1', HOST), eventTypes: SESSION_DECIDED } }, admin)).createWebhookEndpoint;
    dns.answer = ['127.0.0.1'];
    const sessionId = await decidedSession(gateway);
    const [received] = await hooks.waitFor(1);
    expect(received.headers.host).toBe(`${HOST}:${new URL(hooks.url).port}`);
    expect(WebhookReceiver.verify(received, secret)).toMatchObject({ type: 'session.decided', data: { sessionId } });
  });
});
