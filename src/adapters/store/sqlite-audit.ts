/** The audit trail on SQLite: appending to a tenant's chain, and reading it back. */
import { randomBytes, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AuditDraft, AuditEventRecord } from '../../domain/audit/audit.model';
import { chainEvents, GENESIS_HASH } from '../../domain/audit/chain';
import { personalUserOf } from '../../domain/audit/personal-fields';
import { sealAppend, type AuditCheckpoint, type AuditSeal, type ChainSealing, type StoredHead } from '../../domain/audit/seal';
import type { AuditFilter, Page } from '../../domain/ports/store';
import type { ReadScope } from '../../domain/viewer';
import type { AuditRows } from './counted-audit';
import { AUDIT_COLUMN_COUNT, AUDIT_COLUMNS, auditConditions, auditValues, CHECKPOINT_COLUMNS, checkpointValues, toAuditEvent, toCheckpoint, where, type Row } from './rows';
import { namedBinder, questionMarks, type StatementCache } from './sqlite-statements';

/** Appends events to a tenant's chain, sealing its head (`audit/seal.ts`); only ever called inside a write transaction. */
export class AuditChainWriter {
  private readonly head;
  private readonly insert;
  private readonly advance;
  private readonly latestCheckpoint;
  private readonly insertCheckpoint;
  private readonly createSalt;
  private readonly readSalt;

