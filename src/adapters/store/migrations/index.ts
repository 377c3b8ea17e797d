/**
 * The schema, as numbered migrations applied in order at start, written once for both dialects: the
 * few differences (64-bit times, booleans, floats, SQLite's STRICT tables, the audit position
 * counter) are the typed parts of `Dialect`. Times are milliseconds since epoch in both, so rows map
 * alike (`rows.ts`). Never edit a released migration, since databases already carry it: add the
 * next number.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

import type { Dialect } from './dialect';
import { schema } from './schema';

export { type Dialect, POSTGRES, SQLITE } from './dialect';

/** The migration that adds `audit_heads.mac`; the stores seal the heads already there when applying it. */
export const HEAD_MAC_MIGRATION = 4;

/** The migrations in `dialect`, in order. */
export function migrationsFor(dialect: Dialect): Migration[] {
  return schema.map(({ version, description, sql }) => ({ version, description, sql: sql(dialect) }));
}
