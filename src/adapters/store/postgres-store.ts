/**
 * The store on PostgreSQL (`DATABASE_URL=postgres://…`), for several gateway instances sharing one
 * database. Same interface and meaning as the SQLite store; what differs is how transitions are
 * serialised across processes (row locks: `postgres-sessions.ts`, chain head locks:
 * `postgres-audit.ts`), and that migrations run under a transaction-level advisory lock, so
 * instances starting together apply each migration once.
 */
import pg from 'pg';
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
import { PostgresPolicyRepository } from './postgres-policies';
import { CountedAuditRepository } from './counted-audit';
import { KeptDecisionsRepository } from './kept-decisions';
import { HEAD_MAC_MIGRATION, migrationsFor, POSTGRES, type Migration } from './migrations';
import { AuditSeal, DEFAULT_CHECKPOINT_POLICY, type ChainSealing } from '../../domain/audit/seal';
import { PostgresAuditRows, sealExistingHeads } from './postgres-audit';
import { PostgresCorrelationRepository } from './postgres-correlations';
import { PostgresErasureRepository } from './postgres-erasure';
import { PostgresEvidenceRepository } from './postgres-evidence';
import { PostgresIdempotencyRepository } from './postgres-idempotency';
import { PostgresSessionRepository } from './postgres-sessions';
import { PostgresWebhookRepository } from './postgres-webhooks';
import { transaction } from './postgres-sql';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Seals the audit chain's heads; default: random keys, for stores opened outside a gateway (tools, tests). */
  sealing?: ChainSealing;
  /** How long a webhook delivery is tried (default 24 h). */
  webhookHorizonMillis?: number;
}

/** Any number, so that all instances agree on the lock that guards migrations. */
const MIGRATION_LOCK_ID = 0x6c697665; // "live"
const BIGINT_OID = 20;
const DEFAULT_WEBHOOK_HORIZON_MILLIS = 24 * 3600_000;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const sealing = options.sealing ?? { seal: AuditSeal.withRandomKeys(), checkpoints: DEFAULT_CHECKPOINT_POLICY };
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    // Counts and BIGSERIAL positions fit a JS number long before they overflow.
    types: { getTypeParser: (oid: number, format?: string) => (oid === BIGINT_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) },
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await runMigrations(pool, migrationsFor(POSTGRES), sealing.seal);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresStore(pool, sealing, options.webhookHorizonMillis ?? DEFAULT_WEBHOOK_HORIZON_MILLIS);
}

async function runMigrations(pool: pg.Pool, migrations: Migration[], seal: AuditSeal): Promise<void> {
  await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      if (migration.version === HEAD_MAC_MIGRATION) await sealExistingHeads(client, seal);
      await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.description,
        Date.now(),
      ]);
    }
  });
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly idempotency: IdempotencyRepository;
  readonly correlations: DeviceCorrelationRepository;
  readonly evidence: EvidenceRepository;
  readonly webhooks: WebhookRepository;
  readonly policies: PolicyRepository;
  readonly erasure: ErasureRepository;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    sealing: ChainSealing,
    webhookHorizonMillis: number,
  ) {
    const sessions = new KeptDecisionsRepository(new PostgresSessionRepository(pool, sealing, webhookHorizonMillis));
    const audit = new CountedAuditRepository(new PostgresAuditRows(pool));
    this.sessions = sessions;
    this.webhooks = new PostgresWebhookRepository(pool, sealing);
    this.policies = new PostgresPolicyRepository(pool, sealing);
    this.audit = audit;
    this.erasure = new PostgresErasureRepository(pool, sealing, (sessionIds) => {
      sessions.forget(sessionIds);
      audit.forgetCounts();
    });
    this.idempotency = new PostgresIdempotencyRepository(pool);
    this.correlations = new PostgresCorrelationRepository(pool, sealing);
    this.evidence = new PostgresEvidenceRepository(pool, sealing);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
