/**
 * When a delivery is tried again, when it is given up, and when its endpoint counts as failing.
 * Pure: times and the random draw come in with the input, so the rules are tested as tables.
 */
import type { AuditDraft } from '../audit/audit.model';
import { SYSTEM_ACTOR } from '../audit/audit.model';
import type { DeliveryStatus, WebhookEndpointRecord } from './webhook.model';

export interface RetrySettings {
  /** The first retry comes about this long after the first failure; each next one twice as late. */
  baseDelayMillis: number;
  /** No gap between two attempts grows past this (a `Retry-After` may ask for more, up to the horizon). */
  maxDelayMillis: number;
}

/** What one attempt ended with, as the sender saw it. */
export interface AttemptOutcome {
  /** A 2xx answer. */
  delivered: boolean;
  statusCode?: number;
  latencyMs: number;
  /** The receiver's `Retry-After`, in milliseconds from the answer. */
  retryAfterMillis?: number;
  /** Why it failed, in a few words that name no secret (a timeout, a refused address, a 503). */
  error?: string;
}

/** A delivery's state after an attempt. */
export interface DeliveryAfterAttempt {
  status: DeliveryStatus;
  nextAttemptAt?: Date;
}

/**
 * Exponential backoff with jitter: the n-th retry waits `base * 2^(n-1)`, capped, of which a random
 * half is taken off ("equal jitter"), so that endpoints that fail together are not retried in step.
 * A `Retry-After` longer than that is honoured as it is. A retry that would start after `retryUntil`
 * is not made: the delivery has failed.
 */
export function afterAttempt(
  attemptCount: number,
  outcome: AttemptOutcome,
  retryUntil: Date,
  at: Date,
  settings: RetrySettings,
  random: number,
): DeliveryAfterAttempt {
  if (outcome.delivered) return { status: 'DELIVERED' };
  const exponential = Math.min(settings.maxDelayMillis, settings.baseDelayMillis * 2 ** Math.min(30, Math.max(0, attemptCount - 1)));
  const jittered = exponential / 2 + (exponential / 2) * random;
  const delay = Math.max(jittered, outcome.retryAfterMillis ?? 0);
  const next = at.getTime() + delay;
  if (next > retryUntil.getTime()) return { status: 'FAILED' };
  return { status: 'PENDING', nextAttemptAt: new Date(Math.ceil(next)) };
}

/**
 * `Retry-After` (RFC 9110 section 10.2.3): seconds, or an HTTP date; milliseconds from `now`, or
 * undefined when absent or not understood.
 */
export function parseRetryAfter(value: string | undefined, nowMillis: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis);
}

/** What an attempt changes on its endpoint, and the audit events that change records. */
export interface EndpointAfterAttempt {
  consecutiveFailures: number;
  failing: boolean;
  auditEvents: AuditDraft[];
}

/**
 * A run of `failingAfter` failed attempts in a row marks the endpoint failing (audited once, shown
 * to admins); the next delivered attempt clears it (audited too). Deliveries go on meanwhile: an
 * endpoint is only ever switched off by an admin.
 */
export function endpointAfterAttempt(
  before: Pick<WebhookEndpointRecord, 'id' | 'consecutiveFailures' | 'failing'>,
  delivered: boolean,
  failingAfter: number,
): EndpointAfterAttempt {
  if (delivered) {
    return {
      consecutiveFailures: 0,
      failing: false,
      auditEvents: before.failing ? [endpointEvent('WEBHOOK_ENDPOINT_RECOVERED', before.id, SYSTEM_ACTOR)] : [],
    };
  }
  const consecutiveFailures = before.consecutiveFailures + 1;
  const failing = before.failing || consecutiveFailures >= failingAfter;
  return {
    consecutiveFailures,
    failing,
    auditEvents: failing && !before.failing ? [endpointEvent('WEBHOOK_ENDPOINT_FAILING', before.id, SYSTEM_ACTOR)] : [],
  };
}

/**
 * An audit event about an endpoint. The chain's `sessionId` column carries the endpoint's id (the
 * events are about no session), and `userId` the actor, so a tenant's trail filters by either.
 */
export function endpointEvent(action: AuditDraft['action'], endpointId: string, actor: string): AuditDraft {
  return { action, actor, sessionId: endpointId, userId: actor };
}
