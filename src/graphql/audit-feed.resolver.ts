/** The live audit feed: a subscription whose `subscribe` is one service call. */
import { Arg, Authorized, Int, Resolver, Root, Subscription } from 'type-graphql';
import type { AuditEventRecord } from '../domain/audit/audit.model';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import { AuditEvent, AuditFeedFilter } from './audit-event.type';

@Resolver(() => AuditEvent)
export class AuditFeedResolver {
  @Authorized('AUDITOR', 'ADMIN')
  @Subscription(() => AuditEvent, {
    description:
      "Every new audit event, each tenant's in chain order (sequence ascending). With afterSequence, the stored events of the chain after it come first, then the live ones, with no gap and none twice: a client that reconnects passes the last sequence it received. Auditors follow their own tenant; admins the tenant named in the filter, or every tenant (each in its own chain order; no order across tenants, and no resume point). A client that falls too far behind is ended with RATE_LIMITED, whose extensions.afterSequence says where to resume.",
    subscribe: ({ args, context }) => {
      const ctx = context as GatewayContext;
      const filter = (args.filter ?? {}) as AuditFeedFilter;
      return ctx.services.auditFeed.open(requireViewer(ctx), { ...filter, afterSequence: args.afterSequence as number | null | undefined }, () => ctx.loaders.forget());
    },
  })
  auditEvents(
    @Root() event: AuditEventRecord,
    @Arg('filter', () => AuditFeedFilter, { nullable: true }) _filter?: AuditFeedFilter | null,
    @Arg('afterSequence', () => Int, { nullable: true, description: 'Resume after this sequence of the chain (0: replay it all).' }) _afterSequence?: number | null,
  ): AuditEventRecord {
    return event;
  }
}
