/**
 * The store as the domain sees it. Every write is one atomic state transition that also appends its
 * audit events to the tenant's hash chain, so the trail and the state can never disagree. What each
 * transition changes and which events it appends is decided by `sessions/transitions.ts`; adapters
 * (SQLite, PostgreSQL) read the state it starts from and execute the plan in one transaction.
 */
import type { AuditAction, AuditDraft, AuditEventRecord } from '../audit/audit.model';
import type { AuditCheckpoint, StoredHead } from '../audit/seal';
import type { EvidenceGrant, EvidenceImageInfo, EvidenceImageRecord, FollowUpDraft, FollowUpRecord } from '../evidence/evidence.model';
import type { ReadScope } from '../viewer';
import type { WebhookRepository } from './webhooks';
import type { PolicyRepository } from './policies';
import type { FaceAttempt, FaceStatus } from './face.port';
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
  /** What to do at Face once the outcome is stored (a pending follow-up, written with the decision). */
  followUp?: Omit<FollowUpDraft, 'fetchImages'>;
}

export interface SessionRepository {
  /** Stores a session Face has just created, with its SESSION_STARTED event. */
  create(session: SessionRecord, actor: string): Promise<SessionRecord>;
  findById(id: string): Promise<SessionRecord | undefined>;
  /** In key order; undefined for unknown ids. */
  findByIds(ids: readonly string[]): Promise<(SessionRecord | undefined)[]>;
  list(scope: ReadScope, filter: SessionFilter, first: number, after?: SessionPosition): Promise<Page<SessionRecord>>;
  /** First report only: sets `completionReportedAt` (and the device's digest, if given) and appends COMPLETION_REPORTED. */
  reportCompletion(id: string, actor: string, at: Date, reportedDigest?: string): Promise<SessionRecord>;
  /** Records what a poll of Face saw; see `Progress`. Ignored for sessions already ended or decided. */
  recordProgress(id: string, progress: Progress, at: Date): Promise<Transition>;
  /** Status DELETED and SESSION_DELETED; an undecided session is also given `decisionIfUndecided`. */
  markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition>;
  attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]>;
  decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]>;
  /** Reported complete, not decided, not ended: the sessions a (re)started gateway must poll. */
  awaitingResult(): Promise<SessionRecord[]>;
  /**
   * Takes or renews the lease to poll a session at Face until `nowMillis + leaseMillis`: granted when
   * nobody holds it, `owner` already does, or the holder's lease has run out (it died or stalled).
   */
  tryLease(sessionId: string, owner: string, nowMillis: number, leaseMillis: number): Promise<boolean>;
  /** Gives up every lease `owner` holds (a gateway stopping), so others take over at once. */
  releaseLeases(owner: string): Promise<void>;
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
  /** The last appended event of a tenant's chain, as recorded beside the events, with its MAC. */
  head(tenant: string): Promise<StoredHead | undefined>;
  /** The tenant's checkpoint with the highest sequence (at most `upTo`, when given). */
  latestCheckpoint(tenant: string, upTo?: number): Promise<AuditCheckpoint | undefined>;
  /** Whether any session (of any status) of the tenant is stored: a tenant with sessions has events. */
  hasSessions(tenant: string): Promise<boolean>;
  /** The salts (hex) stored for those of `userIds` the tenant has one for (`audit/personal-fields.ts`). */
  userSalts(tenant: string, userIds: readonly string[]): Promise<Map<string, string>>;
}

/** One caller's idempotency key: keys are the caller's own, so the same text from another user is another key. */
export interface IdempotencyScope {
  tenant: string;
  userId: string;
  key: string;
}

/** What the store keeps for an idempotency key (the device token only ever sealed, never in clear). */
export interface IdempotencyRecord {
  /** Keyed fingerprint of the normalized start input; a repeat with another fingerprint is CONFLICT. */
  requestHash: string;
  /** `pending`: one request holds the claim and is creating the session; `completed`: the session exists. */
  state: 'pending' | 'completed';
  /** Random id of the request holding (or that held) the claim; only it may complete or release it. */
  claimId: string;
  /** Set once completed. */
  sessionId?: string;
  /** Set once completed: the device token, sealed by `idempotency/token-sealer.ts`. */
  sealedAuthToken?: string;
  /** A pending claim not completed by then is abandoned (its holder died) and may be claimed again. */
  leaseUntil: Date;
  /** The record is forgotten from then on (24 h after the claim). */
  expiresAt: Date;
}

export type IdempotencyClaim = { claimed: true } | { claimed: false; existing: IdempotencyRecord };

/**
 * Idempotency keys of session starts (`idempotency/idempotency.service.ts`). `claim` is the one that
 * must be atomic across instances: SQLite does it in one `BEGIN IMMEDIATE` transaction
 * (`sqlite-idempotency.ts`), PostgreSQL with `INSERT … ON CONFLICT DO NOTHING` and, for an existing
 * key, `SELECT … FOR UPDATE` of its row in the same transaction (`postgres-idempotency.ts`).
 */
