/** The audit trail on PostgreSQL: appending to a tenant's chain, and reading it back. */
import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { AuditDraft, AuditEventRecord } from '../../domain/audit/audit.model';
import { chainEvents, GENESIS_HASH } from '../../domain/audit/chain';
import { personalUserOf } from '../../domain/audit/personal-fields';
import { sealAppend, type AuditCheckpoint, type AuditSeal, type ChainSealing, type StoredHead } from '../../domain/audit/seal';
import type { AuditFilter, Page } from '../../domain/ports/store';
import type { ReadScope } from '../../domain/viewer';
import type { AuditRows } from './counted-audit';
import { binder, placeholders, type Queryable } from './postgres-sql';
import { AUDIT_COLUMN_COUNT, AUDIT_COLUMNS, auditConditions, auditValues, CHECKPOINT_COLUMNS, checkpointValues, toAuditEvent, toCheckpoint, where, type Row } from './rows';

/**
 * Appends to a tenant's chain inside the caller's transaction, holding the tenant's head locked, so
 * that appends from any number of instances queue and never fork or gap the chain; the head is sealed
 * and checkpoints recorded under the same lock (`audit/seal.ts`).
 */
export async function appendAudit(client: Queryable, sealing: ChainSealing, tenant: string, drafts: readonly AuditDraft[], at: Date): Promise<void> {
  if (drafts.length === 0) return;
  const created = await client.query('INSERT INTO audit_heads (tenant, sequence, hash, mac) VALUES ($1, 0, $2, NULL) ON CONFLICT (tenant) DO NOTHING', [
    tenant,
    GENESIS_HASH,
  ]);
  const head = (await client.query<StoredHead>('SELECT sequence, hash, mac FROM audit_heads WHERE tenant = $1 FOR UPDATE', [tenant])).rows[0];
  const salts = await saltsOf(client, tenant, drafts, at);
  const events = chainEvents(tenant, head, drafts, at, randomUUID, (user) => salts.get(user)!);
  for (const event of events) {
    await client.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${placeholders(AUDIT_COLUMN_COUNT)})`, auditValues(event));
  }
  const last = events[events.length - 1];
  const latest = (await client.query<{ sequence: number; at: number }>('SELECT sequence, at FROM audit_checkpoints WHERE tenant = $1 ORDER BY sequence DESC LIMIT 1', [tenant]))
    .rows[0];
  // The row this transaction just created is the tenant's first head, not one found.
  const found = created.rowCount === 1 ? undefined : head;
  const { mac, checkpoint } = sealAppend(sealing, tenant, found, last, latest && { sequence: latest.sequence, at: new Date(latest.at) }, at);
  await client.query('UPDATE audit_heads SET sequence = $2, hash = $3, mac = $4 WHERE tenant = $1', [tenant, last.sequence, last.hash, mac]);
  if (checkpoint) await client.query(`INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES (${placeholders(5)})`, checkpointValues(checkpoint));
}

/** The salts of the drafts' users, each created with the user's first v3 event (under the head's lock). */
async function saltsOf(client: Queryable, tenant: string, drafts: readonly AuditDraft[], at: Date): Promise<Map<string, string>> {
  const salts = new Map<string, string>();
  const read = async (user: string) => (await client.query<{ salt: string }>('SELECT salt FROM audit_user_salts WHERE tenant = $1 AND user_id = $2', [tenant, user])).rows[0]?.salt;
  for (const user of new Set(drafts.map(personalUserOf))) {
    if (user === undefined) continue;
    // Read first: all but a user's first append find it, in one round trip.
    let salt = await read(user);
    if (salt === undefined) {
      await client.query('INSERT INTO audit_user_salts (tenant, user_id, salt, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, user_id) DO NOTHING', [
        tenant,
        user,
        randomBytes(32).toString('hex'),
        at.getTime(),
      ]);
      salt = (await read(user))!;
    }
    salts.set(user, salt);
  }
  return salts;
}

/** Gives the heads already stored when head MACs arrive their MAC; inside the migration's transaction. */
export async function sealExistingHeads(client: Queryable, seal: AuditSeal): Promise<void> {
  const heads = (await client.query<{ tenant: string; sequence: number; hash: string }>('SELECT tenant, sequence, hash FROM audit_heads')).rows;
  for (const head of heads) await client.query('UPDATE audit_heads SET mac = $1 WHERE tenant = $2', [seal.headMac(head.tenant, head), head.tenant]);
}

export class PostgresAuditRows implements AuditRows {
  constructor(private readonly pool: pg.Pool) {}

  async page(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Omit<Page<AuditEventRecord & { position: number }>, 'totalCount'>> {
    const { bind, values } = binder();
    const conditions = auditConditions(scope, filter, bind);
    if (after !== undefined) conditions.push(`position < ${bind(after)}`);
    const rows = (await this.pool.query<Row>(`SELECT * FROM audit_events ${where(conditions)} ORDER BY position DESC LIMIT ${bind(first + 1)}`, values)).rows;
    return { items: rows.slice(0, first).map((row) => ({ ...toAuditEvent(row), position: row.position as number })), hasNextPage: rows.length > first };
  }

  async count(scope: ReadScope, filter: AuditFilter, sequences?: { after: number; upTo: number }): Promise<number> {
    const { bind, values } = binder();
    const conditions = auditConditions(scope, filter, bind);
    if (sequences) conditions.push(`sequence > ${bind(sequences.after)}`, `sequence <= ${bind(sequences.upTo)}`);
    return (await this.pool.query<{ count: number }>(`SELECT count(*) AS count FROM audit_events ${where(conditions)}`, values)).rows[0].count;
  }

  async headsTotal(): Promise<number> {
    return (await this.pool.query<{ total: number }>('SELECT coalesce(sum(sequence), 0)::bigint AS total FROM audit_heads')).rows[0].total;
  }

  async chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    const rows = (await this.pool.query<Row>('SELECT * FROM audit_events WHERE tenant = $1 AND sequence > $2 ORDER BY sequence LIMIT $3', [tenant, afterSequence, limit])).rows;
    return rows.map(toAuditEvent);
  }

  async chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    // Both walk the (tenant, sequence) index in order and stop at the first match: nothing is loaded.
    const first = (
      await this.pool.query<{ sequence: number }>(
        `SELECT sequence FROM audit_events WHERE tenant = $1 ${window.from ? 'AND at >= $2' : ''} ORDER BY sequence LIMIT 1`,
        window.from ? [tenant, window.from.getTime()] : [tenant],
      )
    ).rows[0]?.sequence;
    const last = (
      await this.pool.query<{ sequence: number }>(
        `SELECT sequence FROM audit_events WHERE tenant = $1 ${window.to ? 'AND at < $2' : ''} ORDER BY sequence DESC LIMIT 1`,
        window.to ? [tenant, window.to.getTime()] : [tenant],
      )
    ).rows[0]?.sequence;
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }

  async tenants(): Promise<string[]> {
    return (await this.pool.query<{ tenant: string }>('SELECT tenant FROM audit_heads ORDER BY tenant')).rows.map((row) => row.tenant);
  }

  async head(tenant: string): Promise<StoredHead | undefined> {
    return (await this.pool.query<StoredHead>('SELECT sequence, hash, mac FROM audit_heads WHERE tenant = $1', [tenant])).rows[0];
  }

  async latestCheckpoint(tenant: string, upTo?: number): Promise<AuditCheckpoint | undefined> {
    const row = (
      await this.pool.query<Row>(
        `SELECT * FROM audit_checkpoints WHERE tenant = $1 ${upTo === undefined ? '' : 'AND sequence <= $2'} ORDER BY sequence DESC LIMIT 1`,
        upTo === undefined ? [tenant] : [tenant, upTo],
      )
    ).rows[0];
    return row && toCheckpoint(row);
  }

  async hasSessions(tenant: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM sessions WHERE tenant = $1 LIMIT 1', [tenant])).rowCount === 1;
  }

  async userSalts(tenant: string, userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const rows = (await this.pool.query<{ user_id: string; salt: string }>('SELECT user_id, salt FROM audit_user_salts WHERE tenant = $1 AND user_id = ANY($2)', [tenant, [...userIds]])).rows;
    return new Map(rows.map((row) => [row.user_id, row.salt]));
  }
}
