/**
 * The per-address limit on HTTP requests without a valid token, as the GraphQL context applies it
 * (`gateway.ts`): a refusal is answered 429 with `Retry-After` and RATE_LIMITED with
 * `extensions.retryAfterSeconds`, before any resolver runs.
 */
import type { IncomingMessage } from 'node:http';
import { HeaderMap } from '@apollo/server';
import { DomainError } from '../domain/errors';
import { PublicError } from '../errors';
import { clientAddress } from './client-address';
import type { RateLimits } from '../domain/limits/limits';

/** Counts one unauthenticated request from `req`'s address; throws the 429 answer when over the limit. */
export function unauthenticatedRequestGuard(limits: RateLimits, trustProxyHops: number): (req: IncomingMessage) => Promise<void> {
  return async (req) => {
    try {
      await limits.unauthenticatedRequest(clientAddress(req, trustProxyHops));
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'RATE_LIMITED') throw error;
      const retryAfterSeconds = Number(error.extensions.retryAfterSeconds);
      throw new PublicError('RATE_LIMITED', error.message, {
        retryAfterSeconds,
        http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
      });
    }
  };
}
