/**
 * Who may do what (docs/api.md), operation by operation, with real signed JWTs of every
 * role: ownership and tenant scoping of reads, role checks of writes, token verification over HTTP
 * and WebSocket, and the sessions listing (order, paging, filters, limits, cursors).
 */
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionDecisionDocument,
  SessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  ViewerDocument,
  type SessionFilter,
  type SessionsQuery,
} from '../../client/generated/graphql';
import { eventually, TestGateway, type GraphQLResponse, type TokenClaims } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { RawSocket } from '../helpers/raw-socket';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start();
});
afterAll(async () => {
  await gateway?.stop();
});

const VIEWER_QUERY = 'query { viewer { userId tenant roles } }';

/** A POST /graphql with whatever Authorization header the test wants (or none). */
async function post(target: TestGateway, query: string, variables: Record<string, unknown> = {}, authorization?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(target.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as Omit<GraphQLResponse<unknown>, 'status'>;
  return { status: response.status, ...body };
}

function codesOf(result: { errors?: { extensions?: Record<string, unknown> }[] }): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

/** A token signed as the harness does, but with exactly the claims given (no defaults filled in). */
function rawToken(claims: Record<string, unknown>, secret = gateway.jwtSecret, options: jwt.SignOptions = {}): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', ...options });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function startSession(token: string) {
  return (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
}

/** Every session id the caller's listing yields with `filter`, newest first, through all pages. */
async function listIds(token: string, filter?: SessionFilter): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null | undefined;
  for (;;) {
    const page = (await gateway.ok(SessionsDocument, { filter, first: 100, after }, token)).sessions;
    ids.push(...page.edges.map((edge) => edge.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
}

describe('viewer', () => {
  it('tells the caller who its token says it is, roles in upper case', async () => {
    const token = gateway.token({ sub: 'viewer-1', roles: ['user', 'auditor'], tenant: 'acme' });
    const { viewer } = await gateway.ok(ViewerDocument, {}, token);
    expect(viewer).toEqual({ userId: 'viewer-1', tenant: 'acme', roles: ['USER', 'AUDITOR'] });
  });

  it('a token without roles and tenant claims is a user of the default tenant', async () => {
    const token = rawToken({ sub: 'viewer-2', exp: nowSeconds() + 600 });
    const { viewer } = await gateway.ok(ViewerDocument, {}, token);
    expect(viewer).toEqual({ userId: 'viewer-2', tenant: 'default', roles: ['USER'] });
  });

  it('a session started with such a token belongs to the default tenant', async () => {
    const token = rawToken({ sub: 'viewer-3', exp: nowSeconds() + 600 });
    const started = await startSession(token);
    expect(started.session).toMatchObject({ userId: 'viewer-3', tenant: 'default' });
  });

  it('an admin token reads as ADMIN and an auditor token as AUDITOR', async () => {
    const admin = await gateway.ok(ViewerDocument, {}, gateway.token({ sub: 'root', roles: ['admin'], tenant: 'ops' }));
    const auditor = await gateway.ok(ViewerDocument, {}, gateway.token({ sub: 'aud', roles: ['auditor'], tenant: 'globex' }));
    expect(admin.viewer.roles).toEqual(['ADMIN']);
    expect(auditor.viewer).toEqual({ userId: 'aud', tenant: 'globex', roles: ['AUDITOR'] });
  });
});

describe('reading sessions', () => {
  // Tenants used only by this block, so listings can be compared exactly.
  const alice = () => gateway.token({ sub: 'alice', tenant: 'acme-read' });
  const bob = () => gateway.token({ sub: 'bob', tenant: 'acme-read' });
  const carol = () => gateway.token({ sub: 'carol', tenant: 'globex-read' });
  const auditorAcme = () => gateway.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme-read' });
  const auditorGlobex = () => gateway.token({ sub: 'gus', roles: ['auditor'], tenant: 'globex-read' });
  const admin = () => gateway.token({ sub: 'root', roles: ['admin'], tenant: 'ops' });
  let aliceIds: string[];
  let bobIds: string[];
  let carolIds: string[];

  beforeAll(async () => {
    aliceIds = [(await startSession(alice())).session.id, (await startSession(alice())).session.id];
    bobIds = [(await startSession(bob())).session.id];
    carolIds = [(await startSession(carol())).session.id, (await startSession(carol())).session.id];
  });

  it('a user reads its own session', async () => {
    const { session } = await gateway.ok(SessionDocument, { id: aliceIds[0] }, alice());
    expect(session).toMatchObject({ id: aliceIds[0], userId: 'alice', tenant: 'acme-read' });
  });

  it("another user of the same tenant is told alice's session does not exist", async () => {
    const result = await gateway.graphql(SessionDocument, { id: aliceIds[0] }, bob());
    expect(result.data?.session ?? null).toBeNull();
    expect(codesOf(result)).toEqual(['NOT_FOUND']);
  });

  it("a user of another tenant is told alice's session does not exist", async () => {
    const result = await gateway.graphql(SessionDocument, { id: aliceIds[0] }, carol());
    expect(codesOf(result)).toEqual(['NOT_FOUND']);
  });

  it('NOT_FOUND for a session one may not see is identical to NOT_FOUND for a session that does not exist', async () => {
    const hidden = await gateway.graphql(SessionDocument, { id: aliceIds[0] }, bob());
    const missing = await gateway.graphql(SessionDocument, { id: randomUUID() }, bob());
    expect(hidden.errors).toHaveLength(1);
    expect(hidden).toEqual(missing);
  });

  it('an auditor reads a session of its own tenant', async () => {
    const { session } = await gateway.ok(SessionDocument, { id: bobIds[0] }, auditorAcme());
    expect(session).toMatchObject({ id: bobIds[0], userId: 'bob', tenant: 'acme-read' });
  });

  it("an auditor of globex is told acme's session does not exist, exactly as for a missing one", async () => {
    const hidden = await gateway.graphql(SessionDocument, { id: aliceIds[0] }, auditorGlobex());
    const missing = await gateway.graphql(SessionDocument, { id: randomUUID() }, auditorGlobex());
    expect(codesOf(hidden)).toEqual(['NOT_FOUND']);
    expect(hidden).toEqual(missing);
  });

  it('an admin reads any session of any tenant', async () => {
    const fromAcme = await gateway.ok(SessionDocument, { id: aliceIds[1] }, admin());
    const fromGlobex = await gateway.ok(SessionDocument, { id: carolIds[0] }, admin());
    expect(fromAcme.session?.tenant).toBe('acme-read');
    expect(fromGlobex.session?.tenant).toBe('globex-read');
  });

  it('a user lists only its own sessions, newest first', async () => {
    expect(await listIds(alice())).toEqual([...aliceIds].reverse());
  });

  it("a user filtering by another user's id or another tenant still sees nothing of theirs", async () => {
    expect(await listIds(alice(), { userId: 'bob' })).toEqual([]);
    expect(await listIds(alice(), { tenant: 'globex-read' })).toEqual([]);
    expect(await listIds(alice(), { userId: 'carol', tenant: 'globex-read' })).toEqual([]);
    const page = (await gateway.ok(SessionsDocument, { filter: { userId: 'bob' } }, alice())).sessions;
    expect(page.totalCount).toBe(0);
  });

  it('an auditor lists every session of its own tenant and none of another', async () => {
    expect(new Set(await listIds(auditorAcme()))).toEqual(new Set([...aliceIds, ...bobIds]));
    expect(new Set(await listIds(auditorGlobex()))).toEqual(new Set(carolIds));
  });

  it("an auditor of globex sees none of acme's sessions even when filtering by acme", async () => {
    expect(await listIds(auditorGlobex(), { tenant: 'acme-read' })).toEqual([]);
    const page = (await gateway.ok(SessionsDocument, { filter: { tenant: 'acme-read' } }, auditorGlobex())).sessions;
    expect(page.totalCount).toBe(0);
  });

  it('an auditor may narrow its own tenant by user', async () => {
    expect(await listIds(auditorAcme(), { userId: 'bob' })).toEqual(bobIds);
  });

  it('an admin lists sessions of every tenant and can filter by tenant', async () => {
    const all = await listIds(admin());
    for (const id of [...aliceIds, ...bobIds, ...carolIds]) expect(all).toContain(id);
    expect(new Set(await listIds(admin(), { tenant: 'globex-read' }))).toEqual(new Set(carolIds));
    expect(new Set(await listIds(admin(), { tenant: 'acme-read' }))).toEqual(new Set([...aliceIds, ...bobIds]));
    expect(await listIds(admin(), { tenant: 'acme-read', userId: 'alice' })).toEqual([...aliceIds].reverse());
  });
});

describe('starting sessions', () => {
  const auditorOnly = () => gateway.token({ sub: 'start-auditor', roles: ['auditor'], tenant: 'acme-start' });
  const adminOnly = () => gateway.token({ sub: 'start-admin', roles: ['admin'], tenant: 'acme-start' });
  const admin = () => gateway.token({ sub: 'root', roles: ['admin'], tenant: 'ops' });

  it('an auditor-only token may not start a liveness session or a verify session, and nothing is stored', async () => {
    const plain = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, auditorOnly());
    const verify = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, auditorOnly());
    expect(codesOf(plain)).toEqual(['FORBIDDEN']);
    expect(codesOf(verify)).toEqual(['FORBIDDEN']);
    expect(plain.data).toBeNull();
    expect(await listIds(admin(), { userId: 'start-auditor' })).toEqual([]);
  });

  it('an admin-only token may not start a liveness session or a verify session, and nothing is stored', async () => {
    const plain = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, adminOnly());
    const verify = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, adminOnly());
    expect(codesOf(plain)).toEqual(['FORBIDDEN']);
    expect(codesOf(verify)).toEqual(['FORBIDDEN']);
    expect(await listIds(admin(), { userId: 'start-admin' })).toEqual([]);
  });

  it('a user token may start both kinds, owned by its sub and tenant', async () => {
    const token = gateway.token({ sub: 'starter', tenant: 'acme-start' });
    const plain = await startSession(token);
    const verify = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
    expect(plain.session).toMatchObject({ userId: 'starter', tenant: 'acme-start', kind: 'LIVENESS' });
    expect(verify.session).toMatchObject({ userId: 'starter', tenant: 'acme-start', kind: 'LIVENESS_WITH_VERIFY' });
  });
});

