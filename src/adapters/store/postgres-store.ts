/**
 * The store on PostgreSQL (`DATABASE_URL=postgres://…`), for several gateway instances sharing one
 * database. Same interface and meaning as the SQLite store; what differs is how transitions are
 * serialised across processes:
 * - every transition locks its session's row (`SELECT … FOR UPDATE`) first, so two instances
 *   observing the same Face result record one decision;
 * - every audit append locks its tenant's chain head (`audit_heads`, `FOR UPDATE`) in the same
 *   transaction, so concurrent appends queue and never fork or gap the chain;
 * - migrations run under a transaction-level advisory lock, so instances starting together apply
 *   each migration once.
 * Locks are always taken in the order session, then chain head, so transitions cannot deadlock.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AuditDraft, AuditEventRecord } from '../../domain/audit/audit.model';
import { SYSTEM_ACTOR } from '../../domain/audit/audit.model';
import { chainEvents, GENESIS_HASH } from '../../domain/audit/chain';
import type { ReadScope } from '../../domain/viewer';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord } from '../../domain/sessions/session.model';
import { FINAL_STATUSES } from '../../domain/sessions/session.model';
import { PostgresIdempotencyRepository } from './postgres-idempotency';
import { migrationsFor, POSTGRES, type Migration } from './migrations';
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

export interface PostgresStoreOptions {
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/** Any number, so that all instances agree on the lock that guards migrations. */
const MIGRATION_LOCK_ID = 0x6c697665; // "live"
const BIGINT_OID = 20;

type Queryable = Pick<pg.PoolClient, 'query'>;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    // Counts and BIGSERIAL positions fit a JS number long before they overflow.
    types: { getTypeParser: (oid: number, format?: string) => (oid === BIGINT_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) },
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await runMigrations(pool, migrationsFor(POSTGRES));
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresStore(pool);
}

async function runMigrations(pool: pg.Pool, migrations: Migration[]): Promise<void> {
  await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.description,
        Date.now(),
      ]);
    }
  });
}

async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** `$1, $2, …` placeholders collected in order. */
function binder(): { bind: Bind; values: unknown[] } {
  const values: unknown[] = [];
  return { values, bind: (value) => (values.push(value), `$${values.length}`) };
}

