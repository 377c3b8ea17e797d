/**
 * Endpoint signing secrets: made here, in the Standard Webhooks form (`whsec_` and base64 of 32
 * random bytes), shown once, and kept only sealed (`TokenSealer`, bound to the endpoint's id, so a
 * sealed secret copied to another endpoint does not open).
 */
import { randomBytes } from 'node:crypto';
import type { TokenSealer } from '../idempotency/token-sealer';
import type { StoredWebhookEndpoint } from './webhook.model';

export const newSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const context = (endpointId: string) => `webhook-secret:${endpointId}`;

export const sealSecret = (sealer: TokenSealer, endpointId: string, secret: string): string => sealer.seal(secret, context(endpointId));

/** The secrets a delivery at `at` is signed with: the current one, and the previous while its overlap lasts. */
export function signingSecrets(endpoint: StoredWebhookEndpoint, sealer: TokenSealer, at: Date): string[] {
  const secrets = [sealer.open(endpoint.sealedSecret, context(endpoint.id))];
  if (endpoint.sealedPreviousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt.getTime() > at.getTime()) {
    secrets.push(sealer.open(endpoint.sealedPreviousSecret, context(endpoint.id)));
  }
  return secrets;
}
