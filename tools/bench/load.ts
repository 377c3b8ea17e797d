/**
 * HTTP load from this machine with autocannon's programmatic API: a warm-up round, then a measured
 * round, each bounded in requests or seconds and always by a hard time cap. Every response is checked:
 * non-2xx answers, connection errors and timeouts are counted, and `check` is run on every body (for
 * GraphQL: no `errors`, and the data expected). Latencies are collected per response at the
 * resolution autocannon measures them (hrtime), not from its millisecond histogram.
 */
import autocannon from 'autocannon';
import { summarize, type LatencySummary } from './stats';

export interface HttpLoad {
  /** Full URL, path included. */
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  /** True when a response body is what it should be. Run on every response. */
  check(body: string): boolean;
}

/** A round ends after `requests` responses or `seconds`, and in any case after `maxSeconds`. */
export type Bound = ({ requests: number } | { seconds: number }) & { maxSeconds: number };

export interface LoadRound {
  responses: number;
  seconds: number;
  rps: number;
  latency: LatencySummary;
  /** Every response's latency in milliseconds, in arrival order (for pooling rounds). */
  samples: number[];
  non2xx: number;
  /** Bodies `check` refused (GraphQL errors or unexpected data; a non-2xx body usually counts here too). */
  failedChecks: number;
  errors: number;
  timeouts: number;
  /** The first refused body, shortened, to say what went wrong. */
  firstFailure?: string;
}

export async function loadRound(load: HttpLoad, bound: Bound): Promise<LoadRound> {
  const latencies: number[] = [];
  let firstFailure: string | undefined;
  const startedAt = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: load.url,
        method: load.method,
        headers: load.headers,
        body: load.body,
        connections: load.connections,
        ...('requests' in bound ? { amount: bound.requests } : { duration: bound.seconds }),
        timeout: 30,
        verifyBody: (body) => {
          const ok = load.check(String(body));
          if (!ok) firstFailure ??= String(body).slice(0, 500);
          return ok;
        },
      },
      (error, finished) => {
        clearTimeout(cap);
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else resolve(finished);
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
    const cap = setTimeout(() => instance.stop(), bound.maxSeconds * 1000);
  });
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    responses: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    latency: summarize(latencies),
    samples: latencies,
    non2xx: result.non2xx,
    failedChecks: result.mismatches,
    errors: result.errors,
    timeouts: result.timeouts,
    ...(firstFailure !== undefined && { firstFailure }),
  };
}

export async function warmAndMeasure(load: HttpLoad, warmup: Bound, measured: Bound): Promise<{ warmup: LoadRound; measured: LoadRound }> {
  return { warmup: await loadRound(load, warmup), measured: await loadRound(load, measured) };
}

/** Everything that went wrong in a round, as one number: zero is the only good answer. */
export function failures(round: Pick<LoadRound, 'non2xx' | 'failedChecks' | 'errors' | 'timeouts'>): number {
  return round.non2xx + round.failedChecks + round.errors + round.timeouts;
}

/** A GraphQL-over-HTTP check: parses the body, refuses any `errors`, and applies `expect` to `data`. */
export function graphqlCheck<TData>(expect: (data: TData) => boolean): (body: string) => boolean {
  return (body) => {
    try {
      const parsed = JSON.parse(body) as { data?: TData | null; errors?: unknown[] };
      return !parsed.errors?.length && parsed.data !== undefined && parsed.data !== null && expect(parsed.data);
    } catch {
      return false;
    }
  };
}
