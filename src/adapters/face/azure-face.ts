/**
 * The Face port over `@azure-rest/ai-vision-face` (Face REST API v1.2), for Azure and for the emulator alike.
 *
 * Retries are ours rather than the pipeline's: the pipeline's default policy does not retry a 429
 * without `Retry-After`, nor a request its own timeout aborted, and it waits as long as any
 * `Retry-After` asks. So the pipeline runs with `maxRetries: 0` and each call below gets
 * `maxRetries` more tries for 408/429/5xx, timeouts and connection errors, with a short jittered
 * backoff (200 ms doubling up to 2 s; a 429 without `Retry-After` backs off the same way) or the
 * `Retry-After` Face sent (up to `maxRetryAfterSeconds`). Every call, its retries and its waits for a
 * slot under the gateway's per-second cap (`acquire`) included, ends within `totalTimeoutMillis`: each
 * try's timeout is cut to what is left, and no retry starts whose wait would outlast it.
 *
 * The pipeline's log policy redacts `Ocp-Apim-Subscription-Key` and `Authorization` and never logs
 * bodies, so neither the key nor a device token reaches the Azure logger; our own error messages are
 * built from status, Face's error code and message only, with the key scrubbed out as well.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import createFaceClient, {
  type CreateLivenessWithVerifySessionContent,
  type FaceClient,
  isUnexpected,
} from '@azure-rest/ai-vision-face';
import { AzureKeyCredential, type TokenCredential } from '@azure/core-auth';
import {
  type CreateLivenessSessionRequest,
  type CreateLivenessWithVerifySessionRequest,
  type CreatedFaceSession,
  type FaceAttempt,
  type FaceCallPriority,
  type FaceLivenessDecision,
  type FacePort,
  type FaceQualityForRecognition,
  type FaceRectangle,
  FaceRequestError,
  type FaceSession,
  type FaceSessionKind,
  type FaceStatus,
  FaceUnavailableError,
  type FaceVerifyReference,
  type FaceVerifyResult,
} from '../../domain/ports/face.port';

export interface AzureFaceOptions {
  /** The Face resource, e.g. `https://x.cognitiveservices.azure.com` or `http://127.0.0.1:4000/emulator`; the client appends `/face/v1.2`. */
  endpoint: string;
  /** When absent: `DefaultAzureCredential` from `@azure/identity` (Microsoft Entra ID). */
  apiKey?: string;
  /** Per Face HTTP call (each try), default 10_000. */
  timeoutMillis?: number;
  /** Further tries after the first, for 408/429/5xx, timeouts and connection errors; default 3. */
  maxRetries?: number;
  /** A `Retry-After` longer than this is not waited for: the call fails at once with `retryAfterSeconds`. Default 5. */
  maxRetryAfterSeconds?: number;
  /** The whole call, every try, backoff and wait for a slot included; default 25_000. */
  totalTimeoutMillis?: number;
  /**
   * Awaited before every HTTP try (the gateway-wide cap on Face calls per second, `call-scheduler.ts`);
   * may reject (e.g. no slot before `deadlineMillis`, on `Date.now`'s clock), which fails the call.
   */
  acquire?: (priority: FaceCallPriority, deadlineMillis: number) => Promise<void>;
  /**
   * Told of every HTTP try (metrics): the operation (`create liveness session`, `get session` …), the
   * HTTP status or `timeout` / `connection_error` / `credential_error`, and how long the try took.
   */
  observe?: (operation: string, status: string, seconds: number) => void;
}

const DEFAULT_TIMEOUT_MILLIS = 10_000;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_MAX_RETRY_AFTER_SECONDS = 5;
const DEFAULT_TOTAL_TIMEOUT_MILLIS = 25_000;
const FIRST_BACKOFF_MILLIS = 200;
const MAX_BACKOFF_MILLIS = 2_000;

/** The shape every `@azure-rest` response shares. */
interface RawResponse {
  status: string;
  headers: Record<string, string>;
  body: unknown;
}

interface CallSettings {
  timeoutMillis: number;
  maxRetries: number;
  maxRetryAfterSeconds: number;
  totalTimeoutMillis: number;
  acquire?: AzureFaceOptions['acquire'];
  observe?: AzureFaceOptions['observe'];
  scrub(text: string): string;
}

