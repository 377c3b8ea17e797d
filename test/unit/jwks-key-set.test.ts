/**
 * When the JWKS key set is fetched (src/auth/jwks-key-set.ts): on a schedule, and for unknown `kid`s
 * at most once per interval overall, each lookup seeing a set fetched after it asked.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwksKeySet, type JwksKey } from '../../src/auth/jwks-key-set';

const key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

function keySet(initial: JwksKey[], options: { refreshMillis?: number; missRefetchMillis?: number } = {}) {
  let keys = initial;
  let loads = 0;
  let failing = false;
  const set = new JwksKeySet({
    load: async () => {
      loads += 1;
      if (failing) throw new Error('down');
      return keys;
    },
    refreshMillis: options.refreshMillis ?? 60_000,
    missRefetchMillis: options.missRefetchMillis ?? 100,
  });
  return {
    set,
    loads: () => loads,
    publish: (next: JwksKey[]) => (keys = next),
    fail: (value: boolean) => (failing = value),
  };
}

describe('JWKS key set', () => {
  it('a thousand unknown kids at once cost one fetch, and each is refused', async () => {
    const known = key();
    const jwks = keySet([{ kid: 'a', publicKey: known }]);
    expect(await jwks.set.find('a')).toBe(known);
    const answers = await Promise.all(Array.from({ length: 1_000 }, (_, i) => jwks.set.find(`made-up-${i}`)));
    expect(answers.every((answer) => answer === undefined)).toBe(true);
    expect(jwks.loads()).toBe(2);
    expect(await jwks.set.find('a')).toBe(known);
    expect(jwks.loads()).toBe(2);
  });

  it('a kid published right after a miss-triggered fetch is found by the next fetch', async () => {
    const jwks = keySet([{ kid: 'a', publicKey: key() }]);
    await jwks.set.find('made-up');
    const rotated = key();
    jwks.publish([{ kid: 'a', publicKey: key() }, { kid: 'b', publicKey: rotated }]);
    expect(await jwks.set.find('b')).toBe(rotated);
  });

  it('a token without kid uses the only key of a one-key set, and none of a larger set', async () => {
    const only = key();
    const jwks = keySet([{ publicKey: only }]);
    expect(await jwks.set.find(undefined)).toBe(only);
    jwks.publish([{ kid: 'a', publicKey: key() }, { kid: 'b', publicKey: key() }]);
    await jwks.set.find('b');
    expect(await jwks.set.find(undefined)).toBeUndefined();
  });

  it('is fetched again once older than the refresh interval; a failed fetch keeps the keys known', async () => {
    const first = key();
    const jwks = keySet([{ kid: 'a', publicKey: first }], { refreshMillis: 50, missRefetchMillis: 10 });
    expect(await jwks.set.find('a')).toBe(first);
    jwks.fail(true);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await jwks.set.find('a')).toBe(first);
    jwks.fail(false);
    jwks.publish([{ kid: 'b', publicKey: key() }]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await jwks.set.find('a')).toBeUndefined();
  });
});
