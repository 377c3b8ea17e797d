/**
 * The key that seals session images kept as evidence: `EVIDENCE_KEY` (base64 of 32 bytes, required in
 * production), or, outside production, a random one generated once and kept in DATA_DIR beside the
 * other development secrets, so stored images still open after a restart.
 */
import type { GatewayConfig } from '../config';
import { devKeyFile } from './dev-key-file';

export function resolveEvidenceKey(config: Pick<GatewayConfig, 'evidenceKey' | 'dataDir'>): Buffer {
  if (config.evidenceKey.kind === 'configured') return config.evidenceKey.key;
  return devKeyFile(config.dataDir, 'dev-evidence-key', 'images sealed with the old one are lost');
}
