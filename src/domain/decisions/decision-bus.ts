/**
 * Carries each decision to the subscribers waiting for it: this instance's directly, the other
 * instances' through pub/sub. One pub/sub subscription per session serves all of this instance's
 * subscribers of it, so a message is decoded once and handed to each, however many there are.
 */
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import type { PubSub } from '../ports/pubsub';
import type { SessionRepository, Transition } from '../ports/store';
import type { DecisionEvent } from '../sessions/session.model';
import { OneShot } from './one-shot';
import { decisionTopic, fromPayload, toPayload } from './wire';

export interface DecisionBusOptions {
  pubsub: PubSub;
  sessions: Pick<SessionRepository, 'decisionsFor'>;
  logger: Logger;
  /** Counts the decisions this instance reaches, by verdict. */
  metrics?: Pick<Metrics, 'decision'>;
  /**
   * Starts a subscriber's fallback poll of an undecided session, for clients that never report
   * completion; returns the function that ends it.
   */
  fallbackPoll(sessionId: string): () => void;
}

/** The subscribers of one session on this instance, and the one pub/sub subscription they share. */
interface Waiters {
  streams: Set<OneShot<DecisionEvent>>;
  /** Resolves when the pub/sub subscription is live (rejects if it could not be made). */
  live: Promise<void>;
  unsubscribe: () => void;
}

export class DecisionBus {
  /** This instance's subscribers still waiting for a decision, by session. */
  private readonly waiting = new Map<string, Waiters>();

  constructor(private readonly options: DecisionBusOptions) {}

  /**
   * The decision of a session, as a stream of exactly one event; the caller has checked that the
   * viewer may see the session. The pub/sub subscription is live *before* the store is read, so a
   * decision landing in between is seen by one or the other, never missed.
   */
  async stream(sessionId: string): Promise<AsyncIterableIterator<DecisionEvent>> {
    let stopPolling = () => {};
    const stream = new OneShot<DecisionEvent>(() => {
      stopPolling();
      this.unwait(sessionId, stream);
    });
    try {
      await this.wait(sessionId, stream);
      const [existing] = await this.options.sessions.decisionsFor([sessionId]);
      if (existing) stream.resolve(existing);
      else stopPolling = this.options.fallbackPoll(sessionId);
    } catch (error) {
      await stream.return();
      throw error;
    }
    return stream;
  }

  /**
   * Tells everyone of the decision a transition reached, if it reached one. `logger`: the logger of
   * the request that reached it (a deletion), whose lines carry its id; absent (a poll), the bus's own.
   */
  async announce(transition: Transition, logger: Logger = this.options.logger): Promise<void> {
    const decision = transition.newDecision;
    if (!decision) return;
    const { metrics, pubsub } = this.options;
    logger.info({ sessionId: decision.sessionId, verdict: decision.verdict }, 'decision reached');
    metrics?.decision(decision.verdict);
    // Our own subscribers hear it directly; pub/sub carries it to other instances (and to ours again,
    // which a one-shot stream ignores). A failed publish loses nothing: the stored decision reaches
    // other instances' subscribers through their fallback poll.
    const event: DecisionEvent = { ...decision, session: transition.session };
    for (const stream of this.waiting.get(decision.sessionId)?.streams ?? []) stream.resolve(event);
    await pubsub.publish(decisionTopic(decision.sessionId), toPayload(event)).catch((error: unknown) =>
      logger.warn({ sessionId: decision.sessionId, err: error instanceof Error ? error.message : String(error) }, 'could not publish a decision'),
    );
  }

  /**
   * Hands a stored decision to this instance's waiting subscribers: one reached by another instance
   * whose message never arrived (Redis down).
   */
  async deliverStored(sessionId: string): Promise<void> {
    const streams = this.waiting.get(sessionId)?.streams;
    if (!streams || streams.size === 0) return;
    const [decision] = await this.options.sessions.decisionsFor([sessionId]);
    if (decision) for (const stream of streams) stream.resolve(decision);
  }

  /** Adds a subscriber of a session; resolves once the session's pub/sub subscription is live. */
  private wait(sessionId: string, stream: OneShot<DecisionEvent>): Promise<void> {
    let waiters = this.waiting.get(sessionId);
    if (!waiters) {
      const created: Waiters = { streams: new Set(), live: Promise.resolve(), unsubscribe: () => {} };
      created.live = this.options.pubsub
        .subscribe(decisionTopic(sessionId), (payload) => {
          const event = fromPayload(payload);
          for (const waiting of created.streams) waiting.resolve(event);
        })
        .then((unsubscribe) => {
          // Every subscriber may have left while Redis confirmed the subscription.
          if (this.waiting.get(sessionId) === created) created.unsubscribe = unsubscribe;
          else unsubscribe();
        });
      this.waiting.set(sessionId, (waiters = created));
    }
    waiters.streams.add(stream);
    return waiters.live;
  }

  private unwait(sessionId: string, stream: OneShot<DecisionEvent>): void {
    const waiters = this.waiting.get(sessionId);
    if (waiters?.streams.delete(stream) && waiters.streams.size === 0) {
      this.waiting.delete(sessionId);
      waiters.unsubscribe();
    }
  }
}
