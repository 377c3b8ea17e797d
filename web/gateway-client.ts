/**
 * How the page talks to the gateway, all on its own origin: the typed operations over HTTP
 * (`POST /graphql`), `sessionDecision` over graphql-ws (`/graphql`, `graphql-transport-ws`), and the
 * device's side against the embedded Face emulator (`/emulator`), as the Face SDK would on a phone.
 * Tokens go in headers and the `connection_init` payload only; nothing here logs them.
 */
import type { Operation } from './operations.js';
import { createClient, type Client } from './vendor/graphql-ws.js';

/** A GraphQL error as the gateway answers it, with its public `extensions.code`. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(code ? `${code}: ${message}` : message);
  }
}

interface GraphQLBody<TData> {
  data?: TData | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One query or mutation over HTTP; the data, or a `GatewayError` carrying the first error's code. */
export async function request<TData, TVariables>(operation: Operation<TData, TVariables>, variables: TVariables, token: string): Promise<TData> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: operation, variables }),
  });
  const body = (await response.json().catch(() => ({}))) as GraphQLBody<TData>;
  const [error] = body.errors ?? [];
  if (error) throw new GatewayError(error.message, error.extensions?.code);
  if (!body.data) throw new GatewayError(`the gateway answered ${response.status} without data`, undefined);
  return body.data;
}

/** A graphql-ws client for one signed-in user; it connects when something subscribes. */
export function connect(token: string): Client {
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return createClient({ url: url.href, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: true });
}

export interface SubscriptionHandlers<TData> {
  next(data: TData): void;
  error(error: GatewayError): void;
  complete(): void;
}

/** One subscription over graphql-ws; returns a function that cancels it. */
export function subscribe<TData, TVariables>(
  client: Client,
  operation: Operation<TData, TVariables>,
  variables: TVariables,
  handlers: SubscriptionHandlers<TData>,
): () => void {
  return client.subscribe<TData>(
    { query: operation, variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        const [error] = result.errors ?? [];
        if (error) handlers.error(new GatewayError(error.message, (error.extensions as { code?: string } | undefined)?.code));
        else if (result.data) handlers.next(result.data);
      },
      error: (error) => handlers.error(describeSocketError(error)),
      complete: () => handlers.complete(),
    },
  );
}

/** graphql-ws reports a refused operation as an array of errors, a closed socket as a CloseEvent. */
function describeSocketError(error: unknown): GatewayError {
  if (Array.isArray(error) && error.length > 0) {
    const [first] = error as { message: string; extensions?: { code?: string } }[];
    return new GatewayError(first.message, first.extensions?.code);
  }
  if (typeof CloseEvent !== 'undefined' && error instanceof CloseEvent) {
    return new GatewayError(`the WebSocket closed with ${error.code}${error.reason ? ` (${error.reason})` : ''}`, undefined);
  }
  return new GatewayError(error instanceof Error ? error.message : 'the WebSocket failed', undefined);
}

export type SessionKind = 'LIVENESS' | 'LIVENESS_WITH_VERIFY';

/** What the device may do, as the emulator's `singleModal` endpoint takes it (CONTRACT.md section 7). */
export type DeviceOutcome =
  | { livenessDecision: 'realface' | 'spoofface' | 'uncertain'; isIdentical?: boolean; matchConfidence?: number }
  | { error: { code: string; message: string } };

/** Plays one attempt of the device against the embedded emulator with the session's device token. */
export async function playDevice(kind: SessionKind, authToken: string, outcome: DeviceOutcome): Promise<{ status: number; message?: string }> {
  const operation = kind === 'LIVENESS' ? 'detectLiveness' : 'detectLivenessWithVerify';
  const response = await fetch(`/emulator/face/v1.2/${operation}/singleModal`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${authToken}` },
    body: JSON.stringify(outcome),
  });
  if (response.ok) return { status: response.status };
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return { status: response.status, message: body.error ? `${body.error.code}: ${body.error.message}` : undefined };
}
