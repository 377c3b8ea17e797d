/**
 * The outside services the multi-instance suites need, taken from the environment as CI sets them:
 * DATABASE_URL (a PostgreSQL server; each test gets its own fresh database on it) and REDIS_URL.
 * Without them those suites are skipped, and say so with the reason; with CI set (`.ci/run`, which
 * provides them), a suite that uses `servicesFor` fails with the reason instead.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

export const postgresAdminUrl = process.env.DATABASE_URL?.trim() || undefined;
export const redisUrl = process.env.REDIS_URL?.trim() || undefined;

export const POSTGRES_SKIP_REASON = 'DATABASE_URL is not set: PostgreSQL tests skipped (CI sets it; see README "Running the tests")';
export const REDIS_SKIP_REASON = 'REDIS_URL is not set: Redis tests skipped (CI sets it; see README "Running the tests")';

if (!postgresAdminUrl) console.warn(`\n[skip] ${POSTGRES_SKIP_REASON}\n`);
if (!redisUrl) console.warn(`\n[skip] ${REDIS_SKIP_REASON}\n`);

/** CI (`.ci/run`) sets CI and provides every service the suites need: there, none may be skipped. */
export const inCI = Boolean(process.env.CI?.trim()) && process.env.CI !== 'false';

export interface ServicesCheck {
  /** Whether the suite runs: always in CI, elsewhere only when nothing is missing. */
  run: boolean;
  /** Why the suite cannot run, when something is missing; in CI each test fails with it. */
  missing?: string;
}

/**
 * Decides a suite's fate from the skip reasons of what it lacks (`POSTGRES_SKIP_REASON`, ... or its
 * own): skipped with the reasons printed on a laptop, failing with them in CI.
 */
export function servicesFor(suite: string, reasons: (string | undefined)[]): ServicesCheck {
  const lacking = reasons.filter((reason): reason is string => reason !== undefined);
  if (lacking.length === 0) return { run: true };
  if (!inCI) console.warn(`\n[skip] ${suite} skipped: ${lacking.join('; ')}\n`);
  return { run: inCI, missing: `CI is set, so ${suite} fails instead of being skipped: ${lacking.join('; ')}` };
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database on the PostgreSQL server of DATABASE_URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (!postgresAdminUrl) throw new Error(POSTGRES_SKIP_REASON);
  const name = `gateway_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A TCP port free on 127.0.0.1 right now, for a process the test starts itself. */
/** The stores a suite runs on, for `describe.each`: SQLite always, PostgreSQL when DATABASE_URL names a server (CI sets it). */
export const STORES: readonly { store: 'SQLite' | 'PostgreSQL'; available: boolean; database: () => Promise<TestDatabase | undefined> }[] = [
  { store: 'SQLite', available: true, database: async () => undefined },
  { store: 'PostgreSQL', available: postgresAdminUrl !== undefined, database: createTestDatabase },
];

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
