/** Tenant policies on PostgreSQL: each change one transaction with its audit event. */
import type pg from 'pg';
import type { AuditDraft } from '../../domain/audit/audit.model';
import type { ChainSealing } from '../../domain/audit/seal';
import type { TenantPolicy } from '../../domain/policy/tenant-policy';
import type { PolicyRepository, StoredTenantPolicy } from '../../domain/ports/policies';
import { appendAudit } from './postgres-audit';
import { transaction } from './postgres-sql';
import type { Row } from './rows';
import { toStoredPolicy } from './sqlite-policies';

export class PostgresPolicyRepository implements PolicyRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
  ) {}

  async find(tenant: string): Promise<StoredTenantPolicy | undefined> {
    const row = (await this.pool.query<Row>('SELECT * FROM tenant_policies WHERE tenant = $1', [tenant])).rows[0];
    return row && toStoredPolicy(row);
  }

  async replace(tenant: string, next: TenantPolicy | undefined, actor: string, at: Date, audit: (before: TenantPolicy | undefined) => AuditDraft[]): Promise<TenantPolicy | undefined> {
    return transaction(this.pool, async (client) => {
      // A tenant without a row has nothing to lock FOR UPDATE: two first changes at once are queued by this lock instead.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('tenant_policy:' || $1))", [tenant]);
      const row = (await client.query<Row>('SELECT * FROM tenant_policies WHERE tenant = $1', [tenant])).rows[0];
      const before = row && toStoredPolicy(row).policy;
      if (next === undefined) await client.query('DELETE FROM tenant_policies WHERE tenant = $1', [tenant]);
      else {
        await client.query(
          `INSERT INTO tenant_policies (tenant, policy, updated_at, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
          [tenant, JSON.stringify(next), at.getTime(), actor],
        );
      }
      await appendAudit(client, this.sealing, tenant, audit(before), at);
      return before;
    });
  }
}
