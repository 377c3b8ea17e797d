/**
 * Webhooks on SQLite: endpoints, the outbox of deliveries and their attempts. `SqliteOutbox` writes
 * a transition's delivery rows inside that transition's transaction (`sqlite-sessions.ts`); the
 * repository serves the admins and the dispatcher, each write one `BEGIN IMMEDIATE` transaction.
 */
import type Database from 'better-sqlite3';
import type { AuditDraft } from '../../domain/audit/audit.model';
import type { ClaimedDelivery, DeliveryPosition, EndpointChanges, WebhookRepository } from '../../domain/ports/webhooks';
import type { Page } from '../../domain/ports/store';
import { endpointAfterAttempt, type AttemptOutcome, type DeliveryAfterAttempt } from '../../domain/webhooks/retry-policy';
import { planDeliveries, type DeliveryAttemptRecord, type DeliveryRecord, type StoredWebhookEndpoint, type WebhookEventDraft } from '../../domain/webhooks/webhook.model';
import type { Row } from './rows';
import type { AuditChainWriter } from './sqlite-audit';
import { questionMarks, sqliteBool } from './sqlite-statements';
import {
  attemptsByDelivery,
  attemptUpdateValues,
  DELIVERY_COLUMNS,
  deliveryValues,
  ENDPOINT_COLUMNS,
  endpointValues,
  newDeliveryId,
  toDelivery,
  toEndpoint,
} from './webhook-rows';

/** Writes a transition's outbox rows; only ever called inside its write transaction. */
export class SqliteOutbox {
  private readonly endpoints;
  private readonly insert;

  constructor(
    db: Database.Database,
    private readonly horizonMillis: number,
  ) {
    this.endpoints = db.prepare('SELECT id, tenant, enabled, event_types FROM webhook_endpoints WHERE tenant = ?');
    this.insert = db.prepare(`INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS}) VALUES (${questionMarks(11)})`);
  }

  write(tenant: string, events: readonly WebhookEventDraft[], at: Date): void {
    if (events.length === 0) return;
    const endpoints = (this.endpoints.all(tenant) as Row[]).map((row) => ({
      id: row.id as string,
      tenant: row.tenant as string,
      enabled: row.enabled === 1,
      eventTypes: JSON.parse(row.event_types as string),
    }));
    for (const draft of planDeliveries(endpoints, events, at, this.horizonMillis)) this.insert.run(...deliveryValues(newDeliveryId(), draft));
  }
}