describe('completing and deleting sessions', () => {
  const alice = () => gateway.token({ sub: 'alice', tenant: 'acme-act' });
  const bob = () => gateway.token({ sub: 'bob', tenant: 'acme-act' });
  const carol = () => gateway.token({ sub: 'carol', tenant: 'globex-act' });
  const auditor = () => gateway.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme-act' });
  const admin = () => gateway.token({ sub: 'root', roles: ['admin'], tenant: 'acme-act' });

  it("another user of the same tenant cannot complete or delete alice's session: NOT_FOUND, as for a missing one", async () => {
    const { session } = await startSession(alice());
    const complete = (id: string) => gateway.graphql(CompleteLivenessSessionDocument, { id }, bob());
    const remove = (id: string) => gateway.graphql(DeleteLivenessSessionDocument, { id }, bob());
    for (const act of [complete, remove]) {
      const hidden = await act(session.id);
      const missing = await act(randomUUID());
      expect(codesOf(hidden)).toEqual(['NOT_FOUND']);
      expect(hidden).toEqual(missing);
    }
    const after = (await gateway.ok(SessionDocument, { id: session.id }, alice())).session!;
    expect(after.status).toBe('NOT_STARTED');
    expect(after.decision).toBeNull();
  });

  it("a user of another tenant cannot complete or delete alice's session: NOT_FOUND", async () => {
    const { session } = await startSession(alice());
    expect(codesOf(await gateway.graphql(CompleteLivenessSessionDocument, { id: session.id }, carol()))).toEqual(['NOT_FOUND']);
    expect(codesOf(await gateway.graphql(DeleteLivenessSessionDocument, { id: session.id }, carol()))).toEqual(['NOT_FOUND']);
    expect((await gateway.ok(SessionDocument, { id: session.id }, alice())).session?.status).toBe('NOT_STARTED');
  });

  it('an auditor of the tenant may not complete or delete a session: FORBIDDEN, and the session is untouched', async () => {
    const { session } = await startSession(alice());
    expect(codesOf(await gateway.graphql(CompleteLivenessSessionDocument, { id: session.id }, auditor()))).toEqual(['FORBIDDEN']);
    expect(codesOf(await gateway.graphql(DeleteLivenessSessionDocument, { id: session.id }, auditor()))).toEqual(['FORBIDDEN']);
    expect((await gateway.ok(SessionDocument, { id: session.id }, alice())).session?.status).toBe('NOT_STARTED');
  });

  it("a user who is also the tenant's auditor sees bob's session but may not complete or delete it: FORBIDDEN", async () => {
    const { session } = await startSession(bob());
    const both = gateway.token({ sub: 'alice', roles: ['user', 'auditor'], tenant: 'acme-act' });
    expect((await gateway.ok(SessionDocument, { id: session.id }, both)).session?.id).toBe(session.id);
    expect(codesOf(await gateway.graphql(CompleteLivenessSessionDocument, { id: session.id }, both))).toEqual(['FORBIDDEN']);
    expect(codesOf(await gateway.graphql(DeleteLivenessSessionDocument, { id: session.id }, both))).toEqual(['FORBIDDEN']);
    expect((await gateway.ok(SessionDocument, { id: session.id }, bob())).session?.status).toBe('NOT_STARTED');
  });

  it('an admin may not complete or delete a session either: FORBIDDEN', async () => {
    const { session } = await startSession(alice());
    expect(codesOf(await gateway.graphql(CompleteLivenessSessionDocument, { id: session.id }, admin()))).toEqual(['FORBIDDEN']);
    expect(codesOf(await gateway.graphql(DeleteLivenessSessionDocument, { id: session.id }, admin()))).toEqual(['FORBIDDEN']);
    expect((await gateway.ok(SessionDocument, { id: session.id }, alice())).session?.status).toBe('NOT_STARTED');
  });

  it('the owner completes and deletes its own session', async () => {
    const { session } = await startSession(alice());
    const completed = await gateway.ok(CompleteLivenessSessionDocument, { id: session.id }, alice());
    expect(completed.completeLivenessSession.id).toBe(session.id);
    const deleted = await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, alice());
    expect(deleted.deleteLivenessSession).toMatchObject({ id: session.id, status: 'DELETED', decision: { verdict: 'EXPIRED' } });
  });
});

