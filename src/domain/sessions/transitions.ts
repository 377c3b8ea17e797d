/**
 * The rules of a session's stored life, decided once for every store adapter. An adapter reads what
 * a transition starts from inside its transaction (the session row, whether it has a decision, the
 * attempts already stored), asks for the plan here, and executes it in that same transaction: the
 * state and the audit trail then change together, by the same rules on SQLite and PostgreSQL.
 * Pure: no I/O, no clock (times come in with the input), no ids.
 */
import type { AuditDraft } from '../audit/audit.model';
import { SYSTEM_ACTOR } from '../audit/audit.model';
import { isPseudonym } from '../audit/personal-fields';
import type { FollowUpDraft } from '../evidence/evidence.model';
import type { FaceAttempt } from '../ports/face.port';
import { webhookEvent, type WebhookEventDraft } from '../webhooks/webhook.model';
import type { Progress } from '../ports/store';
import { checkDigest, sha256Hex } from './decision';
import type { DecisionDraft, DecisionRecord, SessionRecord, SessionStatus, VerifyReference } from './session.model';
import { FINAL_STATUSES } from './session.model';

/** What the store holds of a session when a transition begins, read under the transaction's lock. */
export interface StoredSession {
  session: SessionRecord;
  /** Whether a decision is stored for it; a session is decided at most once. */
  decided: boolean;
  /** The ids of the attempts stored for it. */
  attemptIds: ReadonlySet<number>;
}

/** Columns of the session row a transition writes; what is absent keeps its stored value. */
export interface SessionChanges {
  status?: SessionStatus;
  modelVersion?: string;
  completionReportedAt?: Date;
  /** The digest the device reported with the completion. */
  reportedDigest?: string;
  /** The reference face, once Face reported the hash of the verify image. */
  verifyReference?: VerifyReference;
  /** From now on the session is decided: polled no more, not due for expiry. */
  decided?: true;
  updatedAt: Date;
}

export interface TransitionPlan {
  /** The session as the transition leaves it. */
  session: SessionRecord;
  /** What to write to the session row; undefined when the row stays as it is. */
  changes?: SessionChanges;
  /** Finished attempts to store, none of them stored before. */
  attempts: FaceAttempt[];
  /** The decision this transition reaches, to store; undefined when it reaches none. */
  decision?: DecisionRecord;
  /** Whether the session's poll lease is dropped: a decided or deleted session is polled no more. */
  dropLease: boolean;
  /** Appended to the tenant's chain in this order, in the same transaction. */
  auditEvents: AuditDraft[];
  /** Work at Face the decision leaves (fetch session images, delete the session), stored with it. */
  followUp?: FollowUpDraft;
  /**
   * Sent to the tenant's webhook endpoints subscribed to their type: the adapter writes one outbox
   * row per such endpoint in the same transaction, so a crash can neither lose nor invent one.
   */
  webhookEvents: WebhookEventDraft[];
}

const unchanged = (session: SessionRecord): TransitionPlan => ({ session, attempts: [], dropLease: false, auditEvents: [], webhookEvents: [] });

/** A session Face has just created: stored as it is, with its SESSION_STARTED event. */
export function planStart(session: SessionRecord, actor: string): TransitionPlan {
  return {
    session,
    attempts: [],
    dropLease: false,
    auditEvents: [
      {
        action: 'SESSION_STARTED',
        actor,
        sessionId: session.id,
        userId: session.userId,
        ...(session.verifyReference?.verifyImageSha256 !== undefined && { verifyImageSha256: session.verifyReference.verifyImageSha256 }),
      },
    ],
    webhookEvents: [],
  };
}

/**
 * The client reports the device done: only the first report counts, and only it is audited. A report
 * that comes after the poller has already decided the session is audited too: the trail records what
 * every actor did, whenever it came. A session that ended without a result (deleted, expired) can no
 * longer be completed; the command refuses that, and a report racing such an ending records nothing.
 */
export function planCompletion(before: SessionRecord, actor: string, at: Date, reportedDigest?: string): TransitionPlan {
  if (before.completionReportedAt !== undefined || before.status === 'DELETED' || before.status === 'EXPIRED') return unchanged(before);
  return {
    session: { ...before, completionReportedAt: at, ...(reportedDigest !== undefined && { reportedDigest }) },
    changes: { completionReportedAt: at, updatedAt: at, ...(reportedDigest !== undefined && { reportedDigest }) },
    attempts: [],
    dropLease: false,
    // The event's digest is the one the device reported; ATTEMPT_RECORDED events carry Face's.
    auditEvents: [{ action: 'COMPLETION_REPORTED', actor, sessionId: before.id, userId: before.userId, digest: reportedDigest }],
    webhookEvents: [],
  };
}

/**
 * What a poll of Face saw. A session that has ended or is decided keeps what it has: the attempts
 * its decision rests on are all it will ever have. Otherwise each finished attempt not stored yet is
 * stored and audited once (one still running may change, so it waits), the status follows Face's,
 * and an outcome decides the session: the decision is stored, the lease dropped, an expiry is
 * audited before the decision it leads to, and what remains to do at Face (`progress.followUp`) is
 * stored with it.
 */
