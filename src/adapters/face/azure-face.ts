/**
 * The Face port over `@azure-rest/ai-vision-face` (Face REST API v1.2), for Azure and for the emulator alike.
 *
 * The pipeline's log policy redacts `Ocp-Apim-Subscription-Key` and `Authorization` and never logs
 * bodies, so neither the key nor a device token reaches the Azure logger. Retries and the time budget
 * are in `face-call.ts`, error mapping in `face-errors.ts`, Face's JSON in `face-wire.ts`.
 */
import { randomUUID } from 'node:crypto';
import createFaceClient, { type FaceClient, isUnexpected } from '@azure-rest/ai-vision-face';
import { AzureKeyCredential, type TokenCredential } from '@azure/core-auth';
import {
  type CreateLivenessSessionRequest,
  type CreateLivenessWithVerifySessionRequest,
  type CreatedFaceSession,
  type FaceCallPriority,
  type FacePort,
  FaceRequestError,
  isNoFaceRoute,
  type FaceSession,
  type FaceSessionImage,
  type FaceSessionKind,
} from '../../domain/ports/face.port';
import { FaceCallBudgetError } from './call-scheduler';
import { type CallSettings, callFace } from './face-call';
import { readAzureError, requestError } from './face-errors';
import { creationBody, toCreatedSession, toSession, verifyCreationParts } from './face-wire';

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
  acquire?: CallSettings['acquire'];
  /** Takes a spare slot under the cap for the readiness probe, or says none is free (the probe then does not go). */
  trySpare?: () => boolean;
  /**
   * Told of every HTTP try (metrics): the operation (`create liveness session`, `get session` …), the
   * HTTP status or `timeout` / `connection_error` / `credential_error`, and how long the try took.
   */
  observe?: CallSettings['observe'];
}

const DEFAULT_TIMEOUT_MILLIS = 10_000;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_MAX_RETRY_AFTER_SECONDS = 5;
const DEFAULT_TOTAL_TIMEOUT_MILLIS = 25_000;

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
      const response = await callFace(settings, 'create liveness session', 'interactive', (abortSignal) =>
        client.path('/detectLiveness-sessions').post({ body: creationBody(request), abortSignal }),
      );
      if (isUnexpected(response)) throw requestError(settings.scrub, 'create liveness session', response);
      return toCreatedSession(response.body);
    },

    async createLivenessWithVerifySession(request: CreateLivenessWithVerifySessionRequest): Promise<CreatedFaceSession> {
      const operation = 'create liveness-with-verify session';
      const response = await callFace(settings, operation, 'interactive', (abortSignal) =>
        client.path('/detectLivenessWithVerify-sessions').post({
          contentType: 'multipart/form-data',
          body: verifyCreationParts(request),
          abortSignal,
        }),
      );
      if (isUnexpected(response)) throw requestError(settings.scrub, operation, response);
      return toCreatedSession(response.body);
    },

    async getSession(kind: FaceSessionKind, sessionId: string, options?: { priority?: FaceCallPriority }): Promise<FaceSession> {
      const priority = options?.priority ?? 'background';
      const response = await callFace(settings, 'get session', priority, (abortSignal) => sessionPath(kind, sessionId).get({ abortSignal }));
      if (isUnexpected(response)) throw requestError(settings.scrub, 'get session', response);
      return toSession(response.body);
    },

    async getSessionImage(sessionImageId: string): Promise<FaceSessionImage> {
      const operation = 'get session image';
      // The body is binary: read as a stream, since the client would decode it as text otherwise.
      const response = await callFace(settings, operation, 'background', async (abortSignal) => {
        const streamed = await client.path('/sessionImages/{sessionImageId}', sessionImageId).get({ abortSignal }).asNodeStream();
        const bytes = await readStream(streamed.body, MAX_SESSION_IMAGE_BYTES);
        const headers = streamed.headers as Record<string, string>;
        return { status: streamed.status, headers, body: streamed.status === '200' ? bytes : parseJson(bytes) };
      });
      if (response.status !== '200') throw requestError(settings.scrub, operation, response);
      return { bytes: response.body as Buffer, contentType: response.headers['content-type']?.split(';')[0]?.trim() || 'application/octet-stream' };
    },

    async deleteSession(kind: FaceSessionKind, sessionId: string): Promise<void> {
      const response = await callFace(settings, 'delete session', 'interactive', (abortSignal) =>
        sessionPath(kind, sessionId).delete({ abortSignal }),
      );
      if (!isUnexpected(response) || response.status === '200' || response.status === '404') return;
      throw requestError(settings.scrub, 'delete session', response);
    },

    async ping(pingOptions?: { signal?: AbortSignal }): Promise<void> {
      // A session that cannot exist: 404 proves Face answered and accepted our credentials. The probe
      // never waits for a slot: it goes only when one is spare (see call-scheduler.ts).
      const trySpare = options.trySpare;
      const probe: CallSettings = {
        ...settings,
        maxRetries: 0,
        acquire: async () => {
          if (trySpare && !trySpare()) throw new FaceCallBudgetError('No spare Face slot for the readiness probe.', 1);
        },
      };
      const response = await callFace(
        probe,
        'readiness probe',
        'interactive',
        (abortSignal) => client.path('/detectLiveness-sessions/{sessionId}', randomUUID()).get({ abortSignal }),
        pingOptions?.signal,
      );
      if (response.status === '200') return;
      const status = Number(response.status);
      const { code } = readAzureError(response.body) ?? { code: String(status) };
      if (status === 404 && !isNoFaceRoute(status, code)) return;
      const reason =
        status === 401 || status === 403
          ? `Face refused our credentials (${status} ${code}); check the Face key or the Entra ID role assignment.`
          : status === 404
            ? `FACE_ENDPOINT has no Face API under /face/v1.2 (404 ${code}); check FACE_ENDPOINT.`
            : `Face answered the readiness probe with ${status} ${code}.`;
      throw new FaceRequestError(code, status, reason);
    },
  };
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

/** Larger than any selfie Face keeps; a longer body is refused rather than held in memory. */
const MAX_SESSION_IMAGE_BYTES = 8 * 1024 * 1024;

async function readStream(stream: NodeJS.ReadableStream | undefined, maxBytes: number): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    length += buffer.length;
    if (length > maxBytes) throw new FaceRequestError('ImageTooLarge', 502, `Face sent a session image over ${maxBytes} bytes.`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
