/**
 * Abuse limits, end to end: session starts per user and per device, requests without a valid token
 * per client address. A refusal is RATE_LIMITED with a whole `retryAfterSeconds` of at least 1 and
 * never an internal error; a refused start never reaches Face; after the wait, starts work again.
 *
 * The realistic rules run on the gateway's clock, which the harness moves forward, so a burst is
 * counted exactly; one rule with a one-second window is waited out in real time.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionsDocument, StartLivenessSessionDocument, ViewerDocument } from '../../client/generated/graphql';
import { TestGateway, type GraphQLResponse } from '../helpers/gateway';

const startInput = (extra: Record<string, unknown> = {}) => ({ input: { ...extra } });
const newUser = () => `user-${randomBytes(4).toString('hex')}`;

function errorOf(result: GraphQLResponse<unknown>) {
  return result.errors?.[0];
}

/** Every answer is a session or RATE_LIMITED; returns how many of each. */
function tally(results: GraphQLResponse<{ startLivenessSession: { session: { id: string } } }>[]) {
  const started = results.filter((result) => result.data?.startLivenessSession.session.id);
  const limited = results.filter((result) => errorOf(result)?.extensions?.code === 'RATE_LIMITED');
  return { started, limited, others: results.filter((result) => !started.includes(result) && !limited.includes(result)) };
}

describe('session starts per user', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { RATE_LIMIT_USER_STARTS: '10', RATE_LIMIT_USER_WINDOW_MS: '60000' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('a burst of 120 starts by one user: the first 10 start, the other 110 are RATE_LIMITED, none is an internal error', async () => {
    const token = gateway.token({ sub: newUser() });
    const results = await Promise.all(Array.from({ length: 120 }, () => gateway.graphql(StartLivenessSessionDocument, startInput(), token)));

    const { started, limited, others } = tally(results);
    expect(others).toEqual([]);
    expect(started).toHaveLength(10);
    expect(limited).toHaveLength(110);
    expect(JSON.stringify(results)).not.toContain('INTERNAL_SERVER_ERROR');
    for (const result of limited) {
      expect(result.status).toBe(200);
      expect(result.data ?? null).toBeNull();
      const { retryAfterSeconds } = errorOf(result)!.extensions as { retryAfterSeconds: number };
      expect(Number.isInteger(retryAfterSeconds)).toBe(true);
      expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(retryAfterSeconds).toBeLessThanOrEqual(6);
    }
    // The refused starts never reached Face nor the store.
    expect((await gateway.ok(SessionsDocument, { first: 1 }, token)).sessions.totalCount).toBe(10);
  });

  it('after the window has passed, the user starts again; another user was never limited', async () => {
    const user = newUser();
    const token = gateway.token({ sub: user });
    for (let i = 0; i < 10; i += 1) await gateway.ok(StartLivenessSessionDocument, startInput(), token);
    expect(errorOf(await gateway.graphql(StartLivenessSessionDocument, startInput(), token))?.extensions?.code).toBe('RATE_LIMITED');
    expect((await gateway.graphql(StartLivenessSessionDocument, startInput(), gateway.token({ sub: newUser() }))).errors).toBeUndefined();

    gateway.advanceClock(60_000);
    const again = tally(await Promise.all(Array.from({ length: 12 }, () => gateway.graphql(StartLivenessSessionDocument, startInput(), token))));
    expect(again.others).toEqual([]);
    expect(again.started).toHaveLength(10);
    expect(again.limited).toHaveLength(2);
  });

  it('the same user name in another tenant is another user', async () => {
    const user = newUser();
    const token = gateway.token({ sub: user, tenant: 'acme' });
    for (let i = 0; i < 10; i += 1) await gateway.ok(StartLivenessSessionDocument, startInput(), token);
    const elsewhere = await gateway.graphql(StartLivenessSessionDocument, startInput(), gateway.token({ sub: user, tenant: 'globex' }));
    expect(elsewhere.errors).toBeUndefined();
  });
});

describe('a short window, waited out in real time', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { RATE_LIMIT_USER_STARTS: '2', RATE_LIMIT_USER_WINDOW_MS: '1000' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('says to retry after 1 second, and after that wait the start works', async () => {
    const token = gateway.token({ sub: newUser() });
    await gateway.ok(StartLivenessSessionDocument, startInput(), token);
    await gateway.ok(StartLivenessSessionDocument, startInput(), token);
    const refused = await gateway.graphql(StartLivenessSessionDocument, startInput(), token);
    expect(errorOf(refused)?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await gateway.graphql(StartLivenessSessionDocument, startInput(), token)).errors).toBeUndefined();
  });
});

