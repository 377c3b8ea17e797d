/**
 * The composition root: builds the store, the Face client (or the embedded emulator), pub/sub, the
 * services, the schema and the HTTP/WebSocket server, and returns `{ url, stop }`. Nothing here runs
 * at import time; `main.ts` calls it with the configuration, tests call it on port 0.
 */
import 'reflect-metadata';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { AUDIT_EXPORT_PATH, createAuditExportHandler } from './transport/audit-export';
import { AuditService } from './domain/audit/audit.service';
import { resolveJwtKey } from './secrets/dev-jwt-secret';
import { bearerToken, createTokenVerifier, signDevToken, type TokenVerifier } from './auth/jwt';
import type { GatewayConfig } from './config';
import { describeForLog, formatPublicError, PublicError, toPublicError } from './errors';
import { createResilientFace } from './adapters/face/resilient-face';
import type { GatewayContext, Services } from './graphql/context';
import { createLoaders } from './graphql/loaders';
import { buildGatewaySchema } from './graphql/schema';
import { createGraphQLHttpHandler, noStoreResponses, sendJson } from './transport/graphql-http';
import { sendHealth, sendReadiness } from './transport/health';
import { landingPageDocument, landingPageVariables } from './transport/landing-page';
import { createQueryGuard } from './graphql/query-limits';
import { requestIdOf, withRequestIds } from './transport/request-id';
import { createWebClientHandler, WEB_CLIENT_PATH } from './transport/web-client';
import { attachWebSocketServer } from './transport/websocket';
import { resolveIdempotencySecret } from './secrets/idempotency-secret';
import { IdempotencyService } from './domain/idempotency/idempotency.service';
import { TokenSealer } from './domain/idempotency/token-sealer';
import { unauthenticatedRequestGuard } from './transport/http-guard';
import { RateLimits } from './domain/limits/limits';
import { createInMemoryRateLimitCounter } from './domain/limits/rate-limit';
import { createLogger, type Logger } from './observability/logger';
import { GraphQLMetrics } from './graphql/graphql-metrics';
import { Metrics } from './observability/metrics';
import { createMetricsHandler, METRICS_PATH } from './transport/metrics-endpoint';
import { createInProcessPubSub } from './domain/ports/pubsub';
import { createRedisPubSub } from './adapters/pubsub/redis-pubsub';
import { createRedisRateLimitCounter } from './adapters/limits/redis-rate-limit';
import { SessionService } from './domain/sessions/session.service';
import { openStore } from './adapters/store/open-store';

export interface GatewayOptions {
  config: GatewayConfig;
  /** Milliseconds since epoch, for session expiry; tests move it forward. Default `Date.now`. */
  now?: () => number;
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

/** Something served under a path prefix of the gateway's port. */
export interface MountedHandler {
  /** Answers a request whose path has had the prefix removed; false (nothing written) when the path is not its own. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

export interface Gateway {
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  /** The dev token pre-filled in Sandbox, outside production with an HS secret; for the start-up banner. */
  devToken?: string;
  /** The emulator's base URL, in emulator mode. */
  emulatorUrl?: string;
  stop(): Promise<void>;
}

/** Fits a 6 MB image in base64 (8 MB) plus the rest of a request. */
export const BODY_LIMIT_BYTES = 10 * 1024 * 1024;
const GRAPHQL_PATH = '/graphql';
const EMULATOR_PREFIX = '/emulator';

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  if (config.face.mode === 'emulator' && !options.faceEmulator) {
    throw new Error('emulator mode needs the Face emulator: start the gateway through src/main.ts, or pass options.faceEmulator');
  }
  const now = options.now ?? Date.now;
  const logger = createLogger(config.logLevel, options.logSink);
  const metrics = new Metrics({ processMetrics: options.processMetrics });

  const jwtKey = resolveJwtKey(config);
  const verifier = createTokenVerifier(jwtKey, {
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockToleranceSeconds: config.jwtClockToleranceSeconds,
    maxAgeSeconds: config.jwtMaxAgeSeconds,
  });
  const devToken =
    !config.production && jwtKey.kind === 'secret'
      ? signDevToken(jwtKey.secret, { sub: 'dev-user', roles: ['user', 'auditor'], tenant: 'default' }, 12 * 3600, {
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
        })
      : undefined;

