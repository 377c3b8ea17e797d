/**
 * The composition root: builds the store, the Face client (against Azure, or the emulator the entry
 * point brings), pub/sub, the limits and the one authentication, the services, the GraphQL rules
 * both transports share, Apollo (HTTP) and graphql-ws (WebSocket) on one HTTP server, and returns
 * `{ url, stop }`. Nothing here runs at import time; `main.ts` calls it with the configuration,
 * tests call it on port 0.
 */
import 'reflect-metadata';
import { createAuthenticate } from './auth/authenticate';
import type { GatewayConfig } from './config';
import { createRoutes } from './composition/http-routes';
import { startPolicies } from './composition/policies';
import { createTokens } from './composition/tokens';
import { createWebhooks } from './composition/webhooks';
import { AuditFeed } from './domain/audit/audit-feed';
import { AuditService } from './domain/audit/audit.service';
import { auditNoticePublisher } from './domain/audit/feed-notices';
import { EvidenceService } from './domain/evidence/evidence.service';
import { ImageSealer } from './domain/evidence/image-sealer';
import { IdempotencyService } from './domain/idempotency/idempotency.service';
import { TokenSealer } from './domain/idempotency/token-sealer';
import { RateLimits } from './domain/limits/limits';
import { createInMemoryRateLimitCounter } from './domain/limits/rate-limit';
import { CursorCodec } from './domain/pagination';
import { createSessionServices } from './domain/sessions';
import type { HostResolver } from './adapters/webhooks/outbound-guard';
import { createResilientFace } from './adapters/face/resilient-face';
import { checkFaceAtStart, type FaceStartupProblem } from './adapters/face/startup-check';
import { createRedisRateLimitCounter } from './adapters/limits/redis-rate-limit';
import { createInProcessPubSub } from './adapters/pubsub/in-process';
import { createRedisPubSub } from './adapters/pubsub/redis-pubsub';
import { openStore } from './adapters/store/open-store';
import type { Services } from './graphql/context';
import { GraphQLMetrics } from './graphql/graphql-metrics';
import { createLoaders } from './graphql/loaders';
import { createQueryGuard } from './graphql/query-limits';
import { buildGatewaySchema } from './graphql/schema';
import { createLogger } from './observability/logger';
import { Metrics } from './observability/metrics';
import { deriveCursorKey } from './secrets/cursor-key';
import { deriveDeviceCorrelationKey } from './secrets/device-correlation-key';
import { ErasureService } from './domain/erasure/erasure.service';
import { resolveIdempotencySecret } from './secrets/idempotency-secret';
import { startApollo } from './transport/apollo';
import { deriveAuditSeal } from './secrets/audit-keys';
import { resolveEvidenceKey } from './secrets/evidence-key';
import { clientAddress } from './transport/client-address';
import { createGraphQLRules } from './transport/graphql-rules';
import { EMULATOR_PREFIX, GRAPHQL_PATH, listen, type MountedHandler } from './transport/http-server';
import { authenticateRequests } from './transport/request-auth';
import { attachWebSocketServer } from './transport/websocket';

export type { MountedHandler } from './transport/http-server';

export interface GatewayOptions {
  config: GatewayConfig;
  /** Milliseconds since epoch, for session expiry; tests move it forward. Default `Date.now`. */
  now?: () => number;
  /**
   * How webhook deliveries resolve endpoint host names, at registration and at each connection;
   * default the system resolver. Tests stand in a resolver of their own for DNS.
   */
  resolveHost?: HostResolver;
  /** Where log lines go; default stdout. */
  logSink?: (line: string) => void;
  /** Node.js process metrics at /metrics too (`main.ts`: one gateway per process); default false. */
  processMetrics?: boolean;
  /**
   * The Face emulator, served under /emulator on the gateway's own port; required when the
   * configuration is in emulator mode. The entry point (or a test) brings it: the gateway itself
   * knows only that it answers HTTP requests.
   */
  faceEmulator?: MountedHandler;
}

