/** The SQL types and phrases in which the two dialects differ; the migrations are written once against them. */
export interface Dialect {
  /** Milliseconds since epoch. */
  millis: 'INTEGER' | 'BIGINT';
  bool: 'INTEGER' | 'BOOLEAN';
  /** The stored value of `false`. */
  falseValue: '0' | 'false';
  /** The condition "not decided", as the partial indexes say it. */
  undecided: 'decided = 0' | 'NOT decided';
  double: 'REAL' | 'DOUBLE PRECISION';
  /** An ever-increasing row number, the table's primary key. */
  position: 'INTEGER PRIMARY KEY AUTOINCREMENT' | 'BIGSERIAL PRIMARY KEY';
  /** After a table's closing parenthesis: SQLite checks each column's declared type only when asked. */
  strict: ' STRICT' | '';
}

export const SQLITE: Dialect = {
  millis: 'INTEGER',
  bool: 'INTEGER',
  falseValue: '0',
  undecided: 'decided = 0',
  double: 'REAL',
  position: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  strict: ' STRICT',
};

export const POSTGRES: Dialect = {
  millis: 'BIGINT',
  bool: 'BOOLEAN',
  falseValue: 'false',
  undecided: 'NOT decided',
  double: 'DOUBLE PRECISION',
  position: 'BIGSERIAL PRIMARY KEY',
  strict: '',
};

/** A migration as written: its SQL made for either dialect. */
export interface MigrationSource {
  version: number;
  description: string;
  sql: (d: Dialect) => string;
}