/** Creates the Face port over Azure AI Face (or the emulator) with `@azure-rest/ai-vision-face`. */
export function createAzureFace(options: AzureFaceOptions): FacePort {
  const endpoint = options.endpoint.trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(endpoint)) throw new Error('The Face endpoint must be an http(s) URL.');
  const apiKey = options.apiKey;
  const settings: CallSettings = {
    timeoutMillis: positiveOr(options.timeoutMillis, DEFAULT_TIMEOUT_MILLIS),
    maxRetries: Math.max(0, Math.floor(options.maxRetries ?? DEFAULT_MAX_RETRIES)),
    maxRetryAfterSeconds: Math.max(0, options.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS),
    totalTimeoutMillis: positiveOr(options.totalTimeoutMillis, DEFAULT_TOTAL_TIMEOUT_MILLIS),
    acquire: options.acquire,
    observe: options.observe,
    scrub: (text) => (apiKey ? text.split(apiKey).join('[redacted]') : text),
  };

  const client: FaceClient = createFaceClient(
    endpoint,
    apiKey ? new AzureKeyCredential(apiKey) : lazyDefaultAzureCredential(),
    {
      apiVersion: 'v1.2',
      retryOptions: { maxRetries: 0 },
      allowInsecureConnection: endpoint.toLowerCase().startsWith('http:'),
      userAgentOptions: { userAgentPrefix: 'liveness-gateway' },
    },
  );

  const sessionPath = (kind: FaceSessionKind, sessionId: string) =>
    kind === 'LIVENESS'
      ? client.path('/detectLiveness-sessions/{sessionId}', sessionId)
      : client.path('/detectLivenessWithVerify-sessions/{sessionId}', sessionId);

  return {
    async createLivenessSession(request: CreateLivenessSessionRequest): Promise<CreatedFaceSession> {
      const response = await call(settings, 'create liveness session', 'interactive', (abortSignal) =>
        client.path('/detectLiveness-sessions').post({ body: creationBody(request), abortSignal }),
      );
      if (isUnexpected(response)) throw requestError(settings, 'create liveness session', response);
      return toCreatedSession(response.body);
    },

    async createLivenessWithVerifySession(request: CreateLivenessWithVerifySessionRequest): Promise<CreatedFaceSession> {
      const operation = 'create liveness-with-verify session';
      const response = await call(settings, operation, 'interactive', (abortSignal) =>
        client.path('/detectLivenessWithVerify-sessions').post({
          contentType: 'multipart/form-data',
          body: verifyCreationParts(request),
          abortSignal,
        }),
      );
      if (isUnexpected(response)) throw requestError(settings, operation, response);
      return toCreatedSession(response.body);
    },

    async getSession(kind: FaceSessionKind, sessionId: string, options?: { priority?: FaceCallPriority }): Promise<FaceSession> {
      const priority = options?.priority ?? 'background';
      const response = await call(settings, 'get session', priority, (abortSignal) => sessionPath(kind, sessionId).get({ abortSignal }));
      if (isUnexpected(response)) throw requestError(settings, 'get session', response);
      return toSession(response.body);
    },

    async deleteSession(kind: FaceSessionKind, sessionId: string): Promise<void> {
      const response = await call(settings, 'delete session', 'interactive', (abortSignal) =>
        sessionPath(kind, sessionId).delete({ abortSignal }),
      );
      if (!isUnexpected(response) || response.status === '200' || response.status === '404') return;
      throw requestError(settings, 'delete session', response);
    },

    async ping(): Promise<void> {
      // A session that cannot exist: 404 proves Face answered and accepted our credentials.
      const probe = { ...settings, maxRetries: 0 };
      const response = await call(probe, 'readiness probe', 'interactive', (abortSignal) =>
        client.path('/detectLiveness-sessions/{sessionId}', randomUUID()).get({ abortSignal }),
      );
      if (response.status === '404' || response.status === '200') return;
      const status = Number(response.status);
      const { code } = readAzureError(response.body) ?? { code: String(status) };
      const reason =
        status === 401 || status === 403
          ? `Face refused our credentials (${status} ${code}); check the Face key or the Entra ID role assignment.`
          : `Face answered the readiness probe with ${status} ${code}.`;
      throw new FaceRequestError(code, status, reason);
    },
  };
}

