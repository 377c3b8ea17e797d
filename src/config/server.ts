/** Where the gateway listens and keeps its data, and which of its own pages and endpoints it serves. */
import path from 'node:path';
import { boolean, ConfigError, type Env, integer, read, url } from './parse';

export interface ServerSettings {
  port: number;
  host: string;
  production: boolean;
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL connections per gateway instance. */
  databasePoolSize: number;
  redisUrl?: string;
  /** Prefix of Redis channels and keys, so deployments can share one Redis. */
  redisPrefix: string;
  /** `GET /metrics` (Prometheus); with `metricsToken`, scrapes must carry it as a bearer token. */
  metricsEnabled: boolean;
  metricsToken?: string;
  /** Apollo Sandbox landing page and introspection. */
  sandboxEnabled: boolean;
  introspectionEnabled: boolean;
  /** The reference web client at /demo (web/, built into dist/web). */
  webClientEnabled: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

export function serverSettings(env: Env, production: boolean): ServerSettings {
  const logLevel = (read(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of debug, info, warn, error, silent; got "${logLevel}".`);
  }

  const sandboxEnabled = boolean(env, 'ENABLE_SANDBOX', !production);

  const metricsToken = read(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters, without spaces (e.g. `openssl rand -hex 24`).');
  }
  // In production the gateway's port usually faces the internet: /metrics is off there unless a
  // token guards it, or METRICS_ENABLED=true says the port is reached from inside only.
  const metricsEnabled = boolean(env, 'METRICS_ENABLED', !production || metricsToken !== undefined);

  return {
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host: read(env, 'HOST') ?? '0.0.0.0',
    production,
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1_000),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: read(env, 'REDIS_CHANNEL_PREFIX') ?? 'liveness-gateway:',
    metricsEnabled,
    metricsToken,
    sandboxEnabled,
    introspectionEnabled: boolean(env, 'ENABLE_INTROSPECTION', sandboxEnabled),
    webClientEnabled: boolean(env, 'ENABLE_WEB_CLIENT', !production),
    logLevel: logLevel as ServerSettings['logLevel'],
  };
}
