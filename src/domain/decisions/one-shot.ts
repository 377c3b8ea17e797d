/**
 * An async iterable that yields one value, then completes: the shape of `sessionDecision`.
 *
 * A plain async generator cannot be ended while it awaits (its `return()` queues behind the await),
 * so a client that unsubscribes before the decision would hold its listeners until the decision
 * came. This iterator's `return()` ends it at once and runs `cleanup` exactly once.
 */
export class OneShot<T> implements AsyncIterableIterator<T> {
  private value: T | undefined;
  private state: 'waiting' | 'ready' | 'done' = 'waiting';
  private wake: (() => void) | undefined;
  private cleaned = false;

  constructor(private readonly cleanup: () => void) {}

  /** The first call wins; later ones are ignored. */
  resolve(value: T): void {
    if (this.state !== 'waiting') return;
    this.value = value;
    this.state = 'ready';
    this.wake?.();
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.state === 'waiting') await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.state === 'ready') {
      const value = this.value as T;
      this.finish();
      return { value, done: false };
    }
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<T>> {
    this.finish();
    this.wake?.();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    this.state = 'done';
    this.value = undefined;
    if (!this.cleaned) {
      this.cleaned = true;
      this.cleanup();
    }
  }
}