/** One Face call with retries, a timeout per try, a bound on the whole, and our error mapping for what never became an answer. */
async function call<T extends RawResponse>(
  settings: CallSettings,
  operation: string,
  priority: FaceCallPriority,
  send: (abortSignal: AbortSignal) => PromiseLike<T>,
): Promise<T> {
  const deadline = Date.now() + settings.totalTimeoutMillis;
  /** Waits `millis` before the next try, or throws `failure` when the next try could not start in time. */
  const pause = async (millis: number, failure: FaceUnavailableError) => {
    if (Date.now() + millis >= deadline) throw spent(settings, failure);
    await sleep(millis);
  };
  for (let attempt = 0; ; attempt += 1) {
    const triesLeft = settings.maxRetries - attempt;
    await settings.acquire?.(priority, deadline);
    const tryTimeoutMillis = Math.min(settings.timeoutMillis, deadline - Date.now());
    if (tryTimeoutMillis <= 0) throw new FaceUnavailableError(`Face ${operation} found no time left in its ${settings.totalTimeoutMillis} ms budget.`);
    let response: T;
    const sentAt = performance.now();
    try {
      response = await send(AbortSignal.timeout(tryTimeoutMillis));
      settings.observe?.(operation, response.status, (performance.now() - sentAt) / 1000);
    } catch (error) {
      settings.observe?.(operation, transportFailureKind(error), (performance.now() - sentAt) / 1000);
      const unavailable = transportError(settings, operation, error, attempt + 1, tryTimeoutMillis);
      if (triesLeft <= 0 || !isRetryableTransportError(error)) throw unavailable;
      await pause(backoffMillis(attempt), unavailable);
      continue;
    }

    const status = Number(response.status);
    if (!isRetryableStatus(status)) return response;

    const retryAfterSeconds = retryAfterSecondsOf(response.headers);
    const tooLong = retryAfterSeconds !== undefined && retryAfterSeconds > settings.maxRetryAfterSeconds;
    const { code } = readAzureError(response.body) ?? { code: String(status) };
    const tries = attempt + 1;
    const unavailable = new FaceUnavailableError(
      settings.scrub(`Face ${operation} failed with ${status} ${code} after ${tries} ${tries === 1 ? 'try' : 'tries'}.`),
      status,
      retryAfterSeconds,
    );
    if (triesLeft <= 0 || tooLong) throw unavailable;
    // Retry-After when Face said; otherwise (a 429 without it included) the same jittered backoff.
    await pause(retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : backoffMillis(attempt), unavailable);
  }
}

/** The last failure, noting that the call's time budget left no room for another try. */
function spent(settings: CallSettings, failure: FaceUnavailableError): FaceUnavailableError {
  return new FaceUnavailableError(
    `${failure.message} No further try fits in the ${settings.totalTimeoutMillis} ms budget of the call.`,
    failure.httpStatus,
    failure.retryAfterSeconds,
  );
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

// Entra ID failures (no credential configured, token refused) will not heal by retrying.
function isRetryableTransportError(error: unknown): boolean {
  const name = error instanceof Error ? error.name : '';
  return name !== 'CredentialUnavailableError' && name !== 'AuthenticationError' && name !== 'AggregateAuthenticationError';
}

function transportError(settings: CallSettings, operation: string, error: unknown, tries: number, timeoutMillis: number): FaceUnavailableError {
  const name = error instanceof Error ? error.name : '';
  const triesText = `${tries} ${tries === 1 ? 'try' : 'tries'}`;
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new FaceUnavailableError(`Face ${operation} did not answer within ${timeoutMillis} ms (${triesText}).`);
  }
  if (!isRetryableTransportError(error)) {
    return new FaceUnavailableError(`Face ${operation} could not obtain a Microsoft Entra ID token (${name}).`);
  }
  const detail = error instanceof Error ? (errorCode(error) ?? error.message) : String(error);
  return new FaceUnavailableError(settings.scrub(`Face ${operation} could not reach Face: ${detail} (${triesText}).`));
}

