/**
 * The key that signs page cursors, derived (HKDF-SHA256) from the idempotency key rather than set on
 * its own: that secret is already required in production and shared by every instance, so the
 * instances behind one balancer read each other's cursors with no new setting. A separate `info`
 * keeps the two uses apart: knowing a cursor's MAC reveals nothing about the sealing key. Rotating
 * IDEMPOTENCY_KEY_SECRET makes the cursors in clients' hands BAD_USER_INPUT; they start again from
 * the first page.
 */
import { hkdfSync } from 'node:crypto';

const INFO = 'liveness-gateway/page-cursor/v1';

export function deriveCursorKey(idempotencySecret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', idempotencySecret, Buffer.alloc(0), INFO, 32));
}
