/**
 * `/healthz` (the process serves) and `/readyz` (the store and the Face backend answer).
 *
 * `/readyz` is anonymous and a load balancer may ask it many times a second, while each answer costs
 * a store query and a Face call under the cap users need. So one probe at a time computes the answer
 * (the others wait for it), and that answer is reused for `cacheMillis`; a check that does not answer
 * within `timeoutMillis` is abandoned through its abort signal, and the Face check takes only a
 * spare slot under the cap (`resilient-face.ts`).
 */
import type { ServerResponse } from 'node:http';
import { sendJson } from './graphql-http';

/**
 * Resolves when the dependency answers (or with a note, e.g. `busy but reachable`, when it is
 * ready but was not asked); rejects when it is down. Should stop when `signal` aborts.
 */
export type ReadinessCheck = (signal: AbortSignal) => Promise<string | void>;

export interface ReadinessReport {
  ready: boolean;
  /** Per check: `ok`, a ready note, or `down: <why>`. */
  checks: Record<string, string>;
}

export type Readiness = () => Promise<ReadinessReport>;

const DEFAULT_TIMEOUT_MILLIS = 3_000;

export function sendHealth(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

export async function sendReadiness(res: ServerResponse, readiness: Readiness): Promise<void> {
  const { ready, checks } = await readiness();
  sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks });
}

/** The shared, cached readiness answer. A `cacheMillis` of 0 still shares an answer being computed. */
export function createReadiness(
  checks: Record<string, ReadinessCheck>,
  options: { cacheMillis: number; timeoutMillis?: number; now?: () => number },
): Readiness {
  const now = options.now ?? Date.now;
  const timeoutMillis = options.timeoutMillis ?? DEFAULT_TIMEOUT_MILLIS;
  let cached: { report: ReadinessReport; at: number } | undefined;
  let inFlight: Promise<ReadinessReport> | undefined;
  return () => {
    if (cached && now() - cached.at < options.cacheMillis) return Promise.resolve(cached.report);
    inFlight ??= runChecks(checks, timeoutMillis)
      .then((report) => {
        cached = { report, at: now() };
        return report;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

async function runChecks(checks: Record<string, ReadinessCheck>, timeoutMillis: number): Promise<ReadinessReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const abandon = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandon.abort();
          reject(new Error(`no answer within ${timeoutMillis} ms`));
        }, timeoutMillis);
      });
      try {
        const note = await Promise.race([check(abandon.signal), timeout]);
        return [name, note || 'ok', true] as const;
      } catch (error) {
        return [name, `down: ${error instanceof Error ? error.message : String(error)}`, false] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, , up]) => up), checks: Object.fromEntries(results.map(([name, state]) => [name, state])) };
}
