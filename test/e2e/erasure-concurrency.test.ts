/**
 * Erasures and verifications racing the writes they read, on the real gateway (a SQLite file, and
 * PostgreSQL when DATABASE_URL names a server). Erasures of one user racing each other and the
 * user's own starts: every request is answered (no deadlock between the erasure's locks and a
 * start's, no internal error), and what a racing start left under the user's id is removed by
 * erasing again, as docs/security.md says. `verifyAuditChain` while sessions start and users are
 * erased: every answer is valid (on PostgreSQL other requests commit between the walk's reads).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckAuditChainDocument, EraseUserDataDocument, SessionsDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';
import { type TestDatabase, STORES } from '../helpers/services';

const unique = (name: string) => `${name}-${randomBytes(6).toString('hex')}`;
const ROUNDS = 3;

describe.each(STORES)('erasures racing on $store', ({ available, database }) => {
  let gateway: TestGateway;
  let testDatabase: TestDatabase | undefined;
  const tenant = unique('racing');
  const admin = () => gateway.token({ sub: 'racing-admin', roles: ['admin'], tenant });

  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}) } });
  });

  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('verifyAuditChain while sessions start and users are erased: every verification answers valid', async () => {
    const busy = unique('busy');
    const auditorToken = gateway.token({ sub: 'busy-auditor', roles: ['auditor'], tenant: busy });
    const adminToken = gateway.token({ sub: 'busy-admin', roles: ['admin'], tenant: busy });
    let writing = true;
    const reports: { valid: boolean; reason?: string | null }[] = [];
    const verifying = (async () => {
      while (writing) reports.push((await gateway.ok(CheckAuditChainDocument, { tenant: busy }, auditorToken)).verifyAuditChain);
    })();
    for (let i = 0; i < 40; i += 1) {
      const token = gateway.token({ sub: `busy-user-${i % 5}`, roles: ['user'], tenant: busy });
      const starts = [0, 1].map(() => gateway.ok(StartLivenessSessionDocument, { input: {} }, token));
      await Promise.all(i % 7 === 6 ? [...starts, gateway.ok(EraseUserDataDocument, { tenant: busy, userId: `busy-user-${i % 5}` }, adminToken)] : starts);
    }
    writing = false;
    await verifying;
    expect(reports.length).toBeGreaterThan(5);
    expect(reports.filter((report) => !report.valid).map((report) => report.reason)).toEqual([]);
  });

  const sessionsOf = async (userId: string) => (await gateway.ok(SessionsDocument, { filter: { tenant, userId } }, admin())).sessions.totalCount;

  it.skipIf(!available)('two erasures of one user and the user\'s starts at once: all answered, the chain valid, and erasing again leaves nothing', async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const userId = unique('cora');
      const token = gateway.token({ sub: userId, roles: ['user'], tenant });
      const start = () => gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);
      // Sessions in progress, which each erasure ends before it erases.
      for (let i = 0; i < 3; i += 1) expect((await start()).errors).toBeUndefined();

      const erase = () => gateway.graphql(EraseUserDataDocument, { tenant, userId }, admin());
      const answers = await Promise.all([erase(), start(), erase(), start()]);
      for (const answer of answers) expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
      const erased = answers.filter((_, i) => i % 2 === 0).map((answer) => (answer.data as { eraseUserData: { sessions: number } }).eraseUserData.sessions);
      // Between them, the two erasures took every session started before them.
      expect(erased[0] + erased[1]).toBeGreaterThanOrEqual(3);
      expect((await gateway.ok(CheckAuditChainDocument, { tenant }, admin())).verifyAuditChain).toMatchObject({ valid: true, reason: null });

      // A start that raced the erasures is stored under the user's id; erasing again removes it.
      const left = await sessionsOf(userId);
      const again = (await gateway.ok(EraseUserDataDocument, { tenant, userId }, admin())).eraseUserData;
      expect(again.sessions).toBe(left);
      expect(await sessionsOf(userId)).toBe(0);
      expect((await gateway.ok(CheckAuditChainDocument, { tenant }, admin())).verifyAuditChain).toMatchObject({ valid: true, reason: null });
    }
  });
});
