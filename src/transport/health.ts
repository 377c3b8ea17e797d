/** `/healthz` (the process serves) and `/readyz` (the store and the Face backend answer). */
import type { ServerResponse } from 'node:http';
import { sendJson } from './graphql-http';

export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MILLIS = 3_000;

export function sendHealth(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

export async function sendReadiness(res: ServerResponse, checks: Record<string, ReadinessCheck>): Promise<void> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MILLIS} ms`)), CHECK_TIMEOUT_MILLIS);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, `down: ${error instanceof Error ? error.message : String(error)}`] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const ready = results.every(([, state]) => state === 'ok');
  sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) });
}
