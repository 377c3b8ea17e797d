/**
 * Outside production, when no JWT key is configured, the gateway signs and verifies with a random
 * HMAC secret generated once and kept in DATA_DIR, so `npm start` and `npm run token` agree.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayConfig, JwtKeyConfig } from '../config';

const FILE_NAME = 'dev-jwt-secret';

export function resolveJwtKey(config: Pick<GatewayConfig, 'jwt' | 'dataDir'>): JwtKeyConfig {
  if (config.jwt.kind !== 'devSecret') return config.jwt;
  fs.mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, FILE_NAME);
  try {
    return { kind: 'secret', secret: fs.readFileSync(file, 'utf8').trim(), generated: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    // 'wx' fails if another process created it first; then we read theirs.
    fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    return { kind: 'secret', secret, generated: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { kind: 'secret', secret: fs.readFileSync(file, 'utf8').trim(), generated: true };
  }
}
