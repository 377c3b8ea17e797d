/**
 * What the harness says to a gateway and to the Face emulator outside of autocannon rounds: GraphQL over
 * HTTP with a real signed JWT (typed documents, printed), and the device's side of a session, as the Face
 * SDK would play it on a phone.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { signDevToken } from '../../src/auth/jwt';

export interface Claims {
  sub: string;
  roles: ('user' | 'auditor' | 'admin')[];
  tenant: string;
}

/** Request headers of every GraphQL POST the harness sends (autocannon rounds included). */
export function graphqlHeaders(token: string): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` };
}

export function graphqlBody<TVariables>(document: TypedDocumentNode<unknown, TVariables>, variables: TVariables): string {
  return JSON.stringify({ query: print(document), variables });
}

export class GatewayClient {
  readonly graphqlUrl: string;

  constructor(
    readonly url: string,
    private readonly jwtSecret: string,
  ) {
    this.graphqlUrl = `${url}/graphql`;
  }

  /** A real HS256 JWT, signed with the gateway's JWT_SECRET, valid for `ttlSeconds`. */
  token(claims: Claims, ttlSeconds = 3_600): string {
    return signDevToken(this.jwtSecret, claims, ttlSeconds);
  }

  /** The raw answer (status and body text), for recording what the gateway serves. */
  async raw<TVariables>(document: TypedDocumentNode<unknown, TVariables>, variables: TVariables, token: string): Promise<{ status: number; body: string; contentType: string }> {
    const response = await fetch(this.graphqlUrl, { method: 'POST', headers: graphqlHeaders(token), body: graphqlBody(document, variables) });
    return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? '' };
  }

  /** `data`, or an error naming what the gateway answered. */
  async ok<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables, token: string): Promise<TData> {
    const { status, body } = await this.raw(document, variables, token);
    let parsed: { data?: TData | null; errors?: unknown[] };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new Error(`the gateway answered ${status} with a body that is not JSON: ${body.slice(0, 200)}`);
    }
    if (status !== 200 || parsed.errors?.length || !parsed.data) {
      throw new Error(`the gateway answered ${status}: ${JSON.stringify(parsed.errors ?? parsed).slice(0, 500)}`);
    }
    return parsed.data;
  }
}

/** The device's attempt, against the emulator's base URL (standalone, or the gateway's `/emulator`). */
export async function playDevice(emulatorUrl: string, authToken: string, livenessDecision: 'realface' | 'spoofface' | 'uncertain' = 'realface'): Promise<void> {
  const response = await fetch(`${emulatorUrl}/face/v1.2/detectLiveness/singleModal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ livenessDecision }),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`the emulator refused the device attempt with ${response.status}`);
}

/** Runs `task` over `items` with at most `concurrency` in flight; results in item order. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Waits until `check` returns a value, polling every 20 ms, for at most `timeoutMillis`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMillis = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMillis} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
