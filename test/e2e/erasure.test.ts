/**
 * Erasing a user's personal data end to end: the real gateway on port 0 (a SQLite file, and
 * PostgreSQL when DATABASE_URL names a server), a user with a liveness and a liveness-with-verify
 * session whose session images are kept as evidence, and an admin's `eraseUserData` over GraphQL
 * with real JWTs. Afterwards the user's id, derived device correlation id, image hashes and sealed
 * images are in no stored row (on SQLite: nowhere in the file's bytes), and the tenant's chain still
 * verifies: over GraphQL, against a checkpoint kept before, and offline with `npm run verify-export`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditEventsDocument,
  CheckAuditChainDocument,
  CompleteLivenessSessionDocument,
  CreateEvidenceImageLinkDocument,
  EraseUserDataDocument,
  SessionDecisionDocument,
  SessionEvidenceDocument,
  SessionIntegrityDocument,
  SessionsDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  UserDataErasuresDocument,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { parseNdjson } from '../helpers/audit';
import { type TestDatabase, STORES } from '../helpers/services';
import { behindTheBack as runBehindTheBack } from '../helpers/raw-sql';
import { bash } from '../helpers/shell';

const unique = (name: string) => `${name}-${randomBytes(6).toString('hex')}`;
const codeOf = (result: { errors?: { extensions?: Record<string, unknown> }[] }) => result.errors?.[0]?.extensions?.code;

describe.each(STORES)('erasing a user on $store', ({ available, database }) => {
  let gateway: TestGateway;
  let testDatabase: TestDatabase | undefined;
  const tenant = unique('erasure');
  const userId = unique('erin');
  const otherUserId = unique('otto');
  const admin = () => gateway.token({ sub: 'erasure-admin', roles: ['admin'], tenant });
  const auditor = (of = tenant) => gateway.token({ sub: 'erasure-auditor', roles: ['auditor'], tenant: of });
  const user = (sub: string, of = tenant) => gateway.token({ sub, roles: ['user'], tenant: of });

  /** Every stored row of every table, as text (PostgreSQL), or the SQLite file and its WAL, as bytes. */
  async function storedBytes(): Promise<Buffer> {
    if (!testDatabase) {
      const file = path.join(gateway.dataDir, 'gateway.sqlite');
      return Buffer.concat([file, `${file}-wal`].filter((name) => fs.existsSync(name)).map((name) => fs.readFileSync(name)));
    }
    const client = new pg.Client({ connectionString: testDatabase.url });
    await client.connect();
    try {
      const tables = (await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map((row) => row.tablename);
      const rows: string[] = [];
      for (const table of tables) rows.push(...(await client.query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`)).rows.map((row) => row.row));
      return Buffer.from(rows.join('\n'));
    } finally {
      await client.end();
    }
  }

  /** Runs SQL against the store behind the gateway's back (`test/helpers/raw-sql.ts`). */
  const behindTheBack = <T>(sql: string, params: unknown[]) => runBehindTheBack<T>({ dataDir: gateway.dataDir, databaseUrl: testDatabase?.url }, sql, params);

  /** A decided session of `sub`, with its session image kept as evidence. */
  async function decidedWithEvidence(sub: string, of = tenant, verify = false): Promise<string> {
    const token = user(sub, of);
    const started = verify
      ? (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1, enableSessionImage: true } }, token)).startLivenessWithVerifySession
      : (await gateway.ok(StartLivenessSessionDocument, { input: { enableSessionImage: true } }, token)).startLivenessSession;
    const id = started.session.id;
    const decided = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
    const outcome = verify ? { livenessDecision: 'realface' as const, isIdentical: true, matchConfidence: 0.9 } : { livenessDecision: 'realface' as const };
    expect((await gateway.device(verify ? 'LIVENESS_WITH_VERIFY' : 'LIVENESS', started.authToken, outcome)).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    await decided.done;
    await eventually(async () => ((await gateway.ok(SessionEvidenceDocument, { id }, admin())).session?.evidence?.images.length === 1 ? true : undefined));
    return id;
  }

  async function verifyChain(of = tenant) {
    return (await gateway.ok(CheckAuditChainDocument, { tenant: of }, auditor(of))).verifyAuditChain;
  }

  let sessionIds: string[];
  let personal: { what: string; value: string }[];
  let keptCheckpoint: { sequence: number; hash: string };

  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}), GLOBAL_ADMIN_TENANT: 'ops' } });
    sessionIds = [await decidedWithEvidence(userId), await decidedWithEvidence(userId, tenant, true)];
    await decidedWithEvidence(otherUserId);

    const verifySession = (await gateway.ok(SessionIntegrityDocument, { id: sessionIds[1] }, admin())).session!;
    const sealed = await behindTheBack<{ sealed: string }>('SELECT sealed FROM evidence_images WHERE user_id = $1', [userId]);
    expect(sealed).toHaveLength(2);
    personal = [
      { what: 'the user id', value: userId },
      { what: 'the derived device correlation id', value: verifySession.deviceCorrelationId! },
      { what: "the gateway's hash of the verify image", value: verifySession.verifyReference!.verifyImageSha256! },
      { what: "Face's hash of the verify image", value: verifySession.verifyReference!.faceVerifyImageHash! },
      ...sealed.map(({ sealed: text }, i) => ({ what: `sealed session image ${i + 1}`, value: text.split('.')[2].slice(0, 48) })),
    ];
    const before = await storedBytes();
    for (const { what, value } of personal) expect(before.includes(Buffer.from(value)), `${what} is stored before the erasure`).toBe(true);
    const { sequence, hash } = (await verifyChain()).latestCheckpoint!;
    keptCheckpoint = { sequence, hash };
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('a user, an auditor, and an admin of another tenant may not erase: FORBIDDEN', async () => {
    for (const token of [user(userId), auditor(), gateway.token({ sub: 'someone-else', roles: ['admin'], tenant: 'elsewhere' })]) {
      expect(codeOf(await gateway.graphql(EraseUserDataDocument, { tenant, userId }, token))).toBe('FORBIDDEN');
    }
    expect(codeOf(await gateway.graphql(EraseUserDataDocument, { tenant, userId: '' }, admin()))).toBe('BAD_USER_INPUT');
    expect((await gateway.ok(SessionsDocument, { filter: { tenant, userId } }, admin())).sessions.totalCount).toBe(2);
  });

  it.skipIf(!available)("an admin's erasure removes the user's personal data from every stored row, and the chain still verifies", async () => {
    const link = (await gateway.ok(CreateEvidenceImageLinkDocument, { sessionId: sessionIds[0], attemptId: 1 }, auditor())).createEvidenceImageLink;
    const feed = gateway.subscribe(gateway.wsClient(auditor()), AuditEventsDocument, { afterSequence: (await verifyChain()).checked });
    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant, userId }, admin())).eraseUserData;
    expect(erasure).toMatchObject({ tenant, sessions: 2, evidenceDeleted: 2, eventsKept: 0 });
    expect(erasure.pseudonym).toMatch(/^erased:[0-9a-f]{12}$/);
    // Per session: started, completion, attempt, decision, evidence stored; the verify session's are all the user's too.
    expect(erasure.eventsRewritten).toBe(10);

    const after = await storedBytes();
    for (const { what, value } of personal) expect(after.includes(Buffer.from(value)), `${what} is still stored`).toBe(false);
    expect(after.includes(Buffer.from(otherUserId)), "the other user's id stays").toBe(true);

    expect(await verifyChain()).toMatchObject({ valid: true, reason: null });
    const withKept = (await gateway.ok(CheckAuditChainDocument, { tenant, checkpoint: keptCheckpoint }, auditor())).verifyAuditChain;
    expect(withKept).toMatchObject({ valid: true, reason: null });

    // The sessions are the pseudonym's now, without correlation id, hashes or images.
    expect((await gateway.ok(SessionsDocument, { filter: { tenant, userId } }, admin())).sessions.totalCount).toBe(0);
    expect((await gateway.ok(SessionsDocument, { filter: { tenant, userId: erasure.pseudonym } }, admin())).sessions.totalCount).toBe(2);
    const verifySession = (await gateway.ok(SessionIntegrityDocument, { id: sessionIds[1] }, admin())).session!;
    expect(verifySession.deviceCorrelationId).toBe('');
    expect(verifySession.verifyReference).toEqual({ verifyImageSha256: null, faceVerifyImageHash: null });
    expect(verifySession.attempts.map((attempt) => attempt.verifyImageHash)).toEqual([null]);
    for (const event of verifySession.auditTrail.edges.map((edge) => edge.node)) {
      expect(event.actor === 'system' || event.actor === erasure.pseudonym, event.action).toBe(true);
      expect([event.verifyImageSha256, event.faceVerifyImageHash]).toEqual([null, null]);
    }
    const evidence = (await gateway.ok(SessionEvidenceDocument, { id: sessionIds[0] }, admin())).session!;
    expect(evidence.evidence!.images).toEqual([]);
    expect(evidence.attempts.map((attempt) => attempt.sessionImageId)).toEqual([null]);
    expect((await fetch(new URL(link.url, gateway.url))).status).toBe(404);

    // The erasure is an event of the chain, by the admin, naming the pseudonym, with its counts.
    const recorded = (await gateway.ok(UserDataErasuresDocument, { tenant }, auditor())).auditHistory;
    expect(recorded.totalCount).toBe(1);
    expect(recorded.edges[0].node).toMatchObject({ action: 'USER_DATA_ERASED', actor: 'erasure-admin', tenant, sessionId: '' });
    expect(JSON.parse(recorded.edges[0].node.erasure!)).toEqual({ erased: { sessions: 2, evidenceDeleted: 2, eventsRewritten: 10, eventsKept: 0 } });
    expect((await gateway.ok(UserDataErasuresDocument, { tenant, userId: erasure.pseudonym }, auditor())).auditHistory.totalCount).toBe(1);

    // The live feed delivers it like any other event.
    const fed = await eventually(() => feed.events.find((event) => event.data?.auditEvents.action === 'USER_DATA_ERASED'));
    feed.cancel();
    expect(fed.errors).toBeUndefined();
    expect(fed.data!.auditEvents).toMatchObject({ actor: 'erasure-admin', sequence: recorded.edges[0].node.sequence, hash: recorded.edges[0].node.hash });
  });

  it.skipIf(!available)('the export of the erased chain verifies offline with npm run verify-export', async () => {
    fs.mkdirSync(path.join(__dirname, '../../node_modules/.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(__dirname, '../../node_modules/.cache/liveness-gateway-erasure-'));
    try {
      const exported = await fetch(new URL(`/audit/export?tenant=${tenant}`, gateway.url), { headers: { authorization: `Bearer ${auditor()}` } });
      expect(exported.status).toBe(200);
      const body = await exported.text();
      expect(body.includes(userId)).toBe(false);
      const events = parseNdjson(body) as (ReturnType<typeof parseNdjson>[number] & { userIdCommitment?: string; salt?: string | null })[];
      const erased = events.filter((event) => event.userId.startsWith('erased:') && event.userIdCommitment !== undefined);
      expect(erased).toHaveLength(10);
      for (const event of erased) expect(event.salt).toBeNull();
      expect(events.filter((event) => event.userId === otherUserId).every((event) => typeof event.salt === 'string')).toBe(true);
      fs.writeFileSync(path.join(dir, 'audit.ndjson'), body);
      fs.writeFileSync(path.join(dir, 'key.pem'), await (await fetch(new URL('/audit/checkpoint-key', gateway.url))).text());
      const run = await bash('npm run --silent verify-export -- --key key.pem audit.ndjson', dir);
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(new RegExp(`^valid: events 1\\.\\.${events.length} of tenant ${tenant} chain`, 'm'));

      // An erased event whose clear user id is set back is caught offline too.
      const undone = events.map((event) => (event === erased[0] ? { ...event, userId } : event));
      fs.writeFileSync(path.join(dir, 'audit.ndjson'), undone.map((event) => JSON.stringify(event)).join('\n') + '\n' + body.split('\n').filter((line) => line.includes('"kind"')).join('\n') + '\n');
      const rerun = await bash('npm run --silent verify-export -- --key key.pem audit.ndjson', dir);
      expect(rerun.code, rerun.output).toBe(1);
      expect(rerun.output).toContain(`INVALID: event ${erased[0].sequence}: its userId is neither`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.skipIf(!available)('erasing the same user again, or a user never seen, changes nothing but is recorded with zero counts', async () => {
    const events = async () => (await gateway.ok(UserDataErasuresDocument, { tenant }, auditor())).auditHistory.totalCount;
    const before = await events();
    for (const who of [userId, unique('nobody')]) {
      const again = (await gateway.ok(EraseUserDataDocument, { tenant, userId: who }, admin())).eraseUserData;
      expect(again).toMatchObject({ sessions: 0, evidenceDeleted: 0, eventsRewritten: 0, eventsKept: 0 });
    }
    expect(await events()).toBe(before + 2);
    expect(await verifyChain()).toMatchObject({ valid: true, reason: null });
    expect((await gateway.ok(SessionsDocument, { filter: { tenant, userId: otherUserId } }, admin())).sessions.totalCount).toBe(1);
  });

  it.skipIf(!available)('an event written before audit-v3 is kept as it is and counted in eventsKept', async () => {
    // A chain written by an earlier gateway: one v1 event naming the user, without commitments (its
    // head is not sealed by this gateway's key, so this tenant's chain is not the point here).
    const legacy = unique('legacy');
    const legacyUser = unique('lena');
    await behindTheBack(
      "INSERT INTO audit_events (id, tenant, sequence, at, action, actor, session_id, user_id, previous_hash, hash) VALUES ($1, $2, 1, $3, 'SESSION_STARTED', $4, 'before-v3', $5, $6, $7)",
      [randomBytes(16).toString('hex'), legacy, Date.now(), legacyUser, legacyUser, '0'.repeat(64), 'ab'.repeat(32)],
    );
    await behindTheBack('INSERT INTO audit_heads (tenant, sequence, hash, mac) VALUES ($1, 1, $2, NULL)', [legacy, 'ab'.repeat(32)]);
    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant: legacy, userId: legacyUser }, gateway.token({ sub: 'legacy-admin', roles: ['admin'], tenant: legacy })))
      .eraseUserData;
    expect(erasure).toMatchObject({ sessions: 0, evidenceDeleted: 0, eventsRewritten: 0, eventsKept: 1 });
    const kept = await behindTheBack<{ user_id: string; actor: string }>('SELECT user_id, actor FROM audit_events WHERE tenant = $1 AND sequence = 1', [legacy]);
    expect(kept).toEqual([{ user_id: legacyUser, actor: legacyUser }]);
  });

  it.skipIf(!available)('a clear value edited in the store before the erasure is still reported by verifyAuditChain after it', async () => {
    const edited = unique('edited');
    const victim = unique('victim');
    await decidedWithEvidence(victim, edited);
    const [started] = await behindTheBack<{ sequence: number }>("SELECT sequence FROM audit_events WHERE tenant = $1 AND action = 'SESSION_STARTED'", [edited]);
    await behindTheBack("UPDATE audit_events SET actor = 'mallory' WHERE tenant = $1 AND sequence = $2", [edited, started.sequence]);
    const before = await verifyChain(edited);
    expect(before).toMatchObject({ valid: false, firstBrokenSequence: started.sequence });
    expect(before.reason).toContain('actor does not match its commitment');

    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant: edited, userId: victim }, gateway.token({ sub: 'edited-admin', roles: ['admin'], tenant: edited }))).eraseUserData;
    expect(erasure.sessions).toBe(1);
    const after = await verifyChain(edited);
    expect(after).toMatchObject({ valid: false, firstBrokenSequence: started.sequence });
    expect(after.reason).toContain('actor is neither');
    // The untouched tenant beside it still verifies.
    expect(await verifyChain()).toMatchObject({ valid: true });
  });

  it.skipIf(!available)("an admin of the global-admin tenant may erase in any tenant, an auditor there may not", async () => {
    const elsewhere = unique('elsewhere');
    const someone = unique('sam');
    await decidedWithEvidence(someone, elsewhere);
    expect(codeOf(await gateway.graphql(EraseUserDataDocument, { tenant: elsewhere, userId: someone }, gateway.token({ sub: 'ops-auditor', roles: ['auditor'], tenant: 'ops' })))).toBe(
      'FORBIDDEN',
    );
    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant: elsewhere, userId: someone }, gateway.token({ sub: 'ops-admin', roles: ['admin'], tenant: 'ops' }))).eraseUserData;
    expect(erasure).toMatchObject({ tenant: elsewhere, sessions: 1, evidenceDeleted: 1, eventsRewritten: 5, eventsKept: 0 });
    expect(await verifyChain(elsewhere)).toMatchObject({ valid: true, reason: null });
  });

  it.skipIf(!available)('a session still in progress is ended first: its device is refused at Face, and nothing more is recorded about it', async () => {
    const live = unique('lia');
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1, enableSessionImage: true } }, user(live))).startLivenessWithVerifySession;
    const id = started.session.id;
    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant, userId: live }, admin())).eraseUserData;
    expect(erasure.sessions).toBe(1);
    const ended = (await gateway.ok(SessionIntegrityDocument, { id }, admin())).session!;
    expect(ended.decision).toMatchObject({ verdict: 'EXPIRED' });
    expect(ended.attempts).toEqual([]);
    expect(ended.auditTrail.edges.map(({ node }) => [node.action, node.actor])).toContainEqual(['SESSION_DELETED', 'erasure-admin']);
    // The device token died with the session at Face: what the device does now reaches nobody.
    const outcome = { livenessDecision: 'realface' as const, isIdentical: true, matchConfidence: 0.9 };
    expect((await gateway.device('LIVENESS_WITH_VERIFY', started.authToken, outcome)).status).toBe(401);
    expect((await gateway.ok(SessionIntegrityDocument, { id }, admin())).session!.attempts).toEqual([]);
    expect(await verifyChain()).toMatchObject({ valid: true, reason: null });
  });

  it.skipIf(!available)("a token whose sub is an erased user's pseudonym is refused, so it reads none of the user's sessions", async () => {
    const gone = unique('gus');
    await decidedWithEvidence(gone);
    const { pseudonym } = (await gateway.ok(EraseUserDataDocument, { tenant, userId: gone }, admin())).eraseUserData;
    expect((await gateway.ok(SessionsDocument, { filter: { tenant, userId: pseudonym } }, admin())).sessions.totalCount).toBe(1);
    const posing = await gateway.graphql(SessionsDocument, {}, user(pseudonym));
    expect(codeOf(posing)).toBe('UNAUTHENTICATED');
    expect(posing.data?.sessions).toBeFalsy();
  });
});
