/**
 * The audit trail end to end: real gateways on port 0, real signed JWTs of every role, the
 * emulator over HTTP, the SQLite file edited behind the gateway's back, and the export recomputed
 * by the project's own code, by an independent implementation of docs/audit.md, and by the script
 * that docs/audit.md gives partners.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash } from '../../src/domain/audit/chain';
import {
  AuditHistoryDocument,
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  type AuditFilter,
  type AuditHistoryQuery,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import type { AuditReason } from '../../src/domain/audit/audit.model';
import { docsBlocks, documentedHash, documentedPersonalFieldsHold, EXPORT_FIELDS_V3, parseNdjson, ZERO_HASH, type ExportedEvent } from '../helpers/audit';
import { eventually, TestGateway, type DeviceOutcome } from '../helpers/gateway';

type HistoryNode = AuditHistoryQuery['auditHistory']['edges'][number]['node'];

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start();
});
afterAll(async () => {
  await gateway?.stop();
});

const userToken = (sub: string, tenant: string) => gateway.token({ sub, roles: ['user'], tenant });
const auditorToken = (tenant: string) => gateway.token({ sub: `auditor-of-${tenant}`, roles: ['auditor'], tenant });
const adminToken = () => gateway.token({ sub: 'operator', roles: ['admin'], tenant: 'operators' });
const REAL_FACE: DeviceOutcome = { livenessDecision: 'realface' };
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

async function startSession(token: string, ttlSeconds?: number) {
  const input = ttlSeconds === undefined ? {} : { authTokenTimeToLiveSeconds: ttlSeconds };
  const started = (await gateway.ok(StartLivenessSessionDocument, { input }, token)).startLivenessSession;
  return { id: started.session.id, authToken: started.authToken };
}

async function decisionOf(token: string, id: string) {
  return eventually(async () => (await gateway.ok(SessionDocument, { id }, token)).session?.decision ?? undefined);
}

/** A user starts a session, the device plays `outcomes`, the client reports completion, a decision arrives. */
async function decidedSession(tenant: string, sub: string, outcomes: DeviceOutcome[] = [REAL_FACE]) {
  const token = userToken(sub, tenant);
  const { id, authToken } = await startSession(token);
  for (const outcome of outcomes) expect((await gateway.device('LIVENESS', authToken, outcome)).status).toBe(200);
  await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
  const decision = await decisionOf(token, id);
  return { id, token, decision };
}

/** A session's whole trail, oldest first. */
async function trailOf(token: string, id: string) {
  const result = await gateway.ok(SessionAuditTrailDocument, { id, first: 100 }, token);
  expect(result.session!.auditTrail.pageInfo.hasNextPage).toBe(false);
  return result.session!.auditTrail.edges.map((edge) => edge.node).reverse();
}

