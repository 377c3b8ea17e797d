/**
 * The gateway's Prometheus metrics (prom-client), served at `GET /metrics` (`http/metrics-endpoint.ts`).
 *
 * Each gateway has a registry of its own, never prom-client's global one: tests run several gateways
 * in one process, and each must count only what it served. Every label has a small, fixed set of
 * values (operation names of the schema, public error codes, HTTP statuses, verdicts, rule names):
 * no user, tenant, session or token ever becomes a label. Callers use the typed methods below; the
 * gauges read live counts when scraped, so they cannot drift from what they count.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Verdict } from '../domain/sessions/session.model';
import type { DeliveryStatus } from '../domain/webhooks/webhook.model';

export const METRIC_PREFIX = 'liveness_gateway_';

export type Transport = 'http' | 'websocket';
/** The abuse limits (`limits/limits.ts`) and the per-connection cap on WebSocket operations. */
export type RateLimitRule = 'user_starts' | 'device_starts' | 'unauthenticated_requests' | 'websocket_operations';

const VERDICTS: readonly Verdict[] = ['PASS', 'FAIL', 'INCONCLUSIVE', 'EXPIRED'];
const RULES: readonly RateLimitRule[] = ['user_starts', 'device_starts', 'unauthenticated_requests', 'websocket_operations'];
const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const;
const PRIORITIES = ['interactive', 'background'] as const;

/** What came of one webhook attempt: delivered, to be tried again, or the delivery given up. */
export type WebhookAttemptOutcome = 'delivered' | 'retry' | 'failed';
/** The receiver's answer by class; `none` when there was no HTTP answer (timeout, refused address, connection error). */
export type WebhookStatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'other' | 'none';
const OUTCOMES: Record<DeliveryStatus, WebhookAttemptOutcome> = { DELIVERED: 'delivered', PENDING: 'retry', FAILED: 'failed' };
/** The series that exist from the start: a 2xx delivers, anything else is retried or ends the delivery. */
const WEBHOOK_SERIES: [WebhookAttemptOutcome, WebhookStatusClass][] = [
  ['delivered', '2xx'],
  ...(['retry', 'failed'] as const).flatMap((outcome) => (['3xx', '4xx', '5xx', 'none'] as const).map((statusClass): [WebhookAttemptOutcome, WebhookStatusClass] => [outcome, statusClass])),
];

/** The class of an HTTP status for the `status_class` label; `none` without an answer. */
function webhookStatusClass(statusCode: number | undefined): WebhookStatusClass {
  if (statusCode === undefined) return 'none';
  if (statusCode >= 200 && statusCode < 600) return `${Math.floor(statusCode / 100)}xx` as WebhookStatusClass;
  return 'other';
}

/** Live counts read at each scrape; gateway.ts hands them over once everything is built. */
export interface LiveCounts {
  /** GraphQL subscriptions in progress (`sessionDecision` over WebSocket). */
  activeSubscriptions(): number;
  /** Sessions with a poll task: completion reported and no decision yet, or watched by a subscriber. */
  activePollers(): number;
  faceCircuitState(): (typeof CIRCUIT_STATES)[number];
  faceCallsWaiting(): Record<(typeof PRIORITIES)[number], number>;
  /** Read from the store, which every instance shares: each instance reports the same numbers. */
  webhookBacklog(): Promise<{ pendingDeliveries: number; failingEndpoints: number }>;
}

export interface MetricsOptions {
  /**
   * prom-client's default Node.js process metrics (`process_*`, `nodejs_*`). They are per process and
   * start event-loop and GC observers that are never stopped, so only the process entry turns them on.
   */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private live: Partial<LiveCounts> = {};

