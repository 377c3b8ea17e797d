/**
 * Fan-out of events to subscribers, in this process or between instances (adapters: in-process and
 * Redis). Payloads must survive JSON: the Redis adapter serializes them.
 */
export type Listener = (payload: unknown) => void;

export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  /** Resolves once the subscription is live, with the function that ends it. */
  subscribe(topic: string, listener: Listener): Promise<() => void>;
  close(): Promise<void>;
}
