/** Webhook delivery (`domain/webhooks/`): the dispatcher, its retries, and which addresses it may call. */
import { ConfigError, type Env, integer, read } from './parse';

export interface WebhookSettings {
  dispatchIntervalMillis: number;
  /** One attempt as a whole: connecting, sending, and reading the (bounded) answer. */
  timeoutMillis: number;
  retryBaseDelayMillis: number;
  retryMaxDelayMillis: number;
  /** A delivery is tried for this long after the event; then it has failed. */
  retryHorizonMillis: number;
  /** Failed attempts in a row after which an endpoint is marked failing. */
  failingAfter: number;
  /** How long a rotated-out secret still signs, unless the rotation says otherwise. */
  secretOverlapMillis: number;
  /** How long a delivered or failed delivery stays in the delivery log (with its attempts) after it finished. */
  deliveryRetentionMillis: number;
  /** CIDR ranges endpoints may resolve to although private, loopback or link-local (e.g. `127.0.0.0/8`). */
  allowedCidrs: string[];
  /** The tenant whose admins manage every tenant's endpoints; unset: each admin only its own tenant's. */
  globalAdminTenant?: string;
}

export function webhookSettings(env: Env): WebhookSettings {
  const allowedCidrs = (read(env, 'WEBHOOK_ALLOWED_CIDRS') ?? '').split(',').map((cidr) => cidr.trim()).filter(Boolean);
  for (const cidr of allowedCidrs) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(cidr)) throw new ConfigError(`WEBHOOK_ALLOWED_CIDRS must be a comma-separated list of CIDR ranges (e.g. 127.0.0.0/8), got "${cidr}".`);
  }
  return {
    dispatchIntervalMillis: integer(env, 'WEBHOOK_DISPATCH_INTERVAL_MS', 1_000, 10, 600_000),
    timeoutMillis: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    retryBaseDelayMillis: integer(env, 'WEBHOOK_RETRY_BASE_MS', 5_000, 1, 3_600_000),
    retryMaxDelayMillis: integer(env, 'WEBHOOK_RETRY_MAX_DELAY_MS', 3_600_000, 1, 86_400_000),
    retryHorizonMillis: integer(env, 'WEBHOOK_RETRY_HORIZON_MS', 86_400_000, 1_000, 7 * 86_400_000),
    failingAfter: integer(env, 'WEBHOOK_FAILING_AFTER', 5, 1, 1_000),
    secretOverlapMillis: integer(env, 'WEBHOOK_SECRET_OVERLAP_MS', 86_400_000, 0, 30 * 86_400_000),
    deliveryRetentionMillis: integer(env, 'WEBHOOK_DELIVERY_RETENTION_DAYS', 30, 1, 3_650) * 86_400_000,
    allowedCidrs,
    globalAdminTenant: read(env, 'GLOBAL_ADMIN_TENANT'),
  };
}
