/**
 * Reading the audit trail: tenant-scoped history for partner portals, a session's own trail,
 * verification of a tenant's hash chain from the stored rows, and its export in chain order; the last
 * two read in bounded batches, so a chain of a million events is never in memory at once.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { hasRole, type Viewer } from '../viewer';
import { badInput, forbidden } from '../errors';
import { checkPageSize, connectionOf, CursorCodec, type Connection } from '../pagination';
import type { AuditFilter, AuditRepository, Page } from '../ports/store';
import { distinctValues } from '../value-lists';
import { AUDIT_ACTIONS, type AuditEventRecord } from './audit.model';
import { consistentSlice, verifyTenantChain, type ChainReport, type KeptCheckpoint } from './chain-verification';
import { AuditSeal, type AuditCheckpoint } from './seal';
import { OneAtATime, releasing } from './one-at-a-time';

export type { ChainReport, KeptCheckpoint } from './chain-verification';

const AUDIT_CURSOR = 'audit';
/** Events read per store round trip while verifying a chain: bounds memory whatever the chain's length. */
export const CHAIN_BATCH_SIZE = 1_000;

type AuditPage = Page<AuditEventRecord & { position: number }>;
export type AuditConnection = Connection<AuditEventRecord & { position: number }>;

/** A history's filter as a caller may send it: any criterion absent or null. */
export type AuditHistoryFilter = { [K in keyof AuditFilter]?: AuditFilter[K] | null };

/** What an export asks for: one tenant's chain (default: the caller's), optionally cut to a time window. */
export interface ChainExportRequest {
  tenant?: string | null;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

/**
 * One line of an export: an event, or (last) the latest checkpoint the exported stretch contains. A v3
 * event goes with its user's salt while it exists, so its clear values can be checked offline.
 */
export type ExportItem = { kind: 'event'; event: AuditEventRecord; salt?: string } | { kind: 'checkpoint'; checkpoint: AuditCheckpoint };

export interface AuditServiceOptions {
  /** Events per store round trip when verifying or exporting a chain; default `CHAIN_BATCH_SIZE`. */
  chainBatchSize?: number;
  /** Signs and reads the history's cursors; default: a key of this service's own. */
  cursors?: CursorCodec;
  /** The keys the store seals heads and signs checkpoints with; default: keys of this service's own. */
  seal?: AuditSeal;
}

export class AuditService {
  private readonly batchSize: number;
  private readonly cursors: CursorCodec;
  private readonly seal: AuditSeal;
  private readonly verifying = new OneAtATime('chain verifications at once for this caller');
  private readonly exporting = new OneAtATime('chain exports at once for this caller');

  constructor(
    private readonly audit: AuditRepository,
    options: AuditServiceOptions = {},
  ) {
    this.batchSize = options.chainBatchSize ?? CHAIN_BATCH_SIZE;
    this.cursors = options.cursors ?? CursorCodec.withRandomKey();
    this.seal = options.seal ?? AuditSeal.withRandomKeys();
  }

  /** Auditors read their own tenant only (a filter naming another tenant finds nothing); admins any. */
  async history(viewer: Viewer, filter: AuditHistoryFilter | null | undefined, first: number, after?: string | null): Promise<AuditConnection> {
    const scope = this.auditScope(viewer);
    const criteria = definedCriteria(filter ?? {});
    checkWindow(criteria);
    return this.connection(await this.page(criteria, scope, first, after));
  }

  /** The events of a session the caller has already been allowed to see. */
  async trail(sessionId: string, first: number, after?: string | null): Promise<AuditConnection> {
    return this.connection(await this.page({ sessionId }, { kind: 'all' }, first, after));
  }

  cursorOf(event: { position: number }): string {
    return this.cursors.encode(AUDIT_CURSOR, { p: event.position });
  }

  /**
   * At most one in flight per caller: a second one meanwhile is refused RATE_LIMITED. `kept` is a
   * checkpoint the operator kept outside the database; the chain must hold its hash at its sequence.
   */
  async verifyChain(viewer: Viewer, tenant?: string | null, kept?: KeptCheckpoint | null): Promise<ChainReport> {
    const target = this.chainTenant(viewer, tenant);
    if (kept && (!Number.isSafeInteger(kept.sequence) || kept.sequence < 1 || !/^[0-9a-f]{64}$/.test(kept.hash))) {
      throw badInput('checkpoint.sequence must be 1 or more and checkpoint.hash 64 lowercase hex digits.');
    }
    return this.verifying.run(viewer, () => verifyTenantChain(this.audit, this.seal, target, this.batchSize, kept ?? undefined));
  }

