/**
 * What erasing one user's personal data changes, as a plan the store adapters execute in one
 * transaction (docs/security.md, "Erasing a user's data"). Pure: the adapter reads the state, this
 * module rules, the adapter writes. What is erased:
 *
 * | where | what happens |
 * | --- | --- |
 * | the user's salt (`audit_user_salts`) | deleted: the commitments can no longer be tied to anyone |
 * | the user's v3 audit events | clear `userId` (and `actor`, where it is the user) become the pseudonym, clear verify image hashes are removed; commitments and hashes stay |
 * | the user's v1/v2 audit events | kept as they are: their hash covers the clear user id (`eventsKept`) |
 * | the user's sessions | `userId` becomes the pseudonym, `deviceCorrelationId` empty, the verify reference's hashes removed |
 * | their attempts | Face's verify image hash and session image id removed |
 * | their evidence images and links | deleted; a fetch still pending is called off |
 * | the user's idempotency keys, derived device correlation generation | deleted |
 *
 * A clear value that no longer matches its commitment (edited behind the gateway's back) is left as
 * it is, so that `verifyAuditChain` still reports it after the erasure.
 */
import { NO_SESSION, type AuditDraft, type AuditErasureText } from '../audit/audit.model';
import { commitment, pseudonymOf } from '../audit/personal-fields';
import type { ErasureCounts } from '../ports/store';
import type { VerifyReference } from '../sessions/session.model';

/** What the adapter reads, inside the erasing transaction, of one user of one tenant. */
export interface ErasureState {
  userId: string;
  /** The user's salt (hex), when the user has v3 events. */
  salt?: string;
  sessions: { id: string; verifyReference?: VerifyReference }[];
  /** The v3 events whose clear `userId` is the user's. */
  committedEvents: CommittedEvent[];
  /** How many events of earlier encodings name the user. */
  keptEvents: number;
  /** How many evidence images the user's sessions have. */
  evidenceImages: number;
}

export interface CommittedEvent {
  id: string;
  actor: string;
  actorCommitment?: string;
  userIdCommitment: string;
  verifyImageSha256?: string;
  verifyImageSha256Commitment?: string;
  faceVerifyImageHash?: string;
  faceVerifyImageHashCommitment?: string;
}

/** A v3 event's new clear values; `clear…` true: the field is set to null. */
export interface EventRewrite {
  id: string;
  userId?: string;
  actor?: string;
  clearVerifyImageSha256?: true;
  clearFaceVerifyImageHash?: true;
}

export interface SessionRewrite {
  id: string;
  userId: string;
  deviceCorrelationId: '';
  /** The reference without its hashes; absent when the session has none. */
  verifyReference?: VerifyReference;
}

export interface ErasurePlan {
  pseudonym: string;
  sessions: SessionRewrite[];
  events: EventRewrite[];
  counts: ErasureCounts;
  /** The USER_DATA_ERASED event, appended in the same transaction. */
  audit: AuditDraft;
}

/**
 * The plan for `state`. `spareSalt` (hex, random) names the user when it has no salt: its sessions
 * still get a pseudonym nobody can tie back to it.
 */
export function planErasure(state: ErasureState, actor: string, spareSalt: string): ErasurePlan {
  const pseudonym = pseudonymOf(commitment(state.salt ?? spareSalt, state.userId));
  const events = state.salt === undefined ? [] : state.committedEvents.map((event) => rewriteOf(event, state.userId, state.salt!)).filter(changes);
  const counts: ErasureCounts = {
    sessions: state.sessions.length,
    evidenceDeleted: state.evidenceImages,
    eventsRewritten: events.length,
    eventsKept: state.keptEvents,
  };
  return {
    pseudonym,
    sessions: state.sessions.map((session) => ({
      id: session.id,
      userId: pseudonym,
      deviceCorrelationId: '',
      ...(session.verifyReference && { verifyReference: withoutHashes(session.verifyReference) }),
    })),
    events,
    counts,
    audit: { action: 'USER_DATA_ERASED', actor, sessionId: NO_SESSION, userId: pseudonym, reason: erasureText(counts) },
  };
}

/** The JSON a USER_DATA_ERASED event chains in `reason`. */
export const erasureText = (counts: ErasureCounts): AuditErasureText => JSON.stringify({ erased: counts }) as AuditErasureText;

export const isErasureText = (reason: string | undefined): reason is AuditErasureText => reason !== undefined && reason.startsWith('{"erased":');

function rewriteOf(event: CommittedEvent, userId: string, salt: string): EventRewrite {
  const matches = (clear: string | undefined, committed: string | undefined) => clear !== undefined && committed !== undefined && commitment(salt, clear) === committed;
  const marker = pseudonymOf(event.userIdCommitment);
  return {
    id: event.id,
    ...(matches(userId, event.userIdCommitment) && { userId: marker }),
    ...(matches(event.actor, event.actorCommitment) && { actor: marker }),
    ...(matches(event.verifyImageSha256, event.verifyImageSha256Commitment) && { clearVerifyImageSha256: true as const }),
    ...(matches(event.faceVerifyImageHash, event.faceVerifyImageHashCommitment) && { clearFaceVerifyImageHash: true as const }),
  };
}

const changes = (rewrite: EventRewrite): boolean => Object.keys(rewrite).length > 1;

function withoutHashes(reference: VerifyReference): VerifyReference {
  const { verifyImageSha256: _sent, faceVerifyImageHash: _face, ...rest } = reference;
  return rest;
}
