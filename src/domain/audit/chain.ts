/**
 * The audit hash chain, as docs/audit.md documents it for partners who recompute it (its worked
 * example is pinned by test/unit/chain.test.ts: change the encoding, change both, and "audit-v1").
 *
 * hash = hex(SHA-256(previousHash + "\n" + canonical(event))), where canonical(event) is the JSON
 * array, with no whitespace:
 *   ["audit-v1", id, tenant, sequence, at (ISO-8601 UTC, milliseconds), action, actor, sessionId,
 *    userId, attemptId|null, verdict|null, digest|null]
 * An event that carries any of reason, verifyImageSha256 or faceVerifyImageHash is encoded as
 * "audit-v2": the same array with "audit-v2" first and those three (each or null) appended. Events
 * without them keep the "audit-v1" encoding, so chains written before v2 verify unchanged.
 * An event that carries commitments of personal fields (`personal-fields.ts`) is encoded as "audit-v3":
 *   ["audit-v3", id, tenant, sequence, at, action, actor|null, actorCommitment|null, sessionId,
 *    userIdCommitment, attemptId|null, verdict|null, digest|null, reason|null,
 *    verifyImageSha256Commitment|null, faceVerifyImageHashCommitment|null]
 * (the clear actor only when it is not committed), so that erasing the clear values changes no hash.
 * The first event of a tenant has previousHash = 64 zeros. Every stored field is covered, so changing
 * any of them breaks the chain at that event; a v3 event's clear personal values are covered through
 * their commitments, against which verification checks them (`personal-fields.ts`).
 */
import { createHash } from 'node:crypto';
import type { AuditDraft, AuditEventRecord } from './audit.model';
import { commitmentsFor, hasCommitments, personalUserOf } from './personal-fields';

export const GENESIS_HASH = '0'.repeat(64);

export type ChainedFields = Omit<AuditEventRecord, 'hash' | 'previousHash'>;

/** Values read back from JSON (an export) may be null where a record has them absent. */
const orNull = <T>(value: T | null | undefined): T | null => value ?? null;

export function canonicalEncoding(event: ChainedFields): string {
  if (hasCommitments(event)) {
    const actorCommitted = orNull(event.actorCommitment) !== null;
    return JSON.stringify([
      'audit-v3',
      event.id,
      event.tenant,
      event.sequence,
      event.at.toISOString(),
      event.action,
      actorCommitted ? null : event.actor,
      orNull(event.actorCommitment),
      event.sessionId,
      orNull(event.userIdCommitment),
      orNull(event.attemptId),
      orNull(event.verdict),
      orNull(event.digest),
      orNull(event.reason),
      orNull(event.verifyImageSha256Commitment),
      orNull(event.faceVerifyImageHashCommitment),
    ]);
  }
  const v2 = event.reason !== undefined || event.verifyImageSha256 !== undefined || event.faceVerifyImageHash !== undefined;
  return JSON.stringify([
    v2 ? 'audit-v2' : 'audit-v1',
    event.id,
    event.tenant,
    event.sequence,
    event.at.toISOString(),
    event.action,
    event.actor,
    event.sessionId,
    event.userId,
    event.attemptId ?? null,
    event.verdict ?? null,
    event.digest ?? null,
    ...(v2 ? [event.reason ?? null, event.verifyImageSha256 ?? null, event.faceVerifyImageHash ?? null] : []),
  ]);
}

export function chainHash(previousHash: string, event: ChainedFields): string {
  return createHash('sha256').update(previousHash).update('\n').update(canonicalEncoding(event)).digest('hex');
}

/**
 * The events that `drafts` become when appended after `head`: consecutive sequences, fresh ids,
 * each hash chained to the one before, each draft about a user ("audit-v3") with the commitments of
 * its personal fields under that user's salt (`saltOf`, hex; the adapter creates missing salts first,
 * in the same transaction). Adapters insert them and advance the head in the same transaction that
 * holds the tenant's head locked.
 */
export function chainEvents(
  tenant: string,
  head: { sequence: number; hash: string },
  drafts: readonly AuditDraft[],
  at: Date,
  newId: () => string,
  saltOf: (userId: string) => string,
): AuditEventRecord[] {
  const events: AuditEventRecord[] = [];
  let { sequence, hash } = head;
  for (const draft of drafts) {
    const user = personalUserOf(draft);
    const commitments = user === undefined ? {} : commitmentsFor(draft, saltOf(user));
    const fields = { ...draft, ...commitments, id: newId(), tenant, sequence: sequence + 1, at };
    const next = chainHash(hash, fields);
    events.push({ ...fields, previousHash: hash, hash: next });
    sequence += 1;
    hash = next;
  }
  return events;
}
