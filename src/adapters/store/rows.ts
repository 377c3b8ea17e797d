/**
 * What the SQL adapters share: mapping rows (snake_case columns, times in milliseconds) to records,
 * and the WHERE conditions of the list queries, written once for SQLite's and PostgreSQL's
 * placeholders. Booleans arrive as 0/1 from SQLite and true/false from PostgreSQL.
 */
import type { AuditAction, AuditEventRecord } from '../../domain/audit/audit.model';
import type { AuditCheckpoint } from '../../domain/audit/seal';
import type { PersonalCommitments } from '../../domain/audit/personal-fields';
import type { ReadScope } from '../../domain/viewer';
import type { FaceAttempt, FaceRectangle } from '../../domain/ports/face.port';
import type { AttemptRecord, DecisionRecord, SessionRecord, Verdict } from '../../domain/sessions/session.model';
import type { SessionChanges } from '../../domain/sessions/transitions';
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
    reportedDigest: optional(row.reported_digest),
    ...(typeof row.rules === 'string' && { rules: JSON.parse(row.rules) }),
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
    verifyImageHash: optional(row.verify_image_hash),
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
    reason: optional(row.reason),
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
    reason: optional(row.reason),
    verifyImageSha256: optional(row.verify_image_sha256),
    faceVerifyImageHash: optional(row.face_verify_image_hash),
    ...commitmentsOf(row),
    previousHash: row.previous_hash as string,
    hash: row.hash as string,
  };
}

/** A v3 row's commitments (`audit/personal-fields.ts`); none on rows of earlier encodings. */
function commitmentsOf(row: Row): PersonalCommitments {
  const commitments: PersonalCommitments = {};
  if (row.actor_commitment != null) commitments.actorCommitment = row.actor_commitment as string;
  if (row.user_id_commitment != null) commitments.userIdCommitment = row.user_id_commitment as string;
  if (row.verify_image_sha256_commitment != null) commitments.verifyImageSha256Commitment = row.verify_image_sha256_commitment as string;
  if (row.face_verify_image_hash_commitment != null) commitments.faceVerifyImageHashCommitment = row.face_verify_image_hash_commitment as string;
  return commitments;
}

/** How a dialect stores a boolean: 1/0 in SQLite, true/false in PostgreSQL. */
export type BoolValue = (value: boolean) => unknown;

export const SESSION_COLUMNS =
  'id, kind, status, operation_mode, user_id, tenant, device_correlation_id, created_at, expires_at, model_version, verify_reference, enable_session_image, updated_at, rules';

/** A new session's column values, in the order of `SESSION_COLUMNS`; it was last updated when created. */
export function sessionValues(session: SessionRecord, bool: BoolValue): unknown[] {
  return [
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
    bool(session.enableSessionImage),
    session.createdAt.getTime(),
    session.rules ? JSON.stringify(session.rules) : null,
  ];
}

/**
 * The values of a transition's session update, in this order: status, model version, completion
 * time, reported digest and verify reference (each null to keep the stored one), decided (true to set
 * it, false to keep it), updated at.
 */
export function changeValues(changes: SessionChanges, bool: BoolValue): unknown[] {
  return [
    changes.status ?? null,
    changes.modelVersion ?? null,
    changes.completionReportedAt?.getTime() ?? null,
    changes.reportedDigest ?? null,
    changes.verifyReference ? JSON.stringify(changes.verifyReference) : null,
    bool(changes.decided === true),
    changes.updatedAt.getTime(),
  ];
}

export const CHECKPOINT_COLUMNS = 'tenant, sequence, hash, at, signature';

/** A checkpoint's column values, in the order of `CHECKPOINT_COLUMNS`. */
export function checkpointValues(checkpoint: AuditCheckpoint): unknown[] {
  return [checkpoint.tenant, checkpoint.sequence, checkpoint.hash, checkpoint.at.getTime(), checkpoint.signature];
}

export function toCheckpoint(row: Row): AuditCheckpoint {
  return {
    tenant: row.tenant as string,
    sequence: row.sequence as number,
    hash: row.hash as string,
    at: new Date(millis(row.at)),
    signature: row.signature as string,
  };
}

export const AUDIT_COLUMNS =
  'id, tenant, sequence, at, action, actor, session_id, user_id, attempt_id, verdict, digest, reason, verify_image_sha256, face_verify_image_hash, ' +
  'actor_commitment, user_id_commitment, verify_image_sha256_commitment, face_verify_image_hash_commitment, previous_hash, hash';
export const AUDIT_COLUMN_COUNT = 20;

/** A chained event's column values, in the order of `AUDIT_COLUMNS`. */
export function auditValues(event: AuditEventRecord): unknown[] {
  return [
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
    event.reason ?? null,
    event.verifyImageSha256 ?? null,
    event.faceVerifyImageHash ?? null,
    event.actorCommitment ?? null,
    event.userIdCommitment ?? null,
    event.verifyImageSha256Commitment ?? null,
    event.faceVerifyImageHashCommitment ?? null,
    event.previousHash,
    event.hash,
  ];
}

/** An attempt's column values, in the order of `ATTEMPT_COLUMNS`. */
export function attemptValues(sessionId: string, attempt: FaceAttempt, at: Date, bool: BoolValue): unknown[] {
  return [
    sessionId,
    attempt.attemptId,
    attempt.status,
    attempt.livenessDecision ?? null,
    attempt.faceRectangle ? JSON.stringify(attempt.faceRectangle) : null,
    attempt.digest ?? null,
    attempt.verifyImageHash ?? null,
    attempt.sessionImageId ?? null,
    attempt.verifyResult ? bool(attempt.verifyResult.isIdentical) : null,
    attempt.verifyResult?.matchConfidence ?? null,
    attempt.error?.code ?? null,
    attempt.error?.message ?? null,
    at.getTime(),
  ];
}

export const ATTEMPT_COLUMNS =
  'session_id, attempt_id, status, liveness_decision, face_rectangle, digest, verify_image_hash, session_image_id, is_identical, match_confidence, error_code, error_message, recorded_at';
export const ATTEMPT_COLUMN_COUNT = 13;

/** A decision's column values, in the order of `DECISION_COLUMNS`. */
export function decisionValues(decision: DecisionRecord, bool: BoolValue): unknown[] {
  return [
    decision.sessionId,
    decision.verdict,
    decision.livenessDecision ?? null,
    decision.verifyResult ? bool(decision.verifyResult.isIdentical) : null,
    decision.verifyResult?.matchConfidence ?? null,
    decision.attemptId ?? null,
    decision.reason ?? null,
    decision.decidedAt.getTime(),
  ];
}

export const DECISION_COLUMNS = 'session_id, verdict, liveness_decision, is_identical, match_confidence, attempt_id, reason, decided_at';
export const DECISION_COLUMN_COUNT = 8;

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
