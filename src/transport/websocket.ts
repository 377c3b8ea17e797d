/**
 * GraphQL over WebSocket (`graphql-transport-ws`, graphql-ws) on the same HTTP server and path.
 *
 * - The JWT is checked once, in `connection_init` (`{"authorization": "Bearer …"}`), within 3 s
 *   (else 4408), by the same authentication as over HTTP: without a valid one the socket closes with
 *   4403 (the refusal counts against the address's anonymous budget, and past that budget the close
 *   code is 4403 still), and it closes with 4403 too the moment the token stops being accepted (its
 *   `exp`, or its maximum age, plus the clock tolerance).
 * - The limits, context, error masking, metrics and log scoping are those of `graphql-rules.ts`,
 *   the same as over HTTP; documents go through the rules' `checkDocument` (graphql-ws would use
 *   plain graphql-js otherwise), and their cost is counted again with the variables (`checkCost`).
 * - One client address holds at most `maxConnectionsPerAddress` sockets, authenticated or not; the
 *   upgrade past that is refused with HTTP 429 before a WebSocket exists (a graphql-ws client sees an
 *   abnormal closure and retries with its backoff, where a close code in the 4xxx range would make
 *   it give up for good).
 * - Messages are at most `maxPayloadBytes` (else 1009), a connection has at most
 *   `maxSubscriptionsPerConnection` operations active at once, queries and mutations in flight
 *   included (else RATE_LIMITED for the one refused, and a warning sampled per connection: a burst
 *   must not turn into a burst of log lines), and a ping every `keepAliveMillis` terminates sockets
 *   that no longer answer.
 * - Each operation gets its own request id, carried by the log lines written on its behalf.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Viewer } from '../domain/viewer';
import type { WebSocketLimits } from '../config';
import { PublicError } from '../errors';
import type { GatewayContext } from '../graphql/context';
import { withFields, type Logger } from '../observability/logger';
import type { GraphQLRules } from './graphql-rules';
import { createSharedSubscribe } from './shared-events';
import { countSocketsPerAddress, SampledWarning } from './websocket-caps';

export interface WebSocketOptions {
  httpServer: Server;
  path: string;
  /** The address an upgrade is counted under, as for the anonymous budget (`client-address.ts`). */
  clientAddress: (request: IncomingMessage) => string;
  rules: GraphQLRules;
  logger: Logger;
  limits: WebSocketLimits;
  /** Production: generic close reasons. */
  production: boolean;
}

/** What this server keeps per connection, next to graphql-ws's `socket` and `request`. */
interface ConnectionState {
  viewer: Viewer;
  connectionId: string;
  /** Request id of each active operation, by the client's operation id. */
  operations: Map<string, string>;
  /** The too-many-operations warning of this connection, sampled. */
  refusals: SampledWarning;
}

const FORBIDDEN = 4403;
/** graphql-ws's default too: a client that opened a socket has 3 s to say who it is (else 4408). */
const CONNECTION_INIT_WAIT_MILLIS = 3_000;
/** setTimeout's largest delay (about 24.8 days); a longer-lived token is re-armed when it fires. */
const MAX_TIMER_MILLIS = 2_147_483_647;

