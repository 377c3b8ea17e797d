/**
 * How a decision travels through pub/sub: as JSON, since Redis carries it between instances, with
 * its dates as ISO strings and the session as stored when the decision was reached.
 */
import type { DecisionEvent, DecisionRecord, SessionRecord } from '../sessions/session.model';

/** The topic of one session's decision. */
export const decisionTopic = (sessionId: string) => `decision:${sessionId}`;

export function toPayload(event: DecisionEvent): unknown {
  const { session, ...decision } = event;
  return {
    ...decision,
    decidedAt: decision.decidedAt.toISOString(),
    ...(session && {
      session: {
        ...session,
        createdAt: session.createdAt.toISOString(),
        expiresAt: session.expiresAt.toISOString(),
        completionReportedAt: session.completionReportedAt?.toISOString(),
      },
    }),
  };
}

/** A message from an instance that sends no session (an older version) yields a decision without one. */
export function fromPayload(payload: unknown): DecisionEvent {
  type Dated<T, K extends keyof T> = Omit<T, K> & { [P in K]: string };
  const { session, ...decision } = payload as Dated<DecisionRecord, 'decidedAt'> & {
    session?: Dated<SessionRecord, 'createdAt' | 'expiresAt' | 'completionReportedAt'>;
  };
  return {
    ...decision,
    decidedAt: new Date(decision.decidedAt),
    ...(session && {
      session: {
        ...session,
        createdAt: new Date(session.createdAt),
        expiresAt: new Date(session.expiresAt),
        completionReportedAt: session.completionReportedAt === undefined ? undefined : new Date(session.completionReportedAt),
      },
    }),
  };
}
