/**
 * One store suite, every adapter: the same behaviour checked on SQLite (always) and PostgreSQL
 * (when DATABASE_URL names a server; CI sets it). Tests speak to the `Store` interface the services
 * use, on real databases.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/domain/audit/audit.service';
import { AuditSeal, DEFAULT_CHECKPOINT_POLICY } from '../../src/domain/audit/seal';
import type { Viewer } from '../../src/domain/viewer';
import type { FaceAttempt } from '../../src/domain/ports/face.port';
import type { SessionRecord } from '../../src/domain/sessions/session.model';
import { openPostgresStore } from '../../src/adapters/store/postgres-store';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import { KeptDecisionsRepository } from '../../src/adapters/store/kept-decisions';
import type { SessionRepository, Store } from '../../src/domain/ports/store';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../helpers/services';

interface Adapter {
  name: string;
  available: boolean;
  /** Opens a store on a fresh database; `again()` opens a second store on the same database (another process). */
  open(): Promise<{ store: Store; again(): Promise<Store>; dispose(): Promise<void> }>;
}

/** One set of audit keys for every store opened on a database, as the instances of one deployment share theirs. */
const sealing = { seal: AuditSeal.withRandomKeys(), checkpoints: DEFAULT_CHECKPOINT_POLICY };

const adapters: Adapter[] = [
  {
    name: 'SQLite',
    available: true,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-suite-'));
      const file = path.join(dir, 'gateway.sqlite');
      const store = openSqliteStore(file, { sealing });
      return { store, again: async () => openSqliteStore(file, { sealing }), dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl !== undefined,
    async open() {
      const database: TestDatabase = await createTestDatabase();
      const store = await openPostgresStore({ connectionString: database.url, sealing });
      return { store, again: () => openPostgresStore({ connectionString: database.url, sealing }), dispose: () => database.drop() };
    },
  },
];

const admin: Viewer = { userId: 'root', tenant: 'ops', roles: ['ADMIN'], expiresAtMillis: Date.now() + 3_600_000 };

function newSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const createdAt = new Date(overrides.createdAt ?? Date.now());
  return {
    id: randomUUID(),
    kind: 'LIVENESS',
    status: 'NOT_STARTED',
    operationMode: 'PASSIVE',
    userId: 'alice',
    tenant: 'acme',
    deviceCorrelationId: randomUUID(),
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 600_000),
    enableSessionImage: false,
    ...overrides,
  };
}

const realFace = (attemptId: number): FaceAttempt => ({
  attemptId,
  status: 'SUCCEEDED',
  livenessDecision: 'REAL_FACE',
  digest: 'AB'.repeat(32),
  faceRectangle: { top: 1, left: 2, width: 3, height: 4 },
});
const failedAttempt = (attemptId: number): FaceAttempt => ({ attemptId, status: 'FAILED', error: { code: 'FaceNotFound', message: 'No face.' } });

