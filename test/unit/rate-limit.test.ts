/**
 * The rate limit rules: GCRA admits a burst of `limit`, then one more every `window / limit`, and the
 * whole burst again after a quiet window; a refusal says how long to wait and costs nothing. Also
 * which address a request counts under.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors';
import { addressKey, clientAddress } from '../../src/transport/client-address';
import { RateLimits } from '../../src/domain/limits/limits';
import { createInMemoryRateLimitCounter, type RateDecision, type RateLimitCounter, type RateRule } from '../../src/domain/limits/rate-limit';

const TEN_A_MINUTE: RateRule = { limit: 10, windowMillis: 60_000 };

/** One key's hit: `hitAll` of one, in the shape of one rule's decision. */
async function hitOne(counter: RateLimitCounter, key: string, rule: RateRule, at: number): Promise<RateDecision> {
  const decision = await counter.hitAll([{ key, rule }], at);
  return decision.allowed ? decision : { allowed: false, retryAfterMillis: decision.retryAfterMillis };
}

async function hits(rule: RateRule, times: number, at: number, counter = createInMemoryRateLimitCounter(), key = 'k') {
  const decisions = [];
  for (let i = 0; i < times; i += 1) decisions.push(await hitOne(counter, key, rule, at));
  return decisions;
}

describe('the counter', () => {
  it('allows a burst of exactly the limit at once and refuses the next', async () => {
    const decisions = await hits(TEN_A_MINUTE, 11, 1_000_000);
    expect(decisions.slice(0, 10).every((decision) => decision.allowed)).toBe(true);
    expect(decisions[10]).toEqual({ allowed: false, retryAfterMillis: 6_000 });
  });

  it('frees one more start every window / limit after a burst', async () => {
    const counter = createInMemoryRateLimitCounter();
    await hits(TEN_A_MINUTE, 10, 0, counter);
    expect(await hitOne(counter, 'k', TEN_A_MINUTE, 5_999)).toEqual({ allowed: false, retryAfterMillis: 1 });
    expect(await hitOne(counter, 'k', TEN_A_MINUTE, 6_000)).toEqual({ allowed: true });
    expect((await hitOne(counter, 'k', TEN_A_MINUTE, 6_000)).allowed).toBe(false);
  });

  it('gives the whole burst back after a quiet window', async () => {
    const counter = createInMemoryRateLimitCounter();
    await hits(TEN_A_MINUTE, 10, 0, counter);
    const later = await hits(TEN_A_MINUTE, 11, 60_000, counter);
    expect(later.filter((decision) => decision.allowed)).toHaveLength(10);
  });

  it('does not charge refused hits: hammering does not push the next slot further away', async () => {
    const counter = createInMemoryRateLimitCounter();
    await hits(TEN_A_MINUTE, 10, 0, counter);
    for (let i = 0; i < 1_000; i += 1) await hitOne(counter, 'k', TEN_A_MINUTE, 1_000);
    expect(await hitOne(counter, 'k', TEN_A_MINUTE, 6_000)).toEqual({ allowed: true });
  });

  it('counts keys apart', async () => {
    const counter = createInMemoryRateLimitCounter();
    await hits(TEN_A_MINUTE, 10, 0, counter, 'alice');
    expect(await hitOne(counter, 'bob', TEN_A_MINUTE, 0)).toEqual({ allowed: true });
    expect((await hitOne(counter, 'alice', TEN_A_MINUTE, 0)).allowed).toBe(false);
  });

  it('a limit of 0 switches the rule off', async () => {
    const decisions = await hits({ limit: 0, windowMillis: 60_000 }, 1_000, 0);
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
  });
});

