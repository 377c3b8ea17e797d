/**
 * What the SQL adapters share: mapping rows (snake_case columns, times in milliseconds) to records,
 * and the WHERE conditions of the list queries, written once for SQLite's and PostgreSQL's
 * placeholders. Booleans arrive as 0/1 from SQLite and true/false from PostgreSQL.
 */
import type { AuditAction, AuditEventRecord } from '../../domain/audit/audit.model';
import type { ReadScope } from '../../domain/viewer';
import type { FaceAttempt, FaceRectangle } from '../../domain/ports/face.port';
import type { AttemptRecord, DecisionRecord, SessionRecord, Verdict } from '../../domain/sessions/session.model';
import type { AuditFilter, SessionFilter } from '../../domain/ports/store';

export type Row = Record<string, unknown>;

/** Adds a parameter and returns its placeholder (`@p0` for SQLite, `$1` for PostgreSQL). */
export type Bind = (value: unknown) => string;

const optional = <T>(value: unknown): T | undefined => (value === null || value === undefined ? undefined : (value as T));
const flag = (value: unknown): boolean => value === true || value === 1;
const millis = (value: unknown): number => Number(value);

export function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    kind: row.kind as SessionRecord['kind'],
    status: row.status as SessionRecord['status'],
    operationMode: row.operation_mode as SessionRecord['operationMode'],
    userId: row.user_id as string,
    tenant: row.tenant as string,
    deviceCorrelationId: row.device_correlation_id as string,
    createdAt: new Date(millis(row.created_at)),
    expiresAt: new Date(millis(row.expires_at)),
    modelVersion: optional(row.model_version),
    verifyReference: row.verify_reference ? JSON.parse(row.verify_reference as string) : undefined,
    enableSessionImage: flag(row.enable_session_image),
    completionReportedAt: row.completion_reported_at === null ? undefined : new Date(millis(row.completion_reported_at)),
  };
}

/** Attempt rows (ordered by attempt) grouped into one list per session of `sessionIds`, in that order. */
export function bySession(sessionIds: readonly string[], rows: Row[]): AttemptRecord[][] {
  const lists = new Map<string, AttemptRecord[]>();
  for (const row of rows) {
    const list = lists.get(row.session_id as string) ?? [];
    list.push(toAttempt(row));
    lists.set(row.session_id as string, list);
  }
  return sessionIds.map((id) => lists.get(id) ?? []);
}

export function toAttempt(row: Row): AttemptRecord {
  return {
    sessionId: row.session_id as string,
    attemptId: row.attempt_id as number,
    status: row.status as AttemptRecord['status'],
    livenessDecision: optional(row.liveness_decision),
    faceRectangle: row.face_rectangle ? (JSON.parse(row.face_rectangle as string) as FaceRectangle) : undefined,
    digest: optional(row.digest),
    sessionImageId: optional(row.session_image_id),
    verifyResult: row.is_identical === null ? undefined : { isIdentical: flag(row.is_identical), matchConfidence: row.match_confidence as number },
    error: row.error_code === null ? undefined : { code: row.error_code as string, message: (row.error_message as string | null) ?? '' },
    recordedAt: new Date(millis(row.recorded_at)),
  };
}

export function toDecision(row: Row): DecisionRecord {
  return {
    sessionId: row.session_id as string,
    verdict: row.verdict as Verdict,
    livenessDecision: optional(row.liveness_decision),
    verifyResult: row.is_identical === null ? undefined : { isIdentical: flag(row.is_identical), matchConfidence: row.match_confidence as number },
    attemptId: optional(row.attempt_id),
    decidedAt: new Date(millis(row.decided_at)),
  };
}

