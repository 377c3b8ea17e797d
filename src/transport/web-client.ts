/**
 * The reference web client at /demo (outside production, or with ENABLE_WEB_CLIENT=true): the static
 * files `npm run build` puts in dist/web/ (tools/cli/build-web.ts), read once when the gateway starts and
 * served from memory. Only those files answer, by exact path: nothing from a request's path ever
 * reaches the file system. Every answer carries a Content-Security-Policy that allows the page's own
 * origin only (its scripts and styles, and its calls to /graphql, the graphql-ws socket and /emulator).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger';
import { sendJson } from './graphql-http';

export const WEB_CLIENT_PATH = '/demo';

/** `'self'` covers the same origin's ws: URL too (CSP Level 3), which the decision subscription uses. */
export const WEB_CLIENT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where a page (the app flow, the auditor's portal) asks for the token field's initial value. */
const DEV_TOKEN_PLACEHOLDER = '{{DEV_TOKEN}}';

export interface WebClientOptions {
  /** The built client; default dist/web/, found from this module in dist/ (npm start) or in src/ (tests). */
  dir?: string;
  /** Pre-filled in the page's token field: the dev token, which exists only with the generated development secret. */
  devToken?: string;
  logger: Logger;
}

export type WebClientHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => void;

interface Asset {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

export async function createWebClientHandler(options: WebClientOptions): Promise<WebClientHandler> {
  const dir = options.dir ?? (await defaultDir());
  const assets = dir ? await loadAssets(dir, options.devToken) : new Map<string, Asset>();
  if (!assets.has('/')) {
    options.logger.warn({ path: WEB_CLIENT_PATH }, 'the web client is not built (no dist/web/index.html): run `npm run build`');
  }

  return (req, res, pathname) => {
    const relative = pathname.slice(WEB_CLIENT_PATH.length) || '/';
    if (!assets.has('/')) return sendJson(res, 503, { error: 'The web client is not built: run `npm run build`.' });
    const asset = assets.get(relative === '/index.html' ? '/' : relative);
    if (!asset) return sendJson(res, 404, { error: 'Not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'Method not allowed' });
    }
    res.statusCode = 200;
    res.setHeader('content-type', asset.contentType);
    res.setHeader('content-length', asset.body.length);
    res.setHeader('cache-control', asset.cacheControl);
    res.setHeader('content-security-policy', WEB_CLIENT_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}

/** dist/web/ seen from dist/src/transport/ (the built gateway) or from src/transport/ (tests running the sources). */
async function defaultDir(): Promise<string | undefined> {
  for (const candidate of [path.resolve(__dirname, '../../dist/web'), path.resolve(__dirname, '../../web')]) {
    if (await exists(path.join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Every .html, .js, .css and .svg file under `dir`, keyed by its URL path below /demo (index.html as `/`, portal.html as itself). */
async function loadAssets(dir: string, devToken: string | undefined): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const key of await listFiles(dir)) {
    const contentType = CONTENT_TYPES[path.extname(key)];
    if (!contentType) continue;
    const body = await fs.readFile(path.join(dir, ...key.split('/')));
    if (key.endsWith('.html')) {
      const page = body.toString('utf8').replace(DEV_TOKEN_PLACEHOLDER, escapeHtml(devToken ?? ''));
      // A page carries the dev token: never kept by a cache.
      assets.set(key === '/index.html' ? '/' : key, { body: Buffer.from(page), contentType, cacheControl: 'no-store' });
    } else {
      assets.set(key, { body, contentType, cacheControl: 'no-cache' });
    }
  }
  return assets;
}

/** `/app.js`, `/vendor/graphql-ws.js`, …: the files under `dir`, as URL paths. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}/${entry.name}`) : Promise.resolve(entry.isFile() ? [`${prefix}/${entry.name}`] : []),
    ),
  );
  return nested.flat();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
