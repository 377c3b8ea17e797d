/** Migrations from 9 on: the next number goes at the end of this list. Never edit a released one. */
import type { MigrationSource } from './dialect';

export const versions09on: MigrationSource[] = [
  {
    version: 9,
    description: "tenant policies, and the rules each session keeps of its tenant's policy at start",
    sql: (d) => `
      -- policy: JSON of the overrides a tenant's admins set; a tenant without a row uses the defaults.
      CREATE TABLE tenant_policies (
        tenant      TEXT PRIMARY KEY,
        policy      TEXT NOT NULL,
        updated_at  ${d.millis} NOT NULL,
        updated_by  TEXT NOT NULL
      )${d.strict};
      -- JSON of the rules a session keeps from its start (attempts, digest, retention); NULL: the
      -- configured defaults, as for sessions started before policies.
      ALTER TABLE sessions ADD COLUMN rules TEXT;
      `,
    },
  {
    version: 10,
    description: 'when a webhook delivery finished, so that finished deliveries are purged after their retention',
    sql: (d) => `
      ALTER TABLE webhook_deliveries ADD COLUMN finished_at ${d.millis};
      -- Deliveries finished before this column existed: delivered then, or given up at their last attempt.
      UPDATE webhook_deliveries SET finished_at = coalesce(
          delivered_at,
          (SELECT max(a.at) FROM webhook_attempts a WHERE a.delivery_id = webhook_deliveries.id),
          created_at)
        WHERE status <> 'PENDING';
      CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'PENDING';
    `,
  },
  {
    version: 11,
    description: 'audit-v3: per-user salts and the commitments of personal fields, so erasure keeps the chain verifiable',
    sql: (d) => `
      -- One random salt per tenant and user (64 hex digits), created with the user's first v3 event;
      -- erasing the user deletes it, and with it every way to tie a commitment to the user.
      CREATE TABLE audit_user_salts (
        tenant     TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        salt       TEXT NOT NULL,
        created_at ${d.millis} NOT NULL,
        PRIMARY KEY (tenant, user_id)
      )${d.strict};
      -- Hex HMAC-SHA256(salt, clear value) of a v3 event's personal fields; the hash covers these.
      ALTER TABLE audit_events ADD COLUMN actor_commitment TEXT;
      ALTER TABLE audit_events ADD COLUMN user_id_commitment TEXT;
      ALTER TABLE audit_events ADD COLUMN verify_image_sha256_commitment TEXT;
      ALTER TABLE audit_events ADD COLUMN face_verify_image_hash_commitment TEXT;
    `,
  },
];
