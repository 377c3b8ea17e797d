/**
 * Apollo Server as the gateway runs it over HTTP: the schema, limits (the cost counted again once the
 * variables are known), error masking and metrics of `graphql-rules.ts` (the same as over WebSocket),
 * no batching, CSRF prevention, and Sandbox as the landing page where it is enabled. Stopping it
 * drains the HTTP server and then `drain` (the WebSocket server).
 */
import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestContext, type GraphQLRequestListener } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { GatewayContext } from '../graphql/context';
import type { Logger } from '../observability/logger';
import type { GraphQLRules } from './graphql-rules';
import { legacyJsonStatus, noStoreResponse } from './graphql-http';
import { landingPageDocument, landingPageVariables, withOfflinePointer } from './landing-page';

export interface ApolloOptions {
  rules: GraphQLRules;
  httpServer: Server;
  logger: Logger;
  /** Production: schema details (such as "Did you mean …?") stay out of errors. */
  production: boolean;
  /** Apollo Sandbox at GET /graphql, with this token pre-filled when there is one; else no landing page. */
  sandbox: { devToken?: string; webClient: boolean } | false;
  /** Closed once HTTP has drained (the WebSocket server). */
  drain: () => Promise<void>;
}

export async function startApollo(options: ApolloOptions): Promise<ApolloServer<GatewayContext>> {
  const { rules, logger } = options;
  const { sandbox } = options;
  // Apollo's formatError is not told the request: `gatewayRequestRules` notes each error's request
  // logger as Apollo reports the errors, so a masked error is logged with the request's id.
  const requestLoggers = new WeakMap<object, Logger>();
  const loggerFor = (error: unknown): Logger => (typeof error === 'object' && error !== null && requestLoggers.get(error)) || logger;
  const apollo = new ApolloServer<GatewayContext>({
    schema: rules.schema,
    // Introspection is allowed or refused by the rules' own validation (`query-limits.ts`), as over
    // WebSocket, rather than by Apollo's switch.
    introspection: true,
    // A browser must ask before it sends any of these headers cross-site (none is CORS-safelisted),
    // so a request carrying one cannot be a forgery; `authorization` lets a GraphQL-over-HTTP GET
    // with a bearer token through, while a GET that a form or an <img> could send stays refused.
    csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
    allowBatchedHttpRequests: false,
    // main.ts owns the signals: Apollo's own handler would stop Apollo alone and leave our stop()
    // waiting forever on Apollo's stop barrier, so pollers and the store were never closed.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    // "Did you mean …?" is taken out of errors in production by `rules.formatError`, on both
    // transports; Apollo's own switch would add a plugin doing it again for HTTP.
    parseOptions: rules.queryGuard.parseOptions,
    validationRules: rules.queryGuard.validationRules,
    formatError: (formatted, error) => rules.formatError(formatted, error, loggerFor(error)),
    logger: apolloLogger(logger),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: options.httpServer, stopGracePeriodMillis: 5_000 }),
      // Apollo's cache-control plugin hooks every field of every operation (`willResolveField`) to
      // compute a policy that, with no cache hints in this schema, is always "no-store".
      ApolloServerPluginCacheControlDisabled(),
      // Apollo adds it by default; it only ever traces a federated subgraph, which this is not.
      ApolloServerPluginInlineTraceDisabled(),
      gatewayRequestRules(rules, requestLoggers),
      { serverWillStart: async () => ({ drainServer: options.drain }) },
      sandbox ? sandboxLandingPage(sandbox) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * The gateway's own work on each request, in Apollo's pipeline as one plugin: Apollo awaits every
 * plugin's listener at each stage of every request (a few promises each, whether or not it has a
 * hook for that stage), so the rules below are one listener rather than one each. In order:
 *
 * - the cost limit again once the variables are known (validation saw only the document): the same
 *   check the WebSocket transport makes, answered as a validation error (400, BAD_USER_INPUT);
 * - the request's logger noted for each error it meets, for `formatError` to log a masked one with;
 * - as the answer is sent: `Cache-Control: no-store`, the status of document errors for
 *   `application/json` (both in `graphql-http.ts`), and the request metrics (`graphql-metrics.ts`).
 */
function gatewayRequestRules(rules: GraphQLRules, requestLoggers: WeakMap<object, Logger>): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: async (start: GraphQLRequestContext<GatewayContext>): Promise<GraphQLRequestListener<GatewayContext>> => {
      const metrics = rules.metrics.apolloListener(start);
      return {
        didResolveOperation: async ({ document, request }) => {
          const [tooCostly] = rules.queryGuard.checkCost(rules.schema, document, request.operationName, request.variables);
          if (tooCostly) throw new GraphQLError(tooCostly.message, { extensions: { ...tooCostly.extensions, http: { status: 400 } } });
        },
        didEncounterErrors: async ({ errors, contextValue }) => {
          for (const error of errors) requestLoggers.set(error, contextValue.logger);
        },
        willSendResponse: async (sending) => {
          noStoreResponse(sending);
          legacyJsonStatus(sending);
          await metrics.willSendResponse?.(sending);
        },
      };
    },
  };
}

/** Apollo's local Sandbox page, opened on our document, with a pointer to /demo for when its CDN is out of reach. */
function sandboxLandingPage(sandbox: { devToken?: string; webClient: boolean }): ApolloServerPlugin<GatewayContext> {
  const apolloPage = ApolloServerPluginLandingPageLocalDefault({
    embed: true,
    includeCookies: false,
    document: landingPageDocument,
    variables: landingPageVariables,
    headers: sandbox.devToken ? { Authorization: `Bearer ${sandbox.devToken}` } : undefined,
  });
  return {
    serverWillStart: async (service) => {
      const listener = await apolloPage.serverWillStart?.(service);
      const render = listener?.renderLandingPage;
      if (!render) throw new Error("Apollo's landing page plugin renders no page");
      return {
        renderLandingPage: async () => {
          const { html } = await render();
          return { html: async () => withOfflinePointer(typeof html === 'string' ? html : await html(), sandbox.webClient) };
        },
      };
    },
  };
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
