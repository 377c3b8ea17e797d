/**
 * The live feed: `auditEvents` over graphql-ws, each new event appended to the feed's table as it
 * happens. The feed remembers the last sequence it showed; when the socket drops it subscribes again
 * with `afterSequence`, so the gateway replays what was missed and nothing shows twice.
 */
import type { AuditEventFieldsFragment, AuditFeedFilter, AuditFilter } from '../../client/generated/graphql.js';
import { connect, subscribe } from '../gateway-client.js';
import { operations } from '../operations.js';
import type { Client } from '../vendor/graphql-ws.js';
import { element, eventRow, show, showError, type OpenSession } from './dom.js';

const RESUME_AFTER_MILLIS = 1_000;

export class LiveFeed {
  private client: Client | undefined;
  private lastSequence: number | undefined;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly openSession: OpenSession) {}

  get following(): boolean {
    return this.client !== undefined;
  }

  /**
   * Follows new events of `tenant` matching the history's filters (the feed has no time bounds: it is
   * now). One tenant's chain, even for an admin: its sequence is what a resume starts after.
   * `afterSequence`, the newest event the history showed, makes the feed start where the history
   * ends, so nothing that happened between reading one and opening the other is missed.
   */
  start(token: string, tenant: string, filter: AuditFilter, afterSequence?: number): void {
    this.stop();
    const feedFilter: AuditFeedFilter = { tenant, actions: filter.actions, sessionId: filter.sessionId, userId: filter.userId };
    element('live-table').querySelector('tbody')!.replaceChildren();
    this.lastSequence = afterSequence;
    this.open(token, feedFilter, false);
  }

  stop(): void {
    clearTimeout(this.resumeTimer);
    this.client?.dispose();
    this.client = undefined;
    show('live-state', 'Not following.');
  }

  private open(token: string, filter: AuditFeedFilter, resuming: boolean): void {
    const client = connect(token);
    this.client = client;
    const after = this.lastSequence;
    show('live-state', resuming ? `Resumed after #${after}: following.` : `Following${after === undefined ? '' : ` after #${after}`}: new events appear below as they happen.`);
    subscribe(client, operations.AuditEvents, { filter, ...(after === undefined ? {} : { afterSequence: after }) }, {
      next: ({ auditEvents }) => {
        if (this.client === client) this.append(auditEvents);
      },
      error: (error) => {
        if (this.client !== client) return;
        if (error.code) {
          // Refused by the gateway (a role, a filter): subscribing again would be refused again.
          this.stop();
          showError(error);
          return;
        }
        client.dispose();
        show('live-state', `The feed dropped (${error.message}); resuming…`);
        this.resumeTimer = setTimeout(() => {
          if (this.client === client) this.open(token, filter, true);
        }, RESUME_AFTER_MILLIS);
      },
      complete: () => {
        if (this.client === client) show('live-state', 'The gateway ended the feed.');
      },
    });
  }

  private append(event: AuditEventFieldsFragment): void {
    if (this.lastSequence !== undefined && event.sequence <= this.lastSequence) return;
    this.lastSequence = event.sequence;
    const body = element('live-table').querySelector('tbody')!;
    for (const fresh of body.querySelectorAll('tr.fresh')) fresh.classList.remove('fresh');
    const row = eventRow(event, this.openSession);
    row.classList.add('fresh');
    body.append(row);
    element('live-table').hidden = false;
  }
}
