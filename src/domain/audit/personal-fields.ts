/**
 * The personal fields of audit events, and the commitments that stand for them in the "audit-v3"
 * hash (docs/audit.md, "Personal fields and erasure"). A v3 event's hash covers, instead of a
 * personal value, its commitment: hex HMAC-SHA256 under a random salt of the user's (one per tenant
 * and user, kept beside the events). Erasing a user deletes the salt and replaces the clear values,
 * and no hash changes: the chain still verifies from the commitments, and without the salt nobody
 * can tell which user a commitment stands for. Pure: no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditDraft, PersonalCommitments } from './audit.model';

export type { PersonalCommitments } from './audit.model';

/** What an erased user's id (and a personal actor) reads as from the erasure on. */
export const ERASED_PREFIX = 'erased:';

/** How many hex digits of the user id's commitment a pseudonym keeps: enough to tell erased users apart. */
const PSEUDONYM_HEX_DIGITS = 12;

/** The fields of an event that a commitment stands for, in the order of `PersonalCommitments`. */
export const PERSONAL_FIELDS = [
  ['actor', 'actorCommitment'],
  ['userId', 'userIdCommitment'],
  ['verifyImageSha256', 'verifyImageSha256Commitment'],
  ['faceVerifyImageHash', 'faceVerifyImageHashCommitment'],
] as const;

/** Hex HMAC-SHA256 of the UTF-8 `value` under the salt's 32 bytes (`saltHex`: 64 hex digits). */
export function commitment(saltHex: string, value: string): string {
  return createHmac('sha256', Buffer.from(saltHex, 'hex')).update(value, 'utf8').digest('hex');
}

/** A user id that erasure wrote: never personal, never given a salt. */
export const isPseudonym = (userId: string): boolean => userId.startsWith(ERASED_PREFIX);

/** What an erased user's id reads as: `erased:` and the first 12 hex digits of its commitment. */
export const pseudonymOf = (userIdCommitment: string): string => ERASED_PREFIX + userIdCommitment.slice(0, PSEUDONYM_HEX_DIGITS);

/** The user whose salt an event's personal fields are committed under; none for a pseudonym or no user. */
export function personalUserOf(draft: Pick<AuditDraft, 'userId'>): string | undefined {
  return draft.userId === '' || isPseudonym(draft.userId) ? undefined : draft.userId;
}

/** The commitments of a draft's personal fields under its user's salt. */
export function commitmentsFor(draft: AuditDraft, saltHex: string): PersonalCommitments {
  const commit = (value: string | undefined) => (value === undefined ? undefined : commitment(saltHex, value));
  return {
    ...(draft.actor === draft.userId && { actorCommitment: commit(draft.actor) }),
    userIdCommitment: commit(draft.userId),
    ...(draft.verifyImageSha256 !== undefined && { verifyImageSha256Commitment: commit(draft.verifyImageSha256) }),
    ...(draft.faceVerifyImageHash !== undefined && { faceVerifyImageHashCommitment: commit(draft.faceVerifyImageHash) }),
  };
}

/** Whether an event carries any commitment, and so is encoded "audit-v3". */
export function hasCommitments(event: PersonalCommitments): boolean {
  return PERSONAL_FIELDS.some(([, key]) => event[key] !== undefined && event[key] !== null);
}

type ClearAndCommitted = PersonalCommitments & { actor: string; userId: string; verifyImageSha256?: string; faceVerifyImageHash?: string };

/**
 * Why the clear personal values of a v3 event do not go with its commitments, or undefined when they
 * do. `saltHex` is the salt stored for the event's clear `userId`, if any. While the salt exists every
 * committed field's clear value must be there and match its commitment; once the user is erased (no
 * salt) the ids must read as the pseudonym of their commitment and the hashes must be gone. So a
 * clear value edited in the database shows, though the hash, which covers only the commitment, does not.
 */
export function personalFieldsProblem(event: ClearAndCommitted, saltHex: string | undefined): string | undefined {
  for (const [field, key] of PERSONAL_FIELDS) {
    const committed = event[key];
    if (committed === undefined || committed === null) continue;
    const clear = event[field] ?? undefined;
    if (saltHex !== undefined) {
      if (clear === undefined || !sameHex(commitment(saltHex, clear), committed)) return `its ${field} does not match its commitment: a clear value was changed`;
    } else if (field === 'actor' || field === 'userId') {
      if (clear !== pseudonymOf(event.userIdCommitment ?? '')) return `its ${field} is neither its user's (no salt is stored for it) nor the pseudonym of an erased user`;
    } else if (clear !== undefined) {
      return `its ${field} is kept in clear though its user's salt is gone`;
    }
  }
  return undefined;
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
