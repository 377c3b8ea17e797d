/**
 * Reading the audit trail: tenant-scoped history for partner portals, a session's own trail, and
 * verification of a tenant's hash chain from the stored rows, in bounded batches.
 */
import { hasRole, type Viewer } from '../auth/viewer';
import { forbidden } from '../errors';
import { checkPageSize, decodeCursor, encodeCursor } from '../pagination';
import type { AuditFilter, AuditRepository, Page } from '../store/store';
import type { AuditEventRecord } from './audit.model';
import { chainHash, GENESIS_HASH } from './chain';

const AUDIT_CURSOR = 'audit';
/** Events read per store round trip while verifying a chain: bounds memory whatever the chain's length. */
export const CHAIN_BATCH_SIZE = 1_000;

export type AuditPage = Page<AuditEventRecord & { position: number }>;

export interface ChainReport {
  tenant: string;
  valid: boolean;
  checked: number;
  firstBrokenSequence?: number;
}

export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  /** Auditors read their own tenant only (a filter naming another tenant finds nothing); admins any. */
  async history(viewer: Viewer, filter: AuditFilter, first: number, after?: string | null): Promise<AuditPage> {
    const scope = this.auditScope(viewer);
    return this.page({ ...filter }, scope, first, after);
  }

  /** The events of a session the caller has already been allowed to see. */
  async trail(sessionId: string, first: number, after?: string | null): Promise<AuditPage> {
    return this.page({ sessionId }, { kind: 'all' }, first, after);
  }

  cursorOf(event: { position: number }): string {
    return encodeCursor(AUDIT_CURSOR, { p: event.position });
  }

  async verifyChain(viewer: Viewer, tenant?: string | null): Promise<ChainReport> {
    const scope = this.auditScope(viewer);
    const target = tenant ?? viewer.tenant;
    if (scope.kind === 'tenant' && target !== scope.tenant) throw forbidden();

    let previousHash = GENESIS_HASH;
    let checked = 0;
    for (;;) {
      const batch = await this.audit.chainSlice(target, checked, CHAIN_BATCH_SIZE);
      for (const event of batch) {
        const expected = checked + 1;
        if (event.sequence !== expected || event.previousHash !== previousHash || chainHash(previousHash, event) !== event.hash) {
          return { tenant: target, valid: false, checked, firstBrokenSequence: expected };
        }
        previousHash = event.hash;
        checked = expected;
      }
      if (batch.length < CHAIN_BATCH_SIZE) break;
    }
    // Events cut off the end leave a valid-looking but shorter chain: the recorded head tells.
    const head = await this.audit.head(target);
    if (head && (head.sequence !== checked || head.hash !== previousHash)) {
      return { tenant: target, valid: false, checked, firstBrokenSequence: checked + 1 };
    }
    return { tenant: target, valid: true, checked };
  }

  private auditScope(viewer: Viewer): { kind: 'all' } | { kind: 'tenant'; tenant: string } {
    if (hasRole(viewer, 'ADMIN')) return { kind: 'all' };
    if (hasRole(viewer, 'AUDITOR')) return { kind: 'tenant', tenant: viewer.tenant };
    throw forbidden();
  }

  private page(filter: AuditFilter, scope: { kind: 'all' } | { kind: 'tenant'; tenant: string }, first: number, after?: string | null) {
    checkPageSize(first);
    const position = after ? decodeCursor(AUDIT_CURSOR, after, isAuditPosition).p : undefined;
    return this.audit.list(scope, filter, first, position);
  }
}

function isAuditPosition(value: unknown): value is { p: number } {
  return typeof value === 'object' && value !== null && Number.isSafeInteger((value as { p: unknown }).p) && (value as { p: number }).p > 0;
}
