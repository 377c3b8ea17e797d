/** Tenant policies as the store keeps them: one row per tenant with a policy; none means the defaults. */
import type { AuditDraft } from '../audit/audit.model';
import type { TenantPolicy } from '../policy/tenant-policy';

export interface StoredTenantPolicy {
  tenant: string;
  policy: TenantPolicy;
  updatedAt: Date;
  updatedBy: string;
}

export interface PolicyRepository {
  find(tenant: string): Promise<StoredTenantPolicy | undefined>;
  /**
   * Replaces the tenant's policy (`undefined`: removes it) and appends `audit` to the tenant's chain,
   * in one transaction; answers the policy it replaced, read under that transaction's lock, so the
   * audited "before" is the one the change really replaced.
   */
  replace(
    tenant: string,
    next: TenantPolicy | undefined,
    actor: string,
    at: Date,
    audit: (before: TenantPolicy | undefined) => AuditDraft[],
  ): Promise<TenantPolicy | undefined>;
}
