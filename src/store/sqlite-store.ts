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
import type { AuditAction, AuditDraft, AuditEventRecord } from '../audit/audit.model';
import { SYSTEM_ACTOR } from '../audit/audit.model';
import { chainHash, GENESIS_HASH } from '../audit/chain';
import type { ReadScope } from '../auth/viewer';
import type { FaceAttempt, FaceRectangle } from '../face/face.port';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord, Verdict } from '../sessions/session.model';
import { FINAL_STATUSES } from '../sessions/session.model';
import { sqliteMigrations, type Migration } from './migrations/sqlite';
import type {
  AuditFilter,
  AuditRepository,
  Page,
  Progress,
  SessionFilter,
  SessionPosition,
  SessionRepository,
  Store,
  Transition,
} from './store';

type Row = Record<string, unknown>;
type Params = Record<string, unknown>;

export function openSqliteStore(file: string): Store {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  runMigrations(db, sqliteMigrations);
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

  constructor(private readonly db: Database.Database) {
    const chain = new AuditChainWriter(db);
    this.sessions = new SqliteSessionRepository(db, chain);
    this.audit = new SqliteAuditRepository(db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
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
    let { sequence, hash } = head;
    for (const draft of drafts) {
      const event = { ...draft, id: randomUUID(), tenant, sequence: sequence + 1, at };
      const next = chainHash(hash, event);
      this.insert.run({
        ...event,
        at: at.getTime(),
        attemptId: draft.attemptId ?? null,
        verdict: draft.verdict ?? null,
        digest: draft.digest ?? null,
        previousHash: hash,
        hash: next,
      });
      sequence += 1;
      hash = next;
    }
    this.advance.run(tenant, sequence, hash);
  }
}

class SqliteSessionRepository implements SessionRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
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
      insertAttempt: db.prepare(`
        INSERT INTO attempts (session_id, attempt_id, status, liveness_decision, face_rectangle, digest, session_image_id,
                              is_identical, match_confidence, error_code, error_message, recorded_at)
        VALUES (@sessionId, @attemptId, @status, @livenessDecision, @faceRectangle, @digest, @sessionImageId,
                @isIdentical, @matchConfidence, @errorCode, @errorMessage, @recordedAt)
        ON CONFLICT (session_id, attempt_id) DO NOTHING`),
      insertDecision: db.prepare(`
        INSERT INTO decisions (session_id, verdict, liveness_decision, is_identical, match_confidence, attempt_id, decided_at)
        VALUES (@sessionId, @verdict, @livenessDecision, @isIdentical, @matchConfidence, @attemptId, @decidedAt)
        ON CONFLICT (session_id) DO NOTHING`),
      decisionById: db.prepare('SELECT * FROM decisions WHERE session_id = ?'),
      awaitingResult: db.prepare(`SELECT * FROM sessions WHERE decided = 0 AND completion_reported_at IS NOT NULL
                                  AND status NOT IN ('DELETED', 'EXPIRED') ORDER BY completion_reported_at`),
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
    const where: string[] = [];
    const params: Params = {};
    if (scope.kind !== 'all') {
      where.push('tenant = @scopeTenant');
      params.scopeTenant = scope.tenant;
    }
    if (scope.kind === 'own') {
      where.push('user_id = @scopeUser');
      params.scopeUser = scope.userId;
    }
    if (filter.tenant !== undefined) {
      where.push('tenant = @tenant');
      params.tenant = filter.tenant;
    }
    if (filter.userId !== undefined) {
      where.push('user_id = @userId');
      params.userId = filter.userId;
    }
    if (filter.kind !== undefined) {
      where.push('kind = @kind');
      params.kind = filter.kind;
    }
    if (filter.statuses && filter.statuses.length > 0) {
      where.push(`status IN (${filter.statuses.map((_, i) => `@status${i}`).join(', ')})`);
      filter.statuses.forEach((status, i) => (params[`status${i}`] = status));
    }
    if (filter.from) {
      where.push('created_at >= @from');
      params.from = filter.from.getTime();
    }
    if (filter.to) {
      where.push('created_at < @to');
      params.to = filter.to.getTime();
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const totalCount = this.db.prepare(`SELECT count(*) FROM sessions ${whereSql}`).pluck().get(params) as number;

    const pageWhere = [...where];
    if (after) {
      pageWhere.push('(created_at < @afterCreated OR (created_at = @afterCreated AND id < @afterId))');
      params.afterCreated = after.createdAtMillis;
      params.afterId = after.id;
    }
    const rows = this.db
      .prepare(`SELECT * FROM sessions ${pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT @limit`)
      .all({ ...params, limit: first + 1 }) as Row[];
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
        if (before.status === 'DELETED' || before.status === 'EXPIRED') return { session: before };
        const events: AuditDraft[] = [];
        for (const attempt of progress.attempts) {
          // An attempt still running may change; it is stored once it has finished.
          if (attempt.status !== 'SUCCEEDED' && attempt.status !== 'FAILED') continue;
          if (this.statements.insertAttempt.run(attemptParams(id, attempt, at)).changes > 0) {
            events.push({ action: 'ATTEMPT_RECORDED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: attempt.attemptId, digest: attempt.digest });
          }
        }
        const alreadyDecided = this.statements.decisionById.get(id) !== undefined;
        if (!alreadyDecided && !FINAL_STATUSES.has(before.status)) {
          this.statements.setStatus.run(progress.faceStatus, progress.modelVersion ?? null, at.getTime(), id);
        }
        let newDecision: DecisionRecord | undefined;
        if (progress.outcome && !alreadyDecided) {
          newDecision = { ...progress.outcome.decision, sessionId: id, decidedAt: at };
          this.insertDecision(newDecision);
          this.statements.markDecided.run(progress.outcome.status, at.getTime(), id);
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
        this.chain.append(before.tenant, events, at);
        return { session: this.require(id), newDecision };
      })
      .immediate();
  }

  async attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]> {
    const rows = this.selectIn('SELECT * FROM attempts WHERE session_id IN', sessionIds, 'ORDER BY attempt_id');
    const bySession = new Map<string, AttemptRecord[]>();
    for (const row of rows) {
      const list = bySession.get(row.session_id as string) ?? [];
      list.push(toAttempt(row));
      bySession.set(row.session_id as string, list);
    }
    return sessionIds.map((id) => bySession.get(id) ?? []);
  }

  async decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]> {
    const rows = this.selectIn('SELECT * FROM decisions WHERE session_id IN', sessionIds);
    const bySession = new Map(rows.map((row) => [row.session_id as string, toDecision(row)]));
    return sessionIds.map((id) => bySession.get(id));
  }

  async awaitingResult(): Promise<SessionRecord[]> {
    return (this.statements.awaitingResult.all() as Row[]).map(toSession);
  }

  async dueForExpiry(now: Date, limit: number): Promise<SessionRecord[]> {
    return (this.statements.dueForExpiry.all(now.getTime(), limit) as Row[]).map(toSession);
  }

  private insertDecision(decision: DecisionRecord): void {
    this.statements.insertDecision.run({
      sessionId: decision.sessionId,
      verdict: decision.verdict,
      livenessDecision: decision.livenessDecision ?? null,
      isIdentical: decision.verifyResult ? (decision.verifyResult.isIdentical ? 1 : 0) : null,
      matchConfidence: decision.verifyResult?.matchConfidence ?? null,
      attemptId: decision.attemptId ?? null,
      decidedAt: decision.decidedAt.getTime(),
    });
  }

  private require(id: string): SessionRecord {
    const row = this.statements.byId.get(id) as Row | undefined;
    if (!row) throw new Error(`session ${id} is not in the store`);
    return toSession(row);
  }

  /** `SELECT … IN (…)` for a batch of keys (SQLite allows 32,766 parameters; batches are far smaller). */
  private selectIn(sql: string, keys: readonly string[], suffix = ''): Row[] {
    if (keys.length === 0) return [];
    return this.db.prepare(`${sql} (${keys.map(() => '?').join(', ')}) ${suffix}`).all(...keys) as Row[];
  }
}