describe('session starts per device', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { RATE_LIMIT_DEVICE_STARTS: '5', RATE_LIMIT_DEVICE_WINDOW_MS: '60000' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it("one user's starts on a device never limit another user's starts on it: the attacker is refused, the victim is not", async () => {
    const victimsPhone = `phone-${randomBytes(4).toString('hex')}`;
    const attacker = gateway.token({ sub: newUser() });
    for (let i = 0; i < 5; i += 1) await gateway.ok(StartLivenessSessionDocument, startInput({ deviceCorrelationId: victimsPhone }), attacker);

    const again = await gateway.graphql(StartLivenessSessionDocument, startInput({ deviceCorrelationId: victimsPhone }), attacker);
    expect(errorOf(again)?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 12 });
    expect(errorOf(again)?.message).toMatch(/this device/);

    const victim = gateway.token({ sub: newUser() });
    expect((await gateway.graphql(StartLivenessSessionDocument, startInput({ deviceCorrelationId: victimsPhone }), victim)).errors).toBeUndefined();
    expect((await gateway.graphql(StartLivenessSessionDocument, startInput({ deviceCorrelationId: `${victimsPhone}-b` }), attacker)).errors).toBeUndefined();
  });

  it('starts without a deviceCorrelationId get a generated one each and are not counted per device', async () => {
    const token = gateway.token({ sub: newUser() });
    for (let i = 0; i < 8; i += 1) await gateway.ok(StartLivenessSessionDocument, startInput(), token);
  });
});

describe('idempotent repeats and the limits', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { RATE_LIMIT_USER_STARTS: '2', RATE_LIMIT_USER_WINDOW_MS: '60000' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('a repeat answered from its idempotency key starts nothing and is not counted', async () => {
    const token = gateway.token({ sub: newUser() });
    const key = `key-${randomBytes(4).toString('hex')}`;
    const first = (await gateway.ok(StartLivenessSessionDocument, startInput({ idempotencyKey: key }), token)).startLivenessSession;
    for (let i = 0; i < 5; i += 1) {
      const repeat = (await gateway.ok(StartLivenessSessionDocument, startInput({ idempotencyKey: key }), token)).startLivenessSession;
      expect(repeat.session.id).toBe(first.session.id);
    }
    await gateway.ok(StartLivenessSessionDocument, startInput(), token);
    expect(errorOf(await gateway.graphql(StartLivenessSessionDocument, startInput(), token))?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('requests without a valid token, per client address', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    // Behind one trusted proxy: the client address is the last X-Forwarded-For entry.
    gateway = await TestGateway.start({ env: { RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '3', RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS: '60000', TRUST_PROXY_HOPS: '1' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  async function post(address: string, query: string, token?: string) {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-forwarded-for': address };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(gateway.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query }) });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as GraphQLResponse<unknown> };
  }

  it('an address without a token is answered 429 RATE_LIMITED with Retry-After past the limit', async () => {
    for (let i = 0; i < 3; i += 1) {
      const answer = await post('203.0.113.10', '{ __typename }');
      expect(answer.status).toBe(200);
    }
    const refused = await post('203.0.113.10', '{ __typename }');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('20');
    expect(refused.body.errors).toEqual([{ message: expect.stringMatching(/without a valid token/), extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 20 } }]);
  });

  it('forged tokens count too: UNAUTHENTICATED until the limit, RATE_LIMITED after it', async () => {
    const forged = `${gateway.token({ sub: 'mallory' }).slice(0, -4)}AAAA`;
    const codes: unknown[] = [];
    for (let i = 0; i < 5; i += 1) codes.push(errorOf((await post('203.0.113.20', '{ viewer { userId } }', forged)).body)?.extensions?.code);
    expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('callers with a valid token from a limited address, and other addresses, are served', async () => {
    for (let i = 0; i < 4; i += 1) await post('203.0.113.30', '{ __typename }');
    expect((await post('203.0.113.30', '{ __typename }')).status).toBe(429);

    const token = gateway.token({ sub: newUser() });
    const viewer = await post('203.0.113.30', '{ viewer { userId } }', token);
    expect(viewer.status).toBe(200);
    expect(viewer.body.errors).toBeUndefined();
    expect((await post('203.0.113.31', '{ __typename }')).status).toBe(200);
    expect((await gateway.graphql(ViewerDocument, {}, token)).errors).toBeUndefined();
  });

  it('audit exports refused for their token count against the same limit: 401 until it, 429 RATE_LIMITED with Retry-After after it', async () => {
    const exportFrom = async (address: string, authorization?: string) => {
      const response = await fetch(`${gateway.url}/audit/export`, { headers: { 'x-forwarded-for': address, ...(authorization ? { authorization } : {}) } });
      const text = await response.text();
      const body = response.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as GraphQLResponse<unknown>) : ({ data: text } as GraphQLResponse<unknown>);
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
    };
    const forged = `Bearer ${gateway.token({ sub: 'mallory', roles: ['auditor'] }).slice(0, -4)}AAAA`;
    const answers = [await exportFrom('203.0.113.60'), await exportFrom('203.0.113.60', forged), await exportFrom('203.0.113.60', forged)];
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401]);
    const refused = await exportFrom('203.0.113.60', forged);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('20');
    expect(refused.body.errors).toEqual([{ message: expect.stringMatching(/without a valid token/), extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 20 } }]);
    const auditor = `Bearer ${gateway.token({ sub: 'portal', roles: ['auditor'] })}`;
    expect((await exportFrom('203.0.113.60', auditor)).status).toBe(200);
  });

  it('an address refused now is served again once the window has passed', async () => {
    for (let i = 0; i < 4; i += 1) await post('203.0.113.40', '{ __typename }');
    expect((await post('203.0.113.40', '{ __typename }')).status).toBe(429);
    gateway.advanceClock(60_000);
    expect((await post('203.0.113.40', '{ __typename }')).status).toBe(200);
  });
});
