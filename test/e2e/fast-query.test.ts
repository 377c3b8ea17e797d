/**
 * The fast path for repeated queries (`src/http/fast-query.ts`) answers exactly as Apollo would:
 * for every public query operation, as each role that may send it, and for every `Accept` header it
 * takes, the status, every header (but date and request id) and the body bytes are the same as Apollo's answer
 * to the same request sent with `extensions: {}` (which the fast path always hands to Apollo).
 * `liveness_gateway_graphql_fast_path_total` shows which path answered.
 */
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditHistoryDocument,
  CompleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  ViewerDocument,
} from '../../client/generated/graphql';
import { FAST_ACCEPT_HEADERS } from '../../src/transport/fast-query';
import { eventually, TestGateway } from '../helpers/gateway';

const FAST_PATH_METRIC = /^liveness_gateway_graphql_fast_path_total (\d+)$/m;

interface Answer {
  status: number;
  contentType: string | null;
  cacheControl: string | null;
  /** Every response header but the two that differ per response (date, x-request-id). */
  headers: Record<string, string>;
  body: string;
}

const PER_RESPONSE_HEADERS = new Set(['date', 'x-request-id']);

describe('the fast path for repeated queries', () => {
  let gateway: TestGateway;
  let sessionId: string;
  let user: string;
  let auditor: string;
  let admin: string;

  beforeAll(async () => {
    gateway = await TestGateway.start();
    user = gateway.token({ sub: 'fast-user', tenant: 'fast' });
    auditor = gateway.token({ sub: 'fast-auditor', roles: ['auditor'], tenant: 'fast' });
    admin = gateway.token({ sub: 'fast-admin', roles: ['admin'], tenant: 'ops' });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: { deviceCorrelationId: 'fast-device' } }, user)).startLivenessSession;
    sessionId = started.session.id;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: sessionId }, user);
    await eventually(async () => (await gateway.ok(SessionDocument, { id: sessionId }, user)).session?.decision ?? undefined);
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  async function fastPathCount(): Promise<number> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const match = FAST_PATH_METRIC.exec(text);
    if (!match) throw new Error('no fast-path counter in /metrics');
    return Number(match[1]);
  }

  async function post(body: Record<string, unknown>, headers: Record<string, string>): Promise<Answer> {
    const response = await fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      cacheControl: response.headers.get('cache-control'),
      headers: Object.fromEntries([...response.headers].filter(([name]) => !PER_RESPONSE_HEADERS.has(name))),
      body: await response.text(),
    };
  }

  /** The same request answered by the fast path, then by Apollo; checks which path answered each. */
  async function bothWays(body: Record<string, unknown>, headers: Record<string, string>, fast: boolean) {
    await post(body, headers); // the first sight of a text checks it; from now on it is known
    const before = await fastPathCount();
    const viaFastPath = await post(body, headers);
    expect(await fastPathCount(), 'answered by the fast path').toBe(before + (fast ? 1 : 0));
    const viaApollo = await post({ ...body, extensions: {} }, headers);
    expect(await fastPathCount(), 'answered by Apollo').toBe(before + (fast ? 1 : 0));
    return { viaFastPath, viaApollo };
  }

  it('every public query, as each role that may send it, is answered by the fast path with the very answer Apollo gives', async () => {
    const operations: [string, Record<string, unknown>, string][] = [
      [print(ViewerDocument), {}, user],
      [print(SessionDocument), { id: sessionId }, user],
      [print(SessionDocument), { id: sessionId }, auditor],
      [print(SessionsDocument), { first: 5 }, user],
      [print(SessionsDocument), { filter: { statuses: ['SUCCEEDED'] }, first: 2 }, admin],
      [print(SessionAuditTrailDocument), { id: sessionId, first: 10 }, user],
      [print(AuditHistoryDocument), { filter: { sessionId }, first: 3 }, auditor],
      [print(AuditHistoryDocument), { filter: { tenant: 'fast' }, first: 3 }, admin],
      [print(VerifyAuditChainDocument), { tenant: 'fast' }, admin],
    ];
    for (const [query, variables, token] of operations) {
      const { viaFastPath, viaApollo } = await bothWays({ query, variables }, { authorization: `Bearer ${token}` }, true);
      expect(viaFastPath, query).toEqual(viaApollo);
      expect(viaFastPath.status).toBe(200);
      expect(JSON.parse(viaFastPath.body)).toHaveProperty('data');
    }
  });

  it('takes each Accept header of its list with the content type Apollo negotiates for it', async () => {
    for (const accept of FAST_ACCEPT_HEADERS.keys()) {
      const headers: Record<string, string> = { authorization: `Bearer ${user}`, ...(accept === undefined ? {} : { accept }) };
      const { viaFastPath, viaApollo } = await bothWays({ query: print(ViewerDocument), operationName: 'Viewer', variables: null }, headers, true);
      expect(viaFastPath, String(accept)).toEqual(viaApollo);
      expect(viaFastPath.contentType).toBe(FAST_ACCEPT_HEADERS.get(accept));
    }
  });

  it('hands to Apollo what it does not answer itself, and Apollo answers as always', async () => {
    const auth = { authorization: `Bearer ${user}` };
    const cases: [string, Record<string, unknown>, Record<string, string>][] = [
      ['an error in the answer (NOT_FOUND)', { query: print(SessionDocument), variables: { id: 'no-such-session' } }, auth],
      ['a field the role may not read (FORBIDDEN)', { query: print(VerifyAuditChainDocument), variables: { tenant: 'fast' } }, auth],
      ['a missing variable', { query: print(SessionDocument), variables: {} }, auth],
      ['a document that does not validate', { query: '{ viewer { nope } }' }, auth],
      ['a document that does not parse', { query: '{ viewer { ' }, auth],
      ['a mutation', { query: print(CompleteLivenessSessionDocument), variables: { id: 'no-such-session' } }, auth],
      ['a refused token', { query: print(ViewerDocument) }, { authorization: 'Bearer not-a-jwt' }],
      ['no token', { query: '{ viewer { userId } }' }, {}],
      ['an unknown key in the body', { query: print(ViewerDocument), other: 1 }, auth],
      ['variables that are not an object', { query: print(ViewerDocument), variables: [1] }, auth],
      ['an Accept header not in its list', { query: print(ViewerDocument) }, { ...auth, accept: 'text/plain, application/json;q=0.5' }],
    ];
    for (const [what, body, headers] of cases) {
      const { viaFastPath, viaApollo } = await bothWays(body, headers, false);
      expect(viaFastPath, what).toEqual(viaApollo);
    }
  });

  it('counts what it answers in the request metrics, as Apollo does', async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const viewerOk = /^liveness_gateway_graphql_requests_total\{transport="http",operation="viewer",outcome="ok"\} (\d+)$/m.exec(text);
    const before = Number(viewerOk?.[1] ?? 0);
    const fastBefore = await fastPathCount();
    await post({ query: print(ViewerDocument) }, { authorization: `Bearer ${user}` });
    const after = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(Number(/^liveness_gateway_graphql_requests_total\{transport="http",operation="viewer",outcome="ok"\} (\d+)$/m.exec(after)?.[1])).toBe(before + 1);
    expect(await fastPathCount()).toBe(fastBefore + 1);
  });

  it('keeps introspection off when it is off: a repeated introspection query is refused exactly as Apollo refuses it', async () => {
    const closed = await TestGateway.start({ env: { ENABLE_INTROSPECTION: 'false' } });
    try {
      const token = closed.token({ sub: 'fast-introspection', tenant: 'fast' });
      const body = JSON.stringify({ query: '{ __schema { queryType { name } } viewer { userId } }' });
      const answers = [];
      for (const extra of ['', ', "extensions": {}']) {
        for (let i = 0; i < 2; i += 1) {
          const response = await fetch(closed.graphqlUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: body.replace(/}$/, `${extra}}`),
          });
          answers.push({ status: response.status, body: await response.text() });
        }
      }
      expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
      expect(answers[0].body).toContain('GRAPHQL_VALIDATION_FAILED');
      expect(answers[0].body).not.toContain('"queryType"');
    } finally {
      await closed.stop();
    }
  });
});
