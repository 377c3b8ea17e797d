/**
 * The audit hash chain's encoding (src/audit/chain.ts), pinned to the worked example of docs/audit.md
 * so that the code and what partners are told cannot drift apart.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEncoding, chainHash, GENESIS_HASH, type ChainedFields } from '../../src/domain/audit/chain';

const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/audit.md'), 'utf8');

/** The two events of the worked example in docs/audit.md. */
const first: ChainedFields = {
  id: '0b6f1a52-3c1e-4d0a-9f63-2f8e4c1d7a10',
  tenant: 'acme',
  sequence: 1,
  at: new Date('2026-11-23T18:15:00.000Z'),
  action: 'SESSION_STARTED',
  actor: 'alice',
  sessionId: 'b5d2c8e4-6f1a-4b7e-9c3d-1a2b3c4d5e6f',
  userId: 'alice',
};
const second: ChainedFields = {
  id: '7c9e2d41-8a5b-4f3c-b2e1-0d9f8e7c6b5a',
  tenant: 'acme',
  sequence: 2,
  at: new Date('2026-11-23T18:15:04.250Z'),
  action: 'ATTEMPT_RECORDED',
  actor: 'system',
  sessionId: 'b5d2c8e4-6f1a-4b7e-9c3d-1a2b3c4d5e6f',
  userId: 'alice',
  attemptId: 1,
  digest: 'A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90',
};
const FIRST_CANONICAL =
  '["audit-v1","0b6f1a52-3c1e-4d0a-9f63-2f8e4c1d7a10","acme",1,"2026-11-23T18:15:00.000Z","SESSION_STARTED","alice","b5d2c8e4-6f1a-4b7e-9c3d-1a2b3c4d5e6f","alice",null,null,null]';
const FIRST_HASH = 'd328b9ed004797660028b00b13f13d05a43f5185266177bc864fd4e65bdcdb3d';
const SECOND_CANONICAL =
  '["audit-v1","7c9e2d41-8a5b-4f3c-b2e1-0d9f8e7c6b5a","acme",2,"2026-11-23T18:15:04.250Z","ATTEMPT_RECORDED","system","b5d2c8e4-6f1a-4b7e-9c3d-1a2b3c4d5e6f","alice",1,null,"A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"]';
const SECOND_HASH = '9b12fff2f5fa05f76096ec02c73cffe1192b3928a0d271c283e7d771f642c51f';

describe('the audit hash chain', () => {
  it('the first previousHash of a chain is 64 zeros', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('encodes an event as the documented JSON array, absent fields as null', () => {
    expect(canonicalEncoding(first)).toBe(FIRST_CANONICAL);
    expect(canonicalEncoding(second)).toBe(SECOND_CANONICAL);
  });

  it('hashes hex SHA-256 over previousHash, a newline and the canonical encoding', () => {
    expect(chainHash(GENESIS_HASH, first)).toBe(createHash('sha256').update(`${GENESIS_HASH}\n${FIRST_CANONICAL}`, 'utf8').digest('hex'));
    expect(chainHash(GENESIS_HASH, first)).toBe(FIRST_HASH);
    expect(chainHash(FIRST_HASH, second)).toBe(SECOND_HASH);
  });

  it('the worked example of docs/audit.md is exactly what the code computes', () => {
    for (const value of [FIRST_CANONICAL, FIRST_HASH, SECOND_CANONICAL, SECOND_HASH]) expect(docs).toContain(value);
  });

  it('changing any chained field, or the previous hash, changes the hash', () => {
    const base = chainHash(FIRST_HASH, second);
    const changes: Partial<ChainedFields>[] = [
      { id: '7c9e2d41-8a5b-4f3c-b2e1-0d9f8e7c6b5b' },
      { tenant: 'globex' },
      { sequence: 3 },
      { at: new Date(second.at.getTime() + 1) },
      { action: 'DECISION_REACHED' },
      { actor: 'mallory' },
      { sessionId: 'another-session' },
      { userId: 'bob' },
      { attemptId: 2 },
      { attemptId: undefined },
      { verdict: 'PASS' },
      { digest: second.digest!.toLowerCase() },
      { digest: undefined },
    ];
    const hashes = changes.map((change) => chainHash(FIRST_HASH, { ...second, ...change }));
    for (const hash of hashes) expect(hash).not.toBe(base);
    expect(new Set(hashes).size).toBe(changes.length);
    expect(chainHash(GENESIS_HASH, second)).not.toBe(base);
  });

  it('a field cannot leak into its neighbour: moving text between fields changes the encoding', () => {
    // A plain concatenation would encode ("ab", "c") and ("a", "bc") alike; JSON strings cannot.
    const a = canonicalEncoding({ ...first, actor: 'ab', sessionId: 'c' });
    const b = canonicalEncoding({ ...first, actor: 'a', sessionId: 'bc' });
    expect(a).not.toBe(b);
  });

  it('non-ASCII text is hashed as raw UTF-8, not as \\u escapes', () => {
    const event = { ...first, actor: 'zoë' };
    expect(canonicalEncoding(event)).toContain('"zoë"');
    expect(chainHash(GENESIS_HASH, event)).toBe(
      createHash('sha256').update(Buffer.from(`${GENESIS_HASH}\n${canonicalEncoding(event)}`, 'utf8')).digest('hex'),
    );
  });
});

describe('the audit-v2 encoding', () => {
  it('an event with evidence fields is encoded as audit-v2 with them appended, others stay audit-v1', () => {
    const flagged: ChainedFields = { ...second, reason: 'VERIFY_IMAGE_HASH_MISMATCH', verifyImageSha256: 'ab'.repeat(32), faceVerifyImageHash: 'CD'.repeat(32) };
    const encoded = JSON.parse(canonicalEncoding(flagged)) as unknown[];

    expect(encoded[0]).toBe('audit-v2');
    expect(encoded.slice(1, 12)).toEqual((JSON.parse(SECOND_CANONICAL) as unknown[]).slice(1));
    expect(encoded.slice(12)).toEqual(['VERIFY_IMAGE_HASH_MISMATCH', 'ab'.repeat(32), 'CD'.repeat(32)]);
    expect(canonicalEncoding(second)).toBe(SECOND_CANONICAL);
  });

  it('a v2 field absent beside a present one is null, and each of them changes the hash', () => {
    const started: ChainedFields = { ...first, verifyImageSha256: 'ab'.repeat(32) };
    expect(JSON.parse(canonicalEncoding(started))).toEqual(['audit-v2', ...JSON.parse(FIRST_CANONICAL).slice(1), null, 'ab'.repeat(32), null]);
    const base = chainHash(GENESIS_HASH, started);
    expect(chainHash(GENESIS_HASH, { ...started, verifyImageSha256: 'ac'.repeat(32) })).not.toBe(base);
    expect(chainHash(GENESIS_HASH, { ...started, reason: 'DIGEST_MISMATCH' })).not.toBe(base);
    expect(chainHash(GENESIS_HASH, { ...started, faceVerifyImageHash: 'AB'.repeat(32) })).not.toBe(base);
  });
});
