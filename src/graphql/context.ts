/** What every resolver gets: the viewer (null when no token was sent), the services, and the request's DataLoaders. */
import type { AuditFeed } from '../domain/audit/audit-feed';
import type { AuditService } from '../domain/audit/audit.service';
import type { EvidenceService } from '../domain/evidence/evidence.service';
import type { SessionServices } from '../domain/sessions';
import type { Viewer } from '../domain/viewer';
import type { Logger } from '../observability/logger';
import type { WebhookService } from '../domain/webhooks/webhook.service';
import type { PolicyService } from '../domain/policy/policy.service';
import type { ErasureService } from '../domain/erasure/erasure.service';
import type { Loaders } from './loaders';

export interface Services {
  /** What resolvers call; polling and the decision bus run beneath them. */
  sessions: Pick<SessionServices, 'commands' | 'queries' | 'correlations'>;
  audit: AuditService;
  /** The live audit feed (`auditEvents`). */
  auditFeed: AuditFeed;
  evidence: EvidenceService;
  webhooks: WebhookService;
  /** Tenant policies (`tenantPolicy`, `setTenantPolicy`, `clearTenantPolicy`). */
  policies: PolicyService;
  /** Erasing a user's personal data (`eraseUserData`). */
  erasure: ErasureService;
}

export interface GatewayContext {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  requestId: string;
  /** The request's logger: its lines carry `requestId`. Handed to the domain calls that log. */
  logger: Logger;
}
