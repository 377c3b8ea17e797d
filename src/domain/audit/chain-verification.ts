/**
 * Verifying one tenant's chain from the stored rows: every event chains to the one before; the chain
 * ends where its MACed head says; it contains the latest stored checkpoint (signature checked) and the
 * checkpoint an operator kept outside the database, if one is given. What each check catches, and what
 * none of them can, is in docs/security.md ("What the audit chain proves, against whom").
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AuditRepository } from '../ports/store';
import { chainHash, GENESIS_HASH } from './chain';
import { ErasedEventsCheck } from './erased-events';
import { isPseudonym, personalFieldsProblem } from './personal-fields';
import { checkpointSignatureValid, type AuditCheckpoint, type AuditSeal, type ChainHead } from './seal';

export interface ChainReport {
  tenant: string;
  valid: boolean;
  checked: number;
  firstBrokenSequence?: number;
  /** Why the chain is not valid, in a sentence; absent when it is. */
  reason?: string;
  /** The tenant's latest stored checkpoint, when its signature verifies: what an operator keeps. */
  latestCheckpoint?: AuditCheckpoint;
}

/** A checkpoint the operator kept outside the database: the chain must hold `hash` at `sequence`. */
export interface KeptCheckpoint {
  sequence: number;
  hash: string;
}

export async function verifyTenantChain(
  audit: AuditRepository,
  seal: AuditSeal,
  tenant: string,
  batchSize: number,
  kept?: KeptCheckpoint,
): Promise<ChainReport> {
  const stored = await audit.latestCheckpoint(tenant);
  const storedValid = stored !== undefined && stored.tenant === tenant && checkpointSignatureValid(stored, seal.publicKeyPem);
  const latestCheckpoint = storedValid ? stored : undefined;
  const invalid = (checked: number, reason: string, firstBrokenSequence?: number): ChainReport => ({
    tenant,
    valid: false,
    checked,
    ...(firstBrokenSequence !== undefined && { firstBrokenSequence }),
    reason,
    ...(latestCheckpoint && { latestCheckpoint }),
  });

  // The hashes the chain holds at the checkpoints' sequences, caught on the way through.
  const wanted = new Map<number, string | undefined>();
  if (stored) wanted.set(stored.sequence, undefined);
  if (kept) wanted.set(kept.sequence, undefined);

  // Events that read as erased wait here for the USER_DATA_ERASED that vouches for them. Whether a
  // salt is still stored for such an event's user is not asked: salts are keyed by the clear user id,
  // which an erased event no longer carries, so telling would take an HMAC under every salt of the
  // tenant. Nor is it needed against a forged erasure: a user never erased has no USER_DATA_ERASED
  // naming its pseudonym, and none can be added without breaking the chain.
  const erased = new ErasedEventsCheck();
  let previousHash = GENESIS_HASH;
  let checked = 0;
  /** Walks on from `checked` to `upTo` (or the chain's end): the first problem found, if any. */
  const walkOn = async (upTo = Infinity): Promise<ChainReport | undefined> => {
    while (checked < upTo) {
      const { batch, salts } = await consistentSlice(audit, tenant, checked, batchSize);
      for (const event of batch) {
        const expected = checked + 1;
        if (event.sequence !== expected || event.previousHash !== previousHash || chainHash(previousHash, event) !== event.hash) {
          return invalid(checked, `Event ${expected} does not follow from the one before it: an event was changed, removed or inserted.`, expected);
        }
        // A v3 hash covers commitments, not clear values: those are checked against the salt.
        const personal = event.userIdCommitment === undefined ? undefined : personalFieldsProblem(event, salts.get(event.userId));
        if (personal) return invalid(checked, `Event ${expected}: ${personal}.`, expected);
        const erasure = erased.see(event);
        if (erasure) return invalid(checked, `Event ${erasure.sequence}: ${erasure.problem}.`, erasure.sequence);
        if (wanted.has(expected)) wanted.set(expected, event.hash);
        previousHash = event.hash;
        checked = expected;
      }
      if (batch.length < batchSize) return undefined;
      // A synchronous store resolves at once: without this the whole chain is read and hashed in one
      // turn of the event loop, and every other request (health probes too) waits for it.
      await nextTurn();
    }
    return undefined;
  };
  const walked = await walkOn();
  if (walked) return walked;
  // Events appended while the walk ran (on PostgreSQL other requests run between its reads) are
  // under a head that moved on with them: the walk follows the head there. An event is committed
  // with its head, so an event past the head read after it was not appended by the gateway.
  let head = await audit.head(tenant);
  for (let round = 0; head && head.sequence > checked && round < CATCH_UP_ROUNDS; round += 1) {
    const caughtUp = await walkOn(head.sequence);
    if (caughtUp) return caughtUp;
    head = await audit.head(tenant);
  }
  const end: ChainHead = { sequence: checked, hash: previousHash };

  if (kept) {
    const problem = checkpointProblem('The kept checkpoint', kept, wanted.get(kept.sequence), end);
    if (problem) return invalid(checked, problem, Math.min(kept.sequence, checked + 1));
  }
  if (stored) {
    if (!storedValid) return invalid(checked, `The stored checkpoint at sequence ${stored.sequence} does not carry a valid signature: it was not written by the gateway.`);
    const problem = checkpointProblem('The latest stored checkpoint', stored, wanted.get(stored.sequence), end);
    if (problem) return invalid(checked, problem, Math.min(stored.sequence, checked + 1));
  }

  if (!head) {
    if (checked > 0) return invalid(checked, `The chain has ${checked} events but no head row: the head was deleted, with the newest events or without them.`, checked + 1);
    // Every session start appends an event in the same transaction: sessions without events mean a
    // deleted trail. (A stored checkpoint past the empty chain was reported above.)
    if (await audit.hasSessions(tenant)) return invalid(0, 'The tenant has sessions but no events and no head: its audit trail was deleted.', 1);
    return { tenant, valid: true, checked: 0 };
  }
  if (!seal.headSealed(tenant, head)) {
    return invalid(checked, `The head row (sequence ${head.sequence}) does not carry a valid MAC: it was written outside the gateway.`, Math.min(head.sequence, checked) + 1);
  }
  if (head.sequence !== checked || head.hash !== previousHash) {
    // Events cut off the end leave a valid-looking but shorter chain: the sealed head tells.
    return invalid(checked, `The chain ends at sequence ${checked} but its head is at sequence ${head.sequence}: events were removed from (or added to) its end.`, checked + 1);
  }
  // Last: a chain cut before an erasure's event leaves its erased events waiting, and the cut, reported
  // above, is the better reason.
  const unmatched = erased.finish();
  if (unmatched) return invalid(checked, `Event ${unmatched.sequence}: ${unmatched.problem}.`, unmatched.sequence);
  return { tenant, valid: true, checked, ...(latestCheckpoint && { latestCheckpoint }) };
}

