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
 * implements `RateLimitCounter.hitAll` as one Lua script (GET the keys, compute as in `gcra`, SET
 * them with PX = the new time minus now), atomic across its keys, with the caller's clock.
 *
 * Several rules can apply to one action (a session start counts for its user and for its device):
 * `hitAll` counts the action under every key, or under none when any refuses, so a start refused
 * for its device does not use up one of its user's starts.
 */

/** `limit` hits per `windowMillis`; a `limit` of 0 switches the rule off. */
export interface RateRule {
  limit: number;
  windowMillis: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMillis: number };

/** One key an action counts under, and the rule it is counted by. */
export interface RateHit {
  key: string;
  rule: RateRule;
}

/** Counted under every key; or refused, naming the first hit (by index) that refused and its wait. */
export type RateDecisions = { allowed: true } | { allowed: false; refused: number; retryAfterMillis: number };

/** The shared counters behind the limits. Implementations must make `hitAll` atomic across its keys. */
export interface RateLimitCounter {
  /**
   * Counts one hit of every key at `nowMillis` when every rule allows it, and none when one refuses
   * (then it says which, and how long until it would be allowed).
   */
  hitAll(hits: readonly RateHit[], nowMillis: number): Promise<RateDecisions>;
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
    async hitAll(hits, nowMillis) {
      if (nowMillis >= nextSweep) {
        // A key whose time has passed is as good as unseen: forget it, so memory follows live callers.
        for (const [stale, at] of arrivals) if (at <= nowMillis) arrivals.delete(stale);
        nextSweep = nowMillis + SWEEP_EVERY_MILLIS;
      }
      const stores: [string, number][] = [];
      for (const [index, { key, rule }] of hits.entries()) {
        const { decision, store } = gcra(arrivals.get(key), rule, nowMillis);
        if (!decision.allowed) return { allowed: false, refused: index, retryAfterMillis: decision.retryAfterMillis };
        if (store !== undefined) stores.push([key, store]);
      }
      for (const [key, store] of stores) arrivals.set(key, store);
      return { allowed: true };
    },
  };
}