export function planProgress(before: StoredSession, progress: Progress, at: Date): TransitionPlan {
  const { session } = before;
  if (FINAL_STATUSES.has(session.status) || before.decided) return unchanged(session);
  const auditEvents: AuditDraft[] = [];
  const attempts: FaceAttempt[] = [];
  const taken = new Set(before.attemptIds);
  let verifyReference = session.verifyReference;
  // Its owner was erased while Face still had it (a start racing the erasure): what Face reports
  // that is personal (the verify image's hash, the session image) is not recorded any more.
  const erased = isPseudonym(session.userId);
  for (const reported of progress.attempts) {
    if (reported.status !== 'SUCCEEDED' && reported.status !== 'FAILED') continue;
    if (taken.has(reported.attemptId)) continue;
    taken.add(reported.attemptId);
    const attempt = erased ? withoutPersonalFields(reported) : reported;
    attempts.push(attempt);
    const hashes = erased ? {} : verifyImageHashes(verifyReference, attempt.verifyImageHash);
    if (verifyReference && attempt.verifyImageHash !== undefined && verifyReference.faceVerifyImageHash === undefined) {
      verifyReference = { ...verifyReference, faceVerifyImageHash: attempt.verifyImageHash };
    }
    auditEvents.push({ action: 'ATTEMPT_RECORDED', actor: SYSTEM_ACTOR, sessionId: session.id, userId: session.userId, attemptId: attempt.attemptId, digest: attempt.digest, ...hashes });
  }
  const modelVersion = progress.modelVersion ?? session.modelVersion;
  const changes: SessionChanges = {
    status: progress.faceStatus,
    updatedAt: at,
    ...(progress.modelVersion !== undefined && { modelVersion: progress.modelVersion }),
    ...(verifyReference !== session.verifyReference && { verifyReference }),
  };
  if (!progress.outcome) {
    return { session: { ...session, status: progress.faceStatus, modelVersion, verifyReference }, changes, attempts, dropLease: false, auditEvents, webhookEvents: [] };
  }
  // The digest is held against the attempt here, inside the transaction, so a completion reported
  // while this poll was in flight is not missed.
  const decided = checkDigest(progress.outcome.decision, progress.attempts, session.reportedDigest);
  const decision: DecisionRecord = { ...decided, sessionId: session.id, decidedAt: at };
  const status = progress.outcome.status;
  if (status === 'EXPIRED') auditEvents.push({ action: 'SESSION_EXPIRED', actor: SYSTEM_ACTOR, sessionId: session.id, userId: session.userId });
  auditEvents.push(decisionReached(session, decision));
  // Face forgets the images with the session: they are fetched first, then the session is deleted.
  const followUp = progress.followUp && { fetchImages: session.enableSessionImage && !erased, deleteAtFace: progress.followUp.deleteAtFace };
  const after: SessionRecord = { ...session, status, modelVersion, verifyReference };
  return {
    session: after,
    changes: { ...changes, status, decided: true },
    attempts,
    decision,
    dropLease: true,
    auditEvents,
    ...(followUp && (followUp.fetchImages || followUp.deleteAtFace) && { followUp }),
    // An ending without a result is its own event; every other decision is `session.decided`.
    webhookEvents: [webhookEvent(status === 'EXPIRED' ? 'session.expired' : 'session.decided', after, decision, at)],
  };
}

/**
 * The session is revoked: status DELETED, audited once. An undecided session is decided with
 * `decisionIfUndecided` in the same step, so that nobody waits for a decision that cannot come.
 */
export function planDeletion(before: Omit<StoredSession, 'attemptIds'>, actor: string, at: Date, decisionIfUndecided: DecisionDraft): TransitionPlan {
  const { session } = before;
  if (session.status === 'DELETED') return unchanged(session);
  const auditEvents: AuditDraft[] = [{ action: 'SESSION_DELETED', actor, sessionId: session.id, userId: session.userId }];
  let decision: DecisionRecord | undefined;
  if (!before.decided) {
    decision = { ...decisionIfUndecided, sessionId: session.id, decidedAt: at };
    auditEvents.push(decisionReached(session, decision));
  }
  const after: SessionRecord = { ...session, status: 'DELETED' };
  return {
    session: after,
    changes: { status: 'DELETED', decided: true, updatedAt: at },
    attempts: [],
    decision,
    dropLease: true,
    auditEvents,
    // The decision it reached now, if any; one reached before is the partner's already.
    webhookEvents: [webhookEvent('session.deleted', after, decision, at)],
  };
}

function decisionReached(session: SessionRecord, decision: DecisionRecord): AuditDraft {
  return {
    action: 'DECISION_REACHED',
    actor: SYSTEM_ACTOR,
    sessionId: session.id,
    userId: session.userId,
    attemptId: decision.attemptId,
    verdict: decision.verdict,
    ...(decision.reason !== undefined && { reason: decision.reason }),
  };
}

/**
 * The two hashes of the verify image for an attempt's event, when Face reported one: the gateway's own
 * and Face's, with VERIFY_IMAGE_HASH_MISMATCH when they name different images.
 */
export function verifyImageHashes(reference: VerifyReference | undefined, fromFace: string | undefined): Pick<AuditDraft, 'reason' | 'verifyImageSha256' | 'faceVerifyImageHash'> {
  if (fromFace === undefined) return {};
  const ours = reference?.verifyImageSha256;
  return {
    faceVerifyImageHash: fromFace,
    ...(ours !== undefined && { verifyImageSha256: ours }),
    ...(ours !== undefined && sha256Hex(fromFace) !== ours && { reason: 'VERIFY_IMAGE_HASH_MISMATCH' as const }),
  };
}

/** An attempt as recorded for a session whose owner was erased: without Face's verify image hash and session image. */
function withoutPersonalFields(attempt: FaceAttempt): FaceAttempt {
  const { verifyImageHash: _hash, sessionImageId: _image, ...rest } = attempt;
  return rest;
}
