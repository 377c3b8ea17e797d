/**
 * The embedded store: one SQLite file through better-sqlite3 (WAL, foreign keys, prepared
 * statements). Sessions in `sqlite-sessions.ts`, the audit trail in `sqlite-audit.ts`, idempotency
 * keys in `sqlite-idempotency.ts`; the schema in `migrations/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type {
  AuditRepository,
  DeviceCorrelationRepository,
  ErasureRepository,
  EvidenceRepository,
  IdempotencyRepository,
  SessionRepository,
  Store,
} from '../../domain/ports/store';
import type { WebhookRepository } from '../../domain/ports/webhooks';
import type { PolicyRepository } from '../../domain/ports/policies';
import { SqlitePolicyRepository } from './sqlite-policies';
import { CountedAuditRepository } from './counted-audit';
import { KeptDecisionsRepository } from './kept-decisions';
import { HEAD_MAC_MIGRATION, migrationsFor, SQLITE, type Migration } from './migrations';
import { AuditChainWriter, sealExistingHeads, SqliteAuditRows } from './sqlite-audit';
import { AuditSeal, DEFAULT_CHECKPOINT_POLICY, type ChainSealing } from '../../domain/audit/seal';
import { SqliteCorrelationRepository } from './sqlite-correlations';
import { SqliteErasureRepository } from './sqlite-erasure';
import { SqliteEvidenceRepository } from './sqlite-evidence';
import { SqliteIdempotencyRepository } from './sqlite-idempotency';
import { SqliteSessionRepository } from './sqlite-sessions';
import { SqliteOutbox, SqliteWebhookRepository } from './sqlite-webhooks';
import { StatementCache } from './sqlite-statements';

export interface SqliteStoreOptions {
  /** Seals the audit chain's heads; default: random keys, for stores opened outside a gateway (tools, tests). */
  sealing?: ChainSealing;
  /** How long a webhook delivery is tried (default 24 h). */
  webhookHorizonMillis?: number;
}

export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Store {
  const sealing = options.sealing ?? { seal: AuditSeal.withRandomKeys(), checkpoints: DEFAULT_CHECKPOINT_POLICY };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  // Deleted and rewritten content is overwritten with zeros, so an erased user's data does not linger
  // in free pages or free space of the file (docs/security.md, "Erasing a user's data").
  db.pragma('secure_delete = ON');
  runMigrations(db, migrationsFor(SQLITE), sealing.seal);
  return new SqliteStore(db, sealing, options.webhookHorizonMillis ?? 24 * 3600_000);
}

function runMigrations(db: Database.Database, migrations: Migration[], seal: AuditSeal): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const apply = db.transaction((migration: Migration) => {
    db.exec(migration.sql);
    if (migration.version === HEAD_MAC_MIGRATION) sealExistingHeads(db, seal);
    db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)').run(
      migration.version,
      migration.description,
      Date.now(),
    );
  });
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const migration of migrations) {
    if (!applied.has(migration.version)) apply.immediate(migration);
  }
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly idempotency: IdempotencyRepository;
  readonly correlations: DeviceCorrelationRepository;
  readonly evidence: EvidenceRepository;
  readonly webhooks: WebhookRepository;
  readonly policies: PolicyRepository;
  readonly erasure: ErasureRepository;

  constructor(
    private readonly db: Database.Database,
    sealing: ChainSealing,
    webhookHorizonMillis: number,
  ) {
    const statements = new StatementCache(db);
    const chain = new AuditChainWriter(db, sealing);
    const sessions = new KeptDecisionsRepository(new SqliteSessionRepository(db, chain, statements, new SqliteOutbox(db, webhookHorizonMillis)));
    const audit = new CountedAuditRepository(new SqliteAuditRows(statements));
    this.sessions = sessions;
    this.correlations = new SqliteCorrelationRepository(db, chain);
    this.evidence = new SqliteEvidenceRepository(db, chain);
    this.webhooks = new SqliteWebhookRepository(db, chain);
    this.policies = new SqlitePolicyRepository(db, chain);
    this.audit = audit;
    this.erasure = new SqliteErasureRepository(db, chain, (sessionIds) => {
      sessions.forget(sessionIds);
      audit.forgetCounts();
    });
    this.idempotency = new SqliteIdempotencyRepository(db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
