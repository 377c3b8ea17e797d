/**
 * What one caller can put into an operation's input, tried as an attacker would against a real
 * gateway (port 0, a real SQLite file, the emulator over HTTP, real signed JWTs): filter lists far
 * longer than their enums.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditHistoryDocument,
  DeleteLivenessSessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  type AuditAction,
  type SessionStatus,
} from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start();
});
afterAll(async () => {
  await gateway?.stop();
});

const userToken = (tenant: string, sub = `user-${randomUUID()}`) => gateway.token({ sub, roles: ['user'], tenant });
const auditorToken = (tenant: string) => gateway.token({ sub: `auditor-${randomUUID()}`, roles: ['auditor'], tenant });

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
    expect(result.errors?.[0].message).toMatch(/actions.*at most 6/);
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
