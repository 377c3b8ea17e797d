/**
 * One subscriber of the live audit feed: the stored events after its resume point first, read from
 * the store one batch at a time as the subscriber pulls them, then the live events the feed offers,
 * each tenant's in chain order, none twice. Live events wait in a buffer of bounded length until the
 * subscriber pulls them; a subscriber that lets it overflow is ended with RATE_LIMITED, telling it
 * where to resume (`afterSequence`), rather than holding ever more memory.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DomainError } from '../errors';
import type { AuditEventRecord, AuditAction } from './audit.model';

/** Which events of the chain a subscriber wants; absent criteria match every event. */
export interface FeedCriteria {
  sessionId?: string;
  userId?: string;
  actions?: readonly AuditAction[];
}

export function matchesFeed(criteria: FeedCriteria, event: AuditEventRecord): boolean {
  return (
    (criteria.sessionId === undefined || event.sessionId === criteria.sessionId) &&
    (criteria.userId === undefined || event.userId === criteria.userId) &&
    (criteria.actions === undefined || criteria.actions.includes(event.action))
  );
}

export interface FeedStreamOptions {
  /** The one tenant's chain this subscriber follows; undefined: every tenant's. */
  tenant?: string;
  criteria: FeedCriteria;
  /** Live events held for a subscriber that has not pulled them yet, at most. */
  bufferLimit: number;
  /** Events per store read while replaying. */
  batchSize: number;
  /** A tenant's events in chain order after `afterSequence` (exclusive), at most `limit`. */
  read(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]>;
  /** Called once, when the stream ends however it ends: the feed forgets the subscriber. */
  cleanup(): void;
  /** Called before each event is handed out (the GraphQL layer drops what it cached for the last one). */
  beforeEach?(): void;
}

export class FeedStream implements AsyncIterableIterator<AuditEventRecord> {
  /** Per tenant, the last sequence handed out or passed over: nothing at or below it is handed out again. */
  private readonly last = new Map<string, number>();
  /** Live events offered and not yet pulled. */
  private queue: AuditEventRecord[] = [];
  /** Stored events read while replaying and not yet pulled (at most one batch). */
  private replayed: AuditEventRecord[] = [];
  private replaying: string | undefined;
  /** Counts the times the buffer was dropped during a replay: the replay must then read once more. */
  private drops = 0;
  private state: 'open' | 'failed' | 'done' = 'open';
  private failure: DomainError | undefined;
  private wake: (() => void) | undefined;
  private cleaned = false;

  constructor(private readonly options: FeedStreamOptions) {}

  /**
   * Where this subscriber stands in its tenant's chain before the first `next`: with `replay`, the
   * stored events after `sequence` come first; without, only live events follow (the feed offers no
   * event at or below it).
   */
  startAt(sequence: number, replay: boolean): void {
    const tenant = this.options.tenant;
    if (tenant === undefined) throw new Error('only a stream of one tenant has a place in a chain');
    this.last.set(tenant, sequence);
    if (replay) this.replaying = tenant;
  }

  /** The feed hands over a live event; each tenant's in chain order. Synchronous: never waits for the subscriber. */
  offer(event: AuditEventRecord): void {
    if (this.state !== 'open' || !matchesFeed(this.options.criteria, event)) return;
    const last = this.last.get(event.tenant);
    if (last !== undefined && event.sequence <= last) return;
    this.queue.push(event);
    if (this.queue.length <= this.options.bufferLimit) {
      this.wake?.();
      return;
    }
    if (this.replaying !== undefined) {
      // Every event offered is already stored: the replay reads these again rather than hold them.
      this.queue = [];
      this.drops += 1;
      return;
    }
    this.fail();
  }

  async next(): Promise<IteratorResult<AuditEventRecord>> {
    for (;;) {
      if (this.state === 'failed') {
        const failure = this.failure as DomainError;
        this.finish();
        throw failure;
      }
      if (this.state === 'done') return { value: undefined, done: true };
      const replayed = this.replayed.shift();
      if (replayed) return this.handOut(replayed);
      if (this.replaying !== undefined) {
        await this.readReplay(this.replaying);
        continue;
      }
      const live = this.queue.shift();
      if (live) {
        const last = this.last.get(live.tenant);
        if (last !== undefined && live.sequence <= last) continue;
        return this.handOut(live);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<AuditEventRecord>> {
    this.finish();
    this.wake?.();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async readReplay(tenant: string): Promise<void> {
    const { batchSize, criteria } = this.options;
    const drops = this.drops;
    const after = this.last.get(tenant) ?? 0;
    const batch = await this.options.read(tenant, after, batchSize);
    if (this.state !== 'open') return;
    if (batch.length > 0) this.last.set(tenant, Math.max(after, batch[batch.length - 1].sequence));
    this.replayed = batch.filter((event) => matchesFeed(criteria, event));
    // Caught up when the store had no more and no offered event was dropped since the read began; the
    // buffer holds everything offered since, and what the replay already handed out is skipped there.
    if (batch.length < batchSize && drops === this.drops) this.replaying = undefined;
    // A synchronous store answers at once: let other work in between batches of a long replay.
    else await nextTurn();
  }

  private handOut(event: AuditEventRecord): IteratorResult<AuditEventRecord> {
    this.last.set(event.tenant, Math.max(this.last.get(event.tenant) ?? 0, event.sequence));
    this.options.beforeEach?.();
    return { value: event, done: false };
  }

  /** Ends the stream with RATE_LIMITED: the next pull throws it, and the subscriber resumes from where it got to. */
  private fail(): void {
    const { tenant } = this.options;
    const resume = tenant === undefined ? {} : { afterSequence: this.last.get(tenant) ?? 0 };
    this.failure = new DomainError(
      'RATE_LIMITED',
      `This subscription fell more than ${this.options.bufferLimit} events behind and was ended; subscribe again with afterSequence set to the last sequence received.`,
      { reason: 'AUDIT_FEED_BEHIND', retryAfterSeconds: 1, ...resume },
    );
    this.state = 'failed';
    this.queue = [];
    this.replayed = [];
    this.release();
    this.wake?.();
  }

  private finish(): void {
    this.state = 'done';
    this.queue = [];
    this.replayed = [];
    this.release();
  }

  private release(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.options.cleanup();
  }
}
