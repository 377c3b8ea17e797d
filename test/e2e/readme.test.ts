/**
 * Everything the README and docs/ tell a newcomer to run is run here, as they would run it: `npm start`
 * (a real child process, building first), the README's shell walkthrough as written (which runs
 * `npm run token` and `npm run demo`), every GraphQL example of docs/api.md in order,
 * `npm run face-emulator` as docs/api.md gives it, and the operators' commands of docs/operations.md
 * (checking a running gateway; the production start against a Face endpoint with a key, where a
 * standalone emulator holding the key stands in for the Azure resource). `npm install` and
 * `npm test` are what CI itself runs on a fresh clone. The last tests keep the docs honest: every
 * runnable block of README.md and docs/ must be one that a test runs, every setting the gateway reads
 * has its row in docs/configuration.md, and every relative link reaches its file and heading.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import { createClient } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envExample } from '../../tools/cli/env-example';
import { createFaceEmulator } from '../../tools/face-emulator';

const root = path.resolve(__dirname, '../..');
const README_URL = 'http://localhost:4000';
/** A newcomer's shell has no DATABASE_URL or REDIS_URL (CI sets them for the multi-instance suites). */
const EMBEDDED_DEFAULTS = { DATABASE_URL: '', REDIS_URL: '' };

const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

