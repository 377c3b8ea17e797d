/**
 * Idempotency keys on PostgreSQL (`idempotency_keys`, migration 2 of `migrations/index.ts`).
 * `claim` is one transaction: `INSERT … ON CONFLICT DO NOTHING` takes a free key; otherwise the
 * existing row is locked (`FOR UPDATE`) and either taken over (expired, or a pending claim whose lease
 * ran out) or answered. Instances claiming the same key at once queue on that row, so one wins.
 */
import type pg from 'pg';
import { toIdempotencyRecord } from './sqlite-idempotency';
import type { IdempotencyClaim, IdempotencyRecord, IdempotencyRepository, IdempotencyScope } from '../../domain/ports/store';

const KEY = 'tenant = $1 AND user_id = $2 AND key = $3';

export class PostgresIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly pool: pg.Pool) {}

  async claim(
    scope: IdempotencyScope,
    claim: { claimId: string; requestHash: string; now: Date; leaseUntil: Date; expiresAt: Date },
  ): Promise<IdempotencyClaim> {
    const key = [scope.tenant, scope.userId, scope.key];
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // A row deleted (released) between the insert and the lock is looked for again.
      for (;;) {
        const inserted = await client.query(
          `INSERT INTO idempotency_keys (tenant, user_id, key, request_hash, state, claim_id, lease_until, created_at, expires_at)
           VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8) ON CONFLICT (tenant, user_id, key) DO NOTHING`,
          [...key, claim.requestHash, claim.claimId, claim.leaseUntil.getTime(), claim.now.getTime(), claim.expiresAt.getTime()],
        );
        if ((inserted.rowCount ?? 0) > 0) break;
        const row = (await client.query(`SELECT * FROM idempotency_keys WHERE ${KEY} FOR UPDATE`, key)).rows[0] as Record<string, unknown> | undefined;
        if (!row) continue;
        const existing = toIdempotencyRecord(row);
        const abandoned = existing.expiresAt.getTime() <= claim.now.getTime() || (existing.state === 'pending' && existing.leaseUntil.getTime() <= claim.now.getTime());
        if (!abandoned) {
          await client.query('COMMIT');
          return { claimed: false, existing };
        }
        await client.query(
          `UPDATE idempotency_keys SET request_hash = $4, state = 'pending', claim_id = $5, session_id = NULL, sealed_auth_token = NULL,
                  lease_until = $6, created_at = $7, expires_at = $8 WHERE ${KEY}`,
          [...key, claim.requestHash, claim.claimId, claim.leaseUntil.getTime(), claim.now.getTime(), claim.expiresAt.getTime()],
        );
        break;
      }
      await client.query('COMMIT');
      return { claimed: true };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async complete(scope: IdempotencyScope, claimId: string, result: { sessionId: string; sealedAuthToken: string }): Promise<boolean> {
    const updated = await this.pool.query(
      `UPDATE idempotency_keys SET state = 'completed', session_id = $5, sealed_auth_token = $6 WHERE ${KEY} AND claim_id = $4 AND state = 'pending'`,
      [scope.tenant, scope.userId, scope.key, claimId, result.sessionId, result.sealedAuthToken],
    );
    return (updated.rowCount ?? 0) > 0;
  }

  async release(scope: IdempotencyScope, claimId: string): Promise<void> {
    await this.pool.query(`DELETE FROM idempotency_keys WHERE ${KEY} AND claim_id = $4 AND state = 'pending'`, [scope.tenant, scope.userId, scope.key, claimId]);
  }

  async find(scope: IdempotencyScope, now: Date): Promise<IdempotencyRecord | undefined> {
    const row = (await this.pool.query(`SELECT * FROM idempotency_keys WHERE ${KEY} AND expires_at > $4`, [scope.tenant, scope.userId, scope.key, now.getTime()]))
      .rows[0] as Record<string, unknown> | undefined;
    return row && toIdempotencyRecord(row);
  }

  async purgeExpired(now: Date, limit: number): Promise<number> {
    const deleted = await this.pool.query(
      'DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)',
      [now.getTime(), limit],
    );
    return deleted.rowCount ?? 0;
  }
}
