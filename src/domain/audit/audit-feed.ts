/**
 * The live audit feed (`auditEvents`): every new event of a tenant, in chain order, to its
 * subscribers on this instance, after an optional replay of the stored events past a resume point.
 *
 * The store is the one source of events. Writers publish a notice naming the tenant once their
 * transaction has committed (`feed-notices.ts`); this instance, while it has subscribers, listens to
 * the notices and reads each tenant's new events once (one "tail" per tenant followed here), then
 * offers them to every subscriber of that tenant and to admins following every tenant. A tenant's
 * events are appended under its chain head's lock, so they become visible in sequence order and a
 * tail that reads past its last sequence never skips one.
 *
 * No gap on opening: the notices are listened to, and a tenant's tail placed at its head, before the
 * store is read for the subscriber's replay; whatever commits meanwhile reaches the subscriber from
 * one or the other, and the stream hands out nothing at or below what it has handed out already.
 */
import type { Logger } from '../../observability/logger';
import { badInput, forbidden } from '../errors';
import type { PubSub } from '../ports/pubsub';
import type { AuditRepository } from '../ports/store';
import { distinctValues } from '../value-lists';
import { hasRole, type Viewer } from '../viewer';
import { AUDIT_ACTIONS, type AuditAction, type AuditEventRecord } from './audit.model';
import { CHAIN_BATCH_SIZE } from './audit.service';
import { AUDIT_APPENDED_TOPIC, isAuditAppendedNotice } from './feed-notices';
import { FeedStream } from './feed-stream';

/** What a subscriber asks for, any criterion absent or null. */
export interface AuditFeedRequest {
  sessionId?: string | null;
  userId?: string | null;
  /** The chain to follow: default the auditor's own; an admin without one follows every tenant. */
  tenant?: string | null;
  actions?: readonly AuditAction[] | null;
  /** Replays the stored events of the chain after this sequence first (0: the whole chain). */
  afterSequence?: number | null;
}

export interface AuditFeedOptions {
  pubsub: PubSub;
  audit: Pick<AuditRepository, 'chainSlice' | 'head' | 'tenants'>;
  logger: Logger;
  /** Live events held per subscriber that has not pulled them, at most (`AUDIT_FEED_BUFFER_EVENTS`). */
  bufferLimit: number;
  /** Events per store read; default `CHAIN_BATCH_SIZE`. */
  batchSize?: number;
  /**
   * While anyone is subscribed, every followed chain is read again this often whatever the notices
   * say, so that events whose notice was lost (Redis down) arrive within it (`AUDIT_FEED_RECHECK_MS`).
   */
  recheckMillis: number;
}

/** A tenant's chain as followed here: the last sequence read, and who wants its events. */
interface Tail {
  tenant: string;
  last: number;
  streams: Set<FeedStream>;
  reading?: Promise<void>;
  /** A notice came while reading: read once more when done. */
  again: boolean;
}

export class AuditFeed {
  private readonly tails = new Map<string, Promise<Tail>>();
  /** Admins following every tenant. */
  private readonly everyTenant = new Set<FeedStream>();
  /** Set while every tenant's tail is being placed for them; notices of new tenants wait for it. */
  private everyTenantPlaced: Promise<void> | undefined;
  private listening: { live: Promise<void>; unsubscribe: () => void } | undefined;
  private subscribers = 0;
  private recheck: NodeJS.Timeout | undefined;
  private readonly batchSize: number;

  constructor(private readonly options: AuditFeedOptions) {
    this.batchSize = options.batchSize ?? CHAIN_BATCH_SIZE;
  }

  /** How many subscribers this instance serves; for tests and metrics. */
  get size(): number {
    return this.subscribers;
  }

