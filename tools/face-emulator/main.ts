/**
 * `npm run face-emulator`: the Face emulator alone, for several gateway instances to share
 * (point their `FACE_ENDPOINT` at it).
 *
 * Reads `FACE_EMULATOR_PORT` (default 4100), `FACE_EMULATOR_HOST` (default 127.0.0.1) and
 * `FACE_EMULATOR_KEY` (when set, the only accepted `Ocp-Apim-Subscription-Key`) and
 * `FACE_EMULATOR_MAX_SESSIONS` (sessions kept in memory, default 10,000), `FACE_EMULATOR_TPS`
 * (management calls per second before `429`, default none) and `FACE_EMULATOR_MAX_ATTEMPTS` (device
 * attempts per session, default 3). Under
 * `NODE_ENV=production` it has no `/_faults` route.
 */
import { loadEnvFile } from '../../src/config';
import { createFaceEmulator } from './';

const DEFAULT_PORT = 4100;
const DEFAULT_HOST = '127.0.0.1';

interface EmulatorSettings {
  port: number;
  host: string;
  apiKey?: string;
  maxSessions?: number;
  transactionsPerSecond?: number;
  maxAttempts?: number;
}

/** The settings from the environment; an empty variable counts as unset. */
function readSettings(env: NodeJS.ProcessEnv): EmulatorSettings {
  const rawPort = env.FACE_EMULATOR_PORT?.trim() || undefined;
  const port = rawPort === undefined ? DEFAULT_PORT : Number(rawPort);
  if (!/^\d+$/.test(rawPort ?? '0') || !Number.isInteger(port) || port > 65_535) {
    throw new Error(`FACE_EMULATOR_PORT must be a port number from 0 to 65535, not "${rawPort}".`);
  }
  const host = env.FACE_EMULATOR_HOST?.trim() || DEFAULT_HOST;
  const apiKey = env.FACE_EMULATOR_KEY || undefined;
  const rawMaxSessions = env.FACE_EMULATOR_MAX_SESSIONS?.trim() || undefined;
  if (rawMaxSessions !== undefined && (!/^\d+$/.test(rawMaxSessions) || Number(rawMaxSessions) < 1)) {
    throw new Error(`FACE_EMULATOR_MAX_SESSIONS must be a whole number of at least 1, not "${rawMaxSessions}".`);
  }
  const transactionsPerSecond = positiveWhole(env, 'FACE_EMULATOR_TPS');
  const maxAttempts = positiveWhole(env, 'FACE_EMULATOR_MAX_ATTEMPTS');
  return {
    port,
    host,
    ...(apiKey !== undefined && { apiKey }),
    ...(rawMaxSessions !== undefined && { maxSessions: Number(rawMaxSessions) }),
    ...(transactionsPerSecond !== undefined && { transactionsPerSecond }),
    ...(maxAttempts !== undefined && { maxAttempts }),
  };
}

function positiveWhole(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim() || undefined;
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`${name} must be a whole number of at least 1, not "${raw}".`);
  return Number(raw);
}

async function main(): Promise<void> {
  let settings: EmulatorSettings;
  try {
    loadEnvFile();
    settings = readSettings(process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }

  // No fault injection under NODE_ENV=production, as for the emulator embedded in a gateway.
  const faults = process.env.NODE_ENV !== 'production';
  const emulator = createFaceEmulator({
    ...(settings.apiKey !== undefined && { apiKey: settings.apiKey }),
    maxSessions: settings.maxSessions,
    transactionsPerSecond: settings.transactionsPerSecond,
    maxAttempts: settings.maxAttempts,
    faults,
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  let url: string;
  try {
    url = await emulator.listen(settings.port, settings.host);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`The Face emulator could not listen on ${settings.host}:${settings.port}: ${reason}`);
    process.exit(1);
  }
  console.log(`Face emulator listening on ${url} (Face API v1.2 under /face/v1.2)`);
}

void main();
