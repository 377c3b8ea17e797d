/** Audit events: one hash chain per tenant, written in the same transaction as the change they record. */
import type { Verdict } from '../sessions/session.model';

export type AuditAction =
  | 'SESSION_STARTED'
  | 'COMPLETION_REPORTED'
  | 'ATTEMPT_RECORDED'
  | 'DECISION_REACHED'
  | 'SESSION_DELETED'
  | 'SESSION_EXPIRED'
  | 'DEVICE_CORRELATION_ID_ROTATED'
  | 'EVIDENCE_STORED'
  | 'EVIDENCE_VIEWED'
  | 'EVIDENCE_PURGED'
  | 'FACE_SESSION_DELETED'
  | 'WEBHOOK_ENDPOINT_CREATED'
  | 'WEBHOOK_ENDPOINT_UPDATED'
  | 'WEBHOOK_ENDPOINT_DELETED'
  | 'WEBHOOK_SECRET_ROTATED'
  | 'WEBHOOK_ENDPOINT_FAILING'
  | 'WEBHOOK_ENDPOINT_RECOVERED'
  | 'WEBHOOK_REDELIVERY_REQUESTED'
  | 'TENANT_POLICY_CHANGED'
  | 'USER_DATA_ERASED';

/** Every action once; a `Record` so that an action added to the union must be added here too. */
const ACTION_NAMES: Record<AuditAction, true> = {
  SESSION_STARTED: true,
  COMPLETION_REPORTED: true,
  ATTEMPT_RECORDED: true,
  DECISION_REACHED: true,
  SESSION_DELETED: true,
  SESSION_EXPIRED: true,
  DEVICE_CORRELATION_ID_ROTATED: true,
  EVIDENCE_STORED: true,
  EVIDENCE_VIEWED: true,
  EVIDENCE_PURGED: true,
  FACE_SESSION_DELETED: true,
  WEBHOOK_ENDPOINT_CREATED: true,
  WEBHOOK_ENDPOINT_UPDATED: true,
  WEBHOOK_ENDPOINT_DELETED: true,
  WEBHOOK_SECRET_ROTATED: true,
  WEBHOOK_ENDPOINT_FAILING: true,
  WEBHOOK_ENDPOINT_RECOVERED: true,
  WEBHOOK_REDELIVERY_REQUESTED: true,
  TENANT_POLICY_CHANGED: true,
  USER_DATA_ERASED: true,
};
export const AUDIT_ACTIONS = Object.keys(ACTION_NAMES) as readonly AuditAction[];

/**
 * Why an event records something amiss: the device's digest differs from Face's (on the decision),
 * or the verify image Face hashed is not the one the gateway sent (on the attempt).
 */
export type AuditReason = 'DIGEST_MISMATCH' | 'VERIFY_IMAGE_HASH_MISMATCH';

/**
 * What a TENANT_POLICY_CHANGED event records in `reason`: `{"before":…,"after":…}` as JSON (see
 * `policy/tenant-policy.ts`). Kept in `reason` so the chain's existing encoding covers it.
 */
export type AuditChangeText = `{"before":${string}`;

/**
 * What a USER_DATA_ERASED event records in `reason`: `{"erased":{…counts}}` as JSON
 * (`erasure/erasure-plan.ts`), chained like a policy change.
 */
export type AuditErasureText = `{"erased":${string}`;

/** The session id of events about a user rather than a session (a device correlation id rotated). */
export const NO_SESSION = '';

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
  reason?: AuditReason | AuditChangeText | AuditErasureText;
  /** The gateway's SHA-256 (hex) of the verify image it sent to Face. */
  verifyImageSha256?: string;
  /** The verify image hash Face reported for an attempt. */
  faceVerifyImageHash?: string;
}

/**
 * The commitments of an "audit-v3" event: hex HMAC-SHA256(salt, clear value), one per personal field
 * it carries (`personal-fields.ts`).
 */
export interface PersonalCommitments {
  /** Present when the actor is the user the event is about (not `system`, not a staff member acting on them). */
  actorCommitment?: string;
  userIdCommitment?: string;
  verifyImageSha256Commitment?: string;
  faceVerifyImageHashCommitment?: string;
}

/**
 * A chained event. An "audit-v3" event also carries the commitments of its personal fields
 * (`personal-fields.ts`), which its hash covers instead of the clear values.
 */
export interface AuditEventRecord extends AuditDraft, PersonalCommitments {
  id: string;
  tenant: string;
  sequence: number;
  at: Date;
  previousHash: string;
  hash: string;
}
