/**
 * The front door and CORS, as a newcomer and a single-page app meet them. Over plain HTTP: what `/`
 * and `/docs/…` serve, in development and in production, and how preflights from a listed and an
 * unlisted origin are answered. In Chromium (playwright-core, Debian's /usr/bin/chromium): the front
 * page's links lead where they say, Sandbox's offline page points to /demo, and a page served by a
 * second local HTTP server on another port (another origin) calls the gateway with a bearer token,
 * which the browser may do only after a preflight, while a page of an unlisted origin is refused.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_OFFLINE_TEXT } from '../../src/transport/landing-page';
import { launchChromium, runBrowserTests } from '../helpers/browser';
import { TestGateway } from '../helpers/gateway';

/** A page server on its own port: its origin is not the gateway's. */
async function pageServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!DOCTYPE html><html><head><title>an app</title></head><body>an app on another origin</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))) };
}

const PRODUCTION = () => ({
  NODE_ENV: 'production',
  FACE_EMULATOR: 'true',
  FACE_EMULATOR_KEY: randomBytes(16).toString('hex'),
  IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'),
  EVIDENCE_KEY: randomBytes(32).toString('base64'),
});

const preflight = (url: string, origin: string, headers = 'authorization, content-type') =>
  fetch(`${url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers } });

const corsHeaders = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

describe('the front door and CORS over HTTP', () => {
  let app: Awaited<ReturnType<typeof pageServer>>;
  let gateway: TestGateway;

  beforeAll(async () => {
    app = await pageServer();
    gateway = await TestGateway.start({ env: { CORS_ORIGINS: `https://app.example.com, ${app.origin}` } });
  });
  afterAll(async () => {
    await gateway?.stop();
    await app?.close();
  });

  it('GET / outside production is a page linking the web client, Sandbox, health, metrics and the docs', async () => {
    const response = await fetch(`${gateway.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((match) => match[1]);
    expect(links).toEqual(expect.arrayContaining(['/demo', '/graphql', '/healthz', '/readyz', '/metrics', '/docs/api.md', '/docs/clients.md', '/docs/configuration.md']));
    expect(html).not.toMatch(/<script/);
  });

  it('every docs page linked from / is served as plain text; nothing else under /docs is', async () => {
    const html = await (await fetch(`${gateway.url}/`)).text();
    const docs = [...html.matchAll(/href="(\/docs\/[^"]+)"/g)].map((match) => match[1]);
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const doc of docs) {
      const response = await fetch(`${gateway.url}${doc}`);
      expect(response.status, doc).toBe(200);
      expect(response.headers.get('content-type'), doc).toBe('text/plain; charset=utf-8');
      expect(await response.text(), doc).toMatch(/^# /);
    }
    for (const path of ['/docs/', '/docs/missing.md', '/docs/..%2fpackage.json', '/docs/%2e%2e/README.md', '/index.html']) {
      expect((await fetch(`${gateway.url}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${gateway.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('a listed origin gets its preflight answered 204, with the methods and headers it may send', async () => {
    const response = await preflight(gateway.url, app.origin);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(app.origin);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(response.headers.get('access-control-allow-headers')?.split(', ')).toEqual(expect.arrayContaining(['authorization', 'content-type', 'apollo-require-preflight']));
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('an unlisted origin gets no CORS header: its preflight meets Apollo\'s CSRF prevention as before', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', `${app.origin}/`, 'null']) {
      const response = await preflight(gateway.url, origin);
      expect(response.status, origin).toBe(400);
      expect(corsHeaders(response), origin).toEqual([]);
    }
  });

  it('a listed origin\'s answer carries its origin; a GET without a token or preflight header is refused as CSRF, one with a token is served', async () => {
    const token = gateway.token({ sub: 'cors-user' });
    const allowed = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://app.example.com', 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-expose-headers')).toBe('retry-after, x-request-id');
    expect(await allowed.json()).toEqual({ data: { viewer: { userId: 'cors-user' } } });

    // A GET a page could send without asking (no header a browser must preflight) is refused...
    const query = `${gateway.url}/graphql?query=${encodeURIComponent('{ viewer { userId } }')}`;
    const simple = await fetch(query, { headers: { origin: 'https://app.example.com' } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toContain('CSRF');
    // ...while a GraphQL-over-HTTP GET with its bearer token is served: a browser sends that header
    // cross-site only after a preflight, which only listed origins pass.
    const withToken = await fetch(query, { headers: { origin: 'https://app.example.com', authorization: `Bearer ${token}`, accept: 'application/graphql-response+json' } });
    expect(withToken.status).toBe(200);
    expect(await withToken.json()).toEqual({ data: { viewer: { userId: 'cors-user' } } });
  });

  it('without CORS_ORIGINS no origin gets a CORS header, and in production / and /docs are 404', async () => {
    const production = await TestGateway.start({ env: PRODUCTION() });
    try {
      expect(corsHeaders(await preflight(production.url, app.origin))).toEqual([]);
      expect((await preflight(production.url, app.origin)).status).toBe(400);
      expect((await fetch(`${production.url}/`)).status).toBe(404);
      expect((await fetch(`${production.url}/docs/api.md`)).status).toBe(404);
    } finally {
      await production.stop();
    }
  });

  it("Sandbox's offline text points to /demo where the web client is served, and links nowhere where it is not", async () => {
    const page = await (await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain(`${SANDBOX_OFFLINE_TEXT}\n  <p id="offline-pointer">Without the internet, use the web client at <a href="/demo">/demo</a>`);
    const sandboxOnly = await TestGateway.start({ env: { ...PRODUCTION(), ENABLE_SANDBOX: 'true' } });
    try {
      const html = await (await fetch(`${sandboxOnly.url}/graphql`, { headers: { accept: 'text/html' } })).text();
      expect(html).toContain('<p id="offline-pointer">Sandbox needs the internet: it loads from Apollo’s CDN.</p>');
      expect(html).not.toContain('href="/demo"');
      expect((await fetch(`${sandboxOnly.url}/demo`)).status).toBe(404);
    } finally {
      await sandboxOnly.stop();
    }
  });

  it('CORS_ALLOW_CREDENTIALS=true adds Access-Control-Allow-Credentials for listed origins only', async () => {
    const withCredentials = await TestGateway.start({ env: { CORS_ORIGINS: app.origin, CORS_ALLOW_CREDENTIALS: 'true' } });
    try {
      expect((await preflight(withCredentials.url, app.origin)).headers.get('access-control-allow-credentials')).toBe('true');
      expect(corsHeaders(await preflight(withCredentials.url, 'https://evil.example'))).toEqual([]);
    } finally {
      await withCredentials.stop();
    }
  });
});

describe.skipIf(!runBrowserTests)('the front door and CORS in Chromium', () => {
  let browser: Browser;
  let gateway: TestGateway;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let refused: Awaited<ReturnType<typeof pageServer>>;

  beforeAll(async () => {
    browser = await launchChromium();
    allowed = await pageServer();
    refused = await pageServer();
    gateway = await TestGateway.start({ env: { CORS_ORIGINS: allowed.origin }, devSecret: true });
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await allowed?.close();
    await refused?.close();
  });

  it('the front page links lead to the web client, health and the docs', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${gateway.url}/`);
      expect(await page.title()).toBe('Liveness gateway');
      await page.click('#links a[href="/healthz"]');
      expect(JSON.parse((await page.textContent('body')) ?? '')).toEqual({ status: 'ok' });
      await page.goBack();
      await page.click('#docs a[href="/docs/clients.md"]');
      expect(await page.textContent('body')).toContain('# Building a client');
      await page.goBack();
      await page.click('#links a[href="/demo"]');
      await page.locator('body[data-ready="true"]').waitFor();
      expect(page.url()).toBe(`${gateway.url}/demo`);
    } finally {
      await context.close();
    }
  });

  it("Sandbox's page, with Apollo's CDN out of reach, points to /demo, and the link opens the web client", async () => {
    const context = await browser.newContext();
    try {
      // Offline as far as Apollo's CDN and fonts go, whether or not this machine has the internet.
      await context.route(/^https:\/\//, (route) => route.abort('internetdisconnected'));
      const page = await context.newPage();
      await page.goto(`${gateway.url}/graphql`);
      const pointer = page.locator('#offline-pointer');
      await pointer.waitFor();
      expect(await page.content()).toContain(SANDBOX_OFFLINE_TEXT);
      expect(await pointer.textContent()).toBe('Without the internet, use the web client at /demo: it runs a whole flow from files this gateway serves.');
      await pointer.locator('a[href="/demo"]').click();
      await page.locator('body[data-ready="true"]').waitFor();
      expect(page.url()).toBe(`${gateway.url}/demo`);
    } finally {
      await context.close();
    }
  });

  /** In a page of `origin`, a POST to the gateway with a bearer token: what the script can read of the answer, or the error. */
  async function crossOriginViewer(origin: string): Promise<{ data?: unknown; requestId?: string | null; failed?: string }> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      return await page.evaluate(
        async ({ url, token }) => {
          try {
            const response = await fetch(`${url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: '{ viewer { userId tenant } }' }),
            });
            return { data: await response.json(), requestId: response.headers.get('x-request-id') };
          } catch (error) {
            return { failed: String(error) };
          }
        },
        { url: gateway.url, token: gateway.devToken! },
      );
    } finally {
      await context.close();
    }
  }

  it('a page of a listed origin calls /graphql with a bearer token: the preflight passes and the answer is readable', async () => {
    const before = gateway.logs.length;
    const result = await crossOriginViewer(allowed.origin);
    expect(result).toEqual({ data: { data: { viewer: { userId: 'dev-user', tenant: 'default' } } }, requestId: expect.stringMatching(/\S/) });
    // The browser asked first: an authorization header is never sent cross-origin without a preflight.
    const methods = gateway.logs.slice(before).map((line) => JSON.parse(line) as { msg: string; method?: string; path?: string }).filter((line) => line.msg === 'http request' && line.path === '/graphql').map((line) => line.method);
    expect(methods).toEqual(['OPTIONS', 'POST']);
  });

  it('a page of an unlisted origin is refused by the browser: the preflight gets no CORS header and the POST is never sent', async () => {
    const before = gateway.logs.length;
    const result = await crossOriginViewer(refused.origin);
    expect(result).toEqual({ failed: 'TypeError: Failed to fetch' });
    const methods = gateway.logs.slice(before).map((line) => JSON.parse(line) as { msg: string; method?: string; path?: string }).filter((line) => line.msg === 'http request' && line.path === '/graphql').map((line) => line.method);
    expect(methods).toEqual(['OPTIONS']);
  });
});
