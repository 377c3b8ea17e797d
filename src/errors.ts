/**
 * The public error vocabulary (docs/api.md, "Errors") and the one mapping from domain errors to it.
 *
 * Services throw `DomainError`s (`domain/errors.ts`) or the Face port's errors; nothing below the
 * resolvers builds a `GraphQLError`. `formatPublicError` is the single boundary used by Apollo (HTTP)
 * and graphql-ws (WebSocket) alike: known errors keep their code and message, anything else is masked.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, type DomainErrorCode } from './domain/errors';
import { FaceRequestError, FaceUnavailableError, isNoFaceRoute } from './domain/ports/face.port';

/** The domain's own codes, and those only the boundary gives: the Face service's failures and a masked error. */
export type PublicErrorCode = DomainErrorCode | 'UPSTREAM_ERROR' | 'UPSTREAM_UNAVAILABLE' | 'INTERNAL_SERVER_ERROR';

const PUBLIC_CODES: ReadonlySet<string> = new Set<PublicErrorCode>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_UNAVAILABLE',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
]);

/** Whether `code` is one of the public codes (metrics label outcomes with them). */
export function isPublicErrorCode(code: unknown): code is PublicErrorCode {
  return typeof code === 'string' && PUBLIC_CODES.has(code);
}

/** Codes graphql-js and Apollo use for a request that is malformed before any resolver runs. */
const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** A `GraphQLError` whose `extensions.code` is one of the public codes. */
export class PublicError extends GraphQLError {
  constructor(
    readonly code: PublicErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { ...extensions, code } });
  }
}

/** Maps anything thrown below the resolvers to a public error, or undefined when it must be masked. */
export function toPublicError(error: unknown): PublicError | undefined {
  if (error instanceof PublicError) return error;
  if (error instanceof DomainError) return new PublicError(error.code, error.message, error.extensions);
  if (error instanceof FaceRequestError) return faceRefusal(error);
  if (error instanceof FaceUnavailableError) {
    return new PublicError('UPSTREAM_UNAVAILABLE', UNAVAILABLE_MESSAGES[error.reason](error.networkCode), {
      reason: error.reason,
      ...(error.retryAfterSeconds !== undefined && { retryAfterSeconds: error.retryAfterSeconds }),
    });
  }
  return undefined;
}

/**
 * What a client is told when Face could not be used: the cause in words, never the endpoint or the
 * key. The gateway's own configuration is named where it is the cause, since only its operator can
 * fix it and the first person to see it is usually that operator, trying the gateway out.
 */
const UNAVAILABLE_MESSAGES: Record<FaceUnavailableError['reason'], (networkCode?: string) => string> = {
  FACE_TIMEOUT: () => 'The Face service did not answer in time; try again later.',
  FACE_UNREACHABLE: (networkCode) =>
    `The gateway could not connect to the Face service${networkCode ? ` (${networkCode}${NETWORK_CODES[networkCode] ?? ''})` : ''}; check the gateway's FACE_ENDPOINT.`,
  FACE_THROTTLED: () => 'The Face service is throttling requests (429); try again later.',
  FACE_FAILING: () => 'The Face service kept failing after retries; try again later.',
  FACE_CREDENTIAL_UNAVAILABLE: () => 'The gateway could not obtain a Microsoft Entra ID token for the Face service; its operator must fix its Azure identity, or set FACE_APIKEY.',
  CIRCUIT_OPEN: () => 'The Face service failed repeatedly, so the gateway is not calling it for a short while; try again later.',
  GATEWAY_BUSY: () => 'The gateway has too many Face calls waiting; try again later.',
};

const NETWORK_CODES: Record<string, string> = {
  ENOTFOUND: ': the host name does not resolve',
  EAI_AGAIN: ': the host name could not be resolved',
  ECONNREFUSED: ': nothing listens there',
  ECONNRESET: ': the connection was reset',
};

