/**
 * The webhook card, for admins: the endpoints (every tenant's), each with its delivery log, newest
 * first: event, session, status, attempts, the last answer and its latency, the next retry; and
 * "Redeliver", which tries one delivery again now.
 */
import type { WebhookDeliveriesQuery } from '../../client/generated/graphql.js';
import { request } from '../gateway-client.js';
import { operations } from '../operations.js';
import { element, onClick, show, showError, type OpenSession } from './dom.js';

const DELIVERIES_PER_PAGE = 20;

type Delivery = NonNullable<WebhookDeliveriesQuery['webhookEndpoint']>['deliveries']['edges'][number]['node'];

function cell(content: string | HTMLElement, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.append(content);
  if (className) td.className = className;
  return td;
}

export async function showEndpoints(token: string, openSession: OpenSession): Promise<void> {
  const { webhookEndpoints } = await request(operations.WebhookEndpoints, {}, token);
  element('webhooks').hidden = false;
  show('webhooks-summary', webhookEndpoints.length === 0 ? 'No endpoint is registered.' : webhookEndpoints.length === 1 ? 'One endpoint.' : `${webhookEndpoints.length} endpoints, oldest first.`);
  const rows = webhookEndpoints.map((endpoint) => {
    const row = document.createElement('tr');
    row.dataset.endpoint = endpoint.id;
    const state = !endpoint.enabled ? 'disabled' : endpoint.failing ? `failing (${endpoint.consecutiveFailures} in a row)` : 'enabled';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = 'Delivery log';
    button.setAttribute('aria-label', `Delivery log of ${endpoint.url}`);
    onClick(button, () => showDeliveries(endpoint.id, token, openSession));
    row.append(cell(endpoint.url), cell(endpoint.tenant), cell(endpoint.eventTypes.join(', ')), cell(state), cell(button));
    return row;
  });
  element('endpoints-table').querySelector('tbody')!.replaceChildren(...rows);
  element('endpoints-table').hidden = rows.length === 0;
}

async function showDeliveries(endpointId: string, token: string, openSession: OpenSession): Promise<void> {
  const { webhookEndpoint } = await request(operations.WebhookDeliveries, { id: endpointId, first: DELIVERIES_PER_PAGE }, token);
  if (!webhookEndpoint) throw new Error('That endpoint is gone.');
  const { deliveries } = webhookEndpoint;
  show('deliveries-title', `Delivery log of ${webhookEndpoint.url}: ${deliveries.totalCount} deliveries, newest first`);
  const rows = deliveries.edges.map(({ node }) => deliveryRow(node, token, () => showDeliveries(endpointId, token, openSession), openSession));
  element('deliveries-table').querySelector('tbody')!.replaceChildren(...rows);
  element('deliveries-title').hidden = false;
  element('deliveries-table').hidden = false;
}

function deliveryRow(delivery: Delivery, token: string, reload: () => Promise<void>, openSession: OpenSession): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.delivery = delivery.id;
  const session = document.createElement('button');
  session.type = 'button';
  session.className = 'link';
  session.textContent = delivery.sessionId;
  session.addEventListener('click', () => openSession(delivery.sessionId));
  const lastAnswer = delivery.lastStatusCode !== null ? String(delivery.lastStatusCode) : (delivery.lastError ?? '—');
  const redeliver = document.createElement('button');
  redeliver.type = 'button';
  redeliver.className = 'secondary';
  redeliver.textContent = 'Redeliver';
  redeliver.setAttribute('aria-label', `Redeliver ${delivery.id}`);
  onClick(redeliver, async () => {
    await request(operations.RedeliverWebhook, { deliveryId: delivery.id }, token);
    await reload().catch(showError);
  });
  row.append(
    cell(delivery.eventType),
    cell(session),
    cell(delivery.status, `status-${delivery.status}`),
    cell(String(delivery.attemptCount)),
    cell(lastAnswer),
    cell(delivery.lastLatencyMs !== null ? `${delivery.lastLatencyMs} ms` : '—'),
    cell(delivery.nextAttemptAt ? new Date(delivery.nextAttemptAt).toLocaleString() : '—'),
    cell(redeliver),
  );
  return row;
}