class SqliteAuditRepository implements AuditRepository {
  constructor(private readonly db: Database.Database) {}

  async list(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Page<AuditEventRecord & { position: number }>> {
    const where: string[] = [];
    const params: Params = {};
    if (scope.kind !== 'all') {
      where.push('tenant = @scopeTenant');
      params.scopeTenant = scope.tenant;
    }
    if (scope.kind === 'own') {
      where.push('user_id = @scopeUser');
      params.scopeUser = scope.userId;
    }
    const equal: [keyof AuditFilter, string][] = [
      ['tenant', 'tenant'],
      ['sessionId', 'session_id'],
      ['userId', 'user_id'],
    ];
    for (const [key, column] of equal) {
      if (filter[key] !== undefined) {
        where.push(`${column} = @${key}`);
        params[key] = filter[key];
      }
    }
    if (filter.actions && filter.actions.length > 0) {
      where.push(`action IN (${filter.actions.map((_, i) => `@action${i}`).join(', ')})`);
      filter.actions.forEach((action, i) => (params[`action${i}`] = action));
    }
    if (filter.from) {
      where.push('at >= @from');
      params.from = filter.from.getTime();
    }
    if (filter.to) {
      where.push('at < @to');
      params.to = filter.to.getTime();
    }
    const totalCount = this.db.prepare(`SELECT count(*) FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`).pluck().get(params) as number;
    if (after !== undefined) {
      where.push('position < @after');
      params.after = after;
    }
    const rows = this.db
      .prepare(`SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY position DESC LIMIT @limit`)
      .all({ ...params, limit: first + 1 }) as Row[];
    return {
      items: rows.slice(0, first).map((row) => ({ ...toAuditEvent(row), position: row.position as number })),
      hasNextPage: rows.length > first,
      totalCount,
    };
  }

  async chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM audit_events WHERE tenant = ? AND sequence > ? ORDER BY sequence LIMIT ?')
      .all(tenant, afterSequence, limit) as Row[];
    return rows.map(toAuditEvent);
  }

