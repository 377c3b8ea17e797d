/**
 * A request id for every HTTP request: the caller's own `x-request-id` when it is sane, else a fresh
 * UUID. It is echoed in the response's `x-request-id`, carried by every log line written while the
 * request is served (through the request's logger, which the GraphQL context hands down), and ends
 * in one access line per request. Work the request only starts (the polls after a completion) logs
 * as background work, without it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RootLogger } from '../observability/logger';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Letters, digits and `._:-`, at most 128: what tracing systems send, and nothing that could forge a log field. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Health probes and metric scrapes come every few seconds; their access lines are debug, not info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Wraps the server's request handler. The accepted or generated id replaces the incoming header, so
 * whatever reads `x-request-id` downstream (the GraphQL context) sees the one id that is logged.
 */
export function withRequestIds(
  logger: RootLogger,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  // Every field of the access line is set below (ids, a method, a path without its query, numbers).
  const access = logger.fixedFieldsChild({ component: 'http' });
  return (req, res) => {
    const incoming = req.headers[REQUEST_ID_HEADER];
    const requestId = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);

    const startedAt = performance.now();
    const path = pathForLog(req.url);
    res.once('close', () => {
      const line = {
        requestId,
        method: req.method,
        path,
        status: res.statusCode,
        durationMillis: Math.round(performance.now() - startedAt),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (PROBES.has(path)) access.debug(line, 'http request');
      else access.info(line, 'http request');
    });
    handle(req, res);
  };
}

/**
 * The path of a request URL as logs may show it. The path only: a GET's query string may carry
 * variables, and variables may carry an image. A one-time evidence link is a credential while it
 * lives: its secret is not logged.
 */
export function pathForLog(url: string | undefined): string {
  // The router serves the normalised path (`/./evidence/…` and `/%2e/evidence/…` are `/evidence/…`),
  // so the secret of an evidence link is recognised the same way before the raw path is logged.
  if (servedPath(url ?? '/').startsWith('/evidence/')) return '/evidence/[redacted]';
  return (url ?? '/').split('?')[0].slice(0, 200);
}

function servedPath(url: string): string {
  try {
    return new URL(url, 'http://gateway').pathname;
  } catch {
    return url;
  }
}

/** The request's id, as `withRequestIds` settled it. */
export function requestIdOf(req: IncomingMessage): string {
  const id = req.headers[REQUEST_ID_HEADER];
  return typeof id === 'string' ? id : randomUUID();
}
