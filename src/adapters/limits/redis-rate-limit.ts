/**
 * Rate-limit counters shared by every gateway instance through Redis: the same GCRA rule as
 * `gcra()` in rate-limit.ts, run as one Lua script so the hits of one action are counted at once,
 * under all their keys or none. The caller's clock is used (instances are expected to agree within a
 * second, as NTP keeps them).
 */
import type Redis from 'ioredis';
import { createInMemoryRateLimitCounter, type RateLimitCounter } from '../../domain/limits/rate-limit';

// KEYS = the keys; ARGV = nowMillis, then limit and windowMillis of each key in turn. Returns
// {0, 0} when every key allows (all counted), else {i, wait in ms} of the first key that refuses
// (none counted).
const GCRA_SCRIPT = `
local now = tonumber(ARGV[1])
local arrivals = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local stored = tonumber(redis.call('GET', key) or now)
  local nextArrival = math.max(stored, now) + window / limit
  local allowedFrom = nextArrival - window
  if now < allowedFrom then
    return {i, math.ceil(allowedFrom - now)}
  end
  arrivals[i] = nextArrival
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(arrivals[i]), 'PX', math.max(1, math.ceil(arrivals[i] - now)))
end
return {0, 0}
`;

/**
 * While Redis does not answer, hits are counted in this process instead (`fallback`): limits then hold
 * per instance, as with a single gateway, rather than failing every start or going unlimited.
 */
export function createRedisRateLimitCounter(
  redis: Redis,
  keyPrefix: string,
  fallback: RateLimitCounter = createInMemoryRateLimitCounter(),
  onFallback: (error: unknown) => void = () => undefined,
): RateLimitCounter {
  return {
    async hitAll(hits, nowMillis) {
      // A rule switched off (limit 0) allows everything and keeps nothing.
      const counted = hits.map((hit, index) => ({ ...hit, index })).filter(({ rule }) => rule.limit > 0);
      if (counted.length === 0) return { allowed: true };
      let answer: [number, number];
      try {
        answer = (await redis.eval(
          GCRA_SCRIPT,
          counted.length,
          ...counted.map(({ key }) => `${keyPrefix}ratelimit:${key}`),
          nowMillis,
          ...counted.flatMap(({ rule }) => [rule.limit, rule.windowMillis]),
        )) as [number, number];
      } catch (error) {
        onFallback(error);
        return fallback.hitAll(hits, nowMillis);
      }
      const [refused, wait] = answer.map(Number);
      return refused === 0 ? { allowed: true } : { allowed: false, refused: counted[refused - 1].index, retryAfterMillis: wait };
    },
  };
}
