/** Tenant policies: decorators plus one service call each. */
import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { TenantPolicy as TenantPolicyRecord } from '../domain/policy/tenant-policy';
import type { TenantPolicyView } from '../domain/policy/policy.service';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import { TenantPolicy, TenantPolicyInput } from './policy.type';

/** The input without its nulls: null and left out both mean "inherit". */
const overrides = (input: TenantPolicyInput): TenantPolicyRecord =>
  Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined)) as TenantPolicyRecord;

@Resolver(() => TenantPolicy)
export class TenantPolicyResolver {
  @Authorized('ADMIN', 'AUDITOR')
  @Query(() => TenantPolicy, { description: "The tenant's overrides and the rules in force. Admins: any tenant; auditors: their own (else NOT_FOUND)." })
  tenantPolicy(@Arg('tenant', () => String) tenant: string, @Ctx() ctx: GatewayContext): Promise<TenantPolicyView> {
    return ctx.services.policies.read(requireViewer(ctx), tenant);
  }

  @Authorized('ADMIN')
  @Mutation(() => TenantPolicy, {
    description: "Replaces the tenant's whole policy (admins of the tenant, or of the global-admin tenant); audited as TENANT_POLICY_CHANGED.",
  })
  setTenantPolicy(
    @Arg('tenant', () => String) tenant: string,
    @Arg('input', () => TenantPolicyInput) input: TenantPolicyInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<TenantPolicyView> {
    return ctx.services.policies.set(requireViewer(ctx), tenant, overrides(input));
  }

  @Authorized('ADMIN')
  @Mutation(() => TenantPolicy, { description: "Removes the tenant's policy: its sessions start under the configured defaults; audited." })
  clearTenantPolicy(@Arg('tenant', () => String) tenant: string, @Ctx() ctx: GatewayContext): Promise<TenantPolicyView> {
    return ctx.services.policies.clear(requireViewer(ctx), tenant);
  }
}