describe('sessionDecision subscription', () => {
  const alice = () => gateway.token({ sub: 'alice', tenant: 'acme-sub' });
  const bob = () => gateway.token({ sub: 'bob', tenant: 'acme-sub' });
  const auditorAcme = () => gateway.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme-sub' });
  const auditorGlobex = () => gateway.token({ sub: 'gus', roles: ['auditor'], tenant: 'globex-sub' });
  const carol = () => gateway.token({ sub: 'carol', tenant: 'globex-sub' });

  async function subscribeOnce(token: string, sessionId: string) {
    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId });
    return subscription.done;
  }

  it("a user of another tenant subscribing to acme's session gets NOT_FOUND over the socket, as for a missing session", async () => {
    const { session } = await startSession(alice());
    const hidden = await subscribeOnce(carol(), session.id);
    const missing = await subscribeOnce(carol(), randomUUID());
    expect(hidden).toHaveLength(1);
    expect(hidden[0].data ?? null).toBeNull();
    expect(hidden[0].errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
    expect(hidden).toEqual(missing);
  });

  it("an auditor of another tenant subscribing to acme's session gets NOT_FOUND", async () => {
    const { session } = await startSession(alice());
    const events = await subscribeOnce(auditorGlobex(), session.id);
    expect(events.map((event) => event.errors?.map((error) => error.extensions?.code))).toEqual([['NOT_FOUND']]);
  });

  it("another user of the same tenant subscribing to alice's session gets NOT_FOUND", async () => {
    const { session } = await startSession(alice());
    const events = await subscribeOnce(bob(), session.id);
    expect(events.map((event) => event.errors?.map((error) => error.extensions?.code))).toEqual([['NOT_FOUND']]);
  });

  it("an auditor of the tenant receives the decision of a user's session", async () => {
    const started = await startSession(alice());
    const id = started.session.id;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, alice());
    const events = await subscribeOnce(auditorAcme(), id);
    expect(events).toHaveLength(1);
    expect(events[0].errors).toBeUndefined();
    expect(events[0].data?.sessionDecision).toMatchObject({ sessionId: id, verdict: 'PASS' });
  });
});

