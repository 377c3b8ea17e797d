/** Device correlation id generations on PostgreSQL: a rotation and its audit event in one transaction. */
import type pg from 'pg';
import type { ChainSealing } from '../../domain/audit/seal';
import { NO_SESSION } from '../../domain/audit/audit.model';
import type { DeviceCorrelationRepository } from '../../domain/ports/store';
import { appendAudit } from './postgres-audit';
import { transaction } from './postgres-sql';

export class PostgresCorrelationRepository implements DeviceCorrelationRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
  ) {}

  async generation(tenant: string, userId: string): Promise<number> {
    const row = (await this.pool.query<{ generation: number }>('SELECT generation FROM device_correlation_generations WHERE tenant = $1 AND user_id = $2', [tenant, userId])).rows[0];
    return row?.generation ?? 0;
  }

  async rotate(tenant: string, userId: string, actor: string, at: Date): Promise<number> {
    return transaction(this.pool, async (client) => {
      const { generation } = (
        await client.query<{ generation: number }>(
          `INSERT INTO device_correlation_generations (tenant, user_id, generation, rotated_at) VALUES ($1, $2, 1, $3)
           ON CONFLICT (tenant, user_id) DO UPDATE SET generation = device_correlation_generations.generation + 1, rotated_at = excluded.rotated_at
           RETURNING generation`,
          [tenant, userId, at.getTime()],
        )
      ).rows[0];
      await appendAudit(client, this.sealing, tenant, [{ action: 'DEVICE_CORRELATION_ID_ROTATED', actor, sessionId: NO_SESSION, userId }], at);
      return generation;
    });
  }
}
