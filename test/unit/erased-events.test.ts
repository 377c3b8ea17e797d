/**
 * The rule that an event reading as erased needs a later USER_DATA_ERASED naming its pseudonym, and
 * no clear event of the same user after it (src/domain/audit/erased-events.ts), on chains written as
 * tables: what the verifiers feed it after each event's hash and commitments checked out.
 */
import { describe, expect, it } from 'vitest';
import { ErasedEventsCheck, type ErasureWitnessed } from '../../src/domain/audit/erased-events';

const ALICE = 'a1'.repeat(32);
const BOB = 'b0'.repeat(32);
const ALICE_ERASED = 'erased:a1a1a1a1a1a1';
const BOB_ERASED = 'erased:b0b0b0b0b0b0';

type Row = Omit<ErasureWitnessed, 'sequence'>;
const clear = (userId: string, userIdCommitment: string): Row => ({ action: 'SESSION_STARTED', userId, userIdCommitment });
const erasedOf = (userIdCommitment: string, pseudonym: string): Row => ({ action: 'SESSION_STARTED', userId: pseudonym, userIdCommitment });
const erasure = (pseudonym: string): Row => ({ action: 'USER_DATA_ERASED', userId: pseudonym });

/** Feeds the rows as sequences 1, 2, …; answers the first problem, during the walk or at its end. */
function walk(rows: Row[]): { sequence: number; problem: string; during: boolean } | undefined {
  const check = new ErasedEventsCheck();
  for (const [i, row] of rows.entries()) {
    const problem = check.see({ ...row, sequence: i + 1 });
    if (problem) return { ...problem, during: true };
  }
  const left = check.finish();
  return left && { ...left, during: false };
}

describe('events that read as erased, along a chain', () => {
  const cases: { name: string; rows: Row[]; broken?: { sequence: number; during: boolean; problem: RegExp } }[] = [
    { name: 'a chain with no erasure at all', rows: [clear('alice', ALICE), clear('bob', BOB), { action: 'SESSION_EXPIRED', userId: 'carol' }] },
    { name: "a genuine erasure: the user's events erased, then its USER_DATA_ERASED", rows: [erasedOf(ALICE, ALICE_ERASED), clear('bob', BOB), erasedOf(ALICE, ALICE_ERASED), erasure(ALICE_ERASED)] },
    {
      name: 'a walk beside an erasure: clear events, then erased ones, then the erasure',
      rows: [clear('alice', ALICE), erasedOf(ALICE, ALICE_ERASED), erasure(ALICE_ERASED)],
    },
    { name: 'two users erased one after the other', rows: [erasedOf(ALICE, ALICE_ERASED), erasedOf(BOB, BOB_ERASED), erasure(BOB_ERASED), erasure(ALICE_ERASED)] },
    { name: 'an erasure of a user with no v3 events (a pseudonym nothing reads as)', rows: [clear('alice', ALICE), erasure('erased:000000000000')] },
    {
      name: 'an event pseudonymised with no erasure after it',
      rows: [clear('bob', BOB), erasedOf(ALICE, ALICE_ERASED), clear('bob', BOB)],
      broken: { sequence: 2, during: false, problem: /^it reads as erased \(erased:a1a1a1a1a1a1\), but no later USER_DATA_ERASED event names erased:a1a1a1a1a1a1: / },
    },
    {
      name: 'an event pseudonymised before clear ones of the same user',
      rows: [clear('alice', ALICE), erasedOf(ALICE, ALICE_ERASED), clear('alice', ALICE), erasure(ALICE_ERASED)],
      broken: { sequence: 2, during: true, problem: /^it reads as erased \(erased:a1a1a1a1a1a1\), but event 3 names the same user in clear/ },
    },
    {
      name: 'an erasure before the event that reads as erased does not vouch for it',
      rows: [erasure(ALICE_ERASED), erasedOf(ALICE, ALICE_ERASED)],
      broken: { sequence: 2, during: false, problem: /no later USER_DATA_ERASED event names erased:a1a1a1a1a1a1/ },
    },
    {
      name: "another user's erasure does not vouch for it, and the first left waiting is reported",
      rows: [erasedOf(BOB, BOB_ERASED), erasedOf(ALICE, ALICE_ERASED), erasure('erased:000000000000')],
      broken: { sequence: 1, during: false, problem: /names erased:b0b0b0b0b0b0 \(nor any of 1 other pseudonym read as erased\)/ },
    },
    {
      name: 'a USER_DATA_ERASED carrying commitments is not one the gateway wrote, and vouches for nothing',
      rows: [erasedOf(ALICE, ALICE_ERASED), { action: 'USER_DATA_ERASED', userId: ALICE_ERASED, userIdCommitment: ALICE }],
      broken: { sequence: 1, during: false, problem: /no later USER_DATA_ERASED event names erased:a1a1a1a1a1a1/ },
    },
    { name: 'null commitments, as an export has them, are no commitments', rows: [{ action: 'SESSION_EXPIRED', userId: ALICE_ERASED, userIdCommitment: null }] },
  ];

  it.each(cases)('$name', ({ rows, broken }) => {
    const found = walk(rows);
    if (!broken) return expect(found).toBeUndefined();
    expect(found).toMatchObject({ sequence: broken.sequence, during: broken.during });
    expect(found!.problem).toMatch(broken.problem);
  });
});