describe('tokens over HTTP', () => {
  const validClaims = () => ({ sub: 'alice', roles: ['user'], tenant: 'acme', exp: nowSeconds() + 600 });

  async function expectRefused(authorization: string) {
    const result = await post(gateway, VIEWER_QUERY, {}, authorization);
    expect(result.status).toBe(401);
    expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
    expect(result.data ?? null).toBeNull();
  }

  it('without a token every operation answers UNAUTHENTICATED', async () => {
    const operations: [string, Record<string, unknown>][] = [
      [VIEWER_QUERY, {}],
      ['query($id: ID!) { session(id: $id) { id } }', { id: randomUUID() }],
      ['query { sessions { totalCount } }', {}],
      ['mutation { startLivenessSession(input: {}) { authToken } }', {}],
      [`mutation { startLivenessWithVerifySession(input: { verifyImage: "${PNG_1X1}" }) { authToken } }`, {}],
      ['mutation($id: ID!) { completeLivenessSession(id: $id) { id } }', { id: randomUUID() }],
      ['mutation($id: ID!) { deleteLivenessSession(id: $id) { id } }', { id: randomUUID() }],
    ];
    for (const [query, variables] of operations) {
      const result = await post(gateway, query, variables);
      expect(codesOf(result), query).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('a well-formed token is accepted (the baseline for the refusals below)', async () => {
    const result = await post(gateway, VIEWER_QUERY, {}, `Bearer ${rawToken(validClaims())}`);
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ viewer: { userId: 'alice', tenant: 'acme', roles: ['USER'] } });
  });

  it('a token whose signature was altered is refused with 401', async () => {
    const [header, payload, signature] = rawToken(validClaims()).split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    await expectRefused(`Bearer ${header}.${payload}.${flipped}`);
  });

  it('a token whose payload was altered (tenant changed) is refused with 401', async () => {
    const [header, , signature] = rawToken(validClaims()).split('.');
    await expectRefused(`Bearer ${header}.${base64url({ ...validClaims(), tenant: 'globex' })}.${signature}`);
  });

  it('an expired token is refused with 401', async () => {
    await expectRefused(`Bearer ${rawToken({ ...validClaims(), exp: nowSeconds() - 3600 })}`);
  });

  it('an HS256 token signed with another secret is refused with 401', async () => {
    await expectRefused(`Bearer ${rawToken(validClaims(), 'another-secret-another-secret-another-secret')}`);
  });

  it('an RS256 token is refused when the gateway is configured with an HS secret', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expectRefused(`Bearer ${jwt.sign(validClaims(), privateKey, { algorithm: 'RS256' })}`);
  });

  it('an unsigned token (alg none) is refused with 401', async () => {
    await expectRefused(`Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(validClaims())}.`);
  });

  it('a token without sub is refused with 401', async () => {
    const { sub: _sub, ...claims } = validClaims();
    await expectRefused(`Bearer ${rawToken(claims)}`);
  });

  it('a token without exp is refused with 401', async () => {
    const { exp: _exp, ...claims } = validClaims();
    await expectRefused(`Bearer ${rawToken(claims)}`);
  });

  it('a token with an unknown role is refused with 401', async () => {
    await expectRefused(`Bearer ${rawToken({ ...validClaims(), roles: ['superuser'] })}`);
  });

  it('the Basic scheme is refused with 401, even carrying a valid JWT', async () => {
    await expectRefused(`Basic ${Buffer.from('alice:secret').toString('base64')}`);
    await expectRefused(`Basic ${rawToken(validClaims())}`);
  });

  it('a bearer value that is not a JWT is refused with 401', async () => {
    await expectRefused('Bearer not-a-jwt');
  });
});

