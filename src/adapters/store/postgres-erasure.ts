/**
 * Erasing a user's personal data on PostgreSQL, in one transaction, as `erasure/erasure-plan.ts`
 * rules it. Locks are taken in the order every other writer takes them: the user's session rows
 * first, then the evidence and correlation rows, and the tenant's chain head last, so no append of
 * the user's events can slip in between reading them and deleting their salt. Rows rewritten or
 * deleted stay readable in the table's files as dead row versions until VACUUM reclaims them
 * (docs/security.md).
 */
import type pg from 'pg';
import type { ChainSealing } from '../../domain/audit/seal';
import { planErasure } from '../../domain/erasure/erasure-plan';
import type { ErasureOutcome, ErasureRepository } from '../../domain/ports/store';
import { committedEventOf, ERASURE_EVENT_COLUMNS, sessionIdsIn, verifyReferenceOf } from './erasure-rows';
import { appendAudit } from './postgres-audit';
import { transaction } from './postgres-sql';

export class PostgresErasureRepository implements ErasureRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
    /** Told the erased sessions once the erasure committed, to drop what this process keeps of them. */
    private readonly onErased: (sessionIds: readonly string[]) => void,
  ) {}

  async erase(tenant: string, userId: string, actor: string, at: Date, spareSalt: string): Promise<ErasureOutcome> {
    const plan = await transaction(this.pool, async (client) => {
      const sessions = (
        await client.query<{ id: string; verify_reference: string | null }>('SELECT id, verify_reference FROM sessions WHERE tenant = $1 AND user_id = $2 ORDER BY id FOR UPDATE', [
          tenant,
          userId,
        ])
      ).rows.map((row) => ({ id: row.id, verifyReference: verifyReferenceOf(row.verify_reference) }));
      const ids = sessions.map((session) => session.id);
      const evidenceImages = (await client.query<{ count: number }>('SELECT count(*)::int AS count FROM evidence_images WHERE session_id = ANY($1)', [ids])).rows[0].count;
      await client.query('DELETE FROM evidence_grants WHERE session_id = ANY($1)', [ids]);
      await client.query('DELETE FROM evidence_images WHERE session_id = ANY($1)', [ids]);
      // A fetch of images still pending would bring them back.
      await client.query('UPDATE session_follow_ups SET images_done = true WHERE session_id = ANY($1)', [ids]);
      await client.query('UPDATE attempts SET verify_image_hash = NULL, session_image_id = NULL WHERE session_id = ANY($1)', [ids]);
      await client.query('DELETE FROM idempotency_keys WHERE tenant = $1 AND user_id = $2', [tenant, userId]);
      await client.query('DELETE FROM device_correlation_generations WHERE tenant = $1 AND user_id = $2', [tenant, userId]);

      await client.query('SELECT 1 FROM audit_heads WHERE tenant = $1 FOR UPDATE', [tenant]);
      const salt = (await client.query<{ salt: string }>('SELECT salt FROM audit_user_salts WHERE tenant = $1 AND user_id = $2', [tenant, userId])).rows[0]?.salt;
      const committedEvents = (
        await client.query(`SELECT ${ERASURE_EVENT_COLUMNS} FROM audit_events WHERE tenant = $1 AND user_id = $2 AND user_id_commitment IS NOT NULL ORDER BY sequence`, [tenant, userId])
      ).rows.map(committedEventOf);
      const keptEvents = (
        await client.query<{ count: number }>('SELECT count(*)::int AS count FROM audit_events WHERE tenant = $1 AND user_id = $2 AND user_id_commitment IS NULL', [tenant, userId])
      ).rows[0].count;
      const plan = planErasure({ userId, salt, sessions, committedEvents, keptEvents, evidenceImages }, actor, spareSalt);

      for (const rewrite of plan.sessions) {
        await client.query('UPDATE sessions SET user_id = $1, device_correlation_id = $2, verify_reference = coalesce($3, verify_reference) WHERE id = $4', [
          rewrite.userId,
          rewrite.deviceCorrelationId,
          rewrite.verifyReference ? JSON.stringify(rewrite.verifyReference) : null,
          rewrite.id,
        ]);
      }
      for (const rewrite of plan.events) {
        await client.query(
          `UPDATE audit_events SET user_id = coalesce($1, user_id), actor = coalesce($2, actor),
             verify_image_sha256 = CASE WHEN $3 THEN NULL ELSE verify_image_sha256 END,
             face_verify_image_hash = CASE WHEN $4 THEN NULL ELSE face_verify_image_hash END
           WHERE id = $5`,
          [rewrite.userId ?? null, rewrite.actor ?? null, rewrite.clearVerifyImageSha256 === true, rewrite.clearFaceVerifyImageHash === true, rewrite.id],
        );
      }
      await client.query('DELETE FROM audit_user_salts WHERE tenant = $1 AND user_id = $2', [tenant, userId]);
      await appendAudit(client, this.sealing, tenant, [plan.audit], at);
      return plan;
    });
    this.onErased(sessionIdsIn(plan));
    return { pseudonym: plan.pseudonym, ...plan.counts };
  }
}