/** The `status` of a try that got no HTTP answer, for metrics. */
function transportFailureKind(error: unknown): 'timeout' | 'credential_error' | 'connection_error' {
  const name = error instanceof Error ? error.name : '';
  if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
  return isRetryableTransportError(error) ? 'connection_error' : 'credential_error';
}

function errorCode(error: Error): string | undefined {
  const code: unknown = Reflect.get(error, 'code');
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/** The pause before retry `attempt + 1`: 200 ms doubling per attempt up to 2 s, each ±25% at random. */
export function backoffMillis(attempt: number): number {
  const base = Math.min(MAX_BACKOFF_MILLIS, FIRST_BACKOFF_MILLIS * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** `Retry-After` (seconds or an HTTP date) or the millisecond variants Azure also sends. */
export function retryAfterSecondsOf(headers: Record<string, string>): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const millis = Number(headers[name]);
    if (headers[name] !== undefined && Number.isFinite(millis) && millis >= 0) return Math.ceil(millis / 1000);
  }
  const value = headers['retry-after'];
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  // An HTTP date names its weekday and month (RFC 9110 section 10.2.3); V8 would read "-5" as a year.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}

function requestError(settings: CallSettings, operation: string, response: RawResponse): FaceRequestError {
  const status = Number(response.status);
  const { code, message } = readAzureError(response.body) ?? { code: String(status), message: 'no error details' };
  return new FaceRequestError(code, status, settings.scrub(`Face refused to ${operation} (${status} ${code}): ${message}`));
}

/** Face's `{"error":{"code","message"}}`, when the body is one. */
function readAzureError(body: unknown): { code: string; message: string } | undefined {
  const error = record(record(body)?.error);
  const code = error?.code;
  if (typeof code !== 'string' || code === '') return undefined;
  return { code, message: typeof error?.message === 'string' ? error.message : '' };
}

/** Obtains `DefaultAzureCredential` on first use, so `@azure/identity` loads only when Entra ID is used. */
function lazyDefaultAzureCredential(): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
      return (await credential).getToken(scopes, options);
    },
  };
}

// --- requests -------------------------------------------------------------------------------------

const OPERATION_MODES = { PASSIVE: 'Passive', PASSIVE_ACTIVE: 'PassiveActive' } as const;

function creationBody(request: CreateLivenessSessionRequest) {
  // Face wants either our device correlation id, or to let the device SDK set it.
  const correlation = request.deviceCorrelationId
    ? { deviceCorrelationId: request.deviceCorrelationId }
    : { deviceCorrelationIdSetInClient: true };
  return {
    livenessOperationMode: OPERATION_MODES[request.operationMode],
    ...correlation,
    authTokenTimeToLiveInSeconds: request.authTokenTimeToLiveSeconds,
    enableSessionImage: request.enableSessionImage,
  };
}

function verifyCreationParts(request: CreateLivenessWithVerifySessionRequest): CreateLivenessWithVerifySessionContent {
  return [
    { name: 'verifyImage', body: request.verifyImage, filename: 'verify-image' },
    { name: 'livenessOperationMode', body: OPERATION_MODES[request.operationMode] },
    request.deviceCorrelationId
      ? { name: 'deviceCorrelationId', body: request.deviceCorrelationId }
      : { name: 'deviceCorrelationIdSetInClient', body: true },
    { name: 'authTokenTimeToLiveInSeconds', body: request.authTokenTimeToLiveSeconds },
    { name: 'enableSessionImage', body: request.enableSessionImage },
    ...(request.verifyConfidenceThreshold === undefined
      ? []
      : [{ name: 'verifyConfidenceThreshold' as const, body: request.verifyConfidenceThreshold }]),
  ];
}

// --- answers (lenient: unknown values and missing optional fields are tolerated) ------------------

function toCreatedSession(body: unknown): CreatedFaceSession {
  const authToken = record(body)?.authToken;
  if (typeof authToken !== 'string' || authToken === '') {
    throw new FaceUnavailableError('Face created a session but sent no device token.');
  }
  return { ...toSession(body), authToken };
}