/** Face answered and refused: its own code, and in words the two refusals that are the gateway's configuration. */
function faceRefusal(error: FaceRequestError): PublicError {
  const upstream = `${error.httpStatus} ${error.upstreamCode}`;
  if (error.httpStatus === 401 || error.httpStatus === 403) {
    return new PublicError('UPSTREAM_ERROR', `The Face service refused the gateway's credentials (${upstream}); its operator must check FACE_APIKEY or the Entra ID role assignment.`, {
      upstreamCode: error.upstreamCode,
      reason: 'FACE_CREDENTIALS_REFUSED',
    });
  }
  if (isNoFaceRoute(error.httpStatus, error.upstreamCode)) {
    return new PublicError('UPSTREAM_ERROR', `The gateway's Face endpoint has no Face API at the path called (${upstream}); its operator must check FACE_ENDPOINT.`, {
      upstreamCode: error.upstreamCode,
      reason: 'FACE_ENDPOINT_NOT_FOUND',
    });
  }
  return new PublicError('UPSTREAM_ERROR', `The Face service refused the request (${error.upstreamCode}).`, { upstreamCode: error.upstreamCode });
}

export interface ErrorLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface FormatOptions {
  /** Drop graphql-js's "Did you mean …?" hints, which reveal the schema to whoever guesses (production). */
  hideSuggestions?: boolean;
}

/**
 * The one error formatter for both transports. `formatted` is what graphql-js or Apollo would send;
 * `original` is the thrown value (for resolver errors, the `originalError`).
 */
export function formatPublicError(
  formatted: GraphQLFormattedError,
  original: unknown,
  logger: ErrorLogger,
  options: FormatOptions = {},
): GraphQLFormattedError {
  const cause = original instanceof GraphQLError && original.originalError ? original.originalError : original;
  const mapped = toPublicError(cause);
  if (mapped) {
    // `http` is Apollo's hint for the response status, not something to show the caller.
    const { http: _status, ...extensions } = mapped.extensions;
    return { message: mapped.message, locations: formatted.locations, path: formatted.path, extensions };
  }

  // Errors graphql-js or Apollo raise about the request itself (parse, validation, variable coercion)
  // have no path and describe the caller's own document: they are the caller's to fix.
  const aboutTheRequest =
    original instanceof GraphQLError &&
    !formatted.path &&
    (original.originalError === undefined || original.originalError instanceof GraphQLError);
  if (aboutTheRequest) {
    const code = formatted.extensions?.code;
    const publicCode = typeof code === 'string' && PUBLIC_CODES.has(code) ? code : 'BAD_USER_INPUT';
    const reason = typeof code === 'string' && REQUEST_ERROR_CODES.has(code) ? { reason: code } : {};
    const message = options.hideSuggestions ? withoutSuggestions(formatted.message) : formatted.message;
    return { message: redactQuotedValues(message), locations: formatted.locations, extensions: { code: publicCode, ...reason } };
  }

  // Everything else (a bug, a store failure, a non-null violation) is not ours to tell.
  logger.error({ err: describeForLog(cause), path: formatted.path }, 'unexpected error while serving a GraphQL operation');
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/** graphql-js's hints in validation and variable errors: `Did you mean "x", "y", or "z"?`, `Did you mean the enum value "X"?`. */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean [^?]*\?/g, '');
}

const QUOTED = /"((?:[^"\\]|\\.)*)"/g;
/** A GraphQL name, type reference (`[Foo!]!`), variable or path (`input.verifyImage`), as graphql-js quotes them. */
const SCHEMA_WORD = /^[$[]*[_A-Za-z][_0-9A-Za-z]*(?:[.[\]!]+[_0-9A-Za-z]*)*$/;

/**
 * graphql-js quotes the caller's own values in request errors (`Variable "$input" got invalid value
 * { verifyImage: "<the whole image>", … }`, `found String "…"`): a verify image or a token must not
 * come back that way (docs/api.md, "Errors"). Names, types and paths stay; long values become "…".
 */
export function redactQuotedValues(message: string): string {
  return message.replace(QUOTED, (quoted, content: string) =>
    content.length > 64 || (content.length > 32 && !SCHEMA_WORD.test(content)) ? '"…"' : quoted,
  );
}

/** Enough of an unknown error to debug it from the log, without dumping arbitrary object graphs. */
export function describeForLog(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { value: String(error) };
}
