/**
 * Webhooks on PostgreSQL. `writeOutbox` writes a transition's delivery rows inside its transaction
 * (`postgres-sessions.ts`), before the audit append, so that locks are taken in the order session,
 * endpoint, chain head, as every webhook write here takes them (endpoint, then chain head).
 * Deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease: one instance at a time attempts
 * a delivery, and one whose holder died is claimed again once the lease has run out.
 */
import type pg from 'pg';
import type { AuditDraft } from '../../domain/audit/audit.model';
import type { Page } from '../../domain/ports/store';
import type { ClaimedDelivery, DeliveryPosition, EndpointChanges, WebhookRepository } from '../../domain/ports/webhooks';
import { endpointAfterAttempt, type AttemptOutcome, type DeliveryAfterAttempt } from '../../domain/webhooks/retry-policy';
import { planDeliveries, type DeliveryAttemptRecord, type DeliveryRecord, type StoredWebhookEndpoint, type WebhookEventDraft } from '../../domain/webhooks/webhook.model';
import { appendAudit } from './postgres-audit';
import type { ChainSealing } from '../../domain/audit/seal';
import { placeholders, postgresBool, transaction, type Queryable } from './postgres-sql';
import type { Row } from './rows';
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

export async function writeOutbox(client: Queryable, tenant: string, events: readonly WebhookEventDraft[], at: Date, horizonMillis: number): Promise<void> {
  if (events.length === 0) return;
  const endpoints = (await client.query<Row>('SELECT id, tenant, enabled, event_types FROM webhook_endpoints WHERE tenant = $1', [tenant])).rows.map((row) => ({
    id: row.id as string,
    tenant: row.tenant as string,
    enabled: row.enabled === true,
    eventTypes: JSON.parse(row.event_types as string),
  }));
  for (const draft of planDeliveries(endpoints, events, at, horizonMillis)) {
    await client.query(`INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS}) VALUES (${placeholders(11)})`, deliveryValues(newDeliveryId(), draft));
  }
}

