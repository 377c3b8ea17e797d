/**
 * Whether the v3 events that read as erased were erased by the gateway (docs/audit.md, "Personal
 * fields and erasure"). Checking clear values against commitments cannot tell: a pseudonym has no
 * salt, so an event whose user id and actor someone set to the pseudonym and whose image hashes they
 * nulled reads exactly as an erased one, though its user was never erased. What only a genuine erasure
 * leaves is its USER_DATA_ERASED event, whose `userId` (the pseudonym) its hash covers, appended after
 * every event it rewrote. So, walking a tenant's chain in order:
 *
 * 1. an event that reads as erased must be followed by a USER_DATA_ERASED naming its pseudonym;
 * 2. an event that names its user in clear must not follow one of the same user's commitment that
 *    reads as erased and is still waiting for its erasure: erasure rewrites every event of the user at
 *    once, so a clear event after an erased one means the erased one was edited.
 *
 * (An erased event after clear ones of the same commitment is what a walk running beside an erasure
 * reads, and rule 1 decides it; a clear event needs its user's salt, which a genuine erasure deletes.)
 * Pure: the verifiers feed it the events they have already checked against hashes and commitments.
 */
import { isPseudonym, pseudonymOf } from './personal-fields';

/** The fields of an event the rules read; an export's JSON has null where a record has nothing. */
export interface ErasureWitnessed {
  sequence: number;
  action: string;
  userId: string;
  userIdCommitment?: string | null;
}

/** A broken rule: the event where the chain stops checking out, and why, in the words of a reason. */
export interface ErasureProblem {
  sequence: number;
  problem: string;
}

export class ErasedEventsCheck {
  /**
   * Each pseudonym seen erased and not yet named by a USER_DATA_ERASED, with the first sequence it was
   * seen at. Memory is bounded by the erased users whose erasure is still ahead in the walk (in a
   * genuine chain, none once the walk passes their erasures), never by the chain's length: the walk
   * stays batch by batch.
   */
  private readonly waiting = new Map<string, number>();

  /** Takes the next event of the walk, in sequence order; answers the rule it breaks, if any. */
  see(event: ErasureWitnessed): ErasureProblem | undefined {
    const committed = event.userIdCommitment ?? undefined;
    if (committed === undefined) {
      // Only a USER_DATA_ERASED without commitments has its `userId` covered by its hash in clear.
      if (event.action === 'USER_DATA_ERASED') this.waiting.delete(event.userId);
      return undefined;
    }
    const pseudonym = pseudonymOf(committed);
    const erasedAt = this.waiting.get(pseudonym);
    if (isPseudonym(event.userId)) {
      if (erasedAt === undefined) this.waiting.set(pseudonym, event.sequence);
      return undefined;
    }
    if (erasedAt === undefined) return undefined;
    return {
      sequence: erasedAt,
      problem: `it reads as erased (${pseudonym}), but event ${event.sequence} names the same user in clear: the erased values were written outside an erasure`,
    };
  }

  /** At the end of the walk: the first event still waiting for the erasure that would vouch for it. */
  finish(): ErasureProblem | undefined {
    // A Map iterates in insertion order, which is sequence order here.
    for (const [pseudonym, sequence] of this.waiting) {
      const others = this.waiting.size - 1;
      const likewise = others === 0 ? '' : ` (nor any of ${others} other pseudonym${others === 1 ? '' : 's'} read as erased)`;
      return {
        sequence,
        problem: `it reads as erased (${pseudonym}), but no later USER_DATA_ERASED event names ${pseudonym}${likewise}: its personal values were edited outside an erasure`,
      };
    }
    return undefined;
  }
}
