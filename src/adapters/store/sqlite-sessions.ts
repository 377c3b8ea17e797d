/**
 * Sessions on SQLite. Each transition is one `BEGIN IMMEDIATE` transaction: it reads what the
 * session is, asks `transitions.ts` for the plan, and executes it. better-sqlite3 is synchronous, so
 * a transaction cannot interleave with another in this process, and taking the write lock up front
 * makes two processes sharing the file queue instead of deadlocking.
 */
import type Database from 'better-sqlite3';
import type { Progress, Page, SessionFilter, SessionPosition, SessionRepository, Transition } from '../../domain/ports/store';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord } from '../../domain/sessions/session.model';
import { planCompletion, planDeletion, planProgress, planStart, type TransitionPlan } from '../../domain/sessions/transitions';
import type { ReadScope } from '../../domain/viewer';
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
import { FOLLOW_UP_INSERT_COLUMNS, followUpValues } from './evidence-rows';
import type { AuditChainWriter } from './sqlite-audit';
import type { SqliteOutbox } from './sqlite-webhooks';
import { namedBinder, questionMarks, sqliteBool, type StatementCache } from './sqlite-statements';

export class SqliteSessionRepository implements SessionRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
    private readonly cached: StatementCache,
    private readonly outbox: SqliteOutbox,
  ) {
    this.statements = {
      insert: db.prepare(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${questionMarks(14)})`),
      byId: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      hasDecision: db.prepare('SELECT 1 FROM decisions WHERE session_id = ?').pluck(),
      attemptIds: db.prepare('SELECT attempt_id FROM attempts WHERE session_id = ?').pluck(),
      change: db.prepare(`
        UPDATE sessions SET status = coalesce(?, status), model_version = coalesce(?, model_version),
          completion_reported_at = coalesce(?, completion_reported_at), reported_digest = coalesce(?, reported_digest),
          verify_reference = coalesce(?, verify_reference), decided = max(decided, ?), updated_at = ?
        WHERE id = ?`),
      insertAttempt: db.prepare(`INSERT INTO attempts (${ATTEMPT_COLUMNS}) VALUES (${questionMarks(ATTEMPT_COLUMN_COUNT)}) ON CONFLICT (session_id, attempt_id) DO NOTHING`),
      insertDecision: db.prepare(`INSERT INTO decisions (${DECISION_COLUMNS}) VALUES (${questionMarks(DECISION_COLUMN_COUNT)}) ON CONFLICT (session_id) DO NOTHING`),
      dropLease: db.prepare('DELETE FROM session_leases WHERE session_id = ?'),
      insertFollowUp: db.prepare(`INSERT INTO session_follow_ups (${FOLLOW_UP_INSERT_COLUMNS}) VALUES (${questionMarks(4)}) ON CONFLICT (session_id) DO NOTHING`),
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
        this.statements.insert.run(...sessionValues(session, sqliteBool));
        this.execute(session.id, planStart(session, actor), session.createdAt);
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

  async reportCompletion(id: string, actor: string, at: Date, reportedDigest?: string): Promise<SessionRecord> {
    return this.transition(id, at, (session) => planCompletion(session, actor, at, reportedDigest)).session;
  }

  async recordProgress(id: string, progress: Progress, at: Date): Promise<Transition> {
    return this.transition(id, at, (session) => planProgress({ session, decided: this.decided(id), attemptIds: this.attemptIds(id) }, progress, at));
  }

  async markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition> {
    return this.transition(id, at, (session) => planDeletion({ session, decided: this.decided(id) }, actor, at, decisionIfUndecided));
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

  /**
   * Reads the session as it is, plans the transition from it (reading what else the plan needs), and
   * executes the plan, in one transaction.
   */
  private transition(id: string, at: Date, plan: (session: SessionRecord) => TransitionPlan): Transition {
    return this.db
      .transaction((): Transition => {
        const row = this.statements.byId.get(id) as Row | undefined;
        if (!row) throw new Error(`session ${id} is not in the store`);
        const planned = plan(toSession(row));
        this.execute(id, planned, at);
        return { session: planned.session, newDecision: planned.decision };
      })
      .immediate();
  }

  private decided(id: string): boolean {
    return this.statements.hasDecision.get(id) !== undefined;
  }

  private attemptIds(id: string): Set<number> {
    return new Set(this.statements.attemptIds.all(id) as number[]);
  }

  private execute(id: string, plan: TransitionPlan, at: Date): void {
    if (plan.changes) this.statements.change.run(...changeValues(plan.changes, sqliteBool), id);
    for (const attempt of plan.attempts) this.statements.insertAttempt.run(...attemptValues(id, attempt, at, sqliteBool));
    if (plan.decision) this.statements.insertDecision.run(...decisionValues(plan.decision, sqliteBool));
    if (plan.dropLease) this.statements.dropLease.run(id);
    if (plan.followUp) this.statements.insertFollowUp.run(...followUpValues(id, plan.followUp, at, sqliteBool));
    this.outbox.write(plan.session.tenant, plan.webhookEvents, at);
    this.chain.append(plan.session.tenant, plan.auditEvents, at);
  }

  /** `SELECT … IN (…)` for a batch of keys (SQLite allows 32,766 parameters; batches are far smaller). */
  private selectIn(sql: string, keys: readonly string[], suffix = ''): Row[] {
    if (keys.length === 0) return [];
    return this.cached.get(`${sql} (${keys.map(() => '?').join(', ')}) ${suffix}`).all(...keys) as Row[];
  }
}
