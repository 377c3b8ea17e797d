/**
 * At most one costly chain operation of a kind in flight per caller: a verification or an export reads
 * a tenant's whole chain, and a caller who starts them side by side (many requests, many sockets)
 * would multiply that read. A second one is refused `RATE_LIMITED`, not queued, so nothing piles up.
 * Kept per gateway instance: each instance bounds its own work.
 */
import { rateLimited } from '../limits/limits';
import type { Viewer } from '../viewer';

/** What a refused caller is told to wait: about how long a long chain takes to read. */
export const CHAIN_BUSY_RETRY_AFTER_SECONDS = 5;

export class OneAtATime {
  private readonly running = new Set<string>();

  constructor(private readonly what: string) {}

  /** Takes the caller's slot or throws RATE_LIMITED; the returned function gives it back (once). */
  acquire(viewer: Viewer): () => void {
    const key = JSON.stringify([viewer.tenant, viewer.userId]);
    if (this.running.has(key)) throw rateLimited(this.what, CHAIN_BUSY_RETRY_AFTER_SECONDS * 1000);
    this.running.add(key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running.delete(key);
    };
  }

  async run<T>(viewer: Viewer, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(viewer);
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/**
 * `source`, calling `release` once it is done with: read to the end, failed, or stopped with `return`
 * (even before its first item, when an async generator's own `finally` would never run).
 */
export function releasing<T>(source: AsyncGenerator<T>, release: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        try {
          const result = await source.next();
          if (result.done) release();
          return result;
        } catch (error) {
          release();
          throw error;
        }
      },
      async return(value?: unknown) {
        try {
          return await source.return(value);
        } finally {
          release();
        }
      },
    }),
  };
}
