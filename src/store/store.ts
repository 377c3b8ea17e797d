/**
 * The store as the domain sees it. Every write is one atomic state transition that also appends its
 * audit events to the tenant's hash chain, so the trail and the state can never disagree.
 * Adapters: SQLite (`sqlite-store.ts`); PostgreSQL later, behind the same interface.
 */
import type { AuditAction, AuditEventRecord } from '../audit/audit.model';
import type { ReadScope } from '../auth/viewer';
import type { FaceAttempt, FaceStatus } from '../face/face.port';
import type {
  AttemptRecord,
  DecisionDraft,
  DecisionRecord,
  SessionKind,
  SessionRecord,
  SessionStatus,
} from '../sessions/session.model';

export interface SessionFilter {
  statuses?: SessionStatus[];
  kind?: SessionKind;
  userId?: string;
  tenant?: string;
  from?: Date;
  to?: Date;
}

/** Position of a row in a newest-first listing; encoded into opaque cursors by the service. */
export interface SessionPosition {
  createdAtMillis: number;
  id: string;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  totalCount: number;
}

/** The result of a transition: the session afterwards, and the decision if this transition reached it. */
export interface Transition {
  session: SessionRecord;
  newDecision?: DecisionRecord;
}

export interface Progress {
  faceStatus: FaceStatus;
  modelVersion?: string;
  /** Everything Face currently reports; attempts already stored are skipped, finished new ones stored once. */
  attempts: readonly FaceAttempt[];
  /** Set when the rules reached a decision; stored only if the session has none yet. */
  outcome?: { decision: DecisionDraft; status: SessionStatus };
}

export interface SessionRepository {
  /** Stores a session Face has just created, with its SESSION_STARTED event. */
  create(session: SessionRecord, actor: string): Promise<SessionRecord>;
  findById(id: string): Promise<SessionRecord | undefined>;
  /** In key order; undefined for unknown ids. */
  findByIds(ids: readonly string[]): Promise<(SessionRecord | undefined)[]>;
  list(scope: ReadScope, filter: SessionFilter, first: number, after?: SessionPosition): Promise<Page<SessionRecord>>;
  /** First report only: sets `completionReportedAt` and appends COMPLETION_REPORTED. */
  reportCompletion(id: string, actor: string, at: Date): Promise<SessionRecord>;
  /** Records what a poll of Face saw; see `Progress`. Ignored for sessions already DELETED or EXPIRED. */
  recordProgress(id: string, progress: Progress, at: Date): Promise<Transition>;
  /** Status DELETED and SESSION_DELETED; an undecided session is also given `decisionIfUndecided`. */
  markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition>;
  attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]>;
  decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]>;
  /** Reported complete, not decided, not ended: the sessions a (re)started gateway must poll. */
  awaitingResult(): Promise<SessionRecord[]>;
  /** Undecided sessions whose device token expired at or before `now`. */
  dueForExpiry(now: Date, limit: number): Promise<SessionRecord[]>;
}

export interface AuditFilter {
  sessionId?: string;
  userId?: string;
  tenant?: string;
  actions?: AuditAction[];
  from?: Date;
  to?: Date;
}

export interface AuditRepository {
  /** Newest first. `after` is the `position` of the last event of the previous page. */
  list(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Page<AuditEventRecord & { position: number }>>;
  /** A tenant's events in chain order, from `afterSequence` (exclusive), at most `limit`. */
  chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]>;
  /**
   * The contiguous stretch of a tenant's chain a time window covers: from the first event (by
   * sequence) with `at >= from` to the last with `at < to`; undefined when no event is in the window.
   * Contiguous on purpose: `at` is when the gateway saw the change, so events committed close together
   * can carry times slightly out of sequence order, and an export with holes could not be verified.
   */
  chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined>;
  tenants(): Promise<string[]>;
  /** The last appended event of a tenant's chain, as recorded beside the events. */
  head(tenant: string): Promise<{ sequence: number; hash: string } | undefined>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  /** Resolves when the store answers a trivial query; for `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
