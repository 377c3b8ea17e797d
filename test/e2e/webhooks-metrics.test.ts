/**
 * Webhook metrics at `GET /metrics`, after real deliveries: the real gateway on port 0 (SQLite),
 * on SQLite and on PostgreSQL (when DATABASE_URL names a server), endpoints registered over GraphQL, decisions by the emulator, and real receivers on 127.0.0.1
 * (one that answers, one that fails and then recovers, and a closed port). The counters must move
 * by exactly the attempts the delivery log records; the gauges follow the outbox and the endpoints'
 * failing marks; no URL, secret or tenant appears in a label.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  StartLivenessSessionDocument,
  WebhookDeliveriesDocument,
  type WebhookEventType,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { deltas, scrapeMetrics, seriesValue, type Sample } from '../helpers/prometheus';
import { freePort, STORES, type TestDatabase } from '../helpers/services';
import { LOCAL_DELIVERY_ENV, WebhookReceiver } from '../helpers/webhook-receiver';

const P = 'liveness_gateway_';
const ATTEMPTS = `${P}webhook_attempts_total`;
const DURATION_COUNT = `${P}webhook_attempt_duration_seconds_count`;
const PENDING = `${P}webhook_deliveries_pending`;
const FAILING = `${P}webhook_endpoints_failing`;

describe.each(STORES)('webhook metrics after real deliveries on $store', ({ available, database }) => {
  let gateway: TestGateway;
  let testDatabase: TestDatabase | undefined;
  const receivers: WebhookReceiver[] = [];
  const admin = (tenant: string) => gateway.token({ sub: `${tenant}-admin`, roles: ['admin'], tenant });

  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({
      env: {
        ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}),
        ...LOCAL_DELIVERY_ENV,
        WEBHOOK_RETRY_HORIZON_MS: '2000',
        WEBHOOK_FAILING_AFTER: '2',
      },
    });
  });
  afterAll(async () => {
    for (const receiver of receivers) await receiver.close();
    await gateway?.stop();
    await testDatabase?.drop();
  });

  async function receiver(): Promise<WebhookReceiver> {
    const started = await WebhookReceiver.start();
    receivers.push(started);
    return started;
  }

  async function register(tenant: string, url: string) {
    const input = { url, eventTypes: ['SESSION_DECIDED' as WebhookEventType] };
    return (await gateway.ok(CreateWebhookEndpointDocument, { input }, admin(tenant))).createWebhookEndpoint;
  }

  /** A session of `tenant` decided PASS: one delivery to each of that tenant's endpoints. */
  async function decide(tenant: string): Promise<void> {
    const token = gateway.token({ sub: `user-${Math.random()}`, tenant });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
  }

  /** The endpoint's one delivery, once its status is `status`. */
  async function deliveryOnce(tenant: string, endpointId: string, status: string) {
    return eventually(async () => {
      const node = (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 5 }, admin(tenant))).webhookEndpoint!.deliveries.edges[0]?.node;
      return node?.status === status ? node : undefined;
    });
  }

  function scrapeUntil(check: (samples: Sample[]) => boolean): Promise<Sample[]> {
    return eventually(async () => {
      const { samples } = await scrapeMetrics(gateway.url);
      return check(samples) ? samples : undefined;
    });
  }

  it.skipIf(!available)('every outcome series exists from the start at 0, and the gauges read the empty outbox', async () => {
    const { text, samples } = await scrapeMetrics(gateway.url);
    expect(text).toContain(`# TYPE ${ATTEMPTS} counter`);
    expect(text).toContain(`# TYPE ${P}webhook_attempt_duration_seconds histogram`);
    expect(seriesValue(samples, ATTEMPTS, { outcome: 'delivered', status_class: '2xx' })).toBe(0);
    for (const outcome of ['retry', 'failed']) {
      for (const statusClass of ['3xx', '4xx', '5xx', 'none']) expect(seriesValue(samples, ATTEMPTS, { outcome, status_class: statusClass })).toBe(0);
    }
    expect(seriesValue(samples, PENDING)).toBe(0);
    expect(seriesValue(samples, FAILING)).toBe(0);
  });

  it.skipIf(!available)('attempts count by outcome and status class exactly as the delivery log records them; the gauges follow pending deliveries and failing endpoints', async () => {
    const before = (await scrapeMetrics(gateway.url)).samples;

    // acme's receiver answers at once.
    const good = await receiver();
    const { endpoint: acme } = await register('acme', good.url);
    await decide('acme');
    await deliveryOnce('acme', acme.id, 'DELIVERED');

    // globex's fails twice (marked failing), then holds the third attempt open: one pending delivery.
    const flaky = await receiver();
    flaky.script.push({ status: 500 }, { status: 503 }, 'hang');
    const { endpoint: globex, secret: globexSecret } = await register('globex', flaky.url);
    await decide('globex');
    await flaky.waitFor(3);
    const held = await scrapeUntil((samples) => seriesValue(samples, FAILING) === 1);
    expect(seriesValue(held, PENDING)).toBe(1);
    flaky.release(200);
    await deliveryOnce('globex', globex.id, 'DELIVERED');
    await scrapeUntil((samples) => seriesValue(samples, FAILING) === 0 && seriesValue(samples, PENDING) === 0);

    // initech's port is closed: no HTTP answer, retried until the horizon, then failed; marked failing.
    const closed = await freePort();
    const { endpoint: initech } = await register('initech', `http://127.0.0.1:${closed}/hooks`);
    await decide('initech');
    const failed = await deliveryOnce('initech', initech.id, 'FAILED');
    const refusedAttempts = failed.attempts.length;
    expect(refusedAttempts).toBeGreaterThanOrEqual(2);

    const { text, samples: after } = await scrapeMetrics(gateway.url);
    expect(deltas(before, after, ATTEMPTS)).toEqual({
      'outcome=delivered,status_class=2xx': 2,
      'outcome=retry,status_class=5xx': 2,
      'outcome=retry,status_class=none': refusedAttempts - 1,
      'outcome=failed,status_class=none': 1,
    });
    expect(deltas(before, after, DURATION_COUNT)).toEqual({ 'outcome=delivered': 2, 'outcome=retry': 2 + refusedAttempts - 1, 'outcome=failed': 1 });
    expect(seriesValue(after, PENDING)).toBe(0);
    expect(seriesValue(after, FAILING)).toBe(1);

    // Labels are outcomes and classes only: no URL, port, endpoint, tenant or secret.
    for (const secretOrName of [good.url, flaky.url, String(closed), acme.id, globex.id, initech.id, 'acme', 'globex', 'initech', globexSecret]) {
      expect(text).not.toContain(secretOrName);
    }
  });
});