/** Every event `token` may see under `filter`, newest first, paging through. */
async function history(token: string, filter?: AuditFilter, pageSize = 100): Promise<HistoryNode[]> {
  const nodes: HistoryNode[] = [];
  let after: string | null = null;
  for (;;) {
    const page: AuditHistoryQuery['auditHistory'] = (await gateway.ok(AuditHistoryDocument, { filter, first: pageSize, after }, token)).auditHistory;
    nodes.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
}

async function verify(token: string, tenant?: string) {
  return (await gateway.ok(VerifyAuditChainDocument, { tenant }, token)).verifyAuditChain;
}

async function exportChain(token: string | undefined, query: Record<string, string> = {}, method = 'GET') {
  const url = new URL('/audit/export', gateway.url);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const response = await fetch(url, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}

/** Checks the chain links and recomputes every hash twice: by src/audit/chain.ts and by the documented encoding. */
function expectChainRecomputes(events: ExportedEvent[], startHash = ZERO_HASH) {
  let previousHash = startHash;
  for (const [index, event] of events.entries()) {
    if (index > 0) expect(event.sequence).toBe(events[index - 1].sequence + 1);
    expect(event.previousHash).toBe(previousHash);
    const ours = chainHash(previousHash, {
      ...event,
      at: new Date(event.at),
      action: event.action as HistoryNode['action'],
      attemptId: event.attemptId ?? undefined,
      verdict: (event.verdict ?? undefined) as NonNullable<HistoryNode['verdict']> | undefined,
      digest: event.digest ?? undefined,
      reason: (event.reason ?? undefined) as AuditReason | undefined,
      verifyImageSha256: event.verifyImageSha256 ?? undefined,
      faceVerifyImageHash: event.faceVerifyImageHash ?? undefined,
      actorCommitment: event.actorCommitment ?? undefined,
      verifyImageSha256Commitment: event.verifyImageSha256Commitment ?? undefined,
      faceVerifyImageHashCommitment: event.faceVerifyImageHashCommitment ?? undefined,
    });
    expect(ours, `chain.ts hash of sequence ${event.sequence}`).toBe(event.hash);
    expect(documentedHash(previousHash, event), `documented hash of sequence ${event.sequence}`).toBe(event.hash);
    expect(documentedPersonalFieldsHold(event), `personal fields of sequence ${event.sequence}`).toBe(true);
    previousHash = event.hash;
  }
}

function errorCode(result: { errors?: { extensions?: Record<string, unknown> }[] }) {
  return result.errors?.[0]?.extensions?.code;
}

describe('what the trail records', () => {
  it('a decided session reads SESSION_STARTED and COMPLETION_REPORTED by the user, ATTEMPT_RECORDED per attempt with its digest, DECISION_REACHED by system', async () => {
    const failure: DeviceOutcome = { error: { code: 'FaceNotFound', message: 'No face.' } };
    const { id, token } = await decidedSession('trail', 'tess', [failure, REAL_FACE]);
    const session = (await gateway.ok(SessionDocument, { id }, token)).session!;
    const digest = session.attempts.find((attempt) => attempt.attemptId === 2)!.digest;
    expect(digest).toMatch(/^[0-9A-F]{64}$/);

    const trail = await trailOf(auditorToken('trail'), id);
    expect(trail.map(({ sequence, action, actor, attemptId, verdict, digest: d, tenant, sessionId }) => ({ sequence, action, actor, attemptId, verdict, digest: d, tenant, sessionId }))).toEqual([
      { sequence: 1, action: 'SESSION_STARTED', actor: 'tess', attemptId: null, verdict: null, digest: null, tenant: 'trail', sessionId: id },
      { sequence: 2, action: 'COMPLETION_REPORTED', actor: 'tess', attemptId: null, verdict: null, digest: null, tenant: 'trail', sessionId: id },
      { sequence: 3, action: 'ATTEMPT_RECORDED', actor: 'system', attemptId: 1, verdict: null, digest: null, tenant: 'trail', sessionId: id },
      { sequence: 4, action: 'ATTEMPT_RECORDED', actor: 'system', attemptId: 2, verdict: null, digest, tenant: 'trail', sessionId: id },
      { sequence: 5, action: 'DECISION_REACHED', actor: 'system', attemptId: 2, verdict: 'PASS', digest: null, tenant: 'trail', sessionId: id },
    ]);
    // Linked from 64 zeros, each hash recomputable from the export, which carries what GraphQL does
    // not show (the owner, and the commitments a v3 hash covers instead of her id).
    const exported = parseNdjson((await exportChain(auditorToken('trail'))).body);
    expect(exported.map(({ sequence, hash, previousHash, userId }) => ({ sequence, hash, previousHash, userId }))).toEqual(
      trail.map(({ sequence, hash, previousHash }) => ({ sequence, hash, previousHash, userId: 'tess' })),
    );
    expectChainRecomputes(exported);
    // The owner reads the same trail.
    expect(await trailOf(token, id)).toEqual(trail);
  });

  it('reporting completion twice records COMPLETION_REPORTED once', async () => {
    const token = userToken('twice', 'twice');
    const { id, authToken } = await startSession(token);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    await gateway.device('LIVENESS', authToken, REAL_FACE);
    await decisionOf(token, id);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    expect((await trailOf(token, id)).map((event) => event.action)).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
  });

  it('deleting an undecided session records SESSION_DELETED by the user and DECISION_REACHED EXPIRED, and the events outlive the session', async () => {
    const token = userToken('dora', 'retention');
    const { id } = await startSession(token);
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);

    const auditor = auditorToken('retention');
    const trail = await trailOf(auditor, id);
    expect(trail.map(({ action, actor, verdict }) => ({ action, actor, verdict }))).toEqual([
      { action: 'SESSION_STARTED', actor: 'dora', verdict: null },
      { action: 'SESSION_DELETED', actor: 'dora', verdict: null },
      { action: 'DECISION_REACHED', actor: 'system', verdict: 'EXPIRED' },
    ]);
    const listed = await history(auditor, { sessionId: id });
    expect(listed.map((event) => event.id)).toEqual(trail.map((event) => event.id).reverse());
    expect(listed.every((event) => event.session?.status === 'DELETED')).toBe(true);
  });

  it('deleting a session after a failed attempt records the attempt, then SESSION_DELETED, then DECISION_REACHED INCONCLUSIVE', async () => {
    const token = userToken('fay', 'retention-failed');
    const { id, authToken } = await startSession(token);
    expect((await gateway.device('LIVENESS', authToken, { error: { code: 'FaceNotFound', message: 'No face.' } })).status).toBe(200);
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
    expect((await trailOf(auditorToken('retention-failed'), id)).map(({ action, actor, attemptId, verdict }) => ({ action, actor, attemptId, verdict }))).toEqual([
      { action: 'SESSION_STARTED', actor: 'fay', attemptId: null, verdict: null },
      { action: 'ATTEMPT_RECORDED', actor: 'system', attemptId: 1, verdict: null },
      { action: 'SESSION_DELETED', actor: 'fay', attemptId: null, verdict: null },
      { action: 'DECISION_REACHED', actor: 'system', attemptId: 1, verdict: 'INCONCLUSIVE' },
    ]);
  });

  it('deleting a decided session adds SESSION_DELETED only, and keeps the whole trail', async () => {
    const { id, token } = await decidedSession('retention-decided', 'dave');
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
    expect((await trailOf(auditorToken('retention-decided'), id)).map((event) => event.action)).toEqual([
      'SESSION_STARTED',
      'COMPLETION_REPORTED',
      'ATTEMPT_RECORDED',
      'DECISION_REACHED',
      'SESSION_DELETED',
    ]);
    expect(await verify(auditorToken('retention-decided'))).toEqual({ tenant: 'retention-decided', valid: true, checked: 5, firstBrokenSequence: null });
  });

  it('a session whose device token expires records SESSION_EXPIRED and DECISION_REACHED EXPIRED by system', async () => {
    const token = userToken('erin', 'expiry');
    const { id } = await startSession(token, 60);
    gateway.advanceClock(61_000);
    expect((await decisionOf(token, id)).verdict).toBe('EXPIRED');
    expect((await trailOf(auditorToken('expiry'), id)).map(({ action, actor, verdict }) => ({ action, actor, verdict }))).toEqual([
      { action: 'SESSION_STARTED', actor: 'erin', verdict: null },
      { action: 'SESSION_EXPIRED', actor: 'system', verdict: null },
      { action: 'DECISION_REACHED', actor: 'system', verdict: 'EXPIRED' },
    ]);
  });
});

describe('who may read the trail', () => {
  let acme: Awaited<ReturnType<typeof decidedSession>>;
  let globex: Awaited<ReturnType<typeof decidedSession>>;
  beforeAll(async () => {
    [acme, globex] = await Promise.all([decidedSession('acme', 'alice'), decidedSession('globex', 'gus')]);
  });

  it("an auditor of acme sees only acme's events, and one of globex only globex's, whatever the filter names", async () => {
    for (const [own, other] of [
      [acme, globex],
      [globex, acme],
    ] as const) {
      const ownTenant = own === acme ? 'acme' : 'globex';
      const otherTenant = own === acme ? 'globex' : 'acme';
      const auditor = auditorToken(ownTenant);
      const seen = await history(auditor);
      expect(seen).toHaveLength(4);
      expect(seen.every((event) => event.tenant === ownTenant && event.sessionId === own.id)).toBe(true);

      for (const filter of [{ tenant: otherTenant }, { sessionId: other.id }, { userId: otherTenant === 'acme' ? 'alice' : 'gus' }]) {
        const page = (await gateway.ok(AuditHistoryDocument, { filter }, auditor)).auditHistory;
        expect(page, JSON.stringify(filter)).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
      }
    }
  });

  it("an auditor can neither verify nor read another tenant's chain or sessions", async () => {
    const auditor = auditorToken('acme');
    expect(errorCode(await gateway.graphql(VerifyAuditChainDocument, { tenant: 'globex' }, auditor))).toBe('FORBIDDEN');
    expect(errorCode(await gateway.graphql(SessionAuditTrailDocument, { id: globex.id }, auditor))).toBe('NOT_FOUND');
    expect(await verify(auditor, 'acme')).toEqual({ tenant: 'acme', valid: true, checked: 4, firstBrokenSequence: null });
  });

  it("a user gets FORBIDDEN for auditHistory and verifyAuditChain, and reads only its own sessions' trails", async () => {
    const result = await gateway.graphql(AuditHistoryDocument, {}, acme.token);
    expect(errorCode(result)).toBe('FORBIDDEN');
    expect(result.data ?? null).toBeNull();
    expect(errorCode(await gateway.graphql(VerifyAuditChainDocument, {}, acme.token))).toBe('FORBIDDEN');
    expect(await trailOf(acme.token, acme.id)).toHaveLength(4);
    const stranger = userToken('mallory', 'acme');
    expect(errorCode(await gateway.graphql(SessionAuditTrailDocument, { id: acme.id }, stranger))).toBe('NOT_FOUND');
    expect(errorCode(await gateway.graphql(AuditHistoryDocument, {}))).toBe('UNAUTHENTICATED');
  });

  it("an admin sees every tenant's events and verifies any tenant's chain", async () => {
    const admin = adminToken();
    const all = await history(admin);
    expect([...new Set(all.map((event) => event.tenant))]).toEqual(expect.arrayContaining(['acme', 'globex', 'trail', 'retention']));
    expect(all.filter((event) => event.tenant === 'acme').map((event) => event.sessionId)).toContain(acme.id);
    const globexOnly = await history(admin, { tenant: 'globex' });
    expect(globexOnly.map((event) => event.sessionId)).toEqual(Array(4).fill(globex.id));
    expect(await verify(admin, 'globex')).toEqual({ tenant: 'globex', valid: true, checked: 4, firstBrokenSequence: null });
    expect(await verify(admin)).toEqual({ tenant: 'operators', valid: true, checked: 0, firstBrokenSequence: null });
    expect((await trailOf(admin, globex.id)).map((event) => event.sequence)).toEqual([1, 2, 3, 4]);
  });

  it("each event's session is resolved for its reader", async () => {
    const seen = await history(auditorToken('globex'));
    expect(seen.map((event) => event.session)).toEqual(Array(4).fill({ id: globex.id, status: 'SUCCEEDED' }));
  });
});

describe('filters and paging', () => {
  it('filters by session, user, actions and time window', async () => {
    const ann1 = await decidedSession('filters', 'ann');
    await sleep(30);
    const ben1 = await decidedSession('filters', 'ben');
    await sleep(30);
    const ann2 = await startSession(userToken('ann', 'filters'));
    await gateway.ok(DeleteLivenessSessionDocument, { id: ann2.id }, userToken('ann', 'filters'));

    const auditor = auditorToken('filters');
    const all = await history(auditor);
    expect(all).toHaveLength(4 + 4 + 3);
    const ids = (events: HistoryNode[]) => events.map((event) => event.id);

    expect(ids(await history(auditor, { sessionId: ann1.id }))).toEqual(ids(all.filter((event) => event.sessionId === ann1.id)));
    expect(await history(auditor, { sessionId: ann1.id })).toHaveLength(4);
    expect(ids(await history(auditor, { userId: 'ben' }))).toEqual(ids(all.filter((event) => event.sessionId === ben1.id)));
    const decisions = await history(auditor, { actions: ['DECISION_REACHED'] });
    expect(decisions.map((event) => [event.sessionId, event.verdict])).toEqual([
      [ann2.id, 'EXPIRED'],
      [ben1.id, 'PASS'],
      [ann1.id, 'PASS'],
    ]);
    expect((await history(auditor, { actions: ['SESSION_STARTED', 'SESSION_DELETED'] })).map((event) => event.action)).toEqual([
      'SESSION_DELETED',
      'SESSION_STARTED',
      'SESSION_STARTED',
      'SESSION_STARTED',
    ]);
    expect(await history(auditor, { userId: 'ann', actions: ['DECISION_REACHED'] })).toHaveLength(2);

    // The window of ben's session: from its first event (inclusive) to ann's second session (exclusive).
    const from = all.find((event) => event.sessionId === ben1.id && event.action === 'SESSION_STARTED')!.at;
    const to = all.find((event) => event.sessionId === ann2.id && event.action === 'SESSION_STARTED')!.at;
    const windowed = await history(auditor, { from, to });
    expect(ids(windowed)).toEqual(ids(all.filter((event) => event.at >= from && event.at < to)));
    expect(new Set(windowed.map((event) => event.sessionId))).toEqual(new Set([ben1.id]));
    expect(windowed).toHaveLength(4);

    expect(errorCode(await gateway.graphql(AuditHistoryDocument, { filter: { from: to, to: from } }, auditor))).toBe('BAD_USER_INPUT');
  });

  it('pages of 25 walk 120 events newest first without duplicates or gaps, even while events are appended', async () => {
    for (let i = 0; i < 3; i += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => decidedSession('paging', `pat-${i}-${j}`)));
    }
    const auditor = auditorToken('paging');
    const seen: HistoryNode[] = [];
    const totals: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: AuditHistoryQuery['auditHistory'] = (await gateway.ok(AuditHistoryDocument, { first: 25, after }, auditor)).auditHistory;
      pages += 1;
      totals.push(page.totalCount);
      seen.push(...page.edges.map((edge) => edge.node));
      expect(page.edges.length).toBe(page.pageInfo.hasNextPage ? 25 : 20);
      if (pages === 2) await startSession(userToken('late', 'paging')); // a newer event lands mid-walk
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(totals).toEqual([120, 120, 121, 121, 121]);
    expect(seen.map((event) => event.sequence)).toEqual(Array.from({ length: 120 }, (_, i) => 120 - i));
    expect(new Set(seen.map((event) => event.id)).size).toBe(120);
  });

  it('a tampered cursor, a cursor of another list, and first outside 1..100 are BAD_USER_INPUT', async () => {
    const auditor = auditorToken('paging');
    const { endCursor } = (await gateway.ok(AuditHistoryDocument, { first: 2 }, auditor)).auditHistory.pageInfo;
    const [body, mac] = endCursor!.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ p: 1 })).toString('base64url');
    const sessionsCursor = (await gateway.ok(SessionsDocument, { first: 1 }, auditor)).sessions.pageInfo.endCursor!;
    const flipped = (text: string) => text.slice(0, -1) + (text.endsWith('A') ? 'B' : 'A');
    for (const after of [`${forgedBody}.${mac}`, `${body}.${flipped(mac)}`, `${flipped(body)}.${mac}`, `${body}x.${mac}`, 'not-a-cursor', sessionsCursor]) {
      expect(errorCode(await gateway.graphql(AuditHistoryDocument, { first: 2, after }, auditor)), after).toBe('BAD_USER_INPUT');
    }
    for (const first of [101, 0, -1]) {
      expect(errorCode(await gateway.graphql(AuditHistoryDocument, { first }, auditor)), `first ${first}`).toBe('BAD_USER_INPUT');
    }
    expect((await gateway.ok(AuditHistoryDocument, { first: 100 }, auditor)).auditHistory.edges).toHaveLength(100);
    const someSession = (await gateway.ok(AuditHistoryDocument, { first: 1 }, auditor)).auditHistory.edges[0].node.sessionId;
    expect(errorCode(await gateway.graphql(SessionAuditTrailDocument, { id: someSession, first: 101 }, auditor))).toBe('BAD_USER_INPUT');
  });
});

