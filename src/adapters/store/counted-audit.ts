/**
 * Where an audit page's `totalCount` comes from, for every adapter. Counting a tenant's rows walks
 * its whole index on every page, which at a million events is far over a page's budget; but a
 * tenant's chain head (`audit_heads`) records its length, advanced in the very transaction that
 * appends the events. So for a history narrowed to one tenant and nothing else the count is the
 * head's `sequence`, for every tenant the sum of the heads. It equals the rows as long as the chain
 * is intact: a row deleted or moved behind the gateway's back is what `verifyAuditChain` reports.
 * Any other filter counts rows, those of one tenant incrementally (`AuditCountCache`).
 */
import type { AuditEventRecord } from '../../domain/audit/audit.model';
import type { AuditCheckpoint, StoredHead } from '../../domain/audit/seal';
import type { AuditFilter, AuditRepository, Page } from '../../domain/ports/store';
import type { ReadScope } from '../../domain/viewer';

type Positioned = AuditEventRecord & { position: number };

/** What an adapter reads of the audit trail; `CountedAuditRepository` makes it an `AuditRepository`. */
export interface AuditRows extends Omit<AuditRepository, 'list'> {
  /** A page of `list`, newest first, without its `totalCount`. */
  page(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Omit<Page<Positioned>, 'totalCount'>>;
  /**
   * How many events `scope` and `filter` match; with `sequences`, only those with
   * `after < sequence <= upTo` (given only when the scope and filter name a single tenant).
   */
  count(scope: ReadScope, filter: AuditFilter, sequences?: { after: number; upTo: number }): Promise<number>;
  /** The sum of every tenant's head `sequence`: the number of events in all chains. */
  headsTotal(): Promise<number>;
}

export type AuditCountSource = { kind: 'none' } | { kind: 'head'; tenant: string } | { kind: 'allHeads' } | { kind: 'rows'; tenant?: string };

export function auditCountSource(scope: ReadScope, filter: AuditFilter): AuditCountSource {
  const tenants = new Set([scope.kind === 'all' ? undefined : scope.tenant, filter.tenant].filter((tenant) => tenant !== undefined));
  if (tenants.size > 1) return { kind: 'none' }; // two different tenants: no event is in both
  const narrowed =
    scope.kind === 'own' || filter.sessionId !== undefined || filter.userId !== undefined || (filter.actions?.length ?? 0) > 0 || !!filter.from || !!filter.to;
  const [tenant] = tenants;
  if (narrowed) return tenant === undefined ? { kind: 'rows' } : { kind: 'rows', tenant };
  return tenant === undefined ? { kind: 'allHeads' } : { kind: 'head', tenant };
}

/** The adapter's audit reads, with each page's `totalCount` taken from where `auditCountSource` says. */
export class CountedAuditRepository implements AuditRepository {
  constructor(
    private readonly rows: AuditRows,
    private readonly counts = new AuditCountCache(),
  ) {}

  async list(scope: ReadScope, filter: AuditFilter, first: number, after?: number): Promise<Page<Positioned>> {
    const totalCount = await this.count(scope, filter);
    const page = await this.rows.page(scope, filter, first, after);
    return { ...page, totalCount };
  }

  chainSlice(tenant: string, afterSequence: number, limit: number): Promise<AuditEventRecord[]> {
    return this.rows.chainSlice(tenant, afterSequence, limit);
  }

  chainRange(tenant: string, window: { from?: Date; to?: Date }): Promise<{ first: number; last: number } | undefined> {
    return this.rows.chainRange(tenant, window);
  }

  tenants(): Promise<string[]> {
    return this.rows.tenants();
  }

  head(tenant: string): Promise<StoredHead | undefined> {
    return this.rows.head(tenant);
  }

  latestCheckpoint(tenant: string, upTo?: number): Promise<AuditCheckpoint | undefined> {
    return this.rows.latestCheckpoint(tenant, upTo);
  }

  hasSessions(tenant: string): Promise<boolean> {
    return this.rows.hasSessions(tenant);
  }

  userSalts(tenant: string, userIds: readonly string[]): Promise<Map<string, string>> {
    return this.rows.userSalts(tenant, userIds);
  }

  /** Drops the kept counts: an erasure rewrote user ids, which the counts by user rest on. */
  forgetCounts(): void {
    this.counts.clear();
  }

  private async count(scope: ReadScope, filter: AuditFilter): Promise<number> {
    const source = auditCountSource(scope, filter);
    const head = async (tenant: string) => (await this.rows.head(tenant))?.sequence ?? 0;
    switch (source.kind) {
      case 'none':
        return 0;
      case 'head':
        return head(source.tenant);
      case 'allHeads':
        return this.rows.headsTotal();
      case 'rows': {
        const tenant = source.tenant;
        if (tenant === undefined) return this.rows.count(scope, filter);
        return this.counts.count(tenant, scope, filter, () => head(tenant), (after, upTo) => this.rows.count(scope, filter, { after, upTo }));
      }
    }
  }
}

/**
 * Exact counts of a tenant's events that match a filter, kept by tenant and filter with the chain
 * length they were counted up to, so that the next page of the same history counts only the events
 * appended since (by `sequence`, on the `(tenant, sequence)` index) instead of the whole tenant
 * again. Exact, on every instance, because a chain only grows: events are appended with the next
 * sequence, in order, in the transaction that advances the head, and never change
 * (`verifyAuditChain` reports one edited behind the gateway's back, which a kept count would not
 * see). The first count of a filter still reads every event it matches. At most `maxEntries` counts
 * are kept, least recently used out first.
 */
export class AuditCountCache {
  private readonly counts = new Map<string, { sequence: number; count: number }>();

  constructor(private readonly maxEntries = 256) {}

  clear(): void {
    this.counts.clear();
  }

  /**
   * The count of the events of `tenant` that `scope` and `filter` match, up to the chain's head.
   * `head()` reads the head's sequence (0 for a tenant without events); `countBetween(after, upTo)`
   * counts the matching events with `after < sequence <= upTo`.
   */
  async count(
    tenant: string,
    scope: ReadScope,
    filter: AuditFilter,
    head: () => Promise<number>,
    countBetween: (after: number, upTo: number) => Promise<number>,
  ): Promise<number> {
    const { sessionId, userId, actions, from, to } = filter;
    const key = JSON.stringify([tenant, scope, sessionId, userId, actions, from?.getTime(), to?.getTime()]);
    const upTo = await head();
    const kept = this.counts.get(key);
    this.counts.delete(key);
    const count =
      kept && kept.sequence <= upTo ? kept.count + (kept.sequence === upTo ? 0 : await countBetween(kept.sequence, upTo)) : await countBetween(0, upTo);
    this.counts.set(key, { sequence: upTo, count });
    if (this.counts.size > this.maxEntries) this.counts.delete(this.counts.keys().next().value as string);
    return count;
  }
}