  const store = await openStore(config);
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
  let route: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) =>
    sendJson(res, 503, { status: 'starting' });
  const httpServer = http.createServer(
    withRequestIds(logger, (req, res) => {
      route(req, res).catch((error: unknown) => {
        logger.error({ err: describeForLog(error), path: req.url?.split('?')[0] }, 'unhandled error while serving an HTTP request');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
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
  const countUnauthenticated = unauthenticatedRequestGuard(limits, config.trustProxyHops);

  const sessions = new SessionService({
    store,
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
    idempotency: new IdempotencyService({
      repository: store.idempotency,
      sealer: new TokenSealer(resolveIdempotencySecret(config)),
      logger: logger.child({ component: 'idempotency' }),
      now,
      // Longer than a start can take: the Face call's whole budget, plus the store.
      claimLeaseMillis: config.faceTotalTimeoutMillis + 15_000,
      findSession: (id) => store.sessions.findById(id),
    }),
  });
  const services: Services = { sessions, audit: new AuditService(store.audit) };

  const schema = await buildGatewaySchema();
  const graphqlMetrics = new GraphQLMetrics(metrics, schema);
  metrics.readLiveCounts({
    activeSubscriptions: () => graphqlMetrics.activeSubscriptions,
    activePollers: () => sessions.poller.size,
    faceCircuitState: () => resilientFace.breaker.state,
    faceCallsWaiting: () => resilientFace.scheduler.waiting,
  });
  const queryGuard = createQueryGuard(config.queryLimits, { introspection: config.introspectionEnabled });
  const webSockets = attachWebSocketServer({
    httpServer,
    path: GRAPHQL_PATH,
    schema,
    verifier,
    services,
    createLoaders: () => createLoaders(store),
    logger: logger.child({ component: 'websocket' }),
    withLogBindings: logger.withBindings,
    queryGuard,
    limits: config.webSocket,
    production: config.production,
    metrics: graphqlMetrics,
  });

  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: config.introspectionEnabled,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // main.ts owns the signals: Apollo's own handler would stop Apollo alone and leave our stop()
    // waiting forever on Apollo's stop barrier, so pollers and the store were never closed.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: config.production,
    parseOptions: queryGuard.parseOptions,
    validationRules: queryGuard.validationRules,
    formatError: (formatted, error) => formatPublicError(formatted, error, logger, { hideSuggestions: config.production }),
    logger: apolloLogger(logger),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5_000 }),
      // Apollo's cache-control plugin hooks every field of every operation (`willResolveField`) to
      // compute a policy that, with no cache hints in this schema, is always "no-store".
      ApolloServerPluginCacheControlDisabled(),
      noStoreResponses(),
      graphqlMetrics.apolloPlugin<GatewayContext>(),
      { serverWillStart: async () => ({ drainServer: () => webSockets.dispose() }) },
      config.sandboxEnabled
        ? ApolloServerPluginLandingPageLocalDefault({
            embed: true,
            includeCookies: false,
            document: landingPageDocument,
            variables: landingPageVariables,
            headers: devToken ? { Authorization: `Bearer ${devToken}` } : undefined,
          })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const graphqlHandler = createGraphQLHttpHandler({
    apollo,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    logger,
    context: graphqlMetrics.timedContext(async (req: IncomingMessage) => ({
      viewer: await viewerOf(verifier, req.headers.authorization, () => countUnauthenticated(req)),
      services,
      loaders: createLoaders(store),
      requestId: requestIdOf(req),
    })),
  });

  const auditExport = createAuditExportHandler({ verifier, audit: services.audit, countUnauthenticated });
  const webClient = config.webClientEnabled ? await createWebClientHandler({ devToken, logger }) : undefined;
  const metricsEndpoint = config.metricsEnabled ? createMetricsHandler({ scrape: () => metrics.scrape(), token: config.metricsToken }) : undefined;

  route = async (req, res) => {
    const requestUrl = new URL(req.url ?? '/', 'http://gateway');
    const { pathname } = requestUrl;
    if (pathname === GRAPHQL_PATH) return graphqlHandler(req, res, requestUrl);
    if (pathname === AUDIT_EXPORT_PATH) return auditExport(req, res, requestUrl);
    if (pathname === '/healthz' && req.method === 'GET') return sendHealth(res);
    if (pathname === METRICS_PATH && req.method === 'GET' && metricsEndpoint) return metricsEndpoint(req, res);
    if (pathname === '/readyz' && req.method === 'GET') return sendReadiness(res, {
        store: () => store.ping(),
        face: () => face.ping(),
        ...(redis ? { redis: () => redis.ping() } : {}),
      });
    if (webClient && (pathname === WEB_CLIENT_PATH || pathname.startsWith(`${WEB_CLIENT_PATH}/`))) return webClient(req, res, pathname);
    if (emulator && (pathname === EMULATOR_PREFIX || pathname.startsWith(`${EMULATOR_PREFIX}/`))) {
      if (emulator.handle(req, res, pathname.slice(EMULATOR_PREFIX.length) || '/')) return;
    }
    sendJson(res, 404, { error: 'Not found' });
  };

  await sessions.startBackgroundWork();
  logger.info({ url, face: config.face.mode, store: store.kind }, 'gateway listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await apollo.stop(); // drains HTTP, closes WebSockets with 1001
      resilientFace.close();
      await sessions.stop();
      await pubsub.close();
      await store.close();
      logger.info({}, 'gateway stopped');
    })());

  return { url, port, devToken, emulatorUrl, stop };
}

/**
 * No header: an anonymous caller (only introspection answers). A header that fails: UNAUTHENTICATED.
 * Either way the request counts against its address's limit (`countUnauthenticated`, 429 beyond it).
 */
async function viewerOf(verifier: TokenVerifier, header: string | undefined, countUnauthenticated: () => Promise<void>) {
  let viewer;
  try {
    const token = bearerToken(header);
    viewer = token ? await verifier.verify(token) : null;
  } catch (error) {
    const mapped = toPublicError(error);
    if (mapped?.code === 'UNAUTHENTICATED') await countUnauthenticated();
    throw mapped ? new PublicError(mapped.code, mapped.message, { http: { status: 401 } }) : error;
  }
  if (!viewer) await countUnauthenticated();
  return viewer;
}

function apolloLogger(logger: Logger) {
  const child = logger.child({ component: 'apollo' });
  return {
    debug: (message: string) => child.debug({}, message),
    info: (message: string) => child.info({}, message),
    warn: (message: string) => child.warn({}, message),
    error: (message: string) => child.error({}, message),
  };
}

