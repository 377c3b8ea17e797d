/**
 * `GET /metrics` (Prometheus text format), end to end: a scrape before and after a whole flow (start,
 * the device against the emulator, a subscription, completion, the decision, refused requests), and
 * the exact change of every counter it moved; the gauges while subscribed and after; rate-limit
 * refusals by rule; the token and the on/off setting. Each gateway counts on a registry of its own,
 * so several in one process never see each other's counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  ViewerDocument,
} from '../../client/generated/graphql';
import { loadConfig } from '../../src/config';
import { eventually, TestGateway } from '../helpers/gateway';
import { keyOf, parseMetrics, type Sample } from '../helpers/prometheus';

/** The value of the series with exactly these labels; 0 when it does not exist yet. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.find((sample) => sample.name === name && keyOf(sample.labels) === keyOf(labels))?.value ?? 0;
}

/** How much each series of `name` grew between two scrapes, leaving out those that did not move. */
function deltas(before: Sample[], after: Sample[], name: string): Record<string, number> {
  const moved: Record<string, number> = {};
  for (const sample of after.filter((s) => s.name === name)) {
    const delta = sample.value - valueOf(before, name, sample.labels);
    if (delta !== 0) moved[keyOf(sample.labels)] = delta;
  }
  return moved;
}

const P = 'liveness_gateway_';

