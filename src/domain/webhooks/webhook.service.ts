/**
 * What admins and auditors do with webhooks. Admins of a tenant manage that tenant's endpoints (and
 * the admins of the configured global-admin tenant every tenant's); admins read every tenant's
 * endpoints and delivery log, auditors their own tenant's. Every change is audited in the endpoint's
 * tenant's chain, in the transaction that makes it. What a viewer may not see is NOT_FOUND.
 */
import { randomUUID } from 'node:crypto';
import { badInput, forbidden, notFound } from '../errors';
import type { TokenSealer } from '../idempotency/token-sealer';
import { checkPageSize, type CursorCodec } from '../pagination';
import type { Page } from '../ports/store';
import type { DeliveryPosition, EndpointChanges, UrlGuard, WebhookRepository } from '../ports/webhooks';
import { hasRole, type Viewer } from '../viewer';
import { endpointEvent } from './retry-policy';
import { newSigningSecret, sealSecret } from './secrets';
import { WEBHOOK_EVENT_TYPES, type DeliveryAttemptRecord, type DeliveryRecord, type StoredWebhookEndpoint, type WebhookEndpointRecord, type WebhookEventType } from './webhook.model';

export interface WebhookServiceOptions {
  repository: WebhookRepository;
  sealer: TokenSealer;
  urlGuard: UrlGuard;
  cursors: CursorCodec;
  now: () => number;
  secretOverlapMillis: number;
  retryHorizonMillis: number;
  globalAdminTenant?: string;
}

export interface EndpointInput {
  url?: string;
  eventTypes?: WebhookEventType[];
  enabled?: boolean;
}

export interface DeliveryConnection {
  edges: { cursor: string; node: DeliveryRecord }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string };
  totalCount: number;
}

/** Endpoints one tenant may register: each decision is one outbox row per endpoint. */
export const MAX_ENDPOINTS_PER_TENANT = 20;
const MAX_URL_LENGTH = 2_048;
const CURSOR_KIND = 'webhook-delivery';

const isPosition = (value: unknown): value is DeliveryPosition =>
  typeof value === 'object' && value !== null && typeof (value as DeliveryPosition).createdAtMillis === 'number' && typeof (value as DeliveryPosition).id === 'string';

/** What a caller is shown of an endpoint: never its sealed secrets. */
function shown(endpoint: StoredWebhookEndpoint): WebhookEndpointRecord {
  const { sealedSecret: _secret, sealedPreviousSecret: _previous, ...rest } = endpoint;
  return rest;
}

export class WebhookService {
  constructor(private readonly options: WebhookServiceOptions) {}