describe('chain integrity', () => {
  it('forty sessions of one tenant started and decided concurrently leave one valid chain without gaps', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => decidedSession('busy', `crowd-${i}`)));
    const auditor = auditorToken('busy');
    const events = await history(auditor);
    expect(events).toHaveLength(160);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 160 }, (_, i) => 160 - i));
    expect(await verify(auditor)).toEqual({ tenant: 'busy', valid: true, checked: 160, firstBrokenSequence: null });
    const exported = parseNdjson((await exportChain(auditor)).body);
    expect(exported.map((event) => event.sequence)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    expectChainRecomputes(exported);
  });

  describe('an edit of the SQLite file behind the gateway is found at the edited event', () => {
    // Each case has its own tenant with one decided session: 1 STARTED, 2 COMPLETION, 3 ATTEMPT (digest), 4 DECISION (verdict).
    const cases: { name: string; what: string; sequence: number; sql: string }[] = [
      { name: 'actor', what: 'editing the actor of event 1', sequence: 1, sql: "UPDATE audit_events SET actor = 'mallory' WHERE tenant = ? AND sequence = 1" },
      { name: 'verdict', what: 'editing the verdict of event 4', sequence: 4, sql: "UPDATE audit_events SET verdict = 'FAIL' WHERE tenant = ? AND sequence = 4" },
      { name: 'digest', what: 'editing the digest of event 3', sequence: 3, sql: 'UPDATE audit_events SET digest = lower(digest) WHERE tenant = ? AND sequence = 3' },
      { name: 'at', what: 'moving the time of event 2 by a millisecond', sequence: 2, sql: 'UPDATE audit_events SET at = at - 1 WHERE tenant = ? AND sequence = 2' },
      { name: 'action', what: 'editing the action of event 2', sequence: 2, sql: "UPDATE audit_events SET action = 'SESSION_DELETED' WHERE tenant = ? AND sequence = 2" },
      { name: 'attempt-id', what: 'editing the attempt id of event 3', sequence: 3, sql: 'UPDATE audit_events SET attempt_id = 2 WHERE tenant = ? AND sequence = 3' },
      { name: 'session-id', what: 'editing the session id of event 3', sequence: 3, sql: "UPDATE audit_events SET session_id = 'another' WHERE tenant = ? AND sequence = 3" },
      { name: 'user-id', what: 'editing the user id of event 2', sequence: 2, sql: "UPDATE audit_events SET user_id = 'someone' WHERE tenant = ? AND sequence = 2" },
      { name: 'id', what: 'replacing the id of event 2', sequence: 2, sql: `UPDATE audit_events SET id = '${randomUUID()}' WHERE tenant = ? AND sequence = 2` },
      { name: 'tenant', what: 'moving event 3 to another tenant', sequence: 3, sql: "UPDATE audit_events SET tenant = 'elsewhere' WHERE tenant = ? AND sequence = 3" },
      { name: 'sequence', what: 'renumbering event 2', sequence: 2, sql: 'UPDATE audit_events SET sequence = 99 WHERE tenant = ? AND sequence = 2' },
      {
        name: 'previous-hash',
        what: 'editing the previousHash of event 3',
        sequence: 3,
        sql: "UPDATE audit_events SET previous_hash = (CASE WHEN substr(previous_hash, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(previous_hash, 2) WHERE tenant = ? AND sequence = 3",
      },
      { name: 'hash', what: 'editing the hash of event 4', sequence: 4, sql: `UPDATE audit_events SET hash = '${'a'.repeat(64)}' WHERE tenant = ? AND sequence = 4` },
      { name: 'deleted-last', what: 'deleting the last event (4)', sequence: 4, sql: 'DELETE FROM audit_events WHERE tenant = ? AND sequence = 4' },
      { name: 'deleted-middle', what: 'deleting event 2', sequence: 2, sql: 'DELETE FROM audit_events WHERE tenant = ? AND sequence = 2' },
    ];
    const tenantOf = (name: string) => `tamper-${name}`;
    const untouched = 'tamper-untouched';
    let beforeEdit: Map<string, ExportedEvent[]>;

    beforeAll(async () => {
      const tenants = [...cases.map((c) => tenantOf(c.name)), untouched];
      await Promise.all(tenants.map((tenant) => decidedSession(tenant, 'victim')));
      beforeEdit = new Map();
      for (const tenant of tenants) {
        const exported = parseNdjson((await exportChain(auditorToken(tenant))).body);
        expect(exported.map((event) => event.action)).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
        expect(await verify(auditorToken(tenant))).toMatchObject({ valid: true, checked: 4 });
        beforeEdit.set(tenant, exported);
      }

      await gateway.stopGateway();
      const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'));
      try {
        for (const { name, sql } of cases) expect(db.prepare(sql).run(tenantOf(name)).changes, name).toBe(1);
      } finally {
        db.close();
      }
      await gateway.startAgain();
    });

    it.each(cases)('$what: verifyAuditChain reports the chain broken at sequence $sequence', async ({ name, sequence }) => {
      const report = await verify(auditorToken(tenantOf(name)));
      expect(report).toEqual({ tenant: tenantOf(name), valid: false, checked: sequence - 1, firstBrokenSequence: sequence });
      // The admin sees the same.
      expect(await verify(adminToken(), tenantOf(name))).toEqual(report);
    });

    it('an untouched tenant beside the edited ones still verifies', async () => {
      expect(await verify(auditorToken(untouched))).toEqual({ tenant: untouched, valid: true, checked: 4, firstBrokenSequence: null });
    });

    it("a partner's recomputation of the export finds the edit at the same event", async () => {
      const tenant = tenantOf('verdict');
      const exported = parseNdjson((await exportChain(auditorToken(tenant))).body);
      expect(exported[3]).toEqual({ ...beforeEdit.get(tenant)![3], verdict: 'FAIL' });
      expectChainRecomputes(exported.slice(0, 3));
      expect(documentedHash(exported[3].previousHash, exported[3])).not.toBe(exported[3].hash);
    });
  });
});