export interface Gateway {
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  /** The dev token pre-filled in Sandbox and /demo, only with the generated development secret; for the start-up banner. */
  devToken?: string;
  /** The emulator's base URL, in emulator mode. */
  emulatorUrl?: string;
  /** One Face call now: what is wrong with the Face settings, if anything (`main.ts` asks at start). */
  checkFace(): Promise<FaceStartupProblem | undefined>;
  stop(): Promise<void>;
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  if (config.face.mode === 'emulator' && !options.faceEmulator) {
    throw new Error('emulator mode needs the Face emulator: start the gateway through src/main.ts, or pass options.faceEmulator');
  }
  const now = options.now ?? Date.now;
  const logger = createLogger(config.logLevel, options.logSink);
  const metrics = new Metrics({ processMetrics: options.processMetrics });

  const { verifier, devToken } = createTokens(config, logger);

  const idempotencySecret = resolveIdempotencySecret(config);
  const auditSeal = deriveAuditSeal(idempotencySecret);
  const store = await openStore(config, { seal: auditSeal, checkpoints: config.auditCheckpoints });
  // Several instances share decisions and rate-limit counters through Redis; one keeps them in process.
  const redis = config.redisUrl
    ? await createRedisPubSub({
        url: config.redisUrl,
        channelPrefix: config.redisPrefix,
        onError: (error) => logger.warn({ err: error.message }, 'Redis connection error'),
      }).catch(async (error: unknown) => {
        await store.close();
        throw error;
      })
    : undefined;
  const pubsub = redis ?? createInProcessPubSub();
  const emulator = config.face.mode === 'emulator' ? options.faceEmulator : undefined;

  // Listen first: in emulator mode the Face client needs our own port, unknown until bound (port 0).
  const http = await listen({ host: config.host, port: config.port, logger, limits: config.http });
  const { url, port } = http;
  const emulatorUrl = emulator ? `http://127.0.0.1:${port}${EMULATOR_PREFIX}` : undefined;

  // Retries, a bound per call, the per-second cap (polls yield to starts) and the circuit breaker.
  const resilientFace = createResilientFace({
    endpoint: config.face.mode === 'azure' ? config.face.endpoint : (emulatorUrl as string),
    apiKey: config.face.mode === 'azure' ? config.face.apiKey : (config.face.emulatorKey ?? 'emulator'),
    config,
    logger: logger.child({ component: 'face' }),
    metrics,
  });
  const face = resilientFace.face;
  const counter = redis
    ? createRedisRateLimitCounter(redis.commands, config.redisPrefix, createInMemoryRateLimitCounter(), (error) =>
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Redis did not answer a rate-limit check; counting in this process'),
      )
    : createInMemoryRateLimitCounter();
  const limits = new RateLimits(counter, config.rateLimits, now, (rule) => metrics.rateLimited(rule));
  // One authentication for every way in, with the same anonymous budget per address.
  const authenticate = authenticateRequests(createAuthenticate(verifier, limits), config.trustProxyHops);

