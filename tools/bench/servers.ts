/**
 * Starting the processes under test with the environment each scenario needs. Everything binds
 * 127.0.0.1 on a free port; every gateway gets its own data directory and a fresh JWT secret.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GatewayClient } from './clients';
import { BenchChild } from './ipc';
import type { BenchOptions } from './options';

export interface BenchRun {
  options: BenchOptions;
  /** `.bench/run`: data directories and child logs of this run (emptied when a run starts). */
  runDir: string;
  log(message: string): void;
}

/** How a child is started when not as usual: under callgrind (`callgrind.ts`), with a name of its own. */
export interface Launch {
  callgrindOutFile?: string;
  nameSuffix?: string;
}

function launchOptions(launch: Launch) {
  return launch.callgrindOutFile ? { callgrindOutFile: launch.callgrindOutFile, readyTimeoutMillis: 600_000 } : {};
}

export interface RunningGateway {
  child: BenchChild;
  client: GatewayClient;
  dataDir: string;
  jwtSecret: string;
  stop(): Promise<void>;
}

export function dataDirFor(run: BenchRun, name: string): string {
  return path.join(run.runDir, 'data', name);
}

/**
 * Settings every gateway under test gets, besides its data directory, secrets and Face settings. The
 * gateway runs as deployed (NODE_ENV=production, info logs, written to a file), except that the quotas,
 * which exist to protect Face and to stop abuse, are raised so far that the harness's one user starting
 * thousands of sessions, from one address with a thousand sockets, never meets them: the code that
 * enforces them still runs on every request.
 */
export const GATEWAY_SETTINGS: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
  RATE_LIMIT_USER_STARTS: '1000000',
  RATE_LIMIT_DEVICE_STARTS: '1000000',
  FACE_MAX_CALLS_PER_SECOND: '100000',
  WS_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  // Production refuses the embedded emulator without its own key (an open Face API on the public port).
  FACE_EMULATOR_KEY: 'bench-emulator-key',
  FACE_EMULATOR_MAX_SESSIONS: '1000000',
};

/**
 * A gateway child (see `GATEWAY_SETTINGS`). `dataDir` may already hold a seeded SQLite file. Instances
 * that must accept each other's tokens are given the same JWT_SECRET in `env`.
 */
export async function startGateway(
  run: BenchRun,
  name: string,
  env: Record<string, string>,
  dataDir = dataDirFor(run, name),
  launch: Launch = {},
): Promise<RunningGateway> {
  fs.mkdirSync(dataDir, { recursive: true });
  const jwtSecret = env.JWT_SECRET ?? randomBytes(32).toString('hex');
  const child = await BenchChild.fork({
    name,
    entry: 'gateway-process.js',
    logDir: path.join(run.runDir, 'logs'),
    ...launchOptions(launch),
    env: {
      ...GATEWAY_SETTINGS,
      DATA_DIR: dataDir,
      JWT_SECRET: jwtSecret,
      IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64'),
      ...env,
    },
  });
  return { child, client: new GatewayClient(child.url, jwtSecret), dataDir, jwtSecret, stop: () => child.stop() };
}

/** A standalone Face emulator child that counts the calls it serves. */
export function startEmulator(run: BenchRun, name: string): Promise<BenchChild> {
  return BenchChild.fork({ name, entry: 'emulator-process.js', logDir: path.join(run.runDir, 'logs'), env: {} });
}

/** An anchor child (`anchor-process.ts`) serving a recorded response. */
export function startAnchor(run: BenchRun, kind: 'raw' | 'apollo', env: Record<string, string>, launch: Launch = {}): Promise<BenchChild> {
  return BenchChild.fork({
    name: `anchor-${kind}${launch.nameSuffix ?? ''}`,
    ...launchOptions(launch),
    entry: 'anchor-process.js',
    logDir: path.join(run.runDir, 'logs'),
    env: { NODE_ENV: 'production', ANCHOR_KIND: kind, ...env },
  });
}
