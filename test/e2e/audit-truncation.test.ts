/**
 * Truncation of the audit chain, on SQLite and PostgreSQL: a real gateway, real JWTs, the emulator
 * over HTTP, and an attacker who writes the gateway's database directly (another connection to the
 * same SQLite file or PostgreSQL database) but holds none of its keys. Each case has a tenant of its
 * own. The offline check of an export runs the commands of docs/audit.md as written.
 */
import { spawn } from 'node:child_process';
import { verify as verifySignature } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditCheckpointKeyDocument,
  CheckAuditChainDocument,
  CompleteLivenessSessionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
} from '../../client/generated/graphql';
import { docsBlocks, parseCheckpoints, parseNdjson } from '../helpers/audit';
import { eventually, TestGateway } from '../helpers/gateway';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../helpers/services';

interface Attacker {
  /** Runs SQL on the gateway's database, as someone with write access to it would. */
  run(sql: string): Promise<void>;
  row(sql: string): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

const backends: { name: string; skip: boolean; open(): Promise<{ env: Record<string, string>; attacker: (dataDir: string) => Attacker; drop(): Promise<void> }> }[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      return {
        env: {},
        attacker: (dataDir) => {
          const db = new Database(path.join(dataDir, 'gateway.sqlite'));
          return {
            run: async (sql) => void db.exec(sql),
            row: async (sql) => db.prepare(sql).get() as Record<string, unknown> | undefined,
            close: async () => void db.close(),
          };
        },
        drop: async () => undefined,
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !postgresAdminUrl,
    async open() {
      const database: TestDatabase = await createTestDatabase();
      return {
        env: { DATABASE_URL: database.url },
        attacker: () => {
          const client = new pg.Client({ connectionString: database.url });
          const connected = client.connect();
          return {
            run: async (sql) => void (await connected, await client.query(sql)),
            row: async (sql) => (await connected, (await client.query(sql)).rows[0] as Record<string, unknown> | undefined),
            close: () => client.end(),
          };
        },
        drop: () => database.drop(),
      };
    },
  },
];

describe.each(backends.filter((backend) => !backend.skip || process.env.CI))('$name: a truncated audit chain', (backend) => {
  let gateway: TestGateway;
  let attacker: Attacker;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const opened = await backend.open();
    drop = opened.drop;
    // A checkpoint every 4 events: each decided session (4 events) ends on one.
    gateway = await TestGateway.start({ env: { ...opened.env, AUDIT_CHECKPOINT_EVERY_EVENTS: '4' } });
    attacker = opened.attacker(gateway.dataDir);
  });
  afterAll(async () => {
    await attacker?.close();
    await gateway?.stop();
    await drop?.();
  });

  const auditor = (tenant: string) => gateway.token({ sub: `auditor-of-${tenant}`, roles: ['auditor'], tenant });
  const check = async (tenant: string, checkpoint?: { sequence: number; hash: string }) =>
    (await gateway.ok(CheckAuditChainDocument, { tenant, checkpoint }, auditor(tenant))).verifyAuditChain;

  /** A user's session, played by the device, completed and decided: four events. */
  async function decidedSession(tenant: string) {
    const token = gateway.token({ sub: 'victim', roles: ['user'], tenant });
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    await eventually(async () => (await gateway.ok(SessionDocument, { id: started.session.id }, token)).session?.decision ?? undefined);
  }

  /** `sessions` more decided sessions (4 events each) in a tenant that had `before` events, checked valid before the attack. */
  async function chainOf(tenant: string, sessions: number, before = 0) {
    for (let i = 0; i < sessions; i++) await decidedSession(tenant);
    const report = await check(tenant);
    expect(report).toMatchObject({ valid: true, checked: before + sessions * 4, reason: null });
    return report;
  }

  const hashAt = async (tenant: string, sequence: number) =>
    (await attacker.row(`SELECT hash FROM audit_events WHERE tenant = '${tenant}' AND sequence = ${sequence}`))!.hash as string;