export class PostgresWebhookRepository implements WebhookRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly sealing: ChainSealing,
  ) {}

  async createEndpoint(endpoint: StoredWebhookEndpoint, audit: AuditDraft[]): Promise<void> {
    await transaction(this.pool, async (client) => {
      await client.query(`INSERT INTO webhook_endpoints (${ENDPOINT_COLUMNS}) VALUES (${placeholders(12)})`, endpointValues(endpoint, postgresBool));
      await appendAudit(client, this.sealing, endpoint.tenant, audit, endpoint.createdAt);
    });
  }

  async findEndpoint(id: string): Promise<StoredWebhookEndpoint | undefined> {
    const row = (await this.pool.query<Row>('SELECT * FROM webhook_endpoints WHERE id = $1', [id])).rows[0];
    return row && toEndpoint(row);
  }

  async listEndpoints(tenant: string | undefined): Promise<StoredWebhookEndpoint[]> {
    const rows =
      tenant === undefined
        ? (await this.pool.query<Row>('SELECT * FROM webhook_endpoints ORDER BY created_at, id')).rows
        : (await this.pool.query<Row>('SELECT * FROM webhook_endpoints WHERE tenant = $1 ORDER BY created_at, id', [tenant])).rows;
    return rows.map(toEndpoint);
  }

  async countEndpoints(tenant: string): Promise<number> {
    return Number((await this.pool.query<{ count: number }>('SELECT count(*) AS count FROM webhook_endpoints WHERE tenant = $1', [tenant])).rows[0].count);
  }

  async updateEndpoint(id: string, changes: EndpointChanges, audit: AuditDraft[], at: Date): Promise<StoredWebhookEndpoint | undefined> {
    return transaction(this.pool, async (client) => {
      const rotation = changes.rotation;
      const row = (
        await client.query<Row>(
          `UPDATE webhook_endpoints SET url = coalesce($2, url), event_types = coalesce($3, event_types), enabled = coalesce($4, enabled),
             sealed_secret = coalesce($5, sealed_secret),
             sealed_previous_secret = CASE WHEN $5::text IS NULL THEN sealed_previous_secret ELSE $6 END,
             previous_secret_until = CASE WHEN $5::text IS NULL THEN previous_secret_until ELSE $7::bigint END,
             updated_at = $8
           WHERE id = $1 RETURNING *`,
          [
            id,
            changes.url ?? null,
            changes.eventTypes ? JSON.stringify(changes.eventTypes) : null,
            changes.enabled ?? null,
            rotation?.sealedSecret ?? null,
            rotation?.sealedPreviousSecret ?? null,
            rotation?.previousSecretExpiresAt.getTime() ?? null,
            at.getTime(),
          ],
        )
      ).rows[0];
      if (!row) return undefined;
      await appendAudit(client, this.sealing, row.tenant as string, audit, at);
      return toEndpoint(row);
    });
  }

  async deleteEndpoint(id: string, audit: AuditDraft[], at: Date): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      const row = (await client.query<Row>('DELETE FROM webhook_endpoints WHERE id = $1 RETURNING tenant', [id])).rows[0];
      if (!row) return false;
      await appendAudit(client, this.sealing, row.tenant as string, audit, at);
      return true;
    });
  }

  async claimDue(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedDelivery[]> {
    const deliveries = (
      await this.pool.query<Row>(
        `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
         WHERE id IN (
           SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
           WHERE d.status = 'PENDING' AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until <= $3) AND e.enabled
           ORDER BY d.next_attempt_at LIMIT $4
           FOR UPDATE OF d SKIP LOCKED)
           AND status = 'PENDING' AND (lease_until IS NULL OR lease_until <= $3)
         RETURNING *`,
        [owner, nowMillis + leaseMillis, nowMillis, limit],
      )
    ).rows.map(toDelivery);
    if (deliveries.length === 0) return [];
    const endpoints = new Map(
      (await this.pool.query<Row>('SELECT * FROM webhook_endpoints WHERE id = ANY($1)', [[...new Set(deliveries.map((d) => d.endpointId))]])).rows.map((row) => [
        row.id as string,
        toEndpoint(row),
      ]),
    );
    return deliveries.flatMap((delivery) => {
      const endpoint = endpoints.get(delivery.endpointId);
      return endpoint ? [{ delivery, endpoint }] : [];
    });
  }

  async recordAttempt(claimed: ClaimedDelivery, outcome: AttemptOutcome, after: DeliveryAfterAttempt, at: Date, failingAfter: number): Promise<void> {
    await transaction(this.pool, async (client) => {
      const updated = (
        await client.query<{ attempt_count: number }>(
          `UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, delivered_at = $3, last_status_code = $4, last_latency_ms = $5,
             last_error = $6, finished_at = $7, attempt_count = attempt_count + 1, lease_owner = NULL, lease_until = NULL
           WHERE id = $8 RETURNING attempt_count`,
          [...attemptUpdateValues(after, outcome, at), claimed.delivery.id],
        )
      ).rows[0];
      // Deleted with its endpoint meanwhile: nothing is left to record on.
      if (!updated) return;
      await client.query('INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)', [
        claimed.delivery.id,
        updated.attempt_count,
        at.getTime(),
        outcome.statusCode ?? null,
        Math.round(outcome.latencyMs),
        outcome.error ?? null,
      ]);
      const row = (await client.query<Row>('SELECT * FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [claimed.endpoint.id])).rows[0];
      if (!row) return;
      const endpoint = toEndpoint(row);
      const change = endpointAfterAttempt(endpoint, outcome.delivered, failingAfter);
      await client.query('UPDATE webhook_endpoints SET consecutive_failures = $2, failing = $3 WHERE id = $1', [endpoint.id, change.consecutiveFailures, change.failing]);
      await appendAudit(client, this.sealing, endpoint.tenant, change.auditEvents, at);
    });
  }

  async backlog(): Promise<{ pendingDeliveries: number; failingEndpoints: number }> {
    const row = (
      await this.pool.query<{ pending: string; failing: string }>(
        `SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING') AS pending, (SELECT count(*) FROM webhook_endpoints WHERE failing) AS failing`,
      )
    ).rows[0];
    return { pendingDeliveries: Number(row.pending), failingEndpoints: Number(row.failing) };
  }

  async purgeFinished(before: Date, limit: number): Promise<number> {
    // Rows another instance is deleting are skipped, not waited for; the outer condition is checked
    // again on the row it locks, so a delivery redelivered meanwhile (PENDING again) is never deleted.
    const result = await this.pool.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE status <> 'PENDING' AND finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         AND status <> 'PENDING' AND finished_at < $1`,
      [before.getTime(), limit],
    );
    return result.rowCount ?? 0;
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.pool.query('UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1', [owner]);
  }

  async deliveries(endpointId: string, first: number, after?: DeliveryPosition): Promise<Page<DeliveryRecord>> {
    const totalCount = Number((await this.pool.query<{ count: number }>('SELECT count(*) AS count FROM webhook_deliveries WHERE endpoint_id = $1', [endpointId])).rows[0].count);
    const rows = after
      ? (
          await this.pool.query<Row>(
            'SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4',
            [endpointId, after.createdAtMillis, after.id, first + 1],
          )
        ).rows
      : (await this.pool.query<Row>('SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2', [endpointId, first + 1])).rows;
    return { items: rows.slice(0, first).map(toDelivery), hasNextPage: rows.length > first, totalCount };
  }

  async findDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const row = (await this.pool.query<Row>('SELECT * FROM webhook_deliveries WHERE id = $1', [id])).rows[0];
    return row && toDelivery(row);
  }

  async attemptsFor(deliveryIds: readonly string[]): Promise<DeliveryAttemptRecord[][]> {
    if (deliveryIds.length === 0) return [];
    const rows = (await this.pool.query<Row>('SELECT * FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY attempt', [deliveryIds])).rows;
    return attemptsByDelivery(deliveryIds, rows);
  }

  async redeliver(id: string, tenant: string, at: Date, retryUntil: Date, audit: AuditDraft[]): Promise<DeliveryRecord | undefined> {
    return transaction(this.pool, async (client) => {
      const row = (
        await client.query<Row>(
          `UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = $2, retry_until = $3, finished_at = NULL, lease_owner = NULL, lease_until = NULL
           WHERE id = $1 RETURNING *`,
          [id, at.getTime(), retryUntil.getTime()],
        )
      ).rows[0];
      if (!row) return undefined;
      await appendAudit(client, this.sealing, tenant, audit, at);
      return toDelivery(row);
    });
  }
}
