/** Session images at rest: sealed with AES-256-GCM, bound to their tenant, session and attempt. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ImageSealer } from '../../src/domain/evidence/image-sealer';

const identity = { tenant: 'acme', sessionId: 'session-1', attemptId: 1 };
const image = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(200), Buffer.from([0xff, 0xd9])]);

describe('the image sealer', () => {
  const sealer = new ImageSealer(randomBytes(32));

  it('opens what it sealed, and the sealed text holds nothing of the image', () => {
    const sealed = sealer.seal(image, identity);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain(image.toString('base64url').slice(0, 12));
    expect(sealer.open(sealed, identity).equals(image)).toBe(true);
  });

  it('seals the same image differently every time (a fresh IV)', () => {
    expect(sealer.seal(image, identity)).not.toBe(sealer.seal(image, identity));
  });

  it.each([
    ['another tenant', { ...identity, tenant: 'globex' }],
    ['another session', { ...identity, sessionId: 'session-2' }],
    ['another attempt', { ...identity, attemptId: 2 }],
  ])('refuses to open it as the image of %s', (_what, other) => {
    expect(() => sealer.open(sealer.seal(image, identity), other)).toThrow();
  });

  it('refuses another key, and an altered ciphertext', () => {
    const sealed = sealer.seal(image, identity);
    expect(() => new ImageSealer(randomBytes(32)).open(sealed, identity)).toThrow();
    const [version, iv, ciphertext, tag] = sealed.split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0] ^= 1;
    expect(() => sealer.open([version, iv, flipped.toString('base64url'), tag].join('.'), identity)).toThrow();
  });

  it('takes only a 32-byte key', () => {
    expect(() => new ImageSealer(randomBytes(16))).toThrow('The evidence key must be 32 bytes.');
  });
});
