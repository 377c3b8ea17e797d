/**
 * The gateway's one HTTP server and its routes. It listens before the routes exist (in emulator
 * mode the Face client needs the gateway's own port, unknown until bound on port 0) and answers 503
 * until `serve` gives it its routes. Every request gets a request id and an access line
 * (`request-id.ts`); an error no route handled is logged and answered 500.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpServerLimits } from '../config';
import { describeForLog } from '../errors';
import type { RootLogger } from '../observability/logger';
import { AUDIT_EXPORT_PATH, CHECKPOINT_KEY_PATH } from './audit-export';
import type { Cors } from './cors';
import { EVIDENCE_PATH } from './evidence-link';
import type { FrontDoor } from './front-door';
import { sendJson } from './graphql-http';
import { type Readiness, sendHealth, sendReadiness } from './health';
import { METRICS_PATH } from './metrics-endpoint';
import { pathForLog, requestIdOf, withRequestIds } from './request-id';
import { WEB_CLIENT_PATH } from './web-client';

export const GRAPHQL_PATH = '/graphql';
export const EMULATOR_PREFIX = '/emulator';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
type UrlHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** Something served under a path prefix of the gateway's port. */
export interface MountedHandler {
  /** Answers a request whose path has had the prefix removed; false (nothing written) when the path is not its own. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

export interface Routes {
  graphql: UrlHandler;
  auditExport: UrlHandler;
  /** `GET /audit/checkpoint-key`: the public key of the audit checkpoints, PEM. */
  auditCheckpointKey: (req: IncomingMessage, res: ServerResponse) => void;
  /** `/readyz`: whether what must answer for the gateway to take traffic does (shared and cached). */
  readiness: Readiness;
  /** `/metrics`, when enabled. */
  metrics?: Handler;
  /** The web client under `/demo`, when enabled. */
  webClient?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> | void;
  /** The Face emulator under `/emulator`, in emulator mode. */
  emulator?: MountedHandler;
  /** One-time links to session images, `/evidence/<secret>`. */
  evidence?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;
  /** `/` and `/docs/…`, outside production. */
  frontDoor?: FrontDoor;
  /** CORS on the API routes, for the origins `CORS_ORIGINS` lists. */
  cors?: Cors;
}

export interface HttpServer {
  server: http.Server;
  port: number;
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  serve(routes: Routes): void;
}

export interface ListenOptions {
  host: string;
  port: number;
  logger: RootLogger;
  limits: Pick<HttpServerLimits, 'headersTimeoutMillis' | 'requestTimeoutMillis' | 'keepAliveTimeoutMillis' | 'maxConnections'>;
}

export async function listen(options: ListenOptions): Promise<HttpServer> {
  const { logger, limits } = options;
  let route: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) => sendJson(res, 503, { status: 'starting' });
  const server = http.createServer(
    {
      // Node's defaults let a client that sends a byte now and then hold a connection for 5 minutes;
      // thousands of them hold the process's sockets and memory. A request must arrive whole in time.
      headersTimeout: limits.headersTimeoutMillis,
      requestTimeout: limits.requestTimeoutMillis,
      keepAliveTimeout: limits.keepAliveTimeoutMillis,
      // The timeouts above are only enforced when Node checks its connections (every 30 s by
      // default, which would let a request outlive its timeout by that much).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMillis / 4))),
    },
    withRequestIds(logger, (req, res) => {
      route(req, res).catch((error: unknown) => {
        logger.error({ requestId: requestIdOf(req), err: describeForLog(error), path: pathForLog(req.url) }, 'unhandled error while serving an HTTP request');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
    }),
  );
  // Past the cap Node closes a new connection at once, before reading anything from it.
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    serve: (routes) => {
      route = router(routes);
    },
  };
}

/** The routes a page on another origin may call, when CORS_ORIGINS lists that origin. */
const API_PATHS = new Set([GRAPHQL_PATH, AUDIT_EXPORT_PATH, CHECKPOINT_KEY_PATH]);

function router(routes: Routes): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const under = (pathname: string, prefix: string) => pathname === prefix || pathname.startsWith(`${prefix}/`);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const { pathname } = url;
    const get = req.method === 'GET';
    if (routes.cors && API_PATHS.has(pathname) && routes.cors(req, res)) return;
    if (pathname === GRAPHQL_PATH) return routes.graphql(req, res, url);
    if (pathname === AUDIT_EXPORT_PATH) return routes.auditExport(req, res, url);
    if (pathname === CHECKPOINT_KEY_PATH && get) return routes.auditCheckpointKey(req, res);
    if (pathname === '/healthz' && get) return sendHealth(res);
    if (pathname === METRICS_PATH && get && routes.metrics) return routes.metrics(req, res);
    if (pathname === '/readyz' && get) return sendReadiness(res, routes.readiness);
    if (routes.evidence && pathname.startsWith(`${EVIDENCE_PATH}/`)) return routes.evidence(req, res, pathname);
    if (routes.webClient && under(pathname, WEB_CLIENT_PATH)) return routes.webClient(req, res, pathname);
    if (routes.emulator && under(pathname, EMULATOR_PREFIX)) {
      if (routes.emulator.handle(req, res, pathname.slice(EMULATOR_PREFIX.length) || '/')) return;
    }
    if (routes.frontDoor?.(req, res, pathname)) return;
    sendJson(res, 404, { error: 'Not found' });
  };
}