describe('export', () => {
  const tenant = 'exporting';
  beforeAll(async () => {
    await decidedSession(tenant, 'xena', [{ error: { code: 'FaceWithMaskDetected', message: 'Mask.' } }, REAL_FACE]);
    await sleep(20);
    await decidedSession(tenant, 'xavier', [{ livenessDecision: 'spoofface' }]);
    await sleep(20);
    const token = userToken('xena', tenant);
    const { id } = await startSession(token);
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
  });

  it('streams the whole chain as NDJSON in chain order, and the recomputed chain matches the stored one', async () => {
    const auditor = auditorToken(tenant);
    const response = await exportChain(auditor);
    expect(response.status).toBe(200);
    expect(response.contentType).toBe('application/x-ndjson; charset=utf-8');
    expect(response.body.endsWith('\n')).toBe(true);
    const events = parseNdjson(response.body);
    expect(events).toHaveLength(5 + 4 + 3);
    // Every event names a user, so every one is "audit-v3", with its commitments and its user's salt.
    for (const event of events) expect(Object.keys(event)).toEqual([...EXPORT_FIELDS_V3]);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(events[0].previousHash).toBe(ZERO_HASH);
    expectChainRecomputes(events);

    // The same events as the GraphQL history, field for field.
    const listed = (await history(auditor)).reverse();
    expect(
      events.map(
        ({
          userId: _userId,
          reason: _reason,
          verifyImageSha256: _sent,
          faceVerifyImageHash: _face,
          actorCommitment: _a,
          userIdCommitment: _u,
          verifyImageSha256Commitment: _s,
          faceVerifyImageHashCommitment: _f,
          salt: _salt,
          ...event
        }) => event,
      ),
    ).toEqual(
      listed.map(({ session: _session, ...event }) => ({ ...event, at: new Date(event.at).toISOString() })),
    );
    expect(await verify(auditor)).toMatchObject({ valid: true, checked: events.length });
    expect(events.filter((event) => event.action === 'ATTEMPT_RECORDED').map((event) => event.digest !== null)).toEqual([false, true, true]);
  });

  it('the curl and verification commands of docs/audit.md run as written', async () => {
    const [script] = docsBlocks('Recomputing the chain offline', 'js');
    const [commands] = docsBlocks("Exporting a tenant's chain", 'sh');
    const full = parseNdjson((await exportChain(auditorToken(tenant))).body);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-docs-'));
    try {
      fs.writeFileSync(path.join(dir, 'verify-audit-export.mjs'), script);
      const run = await bash(commands, dir, { GATEWAY_URL: gateway.url, TOKEN: auditorToken(tenant), FROM: full[5].at });
      expect(run.code, run.output).toBe(0);
      const since = parseNdjson(fs.readFileSync(path.join(dir, 'audit-since.ndjson'), 'utf8'));
      expect(since[0].sequence).toBe(6);
      expect(run.output.trim().split('\n')).toEqual([
        `ok 12 events, last sequence 12, last hash ${full[11].hash}`,
        `starts at sequence 6, after hash ${full[4].hash}`,
        `ok 7 events, last sequence 12, last hash ${full[11].hash}`,
      ]);

      // The same script on an edited export names the edited event.
      const edited = full.map((event) => (event.sequence === 7 ? { ...event, actor: 'mallory' } : event));
      fs.writeFileSync(path.join(dir, 'edited.ndjson'), edited.map((event) => JSON.stringify(event)).join('\n') + '\n');
      const check = await bash('node verify-audit-export.mjs < edited.ndjson', dir, {});
      expect(check.code).toBe(1);
      // The actor of event 7 is the user: its hash covers the commitment, and the salt exported with it shows the edit.
      expect(check.output.trim()).toBe('broken at sequence 7: actor does not match its commitment');

      // A field the hash covers in clear breaks the hash itself.
      const reworded = full.map((event) => (event.sequence === 8 ? { ...event, action: 'SESSION_DELETED' } : event));
      fs.writeFileSync(path.join(dir, 'reworded.ndjson'), reworded.map((event) => JSON.stringify(event)).join('\n') + '\n');
      const recheck = await bash('node verify-audit-export.mjs < reworded.ndjson', dir, {});
      expect(recheck.code).toBe(1);
      expect(recheck.output.trim()).toBe('broken at sequence 8: hash does not match the event');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a window exports a contiguous stretch whose first previousHash is the hash of the event before it", async () => {
    const auditor = auditorToken(tenant);
    const full = parseNdjson((await exportChain(auditor)).body);
    const from = full[4].at;
    const to = full[9].at;
    const expectedFirst = full.find((event) => event.at >= from)!.sequence;
    const expectedLast = full.filter((event) => event.at < to).at(-1)!.sequence;
    const response = await exportChain(auditor, { from, to });
    expect(response.status).toBe(200);
    const slice = parseNdjson(response.body);
    expect(slice.map((event) => event.sequence)).toEqual(full.filter((event) => event.sequence >= expectedFirst && event.sequence <= expectedLast).map((e) => e.sequence));
    expect(slice.length).toBeGreaterThan(1);
    expect(slice[0].sequence).toBeGreaterThan(1);
    expect(slice[0].previousHash).toBe(full[slice[0].sequence - 2].hash);
    expectChainRecomputes(slice, slice[0].previousHash);
    expect(slice).toEqual(full.slice(slice[0].sequence - 1, slice.at(-1)!.sequence));

    // An offset other than Z is the same instant; a window after the last event is empty.
    const shifted = new Date(from).toISOString().replace('Z', '+00:00');
    expect(parseNdjson((await exportChain(auditor, { from: shifted, to })).body)).toEqual(slice);
    const later = new Date(new Date(full.at(-1)!.at).getTime() + 1).toISOString();
    expect(await exportChain(auditor, { from: later })).toMatchObject({ status: 200, body: '' });
  });

  it('a window cutting through events committed out of time order still exports a contiguous stretch that verifies', async () => {
    const other = 'out-of-order';
    const ada = userToken('ada', other);
    const first = await startSession(ada);
    expect((await gateway.device('LIVENESS', first.authToken, REAL_FACE)).status).toBe(200);
    // Face answers this poll slowly: it starts now, and commits after the next session has started.
    await gateway.fault({ status: 200, latencyMs: 400, method: 'GET', count: 1 });
    await gateway.ok(CompleteLivenessSessionDocument, { id: first.id }, ada);
    await sleep(100);
    const second = await startSession(userToken('bo', other));
    await decisionOf(ada, first.id);

    const auditor = auditorToken(other);
    const full = parseNdjson((await exportChain(auditor)).body);
    expect(full.map((event) => [event.sequence, event.sessionId, event.action])).toEqual([
      [1, first.id, 'SESSION_STARTED'],
      [2, first.id, 'COMPLETION_REPORTED'],
      [3, second.id, 'SESSION_STARTED'],
      [4, first.id, 'ATTEMPT_RECORDED'],
      [5, first.id, 'DECISION_REACHED'],
    ]);
    // The poll's time is before the second session's start, although it was committed after it.
    expect(full[3].at < full[2].at).toBe(true);

    // From the second session's start: sequences 3 to 5, not a stretch with a hole.
    const since = parseNdjson((await exportChain(auditor, { from: full[2].at })).body);
    expect(since.map((event) => event.sequence)).toEqual([3, 4, 5]);
    expectChainRecomputes(since, full[1].hash);
    // Until the second session's start: sequences 1 to 5 (the poll's events are dated before it), not 1, 2, 4, 5.
    const until = parseNdjson((await exportChain(auditor, { to: full[2].at })).body);
    expect(until.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
    expectChainRecomputes(until);
  });

  it('is refused without a valid token, to users, and to an auditor of another tenant; an admin exports any tenant, its own by default', async () => {
    const unauthenticated = await exportChain(undefined);
    expect(unauthenticated.status).toBe(401);
    expect(JSON.parse(unauthenticated.body)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });
    const forged = jwt.sign({ roles: ['auditor'], tenant }, 'not-the-gateway-secret-but-long-enough', { algorithm: 'HS256', subject: 'eve', expiresIn: 600 });
    expect((await exportChain(forged)).status).toBe(401);
    expect((await exportChain('not-a-jwt')).status).toBe(401);
    expect((await exportChain(gateway.token({ roles: ['auditor'], tenant }, { expiresIn: -60 }))).status).toBe(401);

    const user = await exportChain(userToken('xena', tenant));
    expect(user.status).toBe(403);
    expect(JSON.parse(user.body).errors[0].extensions.code).toBe('FORBIDDEN');

    const otherAuditor = auditorToken('acme');
    expect((await exportChain(otherAuditor, { tenant })).status).toBe(403);
    const own = await exportChain(otherAuditor, { tenant: 'acme' });
    expect(own.status).toBe(200);
    expect(new Set(parseNdjson(own.body).map((event) => event.tenant))).toEqual(new Set(['acme']));

    const admin = adminToken();
    const adminExport = await exportChain(admin, { tenant });
    expect(adminExport.status).toBe(200);
    expect(adminExport.body).toBe((await exportChain(auditorToken(tenant))).body);
    expect(await exportChain(admin)).toMatchObject({ status: 200, body: '' }); // the admin's own tenant has no events
  });

  it('refuses bad parameters and methods with 400 and 405', async () => {
    const auditor = auditorToken(tenant);
    const queries: Record<string, string>[] = [
      { from: 'yesterday' },
      { to: '2026-13-01T00:00:00Z' },
      { from: '2026-11-23' },
      { from: '2026-11-23T10:00:00Z', to: '2026-11-23T09:00:00Z' },
      { from: '2026-11-23T10:00:00Z', to: '2026-11-23T10:00:00Z' },
      { tenant: '' },
    ];
    for (const query of queries) {
      const response = await exportChain(auditor, query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(JSON.parse(response.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    expect((await exportChain(auditor, {}, 'POST')).status).toBe(405);
  });
});

describe('no duplicate events after a restart mid-poll', () => {
  // The embedded emulator forgets its sessions when the gateway stops; a standalone one outlives it.
  let emulator: FaceEmulator;
  let emulatorUrl: string;
  let restarting: TestGateway;
  beforeAll(async () => {
    emulator = createFaceEmulator();
    emulatorUrl = await emulator.listen(0);
    restarting = await TestGateway.start({ env: { FACE_ENDPOINT: emulatorUrl, FACE_APIKEY: 'any-key' } });
  });
  afterAll(async () => {
    await restarting?.stop();
    await emulator?.close();
  });

  const device = (authToken: string, outcome: DeviceOutcome) =>
    fetch(`${emulatorUrl}/face/v1.2/detectLiveness/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(outcome),
    });
  const faults = async (on: boolean) => {
    const response = await fetch(`${emulatorUrl}/_faults`, {
      method: on ? 'POST' : 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: on ? JSON.stringify({ status: 503, code: 'ServiceUnavailable', count: 100_000, method: 'GET' }) : undefined,
    });
    expect(response.ok).toBe(true);
  };
  const failedPolls = (gw: TestGateway, sessionId: string) =>
    gw.logEntries().filter((entry) => entry.msg === 'poll of the Face session failed; will retry' && entry.sessionId === sessionId).length;
  const actionsOf = async (gw: TestGateway, id: string) => {
    const result = await gw.ok(SessionAuditTrailDocument, { id, first: 100 }, gw.token({ sub: 'auditor', roles: ['auditor'], tenant: 'restart' }));
    return result.session!.auditTrail.edges.map((edge) => edge.node).reverse();
  };

  it('a gateway restarted while its poll fails records each attempt and the decision exactly once', async () => {
    const token = restarting.token({ sub: 'rita', tenant: 'restart' });
    const started = (await restarting.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    const id = started.session.id;
    expect((await device(started.authToken, { error: { code: 'FaceNotFound', message: 'No face.' } })).status).toBe(200);
    await restarting.ok(CompleteLivenessSessionDocument, { id }, token);
    // The first attempt is recorded before the crash…
    await eventually(async () => ((await actionsOf(restarting, id)).some((event) => event.action === 'ATTEMPT_RECORDED') ? true : undefined));

    // …then Face stops answering GETs, the device finishes, and the gateway stops mid-poll.
    await faults(true);
    const failedBefore = failedPolls(restarting, id);
    await eventually(() => (failedPolls(restarting, id) > failedBefore ? true : undefined));
    expect((await device(started.authToken, REAL_FACE)).status).toBe(200);
    await restarting.restart();

    // The restarted gateway resumes polling on its own (still failing), then Face recovers.
    const logsBefore = restarting.logs.length;
    await eventually(() => (restarting.logs.slice(logsBefore).some((line) => line.includes('poll of the Face session failed')) ? true : undefined));
    await faults(false);
    const decision = await eventually(async () => (await restarting.ok(SessionDocument, { id }, token)).session?.decision ?? undefined);
    expect(decision).toMatchObject({ verdict: 'PASS', attemptId: 2 });

    // Give any straggling poll time to (wrongly) write again, then read the trail.
    await sleep(300);
    const trail = await actionsOf(restarting, id);
    expect(trail.map(({ action, attemptId, verdict }) => ({ action, attemptId, verdict }))).toEqual([
      { action: 'SESSION_STARTED', attemptId: null, verdict: null },
      { action: 'COMPLETION_REPORTED', attemptId: null, verdict: null },
      { action: 'ATTEMPT_RECORDED', attemptId: 1, verdict: null },
      { action: 'ATTEMPT_RECORDED', attemptId: 2, verdict: null },
      { action: 'DECISION_REACHED', attemptId: 2, verdict: 'PASS' },
    ]);
    const auditor = restarting.token({ sub: 'auditor', roles: ['auditor'], tenant: 'restart' });
    expect((await restarting.ok(VerifyAuditChainDocument, {}, auditor)).verifyAuditChain).toMatchObject({ valid: true, checked: 5 });
  });

  it('of two gateways sharing a session, as an old and a new process would, one polls it and its attempts and decision are recorded once', async () => {
    const token = restarting.token({ sub: 'rob', tenant: 'restart' });
    const started = (await restarting.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    const id = started.session.id;
    await faults(true);
    await restarting.ok(CompleteLivenessSessionDocument, { id }, token);
    expect((await device(started.authToken, { error: { code: 'FaceNotFound', message: 'No face.' } })).status).toBe(200);
    expect((await device(started.authToken, REAL_FACE)).status).toBe(200);

    // A second gateway on the same SQLite file finds the session awaiting its result, but the first
    // holds the session's poll lease: only one of them asks Face, and the trail is written once.
    const second = await TestGateway.start({
      dataDir: restarting.dataDir,
      env: { JWT_SECRET: restarting.jwtSecret, FACE_ENDPOINT: emulatorUrl, FACE_APIKEY: 'any-key' },
    });
    try {
      await eventually(() => (failedPolls(restarting, id) > 2 ? true : undefined));
      await sleep(300);
      expect(failedPolls(second, id)).toBe(0);
      await faults(false);
      await eventually(async () => (await restarting.ok(SessionDocument, { id }, token)).session?.decision ?? undefined);
      await sleep(300);
      const trail = await actionsOf(second, id);
      expect(trail.map(({ action, attemptId }) => [action, attemptId])).toEqual([
        ['SESSION_STARTED', null],
        ['COMPLETION_REPORTED', null],
        ['ATTEMPT_RECORDED', 1],
        ['ATTEMPT_RECORDED', 2],
        ['DECISION_REACHED', 2],
      ]);
    } finally {
      await second.stopGateway();
    }
    const auditor = restarting.token({ sub: 'auditor', roles: ['auditor'], tenant: 'restart' });
    expect((await restarting.ok(VerifyAuditChainDocument, {}, auditor)).verifyAuditChain).toMatchObject({ valid: true, checked: 10 });
  });
});

/** Runs a shell script as the docs show it (bash, errexit, pipefail); stdout and stderr together. */
function bash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
