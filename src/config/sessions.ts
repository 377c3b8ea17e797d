/** How sessions run: attempts, the device digest, polling Face, leases and the expiry sweep. */
import { boolean, ConfigError, type Env, integer } from './parse';

export interface SessionSettings {
  /** How long a session's poll lease lasts; another instance takes over that long after its poller died. */
  sessionLeaseMillis: number;
  /** Attempts a session may use; failed attempts up to it decide the session (Face allows 3). */
  livenessMaxAttempts: number;
  /** Whether `completeLivenessSession` must carry the device's digest (a tenant policy may override it later). */
  requireDeviceDigest: boolean;
  pollIntervalMillis: number;
  pollMaxIntervalMillis: number;
  /** How often sessions past their `expiresAt` are looked for and given their EXPIRED decision. */
  expirySweepIntervalMillis: number;
}

export function sessionSettings(env: Env): SessionSettings {
  const pollIntervalMillis = integer(env, 'POLL_INTERVAL_MS', 500, 10, 600_000);
  const pollMaxIntervalMillis = integer(env, 'POLL_MAX_INTERVAL_MS', 5_000, 10, 3_600_000);
  if (pollMaxIntervalMillis < pollIntervalMillis) {
    throw new ConfigError(`POLL_MAX_INTERVAL_MS (${pollMaxIntervalMillis}) must not be smaller than POLL_INTERVAL_MS (${pollIntervalMillis}).`);
  }
  return {
    sessionLeaseMillis: integer(env, 'SESSION_LEASE_MS', 15_000, 100, 600_000),
    livenessMaxAttempts: integer(env, 'LIVENESS_MAX_ATTEMPTS', 3, 1, 100),
    requireDeviceDigest: boolean(env, 'REQUIRE_DEVICE_DIGEST', false),
    pollIntervalMillis,
    pollMaxIntervalMillis,
    expirySweepIntervalMillis: integer(env, 'EXPIRY_SWEEP_INTERVAL_MS', 5_000, 10, 3_600_000),
  };
}
