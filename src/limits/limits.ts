/**
 * The gateway's abuse limits (README "Abuse limits and Face resilience"):
 *
 * - session starts per user (tenant + `sub`) and per device (tenant + the `deviceCorrelationId` the
 *   client sent; a generated one is new every time and never limited), checked by the session service
 *   after the input was validated and before Face is asked;
 * - requests without a valid token per client address, checked where the HTTP request's viewer is
 *   established (`gateway.ts`, the GraphQL context), so that an anonymous or forged caller is counted
 *   before any resolver runs.
 *
 * A refusal is RATE_LIMITED with `extensions.retryAfterSeconds`, a whole number of at least 1.
 */
import { DomainError } from '../errors';
import type { RateLimitRule } from '../metrics/metrics';
import type { RateLimitCounter, RateRule } from './rate-limit';

export interface RateLimitSettings {
  userStarts: RateRule;
  deviceStarts: RateRule;
  unauthenticatedRequests: RateRule;
}

export class RateLimits {
  constructor(
    private readonly counter: RateLimitCounter,
    private readonly settings: RateLimitSettings,
    private readonly now: () => number,
    /** Told of every refusal, by rule (metrics). */
    private readonly onRefused: (rule: RateLimitRule) => void = () => {},
  ) {}

  /** Counts a session start; throws RATE_LIMITED when the user or the device has started too many. */
  async sessionStart(owner: { tenant: string; userId: string }, deviceCorrelationId?: string): Promise<void> {
    await this.check(`start:user:${owner.tenant}:${owner.userId}`, this.settings.userStarts, 'session starts for this user', 'user_starts');
    if (deviceCorrelationId !== undefined) {
      await this.check(`start:device:${owner.tenant}:${deviceCorrelationId}`, this.settings.deviceStarts, 'session starts for this device', 'device_starts');
    }
  }

  /** Counts a request that carried no valid token; throws RATE_LIMITED when the address sent too many. */
  async unauthenticatedRequest(clientAddress: string): Promise<void> {
    await this.check(`anonymous:${clientAddress}`, this.settings.unauthenticatedRequests, 'requests without a valid token from this address', 'unauthenticated_requests');
  }

  private async check(key: string, rule: RateRule, what: string, name: RateLimitRule): Promise<void> {
    const decision = await this.counter.hit(key, rule, this.now());
    if (decision.allowed) return;
    this.onRefused(name);
    throw rateLimited(what, decision.retryAfterMillis);
  }
}

export function rateLimited(what: string, retryAfterMillis: number): DomainError {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMillis / 1000));
  return new DomainError('RATE_LIMITED', `Too many ${what}; try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
}
