/**
 * PostgreSQL schema, as numbered migrations applied in order at start, under an advisory lock so
 * instances starting together do not race (see `postgres-store.ts`). Same tables and meaning as the
 * SQLite migrations; times are milliseconds since epoch (BIGINT) in both, so rows map alike.
 * Never edit a released migration: add the next number.
 */
import type { Migration } from './sqlite';

export const postgresMigrations: Migration[] = [
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
        created_at             BIGINT NOT NULL,
        expires_at             BIGINT NOT NULL,
        model_version          TEXT,
        verify_reference       TEXT,
        enable_session_image   BOOLEAN NOT NULL,
        completion_reported_at BIGINT,
        decided                BOOLEAN NOT NULL DEFAULT false,
        updated_at             BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_owner  ON sessions (tenant, user_id, created_at DESC, id DESC);
      CREATE INDEX sessions_by_tenant ON sessions (tenant, created_at DESC, id DESC);
      CREATE INDEX sessions_by_time   ON sessions (created_at DESC, id DESC);
      CREATE INDEX sessions_undecided_by_expiry ON sessions (expires_at) WHERE NOT decided;
      CREATE INDEX sessions_awaiting_result ON sessions (completion_reported_at)
        WHERE NOT decided AND completion_reported_at IS NOT NULL;

      CREATE TABLE attempts (
        session_id        TEXT NOT NULL REFERENCES sessions (id),
        attempt_id        INTEGER NOT NULL,
        status            TEXT NOT NULL,
        liveness_decision TEXT,
        face_rectangle    TEXT,
        digest            TEXT,
        session_image_id  TEXT,
        is_identical      BOOLEAN,
        match_confidence  DOUBLE PRECISION,
        error_code        TEXT,
        error_message     TEXT,
        recorded_at       BIGINT NOT NULL,
        PRIMARY KEY (session_id, attempt_id)
      );

      CREATE TABLE decisions (
        session_id        TEXT PRIMARY KEY REFERENCES sessions (id),
        verdict           TEXT NOT NULL,
        liveness_decision TEXT,
        is_identical      BOOLEAN,
        match_confidence  DOUBLE PRECISION,
        attempt_id        INTEGER,
        decided_at        BIGINT NOT NULL
      );

      -- position gives one newest-first order across tenants; (tenant, sequence) is the chain.
      CREATE TABLE audit_events (
        position      BIGSERIAL PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        tenant        TEXT NOT NULL,
        sequence      INTEGER NOT NULL,
        at            BIGINT NOT NULL,
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

      -- The head of each tenant's chain. Every append locks its tenant's row (SELECT … FOR UPDATE) in
      -- the appending transaction, so appends from any number of instances queue, never fork.
      CREATE TABLE audit_heads (
        tenant   TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL,
        hash     TEXT NOT NULL
      );
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
        lease_until       BIGINT NOT NULL,
        created_at        BIGINT NOT NULL,
        expires_at        BIGINT NOT NULL,
        PRIMARY KEY (tenant, user_id, key),
        CHECK (state = 'pending' OR (session_id IS NOT NULL AND sealed_auth_token IS NOT NULL))
      );
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
        expires_at BIGINT NOT NULL
      );
    `,
  },
];
