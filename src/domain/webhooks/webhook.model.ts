/**
 * Webhooks as the domain sees them: the endpoints a tenant registers, the events a session's
 * transitions send them, and the delivery rows (the outbox) written in the same transaction as the
 * transition, which the dispatcher then delivers. Pure data and pure shapes: no I/O, no clock.
 */
import type { DecisionRecord, SessionRecord, SessionStatus, Verdict } from '../sessions/session.model';

/** The event types a partner may subscribe to, as they travel in the payload's `type`. */
export type WebhookEventType = 'session.decided' | 'session.expired' | 'session.deleted';

/** Every type once; a `Record` so that a type added to the union must be added here too. */
const TYPE_NAMES: Record<WebhookEventType, true> = { 'session.decided': true, 'session.expired': true, 'session.deleted': true };
export const WEBHOOK_EVENT_TYPES = Object.keys(TYPE_NAMES) as readonly WebhookEventType[];

/** What a delivery's body carries: never a secret, a device token or a reference image. */
export interface WebhookPayload {
  type: WebhookEventType;
  /** When the gateway saw the change (ISO-8601 UTC). */
  timestamp: string;
  data: {
    sessionId: string;
    tenant: string;
    status: SessionStatus;
    decision: {
      verdict: Verdict;
      livenessDecision: string | null;
      verifyResult: { isIdentical: boolean; matchConfidence: number } | null;
      attemptId: number | null;
      decidedAt: string;
    } | null;
  };
}

/** An event a transition sends to the tenant's endpoints subscribed to its type. */
export interface WebhookEventDraft {
  type: WebhookEventType;
  sessionId: string;
  tenant: string;
  payload: WebhookPayload;
}

/** The event a transition that leaves `session` with `decision` sends. */
export function webhookEvent(type: WebhookEventType, session: SessionRecord, decision: DecisionRecord | undefined, at: Date): WebhookEventDraft {
  return {
    type,
    sessionId: session.id,
    tenant: session.tenant,
    payload: {
      type,
      timestamp: at.toISOString(),
      data: {
        sessionId: session.id,
        tenant: session.tenant,
        status: session.status,
        decision: decision
          ? {
              verdict: decision.verdict,
              livenessDecision: decision.livenessDecision ?? null,
              verifyResult: decision.verifyResult ? { isIdentical: decision.verifyResult.isIdentical, matchConfidence: decision.verifyResult.matchConfidence } : null,
              attemptId: decision.attemptId ?? null,
              decidedAt: decision.decidedAt.toISOString(),
            }
          : null,
      },
    },
  };
}

export interface WebhookEndpointRecord {
  id: string;
  tenant: string;
  url: string;
  eventTypes: WebhookEventType[];
  enabled: boolean;
  /** Set after `failingAfter` failed attempts in a row; cleared by the next success. */
  failing: boolean;
  consecutiveFailures: number;
  createdAt: Date;
  updatedAt: Date;
  /** Until then deliveries are signed with the secret before the last rotation too. */
  previousSecretExpiresAt?: Date;
}

/** An endpoint as stored: its signing secrets sealed (`TokenSealer`, bound to the endpoint's id). */
export interface StoredWebhookEndpoint extends WebhookEndpointRecord {
  sealedSecret: string;
  sealedPreviousSecret?: string;
}

export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

/** One outbox row: one event for one endpoint. Its id is the Standard Webhooks `webhook-id`. */
export interface DeliveryRecord {
  id: string;
  endpointId: string;
  tenant: string;
  eventType: WebhookEventType;
  sessionId: string;
  /** The exact body every attempt sends (JSON text of a `WebhookPayload`). */
  payload: string;
  status: DeliveryStatus;
  attemptCount: number;
  createdAt: Date;
  /** No attempt is started after this; a redelivery moves it. */
  retryUntil: Date;
  /** When the next attempt is due; undefined once delivered or failed. */
  nextAttemptAt?: Date;
  deliveredAt?: Date;
  lastStatusCode?: number;
  lastLatencyMs?: number;
  lastError?: string;
}

export interface DeliveryAttemptRecord {
  deliveryId: string;
  attempt: number;
  at: Date;
  statusCode?: number;
  latencyMs: number;
  error?: string;
}

/** A new outbox row, before the adapter gives it an id. */
export interface DeliveryDraft {
  endpointId: string;
  event: WebhookEventDraft;
  createdAt: Date;
  retryUntil: Date;
}

/**
 * The fan-out at write time: one row per enabled endpoint of the event's tenant subscribed to its
 * type. The adapter reads the tenant's endpoints inside the transition's transaction and asks here.
 */
export function planDeliveries(
  endpoints: readonly Pick<WebhookEndpointRecord, 'id' | 'tenant' | 'enabled' | 'eventTypes'>[],
  events: readonly WebhookEventDraft[],
  at: Date,
  horizonMillis: number,
): DeliveryDraft[] {
  const drafts: DeliveryDraft[] = [];
  for (const event of events) {
    for (const endpoint of endpoints) {
      if (endpoint.tenant !== event.tenant || !endpoint.enabled || !endpoint.eventTypes.includes(event.type)) continue;
      drafts.push({ endpointId: endpoint.id, event, createdAt: at, retryUntil: new Date(at.getTime() + horizonMillis) });
    }
  }
  return drafts;
}