  const cursors = new CursorCodec(deriveCursorKey(idempotencySecret));
  const sealer = new ImageSealer(resolveEvidenceKey(config));
  const policies = await startPolicies({ config, store, pubsub, now });
  const auditAppended = auditNoticePublisher(pubsub, logger.child({ component: 'audit-feed' }));
  const sessions = createSessionServices({
    store,
    policies,
    face,
    pubsub,
    logger: logger.child({ component: 'sessions' }),
    now,
    pollIntervalMillis: config.pollIntervalMillis,
    pollMaxIntervalMillis: config.pollMaxIntervalMillis,
    expirySweepIntervalMillis: config.expirySweepIntervalMillis,
    sessionLeaseMillis: config.sessionLeaseMillis,
    metrics,
    limits,
    cursors,
    onAuditAppended: auditAppended,
    deviceCorrelationKey: deriveDeviceCorrelationKey(idempotencySecret),
    maxAttempts: config.livenessMaxAttempts,
    requireDeviceDigest: config.requireDeviceDigest,
    evidence: { sealer, retentionMillis: config.evidenceRetentionMillis, deleteAtFace: config.faceDeleteAfterDecision },
    idempotency: new IdempotencyService({
      repository: store.idempotency,
      sealer: new TokenSealer(idempotencySecret),
      logger: logger.child({ component: 'idempotency' }),
      now,
      // Longer than a start can take: the Face call's whole budget, plus the store.
      claimLeaseMillis: config.faceTotalTimeoutMillis + 15_000,
      findSession: (id) => store.sessions.findById(id),
    }),
  });
  const { webhooks, dispatcher } = createWebhooks({
    config,
    store,
    idempotencySecret,
    cursors,
    now,
    logger: logger.child({ component: 'webhooks' }),
    metrics,
    resolveHost: options.resolveHost,
  });
  const auditFeed = new AuditFeed({
    pubsub,
    audit: store.audit,
    logger: logger.child({ component: 'audit-feed' }),
    bufferLimit: config.webSocket.auditFeedBufferEvents,
    recheckMillis: config.webSocket.auditFeedRecheckMillis,
  });
  const services: Services = {
    sessions,
    audit: new AuditService(store.audit, { cursors, seal: auditSeal }),
    auditFeed,
    webhooks,
    policies,
    erasure: new ErasureService({
      repository: store.erasure,
      now,
      globalAdminTenant: config.webhooks.globalAdminTenant,
      onAuditAppended: auditAppended,
      inProgress: sessions.commands,
    }),
    evidence: new EvidenceService({ evidence: store.evidence, sessions: store.sessions, sealer, now, linkTtlMillis: config.evidenceLinkTtlMillis }),
  };

  const schema = await buildGatewaySchema();
  const graphqlMetrics = new GraphQLMetrics(metrics, schema);
  metrics.readLiveCounts({
    activeSubscriptions: () => graphqlMetrics.activeSubscriptions,
    activePollers: () => sessions.polling.activePollers,
    faceCircuitState: () => resilientFace.breaker.state,
    faceCallsWaiting: () => resilientFace.scheduler.waiting,
    webhookBacklog: () => store.webhooks.backlog(),
  });
  // What HTTP and WebSocket share: limits, authentication, context, masking, metrics, log scope.
  const rules = createGraphQLRules({
    schema,
    queryGuard: createQueryGuard(config.queryLimits, { introspection: config.introspectionEnabled }),
    metrics: graphqlMetrics,
    authenticate,
    services,
    createLoaders: () => createLoaders(store),
    logger,
    production: config.production,
  });
  const webSockets = attachWebSocketServer({
    httpServer: http.server,
    path: GRAPHQL_PATH,
    clientAddress: (request) => clientAddress(request, config.trustProxyHops),
    rules,
    logger: logger.child({ component: 'websocket' }),
    limits: config.webSocket,
    production: config.production,
  });
  const apollo = await startApollo({
    rules,
    httpServer: http.server,
    logger,
    production: config.production,
    sandbox: config.sandboxEnabled && { devToken, webClient: config.webClientEnabled },
    drain: () => webSockets.dispose(),
  });

  http.serve(
    await createRoutes({
      config,
      apollo,
      rules,
      authenticate,
      audit: services.audit,
      evidence: services.evidence,
      checkpointPublicKeyPem: auditSeal.publicKeyPem,
      readinessChecks: {
        store: () => store.ping(),
        face: (signal) => resilientFace.readiness(signal),
        ...(redis ? { redis: () => redis.ping() } : {}),
      },
      metrics,
      devToken,
      logger,
      emulator,
    }),
  );

  await sessions.startBackgroundWork();
  dispatcher.start();
  logger.info({ url, face: config.face.mode, store: store.kind }, 'gateway listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await apollo.stop(); // drains HTTP, closes WebSockets with 1001
      resilientFace.close();
      await sessions.stop();
      await dispatcher.stop();
      policies.stop();
      await pubsub.close();
      await store.close();
      logger.info({}, 'gateway stopped');
    })());

  // Bounded like a readiness probe, so a silent Face delays the start banner by seconds, not minutes.
  const checkFace = () => checkFaceAtStart(face, Math.min(config.faceTimeoutMillis, 3_000));
  return { url, port, devToken, emulatorUrl, checkFace, stop };
}
