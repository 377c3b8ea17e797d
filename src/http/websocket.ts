/**
 * GraphQL over WebSocket (`graphql-transport-ws`, graphql-ws) on the same HTTP server and path.
 * The JWT is checked once, in `connection_init` (`{"authorization": "Bearer …"}`): without a valid one
 * the socket closes with 4403, and it closes with 4403 too when the token expires. Errors are
 * formatted by the same function as over HTTP.
 */
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { bearerToken, type TokenVerifier } from '../auth/jwt';
import type { Viewer } from '../auth/viewer';
import { formatPublicError } from '../errors';
import type { GatewayContext, Loaders, Services } from '../graphql/context';
import type { Logger } from '../logger';

export interface WebSocketOptions {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  services: Services;
  createLoaders: () => Loaders;
  logger: Logger;
}

const FORBIDDEN = 4403;
/** setTimeout's largest delay (about 24.8 days); a longer-lived token is re-armed when it fires. */
const MAX_TIMER_MILLIS = 2_147_483_647;

export function attachWebSocketServer(options: WebSocketOptions): { dispose(): Promise<void> } {
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path });
  const format = (error: GraphQLError) => formatPublicError(error.toJSON(), error, options.logger);

  const server = useServer<Record<string, unknown> | undefined, { viewer?: Viewer }>(
    {
      schema: options.schema,
      connectionInitWaitTimeout: 3_000,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        let viewer: Viewer;
        try {
          const token = bearerToken(typeof header === 'string' ? header : undefined);
          if (!token) return false;
          viewer = await options.verifier.verify(token);
        } catch {
          return false;
        }
        ctx.extra.viewer = viewer;
        closeAtExpiry(ctx.extra.socket, viewer.expiresAtMillis);
        return true;
      },
      context: (ctx): GatewayContext => ({
        viewer: ctx.extra.viewer ?? null,
        services: options.services,
        loaders: options.createLoaders(),
        requestId: randomUUID(),
      }),
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map(format) } : undefined,
    },
    wss,
  );

  return {
    async dispose() {
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Token expiry is judged by the real clock, as jsonwebtoken judges it. */
function closeAtExpiry(socket: import('ws').WebSocket, expiresAtMillis: number): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const remaining = expiresAtMillis - Date.now();
    if (remaining <= 0) return socket.close(FORBIDDEN, 'Forbidden');
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MILLIS));
    timer.unref();
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}
