/**
 * Tenant policies as the gateway wires them: every tenant's defaults are the configuration's, and a
 * tenant's policy overrides them for its own sessions. Started here, so that changes made on other
 * instances (through pub/sub) clear this instance's cache from the first request on.
 */
import type { GatewayConfig } from '../config';
import { PolicyService } from '../domain/policy/policy.service';
import type { PubSub } from '../domain/ports/pubsub';
import type { Store } from '../domain/ports/store';

export async function startPolicies(options: { config: GatewayConfig; store: Pick<Store, 'policies'>; pubsub: PubSub; now: () => number }): Promise<PolicyService> {
  const { config } = options;
  const policies = new PolicyService({
    repository: options.store.policies,
    pubsub: options.pubsub,
    now: options.now,
    globalAdminTenant: config.webhooks.globalAdminTenant,
    defaults: {
      maxAttempts: config.livenessMaxAttempts,
      requireDeviceDigest: config.requireDeviceDigest,
      evidenceRetentionDays: Math.round(config.evidenceRetentionMillis / 86_400_000),
      userStarts: config.rateLimits.userStarts,
      deviceStarts: config.rateLimits.deviceStarts,
    },
  });
  await policies.start();
  return policies;
}
