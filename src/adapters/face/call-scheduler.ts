/**
 * The gateway-wide cap on Face calls per second (Azure's S0 tier allows 10 transactions per second
 * per Face resource; beyond it Face answers 429). Every HTTP try to Face, retries included, takes one
 * slot from a token bucket that holds at most one second's worth of slots and refills continuously.
 *
 * Calls wait in two queues: `interactive` (a user waits on it: session starts, deletes, the readiness
 * probe) is always served before `background` (polls of sessions awaiting a result, the expiry
 * sweeper's last look), first come first served within each. A call that has not got its slot by its
 * deadline fails with `FaceCallBudgetError`, which is UPSTREAM_UNAVAILABLE to the caller but, being
 * the gateway's own congestion rather than Face's failure, never trips the circuit breaker.
 *
 * This cap is per gateway process; several instances sharing one Face resource should each be given
 * their share (`FACE_MAX_CALLS_PER_SECOND` = the resource's limit / the number of instances).
 */
import { type FaceCallPriority, FaceUnavailableError } from '../../domain/ports/face.port';

export type { FaceCallPriority };

/** The gateway gave up waiting for a slot under its own cap; Face was not asked. */
export class FaceCallBudgetError extends FaceUnavailableError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(message, undefined, retryAfterSeconds);
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
   * slot was free by `deadlineMillis` (on the scheduler's clock).
   */
  acquire(priority: FaceCallPriority, deadlineMillis: number): Promise<void> {
    if (this.options.callsPerSecond <= 0) return Promise.resolve();
    this.refill();
    const ahead = priority === 'interactive' ? this.queues.interactive.length : this.queues.interactive.length + this.queues.background.length;
    if (ahead === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const expire = () => {
        const queue = this.queues[priority];
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(
          new FaceCallBudgetError(
            `The gateway's cap of ${this.options.callsPerSecond} Face calls per second left no slot for this ${priority} call in time.`,
            1,
          ),
        );
      };
      // setTimeout cannot wait longer than 2^31 - 1 ms (it would fire at once): such a deadline is no deadline.
      const wait = deadlineMillis - this.now();
      if (wait < MAX_TIMER_MILLIS) waiter.timer = setTimeout(expire, Math.max(0, wait));
      this.queues[priority].push(waiter);
      this.scheduleDrain();
    });
  }

  /** Rejects every waiting call (the gateway is stopping). */
  close(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    for (const queue of Object.values(this.queues)) {
      for (const waiter of queue.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new FaceCallBudgetError('The gateway is stopping.'));
      }
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
