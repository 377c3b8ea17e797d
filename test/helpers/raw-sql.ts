/**
 * SQL run against a gateway's store behind its back, as an intruder or an operator with database
 * access would: the SQLite file in its data directory, or the PostgreSQL database it was given.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** Where a gateway keeps its data: its SQLite file under `dataDir`, unless `databaseUrl` names PostgreSQL. */
export interface StoreLocation {
  dataDir: string;
  databaseUrl?: string;
}

/** Runs `sql` with `params`, written with `$1`, `$2`… each once and in order (SQLite binds them by position). */
export async function behindTheBack<T>(store: StoreLocation, sql: string, params: unknown[]): Promise<T[]> {
  if (!store.databaseUrl) {
    const db = new Database(path.join(store.dataDir, 'gateway.sqlite'));
    try {
      const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
      return statement.reader ? (statement.all(...params) as T[]) : (statement.run(...params), []);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: store.databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}
