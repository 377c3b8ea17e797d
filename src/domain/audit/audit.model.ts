/** Audit events: one hash chain per tenant, written in the same transaction as the change they record. */
import type { Verdict } from '../sessions/session.model';

export type AuditAction =
  | 'SESSION_STARTED'
  | 'COMPLETION_REPORTED'
  | 'ATTEMPT_RECORDED'
  | 'DECISION_REACHED'
  | 'SESSION_DELETED'
  | 'SESSION_EXPIRED';

/** The actor of events the gateway records on its own (polls, expiry). */
export const SYSTEM_ACTOR = 'system';

/** What a state change contributes to the trail; sequence, time and hashes are added when it is appended. */
export interface AuditDraft {
  action: AuditAction;
  actor: string;
  sessionId: string;
  /** The session owner's id, for filtering by user. */
  userId: string;
  attemptId?: number;
  verdict?: Verdict;
  digest?: string;
}

export interface AuditEventRecord extends AuditDraft {
  id: string;
  tenant: string;
  sequence: number;
  at: Date;
  previousHash: string;
  hash: string;
}
