/**
 * Erasing a user's personal data on SQLite: one `BEGIN IMMEDIATE` transaction reads what the user
 * has, asks `erasure/erasure-plan.ts` what to change, executes it and appends USER_DATA_ERASED.
 * The connection runs with `secure_delete` on (`sqlite-store.ts`), so what is deleted or rewritten
 * is overwritten with zeros in the pages; a WAL checkpoint afterwards moves the pages into the file
 * and empties the WAL, so the erased bytes are in neither file any more.
 */
import type Database from 'better-sqlite3';
import { planErasure, type CommittedEvent, type ErasurePlan } from '../../domain/erasure/erasure-plan';
import type { ErasureOutcome, ErasureRepository } from '../../domain/ports/store';
import type { AuditChainWriter } from './sqlite-audit';
import { committedEventOf, ERASURE_EVENT_COLUMNS, sessionIdsIn, verifyReferenceOf } from './erasure-rows';
import { questionMarks } from './sqlite-statements';

export class SqliteErasureRepository implements ErasureRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
    /** Told the erased sessions once the erasure committed, to drop what this process keeps of them. */
    private readonly onErased: (sessionIds: readonly string[]) => void,
  ) {}

  async erase(tenant: string, userId: string, actor: string, at: Date, spareSalt: string): Promise<ErasureOutcome> {
    const { db } = this;
    const plan = db
      .transaction((): ErasurePlan => {
        const sessions = (db.prepare('SELECT id, verify_reference FROM sessions WHERE tenant = ? AND user_id = ? ORDER BY id').all(tenant, userId) as Record<string, unknown>[]).map(
          (row) => ({ id: row.id as string, verifyReference: verifyReferenceOf(row.verify_reference) }),
        );
        const ids = sessions.map((session) => session.id);
        const plan = planErasure(
          {
            userId,
            salt: (db.prepare('SELECT salt FROM audit_user_salts WHERE tenant = ? AND user_id = ?').pluck().get(tenant, userId) as string | undefined) ?? undefined,
            sessions,
            committedEvents: (
              db
                .prepare(`SELECT ${ERASURE_EVENT_COLUMNS} FROM audit_events WHERE tenant = ? AND user_id = ? AND user_id_commitment IS NOT NULL ORDER BY sequence`)
                .all(tenant, userId) as Record<string, unknown>[]
            ).map(committedEventOf) as CommittedEvent[],
            keptEvents: db.prepare('SELECT count(*) FROM audit_events WHERE tenant = ? AND user_id = ? AND user_id_commitment IS NULL').pluck().get(tenant, userId) as number,
            evidenceImages: this.inSessions('SELECT count(*) FROM evidence_images WHERE session_id IN', ids, true),
          },
          actor,
          spareSalt,
        );
        this.inSessions('DELETE FROM evidence_grants WHERE session_id IN', ids);
        this.inSessions('DELETE FROM evidence_images WHERE session_id IN', ids);
        // A fetch of images still pending would bring them back.
        this.inSessions('UPDATE session_follow_ups SET images_done = 1 WHERE session_id IN', ids);
        this.inSessions('UPDATE attempts SET verify_image_hash = NULL, session_image_id = NULL WHERE session_id IN', ids);
        const session = db.prepare('UPDATE sessions SET user_id = ?, device_correlation_id = ?, verify_reference = coalesce(?, verify_reference) WHERE id = ?');
        for (const rewrite of plan.sessions) {
          session.run(rewrite.userId, rewrite.deviceCorrelationId, rewrite.verifyReference ? JSON.stringify(rewrite.verifyReference) : null, rewrite.id);
        }
        const event = db.prepare(`
          UPDATE audit_events SET user_id = coalesce(?, user_id), actor = coalesce(?, actor),
            verify_image_sha256 = CASE WHEN ? = 1 THEN NULL ELSE verify_image_sha256 END,
            face_verify_image_hash = CASE WHEN ? = 1 THEN NULL ELSE face_verify_image_hash END
          WHERE id = ?`);
        for (const rewrite of plan.events) {
          event.run(rewrite.userId ?? null, rewrite.actor ?? null, rewrite.clearVerifyImageSha256 ? 1 : 0, rewrite.clearFaceVerifyImageHash ? 1 : 0, rewrite.id);
        }
        for (const table of ['audit_user_salts', 'idempotency_keys', 'device_correlation_generations']) {
          db.prepare(`DELETE FROM ${table} WHERE tenant = ? AND user_id = ?`).run(tenant, userId);
        }
        this.chain.append(tenant, [plan.audit], at);
        return plan;
      })
      .immediate();
    // Copies the rewritten pages into the file and empties the WAL, where the old ones could linger.
    truncateWal(db);
    this.onErased(sessionIdsIn(plan));
    return { pseudonym: plan.pseudonym, ...plan.counts };
  }

  /** Runs `sql` followed by `(?, …)` of the session ids; with `count`, answers its single value. */
  private inSessions(sql: string, ids: readonly string[], count?: true): number {
    if (ids.length === 0) return 0;
    const statement = this.db.prepare(`${sql} (${questionMarks(ids.length)})`);
    return count ? (statement.pluck().get(...ids) as number) : statement.run(...ids).changes;
  }
}

/** How often, a second apart, an emptying of the WAL that a reader kept busy is tried again. */
const WAL_RETRIES = 30;

/**
 * Empties the WAL into the file. A reader outside the gateway (a backup, the sqlite3 shell) holding
 * an old snapshot keeps the checkpoint from finishing (`busy`), and the erased bytes stay in the WAL
 * until it is done: it is tried again, a second apart, without holding up the erasure's answer.
 */
function truncateWal(db: Database.Database, retriesLeft = WAL_RETRIES): void {
  if (!db.open) return;
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  if (result?.busy && retriesLeft > 0) setTimeout(() => truncateWal(db, retriesLeft - 1), 1_000).unref();
}