describe.each(adapters)('the $name store', (adapter) => {
  let store: Store;
  let again: () => Promise<Store>;
  let dispose: () => Promise<void>;
  const others: Store[] = [];

  beforeAll(async () => {
    if (!adapter.available) return;
    ({ store, again, dispose } = await adapter.open());
  });
  afterAll(async () => {
    if (!adapter.available) return;
    for (const other of others) await other.close();
    await store.close();
    await dispose();
  });

  it.skipIf(!adapter.available)("an image fetched while its session's owner was being erased is not stored under the erased session", async () => {
    const tenant = 'erased-meanwhile';
    const session = await store.sessions.create(newSession({ tenant, userId: 'eve', enableSessionImage: true }), 'eve');
    const image = { sessionId: session.id, attemptId: 1, tenant, userId: 'eve', contentType: 'image/jpeg', byteLength: 3, sealed: 'v1.a.b.c', storedAt: new Date(), expiresAt: new Date(Date.now() + 60_000) };
    const audit = { action: 'EVIDENCE_STORED' as const, actor: 'system', sessionId: session.id, userId: 'eve', attemptId: 1 };
    const erased = await store.erasure.erase(tenant, 'eve', 'root', new Date(), 'cd'.repeat(32));
    expect(erased).toMatchObject({ sessions: 1, evidenceDeleted: 0, eventsRewritten: 1, eventsKept: 0 });
    expect(await store.evidence.storeImage(image, audit, new Date())).toBe(false);
    expect(await store.evidence.imagesFor([session.id])).toEqual([[]]);
    // The guard is about the owner: an image of the session as it is now is stored.
    expect(await store.evidence.storeImage({ ...image, userId: erased.pseudonym }, { ...audit, userId: erased.pseudonym }, new Date())).toBe(true);
    expect(await new AuditService(store.audit, { seal: sealing.seal }).verifyChain(admin, tenant)).toMatchObject({ valid: true, checked: 3 });
  });

  it.skipIf(!adapter.available)('stores a session and finds it by id, and many by ids in key order', async () => {
    const a = await store.sessions.create(newSession(), 'alice');
    const b = await store.sessions.create(newSession({ kind: 'LIVENESS_WITH_VERIFY', verifyReference: { faceRectangle: { top: 1, left: 2, width: 3, height: 4 }, qualityForRecognition: 'HIGH' } }), 'alice');
    expect(await store.sessions.findById(a.id)).toEqual(a);
    const missing = randomUUID();
    expect(await store.sessions.findByIds([b.id, missing, a.id])).toEqual([b, undefined, a]);
  });

  it.skipIf(!adapter.available)('records completion once, with one COMPLETION_REPORTED event', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'once' }), 'alice');
    const at = new Date();
    const first = await store.sessions.reportCompletion(session.id, 'alice', at);
    const second = await store.sessions.reportCompletion(session.id, 'alice', new Date(at.getTime() + 1000));
    expect(first.completionReportedAt).toEqual(at);
    expect(second.completionReportedAt).toEqual(at);
    const events = await store.audit.chainSlice('once', 0, 100);
    expect(events.map((event) => event.action)).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED']);
    expect((await store.sessions.awaitingResult()).map((s) => s.id)).toContain(session.id);
  });

  it.skipIf(!adapter.available)('records each finished attempt and the decision once, however often the same progress is recorded', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'progress' }), 'alice');
    const progress = {
      faceStatus: 'SUCCEEDED' as const,
      modelVersion: '2024-11-15',
      attempts: [failedAttempt(1), realFace(2), { attemptId: 3, status: 'RUNNING' as const }],
      outcome: { status: 'SUCCEEDED' as const, decision: { verdict: 'PASS' as const, livenessDecision: 'REAL_FACE' as const, attemptId: 2 } },
    };
    const first = await store.sessions.recordProgress(session.id, progress, new Date());
    const second = await store.sessions.recordProgress(session.id, progress, new Date());
    expect(first.newDecision).toMatchObject({ verdict: 'PASS', attemptId: 2 });
    expect(second.newDecision).toBeUndefined();
    expect(first.session).toMatchObject({ status: 'SUCCEEDED', modelVersion: '2024-11-15' });
    const [attempts] = await store.sessions.attemptsFor([session.id]);
    expect(attempts.map((a) => [a.attemptId, a.status])).toEqual([
      [1, 'FAILED'],
      [2, 'SUCCEEDED'],
    ]);
    expect(attempts[1]).toMatchObject({ livenessDecision: 'REAL_FACE', digest: 'AB'.repeat(32), faceRectangle: { top: 1, left: 2, width: 3, height: 4 } });
    expect(attempts[0].error).toEqual({ code: 'FaceNotFound', message: 'No face.' });
    const [decision] = await store.sessions.decisionsFor([session.id]);
    expect(decision).toMatchObject({ sessionId: session.id, verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 2 });
    const actions = (await store.audit.chainSlice('progress', 0, 100)).map((event) => event.action);
    expect(actions).toEqual(['SESSION_STARTED', 'ATTEMPT_RECORDED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
  });

  it.skipIf(!adapter.available)('answers "no decision yet" afresh every time, and a decision reached by another instance as soon as it is stored', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'decided-elsewhere' }), 'alice');
    const other = await again();
    others.push(other);
    expect(await store.sessions.decisionsFor([session.id])).toEqual([undefined]);
    expect(await store.sessions.decisionsFor([session.id])).toEqual([undefined]);
    const outcome = { status: 'SUCCEEDED' as const, decision: { verdict: 'PASS' as const, livenessDecision: 'REAL_FACE' as const, attemptId: 1 } };
    const { newDecision } = await other.sessions.recordProgress(session.id, { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome }, new Date());
    const missing = randomUUID();
    for (let read = 0; read < 2; read += 1) {
      const [decided, none] = await store.sessions.decisionsFor([session.id, missing]);
      expect(decided).toEqual(newDecision);
      expect(none).toBeUndefined();
    }
  });

  it.skipIf(!adapter.available)("keeps a decided session's attempts as they were when it was decided: a later attempt is neither stored nor audited", async () => {
    const session = await store.sessions.create(newSession({ tenant: 'final-attempts' }), 'alice');
    const other = await again();
    others.push(other);
    expect(await store.sessions.attemptsFor([session.id])).toEqual([[]]);
    const progress = (attempts: FaceAttempt[]) => ({
      faceStatus: 'SUCCEEDED' as const,
      attempts,
      outcome: { status: 'SUCCEEDED' as const, decision: { verdict: 'PASS' as const, livenessDecision: 'REAL_FACE' as const, attemptId: 2 } },
    });
    await other.sessions.recordProgress(session.id, progress([failedAttempt(1), realFace(2)]), new Date());
    expect((await store.sessions.attemptsFor([session.id]))[0].map((attempt) => attempt.attemptId)).toEqual([1, 2]);
    // A poll that raced the decision, seeing one more attempt, on either instance.
    for (const late of [store, other]) {
      const transition = await late.sessions.recordProgress(session.id, progress([failedAttempt(1), realFace(2), realFace(3)]), new Date());
      expect(transition.newDecision).toBeUndefined();
    }
    for (const reader of [store, other]) {
      const [attempts] = await reader.sessions.attemptsFor([session.id]);
      expect(attempts.map((attempt) => attempt.attemptId)).toEqual([1, 2]);
    }
    const actions = (await store.audit.chainSlice('final-attempts', 0, 100)).map((event) => [event.action, event.attemptId ?? null]);
    expect(actions).toEqual([
      ['SESSION_STARTED', null],
      ['ATTEMPT_RECORDED', 1],
      ['ATTEMPT_RECORDED', 2],
      ['DECISION_REACHED', 2],
    ]);
  });

  it.skipIf(!adapter.available)("reads an undecided session's decision and attempts every time, a decided one's once and then answers from what it keeps", async () => {
    const session = await store.sessions.create(newSession({ tenant: 'kept' }), 'alice');
    const other = await again();
    others.push(other);
    const reads: string[] = [];
    const counted: SessionRepository = Object.assign(Object.create(store.sessions) as SessionRepository, {
      decisionsFor: (ids: readonly string[]) => (reads.push('decisions'), store.sessions.decisionsFor(ids)),
      attemptsFor: (ids: readonly string[]) => (reads.push('attempts'), store.sessions.attemptsFor(ids)),
    });
    const kept = new KeptDecisionsRepository(counted);
    const both = async () => [...(await kept.decisionsFor([session.id])), ...(await kept.attemptsFor([session.id]))];
    expect(await both()).toEqual([undefined, []]);
    expect(await both()).toEqual([undefined, []]);
    expect(reads).toEqual(['decisions', 'attempts', 'decisions', 'attempts']);
    const outcome = { status: 'SUCCEEDED' as const, decision: { verdict: 'PASS' as const, livenessDecision: 'REAL_FACE' as const, attemptId: 1 } };
    const { newDecision } = await other.sessions.recordProgress(session.id, { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome }, new Date());
    reads.length = 0;
    for (let read = 0; read < 3; read += 1) {
      const [decision, attempts] = await both();
      expect(decision).toEqual(newDecision);
      expect(Array.isArray(attempts) && attempts.map((attempt) => attempt.attemptId)).toEqual([1]);
    }
    expect(reads).toEqual(['decisions', 'attempts']);
  });

  it.skipIf(!adapter.available)('deletes a session without losing its events, deciding it once', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'deleted' }), 'alice');
    const deleted = await store.sessions.markDeleted(session.id, 'alice', new Date(), { verdict: 'EXPIRED' });
    const again = await store.sessions.markDeleted(session.id, 'alice', new Date(), { verdict: 'EXPIRED' });
    expect(deleted.session.status).toBe('DELETED');
    expect(deleted.newDecision?.verdict).toBe('EXPIRED');
    expect(again.newDecision).toBeUndefined();
    const ignored = await store.sessions.recordProgress(session.id, { faceStatus: 'SUCCEEDED', attempts: [realFace(1)] }, new Date());
    expect(ignored.session.status).toBe('DELETED');
    expect((await store.audit.chainSlice('deleted', 0, 100)).map((event) => event.action)).toEqual(['SESSION_STARTED', 'SESSION_DELETED', 'DECISION_REACHED']);
  });

  it.skipIf(!adapter.available)('finds undecided sessions past their expiry, and no others', async () => {
    const past = await store.sessions.create(newSession({ tenant: 'expiry', createdAt: new Date(Date.now() - 700_000) }), 'alice');
    const future = await store.sessions.create(newSession({ tenant: 'expiry' }), 'alice');
    const due = (await store.sessions.dueForExpiry(new Date(), 1000)).map((s) => s.id);
    expect(due).toContain(past.id);
    expect(due).not.toContain(future.id);
  });

  it.skipIf(!adapter.available)('lists newest first within the scope, filters, and pages by position without gaps', async () => {
    const base = Date.now() - 1_000_000;
    const created: SessionRecord[] = [];
    for (let i = 0; i < 7; i++) {
      created.push(await store.sessions.create(newSession({ tenant: 'listing', userId: i % 2 ? 'bob' : 'alice', createdAt: new Date(base + i * 1000) }), 'x'));
    }
    const newestFirst = [...created].reverse().map((s) => s.id);
    const seen: string[] = [];
    let after: { createdAtMillis: number; id: string } | undefined;
    for (;;) {
      const page = await store.sessions.list({ kind: 'tenant', tenant: 'listing' }, {}, 3, after);
      expect(page.totalCount).toBe(7);
      seen.push(...page.items.map((s) => s.id));
      if (!page.hasNextPage) break;
      const last = page.items[page.items.length - 1];
      after = { createdAtMillis: last.createdAt.getTime(), id: last.id };
    }
    expect(seen).toEqual(newestFirst);
    const bobs = await store.sessions.list({ kind: 'own', tenant: 'listing', userId: 'bob' }, {}, 100);
    expect(bobs.items.map((s) => s.userId)).toEqual(['bob', 'bob', 'bob']);
    const window = await store.sessions.list({ kind: 'all' }, { tenant: 'listing', from: new Date(base + 1500), to: new Date(base + 3500) }, 100);
    expect(window.items.map((s) => s.id)).toEqual([created[3].id, created[2].id]);
    const none = await store.sessions.list({ kind: 'tenant', tenant: 'listing' }, { tenant: 'elsewhere' }, 100);
    expect(none).toEqual({ items: [], hasNextPage: false, totalCount: 0 });
  });

  it.skipIf(!adapter.available)('keeps one gap-free chain per tenant while many sessions decide at once from two store instances', async () => {
    const second = await again();
    others.push(second);
    const stores = [store, second];
    const sessions = await Promise.all(
      Array.from({ length: 30 }, (_, i) => stores[i % 2].sessions.create(newSession({ tenant: 'busy', userId: `user-${i}` }), `user-${i}`)),
    );
    await Promise.all(
      sessions.map((session, i) =>
        stores[(i + 1) % 2].sessions.recordProgress(
          session.id,
          { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome: { status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 1 } } },
          new Date(),
        ),
      ),
    );
    // The same results observed again by the other instance add nothing.
    const repeated = await Promise.all(
      sessions.map((session, i) =>
        stores[i % 2].sessions.recordProgress(
          session.id,
          { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome: { status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 1 } } },
          new Date(),
        ),
      ),
    );
    expect(repeated.filter((transition) => transition.newDecision)).toEqual([]);
    const events = await store.audit.chainSlice('busy', 0, 1000);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    const report = await new AuditService(store.audit, { seal: sealing.seal }).verifyChain(admin, 'busy');
    expect(report).toMatchObject({ tenant: 'busy', valid: true, checked: 90 });
    expect(report.reason).toBeUndefined();
    // Appends from both stores took turns on the head; the latest checkpoint is the first append's.
    expect(report.latestCheckpoint?.sequence).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!adapter.available)('grants a poll lease to one owner at a time, renews it for that owner, and lets another take over once it runs out', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'leases' }), 'alice');
    const t = 1_000_000;
    expect(await store.sessions.tryLease(session.id, 'instance-a', t, 1000)).toBe(true);
    expect(await store.sessions.tryLease(session.id, 'instance-b', t + 500, 1000)).toBe(false);
    expect(await store.sessions.tryLease(session.id, 'instance-a', t + 900, 1000)).toBe(true); // renewed until t + 1900
    expect(await store.sessions.tryLease(session.id, 'instance-b', t + 1500, 1000)).toBe(false);
    expect(await store.sessions.tryLease(session.id, 'instance-b', t + 1900, 1000)).toBe(true); // a's lease ran out
    await store.sessions.releaseLeases('instance-b');
    expect(await store.sessions.tryLease(session.id, 'instance-c', t + 2000, 1000)).toBe(true);
  });

  it.skipIf(!adapter.available)('drops the poll lease of a session once it is decided', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'leases' }), 'alice');
    const now = Date.now();
    expect(await store.sessions.tryLease(session.id, 'instance-a', now, 60_000)).toBe(true);
    await store.sessions.recordProgress(
      session.id,
      { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome: { status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 1 } } },
      new Date(now),
    );
    expect(await store.sessions.tryLease(session.id, 'instance-b', now + 1, 60_000)).toBe(true);
  });

  it.skipIf(!adapter.available)('lists audit events newest first, scoped and filtered, by position', async () => {
    const session = await store.sessions.create(newSession({ tenant: 'audit-list', userId: 'carol' }), 'carol');
    await store.sessions.reportCompletion(session.id, 'carol', new Date());
    const page = await store.audit.list({ kind: 'tenant', tenant: 'audit-list' }, {}, 1);
    expect(page.totalCount).toBe(2);
    expect(page.items[0].action).toBe('COMPLETION_REPORTED');
    expect(page.hasNextPage).toBe(true);
    const next = await store.audit.list({ kind: 'tenant', tenant: 'audit-list' }, {}, 1, page.items[0].position);
    expect(next.items.map((event) => event.action)).toEqual(['SESSION_STARTED']);
    const filtered = await store.audit.list({ kind: 'all' }, { userId: 'carol', actions: ['SESSION_STARTED'] }, 10);
    expect(filtered.items.map((event) => [event.tenant, event.action])).toEqual([['audit-list', 'SESSION_STARTED']]);
    expect(await store.audit.head('audit-list')).toEqual({ sequence: 2, hash: page.items[0].hash, mac: sealing.seal.headMac('audit-list', { sequence: 2, hash: page.items[0].hash }) });
    expect(await store.audit.tenants()).toContain('audit-list');
  });

  it.skipIf(!adapter.available)("an audit page's totalCount is exactly the number of events its scope and filter match, before and after more are appended, here or by another instance", async () => {
    const matching = async (scope: Parameters<Store['audit']['list']>[0], filter: Parameters<Store['audit']['list']>[1]) => {
      let count = 0;
      let after: number | undefined;
      for (;;) {
        const page = await store.audit.list(scope, filter, 100, after);
        count += page.items.length;
        if (!page.hasNextPage) return count;
        after = page.items[page.items.length - 1].position;
      }
    };
    const cases: [string, Parameters<Store['audit']['list']>[0], Parameters<Store['audit']['list']>[1]][] = [
      ['a tenant, unfiltered', { kind: 'tenant', tenant: 'count-a' }, {}],
      ['a tenant, an empty action list', { kind: 'tenant', tenant: 'count-a' }, { actions: [] }],
      ['a tenant, named again in the filter', { kind: 'tenant', tenant: 'count-a' }, { tenant: 'count-a' }],
      ['a tenant, another tenant in the filter', { kind: 'tenant', tenant: 'count-a' }, { tenant: 'count-b' }],
      ['a tenant with no events', { kind: 'tenant', tenant: 'count-none' }, {}],
      ['every tenant, one in the filter', { kind: 'all' }, { tenant: 'count-b' }],
      ['every tenant, unfiltered', { kind: 'all' }, {}],
      ['a tenant, by action', { kind: 'tenant', tenant: 'count-a' }, { actions: ['DECISION_REACHED', 'SESSION_STARTED'] }],
      ['a tenant, by user', { kind: 'tenant', tenant: 'count-a' }, { userId: 'dave' }],
      ['a tenant, by time', { kind: 'tenant', tenant: 'count-a' }, { from: new Date(Date.now() - 60_000) }],
      ['every tenant, by user', { kind: 'all' }, { userId: 'erin' }],
      ['one user’s own, by action', { kind: 'own', tenant: 'count-a', userId: 'dave' }, { actions: ['SESSION_STARTED'] }],
      ['another user’s own, by action', { kind: 'own', tenant: 'count-a', userId: 'erin' }, { actions: ['SESSION_STARTED'] }],
    ];
    const second = await again();
    others.push(second);
    const decide = async (writer: Store, tenant: string, userId: string) => {
      const session = await writer.sessions.create(newSession({ tenant, userId }), userId);
      await writer.sessions.reportCompletion(session.id, userId, new Date());
      await writer.sessions.recordProgress(
        session.id,
        { faceStatus: 'SUCCEEDED', attempts: [realFace(1)], outcome: { status: 'SUCCEEDED', decision: { verdict: 'PASS', attemptId: 1 } } },
        new Date(),
      );
      return session;
    };
    // Counts kept by `store` stay exact whether the next events come through it or through another instance.
    for (const [round, writer] of [store, second, store].entries()) {
      await decide(writer, 'count-a', 'dave');
      await decide(writer, 'count-a', 'erin');
      await decide(writer, 'count-b', 'erin');
      for (const [what, scope, filter] of cases) {
        expect((await store.audit.list(scope, filter, 1)).totalCount, `${what}, round ${round}`).toBe(await matching(scope, filter));
      }
    }
    expect((await store.audit.list({ kind: 'tenant', tenant: 'count-a' }, {}, 1)).totalCount).toBe(24);
    expect((await store.audit.list({ kind: 'tenant', tenant: 'count-a' }, { actions: ['DECISION_REACHED'] }, 1)).totalCount).toBe(6);
    const session = (await store.audit.list({ kind: 'tenant', tenant: 'count-b' }, {}, 1)).items[0].sessionId;
    expect((await store.audit.list({ kind: 'all' }, { sessionId: session }, 1)).totalCount).toBe(4);
  });

  it.skipIf(!adapter.available)('answers batches of every size, more shapes than statements it keeps prepared', async () => {
    const sessions = await Promise.all(Array.from({ length: 300 }, () => store.sessions.create(newSession({ tenant: 'batches' }), 'alice')));
    for (let size = 1; size <= sessions.length; size += 1) {
      const ids = sessions.slice(0, size).map((session) => session.id);
      expect((await store.sessions.findByIds(ids)).map((found) => found?.id)).toEqual(ids);
    }
    expect((await store.sessions.findByIds(sessions.slice(0, 2).map((session) => session.id))).length).toBe(2);
  });
});
