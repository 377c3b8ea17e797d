/**
 * Claims an attacker shapes to slip past a loose reading, and the cursors a caller could forge:
 * - `aud` must be exactly ours: a list that also names another audience is a token issued for
 *   someone else too, and is refused;
 * - with JWT_MAX_AGE_SECONDS, a token may not claim to live longer than that (`exp: 1e300`);
 * - the cursor's MAC key is derived from a server secret, so a cursor made with any key known from
 *   the source is refused, while instances sharing their configuration read each other's cursors.
 */
import { createHmac, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionsDocument, StartLivenessSessionDocument, ViewerDocument } from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';

const AUDIENCE = 'liveness-gateway';
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('token claims', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { JWT_AUDIENCE: AUDIENCE, JWT_MAX_AGE_SECONDS: '3600' } });
  });
  afterAll(() => gateway?.stop());

  /** A token with exactly these claims, signed with the gateway's secret. */
  const signed = (claims: Record<string, unknown>) =>
    jwt.sign({ sub: 'alice', roles: ['user'], tenant: 'claims', iat: nowSeconds(), exp: nowSeconds() + 600, aud: AUDIENCE, ...claims }, gateway.jwtSecret, {
      algorithm: 'HS256',
    });
  const code = async (token: string) => {
    const result = await gateway.graphql(ViewerDocument, {}, token);
    return result.errors?.[0]?.extensions?.code ?? result.data?.viewer.userId;
  };

  it('aud must be exactly ours: a string, or a list of ours alone', async () => {
    expect(await code(signed({ aud: AUDIENCE }))).toBe('alice');
    expect(await code(signed({ aud: [AUDIENCE] }))).toBe('alice');
    expect(await code(signed({ aud: [AUDIENCE, 'another-service'] }))).toBe('UNAUTHENTICATED');
    expect(await code(signed({ aud: ['another-service', AUDIENCE] }))).toBe('UNAUTHENTICATED');
    expect(await code(signed({ aud: [AUDIENCE, AUDIENCE] }))).toBe('UNAUTHENTICATED');
    expect(await code(signed({ aud: 'another-service' }))).toBe('UNAUTHENTICATED');
  });

  it('with JWT_MAX_AGE_SECONDS, a token that claims to live longer than that is refused', async () => {
    const iat = nowSeconds();
    expect(await code(signed({ iat, exp: iat + 3600 }))).toBe('alice');
    expect(await code(signed({ iat, exp: iat + 3601 }))).toBe('UNAUTHENTICATED');
    expect(await code(signed({ iat, exp: 1e300 }))).toBe('UNAUTHENTICATED');
  });
});

describe('cursors', () => {
  const sharedKey = randomBytes(32).toString('base64');
  let first: TestGateway;
  let second: TestGateway;
  let other: TestGateway;
  beforeAll(async () => {
    first = await TestGateway.start({ env: { IDEMPOTENCY_KEY_SECRET: sharedKey } });
    second = await TestGateway.start({ env: { IDEMPOTENCY_KEY_SECRET: sharedKey, JWT_SECRET: first.jwtSecret } });
    other = await TestGateway.start({ env: { JWT_SECRET: first.jwtSecret } });
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await other?.stop();
  });

  const code = (result: { errors?: { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.code ?? 'ok';

  it('a cursor MACed with a key anyone could know is refused with BAD_USER_INPUT', async () => {
    const token = first.token({ sub: 'forger', tenant: 'cursors' });
    const body = Buffer.from(JSON.stringify({ createdAtMillis: Date.now() + 60_000, id: 'zzz' })).toString('base64url');
    for (const key of ['liveness-gateway/cursor/v1', '', 'cursor']) {
      const mac = createHmac('sha256', key).update('sessions').update('.').update(body).digest().subarray(0, 12).toString('base64url');
      expect(code(await first.graphql(SessionsDocument, { first: 5, after: `${body}.${mac}` }, token)), JSON.stringify(key)).toBe('BAD_USER_INPUT');
    }
  });

  it("instances sharing IDEMPOTENCY_KEY_SECRET read each other's cursors; an instance with another key refuses them", async () => {
    const token = first.token({ sub: 'pager', tenant: 'cursors' });
    for (let i = 0; i < 2; i += 1) await first.ok(StartLivenessSessionDocument, { input: {} }, token);
    const page = (await first.ok(SessionsDocument, { first: 1 }, token)).sessions;
    expect(page.pageInfo.hasNextPage).toBe(true);
    const after = page.pageInfo.endCursor!;
    expect(code(await first.graphql(SessionsDocument, { first: 1, after }, token))).toBe('ok');
    expect(code(await second.graphql(SessionsDocument, { first: 1, after }, token))).toBe('ok');
    expect(code(await other.graphql(SessionsDocument, { first: 1, after }, token))).toBe('BAD_USER_INPUT');
  });
});
