/**
 * A short way past Apollo's request pipeline for the request a busy app sends most: a POSTed JSON
 * query (`session(id)`, `sessions`, `viewer`) that it has sent before, answered without an error.
 *
 * Apollo's pipeline is a dozen awaited plugin hooks, content negotiation, a SHA-256 of the text and
 * a document-store lookup on every request; the profile of `npm run bench` showed it costing more
 * than the JWT check and the three store reads of `session(id)` together (issue 6). This path does
 * what that pipeline does for such a request and no more: the same document check as the WebSocket
 * transport (`QueryGuard.checkDocument`: graphql-js's rules, our limits, introspection as
 * configured, parsed once per text), graphql-js's `execute`, and the very bytes and headers Apollo
 * would answer with (a test compares the two for every public query).
 *
 * Everything else goes to Apollo, which stays the one place that knows the protocol: GET, other
 * media types, `extensions` (persisted queries), batching, mutations, an `Accept` header we have not
 * checked against Apollo's answer, a document that fails a check, and any answer with an error (a
 * query has no side effects, so Apollo runs it again and formats the errors as always). A request
 * handed on keeps the context already made, so its token is checked and counted once.
 */
import type { IncomingMessage } from 'node:http';
import { execute, getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { GatewayContext } from '../graphql/context';
import type { QueryGuard } from '../graphql/query-limits';

/** What Apollo answers as `content-type` for each `Accept` header we answer here (checked by a test). */
const JSON_TYPE = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';
export const FAST_ACCEPT_HEADERS: ReadonlyMap<string | undefined, string> = new Map([
  [undefined, JSON_TYPE],
  ['*/*', JSON_TYPE],
  ['application/json', JSON_TYPE],
  ['application/json, text/plain, */*', JSON_TYPE],
  ['application/graphql-response+json', GRAPHQL_RESPONSE_TYPE],
  ['application/graphql-response+json, application/json', GRAPHQL_RESPONSE_TYPE],
  ['application/graphql-response+json, application/json;q=0.9', GRAPHQL_RESPONSE_TYPE],
  ['application/graphql-response+json;q=1.0, application/json;q=0.9', GRAPHQL_RESPONSE_TYPE],
]);

export interface FastQueryOptions {
  schema: GraphQLSchema;
  queryGuard: QueryGuard;
  /** Called once per request answered here, with the time its context was made. */
  answered(context: GatewayContext, document: DocumentNode, operationName: string | undefined): void;
}

/** A request this path could not answer, for Apollo: with the context already made, or its failure. */
export interface HandOn {
  kind: 'apollo';
  context?: Promise<GatewayContext>;
}

export interface FastAnswer {
  kind: 'answer';
  contentType: string;
  body: string;
}

export interface FastQueryPath {
  /** Answers `body` here, or says what Apollo needs to answer it. */
  tryAnswer(req: IncomingMessage, body: unknown, createContext: () => Promise<GatewayContext>): Promise<FastAnswer | HandOn>;
  /** From now on every request goes to Apollo (the gateway is stopping: Apollo answers as it drains). */
  disable(): void;
}

const TO_APOLLO: HandOn = { kind: 'apollo' };

export function createFastQueryPath(options: FastQueryOptions): FastQueryPath {
  let enabled = true;
  return {
    disable: () => {
      enabled = false;
    },
    async tryAnswer(req, body, createContext) {
      if (!enabled || req.method !== 'POST') return TO_APOLLO;
      const contentType = FAST_ACCEPT_HEADERS.get(req.headers.accept);
      if (contentType === undefined || !isPlainQueryBody(body)) return TO_APOLLO;

      const contextPromise = createContext();
      let context: GatewayContext;
      try {
        context = await contextPromise;
      } catch {
        return { kind: 'apollo', context: contextPromise };
      }
      const handOn: HandOn = { kind: 'apollo', context: contextPromise };
      const document = options.queryGuard.checkDocument(options.schema, body.query);
      if (Array.isArray(document)) return handOn;
      const operationName = body.operationName ?? undefined;
      if (getOperationAST(document, operationName)?.operation !== 'query') return handOn;

      const result = await execute({
        schema: options.schema,
        document,
        operationName,
        variableValues: body.variables ?? undefined,
        contextValue: context,
      });
      if (result.errors !== undefined || result.extensions !== undefined) return handOn;
      options.answered(context, document, operationName);
      // Apollo's own serialisation (`prettyJSONStringify` of `{ errors, data, extensions }`).
      return { kind: 'answer', contentType, body: `${JSON.stringify({ data: result.data })}\n` };
    },
  };
}

interface PlainQueryBody {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** `{ query, variables?, operationName? }` with the types Apollo requires, and nothing else. */
function isPlainQueryBody(body: unknown): body is PlainQueryBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  let query = false;
  for (const key in body) {
    const value = (body as Record<string, unknown>)[key];
    if (key === 'query') query = typeof value === 'string' && value.length > 0;
    else if (key === 'variables') {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) return false;
    } else if (key === 'operationName') {
      if (value !== null && typeof value !== 'string') return false;
    } else return false;
  }
  return query;
}
