/** Builds the executable schema from the type-graphql classes; `npm run schema` prints it to schema.graphql. */
import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuditFeedResolver } from './audit-feed.resolver';
import { AuditResolver, SessionAuditTrailResolver } from './audit.resolver';
import { authChecker } from './auth-checker';
import { EvidenceResolver, SessionEvidenceResolver } from './evidence.resolver';
import { ViewerResolver } from './viewer.resolver';
import { DeviceCorrelationResolver } from './device-correlation.resolver';
import { DecisionResolver, SessionResolver } from './session.resolver';
import { DateTimeScalar } from './date-time.scalar';
import { WebhookDeliveryResolver, WebhookEndpointResolver } from './webhook.resolver';
import { TenantPolicyResolver } from './policy.resolver';
import { ErasureResolver } from './erasure.resolver';

export function buildGatewaySchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      ViewerResolver,
      SessionResolver,
      DecisionResolver,
      SessionAuditTrailResolver,
      AuditResolver,
      AuditFeedResolver,
      DeviceCorrelationResolver,
      SessionEvidenceResolver,
      EvidenceResolver,
      WebhookEndpointResolver,
      WebhookDeliveryResolver,
      TenantPolicyResolver,
      ErasureResolver,
    ],
    authChecker,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
    // type-graphql insists on a pubSub as soon as a subscription exists, even though ours brings its
    // own `subscribe` (SessionQueries.decision and AuditFeed.open, on the gateway's PubSub). This one is never used.
    pubSub: {
      publish: () => {
        throw new Error('type-graphql topics are not used: publish through the gateway PubSub');
      },
      subscribe: () => {
        throw new Error('type-graphql topics are not used: subscriptions bring their own subscribe');
      },
    },
  });
}

/** The SDL committed as schema.graphql: sorted, so the file changes only when the schema does. */
export function printGatewaySchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
