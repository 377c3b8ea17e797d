/**
 * The gateway-wide cap on Face calls per second (Azure's S0 tier allows 10 transactions per second
 * per Face resource; beyond it Face answers 429). Every HTTP try to Face, retries included, takes one
 * slot from a token bucket that holds at most one second's worth of slots and refills continuously.
 *
 * Calls wait in two queues: `interactive` (a user waits on it: session starts, deletes) is always
 * served before `background` (polls of sessions awaiting a result, the expiry sweeper's last look),
 * first come first served within each. A call that has not got its slot by its deadline, or whose
 * caller gave up (its abort signal), leaves the queue and fails with `FaceCallBudgetError`, which is
 * UPSTREAM_UNAVAILABLE to the caller but, being the gateway's own congestion rather than Face's
 * failure, never trips the circuit breaker.
 *
 * The readiness probe never queues: it takes a spare slot (`trySpare`) or none. Anyone may ask for
 * `/readyz`, so a probe that waited would sit in front of the users' calls and spend their budget.
 *
 * This cap is per gateway process; several instances sharing one Face resource should each be given
 * their share (`FACE_MAX_CALLS_PER_SECOND` = the resource's limit / the number of instances).
 */
import { type FaceCallPriority, FaceUnavailableError } from '../../domain/ports/face.port';

export type { FaceCallPriority };

/** The gateway gave up waiting for a slot under its own cap; Face was not asked. */
export class FaceCallBudgetError extends FaceUnavailableError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(message, undefined, retryAfterSeconds, 'GATEWAY_BUSY');
    this.name = 'FaceCallBudgetError';
  }
}

export interface FaceCallSchedulerOptions {
  /** Slots per second; 0 switches the cap off. */
  callsPerSecond: number;
  /** Milliseconds, monotonic enough for rates; default `Date.now`. */
  now?: () => number;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

const MAX_TIMER_MILLIS = 2 ** 31 - 1;

export class FaceCallScheduler {
  private readonly capacity: number;
  private tokens: number;
  private refilledAt: number;
  private readonly queues: Record<FaceCallPriority, Waiter[]> = { interactive: [], background: [] };
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: FaceCallSchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.capacity = Math.max(1, options.callsPerSecond);
    this.tokens = this.capacity;
    this.refilledAt = this.now();
  }

  /** How many calls wait for a slot, per priority; for tests and metrics. */
  get waiting(): Record<FaceCallPriority, number> {
    return { interactive: this.queues.interactive.length, background: this.queues.background.length };
  }

  /**
   * Resolves when the caller may send one request to Face. Rejects with `FaceCallBudgetError` when no
   * slot was free by `deadlineMillis` (on the scheduler's clock), or as soon as `signal` aborts; either
   * way the call leaves the queue and takes no slot.
   */
  acquire(priority: FaceCallPriority, deadlineMillis: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abandoned(priority));
    if (this.options.callsPerSecond <= 0) return Promise.resolve();
    this.refill();
    const ahead = priority === 'interactive' ? this.queues.interactive.length : this.queues.interactive.length + this.queues.background.length;
    if (ahead === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: Error) => {
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
        const queue = this.queues[priority];
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(error);
      };
      const onAbort = () => leave(abandoned(priority));
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: leave,
      };
      const expire = () =>
        leave(
          new FaceCallBudgetError(
            `The gateway's cap of ${this.options.callsPerSecond} Face calls per second left no slot for this ${priority} call in time.`,
            1,
          ),
        );
      // setTimeout cannot wait longer than 2^31 - 1 ms (it would fire at once): such a deadline is no deadline.
      const wait = deadlineMillis - this.now();
      if (wait < MAX_TIMER_MILLIS) waiter.timer = setTimeout(expire, Math.max(0, wait));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queues[priority].push(waiter);
      this.scheduleDrain();
    });
  }

  /**
   * Takes a slot only when no call waits and another slot stays free for the next user (the whole
   * bucket, when it holds a single slot); never waits. For the readiness probe, which must not spend
   * what the users' calls need.
   */
  trySpare(): boolean {
    if (this.options.callsPerSecond <= 0) return true;
    this.refill();
    if (this.queues.interactive.length > 0 || this.queues.background.length > 0) return false;
    if (this.tokens < Math.min(2, this.capacity)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Rejects every waiting call (the gateway is stopping). */
  close(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    for (const queue of Object.values(this.queues)) {
      for (const waiter of [...queue]) waiter.reject(new FaceCallBudgetError('The gateway is stopping.'));
    }
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.options.callsPerSecond) / 1000);
    this.refilledAt = now;
  }

  private drain(): void {
    this.drainTimer = undefined;
    this.refill();
    while (this.tokens >= 1) {
      const waiter = this.queues.interactive.shift() ?? this.queues.background.shift();
      if (!waiter) break;
      this.tokens -= 1;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainTimer || (this.queues.interactive.length === 0 && this.queues.background.length === 0)) return;
    const missing = Math.max(0, 1 - this.tokens);
    const delay = Math.ceil((missing * 1000) / this.options.callsPerSecond);
    this.drainTimer = setTimeout(() => this.drain(), delay);
  }
}

function abandoned(priority: FaceCallPriority): FaceCallBudgetError {
  return new FaceCallBudgetError(`The ${priority} call was abandoned while it waited for a Face slot.`);
}
