/** What erasing a user changes (src/domain/erasure/erasure-plan.ts), as a table of states and plans. */
import { describe, expect, it } from 'vitest';
import { commitment, pseudonymOf } from '../../src/domain/audit/personal-fields';
import { erasureText, isErasureText, planErasure, type CommittedEvent, type ErasureState } from '../../src/domain/erasure/erasure-plan';

const SALT = 'aa'.repeat(32);
const SPARE = 'bb'.repeat(32);
const c = (value: string, salt = SALT) => commitment(salt, value);
const PSEUDONYM = pseudonymOf(c('alice'));
const reference = { faceRectangle: { top: 1, left: 2, width: 3, height: 4 }, qualityForRecognition: 'HIGH' as const, verifyImageSha256: 'ab'.repeat(32), faceVerifyImageHash: 'CD' };

const started: CommittedEvent = { id: 'e1', actor: 'alice', actorCommitment: c('alice'), userIdCommitment: c('alice'), verifyImageSha256: 'ab'.repeat(32), verifyImageSha256Commitment: c('ab'.repeat(32)) };
const attempt: CommittedEvent = { id: 'e2', actor: 'system', userIdCommitment: c('alice'), faceVerifyImageHash: 'CD', faceVerifyImageHashCommitment: c('CD') };
const deletedByStaff: CommittedEvent = { id: 'e3', actor: 'ops-admin', userIdCommitment: c('alice') };

const empty: ErasureState = { userId: 'alice', sessions: [], committedEvents: [], keptEvents: 0, evidenceImages: 0 };

describe('planErasure', () => {
  const cases: { name: string; state: ErasureState; pseudonym: string; sessions: unknown[]; events: unknown[]; counts: Record<string, number> }[] = [
    {
      name: 'an unknown user: nothing to change, a pseudonym from the spare salt, zero counts',
      state: empty,
      pseudonym: pseudonymOf(c('alice', SPARE)),
      sessions: [],
      events: [],
      counts: { sessions: 0, evidenceDeleted: 0, eventsRewritten: 0, eventsKept: 0 },
    },
    {
      name: 'a user with v3 events: ids and a personal actor become the pseudonym, image hashes go, a staff actor stays',
      state: { ...empty, salt: SALT, sessions: [{ id: 's1', verifyReference: reference }, { id: 's2' }], committedEvents: [started, attempt, deletedByStaff], evidenceImages: 2 },
      pseudonym: PSEUDONYM,
      sessions: [
        { id: 's1', userId: PSEUDONYM, deviceCorrelationId: '', verifyReference: { faceRectangle: reference.faceRectangle, qualityForRecognition: 'HIGH' } },
        { id: 's2', userId: PSEUDONYM, deviceCorrelationId: '' },
      ],
      events: [
        { id: 'e1', userId: PSEUDONYM, actor: PSEUDONYM, clearVerifyImageSha256: true },
        { id: 'e2', userId: PSEUDONYM, clearFaceVerifyImageHash: true },
        { id: 'e3', userId: PSEUDONYM },
      ],
      counts: { sessions: 2, evidenceDeleted: 2, eventsRewritten: 3, eventsKept: 0 },
    },
    {
      name: 'only v1/v2 events and no salt: sessions renamed, events kept and counted',
      state: { ...empty, sessions: [{ id: 's1' }], keptEvents: 4 },
      pseudonym: pseudonymOf(c('alice', SPARE)),
      sessions: [{ id: 's1', userId: pseudonymOf(c('alice', SPARE)), deviceCorrelationId: '' }],
      events: [],
      counts: { sessions: 1, evidenceDeleted: 0, eventsRewritten: 0, eventsKept: 4 },
    },
    {
      name: 'a clear value edited behind the gateway is left as it is, for verification to report',
      state: { ...empty, salt: SALT, committedEvents: [{ ...started, actor: 'mallory' }, { ...attempt, faceVerifyImageHash: 'EE' }] },
      pseudonym: PSEUDONYM,
      sessions: [],
      events: [
        { id: 'e1', userId: PSEUDONYM, clearVerifyImageSha256: true },
        { id: 'e2', userId: PSEUDONYM },
      ],
      counts: { sessions: 0, evidenceDeleted: 0, eventsRewritten: 2, eventsKept: 0 },
    },
    {
      name: 'v3 events but the salt row gone: nothing can be checked, nothing is rewritten',
      state: { ...empty, committedEvents: [started] },
      pseudonym: pseudonymOf(c('alice', SPARE)),
      sessions: [],
      events: [],
      counts: { sessions: 0, evidenceDeleted: 0, eventsRewritten: 0, eventsKept: 0 },
    },
  ];

  it.each(cases)('$name', ({ state, pseudonym, sessions, events, counts }) => {
    const plan = planErasure(state, 'ops-admin', SPARE);
    expect(plan.pseudonym).toBe(pseudonym);
    expect(plan.sessions).toEqual(sessions);
    expect(plan.events).toEqual(events);
    expect(plan.counts).toEqual(counts);
    expect(plan.audit).toEqual({ action: 'USER_DATA_ERASED', actor: 'ops-admin', sessionId: '', userId: pseudonym, reason: erasureText(plan.counts) });
  });

  it('the event records the counts as JSON that tells itself apart from a policy change', () => {
    const text = erasureText({ sessions: 1, evidenceDeleted: 2, eventsRewritten: 3, eventsKept: 4 });
    expect(JSON.parse(text)).toEqual({ erased: { sessions: 1, evidenceDeleted: 2, eventsRewritten: 3, eventsKept: 4 } });
    expect(isErasureText(text)).toBe(true);
    expect(isErasureText('{"before":null,"after":null}')).toBe(false);
    expect(isErasureText('DIGEST_MISMATCH')).toBe(false);
  });

  it('the pseudonym is "erased:" and 12 hex digits of the user id\'s commitment, the same on sessions and events', () => {
    expect(PSEUDONYM).toMatch(/^erased:[0-9a-f]{12}$/);
    expect(PSEUDONYM).toBe(`erased:${c('alice').slice(0, 12)}`);
  });
});
