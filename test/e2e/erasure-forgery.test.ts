/**
 * An erasure forged behind the gateway's back is reported, online and offline: the real gateway on
 * port 0 (a SQLite file, and PostgreSQL when DATABASE_URL names a server), users with decided verify
 * sessions, and rows edited with raw SQL as someone with write access to the database would. A v3
 * event whose personal fields read as erased is valid only if a later USER_DATA_ERASED of the
 * tenant names its pseudonym (docs/audit.md, "Personal fields and erasure"); a genuine erasure, and a
 * chain with no erasure at all, still verify. Offline means `npm run verify-export` and the script of
 * docs/audit.md ("Recomputing the chain offline"), both on each export.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckAuditChainDocument,
  CompleteLivenessSessionDocument,
  EraseUserDataDocument,
  SessionDecisionDocument,
  StartLivenessWithVerifySessionDocument,
} from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { docsBlocks, parseNdjson, type ExportedEvent } from '../helpers/audit';
import { type TestDatabase, STORES } from '../helpers/services';
import { behindTheBack as runBehindTheBack } from '../helpers/raw-sql';
import { bash } from '../helpers/shell';

const unique = (name: string) => `${name}-${randomBytes(6).toString('hex')}`;
/** Lets the clock move on, so that events before and after a point in time differ in `at`. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

interface StoredEvent {
  sequence: number;
  action: string;
  actor_commitment: string | null;
  user_id_commitment: string;
}

describe.each(STORES)('a forged erasure on $store', ({ available, database }) => {
  let gateway: TestGateway;
  let testDatabase: TestDatabase | undefined;
  let dir: string;
  const auditor = (tenant: string) => gateway.token({ sub: 'forgery-auditor', roles: ['auditor'], tenant });

  /** Runs SQL against the store behind the gateway's back (`test/helpers/raw-sql.ts`). */
  const behindTheBack = <T>(sql: string, params: unknown[]) => runBehindTheBack<T>({ dataDir: gateway.dataDir, databaseUrl: testDatabase?.url }, sql, params);

  /** A decided verify session of `sub` in `tenant`: its events carry the user id, the user as actor and image hashes. */
  async function decidedVerifySession(sub: string, tenant: string): Promise<void> {
    const token = gateway.token({ sub, roles: ['user'], tenant });
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
    const id = started.session.id;
    const decided = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
    expect((await gateway.device('LIVENESS_WITH_VERIFY', started.authToken, { livenessDecision: 'realface', isIdentical: true, matchConfidence: 0.9 })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    await decided.done;
  }

  /** The v3 events of `userId` in `tenant`, in chain order. */
  function eventsOf(tenant: string, userId: string): Promise<StoredEvent[]> {
    return behindTheBack<StoredEvent>(
      'SELECT sequence, action, actor_commitment, user_id_commitment FROM audit_events WHERE tenant = $1 AND user_id = $2 AND user_id_commitment IS NOT NULL ORDER BY sequence',
      [tenant, userId],
    ).then((rows) => rows.map((row) => ({ ...row, sequence: Number(row.sequence) })));
  }

  /**
   * The reviewer's forgery: the event's user id (and actor, where it is the user) set to the pseudonym
   * an erasure would write, its image hashes nulled; the salt, and so the user, are left as they were.
   */
  async function pseudonymise(tenant: string, event: StoredEvent): Promise<string> {
    const pseudonym = `erased:${event.user_id_commitment.slice(0, 12)}`;
    const [set, params] =
      event.actor_commitment === null
        ? ['user_id = $1', [pseudonym]]
        : ['user_id = $1, actor = $2', [pseudonym, pseudonym]];
    const n = params.length;
    await behindTheBack(
      `UPDATE audit_events SET ${set}, verify_image_sha256 = NULL, face_verify_image_hash = NULL WHERE tenant = $${n + 1} AND sequence = $${n + 2}`,
      [...params, tenant, event.sequence],
    );
    return pseudonym;
  }

  async function verifyChain(tenant: string, checkpoint?: { sequence: number; hash: string }) {
    return (await gateway.ok(CheckAuditChainDocument, { tenant, ...(checkpoint && { checkpoint }) }, auditor(tenant))).verifyAuditChain;
  }

  async function exportOf(tenant: string, query = ''): Promise<string> {
    const response = await fetch(new URL(`/audit/export?tenant=${tenant}${query}`, gateway.url), { headers: { authorization: `Bearer ${auditor(tenant)}` } });
    expect(response.status).toBe(200);
    return response.text();
  }

  async function verifyExport(body: string): Promise<{ code: number | null; output: string }> {
    fs.writeFileSync(path.join(dir, 'audit.ndjson'), body);
    return bash('npm run --silent verify-export -- --key key.pem audit.ndjson', dir);
  }

  /** The same file through the script of docs/audit.md ("Recomputing the chain offline"). */
  function documentedScript(): Promise<{ code: number | null; output: string }> {
    return bash('node verify-audit-export.mjs < audit.ndjson', dir);
  }

  const plain = unique('plain');
  const forgedFirst = unique('forged-first');
  const forgedLast = unique('forged-last');
  const genuine = unique('genuine');
  const users = { plain: unique('pat'), forgedFirst: unique('fay'), forgedLast: unique('lou'), genuine: unique('gil'), bystander: unique('bea') };

  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    // A checkpoint at every append, so that an export of any window holds a signed one.
    gateway = await TestGateway.start({ env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}), AUDIT_CHECKPOINT_EVERY_EVENTS: '1' } });
    await decidedVerifySession(users.plain, plain);
    await decidedVerifySession(users.forgedFirst, forgedFirst);
    await decidedVerifySession(users.forgedLast, forgedLast);
    await decidedVerifySession(users.genuine, genuine);
    await decidedVerifySession(users.bystander, genuine);
    fs.mkdirSync(path.join(__dirname, '../../node_modules/.cache'), { recursive: true });
    dir = fs.mkdtempSync(path.join(__dirname, '../../node_modules/.cache/liveness-gateway-forgery-'));
    fs.writeFileSync(path.join(dir, 'key.pem'), await (await fetch(new URL('/audit/checkpoint-key', gateway.url))).text());
    fs.writeFileSync(path.join(dir, 'verify-audit-export.mjs'), docsBlocks('Recomputing the chain offline', 'js')[0]);
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!available)('a chain with no erasure at all verifies online and offline', async () => {
    expect(await verifyChain(plain)).toMatchObject({ valid: true, reason: null });
    const run = await verifyExport(await exportOf(plain));
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(new RegExp(`^valid: events 1\\.\\.\\d+ of tenant ${plain} chain`, 'm'));
    expect((await documentedScript()).output).toMatch(/^ok \d+ events/);
  }, 120_000);

  it.skipIf(!available)('an event pseudonymised in the store while its user keeps a salt is reported, online and in its export', async () => {
    // The first of the user's events: the user's later events still name the user in clear.
    const [started] = await eventsOf(forgedFirst, users.forgedFirst);
    expect(started.action).toBe('SESSION_STARTED');
    const pseudonym = await pseudonymise(forgedFirst, started);
    const report = await verifyChain(forgedFirst);
    expect(report).toMatchObject({ valid: false, firstBrokenSequence: started.sequence });
    expect(report.reason).toContain(`Event ${started.sequence}: it reads as erased (${pseudonym})`);

    const body = await exportOf(forgedFirst);
    expect(parseNdjson(body).find((event) => event.sequence === started.sequence)).toMatchObject({ userId: pseudonym, actor: pseudonym, verifyImageSha256: null, salt: null });
    const run = await verifyExport(body);
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(`INVALID: event ${started.sequence}: it reads as erased (${pseudonym})`);
    expect((await documentedScript()).output).toContain(`broken at sequence ${started.sequence}: reads as erased`);
  }, 120_000);

  it.skipIf(!available)("the user's last event pseudonymised, with no USER_DATA_ERASED naming it, is reported at that event", async () => {
    const events = await eventsOf(forgedLast, users.forgedLast);
    const last = events[events.length - 1];
    const pseudonym = await pseudonymise(forgedLast, last);
    const report = await verifyChain(forgedLast);
    expect(report).toMatchObject({ valid: false, firstBrokenSequence: last.sequence });
    expect(report.reason).toContain(`no later USER_DATA_ERASED event names ${pseudonym}`);

    const run = await verifyExport(await exportOf(forgedLast));
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(`INVALID: event ${last.sequence}: it reads as erased (${pseudonym}), but no later USER_DATA_ERASED event names ${pseudonym}`);
    expect((await documentedScript()).output).toContain(`broken at sequence ${last.sequence}: reads as erased, but no later USER_DATA_ERASED names ${pseudonym}`);
  }, 120_000);

  it.skipIf(!available)('an exported line pseudonymised, its salt removed, is reported by verify-export', async () => {
    const body = await exportOf(plain);
    const events = parseNdjson(body);
    const mine = events.filter((event) => event.userId === users.plain && event.userIdCommitment !== undefined);
    const forge = (event: ExportedEvent, pseudonym: string): ExportedEvent => ({
      ...event,
      userId: pseudonym,
      actor: event.actorCommitment === null ? event.actor : pseudonym,
      verifyImageSha256: null,
      faceVerifyImageHash: null,
      salt: null,
    });
    const checkpoints = body.split('\n').filter((line) => line.includes('"kind"'));
    const write = (forged: ExportedEvent) =>
      [...events.map((event) => JSON.stringify(event.sequence === forged.sequence ? forged : event)), ...checkpoints].join('\n') + '\n';

    for (const target of [mine[0], mine[mine.length - 1]]) {
      const pseudonym = `erased:${target.userIdCommitment!.slice(0, 12)}`;
      const run = await verifyExport(write(forge(target, pseudonym)));
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain(`INVALID: event ${target.sequence}: it reads as erased (${pseudonym})`);
      const documented = await documentedScript();
      expect(documented.code, documented.output).toBe(1);
      expect(documented.output).toMatch(new RegExp(`^broken at sequence ${target.sequence}: reads as erased`, 'm'));
    }
  }, 120_000);

  it.skipIf(!available)('a genuine erasure still verifies online, against a kept checkpoint, and offline whole or from a time on; an export cut before it does not', async () => {
    const kept = (await verifyChain(genuine)).latestCheckpoint!;
    await pause();
    const beforeErasure = new Date().toISOString();
    await pause();
    const admin = gateway.token({ sub: 'forgery-admin', roles: ['admin'], tenant: genuine });
    const erasure = (await gateway.ok(EraseUserDataDocument, { tenant: genuine, userId: users.genuine }, admin)).eraseUserData;
    expect(erasure.eventsRewritten).toBeGreaterThan(0);

    expect(await verifyChain(genuine)).toMatchObject({ valid: true, reason: null });
    expect(await verifyChain(genuine, { sequence: kept.sequence, hash: kept.hash })).toMatchObject({ valid: true, reason: null });

    const body = await exportOf(genuine);
    const erased = parseNdjson(body).filter((event) => event.userId === erasure.pseudonym);
    expect(erased.length).toBe(erasure.eventsRewritten + 1);
    expect(erased[erased.length - 1].action).toBe('USER_DATA_ERASED');
    const run = await verifyExport(body);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/^valid: events 1\.\./m);
    const documented = await documentedScript();
    expect(documented.code, documented.output).toBe(0);

    // A window from the erased user's last rewritten event on holds erased events and the erasure after them.
    const from = `&from=${encodeURIComponent(erased[erased.length - 2].at)}`;
    const since = await exportOf(genuine, from);
    expect(parseNdjson(since)[0].sequence).toBeGreaterThan(1);
    const sinceRun = await verifyExport(since);
    expect(sinceRun.code, sinceRun.output).toBe(0);
    expect((await documentedScript()).code).toBe(0);

    // A window cut before the erasure cannot show it: its erased events are vouched for by nothing in it.
    const cut = await exportOf(genuine, `${from}&to=${encodeURIComponent(beforeErasure)}`);
    expect(parseNdjson(cut).some((event) => event.action === 'USER_DATA_ERASED')).toBe(false);
    const cutRun = await verifyExport(cut);
    expect(cutRun.code, cutRun.output).toBe(1);
    expect(cutRun.output).toContain(`no later USER_DATA_ERASED event names ${erasure.pseudonym}`);
    expect((await documentedScript()).output).toContain(`no later USER_DATA_ERASED names ${erasure.pseudonym}`);
  }, 120_000);
});
