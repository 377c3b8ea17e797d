/**
 * Fan-out of events to subscribers. In-process by default; Redis later, behind the same interface.
 * Payloads must survive JSON (the Redis adapter will serialize them).
 */
export type Listener = (payload: unknown) => void;

export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  /** Resolves once the subscription is live, with the function that ends it. */
  subscribe(topic: string, listener: Listener): Promise<() => void>;
  close(): Promise<void>;
}

export function createInProcessPubSub(): PubSub {
  const topics = new Map<string, Set<Listener>>();
  return {
    async publish(topic, payload) {
      for (const listener of topics.get(topic) ?? []) listener(payload);
    },
    async subscribe(topic, listener) {
      let listeners = topics.get(topic);
      if (!listeners) topics.set(topic, (listeners = new Set()));
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && topics.get(topic) === listeners) topics.delete(topic);
      };
    },
    async close() {
      topics.clear();
    },
  };
}
