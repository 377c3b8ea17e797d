/**
 * The audit hash chain (documented in the README, "Recomputing the audit chain").
 *
 * hash = hex(SHA-256(previousHash + "\n" + canonical(event))), where canonical(event) is the JSON
 * array, with no whitespace:
 *   ["audit-v1", id, tenant, sequence, at (ISO-8601 UTC, milliseconds), action, actor, sessionId,
 *    userId, attemptId|null, verdict|null, digest|null]
 * The first event of a tenant has previousHash = 64 zeros. Every stored field is covered, so changing
 * any of them breaks the chain at that event.
 */
import { createHash } from 'node:crypto';
import type { AuditEventRecord } from './audit.model';

export const GENESIS_HASH = '0'.repeat(64);

export type ChainedFields = Omit<AuditEventRecord, 'hash' | 'previousHash'>;

export function canonicalEncoding(event: ChainedFields): string {
  return JSON.stringify([
    'audit-v1',
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
  ]);
}

export function chainHash(previousHash: string, event: ChainedFields): string {
  return createHash('sha256').update(previousHash).update('\n').update(canonicalEncoding(event)).digest('hex');
}