  /** The PEM public key that verifies checkpoints, for operators who keep them outside the database. */
  get checkpointPublicKey(): string {
    return this.seal.publicKeyPem;
  }

  /**
   * A tenant's events in chain order (sequence ascending), as stored, for `GET /audit/export`.
   * Everything is checked before the first event is read, so a refusal comes before any output. A time
   * window selects a contiguous stretch of the chain (`AuditRepository.chainRange`), fixed when the
   * export opens: events appended meanwhile are left for the next export. The events are read lazily,
   * one batch at a time, as the consumer pulls them; stopping the iteration stops the reading. At most
   * one export is open per caller, from this call until the iteration ends: another meanwhile is
   * refused RATE_LIMITED.
   */
  async openExport(viewer: Viewer, request: ChainExportRequest): Promise<{ tenant: string; events: AsyncIterable<ExportItem> }> {
    const tenant = this.chainTenant(viewer, request.tenant);
    checkWindow(request);
    const release = this.exporting.acquire(viewer);
    try {
      const range = await this.audit.chainRange(tenant, { from: request.from, to: request.to });
      // The latest checkpoint inside the stretch, so the file can be checked against it offline.
      const checkpoint = range && (await this.audit.latestCheckpoint(tenant, range.last));
      const inside = checkpoint && checkpoint.sequence >= range.first ? checkpoint : undefined;
      return { tenant, events: releasing(this.readChain(tenant, range, inside), release) };
    } catch (error) {
      release();
      throw error;
    }
  }

  private async *readChain(tenant: string, range: { first: number; last: number } | undefined, checkpoint?: AuditCheckpoint): AsyncGenerator<ExportItem> {
    if (!range) return;
    yield* this.readEvents(tenant, range);
    if (checkpoint) yield { kind: 'checkpoint', checkpoint };
  }

  private async *readEvents(tenant: string, range: { first: number; last: number }): AsyncGenerator<ExportItem> {
    let after = range.first - 1;
    while (after < range.last) {
      // Its salts read alike, or an erasure committing in between would export a clear value without its salt.
      const { batch, salts } = await consistentSlice(this.audit, tenant, after, Math.min(this.batchSize, range.last - after));
      if (batch.length === 0) return;
      for (const event of batch) {
        // A hole in the stored sequences (a deleted row) must not pull in events past the range.
        if (event.sequence > range.last) return;
        const salt = event.userIdCommitment === undefined ? undefined : salts.get(event.userId);
        yield { kind: 'event', event, ...(salt !== undefined && { salt }) };
      }
      after = batch[batch.length - 1].sequence;
      // Lets other requests in between batches, for the same reason as in `verifyChain`.
      await nextTurn();
    }
  }

  /** The tenant whose chain a viewer asks for: auditors their own only (else FORBIDDEN), admins any; default the viewer's. */
  private chainTenant(viewer: Viewer, tenant?: string | null): string {
    const scope = this.auditScope(viewer);
    const target = tenant ?? viewer.tenant;
    if (scope.kind === 'tenant' && target !== scope.tenant) throw forbidden();
    return target;
  }

  private auditScope(viewer: Viewer): { kind: 'all' } | { kind: 'tenant'; tenant: string } {
    if (hasRole(viewer, 'ADMIN')) return { kind: 'all' };
    if (hasRole(viewer, 'AUDITOR')) return { kind: 'tenant', tenant: viewer.tenant };
    throw forbidden();
  }

  private connection(page: AuditPage): AuditConnection {
    return connectionOf(page, (event) => this.cursorOf(event));
  }

  private page(filter: AuditFilter, scope: { kind: 'all' } | { kind: 'tenant'; tenant: string }, first: number, after?: string | null) {
    checkPageSize(first);
    const position = after ? this.cursors.decode(AUDIT_CURSOR, after, isAuditPosition).p : undefined;
    return this.audit.list(scope, filter, first, position);
  }
}

function definedCriteria(filter: AuditHistoryFilter): AuditFilter {
  return {
    sessionId: filter.sessionId ?? undefined,
    userId: filter.userId ?? undefined,
    tenant: filter.tenant ?? undefined,
    actions: distinctValues('filter.actions', filter.actions, AUDIT_ACTIONS),
    from: filter.from ?? undefined,
    to: filter.to ?? undefined,
  };
}

function checkWindow(window: { from?: Date; to?: Date }): void {
  if (window.from && window.to && window.from >= window.to) throw badInput('from must be before to.');
}

function isAuditPosition(value: unknown): value is { p: number } {
  return typeof value === 'object' && value !== null && Number.isSafeInteger((value as { p: unknown }).p) && (value as { p: number }).p > 0;
}