  it('an untouched chain is valid, and its latest checkpoint is signed by the published key', async () => {
    const report = await chainOf('intact', 2);
    const checkpoint = report.latestCheckpoint!;
    expect(checkpoint).toMatchObject({ tenant: 'intact', sequence: 8, hash: await hashAt('intact', 8) });
    const key = await (await fetch(new URL('/audit/checkpoint-key', gateway.url))).text();
    expect(key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await gateway.ok(AuditCheckpointKeyDocument, {}, auditor('intact'))).auditCheckpointKey).toBe(key);
    const signed = JSON.stringify(['audit-checkpoint-v1', checkpoint.tenant, checkpoint.sequence, checkpoint.hash, checkpoint.at]);
    expect(verifySignature(null, Buffer.from(signed), key, Buffer.from(checkpoint.signature, 'base64'))).toBe(true);
    expect(verifySignature(null, Buffer.from(signed.replace('"intact"', '"other"')), key, Buffer.from(checkpoint.signature, 'base64'))).toBe(false);
    // A checkpoint kept earlier that the chain still holds, asked as docs/audit.md shows.
    const [query] = docsBlocks('Checkpoints', 'graphql');
    type Answer = { verifyAuditChain: { valid: boolean; checked: number; reason: string | null } };
    const asDocumented = await gateway.graphql<Answer, Record<string, unknown>>(query, { checkpoint: { sequence: 4, hash: await hashAt('intact', 4) } }, auditor('intact'));
    expect(asDocumented).toMatchObject({ data: { verifyAuditChain: { valid: true, checked: 8, reason: null } } });
    const other = await gateway.graphql<Answer, Record<string, unknown>>(query, { checkpoint: { sequence: 4, hash: await hashAt('intact', 3) } }, auditor('intact'));
    expect(other.data?.verifyAuditChain).toMatchObject({ valid: false, reason: expect.stringMatching(/kept checkpoint records another hash at sequence 4/) });
  });

  it('deleting the newest events together with the head row (and the checkpoints past them) is reported', async () => {
    await chainOf('cut', 3);
    await attacker.run(`DELETE FROM audit_events WHERE tenant = 'cut' AND sequence > 5;
      DELETE FROM audit_checkpoints WHERE tenant = 'cut' AND sequence > 5; DELETE FROM audit_heads WHERE tenant = 'cut'`);
    expect((await gateway.ok(VerifyAuditChainDocument, { tenant: 'cut' }, auditor('cut'))).verifyAuditChain).toEqual({
      tenant: 'cut',
      valid: false,
      checked: 5,
      firstBrokenSequence: 6,
    });
    expect((await check('cut')).reason).toMatch(/5 events but no head row/);
  });

  it('deleting the newest events while leaving the checkpoints is reported by the latest checkpoint', async () => {
    await chainOf('cut-keeping-checkpoints', 2);
    await attacker.run(`DELETE FROM audit_events WHERE tenant = 'cut-keeping-checkpoints' AND sequence > 6; DELETE FROM audit_heads WHERE tenant = 'cut-keeping-checkpoints'`);
    expect(await check('cut-keeping-checkpoints')).toMatchObject({ valid: false, checked: 6, reason: expect.stringMatching(/checkpoint records sequence 8, but the chain ends at 6/) });
  });

  it('a head row rewritten to an older event is reported, and later appends never seal it again', async () => {
    await chainOf('moved-back', 2);
    const fifth = await hashAt('moved-back', 5);
    await attacker.run(`DELETE FROM audit_events WHERE tenant = 'moved-back' AND sequence > 5;
      DELETE FROM audit_checkpoints WHERE tenant = 'moved-back' AND sequence > 5;
      UPDATE audit_heads SET sequence = 5, hash = '${fifth}' WHERE tenant = 'moved-back'`);
    expect(await check('moved-back')).toMatchObject({ valid: false, checked: 5, reason: expect.stringMatching(/head row \(sequence 5\) does not carry a valid MAC/) });

    // The tenant keeps working; the gateway chains on, but does not vouch for the moved head.
    await decidedSession('moved-back');
    const after = await check('moved-back');
    expect(after).toMatchObject({ valid: false, checked: 9, reason: expect.stringMatching(/head row \(sequence 9\) does not carry a valid MAC/) });
    expect(after.latestCheckpoint!.sequence).toBeLessThanOrEqual(5);
  });

  it('all events and the head of a tenant deleted while it has sessions, or checkpoints, is reported', async () => {
    await chainOf('erased', 1);
    await attacker.run(`DELETE FROM audit_events WHERE tenant = 'erased'; DELETE FROM audit_heads WHERE tenant = 'erased'`);
    expect(await check('erased')).toMatchObject({ valid: false, checked: 0, firstBrokenSequence: 1, reason: expect.stringMatching(/checkpoint records sequence 4, but the chain ends at 0/) });
    await attacker.run(`DELETE FROM audit_checkpoints WHERE tenant = 'erased'`);
    expect(await check('erased')).toMatchObject({ valid: false, checked: 0, reason: expect.stringMatching(/has sessions but no events and no head/) });
    // A tenant that never had anything is still an empty, valid chain.
    expect(await check('never-used')).toMatchObject({ valid: true, checked: 0, reason: null });
  });

  it('a genuine older head put back is invisible in the database, but a checkpoint kept outside it catches it', async () => {
    await chainOf('rolled-back', 1);
    const oldHead = (await attacker.row(`SELECT sequence, hash, mac FROM audit_heads WHERE tenant = 'rolled-back'`))!;
    const kept = (await chainOf('rolled-back', 1, 4)).latestCheckpoint!;
    expect(kept.sequence).toBe(8);
    // The attacker kept the head row of earlier (a backup), and rolls the tenant back to it.
    await attacker.run(`DELETE FROM audit_events WHERE tenant = 'rolled-back' AND sequence > 4;
      DELETE FROM audit_checkpoints WHERE tenant = 'rolled-back' AND sequence > 4;
      UPDATE audit_heads SET sequence = ${Number(oldHead.sequence)}, hash = '${String(oldHead.hash)}', mac = '${String(oldHead.mac)}' WHERE tenant = 'rolled-back'`);
    expect(await check('rolled-back')).toMatchObject({ valid: true, checked: 4 });
    expect(await check('rolled-back', { sequence: kept.sequence, hash: kept.hash })).toMatchObject({
      valid: false,
      checked: 4,
      firstBrokenSequence: 5,
      reason: expect.stringMatching(/kept checkpoint records sequence 8, but the chain ends at 4/),
    });
  });

  it('a database from before head MACs is upgraded with its heads sealed as found, and its chains stay valid', async () => {
    await chainOf('upgraded', 1);
    await gateway.stopGateway();
    // The schema as migration 3 left it: no MAC column, no checkpoints, migration 4 not applied.
    await attacker.run(`ALTER TABLE audit_heads DROP COLUMN mac; DROP TABLE audit_checkpoints; DELETE FROM schema_migrations WHERE version = 4`);
    await gateway.startAgain();
    expect((await attacker.row(`SELECT mac FROM audit_heads WHERE tenant = 'upgraded'`))!.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await check('upgraded')).toMatchObject({ valid: true, checked: 4, reason: null, latestCheckpoint: null });
    await decidedSession('upgraded');
    // Its first append since gets a checkpoint (5), and crossing 8 another.
    expect(await check('upgraded')).toMatchObject({ valid: true, checked: 8, reason: null, latestCheckpoint: { sequence: 8 } });
  });

  it('a kept checkpoint that is not a sequence and a hex hash is BAD_USER_INPUT', async () => {
    const result = await gateway.graphql(CheckAuditChainDocument, { tenant: 'intact', checkpoint: { sequence: 0, hash: 'nope' } }, auditor('intact'));
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  // Offline, the store does not matter: once, on SQLite.
  if (backend.name === 'SQLite') it('the checkpoint commands of docs/audit.md check an export and a kept checkpoint offline', async () => {
    const report = await chainOf('offline', 3);
    const [commands] = docsBlocks('Checkpoints', 'sh');
    // Under the repository, so that `npm run` finds the package; names stay the caller's (INIT_CWD).
    // A fresh clone has no node_modules/.cache until something makes it.
    fs.mkdirSync(path.join(__dirname, '../../node_modules/.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(__dirname, '../../node_modules/.cache/liveness-gateway-verify-export-'));
    try {
      fs.writeFileSync(path.join(dir, 'kept-checkpoint.json'), JSON.stringify(report.latestCheckpoint));
      const run = await bash(commands, dir, { GATEWAY_URL: gateway.url, TOKEN: auditor('offline') });
      expect(run.code, run.output).toBe(0);
      expect(run.output.trim().split('\n').at(-1)).toBe('valid: events 1..12 of tenant offline chain; checkpoints checked: 12, kept; signed through 12.');
      const exported = fs.readFileSync(path.join(dir, 'audit.ndjson'), 'utf8');
      expect(parseCheckpoints(exported)).toEqual([{ kind: 'checkpoint', ...report.latestCheckpoint }]);

      // The same file cut after event 10 (a truncated chain, exported again) fails against the kept checkpoint.
      const cut = parseNdjson(exported).slice(0, 10);
      fs.writeFileSync(path.join(dir, 'audit.ndjson'), cut.map((event) => JSON.stringify(event)).join('\n') + '\n');
      const verifyOnly = commands.split('\n').filter((line) => line.startsWith('npm run')).join('\n');
      const rerun = await bash(verifyOnly, dir, {});
      expect(rerun.code, rerun.output).toBe(1);
      expect(rerun.output.trim().split('\n').at(-1)).toBe('INVALID: the kept checkpoint records sequence 12, but the export ends at 10: the chain was cut.');

      // Events alone, without their checkpoint line or a kept one: anyone can compute such a file.
      const unsigned = verifyOnly.replace(' --checkpoint kept-checkpoint.json', '');
      const forged = await bash(unsigned, dir, {});
      expect(forged.code, forged.output).toBe(1);
      expect(forged.output.trim().split('\n').at(-1)).toBe(
        'INVALID: no checkpoint signed by this key lies in the export: its events chain, but nothing shows the gateway wrote them.',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

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
