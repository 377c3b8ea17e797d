/**
 * Tenant policies for admins and for session starts. Admins of a tenant set its policy (and the admins
 * of the configured global-admin tenant every tenant's); admins read every tenant's, auditors their
 * own tenant's. Each change is audited in the tenant's chain, in the transaction that makes it, with
 * the policy before and after. Starts read the effective policy from a per-instance cache that every
 * change empties on every instance, through the pub/sub.
 */
import type { AuditDraft } from '../audit/audit.model';
import { NO_SESSION } from '../audit/audit.model';
import { badInput, forbidden, notFound } from '../errors';
import type { PolicyRepository, StoredTenantPolicy } from '../ports/policies';
import type { PubSub } from '../ports/pubsub';
import { hasRole, type Viewer } from '../viewer';
import { checkPolicy, effectivePolicy, PolicyError, policyChange, type EffectivePolicy, type PolicyDefaults, type TenantPolicy } from './tenant-policy';

/** The pub/sub topic a change is announced on, with the tenant as payload. */
export const POLICY_CHANGED_TOPIC = 'tenant-policy-changed';
/**
 * How long an instance trusts a cached policy without a notice: the longest a lost notice (Redis
 * restarting) can keep an old policy in force on another instance.
 */
export const POLICY_CACHE_MILLIS = 30_000;

export interface PolicyServiceOptions {
  repository: PolicyRepository;
  pubsub: PubSub;
  defaults: PolicyDefaults;
  now: () => number;
  globalAdminTenant?: string;
}

/** A tenant's policy as admins see it: the stored overrides and what is in force. */
export interface TenantPolicyView {
  tenant: string;
  overrides: TenantPolicy;
  effective: EffectivePolicy;
  updatedAt?: Date;
  updatedBy?: string;
}

export class PolicyService {
  private readonly cache = new Map<string, { loaded: Promise<EffectivePolicy>; until: number }>();
  private unsubscribe?: () => void;

  constructor(private readonly options: PolicyServiceOptions) {}

  /** Listens for changes made on other instances. */
  async start(): Promise<void> {
    this.unsubscribe = await this.options.pubsub.subscribe(POLICY_CHANGED_TOPIC, (tenant) => {
      if (typeof tenant === 'string') this.cache.delete(tenant);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.cache.clear();
  }

  /** The rules in force for the tenant's sessions starting now. */
  effectiveFor(tenant: string): Promise<EffectivePolicy> {
    const now = this.options.now();
    const cached = this.cache.get(tenant);
    if (cached && cached.until > now) return cached.loaded;
    const loaded = this.options.repository.find(tenant).then((stored) => effectivePolicy(this.options.defaults, stored?.policy));
    const entry = { loaded, until: now + POLICY_CACHE_MILLIS };
    this.cache.set(tenant, entry);
    // A failed read is not kept: the next start asks the store again.
    loaded.catch(() => this.cache.get(tenant) === entry && this.cache.delete(tenant));
    return loaded;
  }

  async read(viewer: Viewer, tenant: string): Promise<TenantPolicyView> {
    const readable = hasRole(viewer, 'ADMIN') || (hasRole(viewer, 'AUDITOR') && viewer.tenant === tenant);
    if (!readable) throw notFound('Tenant policy');
    return this.view(tenant, await this.options.repository.find(tenant));
  }

  /** Replaces the tenant's whole policy: a field left out inherits the configured default. */
  async set(viewer: Viewer, tenant: string, policy: TenantPolicy): Promise<TenantPolicyView> {
    this.checkManage(viewer, tenant);
    let checked: TenantPolicy;
    try {
      checked = checkPolicy(policy, this.options.defaults);
    } catch (error) {
      if (error instanceof PolicyError) throw badInput(error.message);
      throw error;
    }
    await this.replace(viewer, tenant, Object.keys(checked).length === 0 ? undefined : checked);
    return this.read(viewer, tenant);
  }

  /** Removes the tenant's policy: its sessions start under the configured defaults again. */
  async clear(viewer: Viewer, tenant: string): Promise<TenantPolicyView> {
    this.checkManage(viewer, tenant);
    await this.replace(viewer, tenant, undefined);
    return this.read(viewer, tenant);
  }

  private async replace(viewer: Viewer, tenant: string, next: TenantPolicy | undefined): Promise<void> {
    const { repository, pubsub, now } = this.options;
    // A change that changes nothing is not one: it is neither audited nor announced.
    const audit = (before: TenantPolicy | undefined): AuditDraft[] =>
      JSON.stringify(before ?? null) === JSON.stringify(next ?? null)
        ? []
        : [{ action: 'TENANT_POLICY_CHANGED', actor: viewer.userId, sessionId: NO_SESSION, userId: viewer.userId, reason: policyChange(before, next) }];
    await repository.replace(tenant, next, viewer.userId, new Date(now()), audit);
    this.cache.delete(tenant);
    await pubsub.publish(POLICY_CHANGED_TOPIC, tenant);
  }

  private checkManage(viewer: Viewer, tenant: string): void {
    if (!hasRole(viewer, 'ADMIN')) throw forbidden();
    const { globalAdminTenant } = this.options;
    if (viewer.tenant !== tenant && !(globalAdminTenant !== undefined && viewer.tenant === globalAdminTenant)) throw forbidden();
  }

  private view(tenant: string, stored: StoredTenantPolicy | undefined): TenantPolicyView {
    return {
      tenant,
      overrides: stored?.policy ?? {},
      effective: effectivePolicy(this.options.defaults, stored?.policy),
      updatedAt: stored?.updatedAt,
      updatedBy: stored?.updatedBy,
    };
  }
}