/** How many times a walk follows a head that moved on while it walked, before it reports where it stands. */
const CATCH_UP_ROUNDS = 10;

/**
 * A slice of the chain and the salts of its users, read alike: an erasure that commits between the
 * two reads deletes a salt whose events the slice still shows in clear, which would read as an
 * edited value. The slice is read again then; an erasure rewrites its events and deletes the salt
 * in one transaction, so the second reading agrees unless another erasure came in between as well.
 */
export async function consistentSlice(audit: AuditRepository, tenant: string, afterSequence: number, limit: number) {
  for (let attempt = 1; ; attempt += 1) {
    const batch = await audit.chainSlice(tenant, afterSequence, limit);
    const users = [...new Set(batch.filter((event) => event.userIdCommitment !== undefined && !isPseudonym(event.userId)).map((event) => event.userId))];
    const salts = await audit.userSalts(tenant, users);
    if (attempt === SLICE_READS || users.every((user) => salts.has(user))) return { batch, salts };
  }
}

/** How many times a slice is read when a salt of a user it shows in clear is missing. */
const SLICE_READS = 3;

function checkpointProblem(what: string, checkpoint: KeptCheckpoint, hashThere: string | undefined, end: ChainHead): string | undefined {
  if (checkpoint.sequence > end.sequence) {
    return `${what} records sequence ${checkpoint.sequence}, but the chain ends at ${end.sequence}: events were removed from its end.`;
  }
  if (hashThere !== checkpoint.hash) {
    return `${what} records another hash at sequence ${checkpoint.sequence} than the chain holds: the chain was rewritten up to there.`;
  }
  return undefined;
}
