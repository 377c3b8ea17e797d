/**
 * Pub/sub within one process: enough for a single instance; several share decisions through Redis
 * (`redis-pubsub.ts`) behind the same port.
 */
import type { Listener, PubSub } from '../../domain/ports/pubsub';

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