export class SqliteWebhookRepository implements WebhookRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly chain: AuditChainWriter,
  ) {
    this.statements = {
      insertEndpoint: db.prepare(`INSERT INTO webhook_endpoints (${ENDPOINT_COLUMNS}) VALUES (${questionMarks(12)})`),
      endpoint: db.prepare('SELECT * FROM webhook_endpoints WHERE id = ?'),
      endpoints: db.prepare('SELECT * FROM webhook_endpoints ORDER BY created_at, id'),
      tenantEndpoints: db.prepare('SELECT * FROM webhook_endpoints WHERE tenant = ? ORDER BY created_at, id'),
      count: db.prepare('SELECT count(*) FROM webhook_endpoints WHERE tenant = ?').pluck(),
      update: db.prepare(`
        UPDATE webhook_endpoints SET url = coalesce(@url, url), event_types = coalesce(@eventTypes, event_types),
          enabled = coalesce(@enabled, enabled), sealed_secret = coalesce(@secret, sealed_secret),
          sealed_previous_secret = CASE WHEN @secret IS NULL THEN sealed_previous_secret ELSE @previous END,
          previous_secret_until = CASE WHEN @secret IS NULL THEN previous_secret_until ELSE @previousUntil END,
          updated_at = @at
        WHERE id = @id`),
      delete: db.prepare('DELETE FROM webhook_endpoints WHERE id = ?'),
      due: db.prepare(`
        SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status = 'PENDING' AND d.next_attempt_at <= @now AND (d.lease_until IS NULL OR d.lease_until <= @now) AND e.enabled = 1
        ORDER BY d.next_attempt_at LIMIT @limit`).pluck(),
      lease: db.prepare('UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ? RETURNING *'),
      insertAttempt: db.prepare('INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)'),
      afterAttempt: db.prepare(`
        UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, delivered_at = ?, last_status_code = ?, last_latency_ms = ?,
          last_error = ?, finished_at = ?, attempt_count = attempt_count + 1, lease_owner = NULL, lease_until = NULL
        WHERE id = ? RETURNING attempt_count`).pluck(),
      endpointAfterAttempt: db.prepare('UPDATE webhook_endpoints SET consecutive_failures = ?, failing = ? WHERE id = ?'),
      backlog: db.prepare(
        `SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING') AS pending, (SELECT count(*) FROM webhook_endpoints WHERE failing = 1) AS failing`,
      ),
      releaseLeases: db.prepare('UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?'),
      delivery: db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?'),
      redeliver: db.prepare(`
        UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = ?, retry_until = ?, finished_at = NULL, lease_owner = NULL, lease_until = NULL
        WHERE id = ? RETURNING *`),
      purgeFinished: db.prepare(`
        DELETE FROM webhook_deliveries WHERE id IN (
          SELECT id FROM webhook_deliveries WHERE status <> 'PENDING' AND finished_at < ? ORDER BY finished_at LIMIT ?)`),
    };
  }

  async createEndpoint(endpoint: StoredWebhookEndpoint, audit: AuditDraft[]): Promise<void> {
    this.db
      .transaction(() => {
        this.statements.insertEndpoint.run(...endpointValues(endpoint, sqliteBool));
        this.chain.append(endpoint.tenant, audit, endpoint.createdAt);
      })
      .immediate();
  }

  async findEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    const row = this.statements.endpoint.get(id) as Row | undefined;
    return row && toEndpoint(row);
  }

  async listEndpoints(tenant: string | undefined): Promise<StoredWebhookEndpoint[]> {
    const rows = (tenant === undefined ? this.statements.endpoints.all() : this.statements.tenantEndpoints.all(tenant)) as Row[];
    return rows.map(toEndpoint);
  }

  async countEndpoints(tenant: string): Promise<number> {
    return this.statements.count.get(tenant) as number;
  }

  async updateEndpoint(id: string, changes: EndpointChanges, audit: AuditDraft[], at: Date): Promise<StoredWebhookEndpoint | undefined> {
    return this.db
      .transaction(() => {
        const before = this.statements.endpoint.get(id) as Row | undefined;
        if (!before) return undefined;
        this.statements.update.run({
          id,
          at: at.getTime(),
          url: changes.url ?? null,
          eventTypes: changes.eventTypes ? JSON.stringify(changes.eventTypes) : null,
          enabled: changes.enabled === undefined ? null : sqliteBool(changes.enabled),
          secret: changes.rotation?.sealedSecret ?? null,
          previous: changes.rotation?.sealedPreviousSecret ?? null,
          previousUntil: changes.rotation?.previousSecretExpiresAt.getTime() ?? null,
        });
        this.chain.append(before.tenant as string, audit, at);
        return toEndpoint(this.statements.endpoint.get(id) as Row);
      })
      .immediate();
  }

  async deleteEndpoint(id: string, audit: AuditDraft[], at: Date): Promise<boolean> {
    return this.db
      .transaction(() => {
        const before = this.statements.endpoint.get(id) as Row | undefined;
        if (!before) return false;
        this.statements.delete.run(id);
        this.chain.append(before.tenant as string, audit, at);
        return true;
      })
      .immediate();
  }

  async claimDue(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedDelivery[]> {
    // Most rounds find nothing due: that is learnt without taking the write lock other processes queue for.
    if ((this.statements.due.all({ now: nowMillis, limit: 1 }) as string[]).length === 0) return [];
    return this.db
      .transaction(() => {
        const ids = this.statements.due.all({ now: nowMillis, limit }) as string[];
        return ids.map((id) => {
          const delivery = toDelivery(this.statements.lease.get(owner, nowMillis + leaseMillis, id) as Row);
          return { delivery, endpoint: toEndpoint(this.statements.endpoint.get(delivery.endpointId) as Row) };
        });
      })
      .immediate();
  }

  async recordAttempt(claimed: ClaimedDelivery, outcome: AttemptOutcome, after: DeliveryAfterAttempt, at: Date, failingAfter: number): Promise<void> {
    this.db
      .transaction(() => {
        const attempts = this.statements.afterAttempt.get(...attemptUpdateValues(after, outcome, at), claimed.delivery.id) as number | undefined;
        // Deleted with its endpoint meanwhile: nothing is left to record on.
        if (attempts === undefined) return;
        this.statements.insertAttempt.run(claimed.delivery.id, attempts, at.getTime(), outcome.statusCode ?? null, Math.round(outcome.latencyMs), outcome.error ?? null);
        const row = this.statements.endpoint.get(claimed.endpoint.id) as Row | undefined;
        if (!row) return;
        const endpoint = toEndpoint(row);
        const change = endpointAfterAttempt(endpoint, outcome.delivered, failingAfter);
        this.statements.endpointAfterAttempt.run(change.consecutiveFailures, sqliteBool(change.failing), endpoint.id);
        this.chain.append(endpoint.tenant, change.auditEvents, at);
      })
      .immediate();
  }

  async backlog(): Promise<{ pendingDeliveries: number; failingEndpoints: number }> {
    const row = this.statements.backlog.get() as { pending: number; failing: number };
    return { pendingDeliveries: row.pending, failingEndpoints: row.failing };
  }

  async purgeFinished(before: Date, limit: number): Promise<number> {
    // One write transaction: a delivery redelivered meanwhile (PENDING again) is never deleted.
    return this.db.transaction(() => this.statements.purgeFinished.run(before.getTime(), limit).changes).immediate();
  }

  async releaseLeases(owner: string): Promise<void> {
    this.statements.releaseLeases.run(owner);
  }

  async deliveries(endpointId: string, first: number, after?: DeliveryPosition): Promise<Page<DeliveryRecord>> {
    const totalCount = this.db.prepare('SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ?').pluck().get(endpointId) as number;
    const rows = (
      after
        ? this.db
            .prepare('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?')
            .all(endpointId, after.createdAtMillis, after.createdAtMillis, after.id, first + 1)
        : this.db.prepare('SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ?').all(endpointId, first + 1)
    ) as Row[];
    return { items: rows.slice(0, first).map(toDelivery), hasNextPage: rows.length > first, totalCount };
  }

  async findDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const row = this.statements.delivery.get(id) as Row | undefined;
    return row && toDelivery(row);
  }

  async attemptsFor(deliveryIds: readonly string[]): Promise<DeliveryAttemptRecord[][]> {
    if (deliveryIds.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT * FROM webhook_attempts WHERE delivery_id IN (${questionMarks(deliveryIds.length)}) ORDER BY attempt`)
      .all(...deliveryIds) as Row[];
    return attemptsByDelivery(deliveryIds, rows);
  }

  async redeliver(id: string, tenant: string, at: Date, retryUntil: Date, audit: AuditDraft[]): Promise<DeliveryRecord | undefined> {
    return this.db
      .transaction(() => {
        const row = this.statements.redeliver.get(at.getTime(), retryUntil.getTime(), id) as Row | undefined;
        if (!row) return undefined;
        this.chain.append(tenant, audit, at);
        return toDelivery(row);
      })
      .immediate();
  }
}
