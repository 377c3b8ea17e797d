/**
 * The key that seals session images kept as evidence: `EVIDENCE_KEY` (base64 of 32 bytes, required in
 * production), or, outside production, a random one generated once and kept in DATA_DIR beside the
 * other development secrets, so stored images still open after a restart.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayConfig } from '../config';

const FILE_NAME = 'dev-evidence-key';

export function resolveEvidenceKey(config: Pick<GatewayConfig, 'evidenceKey' | 'dataDir'>): Buffer {
  if (config.evidenceKey.kind === 'configured') return config.evidenceKey.key;
  fs.mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, FILE_NAME);
  const read = () => {
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a base64 key of 32 bytes; delete it to have a new one generated (images sealed with the old one are lost).`);
    return key;
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  try {
    // 'wx' fails if another process created it first; then we read theirs.
    fs.writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return read();
  }
}