  async chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    // Both walk the (tenant, sequence) index in order and stop at the first match: nothing is loaded.
    const first = this.db
      .prepare(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.from ? 'AND at >= @from' : ''} ORDER BY sequence LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.from && { from: window.from.getTime() }) }) as number | undefined;
    const last = this.db
      .prepare(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.to ? 'AND at < @to' : ''} ORDER BY sequence DESC LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.to && { to: window.to.getTime() }) }) as number | undefined;
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }

  async tenants(): Promise<string[]> {
    return this.db.prepare('SELECT tenant FROM audit_heads ORDER BY tenant').pluck().all() as string[];
  }

  async head(tenant: string): Promise<{ sequence: number; hash: string } | undefined> {
    return this.db.prepare('SELECT sequence, hash FROM audit_heads WHERE tenant = ?').get(tenant) as { sequence: number; hash: string } | undefined;
  }
}

function attemptParams(sessionId: string, attempt: FaceAttempt, at: Date): Params {
  return {
    sessionId,
    attemptId: attempt.attemptId,
    status: attempt.status,
    livenessDecision: attempt.livenessDecision ?? null,
    faceRectangle: attempt.faceRectangle ? JSON.stringify(attempt.faceRectangle) : null,
    digest: attempt.digest ?? null,
    sessionImageId: attempt.sessionImageId ?? null,
    isIdentical: attempt.verifyResult ? (attempt.verifyResult.isIdentical ? 1 : 0) : null,
    matchConfidence: attempt.verifyResult?.matchConfidence ?? null,
    errorCode: attempt.error?.code ?? null,
    errorMessage: attempt.error?.message ?? null,
    recordedAt: at.getTime(),
  };
}

const optional = <T>(value: unknown): T | undefined => (value === null || value === undefined ? undefined : (value as T));

function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    kind: row.kind as SessionRecord['kind'],
    status: row.status as SessionRecord['status'],
    operationMode: row.operation_mode as SessionRecord['operationMode'],
    userId: row.user_id as string,
    tenant: row.tenant as string,
    deviceCorrelationId: row.device_correlation_id as string,
    createdAt: new Date(row.created_at as number),
    expiresAt: new Date(row.expires_at as number),
    modelVersion: optional(row.model_version),
    verifyReference: row.verify_reference ? JSON.parse(row.verify_reference as string) : undefined,
    enableSessionImage: row.enable_session_image === 1,
    completionReportedAt: row.completion_reported_at === null ? undefined : new Date(row.completion_reported_at as number),
  };
}

function toAttempt(row: Row): AttemptRecord {
  return {
    sessionId: row.session_id as string,
    attemptId: row.attempt_id as number,
    status: row.status as AttemptRecord['status'],
    livenessDecision: optional(row.liveness_decision),
    faceRectangle: row.face_rectangle ? (JSON.parse(row.face_rectangle as string) as FaceRectangle) : undefined,
    digest: optional(row.digest),
    sessionImageId: optional(row.session_image_id),
    verifyResult: row.is_identical === null ? undefined : { isIdentical: row.is_identical === 1, matchConfidence: row.match_confidence as number },
    error: row.error_code === null ? undefined : { code: row.error_code as string, message: (row.error_message as string | null) ?? '' },
    recordedAt: new Date(row.recorded_at as number),
  };
}

function toDecision(row: Row): DecisionRecord {
  return {
    sessionId: row.session_id as string,
    verdict: row.verdict as Verdict,
    livenessDecision: optional(row.liveness_decision),
    verifyResult: row.is_identical === null ? undefined : { isIdentical: row.is_identical === 1, matchConfidence: row.match_confidence as number },
    attemptId: optional(row.attempt_id),
    decidedAt: new Date(row.decided_at as number),
  };
}

function toAuditEvent(row: Row): AuditEventRecord {
  return {
    id: row.id as string,
    tenant: row.tenant as string,
    sequence: row.sequence as number,
    at: new Date(row.at as number),
    action: row.action as AuditAction,
    actor: row.actor as string,
    sessionId: row.session_id as string,
    userId: row.user_id as string,
    attemptId: optional(row.attempt_id),
    verdict: optional(row.verdict),
    digest: optional(row.digest),
    previousHash: row.previous_hash as string,
    hash: row.hash as string,
  };
}
