/**
 * SQLite schema, as numbered migrations applied in order at start (see `runMigrations`).
 * Never edit a released migration: add the next number.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    description: 'sessions, attempts, decisions and the per-tenant audit chain',
    sql: `
      CREATE TABLE sessions (
        id                     TEXT PRIMARY KEY,
        kind                   TEXT NOT NULL CHECK (kind IN ('LIVENESS', 'LIVENESS_WITH_VERIFY')),
        status                 TEXT NOT NULL,
        operation_mode         TEXT NOT NULL,
        user_id                TEXT NOT NULL,
        tenant                 TEXT NOT NULL,
        device_correlation_id  TEXT NOT NULL,
        created_at             INTEGER NOT NULL,
        expires_at             INTEGER NOT NULL,
        model_version          TEXT,
        verify_reference       TEXT,
        enable_session_image   INTEGER NOT NULL,
        completion_reported_at INTEGER,
        decided                INTEGER NOT NULL DEFAULT 0,
        updated_at             INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_owner  ON sessions (tenant, user_id, created_at DESC, id DESC);
      CREATE INDEX sessions_by_tenant ON sessions (tenant, created_at DESC, id DESC);
      CREATE INDEX sessions_by_time   ON sessions (created_at DESC, id DESC);
      CREATE INDEX sessions_undecided_by_expiry ON sessions (expires_at) WHERE decided = 0;
      CREATE INDEX sessions_awaiting_result ON sessions (completion_reported_at)
        WHERE decided = 0 AND completion_reported_at IS NOT NULL;

      CREATE TABLE attempts (
        session_id       TEXT NOT NULL REFERENCES sessions (id),
        attempt_id       INTEGER NOT NULL,
        status           TEXT NOT NULL,
        liveness_decision TEXT,
        face_rectangle   TEXT,
        digest           TEXT,
        session_image_id TEXT,
        is_identical     INTEGER,
        match_confidence REAL,
        error_code       TEXT,
        error_message    TEXT,
        recorded_at      INTEGER NOT NULL,
        PRIMARY KEY (session_id, attempt_id)
      ) STRICT;

      CREATE TABLE decisions (
        session_id        TEXT PRIMARY KEY REFERENCES sessions (id),
        verdict           TEXT NOT NULL,
        liveness_decision TEXT,
        is_identical      INTEGER,
        match_confidence  REAL,
        attempt_id        INTEGER,
        decided_at        INTEGER NOT NULL
      ) STRICT;

      -- position gives one newest-first order across tenants; (tenant, sequence) is the chain.
      CREATE TABLE audit_events (
        position      INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        tenant        TEXT NOT NULL,
        sequence      INTEGER NOT NULL,
        at            INTEGER NOT NULL,
        action        TEXT NOT NULL,
        actor         TEXT NOT NULL,
        session_id    TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        attempt_id    INTEGER,
        verdict       TEXT,
        digest        TEXT,
        previous_hash TEXT NOT NULL,
        hash          TEXT NOT NULL,
        UNIQUE (tenant, sequence)
      );
      CREATE INDEX audit_by_tenant  ON audit_events (tenant, position DESC);
      CREATE INDEX audit_by_session ON audit_events (session_id, position DESC);
      CREATE INDEX audit_by_user    ON audit_events (tenant, user_id, position DESC);

      -- The head of each tenant's chain, read and advanced inside every appending transaction.
      CREATE TABLE audit_heads (
        tenant   TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL,
        hash     TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'idempotency keys of session starts (device tokens sealed with AES-256-GCM)',
    sql: `
      CREATE TABLE idempotency_keys (
        tenant            TEXT NOT NULL,
        user_id           TEXT NOT NULL,
        key               TEXT NOT NULL,
        request_hash      TEXT NOT NULL,
        state             TEXT NOT NULL CHECK (state IN ('pending', 'completed')),
        claim_id          TEXT NOT NULL,
        session_id        TEXT,
        sealed_auth_token TEXT,
        lease_until       INTEGER NOT NULL,
        created_at        INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        PRIMARY KEY (tenant, user_id, key),
        CHECK (state = 'pending' OR (session_id IS NOT NULL AND sealed_auth_token IS NOT NULL))
      ) STRICT;
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
    `,
  },
  {
    version: 3,
    description: 'per-session poll leases, so one instance at a time polls a session',
    sql: `
      CREATE TABLE session_leases (
        session_id TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
];
