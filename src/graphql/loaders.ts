/**
 * DataLoaders built fresh for each HTTP request and each WebSocket operation, so nothing is cached
 * across callers but what the store keeps for good (a decided session's decision and attempts,
 * `KeptFirstLoader`).
 */
import DataLoader from 'dataloader';
import type { Store } from '../domain/ports/store';
import type { AttemptRecord, DecisionRecord, SessionRecord } from '../domain/sessions/session.model';

export interface Loaders {
  session: Loader<SessionRecord | undefined>;
  attempts: KeptFirstLoader<AttemptRecord[]>;
  decision: KeptFirstLoader<DecisionRecord | undefined>;
}

/**
 * Answers from the records the store keeps because they are final, at once and without a promise;
 * loads anything else through its DataLoader (batched, one read per tick). A resolver returning a
 * plain value spares graphql-js a promise per field and per object: for `session(id)` of a decided
 * session, about a third of the execution's time (issue 6).
 */
export interface KeptFirstLoader<V> {
  load(id: string): V | Promise<V>;
}

/** What resolvers use of a DataLoader. */
export interface Loader<V> {
  load(id: string): Promise<V>;
}

/**
 * A DataLoader made on first use. A request makes a set of loaders, and most use none of them
 * (`session(id)` of a decided session reads its row directly and its decision and attempts from
 * what is kept): three DataLoaders and their caches per request for nothing.
 */
function lazyLoader<V>(batch: DataLoader.BatchLoadFn<string, V>): Loader<V> {
  let loader: DataLoader<string, V> | undefined;
  return { load: (id) => (loader ??= new DataLoader(batch)).load(id) };
}

function keptFirst<V>(kept: (id: string) => V | undefined, loader: Loader<V>): KeptFirstLoader<V> {
  return { load: (id) => kept(id) ?? loader.load(id) };
}

export function createLoaders(store: Store): Loaders {
  return {
    session: lazyLoader((ids) => store.sessions.findByIds(ids)),
    attempts: keptFirst(
      (id) => store.sessions.keptAttempts(id),
      lazyLoader((ids) => store.sessions.attemptsFor(ids)),
    ),
    decision: keptFirst(
      (id) => store.sessions.keptDecision(id),
      lazyLoader((ids) => store.sessions.decisionsFor(ids)),
    ),
  };
}
