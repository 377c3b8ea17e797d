/**
 * Authentication as the transports see it: the credentials of an HTTP request (or of the HTTP
 * upgrade a WebSocket came in on) with the caller's address, and how a refusal is answered over
 * HTTP: UNAUTHENTICATED with 401, RATE_LIMITED with 429, `Retry-After` and
 * `extensions.retryAfterSeconds`.
 */
import type { IncomingMessage } from 'node:http';
import { HeaderMap } from '@apollo/server';
import type { Authenticate } from '../auth/authenticate';
import type { Viewer } from '../domain/viewer';
import { PublicError, toPublicError } from '../errors';
import { clientAddress } from './client-address';

/** The viewer of `authorization`, sent on `req` (null without credentials); see `auth/authenticate.ts`. */
export type AuthenticateRequest = (req: IncomingMessage, authorization: unknown) => Promise<Viewer | null>;

export function authenticateRequests(authenticate: Authenticate, trustProxyHops: number): AuthenticateRequest {
  return (req, authorization) => authenticate({ authorization, address: () => clientAddress(req, trustProxyHops) });
}

/** A refused authentication with its HTTP status (and headers) for Apollo; undefined for any other error. */
export function refusalOverHttp(error: unknown): PublicError | undefined {
  const mapped = toPublicError(error);
  if (mapped?.code === 'UNAUTHENTICATED') return new PublicError('UNAUTHENTICATED', mapped.message, { http: { status: 401 } });
  if (mapped?.code !== 'RATE_LIMITED') return undefined;
  const retryAfterSeconds = Number(mapped.extensions.retryAfterSeconds);
  return new PublicError('RATE_LIMITED', mapped.message, {
    retryAfterSeconds,
    http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
  });
}
