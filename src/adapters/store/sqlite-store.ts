/**
 * The embedded store: one SQLite file through better-sqlite3 (WAL, foreign keys, prepared
 * statements). better-sqlite3 is synchronous, so each transition below is one `BEGIN IMMEDIATE`
 * transaction that cannot interleave with another in this process, and that takes the write lock up
 * front so two processes sharing the file queue instead of deadlocking.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AuditDraft, AuditEventRecord } from '../../domain/audit/audit.model';
import { SYSTEM_ACTOR } from '../../domain/audit/audit.model';
import { chainEvents, GENESIS_HASH } from '../../domain/audit/chain';
import type { ReadScope } from '../../domain/viewer';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord } from '../../domain/sessions/session.model';
import { FINAL_STATUSES } from '../../domain/sessions/session.model';
import { migrationsFor, SQLITE, type Migration } from './migrations';
import { SqliteIdempotencyRepository } from './sqlite-idempotency';
import {
  ATTEMPT_COLUMNS,
  attemptValues,
  auditConditions,
  AuditCountCache,
  bySession,
  auditCountSource,
  DECISION_COLUMNS,
  decisionValues,
  sessionConditions,
  toAuditEvent,
  toDecision,
  toSession,
  where,
  type AuditCountSource,
  type Bind,
  type Row,
} from './rows';
import type {
  AuditFilter,
  AuditRepository,
  IdempotencyRepository,
  Page,
  Progress,
  SessionFilter,
  SessionPosition,
  SessionRepository,
  Store,
  Transition,
} from '../../domain/ports/store';


export function openSqliteStore(file: string): Store {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  runMigrations(db, migrationsFor(SQLITE));
  return new SqliteStore(db);
}

function runMigrations(db: Database.Database, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const apply = db.transaction((migration: Migration) => {
    db.exec(migration.sql);
    db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)').run(
      migration.version,
      migration.description,
      Date.now(),
    );
  });
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const migration of migrations) {
    if (!applied.has(migration.version)) apply.immediate(migration);
  }
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly idempotency: IdempotencyRepository;

  constructor(private readonly db: Database.Database) {
    const chain = new AuditChainWriter(db);
    const statements = new StatementCache(db);
    this.sessions = new SqliteSessionRepository(db, chain, statements);
    this.audit = new SqliteAuditRepository(statements);
    this.idempotency = new SqliteIdempotencyRepository(db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * Statements whose SQL is built per call (list filters, `IN (…)` batches of any size, audit reads),
 * prepared once per SQL text instead of at every call: `prepare` was ~5% of the busy CPU of a
 * `session(id)` load (issue 6). The SQL texts are few (one per filter combination and batch size),
 * and at most `maxEntries` are kept, least recently used out first. A statement whose SQL counts is
 * always plucked, one that reads rows never: the text tells them apart.
 */
class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly maxEntries = 256,
  ) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql);
    } else {
      statement = this.db.prepare(sql);
      if (this.statements.size >= this.maxEntries) this.statements.delete(this.statements.keys().next().value as string);
    }
    this.statements.set(sql, statement);
    return statement;
  }
}

/** Appends events to a tenant's chain; only ever called inside a write transaction. */
class AuditChainWriter {
  private readonly head;
  private readonly insert;
  private readonly advance;

  constructor(db: Database.Database) {
    this.head = db.prepare('SELECT sequence, hash FROM audit_heads WHERE tenant = ?');
    this.insert = db.prepare(`
      INSERT INTO audit_events (id, tenant, sequence, at, action, actor, session_id, user_id, attempt_id, verdict, digest, previous_hash, hash)
      VALUES (@id, @tenant, @sequence, @at, @action, @actor, @sessionId, @userId, @attemptId, @verdict, @digest, @previousHash, @hash)`);
    this.advance = db.prepare(`
      INSERT INTO audit_heads (tenant, sequence, hash) VALUES (?, ?, ?)
      ON CONFLICT (tenant) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash`);
  }

  append(tenant: string, drafts: AuditDraft[], at: Date): void {
    if (drafts.length === 0) return;
    const head = (this.head.get(tenant) as { sequence: number; hash: string } | undefined) ?? { sequence: 0, hash: GENESIS_HASH };
    const events = chainEvents(tenant, head, drafts, at, randomUUID);
    for (const event of events) {
      this.insert.run({
        ...event,
        at: at.getTime(),
        attemptId: event.attemptId ?? null,
        verdict: event.verdict ?? null,
        digest: event.digest ?? null,
      });
    }
    const last = events[events.length - 1];
    this.advance.run(tenant, last.sequence, last.hash);
  }
}