  /**
   * A stream of the events `request` selects. Users are refused FORBIDDEN, as are auditors naming
   * another tenant's chain; a resume point needs one chain, and must not lie past its end.
   */
  async open(viewer: Viewer, request: AuditFeedRequest, beforeEach?: () => void): Promise<AsyncIterableIterator<AuditEventRecord>> {
    const tenant = feedTenant(viewer, request.tenant ?? undefined);
    const afterSequence = request.afterSequence ?? undefined;
    if (afterSequence !== undefined && (!Number.isSafeInteger(afterSequence) || afterSequence < 0)) throw badInput('afterSequence must be 0 or more.');
    if (afterSequence !== undefined && tenant === undefined) throw badInput('afterSequence resumes one chain: name the tenant in filter.tenant.');
    const criteria = {
      sessionId: request.sessionId ?? undefined,
      userId: request.userId ?? undefined,
      actions: distinctValues('filter.actions', request.actions ?? undefined, AUDIT_ACTIONS),
    };
    const stream = new FeedStream({
      tenant,
      criteria,
      bufferLimit: this.options.bufferLimit,
      batchSize: this.batchSize,
      read: (chain, after, limit) => this.options.audit.chainSlice(chain, after, limit),
      beforeEach,
      cleanup: () => this.leave(stream, tenant),
    });
    this.subscribers += 1;
    try {
      await this.listen();
      if (tenant === undefined) {
        this.everyTenant.add(stream);
        await this.placeEveryTenant();
      } else {
        if (afterSequence !== undefined) {
          // A chain only grows: a resume point within it now stays within it.
          const head = (await this.options.audit.head(tenant))?.sequence ?? 0;
          if (afterSequence > head) throw badInput(`afterSequence ${afterSequence} is past the end of the chain (${head}).`);
        }
        // Placed in the same turn as it joins the tail, before the tail can offer it anything.
        await this.joinTail(tenant, stream, (tail) => stream.startAt(afterSequence ?? tail.last, afterSequence !== undefined));
      }
    } catch (error) {
      await stream.return();
      throw error;
    }
    return stream;
  }

  /** One pub/sub subscription serves every subscriber here; it is live before any of them reads the store. */
  private listen(): Promise<void> {
    this.recheck ??= setInterval(() => this.recheckAll(), this.options.recheckMillis).unref();
    if (!this.listening) {
      const listening = { live: Promise.resolve(), unsubscribe: () => {} };
      listening.live = this.options.pubsub
        .subscribe(AUDIT_APPENDED_TOPIC, (payload) => {
          if (isAuditAppendedNotice(payload)) this.heard(payload.tenant);
        })
        .then(
          (unsubscribe) => {
            // Every subscriber may have left while Redis confirmed the subscription.
            if (this.listening === listening) listening.unsubscribe = unsubscribe;
            else unsubscribe();
          },
          (error: unknown) => {
            if (this.listening === listening) this.listening = undefined;
            throw error;
          },
        );
      this.listening = listening;
    }
    return this.listening.live;
  }

  /** Reads every followed chain again; with admins following every tenant, finds the chains begun since too. */
  private recheckAll(): void {
    for (const placed of this.tails.values()) void placed.then((tail) => this.readTail(tail), () => undefined);
    if (this.everyTenant.size === 0 || !this.everyTenantPlaced) return;
    void this.everyTenantPlaced
      .then(() => this.options.audit.tenants())
      .then((tenants) => {
        for (const tenant of tenants) if (!this.tails.has(tenant)) this.heard(tenant);
      })
      .catch((error: unknown) => this.readFailed('*', error));
  }

  private heard(tenant: string): void {
    const known = this.tails.get(tenant);
    if (known) {
      void known.then((tail) => this.readTail(tail), () => undefined);
      return;
    }
    if (this.everyTenant.size === 0) return;
    // A tenant not followed yet, with admins following every tenant: once every tenant known when they
    // started has its tail, one still unknown began its chain since, and all of it is new.
    void (this.everyTenantPlaced ?? Promise.resolve())
      .then(() => (this.everyTenant.size > 0 ? (this.tails.get(tenant) ?? this.placeTail(tenant, 0)) : undefined))
      .then((tail) => tail && this.readTail(tail))
      .catch((error: unknown) => this.readFailed(tenant, error));
  }

  /** Adds a subscriber to the tenant's tail, which a subscriber leaving meanwhile may have dropped. */
  private async joinTail(tenant: string, stream: FeedStream, joined: (tail: Tail) => void): Promise<void> {
    for (;;) {
      const placed = this.tail(tenant);
      const tail = await placed;
      if (this.tails.get(tenant) !== placed) continue;
      tail.streams.add(stream);
      joined(tail);
      return;
    }
  }