  async create(viewer: Viewer, input: EndpointInput & { tenant?: string | null }): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    const tenant = input.tenant ?? viewer.tenant;
    if (!this.canManage(viewer, tenant)) throw forbidden();
    const url = await this.checkUrl(input.url);
    const eventTypes = checkEventTypes(input.eventTypes);
    const { repository, sealer, now } = this.options;
    if ((await repository.countEndpoints(tenant)) >= MAX_ENDPOINTS_PER_TENANT) throw badInput(`A tenant may register at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints.`);
    const id = `whe_${randomUUID().replace(/-/g, '')}`;
    const secret = newSigningSecret();
    const at = new Date(now());
    const endpoint: StoredWebhookEndpoint = {
      id,
      tenant,
      url,
      eventTypes,
      enabled: input.enabled ?? true,
      failing: false,
      consecutiveFailures: 0,
      createdAt: at,
      updatedAt: at,
      sealedSecret: sealSecret(sealer, id, secret),
    };
    await repository.createEndpoint(endpoint, [endpointEvent('WEBHOOK_ENDPOINT_CREATED', id, viewer.userId)]);
    return { endpoint: shown(endpoint), secret };
  }

  async update(viewer: Viewer, id: string, input: EndpointInput): Promise<WebhookEndpointRecord> {
    await this.managed(viewer, id);
    const changes: EndpointChanges = {
      ...(input.url !== undefined && input.url !== null && { url: await this.checkUrl(input.url) }),
      ...(input.eventTypes !== undefined && input.eventTypes !== null && { eventTypes: checkEventTypes(input.eventTypes) }),
      ...(input.enabled !== undefined && input.enabled !== null && { enabled: input.enabled }),
    };
    const updated = await this.options.repository.updateEndpoint(id, changes, [endpointEvent('WEBHOOK_ENDPOINT_UPDATED', id, viewer.userId)], new Date(this.options.now()));
    if (!updated) throw notFound('Webhook endpoint');
    return shown(updated);
  }

  /** A new secret, shown once; the one it replaces keeps signing (as a second signature) for `overlapSeconds`. */
  async rotateSecret(viewer: Viewer, id: string, overlapSeconds?: number | null): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    const before = await this.managed(viewer, id);
    if (overlapSeconds !== undefined && overlapSeconds !== null && (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > 30 * 86_400)) {
      throw badInput('overlapSeconds must be between 0 and 2592000 (30 days).');
    }
    const { sealer, now, repository } = this.options;
    const at = new Date(now());
    const overlapMillis = overlapSeconds === undefined || overlapSeconds === null ? this.options.secretOverlapMillis : overlapSeconds * 1000;
    const secret = newSigningSecret();
    const rotation = {
      sealedSecret: sealSecret(sealer, id, secret),
      sealedPreviousSecret: before.sealedSecret,
      previousSecretExpiresAt: new Date(at.getTime() + overlapMillis),
    };
    const updated = await repository.updateEndpoint(id, { rotation }, [endpointEvent('WEBHOOK_SECRET_ROTATED', id, viewer.userId)], at);
    if (!updated) throw notFound('Webhook endpoint');
    return { endpoint: shown(updated), secret };
  }

  async delete(viewer: Viewer, id: string): Promise<boolean> {
    await this.managed(viewer, id);
    const deleted = await this.options.repository.deleteEndpoint(id, [endpointEvent('WEBHOOK_ENDPOINT_DELETED', id, viewer.userId)], new Date(this.options.now()));
    if (!deleted) throw notFound('Webhook endpoint');
    return true;
  }

  async list(viewer: Viewer, tenant?: string | null): Promise<WebhookEndpointRecord[]> {
    if (hasRole(viewer, 'ADMIN')) return (await this.options.repository.listEndpoints(tenant ?? undefined)).map(shown);
    if (tenant !== undefined && tenant !== null && tenant !== viewer.tenant) return [];
    return (await this.options.repository.listEndpoints(viewer.tenant)).map(shown);
  }

  async find(viewer: Viewer, id: string): Promise<WebhookEndpointRecord> {
    return shown(await this.readable(viewer, id));
  }

  async deliveries(viewer: Viewer, endpointId: string, first: number, after?: string | null): Promise<DeliveryConnection> {
    await this.readable(viewer, endpointId);
    return this.deliveryPage(endpointId, first, after);
  }

  /** An endpoint's log, for an endpoint the caller has already been shown. */
  async deliveryPage(endpointId: string, first: number, after?: string | null): Promise<DeliveryConnection> {
    const { cursors, repository } = this.options;
    const position = after ? cursors.decode(CURSOR_KIND, after, isPosition) : undefined;
    const page: Page<DeliveryRecord> = await repository.deliveries(endpointId, checkPageSize(first), position);
    const edges = page.items.map((node) => ({ cursor: cursors.encode(CURSOR_KIND, { createdAtMillis: node.createdAt.getTime(), id: node.id }), node }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor }, totalCount: page.totalCount };
  }

  attemptsFor(deliveryIds: readonly string[]): Promise<DeliveryAttemptRecord[][]> {
    return this.options.repository.attemptsFor(deliveryIds);
  }

  /** Tries a delivery again at once, for a whole new retry horizon, whatever became of it. */
  async redeliver(viewer: Viewer, deliveryId: string): Promise<DeliveryRecord> {
    const { repository, now, retryHorizonMillis } = this.options;
    const delivery = await repository.findDelivery(deliveryId);
    if (!delivery) throw notFound('Webhook delivery');
    await this.managed(viewer, delivery.endpointId, 'Webhook delivery');
    const at = new Date(now());
    const redelivered = await repository.redeliver(deliveryId, delivery.tenant, at, new Date(at.getTime() + retryHorizonMillis), [
      endpointEvent('WEBHOOK_REDELIVERY_REQUESTED', delivery.endpointId, viewer.userId),
    ]);
    if (!redelivered) throw notFound('Webhook delivery');
    return redelivered;
  }

  private canManage(viewer: Viewer, tenant: string): boolean {
    if (!hasRole(viewer, 'ADMIN')) return false;
    return viewer.tenant === tenant || (this.options.globalAdminTenant !== undefined && viewer.tenant === this.options.globalAdminTenant);
  }

  /** The endpoint, when the viewer may manage it; NOT_FOUND when it may not even see it, FORBIDDEN when it may only read it. */
  private async managed(viewer: Viewer, id: string, what = 'Webhook endpoint'): Promise<StoredWebhookEndpoint> {
    const endpoint = await this.readable(viewer, id, what);
    if (!this.canManage(viewer, endpoint.tenant)) throw forbidden();
    return endpoint;
  }

  private async readable(viewer: Viewer, id: string, what = 'Webhook endpoint'): Promise<StoredWebhookEndpoint> {
    const endpoint = await this.options.repository.findEndpoint(id);
    const visible = endpoint && (hasRole(viewer, 'ADMIN') || (hasRole(viewer, 'AUDITOR') && endpoint.tenant === viewer.tenant));
    if (!endpoint || !visible) throw notFound(what);
    return endpoint;
  }

  private async checkUrl(url: string | undefined): Promise<string> {
    if (url === undefined || url.length === 0) throw badInput('url is required.');
    if (url.length > MAX_URL_LENGTH) throw badInput(`url must be at most ${MAX_URL_LENGTH} characters.`);
    await this.options.urlGuard.check(url);
    return url;
  }
}

function checkEventTypes(eventTypes: WebhookEventType[] | undefined): WebhookEventType[] {
  const unique = [...new Set(eventTypes ?? [])];
  if (unique.length === 0) throw badInput('eventTypes must name at least one event type.');
  for (const type of unique) if (!WEBHOOK_EVENT_TYPES.includes(type)) throw badInput(`Unknown webhook event type ${type}.`);
  return unique;
}
