/**
 * The Face service misbehaving, end to end through the gateway, with faults queued at a standalone
 * emulator (docs/api.md, "The Face emulator") that also tells us, request by request, what reached Face:
 * retries with backoff that honour Retry-After, no retry of a refusal, a bounded time for a dead
 * endpoint, the circuit breaker opening and closing (and /readyz saying so), and the gateway-wide
 * cap on Face calls per second under which polls yield to a session start.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CompleteLivenessSessionDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { eventually, TestGateway, type GraphQLResponse } from '../helpers/gateway';

const FACE_KEY = `resilience-face-key-${randomBytes(8).toString('hex')}`;
const CREATE_PATH = '/face/v1.2/detectLiveness-sessions';

interface SeenRequest {
  method: string;
  path: string;
  at: number;
}

let emulator: FaceEmulator;
let faceUrl: string;
/** Every Face management request the emulator served, in order. */
const seen: SeenRequest[] = [];

beforeAll(async () => {
  emulator = createFaceEmulator({
    apiKey: FACE_KEY,
    onRequest: (method, path) => {
      if (path.startsWith(CREATE_PATH)) seen.push({ method, path, at: performance.now() });
    },
  });
  faceUrl = await emulator.listen(0);
});
afterAll(async () => {
  await emulator?.close();
});
afterEach(async () => {
  await clearFaults();
});

async function fault(rule: Record<string, unknown> | Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${faceUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(response.status).toBe(200);
}

async function clearFaults(): Promise<void> {
  await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
}

const creates = (from = 0) => seen.slice(from).filter((request) => request.method === 'POST' && request.path === CREATE_PATH);
const polls = (from = 0) => seen.slice(from).filter((request) => request.method === 'GET');

function startGateway(env: Record<string, string> = {}, dataDir?: string): Promise<TestGateway> {
  return TestGateway.start({ dataDir, env: { FACE_ENDPOINT: faceUrl, FACE_APIKEY: FACE_KEY, ...env } });
}

const start = (gateway: TestGateway, token: string) => gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);
const codeOf = (result: GraphQLResponse<unknown>) => result.errors?.[0]?.extensions?.code;

describe('retries', () => {
  let gateway: TestGateway;
  let token: string;
  beforeAll(async () => {
    gateway = await startGateway({ FACE_MAX_RETRIES: '3' });
    token = gateway.token({ sub: 'retrying-user' });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('a 429 with Retry-After 1 is retried after at least that second, and the session starts', async () => {
    const from = seen.length;
    await fault({ status: 429, code: 'TooManyRequests', retryAfterSeconds: 1, count: 1, method: 'POST' });
    const result = await start(gateway, token);
    expect(result.errors).toBeUndefined();
    const [throttled, retried] = creates(from);
    expect(creates(from)).toHaveLength(2);
    expect(retried.at - throttled.at).toBeGreaterThanOrEqual(950);
  });

  it('a 429 without Retry-After is still retried after a backoff, not at once', async () => {
    const from = seen.length;
    await fault({ status: 429, code: 'TooManyRequests', count: 1, method: 'POST' });
    const result = await start(gateway, token);
    expect(result.errors).toBeUndefined();
    const [throttled, retried] = creates(from);
    expect(creates(from)).toHaveLength(2);
    // The first backoff is 200 ms with ±25 % jitter.
    expect(retried.at - throttled.at).toBeGreaterThanOrEqual(140);
  });

  it('503, 500 and 408 are retried until Face answers', async () => {
    const from = seen.length;
    await fault([
      { status: 503, code: 'ServiceUnavailable', count: 1, method: 'POST' },
      { status: 500, code: 'InternalServerError', count: 1, method: 'POST' },
      { status: 408, code: 'RequestTimeout', count: 1, method: 'POST' },
    ]);
    expect((await start(gateway, token)).errors).toBeUndefined();
    expect(creates(from)).toHaveLength(4);
  });

  it('a 400 is not retried: one request reached Face, and the caller gets UPSTREAM_ERROR with its code', async () => {
    const from = seen.length;
    await fault({ status: 400, code: 'InvalidRequest', count: 1, method: 'POST' });
    const result = await start(gateway, token);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'InvalidRequest' });
    expect(creates(from)).toHaveLength(1);
  });

  it('a 403 and a 404 are not retried either', async () => {
    const from = seen.length;
    await fault({ status: 403, code: 'PermissionDenied', count: 1, method: 'POST' });
    expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_ERROR');
    await fault({ status: 404, code: 'NotFound', count: 1, method: 'POST' });
    expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_ERROR');
    expect(creates(from)).toHaveLength(2);
  });
});

