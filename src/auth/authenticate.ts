/**
 * Who is calling: the one authentication behind every way in that takes a bearer token (GraphQL
 * over HTTP, the WebSocket `connection_init`, `GET /audit/export`).
 *
 * - No credentials: an anonymous caller (`null`); what an anonymous caller may do is each
 *   transport's business (GraphQL answers introspection only, the others refuse it).
 * - Credentials that fail (another scheme, a bad signature, expired, …): UNAUTHENTICATED.
 * - Either way the caller has no valid token, and is counted against its address's budget of such
 *   requests first: past it, the answer is RATE_LIMITED instead, so an address cannot try tokens,
 *   or call anonymously, faster than the budget allows on any transport.
 */
import type { Viewer } from '../domain/viewer';
import { toPublicError } from '../errors';
import { bearerToken, type TokenVerifier } from './jwt';

export interface Credentials {
  /** An `Authorization` value (`Bearer <jwt>`): the header, or the WebSocket's init payload field. */
  authorization: unknown;
  /** The caller's address, as the transport establishes it; asked only when the caller is counted. */
  address: () => string;
}

/** The viewer of valid credentials, or null without any; throws UNAUTHENTICATED or RATE_LIMITED. */
export type Authenticate = (credentials: Credentials) => Promise<Viewer | null>;

export interface AnonymousBudget {
  /** Counts one request without a valid token from `address`; throws RATE_LIMITED past the budget. */
  unauthenticatedRequest(address: string): Promise<void>;
}

export function createAuthenticate(verifier: TokenVerifier, budget: AnonymousBudget): Authenticate {
  return async ({ authorization, address }) => {
    let viewer: Viewer | null;
    try {
      const token = bearerToken(typeof authorization === 'string' ? authorization : undefined);
      viewer = token === undefined ? null : await verifier.verify(token);
    } catch (error) {
      if (toPublicError(error)?.code === 'UNAUTHENTICATED') await budget.unauthenticatedRequest(address());
      throw error;
    }
    if (viewer === null) await budget.unauthenticatedRequest(address());
    return viewer;
  };
}