export function attachWebSocketServer(options: WebSocketOptions): { dispose(): Promise<void> } {
  const { logger, limits, rules } = options;
  const { schema, metrics } = rules;
  const perAddress = countSocketsPerAddress(limits.maxConnectionsPerAddress);
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: options.path,
    maxPayload: limits.maxPayloadBytes,
    verifyClient: ({ req }, done) => {
      if (perAddress.admit(req, options.clientAddress(req))) {
        done(true);
        return;
      }
      logger.debug({ limit: limits.maxConnectionsPerAddress }, 'websocket upgrade refused: too many open from one address');
      done(false, 429, 'Too Many Requests', { 'Retry-After': '1' });
    },
  });

  const operationLogger = (state: Partial<ConnectionState>, id: string) =>
    withFields(logger, { connectionId: state.connectionId, requestId: state.operations?.get(id) });
  const formatFor = (state: Partial<ConnectionState>, id: string) => {
    const log = operationLogger(state, id);
    return (error: GraphQLError) => {
      const formatted = rules.formatError(error.toJSON(), error, log);
      metrics.operationErrored(state.operations?.get(id), formatted);
      return formatted;
    };
  };
  // Subscribers of one session who sent the same operation as the same viewer share the execution
  // of each decision; the viewer is all a resolver reads from the context that can change an answer.
  const sharedSubscribe = createSharedSubscribe((args) => {
    const viewer = (args.contextValue as GatewayContext).viewer;
    return viewer ? `${viewer.tenant}\u0000${viewer.userId}\u0000${viewer.roles.join(',')}` : undefined;
  });

  const server = useServer<Record<string, unknown> | undefined, Partial<ConnectionState>>(
    {
      schema,
      isProd: options.production,
      connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MILLIS,
      onConnect: async (ctx) => {
        let viewer: Viewer | null;
        try {
          viewer = await rules.authenticate(ctx.extra.request, ctx.connectionParams?.authorization);
        } catch {
          return false; // refused, or refused and past the address's budget: 4403 either way
        }
        if (!viewer) return false;
        Object.assign(ctx.extra, { viewer, connectionId: randomUUID(), operations: new Map(), refusals: new SampledWarning() } satisfies ConnectionState);
        closeAtExpiry(ctx.extra.socket, viewer.expiresAtMillis, () =>
          logger.info({ connectionId: ctx.extra.connectionId }, 'websocket closed: its token expired'),
        );
        return true;
      },
      onSubscribe: (ctx, id, payload) => {
        const state = ctx.extra;
        state.operations?.set(id, randomUUID());
        const log = operationLogger(state, id);
        // graphql-ws registers the operation before asking us, so this count includes it.
        const active = Object.keys(ctx.subscriptions).length;
        if (active > limits.maxSubscriptionsPerConnection) {
          state.refusals?.note((refused) =>
            log.warn({ active, limit: limits.maxSubscriptionsPerConnection, refused }, 'websocket operation refused: too many active on one connection'),
          );
          metrics.tooManyOperations();
          return [
            new PublicError(
              'RATE_LIMITED',
              `At most ${limits.maxSubscriptionsPerConnection} operations may be active on one connection; complete one first.`,
              { reason: 'TOO_MANY_SUBSCRIPTIONS', retryAfterSeconds: 1 },
            ),
          ];
        }
        const document = rules.queryGuard.checkDocument(schema, payload.query);
        if (Array.isArray(document)) return document;
        const tooCostly = rules.queryGuard.checkCost(schema, document, payload.operationName, payload.variables);
        if (tooCostly.length > 0) return [...tooCostly];
        metrics.operationStarted(state.operations?.get(id), document, payload.operationName);
        log.debug({ operationName: payload.operationName ?? null }, 'websocket operation started');
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx, id): GatewayContext => rules.createContext(ctx.extra.viewer ?? null, ctx.extra.operations?.get(id) ?? randomUUID()),
      subscribe: sharedSubscribe,
      onNext: (ctx, id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(formatFor(ctx.extra, id)) } : undefined),
      onError: (ctx, id, _payload, errors) => {
        const formatted = errors.map(formatFor(ctx.extra, id));
        metrics.operationFinished(ctx.extra.operations?.get(id));
        ctx.extra.operations?.delete(id); // no completion follows an error
        return formatted;
      },
      onClose: (ctx) => ctx.extra.refusals?.flush(),
      onComplete: (ctx, id) => {
        operationLogger(ctx.extra, id).debug({}, 'websocket operation completed');
        metrics.operationFinished(ctx.extra.operations?.get(id));
        ctx.extra.operations?.delete(id);
      },
    },
    wss,
    limits.keepAliveMillis,
  );
  // Registered after useServer's own: its per-socket 'error' listener only writes to console.error
  // (an oversized frame, for one, which ws has already answered with 1009). Log it as ours instead.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error) => logger.warn({ err: error.message }, 'websocket error; the socket is closed'));
  });

  return {
    async dispose() {
      await server.dispose(); // closes every socket with 1001 Going away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Token expiry is judged by the real clock, as jsonwebtoken judges it. */
function closeAtExpiry(socket: WebSocket, expiresAtMillis: number, onExpired: () => void): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const remaining = expiresAtMillis - Date.now();
    if (remaining <= 0) {
      onExpired();
      return socket.close(FORBIDDEN, 'Forbidden');
    }
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MILLIS));
    timer.unref();
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}
