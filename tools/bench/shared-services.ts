/**
 * PostgreSQL and Redis for the multi-instance rows of `npm run bench`: a database of its own, created
 * for the scenario and dropped after it (as test/helpers/services.ts does for the tests), and a
 * Redis channel prefix of its own, so nothing collides with other runs or test suites on the same
 * servers. The servers are DATABASE_URL and REDIS_URL when set, else the local defaults below; when
 * either does not answer within a few seconds, the scenario says so and skips those rows.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import pg from 'pg';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const CONNECT_TIMEOUT_MILLIS = 3_000;

export interface SharedServices {
  /** A fresh, empty database on the PostgreSQL server. */
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_CHANNEL_PREFIX for the gateways of this scenario only. */
  channelPrefix: string;
  /** Drops the database (whoever is still connected). */
  drop(): Promise<void>;
}

export type SharedServicesOrSkip = { available: true; services: SharedServices } | { available: false; reason: string };

/** Where the servers are, for the report: DATABASE_URL / REDIS_URL, or the defaults. */
export function sharedServiceUrls(env: NodeJS.ProcessEnv = process.env): { postgres: string; redis: string } {
  return { postgres: env.DATABASE_URL?.trim() || DEFAULT_POSTGRES_URL, redis: env.REDIS_URL?.trim() || DEFAULT_REDIS_URL };
}

export async function openSharedServices(name: string): Promise<SharedServicesOrSkip> {
  const urls = sharedServiceUrls();
  const redisProblem = await pingRedis(urls.redis);
  if (redisProblem) return { available: false, reason: `Redis at ${redact(urls.redis)} did not answer (${redisProblem})` };

  const database = `bench_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: urls.postgres, connectionTimeoutMillis: CONNECT_TIMEOUT_MILLIS });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
  } catch (error) {
    return { available: false, reason: `PostgreSQL at ${redact(urls.postgres)} did not answer (${error instanceof Error ? error.message : String(error)})` };
  } finally {
    await admin.end().catch(() => undefined);
  }
  const databaseUrl = new URL(urls.postgres);
  databaseUrl.pathname = `/${database}`;
  return {
    available: true,
    services: {
      databaseUrl: databaseUrl.toString(),
      redisUrl: urls.redis,
      channelPrefix: `bench-${randomBytes(4).toString('hex')}:`,
      async drop() {
        const client = new pg.Client({ connectionString: urls.postgres, connectionTimeoutMillis: CONNECT_TIMEOUT_MILLIS });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
    },
  };
}

async function pingRedis(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MILLIS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    redis.disconnect();
  }
}

/** A URL without its password, for the report. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