export interface IdempotencyRepository {
  /**
   * In one transaction: when the key has no live record (none, past `expiresAt`, or pending past its
   * `leaseUntil`), stores a pending claim and answers `claimed: true`; otherwise answers the record.
   */
  claim(
    scope: IdempotencyScope,
    claim: { claimId: string; requestHash: string; now: Date; leaseUntil: Date; expiresAt: Date },
  ): Promise<IdempotencyClaim>;
  /** Turns the caller's pending claim into a completed record; false when the claim is no longer the caller's. */
  complete(scope: IdempotencyScope, claimId: string, result: { sessionId: string; sealedAuthToken: string }): Promise<boolean>;
  /** Drops the caller's pending claim (its start failed), so the key may be used again at once. */
  release(scope: IdempotencyScope, claimId: string): Promise<void>;
  /** The key's live record at `now`, if any. */
  find(scope: IdempotencyScope, now: Date): Promise<IdempotencyRecord | undefined>;
  /** Deletes up to `limit` records past their `expiresAt`; answers how many. */
  purgeExpired(now: Date, limit: number): Promise<number>;
}

/**
 * Generations of users' derived device correlation ids: an admin's rotation moves a user to the next
 * generation, and so to a new id, with a DEVICE_CORRELATION_ID_ROTATED event in the same transaction.
 */
export interface DeviceCorrelationRepository {
  /** The user's current generation; 0 when never rotated. */
  generation(tenant: string, userId: string): Promise<number>;
  /** Moves the user to the next generation and audits it; answers the new generation. */
  rotate(tenant: string, userId: string, actor: string, at: Date): Promise<number>;
}

/** Changes to a follow-up; what is absent stays. */
export interface FollowUpChanges {
  imagesDone?: true;
  faceDeleted?: true;
  /** Finished: its poll lease is dropped too. */
  done?: true;
  tries?: number;
  nextAt?: Date;
}

/**
 * Session images kept as evidence, the follow-ups that fetch them and delete sessions at Face, and
 * the one-time links that show them. Every write that the trail must know of appends its audit events
 * in the same transaction, as session transitions do.
 */
export interface EvidenceRepository {
  /** Follow-ups not done whose `nextAt` is at or before `now`, oldest first. */
  dueFollowUps(now: Date, limit: number): Promise<FollowUpRecord[]>;
  /** In key order; undefined where a session has none. */
  followUpsFor(sessionIds: readonly string[]): Promise<(FollowUpRecord | undefined)[]>;
  /** Applies `changes` and appends `audit` (for the session's tenant) in one transaction. */
  updateFollowUp(sessionId: string, changes: FollowUpChanges, audit: readonly AuditDraft[], at: Date): Promise<void>;
  /** Stores an image once (a second store of the same attempt is ignored) with its EVIDENCE_STORED event; true when stored now. */
  storeImage(image: EvidenceImageRecord, audit: AuditDraft, at: Date): Promise<boolean>;
  /** The images stored for each session, without bytes, by attempt. */
  imagesFor(sessionIds: readonly string[]): Promise<EvidenceImageInfo[][]>;
  createGrant(grant: EvidenceGrant): Promise<void>;
  /**
   * Uses a link once: when `secretHash` names a grant not used and not expired at `at`, marks it used,
   * appends `audit(grant, image)` and answers the image, in one transaction; otherwise undefined.
   */
  redeemGrant(secretHash: string, at: Date, audit: (grant: EvidenceGrant, image: EvidenceImageInfo) => AuditDraft): Promise<EvidenceImageRecord | undefined>;
  /** Deletes up to `limit` images past their `expiresAt` (each with `audit(image)`) and the grants past theirs; answers how many images. */
  purgeExpired(now: Date, limit: number, audit: (image: EvidenceImageInfo) => AuditDraft): Promise<number>;
}

/** What an erasure found and did (`erasure/erasure-plan.ts`). */
export interface ErasureCounts {
  sessions: number;
  evidenceDeleted: number;
  eventsRewritten: number;
  eventsKept: number;
}

export interface ErasureOutcome extends ErasureCounts {
  pseudonym: string;
}

/**
 * Erasing one user's personal data in one transaction, as `planErasure` rules it, with its
 * USER_DATA_ERASED event (actor `actor`). `spareSalt` (hex) names the user's sessions when the user
 * has no salt (no v3 event).
 */
export interface ErasureRepository {
  erase(tenant: string, userId: string, actor: string, at: Date, spareSalt: string): Promise<ErasureOutcome>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Erasing a user's personal data (`eraseUserData`). */
  readonly erasure: ErasureRepository;
  readonly correlations: DeviceCorrelationRepository;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly idempotency: IdempotencyRepository;
  readonly evidence: EvidenceRepository;
  /** Webhook endpoints and the outbox of their deliveries, which session transitions write to. */
  readonly webhooks: WebhookRepository;
  /** Tenant policies; each change written with its audit event. */
  readonly policies: PolicyRepository;
  /** Resolves when the store answers a trivial query; for `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
