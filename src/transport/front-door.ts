/**
 * The front door: `GET /` outside production, a small page that says what runs here and links to
 * it (the web client, Sandbox, health, metrics), and the documentation in `docs/` as plain text
 * under `/docs/<page>.md`, so a newcomer who opens the gateway's address finds their way. The pages
 * are read once at start and served from memory by exact name; nothing from a request's path
 * reaches the file system. In production `/` stays a 404: the port faces clients, not people.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './graphql-http';
import { WEB_CLIENT_CSP } from './web-client';

export const FRONT_DOOR_PATH = '/';
export const DOCS_PATH = '/docs';

export interface FrontDoorOptions {
  /** What this gateway serves, so the page links only to what answers. */
  webClient: boolean;
  sandbox: boolean;
  metrics: boolean;
  emulator: boolean;
  /** The documentation's Markdown files; default the repository's docs/, found from this module in src/ or dist/src/. */
  docsDir?: string;
}

/** Answers `/` and `/docs/…`; false (nothing written) for any other path. */
export type FrontDoor = (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean;

export async function createFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const docs = await loadDocs(options.docsDir ?? (await defaultDocsDir()));
  const page = Buffer.from(frontPage(options, [...docs.keys()]));
  return (req, res, pathname) => {
    const doc = pathname.startsWith(`${DOCS_PATH}/`) ? docs.get(pathname.slice(DOCS_PATH.length + 1)) : undefined;
    if (pathname !== FRONT_DOOR_PATH && doc === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'Method not allowed' });
      return true;
    }
    const body = doc ?? page;
    res.statusCode = 200;
    res.setHeader('content-type', doc ? 'text/plain; charset=utf-8' : 'text/html; charset=utf-8');
    res.setHeader('content-length', body.length);
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('content-security-policy', WEB_CLIENT_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function frontPage(options: FrontDoorOptions, docNames: string[]): string {
  const links: [string, string, string][] = [];
  if (options.webClient) links.push(['/demo', 'Web client', 'a whole liveness flow, button by button, against the built-in emulator']);
  if (options.sandbox) links.push(['/graphql', 'Apollo Sandbox', 'every operation pre-filled (loads from Apollo’s CDN, so it needs the internet)']);
  links.push(['/healthz', 'Health', '200 while the process serves']);
  links.push(['/readyz', 'Readiness', 'whether the store and Face answer']);
  if (options.metrics) links.push(['/metrics', 'Metrics', 'Prometheus text format']);
  const item = ([href, name, what]: [string, string, string]) => `<li><a href="${href}">${name}</a> (<code>${href}</code>): ${what}</li>`;
  const docItems = docNames.map((name) => `<li><a href="${DOCS_PATH}/${name}">${name}</a></li>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Liveness gateway</title></head>
<body>
<main>
<h1>Liveness gateway</h1>
<p>The GraphQL app server of Azure AI Face liveness checks. The API is <code>POST /graphql</code>, with
subscriptions over WebSocket on the same path.${options.emulator ? ' The Face emulator answers under <code>/emulator</code>.' : ''}</p>
<h2>Try it</h2>
<ul id="links">
${links.map(item).join('\n')}
</ul>
<h2>Documentation</h2>
<ul id="docs">
${docItems}
</ul>
<p>This page is served outside production only.</p>
</main>
</body>
</html>
`;
}

async function defaultDocsDir(): Promise<string | undefined> {
  for (const candidate of [path.resolve(__dirname, '../../docs'), path.resolve(__dirname, '../../../docs')]) {
    if (await fs.access(path.join(candidate, 'api.md')).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** Every `*.md` directly in `dir`, by file name. */
async function loadDocs(dir: string | undefined): Promise<Map<string, Buffer>> {
  const docs = new Map<string, Buffer>();
  if (!dir) return docs;
  for (const name of (await fs.readdir(dir)).filter((file) => file.endsWith('.md')).sort()) {
    docs.set(name, await fs.readFile(path.join(dir, name)));
  }
  return docs;
}
