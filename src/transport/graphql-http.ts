/**
 * GraphQL over HTTP on plain `node:http`: says who the caller is, reads the body (with a size limit
 * that depends on the answer), hands the request to Apollo Server's `executeHTTPGraphQLRequest` with
 * the context of `graphql-rules.ts`, and writes its answer. Apollo does the protocol (GET and POST,
 * content negotiation, CSRF prevention, the landing page); the plugins below adjust its answer from
 * inside its pipeline.
 *
 * A POST is authenticated before a byte of its body is read: a caller without a valid token is
 * counted against its address's budget and may send only a small body, so reading and parsing
 * megabytes is work done for callers who have a token. A refused token is answered by Apollo as
 * before, with no body read at all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type GraphQLRequestContextWillSendResponse } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import Negotiator from 'negotiator';
import type { Viewer } from '../domain/viewer';
import type { GatewayContext } from '../graphql/context';
import type { GraphQLRules } from './graphql-rules';
import { refusalOverHttp } from './request-auth';
import { requestIdOf } from './request-id';
import { PayloadTooLargeError, readBody, RequestAbortedError } from './request-body';

export interface GraphQLHttpOptions {
  apollo: ApolloServer<GatewayContext>;
  rules: GraphQLRules;
  /** Largest body of a caller with a valid token (a verify image in base64). */
  bodyLimitBytes: number;
  /** Largest body of a caller without one (introspection, or nothing at all). */
  anonymousBodyLimitBytes: number;
}

export function createGraphQLHttpHandler(options: GraphQLHttpOptions) {
  const { apollo, rules } = options;
  // The viewer was established once for the request; the context only turns a refusal into its HTTP answer.
  const createContext = rules.metrics.timedContext(async (req: IncomingMessage, viewer: Promise<Viewer | null>): Promise<GatewayContext> => {
    try {
      return rules.createContext(await viewer, requestIdOf(req));
    } catch (error) {
      throw refusalOverHttp(error) ?? error;
    }
  });

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    // Once per request, and only when needed: a GET for the Sandbox page is never counted.
    let authenticated: Promise<Viewer | null> | undefined;
    const viewer = () => (authenticated ??= rules.authenticate(req, req.headers.authorization));

    let body: unknown;
    if (req.method === 'POST') {
      const known = await viewer().then(
        (found) => ({ failed: false, found }),
        () => ({ failed: true, found: null }),
      );
      // Refused (401 or 429): Apollo answers from the context's refusal; the body stays unread.
      if (!known.failed) {
        let raw: Buffer;
        try {
          raw = await readBody(req, known.found ? options.bodyLimitBytes : options.anonymousBodyLimitBytes);
        } catch (error) {
          if (error instanceof PayloadTooLargeError) return sendJson(res, 413, { errors: [{ message: 'Request body too large.', extensions: { code: 'BAD_USER_INPUT' } }] });
          if (error instanceof RequestAbortedError) return;
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
    }

    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
      context: () => createContext(req, viewer()),
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') return void res.end(response.body.string);
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

/** Errors about the document or its variables: the request was well-formed, the GraphQL in it was not. */
const DOCUMENT_ERROR_REASONS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/** The media types Apollo chooses between for a single result, in its order of preference. */
const SINGLE_RESULT_TYPES = ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];

/**
 * GraphQL over HTTP, section "application/json": a client that accepts only the legacy
 * `application/json` cannot tell a GraphQL error from a transport failure by status, so a
 * well-formed request whose document fails to parse, validate (query limits included) or coerce its
 * variables SHOULD be answered 200. Apollo answers 400 whatever the media type; this plugin answers
 * 200 instead when the answer will be `application/json`, and fixes that media type so that status
 * and type are decided together (`application/graphql-response+json` keeps the 400). A malformed
 * request (no query, bad JSON, CSRF) and a refused token keep their 4xx. Run as the answer is sent
 * (`willSendResponse`, in `apollo.ts`).
 * https://graphql.github.io/graphql-over-http/draft/#sec-application-json
 */
export function legacyJsonStatus({ request, response }: GraphQLRequestContextWillSendResponse<BaseContext>): void {
  // Errors are formatted by now: their codes and reasons are the public ones.
  if (response.http.status !== 400 || response.body.kind !== 'single' || !onlyDocumentErrors(response.body.singleResult.errors)) return;
  const accept = request.http?.headers.get('accept');
  const mediaType = accept ? new Negotiator({ headers: { accept } }).mediaType(SINGLE_RESULT_TYPES) : SINGLE_RESULT_TYPES[0];
  if (!mediaType?.startsWith('application/json')) return;
  response.http.status = 200;
  response.http.headers.set('content-type', mediaType);
}

function onlyDocumentErrors(errors: readonly GraphQLFormattedError[] | undefined): boolean {
  return (
    errors !== undefined &&
    errors.length > 0 &&
    errors.every(({ extensions }) =>
      extensions?.reason === undefined ? extensions?.code === 'BAD_USER_INPUT' : DOCUMENT_ERROR_REASONS.has(String(extensions.reason)),
    )
  );
}

/**
 * `Cache-Control: no-store` on every GraphQL response, as Apollo's cache-control plugin answers when
 * no field carries a cache hint (none here does): the same header, without that plugin's work on
 * every field it resolves. Run as the answer is sent (`willSendResponse`, in `apollo.ts`).
 */
export function noStoreResponse({ response }: GraphQLRequestContextWillSendResponse<BaseContext>): void {
  if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}
