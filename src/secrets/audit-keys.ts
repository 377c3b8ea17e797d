/**
 * The audit trail's keys (the head MAC key and the Ed25519 seed that signs checkpoints), derived
 * (HKDF-SHA256) from the idempotency key like the cursor key (`cursor-key.ts`): that secret is already
 * required in production and shared by every instance, so all instances seal the same chain alike
 * with no new setting, and each `info` keeps one use from revealing another's key. Outside production
 * the idempotency key is the dev one kept in DATA_DIR. Rotating IDEMPOTENCY_KEY_SECRET changes both
 * keys: heads sealed before then no longer verify (docs/security.md says what to do).
 */
import { hkdfSync } from 'node:crypto';
import { AuditSeal } from '../domain/audit/seal';

const MAC_INFO = 'liveness-gateway/audit-head-mac/v1';
const SIGNING_INFO = 'liveness-gateway/audit-checkpoint-ed25519/v1';

export function deriveAuditSeal(idempotencySecret: Buffer): AuditSeal {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', idempotencySecret, Buffer.alloc(0), info, 32));
  return new AuditSeal(derive(MAC_INFO), derive(SIGNING_INFO));
}
