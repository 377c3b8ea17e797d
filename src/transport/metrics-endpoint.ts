/**
 * `GET /metrics`: the Prometheus text format (`text/plain; version=0.0.4`) of the gateway's registry.
 * With `METRICS_TOKEN` set, a scrape must carry `Authorization: Bearer <METRICS_TOKEN>` (Prometheus:
 * `authorization: { credentials: … }` in the scrape config), else 401. Whether the route exists at
 * all is `METRICS_ENABLED` (gateway.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './graphql-http';

export const METRICS_PATH = '/metrics';

export function createMetricsHandler(options: {
  scrape: () => Promise<{ contentType: string; body: string }>;
  token?: string;
}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  // Compared as digests, so the comparison takes the same time whatever the length of what was sent.
  const expected = options.token === undefined ? undefined : digest(options.token);
  return async (req, res) => {
    if (expected) {
      const sent = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization?.trim() ?? '')?.[1];
      if (sent === undefined || !timingSafeEqual(digest(sent), expected)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return sendJson(res, 401, { error: 'A valid metrics bearer token is required.' });
      }
    }
    const { contentType, body } = await options.scrape();
    res.statusCode = 200;
    res.setHeader('content-type', contentType);
    res.setHeader('cache-control', 'no-store');
    res.end(body);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