  constructor(
    db: Database.Database,
    private readonly sealing: ChainSealing,
  ) {
    this.head = db.prepare('SELECT sequence, hash, mac FROM audit_heads WHERE tenant = ?');
    this.insert = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${questionMarks(AUDIT_COLUMN_COUNT)})`);
    this.advance = db.prepare(`
      INSERT INTO audit_heads (tenant, sequence, hash, mac) VALUES (?, ?, ?, ?)
      ON CONFLICT (tenant) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash, mac = excluded.mac`);
    this.latestCheckpoint = db.prepare('SELECT sequence, at FROM audit_checkpoints WHERE tenant = ? ORDER BY sequence DESC LIMIT 1');
    this.insertCheckpoint = db.prepare(`INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?)`);
    this.createSalt = db.prepare('INSERT INTO audit_user_salts (tenant, user_id, salt, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, user_id) DO NOTHING');
    this.readSalt = db.prepare('SELECT salt FROM audit_user_salts WHERE tenant = ? AND user_id = ?').pluck();
  }

  append(tenant: string, drafts: readonly AuditDraft[], at: Date): void {
    if (drafts.length === 0) return;
    const found = this.head.get(tenant) as StoredHead | undefined;
    const salts = this.saltsOf(tenant, drafts, at);
    const events = chainEvents(tenant, found ?? { sequence: 0, hash: GENESIS_HASH }, drafts, at, randomUUID, (user) => salts.get(user)!);
    for (const event of events) this.insert.run(...auditValues(event));
    const last = events[events.length - 1];
    const latest = this.latestCheckpoint.get(tenant) as { sequence: number; at: number } | undefined;
    const { mac, checkpoint } = sealAppend(this.sealing, tenant, found, last, latest && { sequence: latest.sequence, at: new Date(latest.at) }, at);
    this.advance.run(tenant, last.sequence, last.hash, mac);
    if (checkpoint) this.insertCheckpoint.run(...checkpointValues(checkpoint));
  }

  /** The salts of the drafts' users, each created with the user's first v3 event. */
  private saltsOf(tenant: string, drafts: readonly AuditDraft[], at: Date): Map<string, string> {
    const salts = new Map<string, string>();
    for (const user of new Set(drafts.map(personalUserOf))) {
      if (user === undefined) continue;
      let salt = this.readSalt.get(tenant, user) as string | undefined;
      if (salt === undefined) {
        this.createSalt.run(tenant, user, randomBytes(32).toString('hex'), at.getTime());
        salt = this.readSalt.get(tenant, user) as string;
      }
      salts.set(user, salt);
    }
    return salts;
  }
}

/** Gives the heads already stored when head MACs arrive their MAC; inside the migration's transaction. */
export function sealExistingHeads(db: Database.Database, seal: AuditSeal): void {
  const heads = db.prepare('SELECT tenant, sequence, hash FROM audit_heads').all() as { tenant: string; sequence: number; hash: string }[];
  const update = db.prepare('UPDATE audit_heads SET mac = ? WHERE tenant = ?');
  for (const head of heads) update.run(seal.headMac(head.tenant, head), head.tenant);
}

export class SqliteAuditRows implements AuditRows {
  constructor(private readonly cached: StatementCache) {}

  async page(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Omit<Page<AuditEventRecord & { position: number }>, 'totalCount'>> {
    const { bind, params } = namedBinder();
    const conditions = auditConditions(scope, filter, bind);
    if (after !== undefined) conditions.push(`position < ${bind(after)}`);
    const rows = this.cached.get(`SELECT * FROM audit_events ${where(conditions)} ORDER BY position DESC LIMIT ${bind(first + 1)}`).all(params) as Row[];
    return { items: rows.slice(0, first).map((row) => ({ ...toAuditEvent(row), position: row.position as number })), hasNextPage: rows.length > first };
  }

  async count(scope: ReadScope, filter: AuditFilter, sequences?: { after: number; upTo: number }): Promise<number> {
    const { bind, params } = namedBinder();
    const conditions = auditConditions(scope, filter, bind);
    if (sequences) {
      // From scratch, `+sequence` keeps SQLite on the filter's own index (by session, by user) rather
      // than the (tenant, sequence) one, which would walk the whole tenant; counting on from a kept
      // count, that index is the one to use: it reads only the events appended since.
      if (sequences.after === 0) conditions.push(`+sequence <= ${bind(sequences.upTo)}`);
      else conditions.push(`sequence > ${bind(sequences.after)}`, `sequence <= ${bind(sequences.upTo)}`);
    }
    return this.cached.get(`SELECT count(*) FROM audit_events ${where(conditions)}`).pluck().get(params) as number;
  }

  async headsTotal(): Promise<number> {
    return this.cached.get('SELECT coalesce(sum(sequence), 0) FROM audit_heads').pluck().get() as number;
  }

  async chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    const rows = this.cached.get('SELECT * FROM audit_events WHERE tenant = ? AND sequence > ? ORDER BY sequence LIMIT ?').all(tenant, afterSequence, limit) as Row[];
    return rows.map(toAuditEvent);
  }

  async chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    // Both walk the (tenant, sequence) index in order and stop at the first match: nothing is loaded.
    const first = this.cached
      .get(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.from ? 'AND at >= @from' : ''} ORDER BY sequence LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.from && { from: window.from.getTime() }) }) as number | undefined;
    const last = this.cached
      .get(`SELECT sequence FROM audit_events WHERE tenant = @tenant ${window.to ? 'AND at < @to' : ''} ORDER BY sequence DESC LIMIT 1`)
      .pluck()
      .get({ tenant, ...(window.to && { to: window.to.getTime() }) }) as number | undefined;
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }

  async tenants(): Promise<string[]> {
    return this.cached.get('SELECT tenant FROM audit_heads ORDER BY tenant').pluck().all() as string[];
  }

  async head(tenant: string): Promise<StoredHead | undefined> {
    return this.cached.get('SELECT sequence, hash, mac FROM audit_heads WHERE tenant = ?').get(tenant) as StoredHead | undefined;
  }

  async latestCheckpoint(tenant: string, upTo?: number): Promise<AuditCheckpoint | undefined> {
    const row = this.cached
      .get(`SELECT * FROM audit_checkpoints WHERE tenant = @tenant ${upTo === undefined ? '' : 'AND sequence <= @upTo'} ORDER BY sequence DESC LIMIT 1`)
      .get({ tenant, ...(upTo !== undefined && { upTo }) }) as Row | undefined;
    return row && toCheckpoint(row);
  }

  async hasSessions(tenant: string): Promise<boolean> {
    return this.cached.get('SELECT 1 FROM sessions WHERE tenant = ? LIMIT 1').get(tenant) !== undefined;
  }

  async userSalts(tenant: string, userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const rows = this.cached
      .get(`SELECT user_id, salt FROM audit_user_salts WHERE tenant = ? AND user_id IN (${questionMarks(userIds.length)})`)
      .all(tenant, ...userIds) as { user_id: string; salt: string }[];
    return new Map(rows.map((row) => [row.user_id, row.salt]));
  }
}
