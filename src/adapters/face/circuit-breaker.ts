/**
 * A circuit breaker around the Face port, so that a dead Face service fails fast instead of holding
 * every caller for the whole retry budget.
 *
 * - closed: calls go through. `failureThreshold` consecutive calls that end in `FaceUnavailableError`
 *   (timeouts, connection errors, 408/429/5xx after the adapter's retries) open it. Any answer from
 *   Face, a refusal (4xx) included, proves it alive and resets the count.
 * - open: calls fail at once with `FaceUnavailableError` ('circuit open', with `retryAfterSeconds`
 *   until the cool-down ends); Face is not asked. `ping()` fails the same way, so `/readyz` reports
 *   `face: down: circuit open`.
 * - half-open: after `coolDownMillis`, the next call (a start, a poll or a readiness probe) is the one
 *   trial let through; the others still fail fast. Its success closes the circuit, its failure opens
 *   it for another cool-down.
 *
 * `FaceCallBudgetError` (the gateway's own per-second cap gave no slot in time, gave it too late for
 * a fair try, or the caller abandoned the call) says nothing about Face and counts neither way. The state is per process: each gateway instance judges Face by what it
 * sees itself.
 */
import { FaceCallBudgetError } from './call-scheduler';
import { type FacePort, FaceUnavailableError } from '../../domain/ports/face.port';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive unavailable failures that open the circuit; 0 switches the breaker off. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  coolDownMillis: number;
  now?: () => number;
  /** Told of every change of state, e.g. to log it. */
  onStateChange?: (state: CircuitState, details: { consecutiveFailures: number }) => void;
}

export const CIRCUIT_OPEN_MESSAGE = 'circuit open';

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Runs `call` unless the circuit is open; counts how it ended. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.options.failureThreshold <= 0) return call();
    const trial = this.admit();
    try {
      const result = await call();
      this.succeeded();
      return result;
    } catch (error) {
      if (error instanceof FaceCallBudgetError) {
        if (trial) this.current = 'open'; // no verdict on Face: the next call after the cool-down tries again
      } else if (error instanceof FaceUnavailableError) {
        this.failed();
      } else {
        this.succeeded(); // Face answered (e.g. refused the request): it is alive
      }
      throw error;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  /** Lets the call through (true when it is the half-open trial), or throws the fail-fast error. */
  private admit(): boolean {
    if (this.current === 'closed') return false;
    const remaining = this.openedAt + this.options.coolDownMillis - this.now();
    if (this.current === 'open' && remaining <= 0 && !this.trialInFlight) {
      this.change('half-open');
      this.trialInFlight = true;
      return true;
    }
    throw new FaceUnavailableError(CIRCUIT_OPEN_MESSAGE, undefined, Math.max(1, Math.ceil(remaining / 1000)), 'CIRCUIT_OPEN');
  }

  private succeeded(): void {
    this.consecutiveFailures = 0;
    if (this.current !== 'closed') this.change('closed');
  }

  private failed(): void {
    this.consecutiveFailures += 1;
    if (this.current === 'half-open' || (this.current === 'closed' && this.consecutiveFailures >= this.options.failureThreshold)) {
      this.openedAt = this.now();
      this.change('open');
    }
  }

  private change(state: CircuitState): void {
    this.current = state;
    this.options.onStateChange?.(state, { consecutiveFailures: this.consecutiveFailures });
  }
}

/** The Face port with every call, the readiness probe included, going through `breaker`. */
export function withCircuitBreaker(face: FacePort, breaker: CircuitBreaker): FacePort {
  return {
    createLivenessSession: (request) => breaker.run(() => face.createLivenessSession(request)),
    createLivenessWithVerifySession: (request) => breaker.run(() => face.createLivenessWithVerifySession(request)),
    getSession: (kind, sessionId, options) => breaker.run(() => face.getSession(kind, sessionId, options)),
    getSessionImage: (sessionImageId) => breaker.run(() => face.getSessionImage(sessionImageId)),
    deleteSession: (kind, sessionId) => breaker.run(() => face.deleteSession(kind, sessionId)),
    ping: (options) => breaker.run(() => face.ping(options)),
  };
}
