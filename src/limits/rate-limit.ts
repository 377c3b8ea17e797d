/**
 * Rate limits: named rules ("10 session starts a minute per user") counted in a shared counter.
 *
 * The counting is GCRA (the generic cell rate algorithm, the token bucket written as one timestamp
 * per key): a rule of `limit` per `windowMillis` admits a burst of `limit` at once, then one more
 * every `windowMillis / limit`; after a quiet `windowMillis` the whole burst is available again. A
 * refused hit costs nothing, so a caller that keeps knocking still gets its fair rate, never more.
 *
 * One key holds one number (its "theoretical arrival time"), which is what makes the counter easy to
 * share: the in-process adapter below serves one gateway; a Redis adapter for several instances
 * implements `RateLimitCounter.hit` as one Lua script (GET the key, compute as in `gcra`, SET it with
 * PX = the new time minus now), atomic per key, with the caller's clock or Redis `TIME`.
 */

/** `limit` hits per `windowMillis`; a `limit` of 0 switches the rule off. */
export interface RateRule {
  limit: number;
  windowMillis: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMillis: number };

/** The shared counters behind the limits. Implementations must make `hit` atomic per key. */
export interface RateLimitCounter {
  /** Counts one hit of `key` under `rule` at `nowMillis`, or says how long until one would be allowed. */
  hit(key: string, rule: RateRule, nowMillis: number): Promise<RateDecision>;
}

/**
 * The rule applied to one key's stored time (`undefined`: never seen, or long quiet). Returns the
 * decision and, when allowed, the time to store; the key may be forgotten at that time.
 */
export function gcra(storedMillis: number | undefined, rule: RateRule, nowMillis: number): { decision: RateDecision; store?: number } {
  if (rule.limit <= 0) return { decision: { allowed: true } };
  const interval = rule.windowMillis / rule.limit;
  const arrival = Math.max(storedMillis ?? nowMillis, nowMillis);
  const next = arrival + interval;
  const allowedFrom = next - rule.windowMillis;
  if (nowMillis < allowedFrom) return { decision: { allowed: false, retryAfterMillis: allowedFrom - nowMillis } };
  return { decision: { allowed: true }, store: next };
}

const SWEEP_EVERY_MILLIS = 60_000;

/** The in-process counter: exact for one gateway instance; with several, each counts on its own. */
export function createInMemoryRateLimitCounter(): RateLimitCounter {
  const arrivals = new Map<string, number>();
  let nextSweep = 0;
  return {
    async hit(key, rule, nowMillis) {
      if (nowMillis >= nextSweep) {
        // A key whose time has passed is as good as unseen: forget it, so memory follows live callers.
        for (const [stale, at] of arrivals) if (at <= nowMillis) arrivals.delete(stale);
        nextSweep = nowMillis + SWEEP_EVERY_MILLIS;
      }
      const { decision, store } = gcra(arrivals.get(key), rule, nowMillis);
      if (store !== undefined) arrivals.set(key, store);
      return decision;
    },
  };
}