const placeholders = (count: number, from = 1) => Array.from({ length: count }, (_, i) => `$${i + from}`).join(', ');
const bool = (value: boolean) => value;

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly idempotency: IdempotencyRepository;
  private closed = false;

  constructor(private readonly pool: pg.Pool) {
    this.sessions = new PostgresSessionRepository(pool);
    this.audit = new PostgresAuditRepository(pool);
    this.idempotency = new PostgresIdempotencyRepository(pool);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Appends to a tenant's chain inside the caller's transaction, holding the tenant's head locked. */
async function appendAudit(client: Queryable, tenant: string, drafts: AuditDraft[], at: Date): Promise<void> {
  if (drafts.length === 0) return;
  await client.query('INSERT INTO audit_heads (tenant, sequence, hash) VALUES ($1, 0, $2) ON CONFLICT (tenant) DO NOTHING', [tenant, GENESIS_HASH]);
  const head = (await client.query<{ sequence: number; hash: string }>('SELECT sequence, hash FROM audit_heads WHERE tenant = $1 FOR UPDATE', [tenant])).rows[0];
  const events = chainEvents(tenant, head, drafts, at, randomUUID);
  for (const event of events) {
    await client.query(
      `INSERT INTO audit_events (id, tenant, sequence, at, action, actor, session_id, user_id, attempt_id, verdict, digest, previous_hash, hash)
       VALUES (${placeholders(13)})`,
      [
        event.id,
        event.tenant,
        event.sequence,
        event.at.getTime(),
        event.action,
        event.actor,
        event.sessionId,
        event.userId,
        event.attemptId ?? null,
        event.verdict ?? null,
        event.digest ?? null,
        event.previousHash,
        event.hash,
      ],
    );
  }
  const last = events[events.length - 1];
  await client.query('UPDATE audit_heads SET sequence = $2, hash = $3 WHERE tenant = $1', [tenant, last.sequence, last.hash]);
}

class PostgresSessionRepository implements SessionRepository {

  constructor(private readonly pool: pg.Pool) {}

  async create(session: SessionRecord, actor: string): Promise<SessionRecord> {
    await transaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO sessions (id, kind, status, operation_mode, user_id, tenant, device_correlation_id, created_at, expires_at,
                               model_version, verify_reference, enable_session_image, updated_at)
         VALUES (${placeholders(12)}, $8)`,
        [
          session.id,
          session.kind,
          session.status,
          session.operationMode,
          session.userId,
          session.tenant,
          session.deviceCorrelationId,
          session.createdAt.getTime(),
          session.expiresAt.getTime(),
          session.modelVersion ?? null,
          session.verifyReference ? JSON.stringify(session.verifyReference) : null,
          session.enableSessionImage,
        ],
      );
      await appendAudit(client, session.tenant, [{ action: 'SESSION_STARTED', actor, sessionId: session.id, userId: session.userId }], session.createdAt);
    });
    return session;
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    const row = (await this.pool.query<Row>('SELECT * FROM sessions WHERE id = $1', [id])).rows[0];
    return row && toSession(row);
  }

  async findByIds(ids: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    const rows = ids.length ? (await this.pool.query<Row>('SELECT * FROM sessions WHERE id = ANY($1)', [ids])).rows : [];
    const byId = new Map(rows.map((row) => [row.id as string, toSession(row)]));
    return ids.map((id) => byId.get(id));
  }

  async list(scope: ReadScope, filter: SessionFilter, first: number, after?: SessionPosition): Promise<Page<SessionRecord>> {
    const { bind, values } = binder();
    const conditions = sessionConditions(scope, filter, bind);
    const totalCount = (await this.pool.query<{ count: number }>(`SELECT count(*) AS count FROM sessions ${where(conditions)}`, values)).rows[0].count;
    if (after) {
      const created = bind(after.createdAtMillis);
      conditions.push(`(created_at < ${created} OR (created_at = ${created} AND id < ${bind(after.id)}))`);
    }
    const rows = (await this.pool.query<Row>(`SELECT * FROM sessions ${where(conditions)} ORDER BY created_at DESC, id DESC LIMIT ${bind(first + 1)}`, values)).rows;
    return { items: rows.slice(0, first).map(toSession), hasNextPage: rows.length > first, totalCount };
  }

  async reportCompletion(id: string, actor: string, at: Date): Promise<SessionRecord> {
    return transaction(this.pool, async (client) => {
      const session = await lockSession(client, id);
      if (session.completionReportedAt === undefined) {
        await client.query('UPDATE sessions SET completion_reported_at = $2, updated_at = $2 WHERE id = $1', [id, at.getTime()]);
        await appendAudit(client, session.tenant, [{ action: 'COMPLETION_REPORTED', actor, sessionId: id, userId: session.userId }], at);
      }
      return requireSession(client, id);
    });
  }

  async recordProgress(id: string, progress: Progress, at: Date): Promise<Transition> {
    return transaction(this.pool, async (client) => {
      const before = await lockSession(client, id);
      // Decided (or deleted, or expired): the attempts the decision rests on are all it keeps.
      if (FINAL_STATUSES.has(before.status) || (await hasDecision(client, id))) return { session: before };
      const events: AuditDraft[] = [];
      for (const attempt of progress.attempts) {
        // An attempt still running may change; it is stored once it has finished.
        if (attempt.status !== 'SUCCEEDED' && attempt.status !== 'FAILED') continue;
        const inserted = await client.query(
          `INSERT INTO attempts (${ATTEMPT_COLUMNS}) VALUES (${placeholders(12)}) ON CONFLICT (session_id, attempt_id) DO NOTHING`,
          attemptValues(id, attempt, at, bool),
        );
        if (inserted.rowCount) {
          events.push({ action: 'ATTEMPT_RECORDED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: attempt.attemptId, digest: attempt.digest });
        }
      }
      await client.query('UPDATE sessions SET status = $2, model_version = coalesce($3, model_version), updated_at = $4 WHERE id = $1', [
        id,
        progress.faceStatus,
        progress.modelVersion ?? null,
        at.getTime(),
      ]);
      let newDecision: DecisionRecord | undefined;
      if (progress.outcome) {
        newDecision = { ...progress.outcome.decision, sessionId: id, decidedAt: at };
        await insertDecision(client, newDecision);
        await markDecided(client, id, progress.outcome.status, at);
        if (progress.outcome.status === 'EXPIRED') {
          events.push({ action: 'SESSION_EXPIRED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId });
        }
        events.push({ action: 'DECISION_REACHED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: newDecision.attemptId, verdict: newDecision.verdict });
      }
      await appendAudit(client, before.tenant, events, at);
      return { session: await requireSession(client, id), newDecision };
    });
  }

  async markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition> {
    return transaction(this.pool, async (client) => {
      const before = await lockSession(client, id);
      if (before.status === 'DELETED') return { session: before };
      const events: AuditDraft[] = [{ action: 'SESSION_DELETED', actor, sessionId: id, userId: before.userId }];
      let newDecision: DecisionRecord | undefined;
      if (!(await hasDecision(client, id))) {
        newDecision = { ...decisionIfUndecided, sessionId: id, decidedAt: at };
        await insertDecision(client, newDecision);
        events.push({ action: 'DECISION_REACHED', actor: SYSTEM_ACTOR, sessionId: id, userId: before.userId, attemptId: newDecision.attemptId, verdict: newDecision.verdict });
      }
      await markDecided(client, id, 'DELETED', at);
      await appendAudit(client, before.tenant, events, at);
      return { session: await requireSession(client, id), newDecision };
    });
  }

  async attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]> {
    if (sessionIds.length === 0) return [];
    return bySession(sessionIds, (await this.pool.query<Row>('SELECT * FROM attempts WHERE session_id = ANY($1) ORDER BY attempt_id', [sessionIds])).rows);
  }

  async decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]> {
    if (sessionIds.length === 0) return [];
    const rows = (await this.pool.query<Row>('SELECT * FROM decisions WHERE session_id = ANY($1)', [sessionIds])).rows;
    const decisions = new Map(rows.map((row) => [row.session_id as string, toDecision(row)]));
    return sessionIds.map((id) => decisions.get(id));
  }

  async awaitingResult(): Promise<SessionRecord[]> {
    const rows = (
      await this.pool.query<Row>(
        `SELECT * FROM sessions WHERE NOT decided AND completion_reported_at IS NOT NULL
           AND status NOT IN ('DELETED', 'EXPIRED') ORDER BY completion_reported_at`,
      )
    ).rows;
    return rows.map(toSession);
  }

  async tryLease(sessionId: string, owner: string, nowMillis: number, leaseMillis: number): Promise<boolean> {
    const granted = await this.pool.query(
      `INSERT INTO session_leases (session_id, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE session_leases.owner = excluded.owner OR session_leases.expires_at <= $4
       RETURNING owner`,
      [sessionId, owner, nowMillis + leaseMillis, nowMillis],
    );
    return (granted.rowCount ?? 0) > 0;
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.pool.query('DELETE FROM session_leases WHERE owner = $1', [owner]);
  }

  async dueForExpiry(now: Date, limit: number): Promise<SessionRecord[]> {
    const rows = (await this.pool.query<Row>('SELECT * FROM sessions WHERE NOT decided AND expires_at <= $1 ORDER BY expires_at LIMIT $2', [now.getTime(), limit])).rows;
    return rows.map(toSession);
  }
}

async function lockSession(client: Queryable, id: string): Promise<SessionRecord> {
  const row = (await client.query<Row>('SELECT * FROM sessions WHERE id = $1 FOR UPDATE', [id])).rows[0];
  if (!row) throw new Error(`session ${id} is not in the store`);
  return toSession(row);
}

async function requireSession(client: Queryable, id: string): Promise<SessionRecord> {
  const row = (await client.query<Row>('SELECT * FROM sessions WHERE id = $1', [id])).rows[0];
  if (!row) throw new Error(`session ${id} is not in the store`);
  return toSession(row);
}

async function hasDecision(client: Queryable, id: string): Promise<boolean> {
  return ((await client.query('SELECT 1 FROM decisions WHERE session_id = $1', [id])).rowCount ?? 0) > 0;
}

async function insertDecision(client: Queryable, decision: DecisionRecord): Promise<void> {
  await client.query(`INSERT INTO decisions (${DECISION_COLUMNS}) VALUES (${placeholders(7)}) ON CONFLICT (session_id) DO NOTHING`, decisionValues(decision, bool));
}

async function markDecided(client: Queryable, id: string, status: string, at: Date): Promise<void> {
  await client.query('UPDATE sessions SET decided = true, status = $2, updated_at = $3 WHERE id = $1', [id, status, at.getTime()]);
  // A decided session is polled no more: its lease goes with the decision.
  await client.query('DELETE FROM session_leases WHERE session_id = $1', [id]);
}

class PostgresAuditRepository implements AuditRepository {
  private readonly counts = new AuditCountCache();

  constructor(private readonly pool: pg.Pool) {}

  async list(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Page<AuditEventRecord & { position: number }>> {
    const { bind, values } = binder();
    const conditions = auditConditions(scope, filter, bind);
    const totalCount = await this.count(auditCountSource(scope, filter), scope, filter, conditions, [...values]);
    if (after !== undefined) conditions.push(`position < ${bind(after)}`);
    const rows = (await this.pool.query<Row>(`SELECT * FROM audit_events ${where(conditions)} ORDER BY position DESC LIMIT ${bind(first + 1)}`, values)).rows;
    return {
      items: rows.slice(0, first).map((row) => ({ ...toAuditEvent(row), position: row.position as number })),
      hasNextPage: rows.length > first,
      totalCount,
    };
  }

  /** The `totalCount` of a page, from where `auditCountSource` says. */
  private async count(source: AuditCountSource, scope: ReadScope, filter: AuditFilter, conditions: string[], values: unknown[]): Promise<number> {
    const head = async (tenant: string) =>
      (await this.pool.query<{ sequence: number }>('SELECT sequence FROM audit_heads WHERE tenant = $1', [tenant])).rows[0]?.sequence ?? 0;
    switch (source.kind) {
      case 'none':
        return 0;
      case 'head':
        return head(source.tenant);
      case 'allHeads':
        return (await this.pool.query<{ total: number }>('SELECT coalesce(sum(sequence), 0)::bigint AS total FROM audit_heads')).rows[0].total;
      case 'rows': {
        if (source.tenant === undefined) {
          return (await this.pool.query<{ count: number }>(`SELECT count(*) AS count FROM audit_events ${where(conditions)}`, values)).rows[0].count;
        }
        const tenant = source.tenant;
        const after = `$${values.length + 1}`;
        const upTo = `$${values.length + 2}`;
        const sql = `SELECT count(*) AS count FROM audit_events ${where([...conditions, `sequence > ${after}`, `sequence <= ${upTo}`])}`;
        return this.counts.count(
          tenant,
          scope,
          filter,
          () => head(tenant),
          async (from, to) => (await this.pool.query<{ count: number }>(sql, [...values, from, to])).rows[0].count,
        );
      }
    }
  }

  async chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    const rows = (await this.pool.query<Row>('SELECT * FROM audit_events WHERE tenant = $1 AND sequence > $2 ORDER BY sequence LIMIT $3', [tenant, afterSequence, limit])).rows;
    return rows.map(toAuditEvent);
  }

  async chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    // Both walk the (tenant, sequence) index in order and stop at the first match: nothing is loaded.
    const first = (
      await this.pool.query<{ sequence: number }>(
        `SELECT sequence FROM audit_events WHERE tenant = $1 ${window.from ? 'AND at >= $2' : ''} ORDER BY sequence LIMIT 1`,
        window.from ? [tenant, window.from.getTime()] : [tenant],
      )
    ).rows[0]?.sequence;
    const last = (
      await this.pool.query<{ sequence: number }>(
        `SELECT sequence FROM audit_events WHERE tenant = $1 ${window.to ? 'AND at < $2' : ''} ORDER BY sequence DESC LIMIT 1`,
        window.to ? [tenant, window.to.getTime()] : [tenant],
      )
    ).rows[0]?.sequence;
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }

  async tenants(): Promise<string[]> {
    return (await this.pool.query<{ tenant: string }>('SELECT tenant FROM audit_heads ORDER BY tenant')).rows.map((row) => row.tenant);
  }

  async head(tenant: string): Promise<{ sequence: number; hash: string } | undefined> {
    return (await this.pool.query<{ sequence: number; hash: string }>('SELECT sequence, hash FROM audit_heads WHERE tenant = $1', [tenant])).rows[0];
  }
}
