/** Audit queries, the session's trail and the event's session: decorators plus one service call each. */
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, Info, Int, Query, Resolver, Root } from 'type-graphql';
import { badInput } from '../domain/errors';
import { rootFieldCount } from './operation-fields';
import { requireViewer } from './auth-checker';
import { canRead } from '../domain/viewer';
import type { GatewayContext } from './context';
import type { SessionRecord } from '../domain/sessions/session.model';
import { LivenessSession } from './session.type';
import type { AuditEventRecord, AuditReason } from '../domain/audit/audit.model';
import { isPolicyChange } from '../domain/policy/tenant-policy';
import { isErasureText } from '../domain/erasure/erasure-plan';
import * as Enums from './enums';
import type { AuditConnection } from '../domain/audit/audit.service';
import { AuditChainReport, AuditCheckpointInput, AuditEvent, AuditEventConnection, AuditFilter } from './audit-event.type';

@Resolver(() => AuditEvent)
export class AuditResolver {
  @Authorized('AUDITOR', 'ADMIN')
  @Query(() => AuditEventConnection, { description: "Newest first. Auditors see their own tenant's events; admins any tenant's." })
  auditHistory(
    @Ctx() ctx: GatewayContext,
    @Arg('filter', () => AuditFilter, { nullable: true }) filter?: AuditFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AuditConnection> {
    return ctx.services.audit.history(requireViewer(ctx), filter, first ?? 50, after);
  }

  @Authorized('AUDITOR', 'ADMIN')
  @Query(() => AuditChainReport, { description: "Recomputes a tenant's hash chain (default: the caller's tenant) from the stored events." })
  verifyAuditChain(
    @Ctx() ctx: GatewayContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('checkpoint', () => AuditCheckpointInput, { nullable: true, description: 'A checkpoint kept outside the database, checked against the chain' })
    checkpoint?: AuditCheckpointInput | null,
  ) {
    // Each verification reads the whole chain: aliases would multiply that cost within one request.
    if (rootFieldCount(info, 'verifyAuditChain') > 1) throw badInput('A document may ask for verifyAuditChain only once.');
    return ctx.services.audit.verifyChain(requireViewer(ctx), tenant, checkpoint);
  }

  @Authorized('AUDITOR', 'ADMIN')
  @Query(() => String, { description: 'The Ed25519 public key (SPKI PEM) that verifies audit checkpoints; also at GET /audit/checkpoint-key.' })
  auditCheckpointKey(@Ctx() ctx: GatewayContext): string {
    return ctx.services.audit.checkpointPublicKey;
  }

  @FieldResolver(() => Enums.AuditReason, { nullable: true })
  reason(@Root() event: AuditEventRecord): AuditReason | undefined {
    return isPolicyChange(event.reason) || isErasureText(event.reason) ? undefined : (event.reason as AuditReason | undefined);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'TENANT_POLICY_CHANGED: JSON {"before":…,"after":…} of the stored overrides (null: none), as chained in the hash (see docs/audit.md)',
  })
  change(@Root() event: AuditEventRecord): string | undefined {
    return isPolicyChange(event.reason) ? event.reason : undefined;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'USER_DATA_ERASED: JSON {"erased":{"sessions","evidenceDeleted","eventsRewritten","eventsKept"}}, as chained in the hash (see docs/audit.md)',
  })
  erasure(@Root() event: AuditEventRecord): string | undefined {
    return isErasureText(event.reason) ? event.reason : undefined;
  }

  @FieldResolver(() => LivenessSession, { nullable: true, description: 'The session, when the caller may see it.' })
  async session(@Root() event: AuditEventRecord, @Ctx() ctx: GatewayContext): Promise<SessionRecord | undefined> {
    const session = await ctx.loaders.session.load(event.sessionId);
    return session && ctx.viewer && canRead(ctx.viewer, session) ? session : undefined;
  }
}

@Resolver(() => LivenessSession)
export class SessionAuditTrailResolver {
  @FieldResolver(() => AuditEventConnection, { description: "The session's events, newest first." })
  auditTrail(
    @Root() session: SessionRecord,
    @Ctx() ctx: GatewayContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AuditConnection> {
    // Reaching a session at all means the caller may see it, and so its trail.
    return ctx.services.audit.trail(session.id, first ?? 50, after);
  }
}
