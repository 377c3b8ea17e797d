/**
 * The key that seals stored device tokens: `IDEMPOTENCY_KEY_SECRET` (base64 of 32 bytes, required in
 * production), or, outside production, a random one generated once and kept in DATA_DIR beside the dev
 * JWT secret, so stored tokens survive a restart.
 */
import type { GatewayConfig } from '../config';
import { devKeyFile } from './dev-key-file';

export function resolveIdempotencySecret(config: Pick<GatewayConfig, 'idempotencySecret' | 'dataDir'>): Buffer {
  if (config.idempotencySecret.kind === 'configured') return config.idempotencySecret.key;
  return devKeyFile(config.dataDir, 'dev-idempotency-key');
}
