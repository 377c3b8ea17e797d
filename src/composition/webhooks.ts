/**
 * Webhooks as the gateway wires them: the endpoint service (registration, secrets, the delivery
 * log) and the dispatcher that sends deliveries in the background, sharing one outbound policy.
 */
import type { GatewayConfig } from '../config';
import type { CursorCodec } from '../domain/pagination';
import type { Store } from '../domain/ports/store';
import { TokenSealer } from '../domain/idempotency/token-sealer';
import { WebhookDispatcher } from '../domain/webhooks/dispatcher';
import { WebhookService } from '../domain/webhooks/webhook.service';
import { HttpWebhookSender } from '../adapters/webhooks/http-sender';
import { type HostResolver, OutboundPolicy } from '../adapters/webhooks/outbound-guard';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';

export interface WebhookParts {
  webhooks: WebhookService;
  dispatcher: WebhookDispatcher;
}

export function createWebhooks(options: {
  config: GatewayConfig;
  store: Pick<Store, 'webhooks'>;
  /** Endpoint secrets are sealed with the key that seals idempotent starts' device tokens. */
  idempotencySecret: Buffer;
  cursors: CursorCodec;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** How endpoint host names resolve, at registration and at each connection; default the system's. */
  resolveHost?: HostResolver;
}): WebhookParts {
  const { config, store, now } = options;
  const settings = config.webhooks;
  const sealer = new TokenSealer(options.idempotencySecret);
  // Registration and delivery ask the same policy, so a name cannot be public at one and private at the other.
  const outbound = new OutboundPolicy({ production: config.production, allowedCidrs: settings.allowedCidrs, resolve: options.resolveHost });
  const webhooks = new WebhookService({
    repository: store.webhooks,
    sealer,
    urlGuard: outbound,
    cursors: options.cursors,
    now,
    secretOverlapMillis: settings.secretOverlapMillis,
    retryHorizonMillis: settings.retryHorizonMillis,
    globalAdminTenant: settings.globalAdminTenant,
  });
  const dispatcher = new WebhookDispatcher({
    repository: store.webhooks,
    sender: new HttpWebhookSender({ policy: outbound, timeoutMillis: settings.timeoutMillis }),
    sealer,
    logger: options.logger,
    now,
    intervalMillis: settings.dispatchIntervalMillis,
    timeoutMillis: settings.timeoutMillis,
    retry: { baseDelayMillis: settings.retryBaseDelayMillis, maxDelayMillis: settings.retryMaxDelayMillis },
    failingAfter: settings.failingAfter,
    deliveryRetentionMillis: settings.deliveryRetentionMillis,
    metrics: options.metrics,
  });
  return { webhooks, dispatcher };
}
