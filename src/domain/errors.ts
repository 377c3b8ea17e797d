/**
 * The errors the domain raises on purpose. Their messages are safe to show to the caller; how they
 * reach the caller (the public codes over GraphQL, HTTP statuses) is the boundary's business
 * (`src/errors.ts`), so nothing here knows a transport.
 */

/** The codes a domain error may carry: a subset of the public codes, which the boundary passes through as they are. */
export type DomainErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT' | 'RATE_LIMITED' | 'CONFLICT';

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (what = 'Session') => new DomainError('NOT_FOUND', `${what} not found.`);
export const badInput = (message: string) => new DomainError('BAD_USER_INPUT', message);
export const conflict = (message: string) => new DomainError('CONFLICT', message);
export const forbidden = () => new DomainError('FORBIDDEN', 'Your role may not perform this operation.');
export const unauthenticated = () => new DomainError('UNAUTHENTICATED', 'A valid bearer token is required.');
