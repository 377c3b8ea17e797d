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

/**
 * Each DataLoader made on first use: most requests need one kind of read or none. A class with its
 * loaders behind getters, because a context lives as long as its WebSocket subscription: an idle
 * subscription then holds one small object, not a closure per kind of read.
 */
class RequestLoaders implements Loaders {
  private sessionLoader?: DataLoader<string, SessionRecord | undefined>;
  private attemptsLoader?: DataLoader<string, AttemptRecord[]>;
  private decisionLoader?: DataLoader<string, DecisionRecord | undefined>;
  private evidenceImagesLoader?: DataLoader<string, EvidenceImageInfo[]>;
  private followUpLoader?: DataLoader<string, FollowUpRecord | undefined>;
  private webhookAttemptsLoader?: DataLoader<string, DeliveryAttemptRecord[]>;

  constructor(private readonly store: Store) {}

  get session(): Loader<SessionRecord | undefined> {
    return (this.sessionLoader ??= new DataLoader((ids) => this.store.sessions.findByIds(ids)));
  }

  get attempts(): Loader<AttemptRecord[]> {
    return (this.attemptsLoader ??= new DataLoader((ids) => this.store.sessions.attemptsFor(ids)));
  }

  get decision(): Loader<DecisionRecord | undefined> {
    return (this.decisionLoader ??= new DataLoader((ids) => this.store.sessions.decisionsFor(ids)));
  }

  get evidenceImages(): Loader<EvidenceImageInfo[]> {
    return (this.evidenceImagesLoader ??= new DataLoader((ids) => this.store.evidence.imagesFor(ids)));
  }

  get followUp(): Loader<FollowUpRecord | undefined> {
    return (this.followUpLoader ??= new DataLoader((ids) => this.store.evidence.followUpsFor(ids)));
  }

  get webhookAttempts(): Loader<DeliveryAttemptRecord[]> {
    return (this.webhookAttemptsLoader ??= new DataLoader((ids) => this.store.webhooks.attemptsFor(ids)));
  }

  forget(): void {
    this.sessionLoader?.clearAll();
    this.attemptsLoader?.clearAll();
    this.decisionLoader?.clearAll();
    this.evidenceImagesLoader?.clearAll();
    this.followUpLoader?.clearAll();
    this.webhookAttemptsLoader?.clearAll();
  }
}

export function createLoaders(store: Store): Loaders {
  return new RequestLoaders(store);
}
