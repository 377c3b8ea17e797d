/** What the SQLite repositories share: their statement cache, parameters and booleans. */
import type Database from 'better-sqlite3';
import type { Bind } from './rows';

/**
 * Statements whose SQL is built per call (list filters, `IN (…)` batches of any size, audit reads),
 * prepared once per SQL text instead of at every call, since preparing is a visible share of a
 * cheap read's CPU. The SQL texts are few (one per filter combination and batch size), and at most
 * `maxEntries` are kept, least recently used out first. `pluck()` sticks to a statement, so a SQL
 * text that counts is always plucked and one that reads rows never: the text tells them apart.
 */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly maxEntries = 256,
  ) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql);
    } else {
      statement = this.db.prepare(sql);
      if (this.statements.size >= this.maxEntries) this.statements.delete(this.statements.keys().next().value as string);
    }
    this.statements.set(sql, statement);
    return statement;
  }
}

/** SQLite has no boolean type: 1 and 0. */
export const sqliteBool = (value: boolean): number => (value ? 1 : 0);

export const questionMarks = (count: number): string => Array.from({ length: count }, () => '?').join(', ');

/** `@p0, @p1, …` named parameters collected into one object. */
export function namedBinder(): { bind: Bind; params: Record<string, unknown> } {
  const params: Record<string, unknown> = {};
  let next = 0;
  return {
    params,
    bind: (value) => {
      const name = `p${next++}`;
      params[name] = value;
      return `@${name}`;
    },
  };
}
