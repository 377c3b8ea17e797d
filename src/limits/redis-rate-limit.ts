/**
 * Rate-limit counters shared by every gateway instance through Redis: the same GCRA rule as
 * `gcra()` in rate-limit.ts, run as one Lua script so each hit is atomic per key. The caller's clock
 * is used (instances are expected to agree within a second, as NTP keeps them).
 */
import type Redis from 'ioredis';
import { createInMemoryRateLimitCounter, type RateLimitCounter } from './rate-limit';

// KEYS[1] = key; ARGV = limit, windowMillis, nowMillis. Returns 0 when allowed, else the wait in ms.
const GCRA_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local interval = window / limit
local stored = tonumber(redis.call('GET', KEYS[1]) or now)
local arrival = math.max(stored, now)
local nextArrival = arrival + interval
local allowedFrom = nextArrival - window
if now < allowedFrom then
  return math.ceil(allowedFrom - now)
end
redis.call('SET', KEYS[1], tostring(nextArrival), 'PX', math.max(1, math.ceil(nextArrival - now)))
return 0
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
    async hit(key, rule, nowMillis) {
      if (rule.limit <= 0) return { allowed: true };
      let wait: number;
      try {
        wait = Number(await redis.eval(GCRA_SCRIPT, 1, `${keyPrefix}ratelimit:${key}`, rule.limit, rule.windowMillis, nowMillis));
      } catch (error) {
        onFallback(error);
        return fallback.hit(key, rule, nowMillis);
      }
      return wait === 0 ? { allowed: true } : { allowed: false, retryAfterMillis: wait };
    },
  };
}
