/**
 * The key that derives end users' device correlation ids, from the idempotency key (HKDF-SHA256),
 * as the page-cursor key is: that secret is required in production and shared by every instance, so
 * every instance derives the same id for a user. A separate `info` keeps the uses apart. Rotating
 * IDEMPOTENCY_KEY_SECRET gives every user a new id at Face.
 */
import { hkdfSync } from 'node:crypto';

const INFO = 'liveness-gateway/device-correlation-id/v1';

export function deriveDeviceCorrelationKey(idempotencySecret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', idempotencySecret, Buffer.alloc(0), INFO, 32));
}
