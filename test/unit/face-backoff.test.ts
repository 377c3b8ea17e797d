/**
 * The Face adapter's waits between tries (src/adapters/face/face-call.ts): a jittered backoff that doubles
 * per attempt up to a cap, and every form of `Retry-After` Azure sends. The end-to-end tests
 * (face-resilience) time the first wait only; these pin the rest.
 */
import { describe, expect, it } from 'vitest';
import { backoffMillis, retryAfterSecondsOf } from '../../src/adapters/face/face-call';

describe('the backoff between tries', () => {
  it('doubles per attempt from 200 ms up to 2 s, each wait within ±25% of its base', () => {
    const bases = [200, 400, 800, 1600, 2000, 2000, 2000];
    bases.forEach((base, attempt) => {
      const waits = Array.from({ length: 500 }, () => backoffMillis(attempt));
      expect(Math.min(...waits), `attempt ${attempt}`).toBeGreaterThanOrEqual(base * 0.75);
      expect(Math.max(...waits), `attempt ${attempt}`).toBeLessThanOrEqual(base * 1.25);
    });
  });

  it('is jittered: waits for the same attempt differ, spread over both sides of the base', () => {
    const waits = Array.from({ length: 500 }, () => backoffMillis(2));
    expect(new Set(waits).size).toBeGreaterThan(50);
    expect(waits.some((wait) => wait < 750)).toBe(true);
    expect(waits.some((wait) => wait > 850)).toBe(true);
  });
});

describe('Retry-After, in every form Azure sends', () => {
  it('reads whole and fractional seconds, rounding up', () => {
    expect(retryAfterSecondsOf({ 'retry-after': '3' })).toBe(3);
    expect(retryAfterSecondsOf({ 'retry-after': '0.2' })).toBe(1);
    expect(retryAfterSecondsOf({ 'retry-after': '0' })).toBe(0);
  });

  it('reads an HTTP date as the seconds until it, and a past date as 0', () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const seconds = retryAfterSecondsOf({ 'retry-after': inTenSeconds });
    expect(seconds).toBeGreaterThanOrEqual(9);
    expect(seconds).toBeLessThanOrEqual(11);
    expect(retryAfterSecondsOf({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })).toBe(0);
  });

  it('prefers the millisecond headers, rounded up to seconds', () => {
    expect(retryAfterSecondsOf({ 'retry-after-ms': '1500', 'retry-after': '9' })).toBe(2);
    expect(retryAfterSecondsOf({ 'x-ms-retry-after-ms': '250' })).toBe(1);
  });

  it('ignores what it cannot read', () => {
    expect(retryAfterSecondsOf({})).toBeUndefined();
    expect(retryAfterSecondsOf({ 'retry-after': '' })).toBeUndefined();
    expect(retryAfterSecondsOf({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterSecondsOf({ 'retry-after': '-5' })).toBeUndefined();
  });
});
