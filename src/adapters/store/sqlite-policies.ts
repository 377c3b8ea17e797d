/** Tenant policies on SQLite: each change one `BEGIN IMMEDIATE` transaction with its audit event. */
import type Database from 'better-sqlite3';
import type { AuditDraft } from '../../domain/audit/audit.model';
import type { TenantPolicy } from '../../domain/policy/tenant-policy';
import type { PolicyRepository, StoredTenantPolicy } from '../../domain/ports/policies';
import type { Row } from './rows';
import type { AuditChainWriter } from './sqlite-audit';

export const toStoredPolicy = (row: Row): StoredTenantPolicy => ({
  tenant: row.tenant as string,
  policy: JSON.parse(row.policy as string) as TenantPolicy,
  updatedAt: new Date(Number(row.updated_at)),
  updatedBy: row.updated_by as string,
});

export class SqlitePolicyRepository implements PolicyRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
  ) {
    this.statements = {
      find: db.prepare('SELECT * FROM tenant_policies WHERE tenant = ?'),
      upsert: db.prepare(`INSERT INTO tenant_policies (tenant, policy, updated_at, updated_by) VALUES (?, ?, ?, ?)
        ON CONFLICT (tenant) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
      delete: db.prepare('DELETE FROM tenant_policies WHERE tenant = ?'),
    };
  }

  async find(tenant: string): Promise<StoredTenantPolicy | undefined> {
    const row = this.statements.find.get(tenant) as Row | undefined;
    return row && toStoredPolicy(row);
  }

  async replace(tenant: string, next: TenantPolicy | undefined, actor: string, at: Date, audit: (before: TenantPolicy | undefined) => AuditDraft[]): Promise<TenantPolicy | undefined> {
    return this.db
      .transaction(() => {
        const row = this.statements.find.get(tenant) as Row | undefined;
        const before = row && toStoredPolicy(row).policy;
        if (next === undefined) this.statements.delete.run(tenant);
        else this.statements.upsert.run(tenant, JSON.stringify(next), at.getTime(), actor);
        this.chain.append(tenant, audit(before), at);
        return before;
      })
      .immediate();
  }
}
