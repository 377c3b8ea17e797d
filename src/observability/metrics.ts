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

export const METRIC_PREFIX = 'liveness_gateway_';

export type Transport = 'http' | 'websocket';
/** The abuse limits (`limits/limits.ts`) and the per-connection cap on WebSocket operations. */
export type RateLimitRule = 'user_starts' | 'device_starts' | 'unauthenticated_requests' | 'websocket_operations';

const VERDICTS: readonly Verdict[] = ['PASS', 'FAIL', 'INCONCLUSIVE', 'EXPIRED'];
const RULES: readonly RateLimitRule[] = ['user_starts', 'device_starts', 'unauthenticated_requests', 'websocket_operations'];
const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const;
const PRIORITIES = ['interactive', 'background'] as const;

/** Live counts read at each scrape; gateway.ts hands them over once everything is built. */
export interface LiveCounts {
  /** GraphQL subscriptions in progress (`sessionDecision` over WebSocket). */
  activeSubscriptions(): number;
  /** Sessions with a poll task: completion reported and no decision yet, or watched by a subscriber. */
  activePollers(): number;
  faceCircuitState(): (typeof CIRCUIT_STATES)[number];
  faceCallsWaiting(): Record<(typeof PRIORITIES)[number], number>;
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
    // Every series of a closed label set exists from the start, so a rate over it starts at 0.
    for (const verdict of VERDICTS) this.decisions.inc({ verdict }, 0);
    for (const rule of RULES) this.refusals.inc({ rule }, 0);
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

  /** The text exposition format (version 0.0.4) and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
