/**
 * The "audit-v3" encoding (src/domain/audit/chain.ts, personal-fields.ts): personal fields enter the
 * hash as commitments under the user's salt, so erasing the clear values changes no hash; pinned to
 * the worked example of docs/audit.md ("Personal fields and erasure").
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEncoding, chainEvents, chainHash, GENESIS_HASH, type ChainedFields } from '../../src/domain/audit/chain';
import { commitment, commitmentsFor, personalFieldsProblem, personalUserOf, pseudonymOf } from '../../src/domain/audit/personal-fields';
import type { AuditDraft } from '../../src/domain/audit/audit.model';

const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/audit.md'), 'utf8');

const SALT = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff';
const IMAGE_SHA256 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const ALICE_COMMITMENT = '19cdcbf02932a72cee2eec744492a15c2f34ea28c4a007161aac2bf6e304ee9d';
const IMAGE_COMMITMENT = 'eaf8b0fa293106be48392dfb16ee6ecf2f12c3bcee653e9fe712223f88e18727';
const PSEUDONYM = 'erased:19cdcbf02932';

const started: AuditDraft = { action: 'SESSION_STARTED', actor: 'alice', sessionId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f', userId: 'alice', verifyImageSha256: IMAGE_SHA256 };
const first: ChainedFields = {
  ...started,
  ...commitmentsFor(started, SALT),
  id: '3f2a9c1e-5b7d-4e8f-a1c2-d3e4f5a6b7c8',
  tenant: 'globex',
  sequence: 1,
  at: new Date('2026-12-01T09:30:00.000Z'),
};
const FIRST_CANONICAL =
  '["audit-v3","3f2a9c1e-5b7d-4e8f-a1c2-d3e4f5a6b7c8","globex",1,"2026-12-01T09:30:00.000Z","SESSION_STARTED",null,"19cdcbf02932a72cee2eec744492a15c2f34ea28c4a007161aac2bf6e304ee9d","c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","19cdcbf02932a72cee2eec744492a15c2f34ea28c4a007161aac2bf6e304ee9d",null,null,null,null,"eaf8b0fa293106be48392dfb16ee6ecf2f12c3bcee653e9fe712223f88e18727",null]';
const FIRST_HASH = 'b41e4b4b60e7fac60da7351c39774dfda956c552f6d7de6984b781dc180e1a9e';
const erased: ChainedFields = {
  id: '8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968',
  tenant: 'globex',
  sequence: 2,
  at: new Date('2026-12-02T10:00:00.000Z'),
  action: 'USER_DATA_ERASED',
  actor: 'ops-admin',
  sessionId: '',
  userId: PSEUDONYM,
  reason: '{"erased":{"sessions":1,"evidenceDeleted":0,"eventsRewritten":1,"eventsKept":0}}',
};
const SECOND_CANONICAL =
  '["audit-v2","8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968","globex",2,"2026-12-02T10:00:00.000Z","USER_DATA_ERASED","ops-admin","","erased:19cdcbf02932",null,null,null,"{\\"erased\\":{\\"sessions\\":1,\\"evidenceDeleted\\":0,\\"eventsRewritten\\":1,\\"eventsKept\\":0}}",null,null]';
const SECOND_HASH = 'ab2aea329c2e9d5df93b7ea275ab06457472434fb0eca7001d354dd16f607d9a';

describe('the audit-v3 encoding', () => {
  it('a commitment is hex HMAC-SHA256 of the UTF-8 value under the 32 salt bytes', () => {
    expect(commitment(SALT, 'alice')).toBe(createHmac('sha256', Buffer.from(SALT, 'hex')).update('alice').digest('hex'));
    expect(commitment(SALT, 'alice')).toBe(ALICE_COMMITMENT);
    expect(commitment(SALT, IMAGE_SHA256)).toBe(IMAGE_COMMITMENT);
    expect(commitment('00'.repeat(32), 'alice')).not.toBe(ALICE_COMMITMENT);
  });

  it('commits the user id always, the actor only when it is the user, the image hashes when present', () => {
    expect(commitmentsFor(started, SALT)).toEqual({ actorCommitment: ALICE_COMMITMENT, userIdCommitment: ALICE_COMMITMENT, verifyImageSha256Commitment: IMAGE_COMMITMENT });
    expect(commitmentsFor({ action: 'ATTEMPT_RECORDED', actor: 'system', sessionId: 's', userId: 'alice' }, SALT)).toEqual({ userIdCommitment: ALICE_COMMITMENT });
    expect(commitmentsFor({ action: 'ATTEMPT_RECORDED', actor: 'system', sessionId: 's', userId: 'alice', faceVerifyImageHash: 'F00D' }, SALT)).toEqual({
      userIdCommitment: ALICE_COMMITMENT,
      faceVerifyImageHashCommitment: commitment(SALT, 'F00D'),
    });
  });

  it('a pseudonym, an empty user id, or no user has no salt and no commitments', () => {
    expect(personalUserOf({ userId: 'alice' })).toBe('alice');
    expect(personalUserOf({ userId: PSEUDONYM })).toBeUndefined();
    expect(personalUserOf({ userId: '' })).toBeUndefined();
    const [event] = chainEvents('globex', { sequence: 1, hash: FIRST_HASH }, [{ action: 'USER_DATA_ERASED', actor: 'ops-admin', sessionId: '', userId: PSEUDONYM }], new Date(0), () => 'id', () => {
      throw new Error('no salt is asked for a pseudonym');
    });
    expect(event.userIdCommitment).toBeUndefined();
    expect(canonicalEncoding(event).startsWith('["audit-v1",')).toBe(true);
  });

  it('encodes the worked example of docs/audit.md as documented, and hashes it to the documented hashes', () => {
    expect(canonicalEncoding(first)).toBe(FIRST_CANONICAL);
    expect(chainHash(GENESIS_HASH, first)).toBe(createHash('sha256').update(`${GENESIS_HASH}\n${FIRST_CANONICAL}`, 'utf8').digest('hex'));
    expect(chainHash(GENESIS_HASH, first)).toBe(FIRST_HASH);
    expect(pseudonymOf(ALICE_COMMITMENT)).toBe(PSEUDONYM);
    expect(canonicalEncoding(erased)).toBe(SECOND_CANONICAL);
    expect(chainHash(FIRST_HASH, erased)).toBe(SECOND_HASH);
    for (const value of [SALT, IMAGE_SHA256, ALICE_COMMITMENT, IMAGE_COMMITMENT, PSEUDONYM, FIRST_CANONICAL, FIRST_HASH, SECOND_CANONICAL, SECOND_HASH]) expect(docs).toContain(value);
  });

  it('erasing the clear values (the user id and actor to the pseudonym, the image hash gone) leaves the hash as it was', () => {
    const afterErasure: ChainedFields = { ...first, userId: PSEUDONYM, actor: PSEUDONYM, verifyImageSha256: undefined };
    expect(chainHash(GENESIS_HASH, afterErasure)).toBe(FIRST_HASH);
  });

  it('changing a commitment, or any other chained field, changes the hash', () => {
    const changes: Partial<ChainedFields>[] = [
      { userIdCommitment: commitment(SALT, 'bob') },
      { actorCommitment: undefined },
      { verifyImageSha256Commitment: undefined },
      { faceVerifyImageHashCommitment: IMAGE_COMMITMENT },
      { sessionId: 'another' },
      { action: 'SESSION_DELETED' },
      { at: new Date(first.at.getTime() + 1) },
    ];
    for (const change of changes) expect(chainHash(GENESIS_HASH, { ...first, ...change }), JSON.stringify(change)).not.toBe(FIRST_HASH);
  });

  it('the actor of a staff member or of the system is chained in clear', () => {
    const draft: AuditDraft = { action: 'SESSION_DELETED', actor: 'ops-admin', sessionId: 's', userId: 'alice' };
    const event: ChainedFields = { ...draft, ...commitmentsFor(draft, SALT), id: 'i', tenant: 'globex', sequence: 3, at: new Date(0) };
    expect(JSON.parse(canonicalEncoding(event)).slice(6, 8)).toEqual(['ops-admin', null]);
    expect(chainHash(GENESIS_HASH, event)).not.toBe(chainHash(GENESIS_HASH, { ...event, actor: 'mallory' }));
  });
});

describe('the clear values of a v3 event against its commitments', () => {
  const stored = { ...first };
  const cases: { name: string; event: Partial<ChainedFields>; salt?: string; problem?: RegExp }[] = [
    { name: 'clear values that match, salt stored', event: {}, salt: SALT },
    { name: 'an edited user id, salt stored', event: { userId: 'bob' }, salt: SALT, problem: /userId does not match/ },
    { name: 'an edited actor, salt stored', event: { actor: 'mallory' }, salt: SALT, problem: /actor does not match/ },
    { name: 'a removed image hash, salt stored', event: { verifyImageSha256: undefined }, salt: SALT, problem: /verifyImageSha256 does not match/ },
    { name: 'an edited image hash, salt stored', event: { verifyImageSha256: '00'.repeat(32) }, salt: SALT, problem: /verifyImageSha256 does not match/ },
    { name: 'an erased user: pseudonyms, no image hash, no salt', event: { userId: PSEUDONYM, actor: PSEUDONYM, verifyImageSha256: undefined } },
    { name: 'the user id and actor in clear but no salt (the salt row deleted)', event: {}, problem: /actor is neither its user's/ },
    { name: 'a wrong pseudonym, no salt', event: { userId: 'erased:000000000000', actor: PSEUDONYM, verifyImageSha256: undefined }, problem: /userId is neither/ },
    { name: 'an image hash left in clear, no salt', event: { userId: PSEUDONYM, actor: PSEUDONYM }, problem: /verifyImageSha256 is kept in clear/ },
  ];
  it.each(cases)('$name', ({ event, salt, problem }) => {
    const found = personalFieldsProblem({ ...stored, ...event }, salt);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });
});
