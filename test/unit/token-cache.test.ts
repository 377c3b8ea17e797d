/**
 * The verified-token cache (src/auth/verified-token-cache.ts) behind `createTokenVerifier`: a token
 * verified once is served from memory, but never past the moment the verifier itself would refuse it.
 * The clock is moved with fake timers (Date only), which jsonwebtoken reads as well.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier } from '../../src/auth/jwt';
import { VerifiedTokenCache } from '../../src/auth/verified-token-cache';

const SECRET = randomBytes(32).toString('hex');
const KEY = { kind: 'secret', secret: SECRET, generated: false } as const;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

function sign(claims: Record<string, unknown>, options: jwt.SignOptions = {}, secret = SECRET): string {
  return jwt.sign({ roles: ['user'], tenant: 'acme', ...claims }, secret, { algorithm: 'HS256', subject: 'alice', ...options });
}

async function refused(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (error: { code?: string }) => error.code ?? String(error),
  );
}

describe('verified-token cache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a cached token is refused from the moment it expires (exp plus the tolerance), not a millisecond later', async () => {
    const verifier = createTokenVerifier(KEY, { clockToleranceSeconds: 5 });
    const token = sign({}, { expiresIn: 60 });
    expect((await verifier.verify(token)).userId).toBe('alice');
    vi.setSystemTime(T0 + 65_000 - 1);
    expect((await verifier.verify(token)).userId).toBe('alice');
    vi.setSystemTime(T0 + 65_000);
    expect(await refused(verifier.verify(token))).toBe('UNAUTHENTICATED');
    // And it stays refused: the expired entry is gone, not revived.
    expect(await refused(verifier.verify(token))).toBe('UNAUTHENTICATED');
  });

  it('a cached token is refused once it passes the maximum age, which exp may not outlast', async () => {
    const verifier = createTokenVerifier(KEY, { clockToleranceSeconds: 0, maxAgeSeconds: 30 });
    expect(await refused(verifier.verify(sign({}, { expiresIn: 3600 })))).toBe('UNAUTHENTICATED');
    const token = sign({}, { expiresIn: 30 });
    expect((await verifier.verify(token)).userId).toBe('alice');
    vi.setSystemTime(T0 + 29_999);
    expect((await verifier.verify(token)).userId).toBe('alice');
    vi.setSystemTime(T0 + 30_000);
    expect(await refused(verifier.verify(token))).toBe('UNAUTHENTICATED');
  });

  it('a cached token with nbf is refused again if the clock is set back before nbf', async () => {
    const verifier = createTokenVerifier(KEY, { clockToleranceSeconds: 0 });
    const token = sign({ nbf: T0 / 1000 + 10 }, { expiresIn: 3600 });
    expect(await refused(verifier.verify(token))).toBe('UNAUTHENTICATED');
    vi.setSystemTime(T0 + 10_000);
    expect((await verifier.verify(token)).userId).toBe('alice');
    vi.setSystemTime(T0 + 9_000);
    expect(await refused(verifier.verify(token))).toBe('UNAUTHENTICATED');
  });

  it('a token differing in its signature is verified anew and refused, even while the real one is cached', async () => {
    const verifier = createTokenVerifier(KEY);
    const token = sign({}, { expiresIn: 600 });
    await verifier.verify(token);
    const [header, payload] = token.split('.');
    const forged = sign({ roles: ['admin'] }, { expiresIn: 600 }, randomBytes(32).toString('hex')).split('.')[2];
    expect(await refused(verifier.verify(`${header}.${payload}.${forged}`))).toBe('UNAUTHENTICATED');
    const adminPayload = sign({ roles: ['admin'] }, { expiresIn: 600 }).split('.')[1];
    expect(await refused(verifier.verify(`${header}.${adminPayload}.${token.split('.')[2]}`))).toBe('UNAUTHENTICATED');
  });

  it('a refused token is never remembered: it is refused on every try', async () => {
    const verifier = createTokenVerifier(KEY);
    const foreign = sign({}, { expiresIn: 600 }, randomBytes(32).toString('hex'));
    for (let i = 0; i < 3; i += 1) expect(await refused(verifier.verify(foreign))).toBe('UNAUTHENTICATED');
  });

  it('the viewer served from the cache is frozen, so one request cannot change another request\'s viewer', async () => {
    const verifier = createTokenVerifier(KEY);
    const token = sign({ roles: ['user'] }, { expiresIn: 600 });
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.roles)).toBe(true);
  });

  it('keeps at most its size, least recently used out first', () => {
    const cache = new VerifiedTokenCache(2, () => T0);
    const entry = (userId: string) => ({ viewer: { userId, tenant: 'acme', roles: ['USER' as const], expiresAtMillis: T0 + 60_000 }, validFromMillis: -Infinity });
    cache.set('a', entry('a'));
    cache.set('b', entry('b'));
    expect(cache.get('a')?.userId).toBe('a'); // a is now the most recent
    cache.set('c', entry('c'));
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.userId).toBe('a');
    expect(cache.get('c')?.userId).toBe('c');
  });
});
