/**
 * What the gateway's one HTTP server answers, by path: GraphQL through Apollo, the audit export and
 * its checkpoint key, evidence links, health, metrics, and the browser-facing pages (front door,
 * /demo, the emulator in development, CORS when configured). Production leaves out the front door.
 */
import type { ApolloServer } from '@apollo/server';
import type { GatewayConfig } from '../config';
import type { AuditService } from '../domain/audit/audit.service';
import type { EvidenceService } from '../domain/evidence/evidence.service';
import type { GatewayContext } from '../graphql/context';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { createAuditExportHandler, createCheckpointKeyHandler } from '../transport/audit-export';
import { createCors } from '../transport/cors';
import { createEvidenceLinkHandler } from '../transport/evidence-link';
import { createFrontDoor } from '../transport/front-door';
import { createGraphQLHttpHandler } from '../transport/graphql-http';
import type { GraphQLRules } from '../transport/graphql-rules';
import { createReadiness, type ReadinessCheck } from '../transport/health';
import type { MountedHandler, Routes } from '../transport/http-server';
import { createMetricsHandler } from '../transport/metrics-endpoint';
import type { AuthenticateRequest } from '../transport/request-auth';
import { createWebClientHandler } from '../transport/web-client';

/** Fits a 6 MB image in base64 (8 MB) plus the rest of a request. */
export const BODY_LIMIT_BYTES = 10 * 1024 * 1024;

export interface RouteParts {
  config: GatewayConfig;
  apollo: ApolloServer<GatewayContext>;
  rules: GraphQLRules;
  authenticate: AuthenticateRequest;
  audit: AuditService;
  evidence: EvidenceService;
  checkpointPublicKeyPem: string;
  /** What must answer for `/readyz` to say ready, by name. */
  readinessChecks: Record<string, ReadinessCheck>;
  metrics: Metrics;
  devToken: string | undefined;
  logger: Logger;
  emulator: MountedHandler | undefined;
}

export async function createRoutes(parts: RouteParts): Promise<Routes> {
  const { config, emulator } = parts;
  return {
    graphql: createGraphQLHttpHandler({
      apollo: parts.apollo,
      rules: parts.rules,
      bodyLimitBytes: BODY_LIMIT_BYTES,
      anonymousBodyLimitBytes: config.http.anonymousBodyLimitBytes,
    }),
    auditExport: createAuditExportHandler({ authenticate: parts.authenticate, audit: parts.audit }),
    auditCheckpointKey: createCheckpointKeyHandler(parts.checkpointPublicKeyPem),
    evidence: createEvidenceLinkHandler(parts.evidence),
    readiness: createReadiness(parts.readinessChecks, { cacheMillis: config.readinessCacheMillis }),
    metrics: config.metricsEnabled ? createMetricsHandler({ scrape: () => parts.metrics.scrape(), token: config.metricsToken }) : undefined,
    webClient: config.webClientEnabled ? await createWebClientHandler({ devToken: parts.devToken, logger: parts.logger }) : undefined,
    emulator,
    frontDoor: config.production
      ? undefined
      : await createFrontDoor({ webClient: config.webClientEnabled, sandbox: config.sandboxEnabled, metrics: config.metricsEnabled, emulator: emulator !== undefined }),
    cors: config.corsOrigins.length > 0 ? createCors({ origins: config.corsOrigins, allowCredentials: config.corsAllowCredentials }) : undefined,
  };
}