async function scrape(gateway: TestGateway, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await fetch(`${gateway.url}/metrics`, { headers });
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

/** Scrapes until `check` holds: the gauges follow work that ends in the background. */
function scrapeUntil(gateway: TestGateway, check: (samples: Sample[]) => boolean): Promise<Sample[]> {
  return eventually(async () => {
    const samples = await scrape(gateway);
    return check(samples) ? samples : undefined;
  });
}

describe('metrics of a whole flow', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    // No fallback poll during a test (60 s): the only poll is the one completion starts, so the
    // number of Face requests is exact.
    gateway = await TestGateway.start({ env: { POLL_MAX_INTERVAL_MS: '60000' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('/metrics answers in the Prometheus text format, version 0.0.4', async () => {
    const response = await fetch(`${gateway.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain(`# TYPE ${P}graphql_requests_total counter`);
    expect(text).toContain(`# TYPE ${P}graphql_request_duration_seconds histogram`);
    expect(text).toContain(`# TYPE ${P}active_subscriptions gauge`);
    expect(text).toContain(`${P}decisions_total{verdict="PASS"} 0`);
    expect(text).toContain(`${P}face_circuit_state{state="closed"} 1`);
  });

  it('start, device, subscription, completion and decision move every counter by exactly what happened', async () => {
    const token = gateway.token({ sub: 'metrics-user' });
    const before = await scrape(gateway);

    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    const id = started.session.id;
    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });

    // While the app waits: one subscription, and its session watched by one poll task.
    const waiting = await scrapeUntil(gateway, (samples) => valueOf(samples, `${P}active_subscriptions`) === 1);
    expect(valueOf(waiting, `${P}active_pollers`)).toBe(1);

    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const [event] = await subscription.done;
    expect(event.data?.sessionDecision.verdict).toBe('PASS');

    // Refused: a session that does not exist, and a token that is not one.
    const missing = await gateway.graphql(CompleteLivenessSessionDocument, { id: 'no-such-session' }, token);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const anonymous = await gateway.graphql(ViewerDocument, {}, 'not-a-token');
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const after = await scrapeUntil(
      gateway,
      (samples) => valueOf(samples, `${P}active_subscriptions`) === 0 && valueOf(samples, `${P}active_pollers`) === 0,
    );
    const requests = {
      'operation=startLivenessSession,outcome=ok,transport=http': 1,
      'operation=completeLivenessSession,outcome=ok,transport=http': 1,
      'operation=completeLivenessSession,outcome=NOT_FOUND,transport=http': 1,
      'operation=other,outcome=UNAUTHENTICATED,transport=http': 1,
      'operation=sessionDecision,outcome=ok,transport=websocket': 1,
    };
    expect(deltas(before, after, `${P}graphql_requests_total`)).toEqual(requests);
    expect(deltas(before, after, `${P}graphql_request_duration_seconds_count`)).toEqual(requests);
    const faceRequests = { 'operation=create_liveness_session,status=200': 1, 'operation=get_session,status=200': 1 };
    expect(deltas(before, after, `${P}face_requests_total`)).toEqual(faceRequests);
    expect(deltas(before, after, `${P}face_request_duration_seconds_count`)).toEqual(faceRequests);
    expect(deltas(before, after, `${P}decisions_total`)).toEqual({ 'verdict=PASS': 1 });
    expect(deltas(before, after, `${P}rate_limited_total`)).toEqual({});

    // Labels carry names and codes only: no session id, user or token.
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    for (const secret of [id, 'metrics-user', token, started.authToken]) expect(text).not.toContain(secret);
  });

  it('a session reported complete and still undecided counts as one active poller until it is deleted', async () => {
    const token = gateway.token({ sub: 'metrics-poller' });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    expect(valueOf(await scrape(gateway), `${P}active_pollers`)).toBe(1);

    const before = await scrape(gateway);
    await gateway.ok(DeleteLivenessSessionDocument, { id: started.session.id }, token);
    const after = await scrapeUntil(gateway, (samples) => valueOf(samples, `${P}active_pollers`) === 0);
    expect(deltas(before, after, `${P}decisions_total`)).toEqual({ 'verdict=EXPIRED': 1 });
    expect(deltas(before, after, `${P}face_requests_total`)).toMatchObject({ 'operation=delete_session,status=204': 1 });
  });
});

describe('metrics of refusals', () => {
  let first: TestGateway;
  let limited: TestGateway;
  beforeAll(async () => {
    first = await TestGateway.start();
    limited = await TestGateway.start({ env: { RATE_LIMIT_USER_STARTS: '1', WS_MAX_SUBSCRIPTIONS: '1' } });
  });
  afterAll(async () => {
    await first?.stop();
    await limited?.stop();
  });

  it("each gateway counts on its own registry: another gateway's requests in the same process are not in it", async () => {
    const token = first.token();
    await first.ok(ViewerDocument, {}, token);
    expect(valueOf(await scrape(first), `${P}graphql_requests_total`, { transport: 'http', operation: 'viewer', outcome: 'ok' })).toBe(1);
    const fresh = await scrape(limited);
    expect(fresh.filter((sample) => sample.name === `${P}graphql_requests_total`)).toEqual([]);
  });

  it('a start past the per-user limit counts as RATE_LIMITED under rule user_starts, and never reaches Face', async () => {
    const token = limited.token({ sub: 'eager-user' });
    const before = await scrape(limited);
    await limited.ok(StartLivenessSessionDocument, { input: {} }, token);
    const refused = await limited.graphql(StartLivenessSessionDocument, { input: {} }, token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    const after = await scrape(limited);
    expect(deltas(before, after, `${P}rate_limited_total`)).toEqual({ 'rule=user_starts': 1 });
    expect(deltas(before, after, `${P}graphql_requests_total`)).toEqual({
      'operation=startLivenessSession,outcome=ok,transport=http': 1,
      'operation=startLivenessSession,outcome=RATE_LIMITED,transport=http': 1,
    });
    expect(deltas(before, after, `${P}face_requests_total`)).toEqual({ 'operation=create_liveness_session,status=200': 1 });
  });

  it('an operation past WS_MAX_SUBSCRIPTIONS counts under rule websocket_operations; a cancelled subscription leaves the gauge', async () => {
    const token = limited.token({ sub: 'subscriber' });
    const { session } = (await limited.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    const before = await scrape(limited);
    const client = limited.wsClient(token);
    const kept = limited.subscribe(client, SessionDecisionDocument, { sessionId: session.id });
    await scrapeUntil(limited, (samples) => valueOf(samples, `${P}active_subscriptions`) === 1);

    const refused = limited.subscribe(client, SessionDecisionDocument, { sessionId: session.id });
    const errors = (await refused.done.then(
      () => [],
      (error: unknown) => error,
    )) as { extensions?: { code?: string } }[];
    expect(errors[0]?.extensions?.code).toBe('RATE_LIMITED');
    kept.cancel();

    const after = await scrapeUntil(limited, (samples) => valueOf(samples, `${P}active_subscriptions`) === 0);
    expect(deltas(before, after, `${P}rate_limited_total`)).toEqual({ 'rule=websocket_operations': 1 });
    expect(deltas(before, after, `${P}graphql_requests_total`)).toEqual({
      'operation=other,outcome=RATE_LIMITED,transport=websocket': 1,
      'operation=sessionDecision,outcome=ok,transport=websocket': 1,
    });
  });
});

describe('the /metrics endpoint settings', () => {
  const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
  let guarded: TestGateway;
  let disabled: TestGateway;
  beforeAll(async () => {
    guarded = await TestGateway.start({ env: { METRICS_TOKEN } });
    disabled = await TestGateway.start({ env: { METRICS_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await guarded?.stop();
    await disabled?.stop();
  });

  it('with METRICS_TOKEN, a scrape without it or with another is 401, and one with it is served', async () => {
    const without = await fetch(`${guarded.url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${guarded.token()}` } })).status).toBe(401);
    expect(valueOf(await scrape(guarded, { authorization: `Bearer ${METRICS_TOKEN}` }), `${P}active_subscriptions`)).toBe(0);
  });

  it('with METRICS_ENABLED=false there is no /metrics', async () => {
    expect((await fetch(`${disabled.url}/metrics`)).status).toBe(404);
  });

  it('in production /metrics is off unless METRICS_TOKEN guards it or METRICS_ENABLED=true turns it on', () => {
    const production = {
      NODE_ENV: 'production',
      FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com',
      JWT_SECRET: 'x'.repeat(32),
      IDEMPOTENCY_KEY_SECRET: Buffer.alloc(32, 7).toString('base64'), EVIDENCE_KEY: Buffer.alloc(32, 7).toString('base64'),
    };
    expect(loadConfig(production).metricsEnabled).toBe(false);
    expect(loadConfig({ ...production, METRICS_TOKEN }).metricsEnabled).toBe(true);
    expect(loadConfig({ ...production, METRICS_ENABLED: 'true' }).metricsEnabled).toBe(true);
    expect(loadConfig({}).metricsEnabled).toBe(true);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
  });
});

describe('Face requests without a key', () => {
  let gateway: TestGateway;
  const saved = process.env.AZURE_TOKEN_CREDENTIALS;
  beforeAll(async () => {
    // DefaultAzureCredential reads the process environment: only the service-principal variables,
    // none of which is set here, so no identity is found and nothing leaves this machine.
    process.env.AZURE_TOKEN_CREDENTIALS = 'EnvironmentCredential';
    gateway = await TestGateway.start({ env: { FACE_ENDPOINT: 'https://my-face.cognitiveservices.azure.com' } });
  });
  afterAll(async () => {
    await gateway?.stop();
    if (saved === undefined) delete process.env.AZURE_TOKEN_CREDENTIALS;
    else process.env.AZURE_TOKEN_CREDENTIALS = saved;
  });

  it('ask Microsoft Entra ID for a token; with no identity found, /readyz says so and the probe counts as credential_error', async () => {
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: { face: string } };
    expect(body.checks.face).toBe('down: Face readiness probe could not obtain a Microsoft Entra ID token (AggregateAuthenticationError).');
    const samples = await scrape(gateway);
    expect(valueOf(samples, `${P}face_requests_total`, { operation: 'readiness_probe', status: 'credential_error' })).toBe(1);
  });
});