/** The `## ` sections of a Markdown file, each with its heading (what follows `## ` on its line). */
function sections(file: string): { heading: string; text: string }[] {
  return read(file)
    .split(/\n(?=## )/)
    .slice(1)
    .map((text) => ({ heading: text.slice(3, text.indexOf('\n')).trim(), text }));
}

/** The fenced blocks of one language inside the section of `file` whose heading starts with `heading`. */
function blocks(file: string, heading: string, language: string): string[] {
  const section = sections(file).find((candidate) => candidate.heading.startsWith(heading));
  expect(section, `${file} section "${heading}"`).toBeDefined();
  return fencedBlocks(section!.text).filter((block) => block.language === language).map((block) => block.body);
}

function fencedBlocks(text: string): { language: string; body: string }[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((match) => ({ language: match[1], body: match[2] }));
}

/**
 * Where runnable blocks may be, and the test that runs each: a block anywhere else would be a
 * command nobody checks.
 */
const RUN_BY_A_TEST: Record<string, string> = {
  'README.md § Two commands': 'this file (npm start) and CI (npm install, npm test)',
  'README.md § Walkthrough from a shell': 'this file',
  'docs/api.md § Operations, by example': 'this file',
  'docs/api.md § The Face emulator': 'this file',
  'docs/operations.md § Starting in production': 'this file',
  'docs/operations.md § Checking a running gateway': 'this file',
  'docs/operations.md § Try it locally': 'test/e2e/deployment-doc.test.ts',
  "docs/audit.md § Exporting a tenant's chain": 'test/e2e/audit.test.ts',
  'docs/audit.md § Recomputing the chain offline': 'test/e2e/audit.test.ts',
  'docs/audit.md § Checkpoints': 'test/e2e/audit-truncation.test.ts',
  'docs/partners.md § Registering an endpoint': 'test/e2e/webhooks.test.ts',
  'docs/partners.md § Verifying a delivery': 'test/e2e/webhooks.test.ts',
  'docs/partners.md § The delivery log': 'test/e2e/webhooks.test.ts',
  'docs/clients.md § Apollo Client (web)': 'test/e2e/client-libraries.test.ts',
  'docs/clients.md § urql': 'test/e2e/client-libraries.test.ts',
};
const RUNNABLE = new Set(['sh', 'bash', 'shell', 'console', 'js', 'javascript', 'mjs', 'ts', 'typescript']);

/** A GraphQL block is runnable when it holds an operation; a schema excerpt is not. */
function isRunnable(block: { language: string; body: string }): boolean {
  if (RUNNABLE.has(block.language)) return true;
  if (block.language !== 'graphql') return false;
  return parse(block.body).definitions.some((definition) => definition.kind === Kind.OPERATION_DEFINITION);
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** Spawns an npm script in its own process group and waits for a line matching `ready`. */
function npm(args: string[], env: Record<string, string>, ready: RegExp): Promise<Started & { match: RegExpMatchArray }> {
  return startUntil('npm', args, env, ready);
}

/** Spawns a command in its own process group and waits for a line matching `ready`. */
async function startUntil(command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<Started & { match: RegExpMatchArray }> {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...EMBEDDED_DEFAULTS, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not become ready:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const found = output.match(ready);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
  return { child, output: () => output, match };
}

/** A port nothing listens on: one the system just gave out and took back. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function stopProcessGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

function runBash(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: root, env: { ...process.env, ...EMBEDDED_DEFAULTS, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the README, as a newcomer follows it', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-readme-'));
  let gateway: Started | undefined;
  let url = '';

  beforeAll(async () => {
    const started = await npm(['start'], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, /Liveness gateway on (http:\/\/[^\s/]+)\/graphql/);
    gateway = started;
    url = started.match[1];
  }, 180_000);

  afterAll(async () => {
    await stopProcessGroup(gateway?.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm start serves the gateway on the embedded defaults, with Sandbox and a dev token', async () => {
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(gateway!.output()).toMatch(/Dev token \(sub dev-user/);
    const sandbox = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(sandbox.status).toBe(200);
    expect(await sandbox.text()).toContain('embeddable-sandbox');
  });

  it('the two commands are npm install and npm start, with npm test beside them', () => {
    const [commands] = blocks('README.md', 'Two commands', 'sh');
    expect(commands.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean)).toEqual(['npm install', 'npm start']);
    expect(sections('README.md').find((section) => section.heading === 'Two commands')!.text).toContain('`npm test` runs the whole test suite');
  });

  it('the shell walkthrough runs as written, on the port the gateway chose, and reaches a PASS, by curl and by npm run demo', async () => {
    const [script] = blocks('README.md', 'Walkthrough from a shell', 'sh');
    expect(script).toContain('npm run --silent token');
    expect(script).toContain('npm run demo');
    // One place names the default address; everything else follows GATEWAY_URL.
    expect(script.split(README_URL)).toHaveLength(2);
    expect(script).toContain(`export GATEWAY_URL=\${GATEWAY_URL:-${README_URL}}`);
    expect(new URL(url).port).not.toBe('4000');
    const result = await runBash(script, { DATA_DIR: dataDir, GATEWAY_URL: url });
    expect(result.stderr + result.stdout).not.toMatch(/demo failed|error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"decision":{"verdict":"PASS"}');
    expect(result.stdout).toContain('Verdict: PASS');
  }, 120_000);

  it('npm run demo with no gateway at GATEWAY_URL names the address it tried and the variable that sets it', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await runBash('npm run --silent demo', { DATA_DIR: dataDir, GATEWAY_URL: closed });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`demo failed: no gateway answered at ${closed} (ECONNREFUSED). Start one with npm start, or set GATEWAY_URL to where yours listens`);
  }, 60_000);

  it('every GraphQL example of docs/api.md runs, in order, against the gateway', async () => {
    const examples = blocks('docs/api.md', 'Operations, by example', 'graphql').map((text) => parse(text));
    expect(examples.length).toBeGreaterThanOrEqual(10);
    const secret = fs.readFileSync(path.join(dataDir, 'dev-jwt-secret'), 'utf8').trim();
    const token = jwt.sign({ roles: ['user', 'auditor'], tenant: 'readme' }, secret, { subject: 'reader', expiresIn: 600 });
    const ws = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });

    let id: string | undefined;
    let deviceToken: string | undefined;
    let decision: Promise<unknown> | undefined;
    const ran: string[] = [];
    try {
      for (const document of examples) {
        const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
        const names = (operation.variableDefinitions ?? []).map((v) => v.variable.name.value);
        const variables = Object.fromEntries(names.map((name) => [name, id]));
        ran.push(operation.name!.value);

        if (operation.operation === 'subscription') {
          decision = new Promise((resolve, reject) => {
            ws.subscribe({ query: print(document), variables }, { next: resolve, error: reject, complete: () => undefined });
          });
          // The device finishes while the app waits for the decision.
          const device = await fetch(`${url}/emulator/face/v1.2/detectLiveness/singleModal`, {
            method: 'POST',
            headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ livenessDecision: 'realface' }),
          });
          expect(device.status).toBe(200);
          continue;
        }
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: print(document), variables }),
        });
        const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
        expect(body.errors, operation.name!.value).toBeUndefined();
        if (body.data?.startLivenessSession && !id) {
          id = body.data.startLivenessSession.session.id;
          deviceToken = body.data.startLivenessSession.authToken;
        }
        if (operation.name!.value === 'CompleteLivenessSession') {
          expect(await decision).toMatchObject({ data: { sessionDecision: { sessionId: id, verdict: 'PASS' } } });
        }
      }
    } finally {
      await ws.dispose();
    }
    expect(ran).toEqual([
      'Viewer',
      'StartLivenessSession',
      'StartLivenessWithVerifySession',
      'SessionDecision',
      'CompleteLivenessSession',
      'Session',
      'Sessions',
      'AuditHistory',
      'VerifyAuditChain',
      'DeleteLivenessSession',
    ]);
  }, 60_000);

  it('the operators\' health and metrics commands run as written', async () => {
    const [script] = blocks('docs/operations.md', 'Checking a running gateway', 'sh');
    const result = await runBash(script.split(README_URL).join(url), { METRICS_TOKEN: '' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('{"status":"ok"}');
    expect(result.stdout).toContain('{"status":"ready","checks":{"store":"ok","face":"ok"}}');
    expect(result.stdout).toMatch(/^liveness_gateway_decisions_total\{verdict="PASS"\} [1-9]\d*$/m);
  }, 60_000);

  it('the production start against a Face endpoint with a key is ready, and its /metrics answers its token only', async () => {
    const [health] = blocks('docs/operations.md', 'Checking a running gateway', 'sh');
    const [production] = blocks('docs/operations.md', 'Starting in production', 'sh');
    const endpoint = 'https://my-face.cognitiveservices.azure.com';
    expect(production).toContain(`NODE_ENV=production FACE_ENDPOINT=${endpoint} npm start`);
    const faceKey = randomBytes(16).toString('hex');
    const metricsToken = randomBytes(24).toString('hex');
    const emulator = createFaceEmulator({ apiKey: faceKey });
    const faceUrl = await emulator.listen(0, '127.0.0.1');
    const productionDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-readme-production-'));
    let started: (Started & { match: RegExpMatchArray }) | undefined;
    try {
      started = await startUntil(
        'bash',
        ['-euo', 'pipefail', '-c', production.split(endpoint).join(faceUrl)],
        {
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: productionDataDir,
          LOG_LEVEL: 'warn',
          FACE_APIKEY: faceKey,
          JWT_SECRET: randomBytes(32).toString('hex'),
          IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64'),
          METRICS_TOKEN: metricsToken,
        },
        /Liveness gateway on (http:\/\/[^\s/]+)\/graphql/,
      );
      const productionUrl = started.match[1];
      const result = await runBash(health.split(README_URL).join(productionUrl), { METRICS_TOKEN: metricsToken });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('{"status":"ready","checks":{"store":"ok","face":"ok"}}');
      expect(result.stdout).toMatch(/^liveness_gateway_decisions_total\{verdict="PASS"\} 0$/m);
      expect((await fetch(`${productionUrl}/metrics`)).status).toBe(401);
      expect(started.output()).not.toContain('Dev token');
    } finally {
      await stopProcessGroup(started?.child);
      await emulator.close();
      fs.rmSync(productionDataDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('npm run face-emulator, as docs/api.md gives it, serves the emulator alone', async () => {
    const [command] = blocks('docs/api.md', 'The Face emulator', 'sh');
    expect(command.trim()).toBe('npm run face-emulator');
    // With the throttle of docs/configuration.md ("The tools' settings"), as a bench run would set it.
    const emulator = await npm(command.trim().split(' ').slice(1), { FACE_EMULATOR_PORT: '0', FACE_EMULATOR_TPS: '1' }, /listening on (http:\/\/\S+)/);
    try {
      const created = await fetch(`${emulator.match[1]}/face/v1.2/detectLiveness-sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Ocp-Apim-Subscription-Key': 'any-key' },
        body: JSON.stringify({ livenessOperationMode: 'Passive', deviceCorrelationId: 'readme-device', authTokenTimeToLiveInSeconds: 60 }),
      });
      expect(created.status).toBe(200);
      expect(await created.json()).toMatchObject({ status: 'NotStarted', results: { attempts: [] } });
      // One call a second: of three more at once, at least one is throttled as Azure throttles.
      const reads = await Promise.all(
        [1, 2, 3].map(() => fetch(`${emulator.match[1]}/face/v1.2/detectLiveness-sessions/readme`, { headers: { 'Ocp-Apim-Subscription-Key': 'any-key' } })),
      );
      const throttled = reads.find((read) => read.status === 429);
      expect(throttled?.headers.get('retry-after')).toBe('1');
    } finally {
      await stopProcessGroup(emulator.child);
    }
  }, 120_000);
});

describe('a gateway against the standalone emulator, as docs/api.md gives it', () => {
  it('npm run face-emulator, then FACE_ENDPOINT=… FACE_APIKEY=… npm start: the gateway starts without a warning and starts sessions at it', async () => {
    const section = sections('docs/api.md').find((candidate) => candidate.heading === 'The Face emulator')!.text;
    const [, recipe] = section.match(/`(FACE_ENDPOINT=http:\/\/127\.0\.0\.1:4100 FACE_APIKEY=\S+ npm start)`/) ?? [];
    expect(recipe, 'the recipe in docs/api.md').toBeDefined();
    const emulator = await npm(['run', 'face-emulator'], { FACE_EMULATOR_PORT: '0' }, /listening on (http:\/\/\S+)/);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-readme-standalone-'));
    let gateway: (Started & { match: RegExpMatchArray }) | undefined;
    try {
      gateway = await startUntil(
        'bash',
        ['-euo', 'pipefail', '-c', recipe.split('http://127.0.0.1:4100').join(emulator.match[1])],
        { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
        /Dev token[^\n]*\n\s+(\S+)/,
      );
      expect(gateway.output()).not.toContain('Warning');
      const gatewayUrl = gateway.output().match(/Liveness gateway on (http:\/\/[^\s/]+)\/graphql/)![1];
      const response = await fetch(`${gatewayUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.match[1]}` },
        body: JSON.stringify({ query: 'mutation { startLivenessSession(input: {}) { session { id status } } }' }),
      });
      const body = (await response.json()) as { data?: { startLivenessSession: { session: { id: string } } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      // The session is the emulator's own: it answers for it directly.
      const id = body.data!.startLivenessSession.session.id;
      const atFace = await fetch(`${emulator.match[1]}/face/v1.2/detectLiveness-sessions/${id}`, { headers: { 'Ocp-Apim-Subscription-Key': 'any-key' } });
      expect(atFace.status).toBe(200);
    } finally {
      await stopProcessGroup(gateway?.child);
      await stopProcessGroup(emulator.child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the documentation', () => {
  it('every runnable block of README.md and docs/ is one a test runs', () => {
    const files = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    const found = new Set<string>();
    for (const file of files) {
      for (const section of sections(file)) {
        if (fencedBlocks(section.text).some(isRunnable)) found.add(`${file} § ${section.heading}`);
      }
    }
    expect([...found].sort()).toEqual(Object.keys(RUN_BY_A_TEST).sort());
  });

  it('every setting src/config/ reads has its row in docs/configuration.md', () => {
    const configSource = fs.readdirSync(path.join(root, 'src/config')).map((name) => read(`src/config/${name}`)).join('\n');
    const settings = [...configSource.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]);
    expect(settings.length).toBeGreaterThanOrEqual(50);
    const rows = new Set([...read('docs/configuration.md').matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((match) => match[1]));
    expect([...new Set(settings)].filter((name) => !rows.has(name))).toEqual([]);
  });

  it('every row of the gateway\'s settings in docs/configuration.md is a setting src/config/ reads', () => {
    const configSource = fs.readdirSync(path.join(root, 'src/config')).map((name) => read(`src/config/${name}`)).join('\n');
    const settings = new Set([...configSource.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]));
    const gatewaySettings = read('docs/configuration.md').split("\n## The tools' settings")[0];
    const rows = [...gatewaySettings.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    expect(rows.length).toBeGreaterThanOrEqual(50);
    expect(rows.filter((name) => !settings.has(name))).toEqual([]);
  });

  it('.env.example is written from docs/configuration.md, and lists every setting src/config/ reads with its default', () => {
    const example = read('.env.example');
    expect(example).toBe(envExample(read('docs/configuration.md')));
    const configSource = fs.readdirSync(path.join(root, 'src/config')).map((name) => read(`src/config/${name}`)).join('\n');
    const listed = new Set([...example.matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]));
    expect([...configSource.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]).filter((name) => !listed.has(name))).toEqual([]);
    // Defaults as the docs give them; nothing is set by copying the file to .env as it is.
    expect(example).toContain('\n# PORT=4000\n');
    expect(example).toContain('\n# FACE_TIMEOUT_MS=10000\n');
    expect(Object.keys(parseEnv(example))).toEqual([]);
    expect(read('.gitignore').split('\n')).toContain('.env');
  });

  it('every relative link of README.md, CHANGELOG.md and docs/ reaches a file, and a heading where it names one', () => {
    const files = ['README.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    const broken: string[] = [];
    for (const file of files) {
      for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [linked, anchor] = target.split('#');
        const resolved = linked === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), linked));
        if (!fs.existsSync(path.join(root, resolved))) broken.push(`${file}: ${target} (no such file)`);
        else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) broken.push(`${file}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** The anchors GitHub gives the headings of a Markdown file. */
function anchors(file: string): Set<string> {
  const text = read(file).replace(/^```[\s\S]*?^```/gm, '');
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading]) =>
      heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-'),
    ),
  );
}
