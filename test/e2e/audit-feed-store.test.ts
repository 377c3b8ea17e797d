/**
 * The live audit feed (`src/domain/audit/audit-feed.ts`) over each store adapter, SQLite always and
 * PostgreSQL when DATABASE_URL names a server (CI sets it): writes go through the real session
 * repository, whose notices travel through a real in-process pub/sub; the feed reads the real chain.
 * What the WebSocket cannot show deterministically lives here: a subscriber that never pulls, a
 * replay longer than the buffer while writes keep coming, a tenant whose chain begins meanwhile.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/adapters/store/postgres-store';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import { createInProcessPubSub } from '../../src/adapters/pubsub/in-process';
import { AuditFeed } from '../../src/domain/audit/audit-feed';
import type { AuditEventRecord } from '../../src/domain/audit/audit.model';
import { auditNoticePublisher, noticingAppends } from '../../src/domain/audit/feed-notices';
import { DomainError } from '../../src/domain/errors';
import type { PubSub } from '../../src/domain/ports/pubsub';
import type { SessionRepository, Store } from '../../src/domain/ports/store';
import type { SessionRecord } from '../../src/domain/sessions/session.model';
import type { Viewer } from '../../src/domain/viewer';
import { createLogger } from '../../src/observability/logger';
import { eventually } from '../helpers/gateway';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../helpers/services';

interface Adapter {
  name: string;
  available: boolean;
  open(): Promise<{ store: Store; dispose(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'SQLite',
    available: true,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-feed-'));
      const store = openSqliteStore(path.join(dir, 'gateway.sqlite'));
      return { store, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl !== undefined,
    async open() {
      const database: TestDatabase = await createTestDatabase();
      const store = await openPostgresStore({ connectionString: database.url });
      return { store, dispose: () => database.drop() };
    },
  },
];

const viewer = (roles: Viewer['roles'], tenant: string): Viewer => ({ userId: `${roles[0].toLowerCase()}-${tenant}`, tenant, roles, expiresAtMillis: Date.now() + 3_600_000 });
const logger = createLogger('silent');

function newSession(tenant: string, userId = 'alice'): SessionRecord {
  const createdAt = new Date();
  return {
    id: randomUUID(),
    kind: 'LIVENESS',
    status: 'NOT_STARTED',
    operationMode: 'PASSIVE',
    userId,
    tenant,
    deviceCorrelationId: randomUUID(),
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 600_000),
    enableSessionImage: false,
  };
}

/** Pulls `count` events, failing the test rather than hanging when they do not come. */
async function take(stream: AsyncIterator<AuditEventRecord>, count: number): Promise<AuditEventRecord[]> {
  const events: AuditEventRecord[] = [];
  while (events.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      stream.next(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${events.length} of ${count} events came`)), 10_000))),
    ]).finally(() => clearTimeout(timer));
    if (result.done) throw new Error(`the stream ended after ${events.length} of ${count} events`);
    events.push(result.value);
  }
  return events;
}

const sequences = (events: AuditEventRecord[]) => events.map((event) => event.sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe.each(adapters)('the live audit feed on $name', (adapter) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let pubsub: PubSub;
  let sessions: SessionRepository;
  const open: AsyncIterator<AuditEventRecord>[] = [];

  beforeAll(async () => {
    if (!adapter.available) return;
    ({ store, dispose } = await adapter.open());
    pubsub = createInProcessPubSub();
    sessions = noticingAppends(store.sessions, auditNoticePublisher(pubsub, logger));
  });
  afterEach(async () => {
    for (const stream of open.splice(0)) await stream.return?.();
  });
  afterAll(async () => {
    if (!adapter.available) return;
    await pubsub.close();
    await store.close();
    await dispose();
  });

  // An hour between rechecks: in every test but the one about lost notices, only notices deliver.
  const feedOf = (options: { bufferLimit?: number; batchSize?: number; recheckMillis?: number } = {}) =>
    new AuditFeed({ pubsub, audit: store.audit, logger, bufferLimit: options.bufferLimit ?? 1_000, batchSize: options.batchSize, recheckMillis: options.recheckMillis ?? 3_600_000 });
  const opened = async (feed: AuditFeed, who: Viewer, request: Parameters<AuditFeed['open']>[1] = {}) => {
    const stream = await feed.open(who, request);
    open.push(stream);
    return stream;
  };
  /** Appends `count` SESSION_STARTED events to `tenant`'s chain, one transaction each. */
  const write = async (tenant: string, count: number, userId = 'alice') => {
    for (let index = 0; index < count; index += 1) await sessions.create(newSession(tenant, userId), userId);
  };
  const headOf = async (tenant: string) => (await store.audit.head(tenant))?.sequence ?? 0;

  it.skipIf(!adapter.available)('writes racing the opening reach the subscriber once each, in chain order', async () => {
    const tenant = `race-${randomUUID()}`;
    await write(tenant, 3);
    const feed = feedOf({ batchSize: 2 });
    // Writes committed before, during and after the opening: none lost, none twice.
    const writing = Promise.all([write(tenant, 5), write(tenant, 5)]);
    const stream = await opened(feed, viewer(['AUDITOR'], tenant), { afterSequence: 1 });
    await writing;
    await write(tenant, 2);
    const events = await take(stream, 14);
    expect(sequences(events)).toEqual(range(2, 15));
    expect(new Set(events.map((event) => event.tenant))).toEqual(new Set([tenant]));
  });

  it.skipIf(!adapter.available)('a subscriber that does not pull is ended with RATE_LIMITED at the bound, and resuming misses nothing', async () => {
    const tenant = `slow-${randomUUID()}`;
    await write(tenant, 2);
    const feed = feedOf({ bufferLimit: 3 });
    const stream = await opened(feed, viewer(['AUDITOR'], tenant));
    const [first] = await Promise.all([take(stream, 1), write(tenant, 1)]);
    expect(sequences(first)).toEqual([3]);
    // Nothing pulled while five more commit: the fourth waiting one is past the bound of three.
    await write(tenant, 5);
    // The feed reads what the notices announce in the background: the subscriber is dropped once it has.
    await eventually(() => (feed.size === 0 ? true : undefined));
    const failure = await stream.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure).toMatchObject({ code: 'RATE_LIMITED', extensions: { reason: 'AUDIT_FEED_BEHIND', afterSequence: 3 } });
    expect(await stream.next()).toEqual({ value: undefined, done: true });

    const resumed = await opened(feed, viewer(['AUDITOR'], tenant), { afterSequence: (failure as DomainError).extensions.afterSequence as number });
    expect(sequences(await take(resumed, 5))).toEqual(range(4, 8));
  });

  it.skipIf(!adapter.available)('a replay longer than the buffer completes while writes keep coming', async () => {
    const tenant = `replay-${randomUUID()}`;
    await write(tenant, 12);
    const feed = feedOf({ bufferLimit: 2, batchSize: 3 });
    const stream = await opened(feed, viewer(['ADMIN'], 'ops'), { tenant, afterSequence: 0 });
    const received: AuditEventRecord[] = [];
    // Each pull lets three more events commit: far more than the buffer of two holds meanwhile.
    while (received.length < 30) {
      received.push(...(await take(stream, 1)));
      if (received.length <= 6) await write(tenant, 3);
    }
    expect(sequences(received)).toEqual(range(1, 30));
    expect(await headOf(tenant)).toBe(30);
  });

  it.skipIf(!adapter.available)('filters select by session, user and action, as the audit history does', async () => {
    const tenant = `filter-${randomUUID()}`;
    const feed = feedOf();
    const bob = await opened(feed, viewer(['AUDITOR'], tenant), { userId: 'bob', actions: ['COMPLETION_REPORTED'] });
    const mine = newSession(tenant, 'bob');
    const others = newSession(tenant, 'carol');
    await sessions.create(mine, 'bob');
    await sessions.create(others, 'carol');
    const session = await opened(feed, viewer(['AUDITOR'], tenant), { sessionId: others.id, afterSequence: 2 });
    await sessions.reportCompletion(others.id, 'carol', new Date());
    await sessions.reportCompletion(mine.id, 'bob', new Date());
    const [bobs] = await take(bob, 1);
    expect(bobs).toMatchObject({ sessionId: mine.id, userId: 'bob', action: 'COMPLETION_REPORTED', sequence: 4 });
    const [carols] = await take(session, 1);
    expect(carols).toMatchObject({ sessionId: others.id, action: 'COMPLETION_REPORTED', sequence: 3 });
    // The same criteria over the stored history select the same events.
    const history = await store.audit.list({ kind: 'tenant', tenant }, { userId: 'bob', actions: ['COMPLETION_REPORTED'] }, 10);
    expect(history.items.map((event) => event.id)).toEqual([bobs.id]);
  });

  it.skipIf(!adapter.available)('an admin following every tenant gets a new tenant from its first event, and no old ones', async () => {
    const known = `known-${randomUUID()}`;
    await write(known, 2);
    const feed = feedOf();
    const stream = await opened(feed, viewer(['ADMIN'], 'ops'));
    const fresh = `fresh-${randomUUID()}`;
    await write(fresh, 2);
    await write(known, 1);
    const events = await take(stream, 3);
    // Each tenant in its chain order; between tenants, whichever was read first.
    const of = (tenant: string) => sequences(events.filter((event) => event.tenant === tenant));
    expect(of(fresh)).toEqual([1, 2]);
    expect(of(known)).toEqual([3]);
  });

  it.skipIf(!adapter.available)("events whose notice was lost arrive with the next recheck, a new tenant's too", async () => {
    const tenant = `lost-${randomUUID()}`;
    await write(tenant, 1);
    const feed = feedOf({ recheckMillis: 50 });
    const auditor = await opened(feed, viewer(['AUDITOR'], tenant), { afterSequence: 1 });
    const admin = await opened(feed, viewer(['ADMIN'], 'ops'));
    // Written past the notices, as when Redis is down: nothing but the recheck can find them.
    const fresh = `lost-fresh-${randomUUID()}`;
    for (const chain of [tenant, tenant, fresh]) await store.sessions.create(newSession(chain), 'alice');
    expect(sequences(await take(auditor, 2))).toEqual([2, 3]);
    const seen = await take(admin, 3);
    expect(seen.filter((event) => event.tenant === tenant).map((event) => event.sequence)).toEqual([2, 3]);
    expect(seen.filter((event) => event.tenant === fresh).map((event) => event.sequence)).toEqual([1]);
  });

  it.skipIf(!adapter.available)('users, auditors of another tenant and bad resume points are refused before anything is read', async () => {
    const tenant = `refusals-${randomUUID()}`;
    await write(tenant, 2);
    const feed = feedOf();
    const refusal = (who: Viewer, request: Parameters<AuditFeed['open']>[1]) =>
      feed.open(who, request).then(
        () => 'opened',
        (error: DomainError) => error.code,
      );
    expect(await refusal(viewer(['USER'], tenant), {})).toBe('FORBIDDEN');
    expect(await refusal(viewer(['AUDITOR'], 'globex'), { tenant })).toBe('FORBIDDEN');
    expect(await refusal(viewer(['ADMIN'], 'ops'), { afterSequence: 1 })).toBe('BAD_USER_INPUT');
    expect(await refusal(viewer(['AUDITOR'], tenant), { afterSequence: 3 })).toBe('BAD_USER_INPUT');
    expect(await refusal(viewer(['AUDITOR'], tenant), { afterSequence: -1 })).toBe('BAD_USER_INPUT');
    expect(feed.size).toBe(0);
  });
});
