/**
 * Evidence on SQLite: follow-ups, sealed session images and one-time links. Writes that the trail
 * must know of are one `BEGIN IMMEDIATE` transaction with their audit events, as transitions are.
 */
import type Database from 'better-sqlite3';
import type { AuditDraft } from '../../domain/audit/audit.model';
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
import type { Row } from './rows';
import type { AuditChainWriter } from './sqlite-audit';
import { namedBinder, questionMarks, sqliteBool } from './sqlite-statements';

export class SqliteEvidenceRepository implements EvidenceRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
  ) {}

  async dueFollowUps(now: Date, limit: number): Promise<FollowUpRecord[]> {
    const rows = this.db.prepare('SELECT * FROM session_follow_ups WHERE done = 0 AND next_at <= ? ORDER BY next_at LIMIT ?').all(now.getTime(), limit) as Row[];
    return rows.map(toFollowUp);
  }

  async followUpsFor(sessionIds: readonly string[]): Promise<(FollowUpRecord | undefined)[]> {
    if (sessionIds.length === 0) return [];
    const rows = this.db.prepare(`SELECT * FROM session_follow_ups WHERE session_id IN (${questionMarks(sessionIds.length)})`).all(...sessionIds) as Row[];
    const byId = new Map(rows.map((row) => [row.session_id as string, toFollowUp(row)]));
    return sessionIds.map((id) => byId.get(id));
  }

  async updateFollowUp(sessionId: string, changes: FollowUpChanges, audit: readonly AuditDraft[], at: Date): Promise<void> {
    this.db
      .transaction(() => {
        const { bind, params } = namedBinder();
        const set = followUpAssignments(changes, bind, sqliteBool);
        if (set.length > 0) this.db.prepare(`UPDATE session_follow_ups SET ${set.join(', ')} WHERE session_id = ${bind(sessionId)}`).run(params);
        if (changes.done) this.db.prepare('DELETE FROM session_leases WHERE session_id = ?').run(sessionId);
        this.appendFor(sessionId, audit, at);
      })
      .immediate();
  }

  async storeImage(image: EvidenceImageRecord, audit: AuditDraft, at: Date): Promise<boolean> {
    return this.db
      .transaction(() => {
        // An image fetched while its owner's data was being erased is not stored under the erased session.
        if (!this.db.prepare('SELECT 1 FROM sessions WHERE id = ? AND user_id = ?').get(image.sessionId, image.userId)) return false;
        const inserted = this.db.prepare(`INSERT INTO evidence_images (${IMAGE_COLUMNS}) VALUES (${questionMarks(9)}) ON CONFLICT DO NOTHING`).run(...imageValues(image));
        if (inserted.changes === 0) return false;
        this.chain.append(image.tenant, [audit], at);
        return true;
      })
      .immediate();
  }

  async imagesFor(sessionIds: readonly string[]): Promise<EvidenceImageInfo[][]> {
    if (sessionIds.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT ${IMAGE_INFO_COLUMNS} FROM evidence_images WHERE session_id IN (${questionMarks(sessionIds.length)}) ORDER BY attempt_id`)
      .all(...sessionIds) as Row[];
    return imagesBySession(sessionIds, rows);
  }

  async createGrant(grant: EvidenceGrant): Promise<void> {
    this.db.prepare(`INSERT INTO evidence_grants (${GRANT_COLUMNS}) VALUES (${questionMarks(7)})`).run(...grantValues(grant));
  }

  async redeemGrant(secretHash: string, at: Date, audit: (grant: EvidenceGrant, image: EvidenceImageInfo) => AuditDraft): Promise<EvidenceImageRecord | undefined> {
    // A made-up link costs one indexed read, never the write lock (anyone may send them, without a token).
    if (!this.db.prepare('SELECT 1 FROM evidence_grants WHERE secret_hash = ? AND used_at IS NULL AND expires_at > ?').get(secretHash, at.getTime())) return undefined;
    return this.db
      .transaction(() => {
        const row = this.db
          .prepare('UPDATE evidence_grants SET used_at = @at WHERE secret_hash = @secretHash AND used_at IS NULL AND expires_at > @at RETURNING *')
          .get({ secretHash, at: at.getTime() }) as Row | undefined;
        if (!row) return undefined;
        const grant = toGrant(row);
        const imageRow = this.db.prepare('SELECT * FROM evidence_images WHERE session_id = ? AND attempt_id = ? AND tenant = ?').get(grant.sessionId, grant.attemptId, grant.tenant) as Row | undefined;
        if (!imageRow) return undefined;
        const image = toImage(imageRow);
        this.chain.append(image.tenant, [audit(grant, image)], at);
        return image;
      })
      .immediate();
  }

  async purgeExpired(now: Date, limit: number, audit: (image: EvidenceImageInfo) => AuditDraft): Promise<number> {
    // Read first: the sweep runs every few seconds, and a write transaction it did not need would wait
    // (blocking the process, as better-sqlite3 is synchronous) for whoever holds the write lock.
    const due = this.db.prepare('SELECT (SELECT 1 FROM evidence_images WHERE expires_at <= @at LIMIT 1) AS images, (SELECT 1 FROM evidence_grants WHERE expires_at <= @at LIMIT 1) AS grants').get({ at: now.getTime() }) as {
      images: number | null;
      grants: number | null;
    };
    if (due.images === null && due.grants === null) return 0;
    return this.db
      .transaction(() => {
        const rows = this.db.prepare(`SELECT ${IMAGE_INFO_COLUMNS} FROM evidence_images WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`).all(now.getTime(), limit) as Row[];
        const remove = this.db.prepare('DELETE FROM evidence_images WHERE session_id = ? AND attempt_id = ?');
        for (const row of rows) {
          const image = toImageInfo(row);
          remove.run(image.sessionId, image.attemptId);
          this.chain.append(image.tenant, [audit(image)], now);
        }
        this.db.prepare('DELETE FROM evidence_grants WHERE expires_at <= ?').run(now.getTime());
        return rows.length;
      })
      .immediate();
  }

  /** Appends to the chain of the session's tenant. */
  private appendFor(sessionId: string, audit: readonly AuditDraft[], at: Date): void {
    if (audit.length === 0) return;
    const tenant = this.db.prepare('SELECT tenant FROM sessions WHERE id = ?').pluck().get(sessionId) as string | undefined;
    if (tenant === undefined) throw new Error(`session ${sessionId} is not in the store`);
    this.chain.append(tenant, audit, at);
  }
}
