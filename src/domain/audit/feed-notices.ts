/**
 * Tells every instance that a tenant's audit chain has grown, after the transaction that grew it has
 * committed: the live audit feed (`audit-feed.ts`) reads the new events from the store when it hears
 * of it. The notice names the tenant only; the store stays the one source of the events, so a notice
 * that arrives twice, late or out of order changes nothing, and one that is lost (Redis down) only
 * delays the events until the tenant's next notice.
 */
import type { Logger } from '../../observability/logger';
import type { PubSub } from '../ports/pubsub';
import type { DecisionDraft, SessionRecord } from '../sessions/session.model';
import type { Progress, SessionRepository, Transition } from '../ports/store';

/** The one topic of every tenant's notices: an instance with feed subscribers listens to it. */
export const AUDIT_APPENDED_TOPIC = 'audit-appended';

export interface AuditAppendedNotice {
  tenant: string;
}

export function isAuditAppendedNotice(payload: unknown): payload is AuditAppendedNotice {
  return typeof payload === 'object' && payload !== null && typeof (payload as { tenant?: unknown }).tenant === 'string';
}

/** Publishes a tenant's notice; a failed publish is logged, never thrown: the write it follows has committed. */
export function auditNoticePublisher(pubsub: PubSub, logger: Logger): (tenant: string) => void {
  return (tenant) => {
    pubsub
      .publish(AUDIT_APPENDED_TOPIC, { tenant } satisfies AuditAppendedNotice)
      .catch((error: unknown) => logger.warn({ tenant, err: error instanceof Error ? error.message : String(error) }, 'could not publish an audit notice'));
  };
}

/**
 * `inner`, except that each write that appends audit events (every one does, or may: a poll that
 * saw nothing new appends none) is followed by `appended(tenant)` once it has resolved, that is once
 * its transaction has committed. Reads pass through untouched.
 */
export function noticingAppends(inner: SessionRepository, appended: (tenant: string) => void): SessionRepository {
  const after = async <T>(write: Promise<T>, tenantOf: (result: T) => string): Promise<T> => {
    const result = await write;
    appended(tenantOf(result));
    return result;
  };
  const ofSession = (session: SessionRecord) => session.tenant;
  const ofTransition = (transition: Transition) => transition.session.tenant;
  return {
    create: (session: SessionRecord, actor: string) => after(inner.create(session, actor), ofSession),
    reportCompletion: (id: string, actor: string, at: Date) => after(inner.reportCompletion(id, actor, at), ofSession),
    recordProgress: (id: string, progress: Progress, at: Date) => after(inner.recordProgress(id, progress, at), ofTransition),
    markDeleted: (id: string, actor: string, at: Date, decision: DecisionDraft) => after(inner.markDeleted(id, actor, at, decision), ofTransition),
    findById: (id) => inner.findById(id),
    findByIds: (ids) => inner.findByIds(ids),
    list: (scope, filter, first, afterPosition) => inner.list(scope, filter, first, afterPosition),
    attemptsFor: (ids) => inner.attemptsFor(ids),
    decisionsFor: (ids) => inner.decisionsFor(ids),
    awaitingResult: () => inner.awaitingResult(),
    tryLease: (sessionId, owner, nowMillis, leaseMillis) => inner.tryLease(sessionId, owner, nowMillis, leaseMillis),
    releaseLeases: (owner) => inner.releaseLeases(owner),
    dueForExpiry: (now, limit) => inner.dueForExpiry(now, limit),
  };
}
