/**
 * Idempotency keys on SQLite (`idempotency_keys`, migration 2). `claim` is one `BEGIN IMMEDIATE`
 * transaction: an upsert that only takes over a record that is expired or whose pending claim's lease
 * ran out, then a read of what is there.
 */
import type Database from 'better-sqlite3';
import type { Row } from './rows';
import type { IdempotencyClaim, IdempotencyRecord, IdempotencyRepository, IdempotencyScope } from '../../domain/ports/store';

export class SqliteIdempotencyRepository implements IdempotencyRepository {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    const where = 'WHERE tenant = @tenant AND user_id = @userId AND key = @key';
    this.statements = {
      find: db.prepare(`SELECT * FROM idempotency_keys ${where}`),
      claim: db.prepare(`
        INSERT INTO idempotency_keys (tenant, user_id, key, request_hash, state, claim_id, lease_until, created_at, expires_at)
        VALUES (@tenant, @userId, @key, @requestHash, 'pending', @claimId, @leaseUntil, @now, @expiresAt)
        ON CONFLICT (tenant, user_id, key) DO UPDATE SET
          request_hash = excluded.request_hash, state = 'pending', claim_id = excluded.claim_id, session_id = NULL,
          sealed_auth_token = NULL, lease_until = excluded.lease_until, created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE idempotency_keys.expires_at <= @now OR (idempotency_keys.state = 'pending' AND idempotency_keys.lease_until <= @now)`),
      complete: db.prepare(`
        UPDATE idempotency_keys SET state = 'completed', session_id = @sessionId, sealed_auth_token = @sealedAuthToken
        ${where} AND claim_id = @claimId AND state = 'pending'`),
      release: db.prepare(`DELETE FROM idempotency_keys ${where} AND claim_id = @claimId AND state = 'pending'`),
      purge: db.prepare('DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)'),
    };
  }

  async claim(
    scope: IdempotencyScope,
    claim: { claimId: string; requestHash: string; now: Date; leaseUntil: Date; expiresAt: Date },
  ): Promise<IdempotencyClaim> {
    const params = { tenant: scope.tenant, userId: scope.userId, key: scope.key };
    return this.db
      .transaction((): IdempotencyClaim => {
        this.statements.claim.run({
          ...params,
          claimId: claim.claimId,
          requestHash: claim.requestHash,
          now: claim.now.getTime(),
          leaseUntil: claim.leaseUntil.getTime(),
          expiresAt: claim.expiresAt.getTime(),
        });
        const row = this.statements.find.get(params) as Row;
        return row.claim_id === claim.claimId ? { claimed: true } : { claimed: false, existing: toIdempotencyRecord(row) };
      })
      .immediate();
  }

  async complete(scope: IdempotencyScope, claimId: string, result: { sessionId: string; sealedAuthToken: string }): Promise<boolean> {
    return this.statements.complete.run({ tenant: scope.tenant, userId: scope.userId, key: scope.key, claimId, ...result }).changes > 0;
  }

  async release(scope: IdempotencyScope, claimId: string): Promise<void> {
    this.statements.release.run({ tenant: scope.tenant, userId: scope.userId, key: scope.key, claimId });
  }

  async find(scope: IdempotencyScope, now: Date): Promise<IdempotencyRecord | undefined> {
    const row = this.statements.find.get({ tenant: scope.tenant, userId: scope.userId, key: scope.key }) as Row | undefined;
    if (!row || Number(row.expires_at) <= now.getTime()) return undefined;
    return toIdempotencyRecord(row);
  }

  async purgeExpired(now: Date, limit: number): Promise<number> {
    return this.statements.purge.run(now.getTime(), limit).changes;
  }
}

/** A row of `idempotency_keys`, SQLite or PostgreSQL alike. */
export function toIdempotencyRecord(row: Row): IdempotencyRecord {
  const text = (value: unknown) => (value === null || value === undefined ? undefined : String(value));
  return {
    requestHash: String(row.request_hash),
    state: row.state as IdempotencyRecord['state'],
    claimId: String(row.claim_id),
    sessionId: text(row.session_id),
    sealedAuthToken: text(row.sealed_auth_token),
    leaseUntil: new Date(Number(row.lease_until)),
    expiresAt: new Date(Number(row.expires_at)),
  };
}
