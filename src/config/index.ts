/**
 * The one place that reads `process.env`. Every setting of docs/configuration.md is parsed,
 * validated and given its unit by the module of its concern; a bad value stops the process with a
 * sentence that names the variable.
 */
import { type AuthSettings, authSettings } from './auth';
import { type BrowserSettings, browserSettings } from './browser';
import { type FaceSettings, faceSettings, requireEmulatorKeyInProduction } from './face';
import { type LimitSettings, limitSettings } from './limits';
import { type Env, read } from './parse';
import { type RecordSettings, recordSettings } from './records';
import { type ServerSettings, serverSettings } from './server';
import { type SessionSettings, sessionSettings } from './sessions';
import { type WebhookSettings, webhookSettings } from './webhooks';

export { ConfigError } from './parse';
export { type EnvFileLoaded, loadEnvFile } from './env-file';
export type { JwtKeyConfig } from './auth';
export type { FaceConfig } from './face';
export type { HttpServerLimits, QueryLimits, WebSocketLimits } from './limits';
export type { WebhookSettings } from './webhooks';

export interface GatewayConfig extends ServerSettings, BrowserSettings, FaceSettings, AuthSettings, SessionSettings, RecordSettings, LimitSettings {
  webhooks: WebhookSettings;
}

/** Parses and validates the environment. Throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const production = read(env, 'NODE_ENV') === 'production';
  const face = faceSettings(env, production);
  const auth = authSettings(env, production);
  requireEmulatorKeyInProduction(face.face, production);
  const records = recordSettings(env, production);
  const sessions = sessionSettings(env);
  const limits = limitSettings(env);
  const server = serverSettings(env, production);
  return { ...server, ...browserSettings(env), ...face, ...auth, ...sessions, ...records, ...limits, webhooks: webhookSettings(env) };
}
