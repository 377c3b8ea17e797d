/**
 * docs/operations.md's "Try it locally" script, run as written (on free ports instead of 4100, 4001
 * and 4002, and on a fresh database): a shared emulator and two instances on PostgreSQL and Redis,
 * both ready, and a whole flow through one of them. Needs DATABASE_URL and REDIS_URL (CI sets them).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, postgresAdminUrl, redisUrl, type TestDatabase } from '../helpers/services';

const root = path.resolve(__dirname, '../..');
const doc = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');


describe.skipIf(!postgresAdminUrl || !redisUrl)('the several-instances guide of docs/operations.md', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('runs two instances with a shared emulator, both ready with Redis, and a whole flow through one', async () => {
    const script = /## Try it locally[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(script).toBeDefined();
    let runnable = script!;
    for (const port of ['4100', '4001', '4002']) runnable = runnable.split(port).join(String(await freePort()));
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', runnable], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: database.url, REDIS_URL: redisUrl!, REDIS_CHANNEL_PREFIX: `deploy-doc-${process.pid}:` },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
    expect(result.output).toMatch(/"checks":\{"store":"ok","face":"ok","redis":"ok"\}/);
    expect(result.output).toContain('Verdict: PASS');
    expect(result.code).toBe(0);
  }, 120_000);
});