describe('connection errors', () => {
  let gateway: TestGateway;
  let proxy: net.Server;
  /** Connections the proxy accepted; the first `resets` of them are dropped without a byte. */
  let accepted = 0;
  let resets = 0;
  const open = new Set<net.Socket>();
  /** Drops the gateway's kept-alive connections, so its next Face call opens a new one. */
  const dropConnections = async () => {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
  };
  beforeAll(async () => {
    // A TCP proxy in front of the emulator that can drop connections, as a flaky network would.
    const target = new URL(faceUrl);
    proxy = net.createServer((client) => {
      accepted += 1;
      open.add(client);
      client.once('close', () => open.delete(client));
      if (resets > 0) {
        resets -= 1;
        client.once('data', () => client.resetAndDestroy());
        return;
      }
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.once('error', close).once('close', close);
      upstream.once('error', close).once('close', close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    gateway = await TestGateway.start({
      env: { FACE_ENDPOINT: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, FACE_APIKEY: FACE_KEY, FACE_MAX_RETRIES: '3' },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => proxy?.close(resolve));
  });

  it('a connection reset by the network is retried on a new connection, and the session starts', async () => {
    await dropConnections();
    const from = seen.length;
    accepted = 0;
    resets = 2;
    const result = await start(gateway, gateway.token({ sub: 'reset-user' }));
    expect(result.errors).toBeUndefined();
    expect(result.data?.startLivenessSession.session.id).toEqual(expect.any(String));
    expect(resets).toBe(0); // both dropped connections were tried
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(creates(from)).toHaveLength(1); // and only the third try reached Face
  });

  it('with every connection reset, the start fails with UPSTREAM_UNAVAILABLE after the retries, not an internal error', async () => {
    await dropConnections();
    const from = seen.length;
    accepted = 0;
    resets = 100;
    const result = await start(gateway, gateway.token({ sub: 'reset-user-2' }));
    expect(codeOf(result)).toBe('UPSTREAM_UNAVAILABLE');
    expect(accepted).toBe(4); // the first try and FACE_MAX_RETRIES=3 retries
    expect(creates(from)).toHaveLength(0);
    resets = 0;
  });
});

describe('a dead endpoint', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    // Ten retries allowed, but the whole call has 1.5 s: without the bound, 11 tries of 500 ms each.
    gateway = await startGateway({ FACE_TIMEOUT_MS: '500', FACE_MAX_RETRIES: '10', FACE_TOTAL_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('a Face that never answers fails the start with UPSTREAM_UNAVAILABLE within the call budget, long before the retries run out', async () => {
    const from = seen.length;
    await fault({ status: 200, latencyMs: 10_000, count: 100, method: 'POST' });
    const result = await start(gateway, gateway.token({ sub: 'patient-user' }));
    expect(result.data ?? null).toBeNull();
    expect(codeOf(result)).toBe('UPSTREAM_UNAVAILABLE');
    const tries = creates(from).length;
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(3);
    expect(gateway.logs.join('\n')).not.toContain(FACE_KEY);
  });
});

describe('the circuit breaker', () => {
  let gateway: TestGateway;
  let token: string;
  beforeAll(async () => {
    gateway = await startGateway({ FACE_MAX_RETRIES: '0', FACE_BREAKER_FAILURES: '3', FACE_BREAKER_COOLDOWN_MS: '1000' });
    token = gateway.token({ sub: 'breaker-user' });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  async function readiness() {
    const response = await fetch(`${gateway.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
  }

  it('opens after 3 failures in a row: starts fail fast without asking Face, and /readyz says face: down: circuit open', async () => {
    await fault({ status: 503, code: 'ServiceUnavailable', count: 10_000 });
    const from = seen.length;
    for (let i = 0; i < 3; i += 1) expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_UNAVAILABLE');
    expect(creates(from)).toHaveLength(3);

    const fast = await start(gateway, token);
    expect(fast.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fast.errors?.[0]?.extensions?.retryAfterSeconds).toBe(1);
    expect(JSON.stringify(fast)).not.toContain('INTERNAL_SERVER_ERROR');
    expect(creates(from)).toHaveLength(3);

    const pollsBefore = polls(from).length;
    const ready = await readiness();
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ store: 'ok', face: 'down: circuit open' });
    expect(polls(from)).toHaveLength(pollsBefore);
    expect(gateway.logEntries()).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/^Face circuit opened/), consecutiveFailures: 3 }));
  });

  it('after the cool-down one trial goes to Face; as it fails too, the circuit opens again', async () => {
    await fault({ status: 503, code: 'ServiceUnavailable', count: 10_000 });
    const from = seen.length;
    // Keep knocking until the trial reaches Face (the cool-down has passed).
    await eventually(async () => {
      expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_UNAVAILABLE');
      return creates(from).length > 0 ? true : undefined;
    });
    expect(creates(from)).toHaveLength(1);
    expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_UNAVAILABLE');
    expect(creates(from)).toHaveLength(1);
  });

  it('once Face answers again, the trial closes the circuit: /readyz is ready and starts work', async () => {
    await clearFaults();
    const ready = await eventually(async () => {
      const answer = await readiness();
      return answer.status === 200 ? answer : undefined;
    });
    expect(ready.body.checks).toEqual({ store: 'ok', face: 'ok' });
    const from = seen.length;
    for (let i = 0; i < 3; i += 1) expect((await start(gateway, token)).errors).toBeUndefined();
    expect(creates(from)).toHaveLength(3);
    expect(gateway.logEntries()).toContainEqual(expect.objectContaining({ msg: 'Face circuit closed: Face answers again' }));
  });

  it('refusals (400) do not open it', async () => {
    await fault({ status: 400, code: 'InvalidRequest', count: 5, method: 'POST' });
    const from = seen.length;
    for (let i = 0; i < 5; i += 1) expect(codeOf(await start(gateway, token))).toBe('UPSTREAM_ERROR');
    expect((await start(gateway, token)).errors).toBeUndefined();
    expect(creates(from)).toHaveLength(6);
  });
});

describe('the cap on Face calls per second', () => {
  it('a session start is served before the polls already waiting under the cap, and the polls go on after it', async () => {
    // 16 sessions reported complete by one gateway; a second one on the same store, capped at 2 calls
    // a second, resumes polling all of them at once: 2 polls get the first slots, 14 wait.
    const first = await startGateway();
    const token = first.token({ sub: 'cap-user' });
    for (let i = 0; i < 16; i += 1) {
      const { session } = (await first.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
      await first.ok(CompleteLivenessSessionDocument, { id: session.id }, token);
    }
    await first.stopGateway();

    const from = seen.length;
    const capped = await startGateway({ JWT_SECRET: first.jwtSecret, FACE_MAX_CALLS_PER_SECOND: '2' }, first.dataDir);
    try {
      expect((await capped.graphql(StartLivenessSessionDocument, { input: {} }, token)).errors).toBeUndefined();
      const served = seen.slice(from);
      const createAt = served.findIndex((request) => request.method === 'POST');
      const polledBefore = new Set(served.slice(0, createAt).filter((request) => request.method === 'GET').map((request) => request.path));
      // First come, first served would have polled all 16 first.
      expect(polledBefore.size).toBeLessThanOrEqual(3);
      await eventually(() => (polls(from + createAt + 1).length >= 2 ? true : undefined));
    } finally {
      await capped.stop();
    }
  });
});

describe('readiness probes under load', () => {
  it('a 100/s probe flood: a user start completes normally, every probe says ready, Face sees a handful of pings', async () => {
    // The product's default cap (tests otherwise run with a high one).
    const gateway = await startGateway({ FACE_MAX_CALLS_PER_SECOND: '10' });
    try {
      const token = gateway.token({ sub: 'probed-user' });
      const from = seen.length;
      const statuses: Promise<number>[] = [];
      const probe = () =>
        fetch(`${gateway.url}/readyz`).then(
          async (response) => (await response.arrayBuffer(), response.status),
          () => 0,
        );
      // Ten probes every 100 ms for 3 s, the start sent one second in.
      const flood = setInterval(() => {
        for (let i = 0; i < 10; i += 1) statuses.push(probe());
      }, 100);
      let started: GraphQLResponse<unknown>;
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        started = await start(gateway, token);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      } finally {
        clearInterval(flood);
      }
      expect(started.errors).toBeUndefined();
      const answered = await Promise.all(statuses);
      expect(answered.length).toBeGreaterThanOrEqual(100);
      expect(answered.filter((status) => status !== 200)).toEqual([]);
      // The readiness result is shared and cached: a few pings, not one per probe.
      expect(polls(from).length).toBeLessThanOrEqual(5);
      expect(creates(from)).toHaveLength(1);
    } finally {
      await gateway.stop();
    }
  }, 60_000);
});

describe('a misconfigured Face endpoint, as the client sees it', () => {
  /** Starts a gateway on `env`, runs one session start, and stops it: what the app would get. */
  async function startOnce(env: Record<string, string>) {
    const gateway = await TestGateway.start({ env });
    try {
      const result = await start(gateway, gateway.token({ sub: 'misconfigured-user' }));
      const readiness = (await (await fetch(`${gateway.url}/readyz`)).json()) as { checks: Record<string, string> };
      return { error: result.errors?.[0], readiness, logs: gateway.logs.join('\n') };
    } finally {
      await gateway.stop();
    }
  }

  it('a key Face refuses: UPSTREAM_ERROR with reason FACE_CREDENTIALS_REFUSED, saying which setting to check, and the key nowhere', async () => {
    const wrongKey = `wrong-key-${randomBytes(8).toString('hex')}`;
    const { error, readiness, logs } = await startOnce({ FACE_ENDPOINT: faceUrl, FACE_APIKEY: wrongKey });
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_ERROR', upstreamCode: expect.any(String), reason: 'FACE_CREDENTIALS_REFUSED' });
    expect(error?.message).toMatch(/^The Face service refused the gateway's credentials \(401 \w+\); its operator must check FACE_APIKEY/);
    expect(readiness.checks.face).toMatch(/refused our credentials \(401/);
    expect(JSON.stringify(error) + logs).not.toContain(wrongKey);
  });

  it('a URL with no Face API under it (404 on the Face path): UPSTREAM_ERROR with reason FACE_ENDPOINT_NOT_FOUND, and /readyz not ready', async () => {
    const { error, readiness } = await startOnce({ FACE_ENDPOINT: `${faceUrl}/not-face`, FACE_APIKEY: FACE_KEY });
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_ERROR', upstreamCode: '404', reason: 'FACE_ENDPOINT_NOT_FOUND' });
    expect(error?.message).toContain('its operator must check FACE_ENDPOINT');
    expect(readiness.checks.face).toMatch(/^down: .*no Face API under \/face\/v1\.2/);
  });

  it('a port where nothing listens: UPSTREAM_UNAVAILABLE with reason FACE_UNREACHABLE naming ECONNREFUSED, not "did not answer in time"', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const { error } = await startOnce({ FACE_ENDPOINT: `http://127.0.0.1:${port}`, FACE_APIKEY: FACE_KEY, FACE_MAX_RETRIES: '0' });
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', reason: 'FACE_UNREACHABLE' });
    expect(error?.message).toBe("The gateway could not connect to the Face service (ECONNREFUSED: nothing listens there); check the gateway's FACE_ENDPOINT.");
  });

  it('a host name that does not resolve: UPSTREAM_UNAVAILABLE with reason FACE_UNREACHABLE', async () => {
    // `.invalid` never resolves (RFC 2606); a resolver that cannot be asked says EAI_AGAIN instead.
    const { error } = await startOnce({ FACE_ENDPOINT: 'http://face.invalid', FACE_APIKEY: FACE_KEY, FACE_MAX_RETRIES: '0' });
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', reason: 'FACE_UNREACHABLE' });
    expect(error?.message).toMatch(/^The gateway could not connect to the Face service \((ENOTFOUND: the host name does not resolve|EAI_AGAIN: the host name could not be resolved)\)/);
  });

  it('Face not answering in time still says so, now with reason FACE_TIMEOUT', async () => {
    await fault({ status: 200, latencyMs: 5_000, count: 10, method: 'POST' });
    const { error } = await startOnce({ FACE_ENDPOINT: faceUrl, FACE_APIKEY: FACE_KEY, FACE_TIMEOUT_MS: '300', FACE_MAX_RETRIES: '0' });
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', reason: 'FACE_TIMEOUT' });
    expect(error?.message).toBe('The Face service did not answer in time; try again later.');
  });
});