  /** The tenant's tail, placed at its stored head when it is new here. */
  private tail(tenant: string): Promise<Tail> {
    return this.tails.get(tenant) ?? this.placeTail(tenant, undefined);
  }

  private placeTail(tenant: string, at: number | undefined): Promise<Tail> {
    const placed = (async (): Promise<Tail> => {
      const last = at ?? (await this.options.audit.head(tenant))?.sequence ?? 0;
      return { tenant, last, streams: new Set(), again: false };
    })();
    this.tails.set(tenant, placed);
    placed.catch(() => {
      if (this.tails.get(tenant) === placed) this.tails.delete(tenant);
    });
    return placed;
  }

  /** Every tenant's tail, for admins following them all; placed once while any such admin is here. */
  private placeEveryTenant(): Promise<void> {
    this.everyTenantPlaced ??= (async () => {
      const tenants = await this.options.audit.tenants();
      await Promise.all(tenants.map((tenant) => this.tail(tenant)));
    })().catch((error: unknown) => {
      this.everyTenantPlaced = undefined;
      throw error;
    });
    return this.everyTenantPlaced;
  }

  /** Reads what the tenant appended since the tail's last sequence, one read at a time, and offers it. */
  private readTail(tail: Tail): void {
    if (tail.reading) {
      tail.again = true;
      return;
    }
    tail.again = false;
    tail.reading = this.readNew(tail)
      .catch((error: unknown) => this.readFailed(tail.tenant, error))
      .finally(() => {
        tail.reading = undefined;
        // A notice that came during the read may announce an event committed after it.
        if (tail.again) this.readTail(tail);
      });
  }

  private async readNew(tail: Tail): Promise<void> {
    for (;;) {
      const batch = await this.options.audit.chainSlice(tail.tenant, tail.last, this.batchSize);
      for (const event of batch) {
        if (event.sequence <= tail.last) continue;
        tail.last = event.sequence;
        for (const stream of tail.streams) stream.offer(event);
        for (const stream of this.everyTenant) stream.offer(event);
      }
      if (batch.length < this.batchSize) return;
    }
  }

  private readFailed(tenant: string, error: unknown): void {
    // The events stay stored: the tenant's next notice reads them from where this read stopped.
    this.options.logger.warn({ tenant, err: error instanceof Error ? error.message : String(error) }, 'could not read new audit events for the live feed');
  }

  private leave(stream: FeedStream, tenant: string | undefined): void {
    this.subscribers -= 1;
    if (tenant === undefined) this.everyTenant.delete(stream);
    // A tail nobody here needs any more stops being followed (it is placed afresh when needed again).
    const prune = (chain: string, placed: Promise<Tail>, tail: Tail) => {
      if (tail.streams.size === 0 && this.everyTenant.size === 0 && this.tails.get(chain) === placed) this.tails.delete(chain);
    };
    const placed = tenant === undefined ? undefined : this.tails.get(tenant);
    if (tenant !== undefined && placed) {
      void placed.then((tail) => {
        tail.streams.delete(stream);
        prune(tenant, placed, tail);
      }, () => undefined);
    }
    if (this.everyTenant.size === 0) {
      this.everyTenantPlaced = undefined;
      for (const [chain, other] of this.tails) void other.then((tail) => prune(chain, other, tail), () => undefined);
    }
    if (this.subscribers === 0) {
      clearInterval(this.recheck);
      this.recheck = undefined;
    }
    if (this.subscribers === 0 && this.listening) {
      const { live } = this.listening;
      const listening = this.listening;
      this.listening = undefined;
      void live.then(() => listening.unsubscribe(), () => undefined);
    }
  }
}

/** The chain a viewer follows: auditors their own tenant's only (naming another is FORBIDDEN), admins any or all. */
function feedTenant(viewer: Viewer, tenant: string | undefined): string | undefined {
  if (hasRole(viewer, 'ADMIN')) return tenant;
  if (!hasRole(viewer, 'AUDITOR')) throw forbidden();
  if (tenant !== undefined && tenant !== viewer.tenant) throw forbidden();
  return viewer.tenant;
}
