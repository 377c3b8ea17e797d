/** Device correlation id generations on SQLite: a rotation and its audit event in one transaction. */
import type Database from 'better-sqlite3';
import { NO_SESSION } from '../../domain/audit/audit.model';
import type { DeviceCorrelationRepository } from '../../domain/ports/store';
import type { AuditChainWriter } from './sqlite-audit';

export class SqliteCorrelationRepository implements DeviceCorrelationRepository {
  private readonly read;
  private readonly bump;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
  ) {
    this.read = db.prepare('SELECT generation FROM device_correlation_generations WHERE tenant = ? AND user_id = ?').pluck();
    this.bump = db
      .prepare(
        `INSERT INTO device_correlation_generations (tenant, user_id, generation, rotated_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (tenant, user_id) DO UPDATE SET generation = generation + 1, rotated_at = excluded.rotated_at
         RETURNING generation`,
      )
      .pluck();
  }

  async generation(tenant: string, userId: string): Promise<number> {
    return (this.read.get(tenant, userId) as number | undefined) ?? 0;
  }

  async rotate(tenant: string, userId: string, actor: string, at: Date): Promise<number> {
    return this.db
      .transaction((): number => {
        const generation = this.bump.get(tenant, userId, at.getTime()) as number;
        this.chain.append(tenant, [{ action: 'DEVICE_CORRELATION_ID_ROTATED', actor, sessionId: NO_SESSION, userId }], at);
        return generation;
      })
      .immediate();
  }
}
