/** GraphQL types of webhooks (docs/partners.md, docs/api.md). Resolvers hand them domain records. */
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import * as Enums from './enums';
import { PageInfo } from './session.type';
import type { DeliveryStatus } from '../domain/webhooks/webhook.model';

export type WebhookEventTypeName = keyof typeof Enums.WebhookEventType;

@ObjectType({ simpleResolvers: true, description: "A partner's HTTPS endpoint that receives signed events of its tenant's sessions." })
export class WebhookEndpoint {
  @Field(() => ID) id!: string;
  @Field() tenant!: string;
  @Field() url!: string;
  // eventTypes and deliveries are field resolvers (webhook.resolver.ts).
  @Field({ description: 'A disabled endpoint is sent nothing; deliveries already pending wait until it is enabled again.' }) enabled!: boolean;
  @Field({ description: 'Set after WEBHOOK_FAILING_AFTER failed attempts in a row; cleared by the next delivered one.' }) failing!: boolean;
  @Field(() => Int) consecutiveFailures!: number;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
  @Field(() => Date, { nullable: true, description: 'Until then deliveries also carry a signature with the secret before the last rotation.' })
  previousSecretExpiresAt?: Date;
}

@ObjectType({ simpleResolvers: true })
export class WebhookEndpointSecretPayload {
  @Field(() => WebhookEndpoint) endpoint!: WebhookEndpoint;
  @Field({ description: 'The signing secret (whsec_…). Shown here only, once: the gateway keeps it sealed and never shows it again.' }) secret!: string;
}

@ObjectType({ simpleResolvers: true, description: 'One HTTP attempt of a delivery.' })
export class WebhookDeliveryAttempt {
  @Field(() => Int, { description: '1, 2, 3 …' }) attempt!: number;
  @Field() at!: Date;
  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status; null when none came (timeout, refused)." }) statusCode?: number;
  @Field(() => Int) latencyMs!: number;
  @Field(() => String, { nullable: true }) error?: string;
}

@ObjectType({ simpleResolvers: true, description: 'One event for one endpoint. Its id is the webhook-id header of every attempt.' })
export class WebhookDelivery {
  @Field(() => ID) id!: string;
  @Field(() => ID) endpointId!: string;
  // eventType and attempts are field resolvers (webhook.resolver.ts).
  @Field(() => ID) sessionId!: string;
  @Field(() => Enums.WebhookDeliveryStatus) status!: DeliveryStatus;
  @Field(() => Int) attemptCount!: number;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true, description: 'When the next attempt is due, while PENDING.' }) nextAttemptAt?: Date;
  @Field(() => Date, { nullable: true }) deliveredAt?: Date;
  @Field(() => Int, { nullable: true }) lastStatusCode?: number;
  @Field(() => Int, { nullable: true }) lastLatencyMs?: number;
  @Field(() => String, { nullable: true }) lastError?: string;
  @Field({ description: 'No attempt starts after this; redelivering moves it.' }) retryUntil!: Date;
}

@ObjectType({ simpleResolvers: true })
export class WebhookDeliveryEdge {
  @Field() cursor!: string;
  @Field(() => WebhookDelivery) node!: WebhookDelivery;
}

@ObjectType({ simpleResolvers: true })
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge]) edges!: WebhookDeliveryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@InputType()
export class CreateWebhookEndpointInput {
  @Field(() => String, { nullable: true, description: "Default: the caller's tenant. Another tenant only for a global admin." }) tenant?: string | null;
  @Field({ description: 'https (http only outside production); must not resolve to a private or loopback address.' }) url!: string;
  @Field(() => [Enums.WebhookEventType]) eventTypes!: WebhookEventTypeName[];
  @Field(() => Boolean, { nullable: true, defaultValue: true }) enabled?: boolean | null;
}

@InputType()
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true }) url?: string | null;
  @Field(() => [Enums.WebhookEventType], { nullable: true }) eventTypes?: WebhookEventTypeName[] | null;
  @Field(() => Boolean, { nullable: true }) enabled?: boolean | null;
}
