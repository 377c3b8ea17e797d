/**
 * What the image and compose.yaml run, run here as processes, since no container engine runs where
 * the tests do: the emulator service's command with its environment, two gateways with the runtime
 * stage's `ENV` and compose's gateway environment (only the addresses of PostgreSQL, Redis and the
 * emulator changed to this machine's, and the secrets supplied as compose requires), started with
 * the image's `CMD`; then the image's `HEALTHCHECK` command, exactly as the Dockerfile writes it,
 * against each. The built `dist/` is what the runtime stage copies.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { readCompose, runtimeStage, serviceEnvironment } from '../helpers/containers';
import { createTestDatabase, POSTGRES_SKIP_REASON, postgresAdminUrl, REDIS_SKIP_REASON, redisUrl, servicesFor, type TestDatabase } from '../helpers/services';

const root = path.resolve(__dirname, '../..');
const services = servicesFor('the container commands', [postgresAdminUrl ? undefined : POSTGRES_SKIP_REASON, redisUrl ? undefined : REDIS_SKIP_REASON]);

/** Runs the image's HEALTHCHECK command (exec form) as Docker would inside the container, where PORT is the gateway's. */
function healthcheck(port: number): number | null {
  const [command, ...args] = runtimeStage().healthcheck;
  expect(command).toBe('node');
  return spawnSync(process.execPath, args, { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, timeout: 10_000 }).status;
}

describe.skipIf(!services.run)('the image and compose.yaml commands, as processes', () => {
  const compose = readCompose();
  const secrets = { JWT_SECRET: randomBytes(32).toString('hex'), IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64') };
  let database: TestDatabase | undefined;
  let emulator: ReturnType<typeof spawn> | undefined;
  const gateways: ChildGateway[] = [];
  const dataDirs: string[] = [];

  beforeAll(async () => {
    if (services.missing) throw new Error(services.missing);
    database = await createTestDatabase();
    // The emulator service: its command and environment, on a free port of this machine.
    const emulatorService = compose.services['face-emulator'];
    const [command, ...args] = emulatorService.command!;
    expect(command).toBe('node');
    emulator = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...serviceEnvironment(emulatorService, {}), FACE_EMULATOR_HOST: '127.0.0.1', FACE_EMULATOR_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const emulatorUrl = await new Promise<string>((resolve, reject) => {
      let output = '';
      emulator!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) resolve(match[1]);
      });
      emulator!.once('exit', (code) => reject(new Error(`the emulator exited with ${code}: ${output}`)));
    });

    const { command: cmd, env: imageEnv } = runtimeStage();
    expect(cmd).toEqual(['node', 'dist/src/main.js']);
    for (const name of ['gateway-a', 'gateway-b']) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `liveness-${name}-`));
      dataDirs.push(dataDir);
      const env = { ...imageEnv, ...serviceEnvironment(compose.services[name], secrets), DATA_DIR: dataDir, DATABASE_URL: database.url, REDIS_URL: redisUrl!, FACE_ENDPOINT: emulatorUrl };
      gateways.push(await startChildGateway({ ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const gateway of gateways) await gateway.kill();
    if (emulator && emulator.exitCode === null) {
      const exited = new Promise((resolve) => emulator!.once('exit', resolve));
      emulator.kill('SIGTERM');
      await exited;
    }
    await database?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('both instances start in production on the shared PostgreSQL, Redis and emulator, and are ready', async () => {
    for (const gateway of gateways) {
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', face: 'ok', redis: 'ok' } });
      expect(gateway.output()).not.toContain('Dev token');
      // Production: no front page, no Sandbox, no web client.
      expect((await fetch(`${gateway.url}/`)).status).toBe(404);
      expect((await fetch(`${gateway.url}/demo`)).status).toBe(404);
    }
  });

  it("the image's HEALTHCHECK command passes against a serving instance and fails once it has stopped", async () => {
    const [a, b] = gateways;
    expect(healthcheck(Number(new URL(a.url).port))).toBe(0);
    const port = Number(new URL(b.url).port);
    expect(healthcheck(port)).toBe(0);
    expect(await b.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(healthcheck(port)).toBe(1);
  }, 30_000);
});
