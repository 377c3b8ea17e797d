/** Webhook endpoints, their delivery log and redelivery: decorators plus one service call each. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import type { DeliveryAttemptRecord, DeliveryRecord, WebhookEndpointRecord, WebhookEventType } from '../domain/webhooks/webhook.model';
import type { DeliveryConnection } from '../domain/webhooks/webhook.service';
import {
  CreateWebhookEndpointInput,
  UpdateWebhookEndpointInput,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  WebhookDeliveryConnection,
  WebhookEndpoint,
  WebhookEndpointSecretPayload,
  type WebhookEventTypeName,
} from './webhook.type';
import * as Enums from './enums';

/** SESSION_DECIDED <-> session.decided: the enum names the payload's dotted `type`. */
const toDomain = (names: WebhookEventTypeName[]): WebhookEventType[] => names.map((name) => name.toLowerCase().replace('_', '.') as WebhookEventType);
const toName = (type: WebhookEventType): WebhookEventTypeName => type.toUpperCase().replace('.', '_') as WebhookEventTypeName;

@Resolver(() => WebhookEndpoint)
export class WebhookEndpointResolver {
  @Authorized('ADMIN', 'AUDITOR')
  @Query(() => [WebhookEndpoint], { description: "Oldest first. Auditors see their own tenant's endpoints; admins any tenant's (all, unless `tenant` is given)." })
  webhookEndpoints(@Ctx() ctx: GatewayContext, @Arg('tenant', () => String, { nullable: true }) tenant?: string | null): Promise<WebhookEndpointRecord[]> {
    return ctx.services.webhooks.list(requireViewer(ctx), tenant);
  }

  @Authorized('ADMIN', 'AUDITOR')
  @Query(() => WebhookEndpoint, { nullable: true, description: 'An endpoint the caller may see; NOT_FOUND otherwise.' })
  webhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<WebhookEndpointRecord> {
    return ctx.services.webhooks.find(requireViewer(ctx), id);
  }

  @Authorized('ADMIN')
  @Mutation(() => WebhookEndpointSecretPayload, { description: 'Registers an endpoint; the signing secret is in the answer, once.' })
  createWebhookEndpoint(@Arg('input', () => CreateWebhookEndpointInput) input: CreateWebhookEndpointInput, @Ctx() ctx: GatewayContext) {
    return ctx.services.webhooks.create(requireViewer(ctx), { ...input, eventTypes: toDomain(input.eventTypes), enabled: input.enabled ?? true });
  }

  @Authorized('ADMIN')
  @Mutation(() => WebhookEndpoint)
  updateWebhookEndpoint(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookEndpointInput) input: UpdateWebhookEndpointInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<WebhookEndpointRecord> {
    return ctx.services.webhooks.update(requireViewer(ctx), id, {
      url: input.url ?? undefined,
      eventTypes: input.eventTypes ? toDomain(input.eventTypes) : undefined,
      enabled: input.enabled ?? undefined,
    });
  }

  @Authorized('ADMIN')
  @Mutation(() => WebhookEndpointSecretPayload, {
    description: 'A new signing secret, shown once. The one it replaces still signs (a second signature) for overlapSeconds (default WEBHOOK_SECRET_OVERLAP_MS).',
  })
  rotateWebhookSecret(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext, @Arg('overlapSeconds', () => Int, { nullable: true }) overlapSeconds?: number | null) {
    return ctx.services.webhooks.rotateSecret(requireViewer(ctx), id, overlapSeconds);
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean, { description: 'Deletes the endpoint with its delivery log; pending deliveries are dropped.' })
  deleteWebhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<boolean> {
    return ctx.services.webhooks.delete(requireViewer(ctx), id);
  }

  @Authorized('ADMIN')
  @Mutation(() => WebhookDelivery, { description: 'Tries a delivery again now, whatever became of it, for a new retry horizon.' })
  redeliverWebhook(@Arg('deliveryId', () => ID) deliveryId: string, @Ctx() ctx: GatewayContext): Promise<DeliveryRecord> {
    return ctx.services.webhooks.redeliver(requireViewer(ctx), deliveryId);
  }

  @FieldResolver(() => [Enums.WebhookEventType])
  eventTypes(@Root() endpoint: WebhookEndpointRecord): WebhookEventTypeName[] {
    return endpoint.eventTypes.map(toName);
  }

  @FieldResolver(() => WebhookDeliveryConnection, { description: 'The delivery log, newest first.' })
  deliveries(
    @Root() endpoint: WebhookEndpointRecord,
    @Ctx() ctx: GatewayContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<DeliveryConnection> {
    // Reaching an endpoint at all means the caller may see it, and so its log.
    return ctx.services.webhooks.deliveryPage(endpoint.id, first ?? 20, after);
  }
}

@Resolver(() => WebhookDelivery)
export class WebhookDeliveryResolver {
  @FieldResolver(() => Enums.WebhookEventType)
  eventType(@Root() delivery: DeliveryRecord): WebhookEventTypeName {
    return toName(delivery.eventType);
  }

  @FieldResolver(() => [WebhookDeliveryAttempt], { description: 'Oldest first.' })
  attempts(@Root() delivery: DeliveryRecord, @Ctx() ctx: GatewayContext): Promise<DeliveryAttemptRecord[]> {
    return ctx.loaders.webhookAttempts.load(delivery.id);
  }
}
