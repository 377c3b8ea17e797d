/**
 * The webhook outbox as the domain sees it (stored by the store adapters beside sessions, so that a
 * transition writes its delivery rows in its own transaction), the sender that makes one signed
 * HTTP attempt, and the guard that says whether a URL may be called at all.
 */
import type { AuditDraft } from '../audit/audit.model';
import type { AttemptOutcome, DeliveryAfterAttempt } from '../webhooks/retry-policy';
import type { DeliveryAttemptRecord, DeliveryRecord, StoredWebhookEndpoint, WebhookEventType } from '../webhooks/webhook.model';

/** What an admin changes on an endpoint; what is absent stays. */
export interface EndpointChanges {
  url?: string;
  eventTypes?: WebhookEventType[];
  enabled?: boolean;
  /** A rotation: the new secret, and the old one kept until `previousSecretExpiresAt`. */
  rotation?: { sealedSecret: string; sealedPreviousSecret: string; previousSecretExpiresAt: Date };
}

/** A delivery this instance holds the lease of, with what the attempt needs of its endpoint. */
export interface ClaimedDelivery {
  delivery: DeliveryRecord;
  endpoint: StoredWebhookEndpoint;
}

export interface DeliveryPosition {
  createdAtMillis: number;
  id: string;
}

export interface WebhookRepository {
  /** Stores a new endpoint and appends `audit` to its tenant's chain, in one transaction. */
  createEndpoint(endpoint: StoredWebhookEndpoint, audit: AuditDraft[]): Promise<void>;
  findEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined>;
  /** Oldest first; every tenant's when `tenant` is undefined. */
  listEndpoints(tenant: string | undefined): Promise<StoredWebhookEndpoint[]>;
  countEndpoints(tenant: string): Promise<number>;
  /** Applies `changes` and appends `audit`, in one transaction; undefined when the endpoint is gone. */
  updateEndpoint(id: string, changes: EndpointChanges, audit: AuditDraft[], at: Date): Promise<StoredWebhookEndpoint | undefined>;
  /** Deletes the endpoint with its deliveries and their attempts, and appends `audit`; false when it was gone. */
  deleteEndpoint(id: string, audit: AuditDraft[], at: Date): Promise<boolean>;
  /**
   * Takes the lease of up to `limit` pending deliveries due at `nowMillis` whose endpoint is enabled
   * and whose lease nobody holds (or has run out: its holder died), until `nowMillis + leaseMillis`.
   * A delivery is held by one instance at a time.
   */
  claimDue(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedDelivery[]>;
  /**
   * Records one attempt in one transaction: the attempt row, the delivery's new state (and its lease
   * dropped), and its endpoint's failure count and failing mark by `retry-policy.endpointAfterAttempt`,
   * with the audit event that mark's change brings. `at` is when the attempt started.
   */
  recordAttempt(claimed: ClaimedDelivery, outcome: AttemptOutcome, after: DeliveryAfterAttempt, at: Date, failingAfter: number): Promise<void>;
  /** Deliveries pending (store-wide) and endpoints marked failing, for the metrics. */
  backlog(): Promise<{ pendingDeliveries: number; failingEndpoints: number }>;
  /**
   * Deletes up to `limit` deliveries that finished (delivered, or failed for good) before `before`,
   * oldest first, with their attempts; never a pending one. Returns how many it deleted.
   */
  purgeFinished(before: Date, limit: number): Promise<number>;
  /** Drops every lease `owner` holds of deliveries it has not started (a gateway stopping). */
  releaseLeases(owner: string): Promise<void>;
  /** An endpoint's deliveries, newest first. */
  deliveries(endpointId: string, first: number, after?: DeliveryPosition): Promise<{ items: DeliveryRecord[]; hasNextPage: boolean; totalCount: number }>;
  findDelivery(id: string): Promise<DeliveryRecord | undefined>;
  /** Each delivery's attempts, oldest first, in key order. */
  attemptsFor(deliveryIds: readonly string[]): Promise<DeliveryAttemptRecord[][]>;
  /** Makes a delivery pending again, due at `at`, tried until `retryUntil`; appends `audit`. */
  redeliver(id: string, tenant: string, at: Date, retryUntil: Date, audit: AuditDraft[]): Promise<DeliveryRecord | undefined>;
}

/** One signed attempt over HTTP. */
export interface WebhookSendRequest {
  url: string;
  /** The delivery's id, sent as `webhook-id`: the same on every attempt, for receivers to deduplicate. */
  messageId: string;
  /** Sent as `webhook-timestamp` and signed; the time of this attempt. */
  timestamp: Date;
  body: string;
  /** `whsec_…` secrets; one signature each (two while a rotated secret overlaps). */
  secrets: string[];
}

export interface WebhookSender {
  /** Never throws: every failure is an outcome. */
  send(request: WebhookSendRequest): Promise<AttemptOutcome>;
}

export interface UrlGuard {
  /** Throws a BAD_USER_INPUT domain error saying why `url` may not be an endpoint. */
  check(url: string): Promise<void>;
}
