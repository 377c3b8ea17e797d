/** What the PostgreSQL repositories share: transactions, placeholders and booleans. */
import type pg from 'pg';
import type { Bind } from './rows';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** `$1, $2, …` placeholders collected in order. */
export function binder(): { bind: Bind; values: unknown[] } {
  const values: unknown[] = [];
  return { values, bind: (value) => (values.push(value), `$${values.length}`) };
}

export const placeholders = (count: number, from = 1): string => Array.from({ length: count }, (_, i) => `$${i + from}`).join(', ');

export const postgresBool = (value: boolean): boolean => value;
