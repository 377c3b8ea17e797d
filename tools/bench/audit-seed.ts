/**
 * Seeds a gateway's SQLite file with a long audit history in one tenant, before the gateway starts on
 * it: the schema comes from opening the store once (`openSqliteStore` runs the migrations), then rows
 * go in directly, in large transactions, with the hash chain computed by `audit/chain.ts` exactly as the
 * store computes it. Each session contributes the four events of a normal life (started, completion
 * reported, attempt recorded, decision reached), and has its `sessions` row so `AuditEvent.session`
 * resolves; `audit_heads` records the chain's head, sealed with the serving gateway's keys.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { AuditAction } from '../../src/domain/audit/audit.model';
import { SYSTEM_ACTOR } from '../../src/domain/audit/audit.model';
import { chainHash, GENESIS_HASH, type ChainedFields } from '../../src/domain/audit/chain';
import { AUDIT_COLUMNS, auditValues } from '../../src/adapters/store/rows';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import { DEFAULT_CHECKPOINT_POLICY, type AuditSeal } from '../../src/domain/audit/seal';

export interface SeedOptions {
  tenant: string;
  events: number;
  /** Session owners are spread over this many users. */
  users: number;
  /** Events per transaction. */
  batchSize?: number;
  log?: (message: string) => void;
  /** The keys of the gateway that will serve the file: the head is sealed with them. */
  seal: AuditSeal;
}

export interface SeededAudit {
  tenant: string;
  events: number;
  sessions: number;
  /** A session from the middle of the history, with its four events. */
  sampleSessionId: string;
  /** The largest `audit_events.position` (the newest event). */
  newestPosition: number;
  headHash: string;
  seconds: number;
  fileBytes: number;
}

const LIFE: { action: AuditAction; bySystem: boolean }[] = [
  { action: 'SESSION_STARTED', bySystem: false },
  { action: 'COMPLETION_REPORTED', bySystem: false },
  { action: 'ATTEMPT_RECORDED', bySystem: true },
  { action: 'DECISION_REACHED', bySystem: true },
];
const EVENT_SPACING_MILLIS = 1_000;

export async function seedAuditHistory(file: string, options: SeedOptions): Promise<SeededAudit> {
  const startedAt = performance.now();
  const batchSize = options.batchSize ?? 50_000;
  await openSqliteStore(file, { sealing: { seal: options.seal, checkpoints: DEFAULT_CHECKPOINT_POLICY } }).close();

  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF'); // a seed that fails is simply run again
    db.pragma('cache_size = -131072'); // 128 MB, for the random-order index inserts
    const insertSession = db.prepare(`
      INSERT INTO sessions (id, kind, status, operation_mode, user_id, tenant, device_correlation_id, created_at, expires_at,
                            model_version, verify_reference, enable_session_image, completion_reported_at, decided, updated_at)
      VALUES (?, 'LIVENESS', 'SUCCEEDED', 'PASSIVE', ?, ?, ?, ?, ?, '2024-11-15', NULL, 0, ?, 1, ?)`);
    const insertEvent = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${AUDIT_COLUMNS.split(',').map(() => '?').join(', ')})`);

    const sessions = Math.ceil(options.events / LIFE.length);
    const firstAt = Date.now() - options.events * EVENT_SPACING_MILLIS - 3_600_000;
    let sequence = 0;
    let hash = GENESIS_HASH;
    let sampleSessionId = '';

    const writeSessions = db.transaction((from: number, to: number) => {
      for (let s = from; s < to; s += 1) {
        const sessionId = randomUUID();
        if (s === Math.floor(sessions / 2)) sampleSessionId = sessionId;
        const userId = `user-${s % options.users}`;
        const createdAt = firstAt + s * LIFE.length * EVENT_SPACING_MILLIS;
        insertSession.run(sessionId, userId, options.tenant, randomUUID(), createdAt, createdAt + 600_000, createdAt + EVENT_SPACING_MILLIS, createdAt + 3 * EVENT_SPACING_MILLIS);
        for (let k = 0; k < LIFE.length && sequence < options.events; k += 1) {
          const step = LIFE[k];
          sequence += 1;
          const attempted = step.action === 'ATTEMPT_RECORDED' || step.action === 'DECISION_REACHED';
          const event: ChainedFields = {
            id: randomUUID(),
            tenant: options.tenant,
            sequence,
            at: new Date(createdAt + k * EVENT_SPACING_MILLIS),
            action: step.action,
            actor: step.bySystem ? SYSTEM_ACTOR : userId,
            sessionId,
            userId,
            ...(attempted && { attemptId: 1 }),
            ...(step.action === 'DECISION_REACHED' && { verdict: 'PASS' as const }),
            ...(step.action === 'ATTEMPT_RECORDED' && { digest: `digest-${s}` }),
          };
          const next = chainHash(hash, event);
          insertEvent.run(...auditValues({ ...event, previousHash: hash, hash: next }));
          hash = next;
        }
      }
    });

    const sessionsPerBatch = Math.max(1, Math.floor(batchSize / LIFE.length));
    for (let from = 0; from < sessions; from += sessionsPerBatch) {
      writeSessions(from, Math.min(sessions, from + sessionsPerBatch));
      if (options.log && (from / sessionsPerBatch) % 5 === 4) options.log(`audit: seeded ${sequence.toLocaleString('en-US')} of ${options.events.toLocaleString('en-US')} events`);
    }
    db.prepare('INSERT INTO audit_heads (tenant, sequence, hash, mac) VALUES (?, ?, ?, ?)').run(options.tenant, sequence, hash, options.seal.headMac(options.tenant, { sequence, hash }));
    const newestPosition = db.prepare('SELECT max(position) FROM audit_events').pluck().get() as number;
    db.pragma('wal_checkpoint(TRUNCATE)');
    return {
      tenant: options.tenant,
      events: sequence,
      sessions,
      sampleSessionId,
      newestPosition,
      headHash: hash,
      seconds: (performance.now() - startedAt) / 1000,
      fileBytes: fs.statSync(file).size,
    };
  } finally {
    db.close();
  }
}
