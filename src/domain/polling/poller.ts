/**
 * Polls Face for sessions that await a result: one task per session, however many subscribers.
 *
 * - After completion is reported: poll at once, then back off from `intervalMillis` doubling up to
 *   `maxIntervalMillis`.
 * - While only subscribers wait (completion not reported): a slow fallback every `maxIntervalMillis`,
 *   for clients that never report completion; it ends when the last subscriber leaves.
 * A task ends when `pollOnce` says the session is done (decided, deleted, expired).
 * The poller knows nothing of Face or the store: it is handed `pollOnce`.
 */
export type PollResult = 'done' | 'pending';

export interface PollerOptions {
  pollOnce(sessionId: string): Promise<PollResult>;
  intervalMillis: number;
  maxIntervalMillis: number;
  onError(sessionId: string, error: unknown): void;
}

interface Task {
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** Completion was reported: poll with backoff until done. */
  urgent: boolean;
  /** Poll again as soon as the running poll finishes (completion reported mid-poll). */
  again: boolean;
  delayMillis: number;
  watchers: number;
}

export class Poller {
  private readonly tasks = new Map<string, Task>();
  private stopped = false;

  constructor(private readonly options: PollerOptions) {}

  /** Completion reported (or a restart found the session waiting): poll now, then with backoff. */
  pollSoon(sessionId: string): void {
    if (this.stopped) return;
    const task = this.task(sessionId);
    task.urgent = true;
    task.delayMillis = this.options.intervalMillis;
    if (task.running) task.again = true;
    else this.schedule(sessionId, task, 0);
  }

  /** A subscriber waits for the session's decision. Returns the function that stops watching. */
  watch(sessionId: string): () => void {
    if (this.stopped) return () => {};
    const isNew = !this.tasks.has(sessionId);
    const task = this.task(sessionId);
    task.watchers += 1;
    if (isNew) this.schedule(sessionId, task, this.options.maxIntervalMillis);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      task.watchers -= 1;
      if (task.watchers === 0 && !task.urgent && this.tasks.get(sessionId) === task) this.drop(sessionId, task);
    };
  }

  /** The session ended (e.g. deleted): stop polling it, whoever was waiting. */
  cancel(sessionId: string): void {
    const task = this.tasks.get(sessionId);
    if (task) this.drop(sessionId, task);
  }

  /** Whether any task (urgent or a subscriber's fallback) exists for the session. */
  has(sessionId: string): boolean {
    return this.tasks.has(sessionId);
  }

  isPolling(sessionId: string): boolean {
    return this.tasks.get(sessionId)?.urgent ?? false;
  }

  /** How many sessions are being polled; for tests and metrics. */
  get size(): number {
    return this.tasks.size;
  }

  /** Stops every task and waits for polls in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running = [...this.tasks.values()].map((task) => task.running);
    for (const [id, task] of this.tasks) this.drop(id, task);
    await Promise.allSettled(running);
  }

  private task(sessionId: string): Task {
    let task = this.tasks.get(sessionId);
    if (!task) {
      task = { urgent: false, again: false, delayMillis: this.options.intervalMillis, watchers: 0 };
      this.tasks.set(sessionId, task);
    }
    return task;
  }

  private schedule(sessionId: string, task: Task, delayMillis: number): void {
    clearTimeout(task.timer);
    task.timer = setTimeout(() => this.run(sessionId, task), delayMillis);
  }

  private run(sessionId: string, task: Task): void {
    task.timer = undefined;
    task.again = false;
    task.running = this.options
      .pollOnce(sessionId)
      .catch((error: unknown): PollResult => {
        this.options.onError(sessionId, error);
        return 'pending';
      })
      .then((result) => {
        task.running = undefined;
        if (this.stopped || this.tasks.get(sessionId) !== task) return;
        if (result === 'done') return this.drop(sessionId, task);
        if (task.again) return this.schedule(sessionId, task, 0);
        if (task.urgent) {
          const delay = task.delayMillis;
          task.delayMillis = Math.min(task.delayMillis * 2, this.options.maxIntervalMillis);
          return this.schedule(sessionId, task, delay);
        }
        if (task.watchers > 0) return this.schedule(sessionId, task, this.options.maxIntervalMillis);
        this.drop(sessionId, task);
      });
  }

  private drop(sessionId: string, task: Task): void {
    clearTimeout(task.timer);
    task.timer = undefined;
    if (this.tasks.get(sessionId) === task) this.tasks.delete(sessionId);
  }
}
