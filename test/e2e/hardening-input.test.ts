/**
 * What one caller can put into an operation's input, tried as an attacker would against a real
 * gateway (port 0, a real SQLite file, the emulator over HTTP, real signed JWTs): filter lists far
 * longer than their enums, a page size passed as a variable to get past the cost limit, over HTTP
 * and WebSocket alike, and a completion reported after the poller has already decided, which must
 * still reach the audit trail.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditHistoryDocument,
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  type AuditAction,
  type SessionStatus,
} from '../../client/generated/graphql';
import { AUDIT_ACTIONS } from '../../src/domain/audit/audit.model';
import { eventually, TestGateway } from '../helpers/gateway';
import { RawSocket, type WsMessage } from '../helpers/raw-socket';

type ErrorJson = { message: string; extensions?: Record<string, unknown> };

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start();
});
afterAll(async () => {
  await gateway?.stop();
});

const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const each of sockets.splice(0)) await each.close();
});

const userToken = (tenant: string, sub = `user-${randomUUID()}`) => gateway.token({ sub, roles: ['user'], tenant });
const auditorToken = (tenant: string) => gateway.token({ sub: `auditor-${randomUUID()}`, roles: ['auditor'], tenant });

/** A POST /graphql with the raw query text and variables, as any client can send it. */
async function post(query: string, variables: Record<string, unknown>, token: string) {
  const response = await fetch(gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown> | null; errors?: ErrorJson[] };
  return { status: response.status, ...body };
}

/** One operation over a graphql-transport-ws socket: its results, or its errors. */
async function overSocket(token: string, query: string, variables: Record<string, unknown>) {
  const raw = await RawSocket.open(gateway.graphqlUrl.replace(/^http/, 'ws'), { authorization: `Bearer ${token}` });
  sockets.push(raw);
  const id = randomUUID();
  raw.subscribe(id, query, variables);
  const messages: WsMessage[] = await raw.finished(id);
  return {
    raw,
    results: messages.filter((message) => message.type === 'next').map((message) => message.payload as { data?: unknown; errors?: ErrorJson[] }),
    errors: messages.find((message) => message.type === 'error')?.payload as ErrorJson[] | undefined,
  };
}

/** Log lines at pino's `error` level or above, or naming a SQL failure: what an internal error leaves. */
const internalLogLines = () => gateway.logs.filter((line) => /"level":(5|6)\d/.test(line) || /SQL|SQLITE/i.test(line));

// ---------------------------------------------------------------------------------------------
// Filter lists
// ---------------------------------------------------------------------------------------------

