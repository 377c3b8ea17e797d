/**
 * DataLoaders built fresh for each HTTP request and each WebSocket operation, so that a request
 * batches its reads (one store query per kind per tick) and nothing is cached here across callers:
 * a session that another instance decides is seen as decided by the next request.
 */
import DataLoader from 'dataloader';
import type { Store } from '../domain/ports/store';
import type { AttemptRecord, DecisionRecord, SessionRecord } from '../domain/sessions/session.model';
import type { DeliveryAttemptRecord } from '../domain/webhooks/webhook.model';

export interface Loaders {
  session: Loader<SessionRecord | undefined>;
  attempts: Loader<AttemptRecord[]>;
  decision: Loader<DecisionRecord | undefined>;
  webhookAttempts: Loader<DeliveryAttemptRecord[]>;
}

/** What resolvers use of a DataLoader. */
export interface Loader<V> {
  load(id: string): Promise<V>;
}

/** A DataLoader made on first use: most requests need one kind of read or none, not all three. */
function lazyLoader<V>(batch: DataLoader.BatchLoadFn<string, V>): Loader<V> {
  let loader: DataLoader<string, V> | undefined;
  return { load: (id) => (loader ??= new DataLoader(batch)).load(id) };
}

export function createLoaders(store: Store): Loaders {
  return {
    session: lazyLoader((ids) => store.sessions.findByIds(ids)),
    attempts: lazyLoader((ids) => store.sessions.attemptsFor(ids)),
    decision: lazyLoader((ids) => store.sessions.decisionsFor(ids)),
    webhookAttempts: lazyLoader((ids) => store.webhooks.attemptsFor(ids)),
  };
}
