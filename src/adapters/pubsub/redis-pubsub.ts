/**
 * Pub/sub over Redis (`REDIS_URL`), so a decision reached on one gateway instance reaches the
 * subscribers on every instance. Each instance holds two connections (Redis needs one dedicated to
 * SUBSCRIBE) and subscribes to a channel only while it has local listeners; a message is parsed
 * once and handed to every local listener.
 *
 * When Redis is unreachable, publishes fail and messages are lost; the session service does not
 * rely on them alone: local subscribers are told directly, and subscribers waiting for a decision
 * reached on another instance are served by the store check of their session's fallback poll.
 * ioredis reconnects by itself and re-subscribes its channels.
 */
import Redis from 'ioredis';
import type { Listener, PubSub } from '../../domain/ports/pubsub';

export interface RedisPubSubOptions {
  url: string;
  /** Prefix of every channel, so several deployments can share one Redis. */
  channelPrefix?: string;
  onError?: (error: Error) => void;
}

export interface RedisPubSub extends PubSub {
  /** The command connection, for other shared state (rate-limit counters). */
  readonly commands: Redis;
  /** Resolves when Redis answers PING on both connections; for `/readyz`. */
  ping(): Promise<void>;
}

export async function createRedisPubSub(options: RedisPubSubOptions): Promise<RedisPubSub> {
  const prefix = options.channelPrefix ?? 'liveness-gateway:';
  const connect = () =>
    new Redis(options.url, {
      lazyConnect: true,
      // Fail commands fast while disconnected rather than queueing them without bound.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
  const publisher = connect();
  const subscriber = connect();
  for (const connection of [publisher, subscriber]) connection.on('error', (error: Error) => options.onError?.(error));
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
  } catch (error) {
    publisher.disconnect();
    subscriber.disconnect();
    throw error;
  }

  /** Local listeners per topic, and the SUBSCRIBE every caller for that topic waits for. */
  const topics = new Map<string, { listeners: Set<Listener>; subscribed: Promise<unknown> }>();
  subscriber.on('message', (channel: string, message: string) => {
    const topic = topics.get(channel.slice(prefix.length));
    if (!topic || topic.listeners.size === 0) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      return;
    }
    for (const listener of [...topic.listeners]) listener(payload);
  });

  return {
    commands: publisher,
    async publish(topic, payload) {
      await publisher.publish(prefix + topic, JSON.stringify(payload));
    },
    async subscribe(name, listener) {
      let topic = topics.get(name);
      if (!topic) {
        topic = { listeners: new Set(), subscribed: subscriber.subscribe(prefix + name) };
        topics.set(name, topic);
      }
      const entry = topic;
      entry.listeners.add(listener);
      try {
        // Until Redis confirms the SUBSCRIBE, a message could pass by unseen: every caller waits for it.
        await entry.subscribed;
      } catch (error) {
        entry.listeners.delete(listener);
        if (entry.listeners.size === 0 && topics.get(name) === entry) topics.delete(name);
        throw error;
      }
      return () => {
        if (!entry.listeners.delete(listener) || entry.listeners.size > 0 || topics.get(name) !== entry) return;
        topics.delete(name);
        subscriber.unsubscribe(prefix + name).catch(() => undefined);
      };
    },
    async ping() {
      await Promise.all([publisher.ping(), subscriber.status === 'ready' ? Promise.resolve() : Promise.reject(new Error(`subscriber ${subscriber.status}`))]);
    },
    async close() {
      topics.clear();
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}
