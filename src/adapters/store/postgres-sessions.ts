/**
 * Sessions on PostgreSQL. Each transition is one transaction that locks its session's row first
 * (`SELECT … FOR UPDATE`), so two instances observing the same Face result record one decision;
 * what else the plan needs (`transitions.ts`) is read after the lock, so it sees every transition
 * committed before it. The audit append then locks the tenant's chain head: locks are always taken
 * in the order session, then chain head, so transitions cannot deadlock.
 */
import type pg from 'pg';
import type { Page, Progress, SessionFilter, SessionPosition, SessionRepository, Transition } from '../../domain/ports/store';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord } from '../../domain/sessions/session.model';
import { planCompletion, planDeletion, planProgress, planStart, type TransitionPlan } from '../../domain/sessions/transitions';
import type { ReadScope } from '../../domain/viewer';
import { FOLLOW_UP_INSERT_COLUMNS, followUpValues } from './evidence-rows';
import { appendAudit } from './postgres-audit';
import type { ChainSealing } from '../../domain/audit/seal';
import { writeOutbox } from './postgres-webhooks';
import { binder, placeholders, postgresBool, transaction, type Queryable } from './postgres-sql';
import {
  ATTEMPT_COLUMN_COUNT,
  ATTEMPT_COLUMNS,
  attemptValues,
  bySession,
  changeValues,
  DECISION_COLUMN_COUNT,
  DECISION_COLUMNS,
  decisionValues,
  SESSION_COLUMNS,
  sessionConditions,
  sessionValues,
  toDecision,
  toSession,
  where,
  type Row,
} from './rows';

export class PostgresSessionRepository implements SessionRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
    /** How long a delivery written now is tried (WEBHOOK_RETRY_HORIZON_MS). */
    private readonly webhookHorizonMillis: number,
  ) {}

  async create(session: SessionRecord, actor: string): Promise<SessionRecord> {
    await transaction(this.pool, async (client) => {
      await client.query(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${placeholders(14)})`, sessionValues(session, postgresBool));
      await execute(client, this.sealing, session.id, planStart(session, actor), session.createdAt, this.webhookHorizonMillis);
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

  async reportCompletion(id: string, actor: string, at: Date, reportedDigest?: string): Promise<SessionRecord> {
    return (await this.transition(id, at, async (session) => planCompletion(session, actor, at, reportedDigest))).session;
  }

  async recordProgress(id: string, progress: Progress, at: Date): Promise<Transition> {
    return this.transition(id, at, async (session, client) => {
      const stored = (
        await client.query<{ decided: boolean; attempt_ids: number[] }>(
          `SELECT EXISTS (SELECT 1 FROM decisions WHERE session_id = $1) AS decided,
                  ARRAY (SELECT attempt_id FROM attempts WHERE session_id = $1) AS attempt_ids`,
          [id],
        )
      ).rows[0];
      return planProgress({ session, decided: stored.decided, attemptIds: new Set(stored.attempt_ids) }, progress, at);
    });
  }

  async markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition> {
    return this.transition(id, at, async (session, client) => {
      const decided = ((await client.query('SELECT 1 FROM decisions WHERE session_id = $1', [id])).rowCount ?? 0) > 0;
      return planDeletion({ session, decided }, actor, at, decisionIfUndecided);
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

  /** Locks the session's row, plans the transition from it, and executes the plan, in one transaction. */
  private transition(id: string, at: Date, plan: (session: SessionRecord, client: Queryable) => Promise<TransitionPlan>): Promise<Transition> {
    return transaction(this.pool, async (client) => {
      const row = (await client.query<Row>('SELECT * FROM sessions WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!row) throw new Error(`session ${id} is not in the store`);
      const planned = await plan(toSession(row), client);
      await execute(client, this.sealing, id, planned, at, this.webhookHorizonMillis);
      return { session: planned.session, newDecision: planned.decision };
    });
  }
}

async function execute(client: Queryable, sealing: ChainSealing, id: string, plan: TransitionPlan, at: Date, webhookHorizonMillis: number): Promise<void> {
  if (plan.changes) {
    await client.query(
      `UPDATE sessions SET status = coalesce($1, status), model_version = coalesce($2, model_version),
         completion_reported_at = coalesce($3, completion_reported_at), reported_digest = coalesce($4, reported_digest),
         verify_reference = coalesce($5, verify_reference), decided = decided OR $6, updated_at = $7
       WHERE id = $8`,
      [...changeValues(plan.changes, postgresBool), id],
    );
  }
  for (const attempt of plan.attempts) {
    await client.query(
      `INSERT INTO attempts (${ATTEMPT_COLUMNS}) VALUES (${placeholders(ATTEMPT_COLUMN_COUNT)}) ON CONFLICT (session_id, attempt_id) DO NOTHING`,
      attemptValues(id, attempt, at, postgresBool),
    );
  }
  if (plan.decision) {
    await client.query(`INSERT INTO decisions (${DECISION_COLUMNS}) VALUES (${placeholders(DECISION_COLUMN_COUNT)}) ON CONFLICT (session_id) DO NOTHING`, decisionValues(plan.decision, postgresBool));
  }
  if (plan.dropLease) await client.query('DELETE FROM session_leases WHERE session_id = $1', [id]);
  if (plan.followUp) {
    await client.query(
      `INSERT INTO session_follow_ups (${FOLLOW_UP_INSERT_COLUMNS}) VALUES (${placeholders(4)}) ON CONFLICT (session_id) DO NOTHING`,
      followUpValues(id, plan.followUp, at, postgresBool),
    );
  }
  await writeOutbox(client, plan.session.tenant, plan.webhookEvents, at, webhookHorizonMillis);
  await appendAudit(client, sealing, plan.session.tenant, plan.auditEvents, at);
}