  private readonly requests: Counter<'transport' | 'operation' | 'outcome'>;
  private readonly requestSeconds: Histogram<'transport' | 'operation' | 'outcome'>;
  private readonly requestChildren = new Map<string, { count: Counter.Internal; time: Histogram.Internal<'transport' | 'operation' | 'outcome'> }>();
  private readonly faceRequests: Counter<'operation' | 'status'>;
  private readonly faceSeconds: Histogram<'operation' | 'status'>;
  private readonly decisions: Counter<'verdict'>;
  private readonly refusals: Counter<'rule'>;
  private readonly webhookAttempts: Counter<'outcome' | 'status_class'>;
  private readonly webhookSeconds: Histogram<'outcome'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const live = () => this.live;
    this.requests = new Counter({
      name: `${METRIC_PREFIX}graphql_requests_total`,
      help: 'GraphQL operations served, by transport, root field (or "other") and outcome ("ok" or the public error code).',
      labelNames: ['transport', 'operation', 'outcome'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: `${METRIC_PREFIX}graphql_request_duration_seconds`,
      help: 'Time to serve a GraphQL operation; for a subscription, from subscribing to its completion.',
      labelNames: ['transport', 'operation', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}active_subscriptions`,
      help: 'GraphQL subscriptions in progress.',
      registers,
      collect() {
        this.set(live().activeSubscriptions?.() ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}active_pollers`,
      help: 'Sessions this instance polls at Face: completion reported and no decision yet, or a subscriber waiting.',
      registers,
      collect() {
        this.set(live().activePollers?.() ?? 0);
      },
    });
    this.faceRequests = new Counter({
      name: `${METRIC_PREFIX}face_requests_total`,
      help: 'HTTP requests to the Face service, each try counted, by operation and HTTP status (or "timeout", "connection_error", "credential_error").',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.faceSeconds = new Histogram({
      name: `${METRIC_PREFIX}face_request_duration_seconds`,
      help: 'Time of one HTTP request to the Face service.',
      labelNames: ['operation', 'status'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}face_circuit_state`,
      help: 'The circuit breaker around Face: 1 for its current state, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect() {
        const current = live().faceCircuitState?.() ?? 'closed';
        for (const state of CIRCUIT_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}face_calls_waiting`,
      help: 'Face calls waiting for a slot under FACE_MAX_CALLS_PER_SECOND, by priority.',
      labelNames: ['priority'],
      registers,
      collect() {
        const waiting = live().faceCallsWaiting?.();
        for (const priority of PRIORITIES) this.set({ priority }, waiting?.[priority] ?? 0);
      },
    });
    this.decisions = new Counter({
      name: `${METRIC_PREFIX}decisions_total`,
      help: 'Decisions reached by this instance, by verdict.',
      labelNames: ['verdict'],
      registers,
    });
    this.refusals = new Counter({
      name: `${METRIC_PREFIX}rate_limited_total`,
      help: 'Requests refused with RATE_LIMITED, by rule.',
      labelNames: ['rule'],
      registers,
    });
    this.webhookAttempts = new Counter({
      name: `${METRIC_PREFIX}webhook_attempts_total`,
      help: 'Webhook delivery attempts this instance made, by outcome (delivered, retry, failed) and the class of the answer (2xx..5xx, or none).',
      labelNames: ['outcome', 'status_class'],
      registers,
    });
    this.webhookSeconds = new Histogram({
      name: `${METRIC_PREFIX}webhook_attempt_duration_seconds`,
      help: 'Time of one webhook attempt: connecting, sending, and reading the (bounded) answer.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    });
    const backlog = async () => live().webhookBacklog?.().catch(() => undefined);
    new Gauge({
      name: `${METRIC_PREFIX}webhook_deliveries_pending`,
      help: 'Webhook deliveries not yet delivered nor given up, in the store all instances share (NaN when the store does not answer).',
      registers,
      async collect() {
        this.set((await backlog())?.pendingDeliveries ?? Number.NaN);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}webhook_endpoints_failing`,
      help: 'Webhook endpoints marked failing (WEBHOOK_FAILING_AFTER failed attempts in a row), in the shared store (NaN when it does not answer).',
      registers,
      async collect() {
        this.set((await backlog())?.failingEndpoints ?? Number.NaN);
      },
    });
    // Every series of a closed label set exists from the start, so a rate over it starts at 0.
    for (const verdict of VERDICTS) this.decisions.inc({ verdict }, 0);
    for (const rule of RULES) this.refusals.inc({ rule }, 0);
    for (const [outcome, statusClass] of WEBHOOK_SERIES) this.webhookAttempts.inc({ outcome, status_class: statusClass }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the gauges read their values; called once the services exist. */
  readLiveCounts(counts: Partial<LiveCounts>): void {
    this.live = { ...this.live, ...counts };
  }

  /** One GraphQL operation served; `outcome` is "ok" or a public error code, `operation` a root field or "other". */
  requestFinished(transport: Transport, operation: string, outcome: string, seconds: number): void {
    // The labelled children of each label set, kept: prom-client hashes the labels object on every
    // call otherwise (sorted keys, joined), twice per request. The sets are bounded (see the labels).
    const key = `${transport}|${operation}|${outcome}`;
    let children = this.requestChildren.get(key);
    if (!children) {
      const labels = { transport, operation, outcome };
      children = { count: this.requests.labels(labels), time: this.requestSeconds.labels(labels) };
      this.requestChildren.set(key, children);
    }
    children.count.inc();
    children.time.observe(seconds);
  }

  /** One HTTP request to Face; `operation` is one of the Face port's fixed names. */
  faceCall(operation: string, status: string, seconds: number): void {
    this.faceRequests.inc({ operation, status });
    this.faceSeconds.observe({ operation, status }, seconds);
  }

  decision(verdict: Verdict): void {
    this.decisions.inc({ verdict });
  }

  rateLimited(rule: RateLimitRule): void {
    this.refusals.inc({ rule });
  }

  /**
   * One webhook attempt: the delivery's status after it (PENDING: to be retried) and the receiver's
   * HTTP status, if it answered. No endpoint, URL, secret or tenant is ever a label.
   */
  webhookAttempt(status: DeliveryStatus, statusCode: number | undefined, seconds: number): void {
    const outcome = OUTCOMES[status];
    this.webhookAttempts.inc({ outcome, status_class: webhookStatusClass(statusCode) });
    this.webhookSeconds.observe({ outcome }, seconds);
  }

  /** The text exposition format (version 0.0.4) and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
