/**
 * The delivery log's retention (WEBHOOK_DELIVERY_RETENTION_DAYS) end to end, on SQLite and on
 * PostgreSQL (when DATABASE_URL names a server): the real gateway on port 0, endpoints registered
 * over GraphQL, decisions by the emulator, real receivers on 127.0.0.1, and the gateway's clock
 * moved forward by the test (`advanceClock`) as evidence retention is tested. Deliveries that
 * finished longer ago than the retention leave the log with their attempts; pending ones and
 * recent ones stay. A database from before migration 10 is rolled back by hand (its column and
 * index dropped) to see the migration give finished deliveries their end.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  StartLivenessSessionDocument,
  RedeliverWebhookDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
  type WebhookEventType,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { STORES, type TestDatabase } from '../helpers/services';
import { LOCAL_DELIVERY_ENV, WebhookReceiver } from '../helpers/webhook-receiver';

const DAY_MILLIS = 86_400_000;

describe.each(STORES)('finished webhook deliveries past their retention on $store', ({ available, database }) => {
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
        WEBHOOK_RETRY_MAX_DELAY_MS: '200',
        WEBHOOK_DELIVERY_RETENTION_DAYS: '30',
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

  async function register(tenant: string, url: string): Promise<string> {
    const input = { url, eventTypes: ['SESSION_DECIDED' as WebhookEventType] };
    return (await gateway.ok(CreateWebhookEndpointDocument, { input }, admin(tenant))).createWebhookEndpoint.endpoint.id;
  }

  /** A session of `tenant` decided PASS (one delivery per endpoint of the tenant); its id. */
  async function decide(tenant: string): Promise<string> {
    const token = gateway.token({ sub: `user-${Math.random()}`, tenant });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    return started.session.id;
  }

  async function log(tenant: string, endpointId: string) {
    return (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId, first: 20 }, admin(tenant))).webhookEndpoint!.deliveries;
  }

  /** The delivery of `sessionId` once `check` holds for it. */
  function deliveryOf(tenant: string, endpointId: string, sessionId: string, check: (node: { status: string; attempts: unknown[] }) => boolean) {
    return eventually(async () => {
      const node = (await log(tenant, endpointId)).edges.map((edge) => edge.node).find((each) => each.sessionId === sessionId);
      return node && check(node) ? node : undefined;
    });
  }

  /** Runs `statements` on the store's database itself (SQLite: only while the gateway is stopped, to write). */
  async function onDatabase<T>(work: (run: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
    if (testDatabase) {
      const client = new pg.Client({ connectionString: testDatabase.url });
      await client.connect();
      try {
        return await work(async (sql, params = []) => (await client.query(sql, params)).rows as Record<string, unknown>[]);
      } finally {
        await client.end();
      }
    }
    const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'));
    try {
      return await work(async (sql, params = []) => {
        // One SQL text for both: PostgreSQL's $n placeholders (each used once, in order) become SQLite's ?.
        const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
        return statement.reader ? (statement.all(...params) as Record<string, unknown>[]) : (statement.run(...params), []);
      });
    } finally {
      db.close();
    }
  }

  /** Attempt rows left in the store for these deliveries, read from the database itself. */
  async function storedAttempts(deliveryIds: string[]): Promise<number> {
    const list = deliveryIds.map((_, index) => `$${index + 1}`).join(', ');
    return onDatabase(async (run) => Number((await run(`SELECT count(*) AS count FROM webhook_attempts WHERE delivery_id IN (${list})`, deliveryIds))[0].count));
  }

  it.skipIf(!available)('deletes delivered and failed deliveries that finished more than the retention ago, with their attempts; keeps pending ones, recent ones and ones redelivered since', async () => {
    const acme = await register('acme', (await receiver()).url);
    const failingHooks = await receiver();
    failingHooks.otherwise = { status: 500 };
    const globex = await register('globex', failingHooks.url);
    const slowHooks = await receiver();
    slowHooks.otherwise = { status: 503, headers: { 'retry-after': '3600' } };
    const initech = await register('initech', slowHooks.url);

    // Day 0: acme's delivery is delivered; globex's keeps failing; initech's waits an hour to retry,
    // and its endpoint is then disabled: that delivery stays pending, whatever its age.
    const oldDelivered = await deliveryOf('acme', acme, await decide('acme'), (node) => node.status === 'DELIVERED');
    const redelivered = await deliveryOf('acme', acme, await decide('acme'), (node) => node.status === 'DELIVERED');
    const failingSession = await decide('globex');
    await deliveryOf('globex', globex, failingSession, (node) => node.attempts.length >= 1);
    const pending = await deliveryOf('initech', initech, await decide('initech'), (node) => node.attempts.length === 1);
    expect(pending.status).toBe('PENDING');
    await gateway.ok(UpdateWebhookEndpointDocument, { id: initech, input: { enabled: false } }, admin('initech'));

    // Day 2: past its 24 h horizon, globex's delivery is given up at its next attempt.
    gateway.advanceClock(2 * DAY_MILLIS);
    const oldFailed = await deliveryOf('globex', globex, failingSession, (node) => node.status === 'FAILED');
    expect((await log('acme', acme)).totalCount).toBe(2);

    // Day 20: a new acme delivery, and an admin redelivers one of day 0: both finish 13 days before
    // day 33, when the other two finished 33 and 31 days before.
    gateway.advanceClock(18 * DAY_MILLIS);
    const recentSession = await decide('acme');
    const recent = await deliveryOf('acme', acme, recentSession, (node) => node.status === 'DELIVERED');
    await gateway.ok(RedeliverWebhookDocument, { deliveryId: redelivered.id }, admin('acme'));
    await deliveryOf('acme', acme, redelivered.sessionId, (node) => node.status === 'DELIVERED' && node.attempts.length === 2);
    expect(await storedAttempts([oldDelivered.id, oldFailed.id])).toBeGreaterThanOrEqual(2);

    // Day 33: the sweeper deletes the two finished more than 30 days ago.
    gateway.advanceClock(13 * DAY_MILLIS);
    const acmeLog = await eventually(async () => {
      const found = await log('acme', acme);
      return found.totalCount === 2 ? found : undefined;
    });
    expect(acmeLog.edges.map((edge) => edge.node.id)).toEqual([recent.id, redelivered.id]);
    await eventually(async () => ((await log('globex', globex)).totalCount === 0 ? true : undefined));
    expect(await storedAttempts([oldDelivered.id, oldFailed.id])).toBe(0);

    const stillPending = (await log('initech', initech)).edges.map((edge) => edge.node);
    expect(stillPending.map((node) => [node.id, node.status])).toEqual([[pending.id, 'PENDING']]);
    expect(await storedAttempts([pending.id, recent.id, redelivered.id])).toBe(4);
  });

  // Continues on the gateway (and its clock) the test above left: globex's receiver still fails,
  // initech's endpoint still holds its pending delivery.
  it.skipIf(!available)('deliveries that finished before migration 10 get their end from it, and are purged like the rest', async () => {
    const umbrella = await register('umbrella', (await receiver()).url);
    const delivered = await deliveryOf('umbrella', umbrella, await decide('umbrella'), (node) => node.status === 'DELIVERED');
    const globex = (await gateway.ok(WebhookEndpointsDocument, { tenant: 'globex' }, admin('globex'))).webhookEndpoints[0].id;
    const failingSession = await decide('globex');
    await deliveryOf('globex', globex, failingSession, (node) => node.attempts.length >= 1);
    gateway.advanceClock(2 * DAY_MILLIS);
    const failed = await deliveryOf('globex', globex, failingSession, (node) => node.status === 'FAILED');

    // The database as a gateway before migration 10 left it.
    await gateway.stopGateway();
    await onDatabase(async (run) => {
      await run('DROP INDEX webhook_deliveries_finished');
      await run('ALTER TABLE webhook_deliveries DROP COLUMN finished_at');
      await run('DELETE FROM schema_migrations WHERE version = 10');
    });
    await gateway.startAgain();

    const ends = await onDatabase((run) =>
      run('SELECT id, finished_at, delivered_at, (SELECT max(a.at) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS last_attempt FROM webhook_deliveries d WHERE id IN ($1, $2)', [delivered.id, failed.id]),
    );
    const endOf = (id: string) => ends.find((row) => row.id === id)!;
    expect(Number(endOf(delivered.id).finished_at)).toBe(Number(endOf(delivered.id).delivered_at));
    expect(Number(endOf(failed.id).finished_at)).toBe(Number(endOf(failed.id).last_attempt));

    gateway.advanceClock(31 * DAY_MILLIS);
    await eventually(async () => ((await log('umbrella', umbrella)).totalCount === 0 ? true : undefined));
    await eventually(async () => ((await log('globex', globex)).edges.some((edge) => edge.node.id === failed.id) ? undefined : true));
    expect(await storedAttempts([delivered.id, failed.id])).toBe(0);
    const initech = (await gateway.ok(WebhookEndpointsDocument, { tenant: 'initech' }, admin('initech'))).webhookEndpoints[0].id;
    expect((await log('initech', initech)).edges.map((edge) => edge.node.status)).toEqual(['PENDING']);
  });
});
