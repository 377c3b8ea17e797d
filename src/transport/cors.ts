/**
 * Opt-in CORS for the API routes (`CORS_ORIGINS`): a page served from one of the listed origins may
 * call `/graphql` (and the audit export) from the browser; every other origin is treated as before,
 * with no CORS header at all, so its browser keeps the answers from it.
 *
 * A listed origin's preflight is answered here, before Apollo: Apollo's CSRF prevention refuses any
 * request without a non-simple content type or `apollo-require-preflight`, a preflight included. The
 * request the browser then sends still goes through that prevention like everyone's: CORS only tells
 * the browser it may read the answer, and a simple (CSRF-able) request stays refused.
 *
 * WebSocket upgrades are not governed by CORS (browsers send no preflight for them), and the gateway
 * authenticates sockets by the token in `connection_init`, never by cookies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from './request-id';

export interface CorsOptions {
  /** Exact origins, as browsers send them in `Origin`. */
  origins: readonly string[];
  allowCredentials: boolean;
}

/** What a listed origin's page may send: the headers the gateway reads on its API routes. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'accept', 'apollo-require-preflight', 'x-apollo-operation-name', REQUEST_ID_HEADER];
const ALLOWED_METHODS = ['GET', 'POST'];
/** What its script may read of an answer beyond the CORS-safelisted ones: when to retry, and the id to quote. */
const EXPOSED_HEADERS = ['retry-after', REQUEST_ID_HEADER];
/** Browsers cap this anyway (Chromium at 2 hours); 10 minutes keeps a changed list from lingering. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Adds the CORS headers for a listed origin; answers its preflight. True when the request has been
 * answered (a preflight), false when the route should go on and answer it.
 */
export type Cors = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createCors(options: CorsOptions): Cors {
  const allowed = new Set(options.origins);
  return (req, res) => {
    // The answer depends on Origin whether or not it is listed: a shared cache must not hand a
    // listed origin's answer to another, nor the reverse.
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return false;
    res.setHeader('access-control-allow-origin', origin);
    if (options.allowCredentials) res.setHeader('access-control-allow-credentials', 'true');
    const requestedMethod = req.headers['access-control-request-method'];
    if (req.method === 'OPTIONS' && requestedMethod !== undefined) {
      res.statusCode = 204;
      res.setHeader('access-control-allow-methods', ALLOWED_METHODS.join(', '));
      res.setHeader('access-control-allow-headers', ALLOWED_HEADERS.join(', '));
      res.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
      res.setHeader('content-length', '0');
      res.end();
      return true;
    }
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS.join(', '));
    return false;
  };
}
