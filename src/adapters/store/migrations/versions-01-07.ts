/** Migrations 1 to 7 (8 was never released). Never edit a released one: add the next number. */
import type { MigrationSource } from './dialect';

export const versions01to07: MigrationSource[] = [
  {
    version: 1,
    description: 'sessions, attempts, decisions and the per-tenant audit chain',
    sql: (d) => `
      CREATE TABLE sessions (
        id                     TEXT PRIMARY KEY,
        kind                   TEXT NOT NULL CHECK (kind IN ('LIVENESS', 'LIVENESS_WITH_VERIFY')),
        status                 TEXT NOT NULL,
        operation_mode         TEXT NOT NULL,
        user_id                TEXT NOT NULL,
        tenant                 TEXT NOT NULL,
        device_correlation_id  TEXT NOT NULL,
        created_at             ${d.millis} NOT NULL,
        expires_at             ${d.millis} NOT NULL,
        model_version          TEXT,
        verify_reference       TEXT,
        enable_session_image   ${d.bool} NOT NULL,
        completion_reported_at ${d.millis},
        decided                ${d.bool} NOT NULL DEFAULT ${d.falseValue},
        updated_at             ${d.millis} NOT NULL
      )${d.strict};
      CREATE INDEX sessions_by_owner  ON sessions (tenant, user_id, created_at DESC, id DESC);
      CREATE INDEX sessions_by_tenant ON sessions (tenant, created_at DESC, id DESC);
      CREATE INDEX sessions_by_time   ON sessions (created_at DESC, id DESC);
      CREATE INDEX sessions_undecided_by_expiry ON sessions (expires_at) WHERE ${d.undecided};
      CREATE INDEX sessions_awaiting_result ON sessions (completion_reported_at)
        WHERE ${d.undecided} AND completion_reported_at IS NOT NULL;

      CREATE TABLE attempts (
        session_id        TEXT NOT NULL REFERENCES sessions (id),
        attempt_id        INTEGER NOT NULL,
        status            TEXT NOT NULL,
        liveness_decision TEXT,
        face_rectangle    TEXT,
        digest            TEXT,
        session_image_id  TEXT,
        is_identical      ${d.bool},
        match_confidence  ${d.double},
        error_code        TEXT,
        error_message     TEXT,
        recorded_at       ${d.millis} NOT NULL,
        PRIMARY KEY (session_id, attempt_id)
      )${d.strict};

      CREATE TABLE decisions (
        session_id        TEXT PRIMARY KEY REFERENCES sessions (id),
        verdict           TEXT NOT NULL,
        liveness_decision TEXT,
        is_identical      ${d.bool},
        match_confidence  ${d.double},
        attempt_id        INTEGER,
        decided_at        ${d.millis} NOT NULL
      )${d.strict};

      -- position gives one newest-first order across tenants; (tenant, sequence) is the chain.
      -- Not STRICT on SQLite: released that way, and a table's strictness cannot change in place.
      CREATE TABLE audit_events (
        position      ${d.position},
        id            TEXT NOT NULL UNIQUE,
        tenant        TEXT NOT NULL,
        sequence      INTEGER NOT NULL,
        at            ${d.millis} NOT NULL,
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

      -- The head of each tenant's chain, read and advanced (on PostgreSQL, locked: SELECT … FOR
      -- UPDATE) inside every appending transaction, so appends from any number of instances queue.
      CREATE TABLE audit_heads (
        tenant   TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL,
        hash     TEXT NOT NULL
      )${d.strict};
    `,
  },
  {
    version: 2,
    description: 'idempotency keys of session starts (device tokens sealed with AES-256-GCM)',
    sql: (d) => `
      CREATE TABLE idempotency_keys (
        tenant            TEXT NOT NULL,
        user_id           TEXT NOT NULL,
        key               TEXT NOT NULL,
        request_hash      TEXT NOT NULL,
        state             TEXT NOT NULL CHECK (state IN ('pending', 'completed')),
        claim_id          TEXT NOT NULL,
        session_id        TEXT,
        sealed_auth_token TEXT,
        lease_until       ${d.millis} NOT NULL,
        created_at        ${d.millis} NOT NULL,
        expires_at        ${d.millis} NOT NULL,
        PRIMARY KEY (tenant, user_id, key),
        CHECK (state = 'pending' OR (session_id IS NOT NULL AND sealed_auth_token IS NOT NULL))
      )${d.strict};
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
    `,
  },
  {
    version: 3,
    description: 'per-session poll leases, so one instance at a time polls a session',
    sql: (d) => `
      CREATE TABLE session_leases (
        session_id TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at ${d.millis} NOT NULL
      )${d.strict};
    `,
  },
  {
    version: 4,
    description: 'MACs on audit heads and signed audit checkpoints, so a truncated chain shows',
    // The heads present when this applies get their MAC from the store, in the same transaction
    // (`HEAD_MAC_MIGRATION`): a head the gateway wrote before is trusted as it stands then.
    sql: (d) => `
      ALTER TABLE audit_heads ADD COLUMN mac TEXT;

      CREATE TABLE audit_checkpoints (
        tenant    TEXT NOT NULL,
        sequence  INTEGER NOT NULL,
        hash      TEXT NOT NULL,
        at        ${d.millis} NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (tenant, sequence)
      )${d.strict};
    `,
  },
  {
    version: 5,
    description: 'evidence: the device digest, verify image hashes, decision reasons, device correlation id rotations',
    sql: (d) => `
      ALTER TABLE sessions ADD COLUMN reported_digest TEXT;
      ALTER TABLE attempts ADD COLUMN verify_image_hash TEXT;
      ALTER TABLE decisions ADD COLUMN reason TEXT;
      ALTER TABLE audit_events ADD COLUMN reason TEXT;
      ALTER TABLE audit_events ADD COLUMN verify_image_sha256 TEXT;
      ALTER TABLE audit_events ADD COLUMN face_verify_image_hash TEXT;

      -- How often an admin rotated a user's derived device correlation id (none: generation 0).
      CREATE TABLE device_correlation_generations (
        tenant     TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        generation INTEGER NOT NULL,
        rotated_at ${d.millis} NOT NULL,
        PRIMARY KEY (tenant, user_id)
      )${d.strict};
    `,
  },
  {
    version: 6,
    description: 'evidence: session images sealed with AES-256-GCM, follow-ups after a decision, view grants',
    sql: (d) => `
      -- What remains to do at Face once a session is decided: fetch its session images, delete it.
      -- Written in the transaction that stores the decision, so a crash right after loses nothing.
      CREATE TABLE session_follow_ups (
        session_id     TEXT PRIMARY KEY REFERENCES sessions (id),
        fetch_images   ${d.bool} NOT NULL,
        images_done    ${d.bool} NOT NULL DEFAULT ${d.falseValue},
        delete_at_face ${d.bool} NOT NULL,
        face_deleted   ${d.bool} NOT NULL DEFAULT ${d.falseValue},
        done           ${d.bool} NOT NULL DEFAULT ${d.falseValue},
        tries          INTEGER NOT NULL DEFAULT 0,
        next_at        ${d.millis} NOT NULL
      )${d.strict};
      CREATE INDEX session_follow_ups_due ON session_follow_ups (next_at) WHERE done = ${d.falseValue};

      -- sealed: base64url of IV, ciphertext and tag; the image is never stored in clear.
      CREATE TABLE evidence_images (
        session_id       TEXT NOT NULL REFERENCES sessions (id),
        attempt_id       INTEGER NOT NULL,
        tenant           TEXT NOT NULL,
        user_id          TEXT NOT NULL,
        content_type     TEXT NOT NULL,
        byte_length      INTEGER NOT NULL,
        sealed           TEXT NOT NULL,
        stored_at        ${d.millis} NOT NULL,
        expires_at       ${d.millis} NOT NULL,
        PRIMARY KEY (session_id, attempt_id)
      )${d.strict};
      CREATE INDEX evidence_images_by_expiry ON evidence_images (expires_at);

      -- One-time links to an image: only the SHA-256 of the link's secret is kept.
      CREATE TABLE evidence_grants (
        secret_hash TEXT PRIMARY KEY,
        session_id  TEXT NOT NULL,
        attempt_id  INTEGER NOT NULL,
        tenant      TEXT NOT NULL,
        actor       TEXT NOT NULL,
        created_at  ${d.millis} NOT NULL,
        expires_at  ${d.millis} NOT NULL,
        used_at     ${d.millis}
      )${d.strict};
      CREATE INDEX evidence_grants_by_expiry ON evidence_grants (expires_at);
    `,
  },
  {
    version: 7,
    description: 'webhook endpoints, and the outbox of their deliveries with every attempt',
    sql: (d) => `
      CREATE TABLE webhook_endpoints (
        id                       TEXT PRIMARY KEY,
        tenant                   TEXT NOT NULL,
        url                      TEXT NOT NULL,
        event_types              TEXT NOT NULL,
        enabled                  ${d.bool} NOT NULL,
        sealed_secret            TEXT NOT NULL,
        sealed_previous_secret   TEXT,
        previous_secret_until    ${d.millis},
        consecutive_failures     INTEGER NOT NULL DEFAULT 0,
        failing                  ${d.bool} NOT NULL DEFAULT ${d.falseValue},
        created_at               ${d.millis} NOT NULL,
        updated_at               ${d.millis} NOT NULL
      )${d.strict};
      CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant, created_at);

      -- The outbox: written in the transaction of the change it announces, one row per endpoint.
      CREATE TABLE webhook_deliveries (
        id                TEXT PRIMARY KEY,
        endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        tenant            TEXT NOT NULL,
        event_type        TEXT NOT NULL,
        session_id        TEXT NOT NULL,
        payload           TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
        attempt_count     INTEGER NOT NULL DEFAULT 0,
        created_at        ${d.millis} NOT NULL,
        retry_until       ${d.millis} NOT NULL,
        next_attempt_at   ${d.millis},
        lease_owner       TEXT,
        lease_until       ${d.millis},
        delivered_at      ${d.millis},
        last_status_code  INTEGER,
        last_latency_ms   INTEGER,
        last_error        TEXT
      )${d.strict};
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
      CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

      CREATE TABLE webhook_attempts (
        delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt      INTEGER NOT NULL,
        at           ${d.millis} NOT NULL,
        status_code  INTEGER,
        latency_ms   INTEGER NOT NULL,
        error        TEXT,
        PRIMARY KEY (delivery_id, attempt)
      )${d.strict};
    `,
  },
];
