/**
 * Tells every instance that a tenant's audit chain has grown, after the transaction that grew it has
 * committed: the live audit feed (`audit-feed.ts`) reads the new events from the store when it hears
 * of it. The notice names the tenant only; the store stays the one source of the events, so a notice
 * that arrives twice, late or out of order changes nothing, and one that is lost (Redis down) only
 * delays the events until the tenant's next notice.
 */
import type { Logger } from '../../observability/logger';
import type { PubSub } from '../ports/pubsub';
import type { SessionRecord } from '../sessions/session.model';
import type { SessionRepository, Transition } from '../ports/store';

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
  // Every argument is forwarded as given (rest parameters), so an optional one added to the port
  // later cannot be dropped here without the compiler noticing.
  type Args<K extends keyof SessionRepository> = Parameters<SessionRepository[K]>;
  return {
    create: (...args: Args<'create'>) => after(inner.create(...args), ofSession),
    reportCompletion: (...args: Args<'reportCompletion'>) => after(inner.reportCompletion(...args), ofSession),
    recordProgress: (...args: Args<'recordProgress'>) => after(inner.recordProgress(...args), ofTransition),
    markDeleted: (...args: Args<'markDeleted'>) => after(inner.markDeleted(...args), ofTransition),
    findById: (...args) => inner.findById(...args),
    findByIds: (...args) => inner.findByIds(...args),
    list: (...args) => inner.list(...args),
    attemptsFor: (...args) => inner.attemptsFor(...args),
    decisionsFor: (...args) => inner.decisionsFor(...args),
    awaitingResult: (...args) => inner.awaitingResult(...args),
    tryLease: (...args) => inner.tryLease(...args),
    releaseLeases: (...args) => inner.releaseLeases(...args),
    dueForExpiry: (...args) => inner.dueForExpiry(...args),
  };
}
