/**
 * The gateway as a real process, as an orchestrator runs it: `node <build>/src/main.js`, stopped with
 * SIGTERM (drain: stop accepting, finish what is in flight, close WebSockets with 1001, stop pollers,
 * close the store, exit 0 within 10 s) or killed with SIGKILL at an awkward moment (after a restart
 * on the same data directory, polling resumes and the decision is recorded exactly once).
 *
 * The Face service is a standalone emulator in this test process, so it outlives every gateway.
 * The gateway is compiled once, into a directory of its own under node_modules/.cache: other test
 * files build dist/ (`npm start`) while these run, and a process must never load a half-written file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { eventually } from '../helpers/gateway';
import { RawSocket } from '../helpers/raw-socket';

const root = path.resolve(__dirname, '../..');
const buildDir = path.join(root, 'node_modules', '.cache', 'liveness-gateway-shutdown-test');
const FACE_KEY = `shutdown-face-key-${randomBytes(8).toString('hex')}`;
const JWT_SECRET = randomBytes(32).toString('hex');

/** `npm run build`, into our own directory. */
function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const tsc = spawn(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', buildDir, '--tsBuildInfoFile', path.join(buildDir, '.tsbuildinfo')],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    tsc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    tsc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    tsc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the build failed (${code}):\n${output}`))));
  });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `node main.js` process and what it wrote: JSON log lines on stdout, the banner on stderr. */
class GatewayProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<Exit>;
  url = '';
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    running.add(child);
    // 'close', not 'exit': by then every line the process wrote has been read.
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      }),
    );
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.logs.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static async start(dataDir: string, faceUrl: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
    const child = spawn(process.execPath, [path.join(buildDir, 'src', 'main.js')], {
      cwd: root,
      env: {
        ...process.env,
        // CI exports these for the multi-instance suites; this one is about one SQLite-backed process.
        DATABASE_URL: '',
        REDIS_URL: '',
        NODE_ENV: '',
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        JWT_SECRET,
        FACE_ENDPOINT: faceUrl,
        FACE_APIKEY: FACE_KEY,
        FACE_EMULATOR: '',
        FACE_TIMEOUT_MS: '3000',
        FACE_MAX_RETRIES: '0',
        // The trails asserted here end at the decision (see test/helpers/gateway.ts).
        FACE_DELETE_AFTER_DECISION: 'false',
        POLL_INTERVAL_MS: '50',
        POLL_MAX_INTERVAL_MS: '200',
        LOG_LEVEL: 'debug',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gateway = new GatewayProcess(child);
    const banner = eventually(() => /Liveness gateway on (http:\/\/[^\s/]+)\/graphql/.exec(gateway.stderr)?.[1], 30_000);
    const exitedEarly = gateway.exited.then((exit) => {
      throw new Error(`the gateway exited (${JSON.stringify(exit)}) while starting:\n${gateway.stderr}`);
    });
    exitedEarly.catch(() => undefined); // only the race below needs to hear of it
    gateway.url = await Promise.race([banner, exitedEarly]);
    return gateway;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async killed(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** The first log line with this message (and these fields), once it has been written. */
  logged(msg: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return eventually(() => this.logs.find((entry) => entry.msg === msg && Object.entries(fields).every(([key, value]) => entry[key] === value)));
  }

  async graphql<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables, token: string) {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await response.json()) as { data?: TData; errors?: { message: string; extensions?: { code?: string } }[] };
  }

  async ok<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables, token: string): Promise<TData> {
    const result = await this.graphql(document, variables, token);
    if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}\n${this.stderr}`);
    return result.data;
  }
}

const running = new Set<ChildProcess>();
const dataDirs: string[] = [];
let emulator: FaceEmulator;
let faceUrl: string;
/** Management requests Face received, as `METHOD /path`. */
const faceRequests: string[] = [];

beforeAll(async () => {
  await build();
  emulator = createFaceEmulator({ apiKey: FACE_KEY, onRequest: (method, requestPath) => faceRequests.push(`${method} ${requestPath}`) });
  faceUrl = await emulator.listen(0);
}, 180_000);

afterEach(async () => {
  await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
  for (const child of running) {
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});

afterAll(async () => {
  await emulator?.close();
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function newDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-shutdown-'));
  dataDirs.push(dir);
  return dir;
}

const tokenFor = (sub: string) => jwt.sign({ roles: ['user', 'auditor'], tenant: 'shutdown' }, JWT_SECRET, { subject: sub, expiresIn: 600 });

async function fault(rule: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${faceUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(response.status).toBe(200);
}

async function device(authToken: string, outcome: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(outcome),
  });
  expect(response.status).toBe(200);
}

/** Whether a fresh TCP connection to the port is refused. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('SIGTERM', () => {
  it('drains: the open subscription is closed with 1001, the request in flight is answered, new connections are refused, polling stops, and the process exits 0', async () => {
    const dataDir = newDataDir();
    const gateway = await GatewayProcess.start(dataDir, faceUrl);
    const token = tokenFor('drained');
    const waiting = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session.id;

    // A session being polled while Face fails: its poller must not hold the process up.
    const polled = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    await device(polled.authToken, { livenessDecision: 'realface' });
    await fault({ status: 503, code: 'ServiceUnavailable', count: 100_000, method: 'GET' });
    await gateway.ok(CompleteLivenessSessionDocument, { id: polled.session.id }, token);
    await gateway.logged('poll of the Face session failed; will retry', { sessionId: polled.session.id });

    const socket = await RawSocket.open(`${gateway.url.replace(/^http/, 'ws')}/graphql`, { authorization: `Bearer ${token}` });
    socket.subscribe('decision', print(SessionDecisionDocument), { sessionId: waiting });
    await gateway.logged('websocket operation started', { operationName: null });

    // A start that Face answers only after 1.5 s: in flight when the signal arrives.
    await fault({ status: 200, latencyMs: 1_500, count: 1, method: 'POST' });
    const createsBefore = faceRequests.filter((request) => request.startsWith('POST ')).length;
    let answered = false;
    const inFlight = gateway.graphql(StartLivenessSessionDocument, { input: {} }, token).finally(() => (answered = true));
    await eventually(() => (faceRequests.filter((request) => request.startsWith('POST ')).length > createsBefore ? true : undefined));

    gateway.signal('SIGTERM');
    const closed = await socket.closed;
    expect(closed.code).toBe(1001);
    expect(answered).toBe(false);
    expect(await refusesConnections(gateway.port)).toBe(true);

    const result = await inFlight;
    expect(result.errors).toBeUndefined();
    const startedDuringDrain = result.data!.startLivenessSession.session.id;
    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    expect(gateway.logs.map((entry) => entry.msg)).toContain('gateway stopped');

    // What was in flight was stored before the store closed; the waiting session is intact; the
    // polled one is picked up again and decided once Face answers.
    await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
    const again = await GatewayProcess.start(dataDir, faceUrl);
    expect((await again.ok(SessionDocument, { id: startedDuringDrain }, token)).session?.status).toBe('NOT_STARTED');
    expect((await again.ok(SessionDocument, { id: waiting }, token)).session).toMatchObject({ status: 'NOT_STARTED', decision: null });
    const decided = await eventually(async () => (await again.ok(SessionDocument, { id: polled.session.id }, token)).session?.decision ?? undefined);
    expect(decided).toMatchObject({ verdict: 'PASS', attemptId: 1 });
    again.signal('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('SIGTERM during a slow Face call', () => {
  it('a poll stuck waiting on Face does not hold the shutdown past its 10 s deadline: the process exits 0, and the session is decided after a restart', async () => {
    const dataDir = newDataDir();
    // Face calls may take 30 s here, three times the shutdown's whole budget.
    const gateway = await GatewayProcess.start(dataDir, faceUrl, { FACE_TIMEOUT_MS: '30000', FACE_TOTAL_TIMEOUT_MS: '30000' });
    const token = tokenFor('slow-face');
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    await device(started.authToken, { livenessDecision: 'spoofface' });
    // Face takes 20 s to answer the poll (longer than the whole shutdown may take).
    await fault({ status: 200, latencyMs: 20_000, count: 1, method: 'GET' });
    const getsBefore = faceRequests.filter((request) => request.startsWith('GET ')).length;
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    await eventually(() => (faceRequests.filter((request) => request.startsWith('GET ')).length > getsBefore ? true : undefined));

    gateway.signal('SIGTERM');
    // main.ts forces exit code 1 at 10 s; a clean 0 means the drain finished before that.
    expect(await gateway.exited).toEqual({ code: 0, signal: null });

    await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
    const again = await GatewayProcess.start(dataDir, faceUrl);
    const decided = await eventually(async () => (await again.ok(SessionDocument, { id: started.session.id }, token)).session?.decision ?? undefined);
    expect(decided).toMatchObject({ verdict: 'FAIL' });
    again.signal('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('SIGKILL', () => {
  /** A session whose device made two attempts (a failed one, then a real face), reported complete on `gateway`. */
  async function reportedSession(gateway: GatewayProcess, token: string): Promise<string> {
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    await device(started.authToken, { error: { code: 'FaceWithMaskDetected', message: 'A mask covers the face.' } });
    await device(started.authToken, { livenessDecision: 'realface' });
    return started.session.id;
  }

  async function decidedOn(gateway: GatewayProcess, token: string, id: string) {
    return eventually(async () => {
      const session = (await gateway.ok(SessionDocument, { id }, token)).session;
      return session?.decision ? session : undefined;
    }, 20_000);
  }

  async function auditOf(gateway: GatewayProcess, token: string, id: string) {
    const trail = (await gateway.ok(SessionAuditTrailDocument, { id, first: 100 }, token)).session!.auditTrail;
    return trail.edges.map((edge) => edge.node).reverse();
  }

  /** One DECISION_REACHED, one ATTEMPT_RECORDED per attempt, and a restart after the decision changes nothing. */
  async function expectRecordedOnce(dataDir: string, gateway: GatewayProcess, token: string, id: string): Promise<void> {
    const decided = await decidedOn(gateway, token, id);
    expect(decided.decision).toMatchObject({ verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 2 });
    expect(decided.attempts.map((attempt) => [attempt.attemptId, attempt.status])).toEqual([
      [1, 'FAILED'],
      [2, 'SUCCEEDED'],
    ]);

    // Killed again right after deciding, and started once more: nothing is decided or recorded twice.
    expect(await gateway.killed()).toEqual({ code: null, signal: 'SIGKILL' });
    const last = await GatewayProcess.start(dataDir, faceUrl);
    const events = await auditOf(last, token, id);
    expect(events.map((event) => event.action)).toEqual([
      'SESSION_STARTED',
      'COMPLETION_REPORTED',
      'ATTEMPT_RECORDED',
      'ATTEMPT_RECORDED',
      'DECISION_REACHED',
    ]);
    expect(events.filter((event) => event.action === 'ATTEMPT_RECORDED').map((event) => event.attemptId)).toEqual([1, 2]);
    expect((await decidedOn(last, token, id)).decision).toEqual(decided.decision);
  }

  it('killed while Face fails every poll, a restarted gateway resumes polling and records the decision exactly once', async () => {
    const dataDir = newDataDir();
    const first = await GatewayProcess.start(dataDir, faceUrl);
    const token = tokenFor('killed-while-failing');
    const id = await reportedSession(first, token);

    await fault({ status: 503, code: 'ServiceUnavailable', count: 100_000, method: 'GET' });
    await first.ok(CompleteLivenessSessionDocument, { id }, token);
    await first.logged('poll of the Face session failed; will retry', { sessionId: id });
    expect(await first.killed()).toEqual({ code: null, signal: 'SIGKILL' });
    await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });

    const second = await GatewayProcess.start(dataDir, faceUrl);
    await second.logged('resumed polling for sessions awaiting a result');
    await expectRecordedOnce(dataDir, second, token, id);
  }, 90_000);

  it('killed while a poll is in flight at Face, a restarted gateway records the decision exactly once', async () => {
    const dataDir = newDataDir();
    const first = await GatewayProcess.start(dataDir, faceUrl);
    const token = tokenFor('killed-mid-poll');
    const id = await reportedSession(first, token);

    await fault({ status: 200, latencyMs: 2_000, count: 1, method: 'GET' });
    const polled = () => faceRequests.filter((request) => request === `GET /face/v1.2/detectLiveness-sessions/${id}`).length;
    const pollsBefore = polled();
    await first.ok(CompleteLivenessSessionDocument, { id }, token);
    await eventually(() => (polled() > pollsBefore ? true : undefined));
    expect(await first.killed()).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await GatewayProcess.start(dataDir, faceUrl);
    await expectRecordedOnce(dataDir, second, token, id);
  }, 90_000);

  it('killed again and again at arbitrary moments around the decision, the decision is recorded exactly once', async () => {
    const dataDir = newDataDir();
    let gateway = await GatewayProcess.start(dataDir, faceUrl);
    const token = tokenFor('killed-repeatedly');
    const id = await reportedSession(gateway, token);
    // Slow answers, so that kills land before, during and after the poll that decides.
    await fault({ status: 200, latencyMs: 150, count: 100_000, method: 'GET' });
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);

    for (const delayMillis of [0, 120, 40, 200]) {
      await new Promise((resolve) => setTimeout(resolve, delayMillis));
      expect(await gateway.killed()).toEqual({ code: null, signal: 'SIGKILL' });
      gateway = await GatewayProcess.start(dataDir, faceUrl);
    }
    await fetch(`${faceUrl}/_faults`, { method: 'DELETE' });
    await expectRecordedOnce(dataDir, gateway, token, id);
  }, 120_000);
});
