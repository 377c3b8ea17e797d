/**
 * Losing Redis degrades, it does not drop decisions: with the Redis both instances share gone, a
 * subscriber on A still gets a decision reached on B, through the store check of its session's
 * fallback poll, and /readyz says Redis is down. Uses its own `redis-server` (killed mid-test) and a
 * database on DATABASE_URL; without them it is skipped, saying why, except in CI, where it fails
 * saying why.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  type SessionDecisionSubscription,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { eventually } from '../helpers/gateway';
import { createTestDatabase, freePort, POSTGRES_SKIP_REASON, postgresAdminUrl, servicesFor, type TestDatabase } from '../helpers/services';

const REDIS_SERVER_SKIP_REASON =
  'redis-server is not on PATH: the Redis-loss test starts and kills its own (on Debian: apt-get install redis-server; see README "Running the tests")';
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const services = servicesFor('the Redis-loss suite', [
  postgresAdminUrl === undefined ? POSTGRES_SKIP_REASON : undefined,
  hasRedisServer ? undefined : REDIS_SERVER_SKIP_REASON,
]);
const secret = randomBytes(32).toString('hex');

describe.skipIf(!services.run)('two instances when their Redis goes away', () => {
  let database: TestDatabase;
  let emulator: FaceEmulator;
  let redis: ChildProcess;
  let faceUrl: string;
  let a: ChildGateway;
  let b: ChildGateway;
  let client: Client | undefined;
  const dataDirs: string[] = [];

  beforeAll(async () => {
    if (services.missing) return; // CI without the services: the test fails with the reason
    database = await createTestDatabase();
    emulator = createFaceEmulator();
    faceUrl = await emulator.listen(0);
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(
      () =>
        new Promise<true | undefined>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
          socket.on('error', () => resolve(undefined));
        }),
      10_000,
    );
    const instance = () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-loss-'));
      dataDirs.push(dataDir);
      return startChildGateway({
        DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        FACE_ENDPOINT: faceUrl,
        FACE_APIKEY: 'key',
        JWT_SECRET: secret,
        IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64'),
        POLL_INTERVAL_MS: '20',
        POLL_MAX_INTERVAL_MS: '200',
        SESSION_LEASE_MS: '1000',
      });
    };
    [a, b] = await Promise.all([instance(), instance()]);
  }, 60_000);

  afterAll(async () => {
    await client?.dispose();
    await Promise.all([a?.kill(), b?.kill()]);
    redis?.kill('SIGKILL');
    await emulator?.close();
    await database?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a subscriber on A still gets the decision reached on B, sessions still start, and /readyz reports Redis down', async () => {
    if (services.missing) throw new Error(services.missing);
    const user = jwt.sign({ roles: ['user'], tenant: 'acme' }, secret, { subject: `user-${randomUUID()}`, expiresIn: 600 });
    const started = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user}` },
      body: JSON.stringify({ query: print(StartLivenessSessionDocument), variables: { input: {} } }),
    }).then((r) => r.json() as Promise<{ data: { startLivenessSession: { authToken: string; session: { id: string } } } }>);
    const { authToken, session } = started.data.startLivenessSession;

    client = createClient({ url: `${a.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${user}` }, retryAttempts: 0 });
    const decision = new Promise<SessionDecisionSubscription['sessionDecision']>((resolve, reject) => {
      client!.subscribe<SessionDecisionSubscription>(
        { query: print(SessionDecisionDocument), variables: { sessionId: session.id } },
        { next: (event) => (event.data ? resolve(event.data.sessionDecision) : reject(new Error(JSON.stringify(event.errors)))), error: reject, complete: () => undefined },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the subscription is live on A

    redis.kill('SIGKILL');
    const readiness = await eventually(async () => {
      const response = await fetch(`${a.url}/readyz`);
      return response.status === 503 ? ((await response.json()) as { checks: Record<string, string> }) : undefined;
    });
    expect(readiness.checks.redis).toMatch(/^down/);
    expect(readiness.checks.store).toBe('ok');

    // Sessions still start: rate limits are counted per instance while Redis is away.
    const during = await fetch(`${b.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user}` },
      body: JSON.stringify({ query: print(StartLivenessSessionDocument), variables: { input: {} } }),
    }).then((r) => r.json() as Promise<{ data?: { startLivenessSession: { session: { id: string } } }; errors?: unknown }>);
    expect(during.errors).toBeUndefined();
    expect(during.data?.startLivenessSession.session.id).toBeTruthy();

    // The device finishes; completion is reported on B, which decides; Redis cannot carry it to A.
    const device = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ livenessDecision: 'realface' }),
    });
    expect(device.status).toBe(200);
    const completed = await fetch(`${b.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user}` },
      body: JSON.stringify({ query: print(CompleteLivenessSessionDocument), variables: { id: session.id } }),
    });
    expect(((await completed.json()) as { errors?: unknown }).errors).toBeUndefined();

    const reached = await Promise.race([
      decision,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the decision never reached A')), 20_000)),
    ]);
    expect(reached).toMatchObject({ sessionId: session.id, verdict: 'PASS' });
  }, 60_000);
});
