/** What the SQL adapters share of webhooks: row mapping and the outbox rows a transition writes. */
import { randomUUID } from 'node:crypto';
import type { DeliveryAttemptRecord, DeliveryDraft, DeliveryRecord, StoredWebhookEndpoint, WebhookEventType } from '../../domain/webhooks/webhook.model';
import type { Row } from './rows';

const optional = <T>(value: unknown): T | undefined => (value === null || value === undefined ? undefined : (value as T));
const optionalDate = (value: unknown): Date | undefined => (value === null || value === undefined ? undefined : new Date(Number(value)));
const flag = (value: unknown): boolean => value === true || value === 1;

export const ENDPOINT_COLUMNS =
  'id, tenant, url, event_types, enabled, sealed_secret, sealed_previous_secret, previous_secret_until, consecutive_failures, failing, created_at, updated_at';

export function endpointValues(endpoint: StoredWebhookEndpoint, bool: (value: boolean) => unknown): unknown[] {
  return [
    endpoint.id,
    endpoint.tenant,
    endpoint.url,
    JSON.stringify(endpoint.eventTypes),
    bool(endpoint.enabled),
    endpoint.sealedSecret,
    endpoint.sealedPreviousSecret ?? null,
    endpoint.previousSecretExpiresAt?.getTime() ?? null,
    endpoint.consecutiveFailures,
    bool(endpoint.failing),
    endpoint.createdAt.getTime(),
    endpoint.updatedAt.getTime(),
  ];
}

export function toEndpoint(row: Row): StoredWebhookEndpoint {
  return {
    id: row.id as string,
    tenant: row.tenant as string,
    url: row.url as string,
    eventTypes: JSON.parse(row.event_types as string) as WebhookEventType[],
    enabled: flag(row.enabled),
    sealedSecret: row.sealed_secret as string,
    sealedPreviousSecret: optional(row.sealed_previous_secret),
    previousSecretExpiresAt: optionalDate(row.previous_secret_until),
    consecutiveFailures: Number(row.consecutive_failures),
    failing: flag(row.failing),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

export const DELIVERY_COLUMNS = 'id, endpoint_id, tenant, event_type, session_id, payload, status, attempt_count, created_at, retry_until, next_attempt_at';

/** The `webhook-id` of a new delivery: the same on every attempt of it. */
export const newDeliveryId = (): string => `msg_${randomUUID().replace(/-/g, '')}`;

export function deliveryValues(id: string, draft: DeliveryDraft): unknown[] {
  return [
    id,
    draft.endpointId,
    draft.event.tenant,
    draft.event.type,
    draft.event.sessionId,
    JSON.stringify(draft.event.payload),
    'PENDING',
    0,
    draft.createdAt.getTime(),
    draft.retryUntil.getTime(),
    draft.createdAt.getTime(),
  ];
}

export function toDelivery(row: Row): DeliveryRecord {
  return {
    id: row.id as string,
    endpointId: row.endpoint_id as string,
    tenant: row.tenant as string,
    eventType: row.event_type as WebhookEventType,
    sessionId: row.session_id as string,
    payload: row.payload as string,
    status: row.status as DeliveryRecord['status'],
    attemptCount: Number(row.attempt_count),
    createdAt: new Date(Number(row.created_at)),
    retryUntil: new Date(Number(row.retry_until)),
    nextAttemptAt: optionalDate(row.next_attempt_at),
    deliveredAt: optionalDate(row.delivered_at),
    lastStatusCode: optional(row.last_status_code),
    lastLatencyMs: row.last_latency_ms === null || row.last_latency_ms === undefined ? undefined : Number(row.last_latency_ms),
    lastError: optional(row.last_error),
  };
}

export function toDeliveryAttempt(row: Row): DeliveryAttemptRecord {
  return {
    deliveryId: row.delivery_id as string,
    attempt: Number(row.attempt),
    at: new Date(Number(row.at)),
    statusCode: optional(row.status_code),
    latencyMs: Number(row.latency_ms),
    error: optional(row.error),
  };
}

/** Attempt rows grouped per delivery of `ids`, in that order. */
export function attemptsByDelivery(ids: readonly string[], rows: Row[]): DeliveryAttemptRecord[][] {
  const lists = new Map<string, DeliveryAttemptRecord[]>();
  for (const row of rows) {
    const attempt = toDeliveryAttempt(row);
    lists.set(attempt.deliveryId, [...(lists.get(attempt.deliveryId) ?? []), attempt]);
  }
  return ids.map((id) => lists.get(id) ?? []);
}

/** Columns of a delivery row that an attempt writes, in the order both adapters bind them. */
export function attemptUpdateValues(
  after: { status: string; nextAttemptAt?: Date },
  outcome: { statusCode?: number; latencyMs: number; error?: string },
  at: Date,
): unknown[] {
  return [
    after.status,
    after.nextAttemptAt?.getTime() ?? null,
    after.status === 'DELIVERED' ? at.getTime() : null,
    outcome.statusCode ?? null,
    Math.round(outcome.latencyMs),
    outcome.error ?? null,
    // finished_at: a delivery leaves the outbox for the delivery log, whose retention counts from here.
    after.status === 'PENDING' ? null : at.getTime(),
  ];
}
