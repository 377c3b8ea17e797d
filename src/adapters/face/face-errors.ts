/**
 * What a failed Face call becomes: a `FaceRequestError` when Face answered and refused, a
 * `FaceUnavailableError` when no answer came. Messages are built from the status, Face's error code
 * and message only, with the Face key scrubbed out, so neither the key nor a body reaches a log.
 */
import { FaceRequestError, FaceUnavailableError } from '../../domain/ports/face.port';
import { record } from './face-wire';

/** The shape every `@azure-rest` response shares. */
export interface RawResponse {
  status: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Removes the Face key from a text that might quote it. */
export type Scrub = (text: string) => string;

// Entra ID failures (no credential configured, token refused) will not heal by retrying.
export function isRetryableTransportError(error: unknown): boolean {
  const name = error instanceof Error ? error.name : '';
  return name !== 'CredentialUnavailableError' && name !== 'AuthenticationError' && name !== 'AggregateAuthenticationError';
}

export function transportError(scrub: Scrub, operation: string, error: unknown, tries: number, timeoutMillis: number): FaceUnavailableError {
  const name = error instanceof Error ? error.name : '';
  const triesText = `${tries} ${tries === 1 ? 'try' : 'tries'}`;
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new FaceUnavailableError(`Face ${operation} did not answer within ${timeoutMillis} ms (${triesText}).`);
  }
  if (!isRetryableTransportError(error)) {
    return new FaceUnavailableError(`Face ${operation} could not obtain a Microsoft Entra ID token (${name}).`, undefined, undefined, 'FACE_CREDENTIAL_UNAVAILABLE');
  }
  const code = error instanceof Error ? errorCode(error) : undefined;
  const detail = error instanceof Error ? (code ?? error.message) : String(error);
  return new FaceUnavailableError(scrub(`Face ${operation} could not reach Face: ${detail} (${triesText}).`), undefined, undefined, 'FACE_UNREACHABLE', code);
}

/** The `status` of a try that got no HTTP answer, for metrics. */
export function transportFailureKind(error: unknown): 'timeout' | 'credential_error' | 'connection_error' {
  const name = error instanceof Error ? error.name : '';
  if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
  return isRetryableTransportError(error) ? 'connection_error' : 'credential_error';
}

function errorCode(error: Error): string | undefined {
  const code: unknown = Reflect.get(error, 'code');
  return typeof code === 'string' && code !== '' ? code : undefined;
}

export function requestError(scrub: Scrub, operation: string, response: RawResponse): FaceRequestError {
  const status = Number(response.status);
  const { code, message } = readAzureError(response.body) ?? { code: String(status), message: 'no error details' };
  return new FaceRequestError(code, status, scrub(`Face refused to ${operation} (${status} ${code}): ${message}`));
}

/** Face's `{"error":{"code","message"}}`, when the body is one. */
export function readAzureError(body: unknown): { code: string; message: string } | undefined {
  const error = record(record(body)?.error);
  const code = error?.code;
  if (typeof code !== 'string' || code === '') return undefined;
  return { code, message: typeof error?.message === 'string' ? error.message : '' };
}