describe('issuer and audience', () => {
  const ISSUER = 'https://login.example.com/tenant-1';
  const AUDIENCE = 'api://liveness-gateway';
  let pinned: TestGateway;
  beforeAll(async () => {
    pinned = await TestGateway.start({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => {
    await pinned?.stop();
  });

  const tokenFor = (claims: TokenClaims, options: jwt.SignOptions) => pinned.token({ sub: 'alice', tenant: 'acme', ...claims }, options);

  it('a token with the configured issuer and audience is accepted', async () => {
    const result = await post(pinned, VIEWER_QUERY, {}, `Bearer ${tokenFor({}, { issuer: ISSUER, audience: AUDIENCE })}`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ viewer: { userId: 'alice', tenant: 'acme', roles: ['USER'] } });
  });

  const refused: [string, jwt.SignOptions][] = [
    ['neither issuer nor audience', {}],
    ['no issuer', { audience: AUDIENCE }],
    ['no audience', { issuer: ISSUER }],
    ['a wrong issuer', { issuer: 'https://evil.example.com', audience: AUDIENCE }],
    ['a wrong audience', { issuer: ISSUER, audience: 'api://something-else' }],
  ];
  for (const [what, options] of refused) {
    it(`a token with ${what} is refused with 401`, async () => {
      const result = await post(pinned, VIEWER_QUERY, {}, `Bearer ${tokenFor({}, options)}`);
      expect(result.status).toBe(401);
      expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
    });
  }

  it('a WebSocket whose token lacks the audience is closed with 4403', async () => {
    const closed = new Promise<number>((resolve) => {
      const client = pinned.wsClient(tokenFor({}, { issuer: ISSUER }), (event) => resolve(event.code));
      pinned.subscribe(client, SessionDecisionDocument, { sessionId: randomUUID() }).done.catch(() => {});
    });
    expect(await closed).toBe(4403);
  });
});

describe('a gateway configured with an RSA public key', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let rsa: TestGateway;
  beforeAll(async () => {
    rsa = await TestGateway.start({ env: { JWT_SECRET: '', JWT_PUBLIC_KEY: publicKeyPem } });
  });
  afterAll(async () => {
    await rsa?.stop();
  });
  const claims = () => ({ sub: 'alice', tenant: 'acme', exp: nowSeconds() + 600 });

  it('accepts an RS256 token signed with the matching private key', async () => {
    const result = await post(rsa, VIEWER_QUERY, {}, `Bearer ${jwt.sign(claims(), keys.privateKey, { algorithm: 'RS256' })}`);
    expect(result.data).toEqual({ viewer: { userId: 'alice', tenant: 'acme', roles: ['USER'] } });
  });

  it('refuses an HS256 token that uses the public key as its HMAC secret (algorithm confusion)', async () => {
    const [header, payload] = [base64url({ alg: 'HS256', typ: 'JWT' }), base64url(claims())];
    const signature = createHmac('sha256', publicKeyPem).update(`${header}.${payload}`).digest('base64url');
    const result = await post(rsa, VIEWER_QUERY, {}, `Bearer ${header}.${payload}.${signature}`);
    expect(result.status).toBe(401);
    expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an RS256 token signed with another key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const result = await post(rsa, VIEWER_QUERY, {}, `Bearer ${jwt.sign(claims(), other.privateKey, { algorithm: 'RS256' })}`);
    expect(result.status).toBe(401);
    expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('WebSocket connection_init', () => {
  /** Subscribes over a fresh socket; resolves with the close code once the server closed it. */
  async function closeCodeFor(token: string | undefined): Promise<{ code: number; subscription: string }> {
    let onClosed: (code: number) => void = () => {};
    const closed = new Promise<number>((resolve) => (onClosed = resolve));
    const client = gateway.wsClient(token, (event) => onClosed(event.code));
    const subscription = await gateway.subscribe(client, SessionDecisionDocument, { sessionId: randomUUID() }).done.then(
      () => 'completed',
      () => 'failed',
    );
    return { code: await closed, subscription };
  }

  it('a socket without a token is closed with 4403 and the subscription fails', async () => {
    expect(await closeCodeFor(undefined)).toEqual({ code: 4403, subscription: 'failed' });
  });

  it('a socket with a token signed by another secret is closed with 4403', async () => {
    const token = jwt.sign({ sub: 'alice', exp: nowSeconds() + 600 }, 'another-secret-another-secret-another-secret');
    expect(await closeCodeFor(token)).toEqual({ code: 4403, subscription: 'failed' });
  });

  it('a socket with an expired token is closed with 4403', async () => {
    expect(await closeCodeFor(rawToken({ sub: 'alice', exp: nowSeconds() - 3600 }))).toEqual({ code: 4403, subscription: 'failed' });
  });

  it('a socket with a token without exp is closed with 4403', async () => {
    expect(await closeCodeFor(rawToken({ sub: 'alice' }))).toEqual({ code: 4403, subscription: 'failed' });
  });

  it('a socket with garbage for a token is closed with 4403', async () => {
    expect(await closeCodeFor('garbage')).toEqual({ code: 4403, subscription: 'failed' });
  });

  it('a socket with a valid token is accepted and answers the subscription (the baseline)', async () => {
    const client = gateway.wsClient(gateway.token({ sub: 'ws-user', tenant: 'acme-ws' }));
    const events = await gateway.subscribe(client, SessionDecisionDocument, { sessionId: randomUUID() }).done;
    expect(events.map((event) => event.errors?.map((error) => error.extensions?.code))).toEqual([['NOT_FOUND']]);
  });
});

describe('callers without a valid token: one budget per address, whichever way they come in', () => {
  let limited: TestGateway;
  beforeAll(async () => {
    // Behind one trusted proxy, so that each test is its own address (the last X-Forwarded-For entry).
    limited = await TestGateway.start({ env: { RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '3', RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS: '60000', TRUST_PROXY_HOPS: '1' } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  /** Opens a socket from `address`, sends connection_init with `authorization` (or none); resolves with how it ended. */
  async function webSocketInit(address: string, authorization?: string): Promise<number | 'acknowledged'> {
    const raw = await RawSocket.open(limited.graphqlUrl.replace(/^http/, 'ws'), { ws: { headers: { 'x-forwarded-for': address } } });
    raw.send({ type: 'connection_init', payload: authorization === undefined ? {} : { authorization } });
    const seen = await eventually(() => (raw.messages.some((message) => message.type === 'connection_ack') ? 'acknowledged' : raw.isOpen ? undefined : 'closed'));
    const outcome = seen === 'acknowledged' ? seen : (await raw.closed).code;
    await raw.close();
    return outcome;
  }

  async function anonymousQuery(address: string) {
    const response = await fetch(limited.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as GraphQLResponse<unknown> };
  }

  async function auditExport(address: string, authorization?: string): Promise<number> {
    const response = await fetch(`${limited.url}/audit/export`, { headers: { 'x-forwarded-for': address, ...(authorization ? { authorization } : {}) } });
    await response.text();
    return response.status;
  }

  const forged = () => `Bearer ${limited.token({ sub: 'mallory', roles: ['auditor'] }).slice(0, -4)}AAAA`;

  it('refused WebSocket inits use up the same budget as HTTP: after three, an anonymous HTTP request from that address is 429', async () => {
    const outcomes = [await webSocketInit('198.51.100.10'), await webSocketInit('198.51.100.10', forged()), await webSocketInit('198.51.100.10', 'garbage')];
    expect(outcomes).toEqual([4403, 4403, 4403]);
    const refused = await anonymousQuery('198.51.100.10');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('20');
    expect(refused.body.errors?.map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect((await anonymousQuery('198.51.100.11')).status).toBe(200);
  });

  it('past the budget a WebSocket without a valid token is still closed with 4403, and one with a valid token is accepted', async () => {
    for (let i = 0; i < 3; i += 1) expect((await anonymousQuery('198.51.100.20')).status).toBe(200);
    expect(await webSocketInit('198.51.100.20')).toBe(4403);
    expect(await webSocketInit('198.51.100.20', forged())).toBe(4403);
    expect(await webSocketInit('198.51.100.20', `Bearer ${limited.token({ sub: 'ws-after-budget' })}`)).toBe('acknowledged');
  });

  it('refused audit exports count too: 401 twice, a refused WebSocket init, then 429 for both the export and an anonymous query', async () => {
    expect(await auditExport('198.51.100.30')).toBe(401);
    expect(await auditExport('198.51.100.30', forged())).toBe(401);
    expect(await webSocketInit('198.51.100.30', forged())).toBe(4403);
    expect(await auditExport('198.51.100.30', forged())).toBe(429);
    expect((await anonymousQuery('198.51.100.30')).status).toBe(429);
    // A valid token is not counted, and is served from the limited address.
    expect(await auditExport('198.51.100.30', `Bearer ${limited.token({ sub: 'portal', roles: ['auditor'] })}`)).toBe(200);
  });

  it('a valid token with the wrong role is refused by the export (403) without using up the budget', async () => {
    const user = `Bearer ${limited.token({ sub: 'plain-user', roles: ['user'] })}`;
    for (let i = 0; i < 5; i += 1) expect(await auditExport('198.51.100.40', user)).toBe(403);
    expect((await anonymousQuery('198.51.100.40')).status).toBe(200);
  });
});

describe('sessions listing', () => {
  const TENANT = 'initech-list';
  const lister = () => gateway.token({ sub: 'lister', tenant: TENANT });
  const auditor = () => gateway.token({ sub: 'list-auditor', roles: ['auditor'], tenant: TENANT });
  type Node = SessionsQuery['sessions']['edges'][number]['node'];
  /** Oldest first, as created; each a second apart on the gateway's clock. */
  const created: Node[] = [];
  let verifyIds: string[];
  let succeededId: string;
  let deletedId: string;

  beforeAll(async () => {
    for (let i = 0; i < 7; i += 1) {
      gateway.advanceClock(1_000);
      const started = (await gateway.ok(StartLivenessSessionDocument, { input: { authTokenTimeToLiveSeconds: 86_400 } }, lister())).startLivenessSession;
      created.push(started.session);
      if (i === 2) {
        expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
        await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, lister());
        succeededId = started.session.id;
      }
    }
    for (let i = 0; i < 2; i += 1) {
      gateway.advanceClock(1_000);
      const started = (
        await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1, authTokenTimeToLiveSeconds: 86_400 } }, lister())
      ).startLivenessWithVerifySession;
      created.push(started.session);
    }
    verifyIds = created.slice(7).map((session) => session.id);
    deletedId = created[4].id;
    await gateway.ok(DeleteLivenessSessionDocument, { id: deletedId }, lister());
    // The completed session is decided by the poller in the background.
    await eventually(async () => ((await gateway.ok(SessionDocument, { id: succeededId }, lister())).session?.status === 'SUCCEEDED' ? true : undefined));
  });

  const newestFirst = () => [...created].reverse().map((session) => session.id);

  it('lists newest first with the total count', async () => {
    const page = (await gateway.ok(SessionsDocument, { first: 100 }, lister())).sessions;
    expect(page.edges.map((edge) => edge.node.id)).toEqual(newestFirst());
    expect(page.totalCount).toBe(9);
    expect(page.pageInfo.hasNextPage).toBe(false);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor);
  });

  it('pages through with first/after without duplicates or gaps, the total count on every page', async () => {
    const seen: string[] = [];
    const hasNext: boolean[] = [];
    let after: string | null | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = (await gateway.ok(SessionsDocument, { first: 2, after }, lister())).sessions;
      expect(page.totalCount).toBe(9);
      expect(page.edges.length).toBeLessThanOrEqual(2);
      seen.push(...page.edges.map((edge) => edge.node.id));
      hasNext.push(page.pageInfo.hasNextPage);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(newestFirst());
    expect(hasNext).toEqual([true, true, true, true, false]);
  });

  it('an auditor pages through the tenant the same way', async () => {
    const first = (await gateway.ok(SessionsDocument, { first: 5 }, auditor())).sessions;
    const second = (await gateway.ok(SessionsDocument, { first: 5, after: first.pageInfo.endCursor }, auditor())).sessions;
    expect([...first.edges, ...second.edges].map((edge) => edge.node.id)).toEqual(newestFirst());
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('filters by status', async () => {
    expect(await listIds(lister(), { statuses: ['SUCCEEDED'] })).toEqual([succeededId]);
    expect(await listIds(lister(), { statuses: ['DELETED'] })).toEqual([deletedId]);
    expect(new Set(await listIds(lister(), { statuses: ['SUCCEEDED', 'DELETED'] }))).toEqual(new Set([succeededId, deletedId]));
    const notStarted = newestFirst().filter((id) => id !== succeededId && id !== deletedId);
    expect(await listIds(lister(), { statuses: ['NOT_STARTED'] })).toEqual(notStarted);
    const page = (await gateway.ok(SessionsDocument, { filter: { statuses: ['NOT_STARTED'] }, first: 1 }, lister())).sessions;
    expect(page.totalCount).toBe(notStarted.length);
  });

  it('filters by kind', async () => {
    expect(await listIds(lister(), { kind: 'LIVENESS_WITH_VERIFY' })).toEqual([...verifyIds].reverse());
    expect(await listIds(lister(), { kind: 'LIVENESS' })).toEqual(newestFirst().filter((id) => !verifyIds.includes(id)));
  });

  it('filters by a creation time window', async () => {
    // Bounds half-way between creations, so the test does not depend on whether a bound is inclusive.
    const between = (a: Node, b: Node) => new Date((new Date(a.createdAt).getTime() + new Date(b.createdAt).getTime()) / 2).toISOString();
    const from = between(created[1], created[2]);
    const to = between(created[5], created[6]);
    const window = created.slice(2, 6).map((session) => session.id).reverse();
    expect(await listIds(lister(), { from, to })).toEqual(window);
    expect(await listIds(lister(), { from })).toEqual(newestFirst().slice(0, 7));
    expect(await listIds(lister(), { to })).toEqual(created.slice(0, 6).map((session) => session.id).reverse());
    const page = (await gateway.ok(SessionsDocument, { filter: { from, to }, first: 1 }, lister())).sessions;
    expect(page.totalCount).toBe(4);
  });

  it('a time window whose start is not before its end is refused with BAD_USER_INPUT', async () => {
    const at = created[3].createdAt;
    expect(codesOf(await gateway.graphql(SessionsDocument, { filter: { from: at, to: at } }, lister()))).toEqual(['BAD_USER_INPUT']);
  });

  it('a time window bound that is not an ISO-8601 date-time is refused with BAD_USER_INPUT', async () => {
    expect(codesOf(await gateway.graphql(SessionsDocument, { filter: { from: 'yesterday' } }, lister()))).toEqual(['BAD_USER_INPUT']);
  });

  it('first 0 and first 101 are refused with BAD_USER_INPUT; first 100 is allowed', async () => {
    expect(codesOf(await gateway.graphql(SessionsDocument, { first: 0 }, lister()))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await gateway.graphql(SessionsDocument, { first: 101 }, lister()))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await gateway.graphql(SessionsDocument, { first: -1 }, lister()))).toEqual(['BAD_USER_INPUT']);
    expect((await gateway.graphql(SessionsDocument, { first: 100 }, lister())).errors).toBeUndefined();
  });

  it('a cursor with any one character changed is refused with BAD_USER_INPUT', async () => {
    const page = (await gateway.ok(SessionsDocument, { first: 2 }, lister())).sessions;
    const cursor = page.pageInfo.endCursor!;
    expect((await gateway.graphql(SessionsDocument, { first: 2, after: cursor }, lister())).errors).toBeUndefined();
    for (let i = 0; i < cursor.length; i += 1) {
      const replacement = cursor[i] === 'A' ? 'B' : 'A';
      const tampered = cursor.slice(0, i) + replacement + cursor.slice(i + 1);
      const result = await gateway.graphql(SessionsDocument, { first: 2, after: tampered }, lister());
      expect(codesOf(result), `cursor changed at ${i}`).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('a cursor that is not one at all is refused with BAD_USER_INPUT', async () => {
    for (const after of ['garbage', 'a.b.c', Buffer.from('{"createdAtMillis":1,"id":"x"}').toString('base64url')]) {
      const result = await gateway.graphql(SessionsDocument, { first: 2, after }, lister());
      expect(codesOf(result), `after=${JSON.stringify(after)}`).toEqual(['BAD_USER_INPUT']);
    }
  });
});
