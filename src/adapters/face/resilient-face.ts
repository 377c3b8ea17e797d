/**
 * The Face port as the gateway uses it: the Azure adapter (retries with backoff and `Retry-After`, a
 * timeout per try, a bound on each call as a whole), each HTTP try taking a slot under the
 * gateway-wide cap on Face calls per second (`call-scheduler.ts`, polls yielding to starts and
 * deletes), all behind a circuit breaker (`circuit-breaker.ts`) that fails fast while Face is dead.
 */
import type { GatewayConfig } from '../../config';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { createAzureFace } from './azure-face';
import { FaceCallBudgetError, FaceCallScheduler } from './call-scheduler';
import { CIRCUIT_OPEN_MESSAGE, CircuitBreaker, withCircuitBreaker } from './circuit-breaker';
import { type FacePort, FaceUnavailableError } from '../../domain/ports/face.port';

export interface ResilientFace {
  face: FacePort;
  /**
   * The `/readyz` check: pings Face when a slot is spare. With none spare the cap is busy with calls
   * the breaker has not judged failing, so Face is reported `busy but reachable` rather than queued for.
   */
  readiness(signal: AbortSignal): Promise<string | void>;
  breaker: CircuitBreaker;
  scheduler: FaceCallScheduler;
  /** Fails the calls still waiting for a slot (the gateway is stopping). */
  close(): void;
}

export function createResilientFace(options: {
  endpoint: string;
  apiKey?: string;
  config: Pick<GatewayConfig, 'faceTimeoutMillis' | 'faceMaxRetries' | 'faceTotalTimeoutMillis' | 'faceMaxCallsPerSecond' | 'faceBreaker'>;
  logger: Logger;
  /** Counts every HTTP try to Face, by operation (`create_liveness_session`, `get_session` …) and status. */
  metrics?: Pick<Metrics, 'faceCall'>;
}): ResilientFace {
  const { config, logger, metrics } = options;
  const scheduler = new FaceCallScheduler({ callsPerSecond: config.faceMaxCallsPerSecond });
  const breaker = new CircuitBreaker({
    failureThreshold: config.faceBreaker.failureThreshold,
    coolDownMillis: config.faceBreaker.coolDownMillis,
    onStateChange: (state, { consecutiveFailures }) => {
      if (state === 'open') logger.warn({ consecutiveFailures, coolDownMillis: config.faceBreaker.coolDownMillis }, 'Face circuit opened: Face calls fail fast until a trial succeeds');
      else if (state === 'closed') logger.info({}, 'Face circuit closed: Face answers again');
      else logger.info({}, 'Face circuit half-open: one trial call goes to Face');
    },
  });
  const azure = createAzureFace({
    endpoint: options.endpoint,
    apiKey: options.apiKey,
    timeoutMillis: config.faceTimeoutMillis,
    maxRetries: config.faceMaxRetries,
    totalTimeoutMillis: config.faceTotalTimeoutMillis,
    acquire: (priority, deadlineMillis, signal) => scheduler.acquire(priority, deadlineMillis, signal),
    trySpare: () => scheduler.trySpare(),
    observe: metrics && ((operation, status, seconds) => metrics.faceCall(operation.replace(/[ -]/g, '_'), status, seconds)),
  });
  const face = withCircuitBreaker(azure, breaker);
  const readiness = async (signal: AbortSignal) => {
    try {
      await face.ping({ signal });
    } catch (error) {
      if (!(error instanceof FaceCallBudgetError) || signal.aborted) throw error;
      // Not probed: only a closed circuit says the calls filling the cap are being answered.
      if (breaker.state === 'closed') return 'busy but reachable';
      throw new FaceUnavailableError(CIRCUIT_OPEN_MESSAGE, undefined, undefined, 'CIRCUIT_OPEN');
    }
  };
  return { face, readiness, breaker, scheduler, close: () => scheduler.close() };
}
