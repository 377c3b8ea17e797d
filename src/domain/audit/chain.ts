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
 * The first event of a tenant has previousHash = 64 zeros. Every stored field is covered, so changing
 * any of them breaks the chain at that event.
 */
import { createHash } from 'node:crypto';
import type { AuditDraft, AuditEventRecord } from './audit.model';

export const GENESIS_HASH = '0'.repeat(64);

export type ChainedFields = Omit<AuditEventRecord, 'hash' | 'previousHash'>;

export function canonicalEncoding(event: ChainedFields): string {
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
 * each hash chained to the one before. Adapters insert them and advance the head in the same
 * transaction that holds the tenant's head locked.
 */
export function chainEvents(
  tenant: string,
  head: { sequence: number; hash: string },
  drafts: readonly AuditDraft[],
  at: Date,
  newId: () => string,
): AuditEventRecord[] {
  const events: AuditEventRecord[] = [];
  let { sequence, hash } = head;
  for (const draft of drafts) {
    const fields = { ...draft, id: newId(), tenant, sequence: sequence + 1, at };
    const next = chainHash(hash, fields);
    events.push({ ...fields, previousHash: hash, hash: next });
    sequence += 1;
    hash = next;
  }
  return events;
}
