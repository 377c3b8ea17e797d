/** What the gateway keeps and for how long: the keys that seal it, audit checkpoints, evidence. */
import { base64Key, type Env, integer } from './parse';

export interface RecordSettings {
  /** Seals device tokens kept for idempotent starts; `devKey`: generated and kept in DATA_DIR (`idempotency/idempotency-secret.ts`). */
  idempotencySecret: { kind: 'configured'; key: Buffer } | { kind: 'devKey' };
  /** When the audit chain's head is also recorded as a signed checkpoint (`audit/seal.ts`): every N events or once the last is this old. */
  auditCheckpoints: { everyEvents: number; everyMillis: number };
  /** Seals session images kept as evidence (`EVIDENCE_KEY`); `devKey`: generated and kept in DATA_DIR (`secrets/evidence-key.ts`). */
  evidenceKey: { kind: 'configured'; key: Buffer } | { kind: 'devKey' };
  /** How long a stored session image is kept before the sweeper deletes it. */
  evidenceRetentionMillis: number;
  /** How long a one-time link to a session image stays usable. */
  evidenceLinkTtlMillis: number;
}

export function recordSettings(env: Env, production: boolean): RecordSettings {
  const idempotencyKey = base64Key(env, 'IDEMPOTENCY_KEY_SECRET', production);
  const evidenceKey = base64Key(env, 'EVIDENCE_KEY', production);
  return {
    idempotencySecret: idempotencyKey ? { kind: 'configured', key: idempotencyKey } : { kind: 'devKey' },
    auditCheckpoints: {
      everyEvents: integer(env, 'AUDIT_CHECKPOINT_EVERY_EVENTS', 1_000, 1, 100_000_000),
      everyMillis: integer(env, 'AUDIT_CHECKPOINT_EVERY_MINUTES', 60, 1, 525_600) * 60_000,
    },
    evidenceKey: evidenceKey ? { kind: 'configured', key: evidenceKey } : { kind: 'devKey' },
    evidenceRetentionMillis: integer(env, 'EVIDENCE_RETENTION_DAYS', 30, 1, 3_650) * 86_400_000,
    evidenceLinkTtlMillis: integer(env, 'EVIDENCE_LINK_TTL_SECONDS', 60, 5, 3_600) * 1_000,
  };
}
