/**
 * Evidence on PostgreSQL: follow-ups, sealed session images and one-time links. A write the trail
 * must know of is one transaction with its audit events; a link is used once across instances by a
 * conditional `UPDATE … RETURNING`.
 */
import type pg from 'pg';
import type { AuditDraft } from '../../domain/audit/audit.model';
import type { ChainSealing } from '../../domain/audit/seal';
import type { EvidenceGrant, EvidenceImageInfo, EvidenceImageRecord, FollowUpRecord } from '../../domain/evidence/evidence.model';
import type { EvidenceRepository, FollowUpChanges } from '../../domain/ports/store';
import {
  followUpAssignments,
  GRANT_COLUMNS,
  grantValues,
  IMAGE_COLUMNS,
  IMAGE_INFO_COLUMNS,
  imagesBySession,
  imageValues,
  toFollowUp,
  toGrant,
  toImage,
  toImageInfo,
} from './evidence-rows';
import { appendAudit } from './postgres-audit';
import { binder, placeholders, postgresBool, transaction } from './postgres-sql';
import type { Row } from './rows';

export class PostgresEvidenceRepository implements EvidenceRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
  ) {}

  async dueFollowUps(now: Date, limit: number): Promise<FollowUpRecord[]> {
    const rows = (await this.pool.query<Row>('SELECT * FROM session_follow_ups WHERE NOT done AND next_at <= $1 ORDER BY next_at LIMIT $2', [now.getTime(), limit])).rows;
    return rows.map(toFollowUp);
  }

  async followUpsFor(sessionIds: readonly string[]): Promise<(FollowUpRecord | undefined)[]> {
    if (sessionIds.length === 0) return [];
    const rows = (await this.pool.query<Row>('SELECT * FROM session_follow_ups WHERE session_id = ANY($1)', [sessionIds])).rows;
    const byId = new Map(rows.map((row) => [row.session_id as string, toFollowUp(row)]));
    return sessionIds.map((id) => byId.get(id));
  }

  async updateFollowUp(sessionId: string, changes: FollowUpChanges, audit: readonly AuditDraft[], at: Date): Promise<void> {
    await transaction(this.pool, async (client) => {
      // The session row first, as transitions lock it: locks are always taken session, then chain head.
      const tenant = (await client.query<{ tenant: string }>('SELECT tenant FROM sessions WHERE id = $1 FOR UPDATE', [sessionId])).rows[0]?.tenant;
      if (tenant === undefined) throw new Error(`session ${sessionId} is not in the store`);
      const { bind, values } = binder();
      const set = followUpAssignments(changes, bind, postgresBool);
      if (set.length > 0) await client.query(`UPDATE session_follow_ups SET ${set.join(', ')} WHERE session_id = ${bind(sessionId)}`, values);
      if (changes.done) await client.query('DELETE FROM session_leases WHERE session_id = $1', [sessionId]);
      await appendAudit(client, this.sealing, tenant, audit, at);
    });
  }

  async storeImage(image: EvidenceImageRecord, audit: AuditDraft, at: Date): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      // An image fetched while its owner's data was being erased is not stored under the erased
      // session: the share lock waits for an erasure in flight, and then finds the row renamed.
      const owned = await client.query('SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 FOR SHARE', [image.sessionId, image.userId]);
      if (owned.rowCount === 0) return false;
      const inserted = await client.query(`INSERT INTO evidence_images (${IMAGE_COLUMNS}) VALUES (${placeholders(9)}) ON CONFLICT DO NOTHING`, imageValues(image));
      if ((inserted.rowCount ?? 0) === 0) return false;
      await appendAudit(client, this.sealing, image.tenant, [audit], at);
      return true;
    });
  }

  async imagesFor(sessionIds: readonly string[]): Promise<EvidenceImageInfo[][]> {
    if (sessionIds.length === 0) return [];
    const rows = (await this.pool.query<Row>(`SELECT ${IMAGE_INFO_COLUMNS} FROM evidence_images WHERE session_id = ANY($1) ORDER BY attempt_id`, [sessionIds])).rows;
    return imagesBySession(sessionIds, rows);
  }

  async createGrant(grant: EvidenceGrant): Promise<void> {
    await this.pool.query(`INSERT INTO evidence_grants (${GRANT_COLUMNS}) VALUES (${placeholders(7)})`, grantValues(grant));
  }

  async redeemGrant(secretHash: string, at: Date, audit: (grant: EvidenceGrant, image: EvidenceImageInfo) => AuditDraft): Promise<EvidenceImageRecord | undefined> {
    return transaction(this.pool, async (client) => {
      const row = (
        await client.query<Row>('UPDATE evidence_grants SET used_at = $2 WHERE secret_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *', [secretHash, at.getTime()])
      ).rows[0];
      if (!row) return undefined;
      const grant = toGrant(row);
      const imageRow = (
        await client.query<Row>('SELECT * FROM evidence_images WHERE session_id = $1 AND attempt_id = $2 AND tenant = $3', [grant.sessionId, grant.attemptId, grant.tenant])
      ).rows[0];
      if (!imageRow) return undefined;
      const image = toImage(imageRow);
      await appendAudit(client, this.sealing, image.tenant, [audit(grant, image)], at);
      return image;
    });
  }

  async purgeExpired(now: Date, limit: number, audit: (image: EvidenceImageInfo) => AuditDraft): Promise<number> {
    // Read first: most sweeps find nothing, and need no transaction (nor a pool client held for one).
    const due = (
      await this.pool.query<{ images: boolean; grants: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM evidence_images WHERE expires_at <= $1) AS images, EXISTS (SELECT 1 FROM evidence_grants WHERE expires_at <= $1) AS grants',
        [now.getTime()],
      )
    ).rows[0];
    if (!due.images && !due.grants) return 0;
    return transaction(this.pool, async (client) => {
      // SKIP LOCKED: two instances sweeping together purge different images, each once.
      const rows = (
        await client.query<Row>(
          `DELETE FROM evidence_images WHERE (session_id, attempt_id) IN (
             SELECT session_id, attempt_id FROM evidence_images WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING ${IMAGE_INFO_COLUMNS}`,
          [now.getTime(), limit],
        )
      ).rows;
      const images = rows.map(toImageInfo).sort((a, b) => a.tenant.localeCompare(b.tenant));
      for (const image of images) await appendAudit(client, this.sealing, image.tenant, [audit(image)], now);
      await client.query('DELETE FROM evidence_grants WHERE expires_at <= $1', [now.getTime()]);
      return images.length;
    });
  }
}
