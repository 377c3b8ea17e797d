/**
 * The gateway's abuse limits (docs/security.md, "Limits"):
 *
 * - session starts per user (tenant + `sub`) and per device of that user (tenant + `sub` + the
 *   `deviceCorrelationId` the client sent; a generated one is new every time and never limited),
 *   checked by the session service after the input was validated and before Face is asked. The device
 *   count is the user's own: the id is the client's claim, so anyone may send a victim's, and a count
 *   shared by every user of the tenant would let one user's starts lock the victim out;
 * - requests without a valid token per client address, checked by `authenticate()` wherever a caller
 *   is identified (the HTTP context, a WebSocket's connection_init, the audit export), so that an
 *   anonymous or forged caller is counted before any resolver runs.
 *
 * A refusal is RATE_LIMITED with `extensions.retryAfterSeconds`, a whole number of at least 1.
 */
import { DomainError } from '../errors';
import type { RateLimitRule } from '../../observability/metrics';
import type { RateHit, RateLimitCounter, RateRule } from './rate-limit';

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

  /**
   * Counts a session start for its user and its device; throws RATE_LIMITED when either has started
   * too many. A refused start counts for neither. `rules`: the tenant's policy's, in place of the
   * configured ones.
   */
  async sessionStart(
    owner: { tenant: string; userId: string },
    deviceCorrelationId?: string,
    rules: { userStarts: RateRule; deviceStarts: RateRule } = this.settings,
  ): Promise<void> {
    const limits: Limit[] = [
      { key: `start:user:${owner.tenant}:${owner.userId}`, rule: rules.userStarts, what: 'session starts for this user', name: 'user_starts' },
    ];
    if (deviceCorrelationId !== undefined) {
      limits.push({ key: `start:device:${owner.tenant}:${owner.userId}:${deviceCorrelationId}`, rule: rules.deviceStarts, what: 'session starts for this device', name: 'device_starts' });
    }
    await this.check(limits);
  }

  /** Counts a request that carried no valid token; throws RATE_LIMITED when the address sent too many. */
  async unauthenticatedRequest(clientAddress: string): Promise<void> {
    await this.check([
      { key: `anonymous:${clientAddress}`, rule: this.settings.unauthenticatedRequests, what: 'requests without a valid token from this address', name: 'unauthenticated_requests' },
    ]);
  }

  private async check(limits: Limit[]): Promise<void> {
    const decision = await this.counter.hitAll(limits, this.now());
    if (decision.allowed) return;
    const { what, name } = limits[decision.refused];
    this.onRefused(name);
    throw rateLimited(what, decision.retryAfterMillis);
  }
}

/** A key to count an action under, its rule, and how a refusal names it (message, metric). */
interface Limit extends RateHit {
  what: string;
  name: RateLimitRule;
}

export function rateLimited(what: string, retryAfterMillis: number): DomainError {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMillis / 1000));
  return new DomainError('RATE_LIMITED', `Too many ${what}; try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
}