class SqliteSessionRepository implements SessionRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
    private readonly cached: StatementCache,
  ) {
    this.statements = {
      insert: db.prepare(`
        INSERT INTO sessions (id, kind, status, operation_mode, user_id, tenant, device_correlation_id, created_at, expires_at,
                              model_version, verify_reference, enable_session_image, updated_at)
        VALUES (@id, @kind, @status, @operationMode, @userId, @tenant, @deviceCorrelationId, @createdAt, @expiresAt,
                @modelVersion, @verifyReference, @enableSessionImage, @createdAt)`),
      byId: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      reportCompletion: db.prepare('UPDATE sessions SET completion_reported_at = ?, updated_at = ? WHERE id = ? AND completion_reported_at IS NULL'),
      setStatus: db.prepare('UPDATE sessions SET status = ?, model_version = coalesce(?, model_version), updated_at = ? WHERE id = ?'),
      markDecided: db.prepare('UPDATE sessions SET decided = 1, status = ?, updated_at = ? WHERE id = ?'),
      // A decided session is polled no more: its lease goes with the decision.
      dropLease: db.prepare('DELETE FROM session_leases WHERE session_id = ?'),
      insertAttempt: db.prepare(`INSERT INTO attempts (${ATTEMPT_COLUMNS}) VALUES (${questionMarks(12)}) ON CONFLICT (session_id, attempt_id) DO NOTHING`),
      insertDecision: db.prepare(`INSERT INTO decisions (${DECISION_COLUMNS}) VALUES (${questionMarks(7)}) ON CONFLICT (session_id) DO NOTHING`),
      decisionById: db.prepare('SELECT * FROM decisions WHERE session_id = ?'),
      awaitingResult: db.prepare(`SELECT * FROM sessions WHERE decided = 0 AND completion_reported_at IS NOT NULL
                                  AND status NOT IN ('DELETED', 'EXPIRED') ORDER BY completion_reported_at`),
      lease: db.prepare(`
        INSERT INTO session_leases (session_id, owner, expires_at) VALUES (@sessionId, @owner, @until)
        ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
          WHERE session_leases.owner = excluded.owner OR session_leases.expires_at <= @now
        RETURNING owner`),
      releaseLeases: db.prepare('DELETE FROM session_leases WHERE owner = ?'),
      dueForExpiry: db.prepare('SELECT * FROM sessions WHERE decided = 0 AND expires_at <= ? ORDER BY expires_at LIMIT ?'),
    };
  }

  async create(session: SessionRecord, actor: string): Promise<SessionRecord> {
    this.db
      .transaction(() => {
        this.statements.insert.run({
          ...session,
          createdAt: session.createdAt.getTime(),
          expiresAt: session.expiresAt.getTime(),
          modelVersion: session.modelVersion ?? null,
          verifyReference: session.verifyReference ? JSON.stringify(session.verifyReference) : null,
          enableSessionImage: session.enableSessionImage ? 1 : 0,
        });
        this.chain.append(session.tenant, [{ action: 'SESSION_STARTED', actor, sessionId: session.id, userId: session.userId }], session.createdAt);
      })
      .immediate();
    return session;
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    const row = this.statements.byId.get(id) as Row | undefined;
    return row && toSession(row);
  }

  async findByIds(ids: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    const rows = this.selectIn('SELECT * FROM sessions WHERE id IN', ids);
    const byId = new Map(rows.map((row) => [row.id as string, toSession(row)]));
    return ids.map((id) => byId.get(id));
  }

  async list(scope: ReadScope, filter: SessionFilter, first: number, after?: SessionPosition): Promise<Page<SessionRecord>> {
    const { bind, params } = namedBinder();
    const conditions = sessionConditions(scope, filter, bind);
    const totalCount = this.cached.get(`SELECT count(*) FROM sessions ${where(conditions)}`).pluck().get(params) as number;
    if (after) {
      const created = bind(after.createdAtMillis);
      conditions.push(`(created_at < ${created} OR (created_at = ${created} AND id < ${bind(after.id)}))`);
    }
    const rows = this.cached.get(`SELECT * FROM sessions ${where(conditions)} ORDER BY created_at DESC, id DESC LIMIT ${bind(first + 1)}`).all(params) as Row[];
    return { items: rows.slice(0, first).map(toSession), hasNextPage: rows.length > first, totalCount };
  }

  async reportCompletion(id: string, actor: string, at: Date): Promise<SessionRecord> {
    return this.db
      .transaction(() => {
        const session = this.require(id);
        const changed = this.statements.reportCompletion.run(at.getTime(), at.getTime(), id).changes > 0;
        if (changed) {
          this.chain.append(session.tenant, [{ action: 'COMPLETION_REPORTED', actor, sessionId: id, userId: session.userId }], at);
        }
        return this.require(id);
      })
      .immediate();
  }

  async recordProgress(id: string, progress: Progress, at: Date): Promise<Transition> {
    return this.db
      .transaction((): Transition => {
        const before = this.require(id);
        // Decided (or deleted, or expired): the attempts the decision rests on are all it keeps.
        if (FINAL_STATUSES.has(before.status) || this.statements.decisionById.get(id) !== undefined) return { session: before };
        const events: AuditDraft[] = [];
        for (const attempt of progress.attempts) {
          // An attempt still running may change; it is stored once it has finished.
          if (attempt.status !== 'SUCCEEDED' && attempt.status !== 'FAILED') continue;
          if (this.statements.insertAttempt.run(...attemptValues(id, attempt, at, sqliteBool)).changes > 0) {
            events.push({ action: 'ATTEMPT_RECORDED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: attempt.attemptId, digest: attempt.digest });
          }
        }
        this.statements.setStatus.run(progress.faceStatus, progress.modelVersion ?? null, at.getTime(), id);
        let newDecision: DecisionRecord | undefined;
        if (progress.outcome) {
          newDecision = { ...progress.outcome.decision, sessionId: id, decidedAt: at };
          this.insertDecision(newDecision);
          this.statements.markDecided.run(progress.outcome.status, at.getTime(), id);
          this.statements.dropLease.run(id);
          if (progress.outcome.status === 'EXPIRED') {
            events.push({ action: 'SESSION_EXPIRED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId });
          }
          events.push({ action: 'DECISION_REACHED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: newDecision.attemptId, verdict: newDecision.verdict });
        }
        this.chain.append(before.tenant, events, at);
        return { session: this.require(id), newDecision };
      })
      .immediate();
  }

  async markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition> {
    return this.db
      .transaction((): Transition => {
        const before = this.require(id);
        if (before.status === 'DELETED') return { session: before };
        const events: AuditDraft[] = [{ action: 'SESSION_DELETED', actor, sessionId: id, userId: before.userId }];
        let newDecision: DecisionRecord | undefined;
        if (this.statements.decisionById.get(id) === undefined) {
          newDecision = { ...decisionIfUndecided, sessionId: id, decidedAt: at };
          this.insertDecision(newDecision);
          events.push({ action: 'DECISION_REACHED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: newDecision.attemptId, verdict: newDecision.verdict });
        }
        this.statements.markDecided.run('DELETED', at.getTime(), id);
        this.statements.dropLease.run(id);
        this.chain.append(before.tenant, events, at);
        return { session: this.require(id), newDecision };
      })
      .immediate();
  }

  async attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]> {
    return bySession(sessionIds, this.selectIn('SELECT * FROM attempts WHERE session_id IN', sessionIds, 'ORDER BY attempt_id'));
  }

  async decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]> {
    const decisions = new Map(this.selectIn('SELECT * FROM decisions WHERE session_id IN', sessionIds).map((row) => [row.session_id as string, toDecision(row)]));
    return sessionIds.map((id) => decisions.get(id));
  }

  async awaitingResult(): Promise<SessionRecord[]> {
    return (this.statements.awaitingResult.all() as Row[]).map(toSession);
  }

  async tryLease(sessionId: string, owner: string, nowMillis: number, leaseMillis: number): Promise<boolean> {
    const granted = this.statements.lease.get({ sessionId, owner, now: nowMillis, until: nowMillis + leaseMillis });
    return granted !== undefined;
  }

  async releaseLeases(owner: string): Promise<void> {
    this.statements.releaseLeases.run(owner);
  }

  async dueForExpiry(now: Date, limit: number): Promise<SessionRecord[]> {
    return (this.statements.dueForExpiry.all(now.getTime(), limit) as Row[]).map(toSession);
  }

  private insertDecision(decision: DecisionRecord): void {
    this.statements.insertDecision.run(...decisionValues(decision, sqliteBool));
  }

  private require(id: string): SessionRecord {
    const row = this.statements.byId.get(id) as Row | undefined;
    if (!row) throw new Error(`session ${id} is not in the store`);
    return toSession(row);
  }

  /** `SELECT … IN (…)` for a batch of keys (SQLite allows 32,766 parameters; batches are far smaller). */
  private selectIn(sql: string, keys: readonly string[], suffix = ''): Row[] {
    if (keys.length === 0) return [];
    return this.cached.get(`${sql} (${keys.map(() => '?').join(', ')}) ${suffix}`).all(...keys) as Row[];
  }
}

class SqliteAuditRepository implements AuditRepository {
  private readonly counts = new AuditCountCache();

  constructor(private readonly cached: StatementCache) {}

  async list(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Page<AuditEventRecord & { position: number }>> {
    const { bind, params } = namedBinder();
    const conditions = auditConditions(scope, filter, bind);
    const totalCount = await this.count(auditCountSource(scope, filter), scope, filter, conditions, params);
    if (after !== undefined) conditions.push(`position < ${bind(after)}`);
    const rows = this.cached.get(`SELECT * FROM audit_events ${where(conditions)} ORDER BY position DESC LIMIT ${bind(first + 1)}`).all(params) as Row[];
    return {
      items: rows.slice(0, first).map((row) => ({ ...toAuditEvent(row), position: row.position as number })),
      hasNextPage: rows.length > first,
      totalCount,
    };
  }

  /** The `totalCount` of a page, from where `auditCountSource` says. */
  private async count(source: AuditCountSource, scope: ReadScope, filter: AuditFilter, conditions: string[], params: Record<string, unknown>): Promise<number> {
    const head = (tenant: string) => (this.cached.get('SELECT sequence FROM audit_heads WHERE tenant = ?').pluck().get(tenant) as number | undefined) ?? 0;
    switch (source.kind) {
      case 'none':
        return 0;
      case 'head':
        return head(source.tenant);
      case 'allHeads':
        return this.cached.get('SELECT coalesce(sum(sequence), 0) FROM audit_heads').pluck().get() as number;
      case 'rows': {
        if (source.tenant === undefined) return this.cached.get(`SELECT count(*) FROM audit_events ${where(conditions)}`).pluck().get(params) as number;
        // From scratch, `+sequence` keeps SQLite on the filter's own index (by session, by user) rather
        // than the (tenant, sequence) one, which would walk the whole tenant; since a kept count, that
        // index is the one to use: it reads only the events appended since.
        const fromScratch = this.cached.get(`SELECT count(*) FROM audit_events ${where([...conditions, '+sequence <= @upTo'])}`).pluck();
        const since = this.cached.get(`SELECT count(*) FROM audit_events ${where([...conditions, 'sequence > @after', 'sequence <= @upTo'])}`).pluck();
        const tenant = source.tenant;
        return this.counts.count(tenant, scope, filter, () => head(tenant), (after, upTo) =>
          after === 0 ? (fromScratch.get({ ...params, upTo }) as number) : (since.get({ ...params, after, upTo }) as number),
        );
      }
    }
  }

  async chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    const rows = this.cached.get('SELECT * FROM audit_events WHERE tenant = ? AND sequence > ? ORDER BY sequence LIMIT ?').all(tenant, afterSequence, limit) as Row[];
    return rows.map(toAuditEvent);
  }

  async chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    // Both walk the (tenant, sequence) index in order and stop at the first match: nothing is loaded.
    const first = this.cached
      .get(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.from ? 'AND at >= @from' : ''} ORDER BY sequence LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.from && { from: window.from.getTime() }) }) as number | undefined;
    const last = this.cached
      .get(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.to ? 'AND at < @to' : ''} ORDER BY sequence DESC LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.to && { to: window.to.getTime() }) }) as number | undefined;
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }

  async tenants(): Promise<string[]> {
    return this.cached.get('SELECT tenant FROM audit_heads ORDER BY tenant').pluck().all() as string[];
  }

  async head(tenant: string): Promise<{ sequence: number; hash: string } | undefined> {
    return this.cached.get('SELECT sequence, hash FROM audit_heads WHERE tenant = ?').get(tenant) as { sequence: number; hash: string } | undefined;
  }
}

/** SQLite has no boolean type: 1 and 0. */
const sqliteBool = (value: boolean) => (value ? 1 : 0);
const questionMarks = (count: number) => Array.from({ length: count }, () => '?').join(', ');

/** `@p0, @p1, …` named parameters collected into one object. */
function namedBinder(): { bind: Bind; params: Record<string, unknown> } {
  const params: Record<string, unknown> = {};
  let next = 0;
  return {
    params,
    bind: (value) => {
      const name = `p${next++}`;
      params[name] = value;
      return `@${name}`;
    },
  };
}
