/**
 * GraphQL over HTTP on plain `node:http`: reads the body (with a size limit), hands the request to
 * Apollo Server's `executeHTTPGraphQLRequest` and writes its answer. Apollo does the protocol (GET
 * and POST, content negotiation, CSRF prevention, the landing page).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import type { GatewayContext } from '../graphql/context';
import type { Logger } from '../observability/logger';
import { PayloadTooLargeError, readBody } from './request-body';

export interface GraphQLHttpOptions {
  apollo: ApolloServer<GatewayContext>;
  context: (req: IncomingMessage) => Promise<GatewayContext>;
  bodyLimitBytes: number;
  logger: Logger;
}

export function createGraphQLHttpHandler(options: GraphQLHttpOptions) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    let body: unknown;
    if (req.method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, options.bodyLimitBytes);
      } catch (error) {
        if (error instanceof PayloadTooLargeError) return sendJson(res, 413, { errors: [{ message: 'Request body too large.', extensions: { code: 'BAD_USER_INPUT' } }] });
        throw error;
      }
      const contentType = req.headers['content-type'] ?? '';
      if (/^application\/(graphql-response\+)?json\b/i.test(contentType)) {
        try {
          body = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
        } catch {
          return sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_USER_INPUT' } }] });
        }
      } else {
        body = raw.toString('utf8');
      }
    }

    const context = () => options.context(req);
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await options.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
      context,
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      if (isLegacyRequestError(res.statusCode, response.headers.get('content-type'), response.body.string)) res.statusCode = 200;
      return void res.end(response.body.string);
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

/** Errors about the document or its variables: the request was well-formed, the GraphQL in it was not. */
const DOCUMENT_ERROR_REASONS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/**
 * GraphQL over HTTP, section "application/json": a client that accepts only the legacy
 * `application/json` cannot tell a GraphQL error from a transport failure by status, so a
 * well-formed request whose document fails to parse, validate (query limits included) or coerce its
 * variables SHOULD be answered 200. Apollo answers 400 whatever the media type; this corrects it for
 * `application/json` only (`application/graphql-response+json` keeps the 400). A malformed request
 * (no query, bad JSON, CSRF) and a refused token keep their 4xx.
 * https://graphql.github.io/graphql-over-http/draft/#sec-application-json
 */
function isLegacyRequestError(status: number, contentType: string | undefined, body: string): boolean {
  if (status !== 400 || !contentType?.toLowerCase().startsWith('application/json')) return false;
  let parsed: { data?: unknown; errors?: { extensions?: { code?: unknown; reason?: unknown } }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return false;
  }
  const errors = parsed.errors;
  return (
    Array.isArray(errors) &&
    errors.length > 0 &&
    errors.every(({ extensions }) =>
      extensions?.reason === undefined ? extensions?.code === 'BAD_USER_INPUT' : DOCUMENT_ERROR_REASONS.has(String(extensions.reason)),
    )
  );
}

/**
 * `Cache-Control: no-store` on every GraphQL response, as Apollo's cache-control plugin answers when
 * no field carries a cache hint (none here does): the same header, without that plugin's work on
 * every field it resolves (issue 6).
 */
export function noStoreResponses(): ApolloServerPlugin<BaseContext> {
  return {
    requestDidStart: async () => ({
      willSendResponse: async ({ response }) => {
        if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
      },
    }),
  };
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}