describe('filter lists', () => {
  const STATUSES: SessionStatus[] = ['NOT_STARTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'EXPIRED', 'DELETED'];
  const ACTIONS: AuditAction[] = ['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED', 'SESSION_DELETED', 'SESSION_EXPIRED'];
  const flood = <T>(values: T[], count: number) => Array.from({ length: count }, (_, i) => values[i % values.length]);

  it('40,000 statuses passed as a variable are refused with BAD_USER_INPUT, never an internal error', async () => {
    const before = internalLogLines().length;
    const result = await gateway.graphql(SessionsDocument, { filter: { statuses: flood(STATUSES, 40_000) }, first: 10 }, userToken('lists'));
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0].message).toMatch(/statuses.*at most 7/);
    expect(internalLogLines().slice(before)).toEqual([]);
  });

  it('40,000 audit actions passed as a variable are refused with BAD_USER_INPUT, never an internal error', async () => {
    const before = internalLogLines().length;
    const result = await gateway.graphql(AuditHistoryDocument, { filter: { actions: flood(ACTIONS, 40_000) }, first: 10 }, auditorToken('lists'));
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0].message).toMatch(new RegExp(`actions.*at most ${AUDIT_ACTIONS.length}`));
    expect(internalLogLines().slice(before)).toEqual([]);
  });

  it('a list one longer than its enum is refused, a list of every value once is served', async () => {
    const token = auditorToken('lists');
    const tooLong = await gateway.graphql(SessionsDocument, { filter: { statuses: [...STATUSES, 'RUNNING'] }, first: 10 }, token);
    expect(tooLong.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const everyStatus = await gateway.graphql(SessionsDocument, { filter: { statuses: STATUSES }, first: 10 }, token);
    expect(everyStatus.errors).toBeUndefined();
    const everyAction = await gateway.graphql(AuditHistoryDocument, { filter: { actions: ACTIONS }, first: 10 }, token);
    expect(everyAction.errors).toBeUndefined();
  });

  it('duplicates count once and the listing is what the distinct values select', async () => {
    const tenant = `duplicates-${randomUUID()}`;
    const token = userToken(tenant);
    const start = async () => (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session.id;
    const kept = await start();
    const deleted = await start();
    await gateway.ok(DeleteLivenessSessionDocument, { id: deleted }, token);

    const sessions = (await gateway.ok(SessionsDocument, { filter: { statuses: ['DELETED', 'DELETED', 'DELETED'] }, first: 10 }, token)).sessions;
    expect(sessions.totalCount).toBe(1);
    expect(sessions.edges.map((edge) => edge.node.id)).toEqual([deleted]);
    const both = (await gateway.ok(SessionsDocument, { filter: { statuses: ['NOT_STARTED', 'DELETED', 'NOT_STARTED', 'DELETED'] }, first: 10 }, token)).sessions;
    expect(both.totalCount).toBe(2);
    expect(new Set(both.edges.map((edge) => edge.node.id))).toEqual(new Set([kept, deleted]));

    const auditor = auditorToken(tenant);
    const history = (await gateway.ok(AuditHistoryDocument, { filter: { actions: ['SESSION_DELETED', 'SESSION_DELETED'] }, first: 10 }, auditor)).auditHistory;
    expect(history.totalCount).toBe(1);
    expect(history.edges.map((edge) => [edge.node.action, edge.node.sessionId])).toEqual([['SESSION_DELETED', deleted]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Cost with variables
// ---------------------------------------------------------------------------------------------

describe('query cost with variables', () => {
  const nested = 'query Cost($a: Int, $b: Int) { sessions(first: $a) { edges { node { id auditTrail(first: $b) { edges { node { id hash previousHash } } } } } } }';
  const viaFragment =
    'query Cost($a: Int, $b: Int) { sessions(first: $a) { ...Page } } fragment Page on LivenessSessionConnection { edges { node { id auditTrail(first: $b) { edges { node { id hash } } } } } }';
  const byDefault = 'query Cost($a: Int = 100, $b: Int = 100) { sessions(first: $a) { edges { node { id auditTrail(first: $b) { edges { node { id hash previousHash } } } } } } }';
  const refused: [string, string, Record<string, unknown>][] = [
    ['pages of 100 nested in pages of 100, as variables', nested, { a: 100, b: 100 }],
    ['the same through a fragment', viaFragment, { a: 100, b: 100 }],
    ['the same as the variables’ defaults', byDefault, {}],
    ['pages of 40 sessions, each with its default page of 50 events', '{ sessions(first: 40) { edges { node { id auditTrail { edges { node { id } } } } } } }', {}],
  ];

  for (const [what, query, variables] of refused) {
    it(`${what}: refused by the cost limit over HTTP, as when written literally`, async () => {
      const result = await post(query, variables, userToken('cost'));
      expect(result.status).toBe(400);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' });
      expect(result.errors?.[0].message).toMatch(/Query Cost limit of \d+ exceeded/);
    });

    it(`${what}: refused by the cost limit over WebSocket, and the socket keeps serving`, async () => {
      const token = userToken('cost');
      const { raw, results, errors } = await overSocket(token, query, variables);
      expect(results).toEqual([]);
      expect(errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' });
      expect(errors?.[0].message).toMatch(/Query Cost limit of \d+ exceeded/);
      expect(raw.isOpen).toBe(true);
    });
  }

  it('the same documents with small pages run, over HTTP and WebSocket', async () => {
    const token = userToken('cost');
    for (const query of [nested, viaFragment]) {
      const overHttp = await post(query, { a: 2, b: 2 }, token);
      expect(overHttp.errors).toBeUndefined();
      expect(overHttp.data).toEqual({ sessions: { edges: [] } });
      const { results, errors } = await overSocket(token, query, { a: 2, b: 2 });
      expect(errors).toBeUndefined();
      expect(results).toEqual([{ data: { sessions: { edges: [] } } }]);
    }
  });

  it('a documented listing at the largest page size still runs, over HTTP and WebSocket', async () => {
    const token = auditorToken('cost');
    expect((await gateway.graphql(SessionsDocument, { first: 100 }, token)).errors).toBeUndefined();
    expect((await gateway.graphql(AuditHistoryDocument, { first: 100 }, token)).errors).toBeUndefined();
    const { errors } = await overSocket(token, 'query ($n: Int) { sessions(first: $n) { totalCount edges { node { id status } } } }', { n: 100 });
    expect(errors).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Completion reported after the decision
// ---------------------------------------------------------------------------------------------

describe('a completion reported after the poller decided', () => {
  it('is still audited, once, after the decision, and the chain stays valid', async () => {
    const tenant = `late-${randomUUID()}`;
    const token = userToken(tenant, 'late-owner');
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    const id = started.session.id;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);

    // A subscriber waits without any completion reported: the poller's fallback decides the session.
    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
    const events = await subscription.done;
    expect(events[0].data?.sessionDecision).toMatchObject({ sessionId: id, verdict: 'PASS' });
    const decided = await eventually(async () => {
      const session = (await gateway.ok(SessionDocument, { id }, token)).session;
      return session?.decision ? session : undefined;
    });
    expect(decided.status).toBe('SUCCEEDED');

    const completed = await gateway.graphql(CompleteLivenessSessionDocument, { id }, token);
    expect(completed.errors).toBeUndefined();
    expect(completed.data?.completeLivenessSession.status).toBe('SUCCEEDED');
    expect((await gateway.graphql(CompleteLivenessSessionDocument, { id }, token)).errors).toBeUndefined();

    const auditor = auditorToken(tenant);
    const trail = (await gateway.ok(SessionAuditTrailDocument, { id, first: 100 }, auditor)).session!.auditTrail.edges.map((edge) => edge.node).reverse();
    expect(trail.map((event) => event.action)).toEqual(['SESSION_STARTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED', 'COMPLETION_REPORTED']);
    expect(trail[3].actor).toBe('late-owner');
    expect((await gateway.ok(VerifyAuditChainDocument, {}, auditor)).verifyAuditChain).toMatchObject({ tenant, valid: true, checked: 4 });
  });
});