export function toAuditEvent(row: Row): AuditEventRecord {
  return {
    id: row.id as string,
    tenant: row.tenant as string,
    sequence: row.sequence as number,
    at: new Date(millis(row.at)),
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

/** An attempt's column values, in the order of `ATTEMPT_COLUMNS`. */
export function attemptValues(sessionId: string, attempt: FaceAttempt, at: Date, bool: (value: boolean) => unknown): unknown[] {
  return [
    sessionId,
    attempt.attemptId,
    attempt.status,
    attempt.livenessDecision ?? null,
    attempt.faceRectangle ? JSON.stringify(attempt.faceRectangle) : null,
    attempt.digest ?? null,
    attempt.sessionImageId ?? null,
    attempt.verifyResult ? bool(attempt.verifyResult.isIdentical) : null,
    attempt.verifyResult?.matchConfidence ?? null,
    attempt.error?.code ?? null,
    attempt.error?.message ?? null,
    at.getTime(),
  ];
}

export const ATTEMPT_COLUMNS =
  'session_id, attempt_id, status, liveness_decision, face_rectangle, digest, session_image_id, is_identical, match_confidence, error_code, error_message, recorded_at';

/** A decision's column values, in the order of `DECISION_COLUMNS`. */
export function decisionValues(decision: DecisionRecord, bool: (value: boolean) => unknown): unknown[] {
  return [
    decision.sessionId,
    decision.verdict,
    decision.livenessDecision ?? null,
    decision.verifyResult ? bool(decision.verifyResult.isIdentical) : null,
    decision.verifyResult?.matchConfidence ?? null,
    decision.attemptId ?? null,
    decision.decidedAt.getTime(),
  ];
}

export const DECISION_COLUMNS = 'session_id, verdict, liveness_decision, is_identical, match_confidence, attempt_id, decided_at';

function scopeConditions(scope: ReadScope, bind: Bind): string[] {
  if (scope.kind === 'all') return [];
  const conditions = [`tenant = ${bind(scope.tenant)}`];
  if (scope.kind === 'own') conditions.push(`user_id = ${bind(scope.userId)}`);
  return conditions;
}

function inList(column: string, values: readonly unknown[] | undefined, bind: Bind): string[] {
  return values && values.length > 0 ? [`${column} IN (${values.map(bind).join(', ')})`] : [];
}

/** The scope (whose rows) and the caller's filter, for `sessions`. */
export function sessionConditions(scope: ReadScope, filter: SessionFilter, bind: Bind): string[] {
  return [
    ...scopeConditions(scope, bind),
    ...(filter.tenant !== undefined ? [`tenant = ${bind(filter.tenant)}`] : []),
    ...(filter.userId !== undefined ? [`user_id = ${bind(filter.userId)}`] : []),
    ...(filter.kind !== undefined ? [`kind = ${bind(filter.kind)}`] : []),
    ...inList('status', filter.statuses, bind),
    ...(filter.from ? [`created_at >= ${bind(filter.from.getTime())}`] : []),
    ...(filter.to ? [`created_at < ${bind(filter.to.getTime())}`] : []),
  ];
}

/** The scope (whose rows) and the caller's filter, for `audit_events`. */
export function auditConditions(scope: ReadScope, filter: AuditFilter, bind: Bind): string[] {
  return [
    ...scopeConditions(scope, bind),
    ...(filter.tenant !== undefined ? [`tenant = ${bind(filter.tenant)}`] : []),
    ...(filter.sessionId !== undefined ? [`session_id = ${bind(filter.sessionId)}`] : []),
    ...(filter.userId !== undefined ? [`user_id = ${bind(filter.userId)}`] : []),
    ...inList('action', filter.actions, bind),
    ...(filter.from ? [`at >= ${bind(filter.from.getTime())}`] : []),
    ...(filter.to ? [`at < ${bind(filter.to.getTime())}`] : []),
  ];
}

export const where = (conditions: string[]): string => (conditions.length ? `WHERE ${conditions.join(' AND ')}` : '');

/**
 * Where an audit page's `totalCount` comes from. Counting a tenant's rows walks its whole index
 * (47 ms at 1,000,000 events, on every page; issue 6), but a tenant's chain head (`audit_heads`)
 * records its length, advanced in the very transaction that appends the events: for a history
 * narrowed to one tenant and nothing else, the count is the head's `sequence`; for every tenant, the
 * sum of the heads. It equals the rows as long as the chain is intact: a row deleted or moved behind
 * the gateway's back is what `verifyAuditChain` reports. Any other filter counts the rows, those of
 * one tenant through `AuditCountCache`.
 */
export type AuditCountSource = { kind: 'none' } | { kind: 'head'; tenant: string } | { kind: 'allHeads' } | { kind: 'rows'; tenant?: string };

export function auditCountSource(scope: ReadScope, filter: AuditFilter): AuditCountSource {
  const tenants = new Set([scope.kind === 'all' ? undefined : scope.tenant, filter.tenant].filter((tenant) => tenant !== undefined));
  if (tenants.size > 1) return { kind: 'none' }; // two different tenants: no event is in both
  const narrowed =
    scope.kind === 'own' || filter.sessionId !== undefined || filter.userId !== undefined || (filter.actions?.length ?? 0) > 0 || !!filter.from || !!filter.to;
  const [tenant] = tenants;
  if (narrowed) return tenant === undefined ? { kind: 'rows' } : { kind: 'rows', tenant };
  return tenant === undefined ? { kind: 'allHeads' } : { kind: 'head', tenant };
}

/**
 * Exact counts of a tenant's events that match a filter, kept by tenant and filter with the chain
 * length they were counted up to, so that the next page of the same history counts only the events
 * appended since (by `sequence`, on the `(tenant, sequence)` index) instead of the whole tenant again:
 * 300 ms a page at 1,000,000 events for a filter by action, measured by hand (issue 6). Exact because
 * a chain only grows: events are appended with the next sequence, in order, in the transaction that
 * advances the head, and never change (`verifyAuditChain` reports one edited behind the gateway's
 * back, which a kept count would not see). The first count of a filter still reads every event it
 * matches. At most `maxEntries` counts are kept, least recently used out first.
 */
export class AuditCountCache {
  private readonly counts = new Map<string, { sequence: number; count: number }>();

  constructor(private readonly maxEntries = 256) {}

  /**
   * The count of the events of `tenant` that `scope` and `filter` match, up to the chain's head.
   * `head()` reads the head's sequence (0 for a tenant without events); `countBetween(after, upTo)`
   * counts the matching events with `after < sequence <= upTo`.
   */
  async count(
    tenant: string,
    scope: ReadScope,
    filter: AuditFilter,
    head: () => Promise<number> | number,
    countBetween: (after: number, upTo: number) => Promise<number> | number,
  ): Promise<number> {
    const { sessionId, userId, actions, from, to } = filter;
    const key = JSON.stringify([tenant, scope, sessionId, userId, actions, from?.getTime(), to?.getTime()]);
    const upTo = await head();
    const kept = this.counts.get(key);
    this.counts.delete(key);
    const count =
      kept && kept.sequence <= upTo ? kept.count + (kept.sequence === upTo ? 0 : await countBetween(kept.sequence, upTo)) : await countBetween(0, upTo);
    this.counts.set(key, { sequence: upTo, count });
    if (this.counts.size > this.maxEntries) this.counts.delete(this.counts.keys().next().value as string);
    return count;
  }
}
