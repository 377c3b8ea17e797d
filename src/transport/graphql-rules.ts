/**
 * What both GraphQL transports take from one place, so that Apollo over HTTP (`apollo.ts`,
 * `graphql-http.ts`) and graphql-ws over WebSocket (`websocket.ts`) cannot drift apart:
 *
 * - the schema and the document limits (depth, aliases, directives, cost, tokens, introspection:
 *   `graphql/query-limits.ts`);
 * - who the caller is, with the same anonymous budget (`request-auth.ts`, `auth/authenticate.ts`);
 * - the context every resolver gets (viewer, services, the operation's DataLoaders, request id);
 * - the error masking (`formatPublicError`), with "Did you mean …?" hidden in production;
 * - the request metrics (`graphql/graphql-metrics.ts`);
 * - the request's logger on the context, which resolvers hand to the domain calls that log: the
 *   request id on each of its lines (`withFields`: no pino child is built for the many operations
 *   that log nothing).
 */
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Viewer } from '../domain/viewer';
import { formatPublicError, type ErrorLogger } from '../errors';
import type { GatewayContext, Services } from '../graphql/context';
import type { GraphQLMetrics } from '../graphql/graphql-metrics';
import type { Loaders } from '../graphql/loaders';
import type { QueryGuard } from '../graphql/query-limits';
import { type RootLogger, withFields } from '../observability/logger';
import type { AuthenticateRequest } from './request-auth';

export interface GraphQLRules {
  schema: GraphQLSchema;
  queryGuard: QueryGuard;
  metrics: GraphQLMetrics;
  authenticate: AuthenticateRequest;
  /** The context of one operation (a WebSocket's operations each get their own, for their loaders and request id). */
  createContext(viewer: Viewer | null, requestId: string): GatewayContext;
  /** What the caller sees of an error; `logger` gets the details of one that is masked. */
  formatError(formatted: GraphQLFormattedError, error: unknown, logger: ErrorLogger): GraphQLFormattedError;
}

export interface GraphQLRulesOptions {
  schema: GraphQLSchema;
  queryGuard: QueryGuard;
  metrics: GraphQLMetrics;
  authenticate: AuthenticateRequest;
  services: Services;
  createLoaders: () => Loaders;
  logger: RootLogger;
  /** Production: no "Did you mean …?" in errors, which reveal the schema to whoever guesses. */
  production: boolean;
}

export function createGraphQLRules(options: GraphQLRulesOptions): GraphQLRules {
  const { services, createLoaders, logger } = options;
  const hideSuggestions = options.production;
  return {
    schema: options.schema,
    queryGuard: options.queryGuard,
    metrics: options.metrics,
    authenticate: options.authenticate,
    createContext: (viewer, requestId) => ({ viewer, services, loaders: createLoaders(), requestId, logger: withFields(logger, { requestId }) }),
    formatError: (formatted, error, errorLogger) => formatPublicError(formatted, error, errorLogger, { hideSuggestions }),
  };
}
