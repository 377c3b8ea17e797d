/**
 * The audit history card: the filters (session, user, actions, time), one page of `auditHistory` at
 * a time, newest first, with "Next" following the connection's cursor and "Previous" going back
 * through the cursors already seen.
 */
import type { AuditAction, AuditFilter } from '../../client/generated/graphql.js';
import { request } from '../gateway-client.js';
import { operations } from '../operations.js';
import { element, eventRow, show, type OpenSession } from './dom.js';

export const PAGE_SIZE = 10;

/** Every action, so the filter offers them all: a new one in the schema fails the type check until listed here. */
const ACTIONS: Record<AuditAction, true> = {
  SESSION_STARTED: true,
  ATTEMPT_RECORDED: true,
  COMPLETION_REPORTED: true,
  DECISION_REACHED: true,
  SESSION_DELETED: true,
  SESSION_EXPIRED: true,
  FACE_SESSION_DELETED: true,
  EVIDENCE_STORED: true,
  EVIDENCE_VIEWED: true,
  EVIDENCE_PURGED: true,
  DEVICE_CORRELATION_ID_ROTATED: true,
  WEBHOOK_ENDPOINT_CREATED: true,
  WEBHOOK_ENDPOINT_UPDATED: true,
  WEBHOOK_ENDPOINT_DELETED: true,
  WEBHOOK_ENDPOINT_FAILING: true,
  WEBHOOK_ENDPOINT_RECOVERED: true,
  WEBHOOK_SECRET_ROTATED: true,
  WEBHOOK_REDELIVERY_REQUESTED: true,
  TENANT_POLICY_CHANGED: true,
  USER_DATA_ERASED: true,
};

export function fillActionOptions(): void {
  const options = Object.keys(ACTIONS).map((action) => {
    const option = document.createElement('option');
    option.value = action;
    option.textContent = action;
    return option;
  });
  element('filter-actions').replaceChildren(...options);
}

/** A `datetime-local` value is the browser's local time: sent as an ISO instant. */
function instant(id: string): string | undefined {
  const value = element<HTMLInputElement>(id).value;
  return value ? new Date(value).toISOString() : undefined;
}

/** The filter as the form holds it, on one tenant's chain; empty fields are left out. */
export function readFilters(tenant: string): AuditFilter {
  const filter: AuditFilter = { tenant };
  const sessionId = element<HTMLInputElement>('filter-session').value.trim();
  const userId = element<HTMLInputElement>('filter-user').value.trim();
  const actions = [...element<HTMLSelectElement>('filter-actions').selectedOptions].map((option) => option.value as AuditAction);
  if (sessionId) filter.sessionId = sessionId;
  if (userId) filter.userId = userId;
  if (actions.length > 0) filter.actions = actions;
  const from = instant('filter-from');
  const to = instant('filter-to');
  if (from) filter.from = from;
  if (to) filter.to = to;
  return filter;
}

export class History {
  /** The cursor each page starts after: `[undefined]` for the first page. */
  private cursors: (string | undefined)[] = [undefined];
  private nextCursor: string | null = null;
  private filter: AuditFilter = {};

  /** The newest event of the first page, where the live feed starts. */
  newestSequence: number | undefined;

  /** The filters of the page shown, which the feed and the export follow too. */
  get filterInUse(): AuditFilter {
    return this.filter;
  }

  constructor(
    private readonly token: () => string,
    /** The signed-in tenant: the history, the feed and the export read that one chain, admins too. */
    private readonly tenant: () => string,
    private readonly openSession: OpenSession,
  ) {}

  /** Reads the first page for the form's filters. */
  async load(): Promise<void> {
    this.filter = readFilters(this.tenant());
    this.cursors = [undefined];
    await this.show();
  }

  async next(): Promise<void> {
    if (!this.nextCursor) return;
    this.cursors.push(this.nextCursor);
    await this.show();
  }

  async previous(): Promise<void> {
    if (this.cursors.length < 2) return;
    this.cursors.pop();
    await this.show();
  }

  private async show(): Promise<void> {
    const after = this.cursors.at(-1);
    const { auditHistory } = await request(operations.AuditHistory, { filter: this.filter, first: PAGE_SIZE, ...(after ? { after } : {}) }, this.token());
    const rows = auditHistory.edges.map(({ node }) => eventRow(node, this.openSession));
    if (this.cursors.length === 1) this.newestSequence = auditHistory.edges[0]?.node.sequence;
    element('history-table').querySelector('tbody')!.replaceChildren(...rows);
    element('history-table').hidden = rows.length === 0;
    this.nextCursor = auditHistory.pageInfo.hasNextPage ? auditHistory.pageInfo.endCursor : null;
    const page = this.cursors.length;
    const pages = Math.max(1, Math.ceil(auditHistory.totalCount / PAGE_SIZE));
    const total = auditHistory.totalCount;
    show('history-summary', total === 0 ? 'No events match.' : total === 1 ? '1 event matches.' : `${total} events match, newest first.`);
    show('page-number', `page ${page} of ${pages}`);
    element<HTMLButtonElement>('previous-page').disabled = page < 2;
    element<HTMLButtonElement>('next-page').disabled = !this.nextCursor;
  }

  /** Whether the pager buttons may act (the click handler re-enables them; the page state decides). */
  refreshPager(): void {
    element<HTMLButtonElement>('previous-page').disabled = this.cursors.length < 2;
    element<HTMLButtonElement>('next-page').disabled = !this.nextCursor;
  }
}
