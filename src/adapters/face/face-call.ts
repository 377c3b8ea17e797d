/**
 * One Face call with our retries. They are ours rather than the pipeline's: the pipeline's default
 * policy does not retry a 429 without `Retry-After`, nor a request its own timeout aborted, and it
 * waits as long as any `Retry-After` asks. So the pipeline runs with `maxRetries: 0` and each call gets
 * `maxRetries` more tries for 408/429/5xx, timeouts and connection errors, with a short jittered
 * backoff (200 ms doubling up to 2 s; a 429 without `Retry-After` backs off the same way) or the
 * `Retry-After` Face sent (up to `maxRetryAfterSeconds`). Every call, its retries and its waits for a
 * slot under the gateway's per-second cap (`acquire`) included, ends within `totalTimeoutMillis`: each
 * try's timeout is cut to what is left, and no retry starts whose wait would outlast it.
 *
 * Only what Face did counts as Face failing (the circuit breaker opens on `FaceUnavailableError`):
 * a try that the gateway's own queue left too little time for (it is not sent), or that the caller
 * abandoned (its `signal`), fails with `FaceCallBudgetError` instead, which the breaker ignores. Otherwise a queue
 * of calls in the gateway would read as Face being down and shut every user out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type FaceCallPriority, FaceUnavailableError } from '../../domain/ports/face.port';
import { FaceCallBudgetError } from './call-scheduler';
import { isRetryableTransportError, type RawResponse, readAzureError, type Scrub, transportError, transportFailureKind } from './face-errors';

export interface CallSettings {
  timeoutMillis: number;
  maxRetries: number;
  maxRetryAfterSeconds: number;
  totalTimeoutMillis: number;
  acquire?: (priority: FaceCallPriority, deadlineMillis: number, signal?: AbortSignal) => Promise<void>;
  observe?: (operation: string, status: string, seconds: number) => void;
  scrub: Scrub;
}

const FIRST_BACKOFF_MILLIS = 200;
/** Less time than this for a try, after waiting in the gateway's queue, is no fair test of Face. */
const FAIR_TRY_MILLIS = 1_000;
const MAX_BACKOFF_MILLIS = 2_000;

/** One Face call with retries, a timeout per try, a bound on the whole, and our error mapping for what never became an answer. */
export async function callFace<T extends RawResponse>(
  settings: CallSettings,
  operation: string,
  priority: FaceCallPriority,
  send: (abortSignal: AbortSignal) => PromiseLike<T>,
  /** The caller gave up (e.g. a readiness probe's timeout): the call leaves the queue, or its try is aborted. */
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + settings.totalTimeoutMillis;
  /** Waits `millis` before the next try, or throws `failure` when the next try could not start in time. */
  const pause = async (millis: number, failure: FaceUnavailableError) => {
    if (Date.now() + millis >= deadline) throw spent(settings, failure);
    try {
      await sleep(millis, undefined, { signal });
    } catch {
      throw new FaceCallBudgetError(`Face ${operation} was abandoned by its caller.`);
    }
  };
  for (let attempt = 0; ; attempt += 1) {
    const triesLeft = settings.maxRetries - attempt;
    const queuedAt = Date.now();
    await settings.acquire?.(priority, deadline, signal);
    const queuedMillis = Date.now() - queuedAt;
    const tryTimeoutMillis = Math.min(settings.timeoutMillis, deadline - Date.now());
    // A try the queue left too little time for would fail whatever Face does: not sent, not Face's fault.
    const fair = fairTryMillis(settings);
    if (tryTimeoutMillis <= 0 || (tryTimeoutMillis < fair && tryTimeoutMillis + queuedMillis >= fair)) {
      throw new FaceCallBudgetError(`Face ${operation} waited for a slot until only ${Math.max(0, tryTimeoutMillis)} ms of its budget were left.`, 1);
    }
    let response: T;
    const sentAt = performance.now();
    try {
      response = await send(signal ? AbortSignal.any([signal, AbortSignal.timeout(tryTimeoutMillis)]) : AbortSignal.timeout(tryTimeoutMillis));
      settings.observe?.(operation, response.status, (performance.now() - sentAt) / 1000);
    } catch (error) {
      settings.observe?.(operation, transportFailureKind(error), (performance.now() - sentAt) / 1000);
      if (signal?.aborted) throw new FaceCallBudgetError(`Face ${operation} was abandoned by its caller.`);
      const unavailable = transportError(settings.scrub, operation, error, attempt + 1, tryTimeoutMillis);
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

/** The least time a try must have to be a fair test of Face (a try's timeout, at most 1 s, at most half the budget). */
function fairTryMillis(settings: CallSettings): number {
  return Math.min(settings.timeoutMillis, FAIR_TRY_MILLIS, settings.totalTimeoutMillis / 2);
}

/** The last failure, noting that the call's time budget left no room for another try. */
function spent(settings: CallSettings, failure: FaceUnavailableError): FaceUnavailableError {
  return new FaceUnavailableError(
    `${failure.message} No further try fits in the ${settings.totalTimeoutMillis} ms budget of the call.`,
    failure.httpStatus,
    failure.retryAfterSeconds,
    failure.reason,
    failure.networkCode,
  );
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
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