function toSession(body: unknown): FaceSession {
  const session = record(body);
  const sessionId = session?.sessionId;
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw new FaceUnavailableError('Face answered with a session body this gateway cannot read.');
  }
  const results = record(session?.results);
  const attempts = Array.isArray(results?.attempts) ? results.attempts.flatMap(toAttempt) : [];
  const references = Array.isArray(results?.verifyReferences) ? results.verifyReferences : [];
  const verifyReference = references.map(toVerifyReference).find((reference) => reference !== undefined);
  const modelVersion = session?.modelVersion;
  return {
    sessionId,
    status: toStatus(session?.status),
    ...(typeof modelVersion === 'string' && { modelVersion }),
    attempts,
    ...(verifyReference && { verifyReference }),
  };
}

function toAttempt(value: unknown): FaceAttempt[] {
  const attempt = record(value);
  const attemptId = attempt?.attemptId;
  if (typeof attemptId !== 'number') return [];
  const result = record(attempt?.result);
  const error = record(attempt?.error);
  const faceRectangle = toRectangle(record(record(record(result ?? error)?.targets)?.color)?.faceRectangle);
  const livenessDecision = toDecision(result?.livenessDecision);
  const verifyResult = toVerifyResult(result?.verifyResult);
  const failureCode = error?.code;
  return [
    {
      attemptId,
      status: toStatus(attempt?.attemptStatus),
      ...(livenessDecision && { livenessDecision }),
      ...(faceRectangle && { faceRectangle }),
      ...(typeof result?.digest === 'string' && { digest: result.digest }),
      ...(typeof result?.sessionImageId === 'string' && { sessionImageId: result.sessionImageId }),
      ...(verifyResult && { verifyResult }),
      ...(typeof failureCode === 'string' && {
        error: { code: failureCode, message: typeof error?.message === 'string' ? error.message : '' },
      }),
    },
  ];
}

const STATUSES: Record<string, FaceStatus> = {
  notstarted: 'NOT_STARTED',
  running: 'RUNNING',
  started: 'RUNNING',
  succeeded: 'SUCCEEDED',
  resultavailable: 'SUCCEEDED',
  failed: 'FAILED',
  canceled: 'CANCELED',
  cancelled: 'CANCELED',
};

// An unknown state is treated as still running, so callers keep polling rather than decide on it.
function toStatus(value: unknown): FaceStatus {
  return (typeof value === 'string' ? STATUSES[value.toLowerCase()] : undefined) ?? 'RUNNING';
}

const DECISIONS: Record<string, FaceLivenessDecision> = {
  realface: 'REAL_FACE',
  spoofface: 'SPOOF_FACE',
  uncertain: 'UNCERTAIN',
};

function toDecision(value: unknown): FaceLivenessDecision | undefined {
  if (typeof value !== 'string') return undefined;
  return DECISIONS[value.toLowerCase()] ?? 'UNCERTAIN';
}

const QUALITIES: Record<string, FaceQualityForRecognition> = { low: 'LOW', medium: 'MEDIUM', high: 'HIGH' };

function toVerifyReference(value: unknown): FaceVerifyReference | undefined {
  const reference = record(value);
  const faceRectangle = toRectangle(reference?.faceRectangle);
  if (!faceRectangle) return undefined;
  const quality = reference?.qualityForRecognition;
  return {
    faceRectangle,
    qualityForRecognition: (typeof quality === 'string' ? QUALITIES[quality.toLowerCase()] : undefined) ?? 'LOW',
  };
}

function toVerifyResult(value: unknown): FaceVerifyResult | undefined {
  const result = record(value);
  if (typeof result?.isIdentical !== 'boolean' || typeof result.matchConfidence !== 'number') return undefined;
  return { isIdentical: result.isIdentical, matchConfidence: result.matchConfidence };
}

function toRectangle(value: unknown): FaceRectangle | undefined {
  const rectangle = record(value);
  const { top, left, width, height } = rectangle ?? {};
  if (typeof top !== 'number' || typeof left !== 'number' || typeof width !== 'number' || typeof height !== 'number') {
    return undefined;
  }
  return { top, left, width, height };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
