/**
 * A bad setting stops the real process at boot with one sentence naming the variable
 * (docs/configuration.md; src/config/), on stderr, with exit code 1 and nothing listening: what an operator sees
 * from `npm start` with a typo. The unit tests of src/config/ check every rule; this checks the process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceEmulator } from '../../tools/face-emulator';

const root = path.resolve(__dirname, '../..');
const main = path.join(root, 'dist/src/main.js');
const dataDirs: string[] = [];

/**
 * Runs the built gateway with `env` over a clean environment, in `cwd` (a folder of its own unless
 * given); resolves with how it exited and what it wrote. Once it says where it listens, it is stopped.
 */
function boot(env: Record<string, string>, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-config-'));
  dataDirs.push(dataDir);
  const base = { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { cwd: cwd ?? dataDir, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('Liveness gateway on')) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

afterAll(() => {
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a bad setting at boot', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a port that is not a number', { PORT: 'abc' }, /^Configuration error: PORT must be a whole number, got "abc"\.\n$/],
    ['an unknown log level', { LOG_LEVEL: 'verbose' }, /^Configuration error: LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"\.\n$/],
    ['production without a JWT key', { NODE_ENV: 'production', FACE_EMULATOR: 'true' }, /^Configuration error: One of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set when NODE_ENV=production\.\n$/],
    [
      'production without a Face endpoint',
      { NODE_ENV: 'production', JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!' },
      /^Configuration error: FACE_ENDPOINT must be set when NODE_ENV=production/,
    ],
    ['a JWT secret too short to be safe', { JWT_SECRET: 'short' }, /^Configuration error: JWT_SECRET must be at least 32 bytes long/],
    [
      'production serving the emulator without its own key (anyone could use its management API on the public port)',
      { NODE_ENV: 'production', FACE_EMULATOR: 'true', JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!', IDEMPOTENCY_KEY_SECRET: Buffer.alloc(32, 7).toString('base64'), EVIDENCE_KEY: Buffer.alloc(32, 7).toString('base64') },
      /^Configuration error: FACE_EMULATOR_KEY must be set when NODE_ENV=production and FACE_EMULATOR=true, or the emulator on the public port accepts any key\.\n$/,
    ],
    ['a request timeout shorter than the headers timeout', { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '5000' }, /^Configuration error: HTTP_HEADERS_TIMEOUT_MS \(5000\) must not be larger than HTTP_REQUEST_TIMEOUT_MS \(1000\)\.\n$/],
  ];
  for (const [what, env, message] of cases) {
    it(`${what}: exit code 1 and one sentence naming the variable, before anything listens`, async () => {
      const result = await boot(env);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).not.toContain('gateway listening');
      expect(result.stderr).not.toContain('Liveness gateway on');
    });
  }
});

describe('settings from a .env file', () => {
  /** A folder holding `.env` with `lines`, to start the gateway in. */
  function withEnvFile(lines: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-dotenv-'));
    dataDirs.push(dir);
    fs.writeFileSync(path.join(dir, '.env'), lines.join('\n') + '\n');
    return dir;
  }

  it('a .env in the working directory is read at start: its bad setting stops the process, named', async () => {
    const dir = withEnvFile(['# timeouts', 'HTTP_REQUEST_TIMEOUT_MS=1000', 'HTTP_HEADERS_TIMEOUT_MS="5000"']);
    const result = await boot({}, dir);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe('Configuration error: HTTP_HEADERS_TIMEOUT_MS (5000) must not be larger than HTTP_REQUEST_TIMEOUT_MS (1000).\n');
  });

  it('the environment wins over the file: a variable set in both takes the environment\'s value', async () => {
    const dir = withEnvFile(['PORT=not-a-port', 'LOG_LEVEL=verbose']);
    const result = await boot({ PORT: '0', LOG_LEVEL: 'warn' }, dir);
    expect(result.stderr).not.toContain('Configuration error');
    expect(result.stderr).toMatch(/^Settings from .*\/\.env: 0 applied \(the environment wins over the file\)$/m);
    expect(result.stderr).toMatch(/^Liveness gateway on http:\/\/127\.0\.0\.1:\d+\/graphql/m);
  });

  it('the gateway starts the same without a .env file', async () => {
    const result = await boot({});
    expect(result.stderr).not.toContain('Settings from');
    expect(result.stderr).toMatch(/^Liveness gateway on http:\/\/127\.0\.0\.1:\d+\/graphql/m);
  });
});

describe('the Face settings, checked at start', () => {
  const faceKey = `startup-face-key-${randomBytes(8).toString('hex')}`;
  const emulator = createFaceEmulator({ apiKey: faceKey });
  let faceUrl = '';
  const production = {
    NODE_ENV: 'production',
    JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!',
    IDEMPOTENCY_KEY_SECRET: Buffer.alloc(32, 7).toString('base64'),
    EVIDENCE_KEY: Buffer.alloc(32, 7).toString('base64'),
  };
  beforeAll(async () => {
    faceUrl = await emulator.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('an http:// FACE_ENDPOINT without FACE_APIKEY stops the process: Entra ID tokens go over https only', async () => {
    const result = await boot({ FACE_ENDPOINT: faceUrl });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^Configuration error: FACE_APIKEY must be set when FACE_ENDPOINT is an http:\/\/ URL: .*Microsoft Entra ID, whose tokens are sent over https only/);
  });

  it('outside production, a key Face refuses is a warning at start that names FACE_APIKEY, and the key is not printed', async () => {
    const wrongKey = `wrong-${randomBytes(8).toString('hex')}`;
    const result = await boot({ FACE_ENDPOINT: faceUrl, FACE_APIKEY: wrongKey });
    expect(result.stderr).toMatch(/^Liveness gateway on /m);
    expect(result.stderr).toMatch(/^Warning: Face refused the gateway's credentials \(401 \w+\): check FACE_APIKEY/m);
    expect(result.stdout + result.stderr).not.toContain(wrongKey);
  });

  it('in production, a key Face refuses stops the process with that sentence, exit code 1', async () => {
    const result = await boot({ ...production, FACE_ENDPOINT: faceUrl, FACE_APIKEY: 'wrong-key' });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^The gateway could not start: Face refused the gateway's credentials \(401 \w+\): check FACE_APIKEY/m);
    expect(result.stderr).not.toContain('Liveness gateway on');
  });

  it('in production, a URL with no Face API under it stops the process, naming FACE_ENDPOINT', async () => {
    const result = await boot({ ...production, FACE_ENDPOINT: `${faceUrl}/face`, FACE_APIKEY: faceKey });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^The gateway could not start: FACE_ENDPOINT answered 404 under \/face\/v1\.2: it is no Face resource/m);
  });

  it('a Face endpoint where nothing listens is a warning, in production too: it may come up', async () => {
    const result = await boot({ ...production, FACE_ENDPOINT: 'http://127.0.0.1:9', FACE_APIKEY: faceKey });
    expect(result.stderr).toMatch(/^Liveness gateway on /m);
    expect(result.stderr).toMatch(/^Warning: The gateway could not connect to FACE_ENDPOINT: nothing listens there\.$/m);
  });

  it('a Face endpoint that answers with the right key starts without a warning', async () => {
    const result = await boot({ ...production, FACE_ENDPOINT: faceUrl, FACE_APIKEY: faceKey });
    expect(result.stderr).toMatch(/^Liveness gateway on /m);
    expect(result.stderr).not.toContain('Warning');
  });
});
