/**
 * Request metrics for GraphQL, over both transports, labelled with bounded values only:
 *
 * - `operation`: the operation's first root field (`startLivenessSession`, `sessionDecision`,
 *   `__schema` …) when the schema has it, else "other" (a document that did not parse, a root
 *   fragment); never the client's own operation name, which is free text.
 * - `outcome`: "ok", or the public error code of the first error in the answer.
 *
 * Over HTTP an Apollo plugin measures from the moment the request's context was created (the JWT
 * check included) to the answer; a request whose context failed (UNAUTHENTICATED, or RATE_LIMITED
 * for requests without a valid token) is counted by `timedContext`. Over WebSocket, graphql-ws's
 * hooks in `transport/websocket.ts` report each operation's start, errors and end; a subscription counts
 * as active from its start to its end, however it ended (completed, cancelled, socket closed).
 */
import type { GraphQLRequestContext, GraphQLRequestListener } from '@apollo/server';
import { getOperationAST, Kind, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { isPublicErrorCode, toPublicError } from '../errors';
import type { Metrics } from '../observability/metrics';

export const OTHER_OPERATION = 'other';

/** What `transport/websocket.ts` reports; `key` is the operation's request id, unique per operation. */
export interface WebSocketOperationMetrics {
  operationStarted(key: string | undefined, document: DocumentNode, operationName?: string | null): void;
  /** An error sent for the operation (formatted); the first one decides its outcome. */
  operationErrored(key: string | undefined, error: GraphQLFormattedError): void;
  /** The operation ended; a second call for the same key does nothing. */
  operationFinished(key: string | undefined): void;
  /** An operation refused because its connection has too many active. */
  tooManyOperations(): void;
}

interface InFlight {
  operation: string;
  subscription: boolean;
  startedAt: number;
  outcome?: string;
}

export class GraphQLMetrics implements WebSocketOperationMetrics {
  private readonly knownRootFields = new Set(['__schema', '__type', '__typename']);
  /** When each HTTP request's context was created, so its time includes the JWT check. */
  private readonly contextCreatedAt = new WeakMap<object, number>();
  private readonly webSocketOperations = new Map<string, InFlight>();
  private subscriptions = 0;

  constructor(
    private readonly metrics: Metrics,
    schema: GraphQLSchema,
  ) {
    for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      for (const name of Object.keys(type?.getFields() ?? {})) this.knownRootFields.add(name);
    }
  }

  /** GraphQL subscriptions in progress over WebSocket. */
  get activeSubscriptions(): number {
    return this.subscriptions;
  }

  /** The `operation` label of a document: its first root field when the schema knows it, else "other". */
  operationOf(document: DocumentNode | undefined, operationName?: string | null): string {
    const operation = document ? getOperationAST(document, operationName ?? undefined) : null;
    const first = operation?.selectionSet.selections[0];
    return first?.kind === Kind.FIELD && this.knownRootFields.has(first.name.value) ? first.name.value : OTHER_OPERATION;
  }

  /** Wraps the HTTP context factory: notes when it started, and counts a request it refused. */
  timedContext<A extends unknown[], C extends object>(create: (...args: A) => Promise<C>): (...args: A) => Promise<C> {
    return async (...args) => {
      const startedAt = performance.now();
      try {
        const context = await create(...args);
        this.contextCreatedAt.set(context, startedAt);
        return context;
      } catch (error) {
        this.finish('http', OTHER_OPERATION, toPublicError(error)?.code ?? 'INTERNAL_SERVER_ERROR', startedAt);
        throw error;
      }
    };
  }

  /** What an Apollo plugin's `requestDidStart` returns to count the request (`transport/apollo.ts`). */
  apolloListener<C extends object>({ contextValue }: GraphQLRequestContext<C>): Pick<GraphQLRequestListener<C>, 'willSendResponse'> {
    const startedAt = this.contextCreatedAt.get(contextValue) ?? performance.now();
    return {
      // Errors are formatted by now: their codes are the public ones.
      willSendResponse: async ({ document, request, response }) => {
        const body = response.body;
        const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
        this.finish('http', this.operationOf(document, request.operationName), outcomeOf(errors?.[0]), startedAt);
      },
    };
  }

  operationStarted(key: string | undefined, document: DocumentNode, operationName?: string | null): void {
    if (key === undefined) return;
    const subscription = getOperationAST(document, operationName ?? undefined)?.operation === 'subscription';
    this.webSocketOperations.set(key, { operation: this.operationOf(document, operationName), subscription, startedAt: performance.now() });
    if (subscription) this.subscriptions += 1;
  }

  operationErrored(key: string | undefined, error: GraphQLFormattedError): void {
    if (key === undefined) return;
    let inFlight = this.webSocketOperations.get(key);
    // Refused before it started (a document past the limits, too many operations): still a request.
    if (!inFlight) this.webSocketOperations.set(key, (inFlight = { operation: OTHER_OPERATION, subscription: false, startedAt: performance.now() }));
    inFlight.outcome ??= outcomeOf(error);
  }

  operationFinished(key: string | undefined): void {
    const inFlight = key === undefined ? undefined : this.webSocketOperations.get(key);
    if (!inFlight || key === undefined) return;
    this.webSocketOperations.delete(key);
    if (inFlight.subscription) this.subscriptions -= 1;
    this.finish('websocket', inFlight.operation, inFlight.outcome ?? 'ok', inFlight.startedAt);
  }

  tooManyOperations(): void {
    this.metrics.rateLimited('websocket_operations');
  }

  private finish(transport: 'http' | 'websocket', operation: string, outcome: string, startedAt: number): void {
    this.metrics.requestFinished(transport, operation, outcome, (performance.now() - startedAt) / 1000);
  }
}

function outcomeOf(error: GraphQLFormattedError | undefined): string {
  if (!error) return 'ok';
  const code = error.extensions?.code;
  return isPublicErrorCode(code) ? code : 'INTERNAL_SERVER_ERROR';
}
