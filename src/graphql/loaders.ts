/**
 * DataLoaders built fresh for each HTTP request and each WebSocket operation, so that a request
 * batches its reads (one store query per kind per tick) and nothing is cached here across callers:
 * a session that another instance decides is seen as decided by the next request.
 */
import DataLoader from 'dataloader';
import type { EvidenceImageInfo, FollowUpRecord } from '../domain/evidence/evidence.model';
import type { Store } from '../domain/ports/store';
import type { AttemptRecord, DecisionRecord, SessionRecord } from '../domain/sessions/session.model';
import type { DeliveryAttemptRecord } from '../domain/webhooks/webhook.model';

export interface Loaders {
  session: Loader<SessionRecord | undefined>;
  attempts: Loader<AttemptRecord[]>;
  decision: Loader<DecisionRecord | undefined>;
  evidenceImages: Loader<EvidenceImageInfo[]>;
  followUp: Loader<FollowUpRecord | undefined>;
  /** Drops what the loaders hold: a long-lived subscription does so before each event, or its cache would only grow. */
  forget(): void;
  webhookAttempts: Loader<DeliveryAttemptRecord[]>;
}

/** What resolvers use of a DataLoader. */
export interface Loader<V> {
  load(id: string): Promise<V>;
}

/** A DataLoader made on first use: most requests need one kind of read or none, not all three. */
function lazyLoader<V>(batch: DataLoader.BatchLoadFn<string, V>): Loader<V> & { forget(): void } {
  let loader: DataLoader<string, V> | undefined;
  return {
    load: (id) => (loader ??= new DataLoader(batch)).load(id),
    forget: () => loader?.clearAll(),
  };
}

export function createLoaders(store: Store): Loaders {
  const session = lazyLoader((ids) => store.sessions.findByIds(ids));
  const attempts = lazyLoader((ids) => store.sessions.attemptsFor(ids));
  const decision = lazyLoader((ids) => store.sessions.decisionsFor(ids));
  const evidenceImages = lazyLoader((ids) => store.evidence.imagesFor(ids));
  const followUp = lazyLoader((ids) => store.evidence.followUpsFor(ids));
  const webhookAttempts = lazyLoader((ids) => store.webhooks.attemptsFor(ids));
  return {
    session,
    attempts,
    decision,
    evidenceImages,
    followUp,
    webhookAttempts,
    forget() {
      for (const loader of [session, attempts, decision, evidenceImages, followUp, webhookAttempts]) loader.forget();
    },
  };
}