describe('RateLimits', () => {
  const settings = {
    userStarts: { limit: 3, windowMillis: 60_000 },
    deviceStarts: { limit: 2, windowMillis: 60_000 },
    unauthenticatedRequests: { limit: 1, windowMillis: 60_000 },
  };

  async function refusalOf(check: () => Promise<void>): Promise<DomainError> {
    try {
      await check();
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      return error as DomainError;
    }
    throw new Error('expected RATE_LIMITED');
  }

  it('refuses the user past its starts with RATE_LIMITED and a whole retryAfterSeconds of at least 1', async () => {
    const limits = new RateLimits(createInMemoryRateLimitCounter(), settings, () => 0);
    for (let i = 0; i < 3; i += 1) await limits.sessionStart({ tenant: 'acme', userId: 'alice' });
    const error = await refusalOf(() => limits.sessionStart({ tenant: 'acme', userId: 'alice' }));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.extensions).toEqual({ retryAfterSeconds: 20 });
    await limits.sessionStart({ tenant: 'acme', userId: 'bob' });
    await limits.sessionStart({ tenant: 'other', userId: 'alice' });
  });

  it("refuses a user's device past its starts; another user on the same device is not limited by them", async () => {
    const limits = new RateLimits(createInMemoryRateLimitCounter(), settings, () => 0);
    await limits.sessionStart({ tenant: 'acme', userId: 'mallory' }, 'phone-1');
    await limits.sessionStart({ tenant: 'acme', userId: 'mallory' }, 'phone-1');
    const error = await refusalOf(() => limits.sessionStart({ tenant: 'acme', userId: 'mallory' }, 'phone-1'));
    expect(error.message).toMatch(/this device/);
    await limits.sessionStart({ tenant: 'acme', userId: 'alice' }, 'phone-1');
    await limits.sessionStart({ tenant: 'acme', userId: 'alice' }, 'phone-1');
  });

  it('counts a start for its user and its device, or for neither: a start refused for one uses up nothing of the other', async () => {
    const refused: string[] = [];
    const limits = new RateLimits(createInMemoryRateLimitCounter(), settings, () => 0, (rule) => refused.push(rule));
    const alice = { tenant: 'acme', userId: 'alice' };
    await limits.sessionStart(alice, 'phone-1');
    await limits.sessionStart(alice, 'phone-1');
    // phone-1 has had its 2; refused for the device, however often, these take none of alice's 3.
    for (let i = 0; i < 5; i += 1) expect((await refusalOf(() => limits.sessionStart(alice, 'phone-1'))).message).toMatch(/this device/);
    await limits.sessionStart(alice, 'phone-2');
    // Now refused for alice; phone-3 is not counted, so bob can still start on it twice.
    for (let i = 0; i < 3; i += 1) expect((await refusalOf(() => limits.sessionStart(alice, 'phone-3'))).message).toMatch(/this user/);
    await limits.sessionStart({ tenant: 'acme', userId: 'bob' }, 'phone-3');
    await limits.sessionStart({ tenant: 'acme', userId: 'bob' }, 'phone-3');
    expect(refused).toEqual([...Array<string>(5).fill('device_starts'), ...Array<string>(3).fill('user_starts')]);
  });

  it('rounds a sub-second wait up to 1 second', async () => {
    let now = 0;
    const limits = new RateLimits(createInMemoryRateLimitCounter(), settings, () => now);
    await limits.unauthenticatedRequest('192.0.2.1');
    now = 59_999;
    const error = await refusalOf(() => limits.unauthenticatedRequest('192.0.2.1'));
    expect(error.extensions).toEqual({ retryAfterSeconds: 1 });
  });
});

describe('the client address', () => {
  const request = (remoteAddress: string, forwardedFor?: string) =>
    ({ socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress(request('198.51.100.7', '203.0.113.9'), 0)).toBe('198.51.100.7');
  });

  it('is read from the right of X-Forwarded-For, one entry per trusted proxy', () => {
    const forged = request('10.0.0.2', '1.1.1.1, 203.0.113.9, 10.0.0.1');
    expect(clientAddress(forged, 1)).toBe('10.0.0.1');
    expect(clientAddress(forged, 2)).toBe('203.0.113.9');
  });

  it('falls back to the leftmost entry when fewer hops are present than trusted', () => {
    expect(clientAddress(request('10.0.0.2', '203.0.113.9'), 3)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.2'), 1)).toBe('10.0.0.2');
  });

  it('counts IPv6 by its /64 and IPv4-mapped IPv6 as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });
});
