/** Settings of the Face service the gateway calls: Azure, or the built-in emulator. */
import { boolean, ConfigError, type Env, integer, optionalInteger, read, url } from './parse';

export type FaceConfig =
  /** The built-in emulator, served under `/emulator` on the gateway's own port. */
  | {
      mode: 'emulator';
      emulatorKey?: string;
      /** Sessions it keeps; past it, the oldest is forgotten. */
      emulatorMaxSessions: number;
      /** Management calls per second it answers before `429` (as Azure throttles); undefined: no cap. */
      emulatorTransactionsPerSecond?: number;
      /** Device attempts per session it takes (Face: 3). */
      emulatorMaxAttempts: number;
    }
  | { mode: 'azure'; endpoint: string; apiKey?: string };

export interface FaceSettings {
  face: FaceConfig;
  faceTimeoutMillis: number;
  faceMaxRetries: number;
  /** One Face call as a whole: every try, backoff and wait for a slot under the per-second cap. */
  faceTotalTimeoutMillis: number;
  /** Gateway-wide cap on HTTP requests to Face per second (Azure S0: 10 per resource); 0: no cap. */
  faceMaxCallsPerSecond: number;
  /** The circuit breaker around Face (`face/circuit-breaker.ts`); a threshold of 0 switches it off. */
  faceBreaker: { failureThreshold: number; coolDownMillis: number };
  /** Delete a session at Face once its decision (and its images) are stored. */
  faceDeleteAfterDecision: boolean;
  /** How long one `/readyz` answer is reused, so a flood of probes costs one check (`transport/health.ts`). */
  readinessCacheMillis: number;
}

export function faceSettings(env: Env, production: boolean): FaceSettings {
  const faceEndpoint = url(env, 'FACE_ENDPOINT', ['https:', 'http:']);
  const emulatorOptIn = boolean(env, 'FACE_EMULATOR', false);
  if (faceEndpoint && emulatorOptIn) {
    throw new ConfigError('FACE_EMULATOR=true and FACE_ENDPOINT cannot both be set: choose the emulator or a Face endpoint.');
  }
  if (production && !faceEndpoint && !emulatorOptIn) {
    throw new ConfigError('FACE_ENDPOINT must be set when NODE_ENV=production (or set FACE_EMULATOR=true to run the built-in emulator on purpose).');
  }
  // Without a key the client signs with Microsoft Entra ID, and the Azure client sends bearer tokens
  // over https only: every call would fail, reported as Face not answering.
  if (faceEndpoint?.toLowerCase().startsWith('http:') && read(env, 'FACE_APIKEY') === undefined) {
    throw new ConfigError(
      'FACE_APIKEY must be set when FACE_ENDPOINT is an http:// URL: without a key the gateway would sign with Microsoft Entra ID, whose tokens are sent over https only (a standalone emulator accepts any key unless FACE_EMULATOR_KEY is set).',
    );
  }
  const face: FaceConfig = faceEndpoint
    ? { mode: 'azure', endpoint: faceEndpoint, apiKey: read(env, 'FACE_APIKEY') }
    : {
        mode: 'emulator',
        emulatorKey: read(env, 'FACE_EMULATOR_KEY'),
        emulatorMaxSessions: integer(env, 'FACE_EMULATOR_MAX_SESSIONS', 10_000, 1, 10_000_000),
        emulatorTransactionsPerSecond: optionalInteger(env, 'FACE_EMULATOR_TPS', 1, 100_000),
        emulatorMaxAttempts: integer(env, 'FACE_EMULATOR_MAX_ATTEMPTS', 3, 1, 100),
      };
  return {
    face,
    faceTimeoutMillis: integer(env, 'FACE_TIMEOUT_MS', 10_000, 100, 120_000),
    faceMaxRetries: integer(env, 'FACE_MAX_RETRIES', 3, 0, 10),
    faceTotalTimeoutMillis: integer(env, 'FACE_TOTAL_TIMEOUT_MS', 25_000, 100, 600_000),
    faceMaxCallsPerSecond: integer(env, 'FACE_MAX_CALLS_PER_SECOND', 10, 0, 100_000),
    faceBreaker: {
      failureThreshold: integer(env, 'FACE_BREAKER_FAILURES', 5, 0, 1_000),
      coolDownMillis: integer(env, 'FACE_BREAKER_COOLDOWN_MS', 30_000, 10, 3_600_000),
    },
    faceDeleteAfterDecision: boolean(env, 'FACE_DELETE_AFTER_DECISION', true),
    readinessCacheMillis: integer(env, 'READINESS_CACHE_MS', 2_000, 0, 60_000),
  };
}

/**
 * The emulator's management API is served on the gateway's public port: without a key of its own it
 * would create, read and delete sessions for anyone who can reach that port. Checked after the JWT
 * settings, so an operator fixes the settings in the order the docs list them.
 */
export function requireEmulatorKeyInProduction(face: FaceConfig, production: boolean): void {
  if (production && face.mode === 'emulator' && face.emulatorKey === undefined) {
    throw new ConfigError('FACE_EMULATOR_KEY must be set when NODE_ENV=production and FACE_EMULATOR=true, or the emulator on the public port accepts any key.');
  }
}
