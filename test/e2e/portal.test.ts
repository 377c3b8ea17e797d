/**
 * The auditor's portal at /demo/portal.html, in Chromium: the tenant's audit history with its pages
 * and filters, the live feed appending events over graphql-ws, the chain check (holding, then broken
 * after an edit of the SQLite file), the NDJSON export as a download, a session's detail with its
 * evidence, and the webhook delivery log an admin reads, fed by a real receiver.
 *
 * On SQLite, and on PostgreSQL when DATABASE_URL is set. It writes screenshots to SCREENSHOT_DIR (docs/images/ refreshes the ones in docs/clients.md),
 * else to a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditHistoryDocument,
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  SessionDocument,
  SessionEvidenceDocument,
  StartLivenessSessionDocument,
  VerifyAuditChainDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
} from '../../client/generated/graphql';
import { WEB_CLIENT_CSP } from '../../src/transport/web-client';
import { launchChromium, runBrowserTests } from '../helpers/browser';
import { eventually, TestGateway } from '../helpers/gateway';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '../helpers/services';
import { WebhookReceiver } from '../helpers/webhook-receiver';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The same page on every store: SQLite always, PostgreSQL when DATABASE_URL names a server (CI). */
const stores = [
  { store: 'SQLite', database: async (): Promise<TestDatabase | undefined> => undefined },
  ...(postgresAdminUrl ? [{ store: 'PostgreSQL', database: createTestDatabase }] : []),
];

describe.skipIf(!runBrowserTests).each(stores)("the auditor's portal in Chromium on $store", ({ database }) => {
  let testDatabase: TestDatabase | undefined;
  let gateway: TestGateway;
  let receiver: WebhookReceiver;
  let browser: Browser | undefined;
  let launchError: unknown;
  const contexts: BrowserContext[] = [];
  const screenshots = process.env.SCREENSHOT_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'portal-screenshots-'));
  /** Sessions seeded before the tests: their ids by what they are. */
  const seeded: Record<'devPass' | 'devFail' | 'bobPass' | 'devOpen', string> = { devPass: '', devFail: '', bobPass: '', devOpen: '' };
  let admin: string;
  let bob: string;

  /** Starts a session as `token`'s user, plays `outcome` and waits for the decision, all over the API. */
  async function decided(token: string, outcome: 'realface' | 'spoofface', enableSessionImage = false): Promise<string> {
    const started = await gateway.ok(StartLivenessSessionDocument, { input: { enableSessionImage } }, token);
    const { session, authToken } = started.startLivenessSession;
    expect((await gateway.device('LIVENESS', authToken, { livenessDecision: outcome })).status).toBe(200);
    await gateway.ok(CompleteLivenessSessionDocument, { id: session.id }, token);
    await eventually(async () => (await gateway.ok(SessionDocument, { id: session.id }, token)).session?.decision ?? undefined);
    return session.id;
  }

  beforeAll(async () => {
    browser = await launchChromium().catch((error: unknown) => {
      launchError = error;
      return undefined;
    });
    receiver = await WebhookReceiver.start();
    testDatabase = await database();
    gateway = await TestGateway.start({
      devSecret: true,
      env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}), WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_DISPATCH_INTERVAL_MS: '20' },
    });
    admin = gateway.token({ sub: 'root', roles: ['admin'], tenant: 'default' });
    bob = gateway.token({ sub: 'bob', roles: ['user'], tenant: 'default' });
    await gateway.ok(CreateWebhookEndpointDocument, { input: { url: receiver.url, eventTypes: ['SESSION_DECIDED'] } }, admin);
    const dev = gateway.devToken!;
    seeded.devPass = await decided(dev, 'realface', true);
    // Its session image is stored just after the decision (EVIDENCE_STORED): in the chain before any test reads it.
    await eventually(async () => ((await gateway.ok(SessionEvidenceDocument, { id: seeded.devPass }, dev)).session?.evidence?.images.length ? true : undefined));
    seeded.devFail = await decided(dev, 'spoofface');
    seeded.bobPass = await decided(bob, 'realface');
    seeded.devOpen = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, dev)).startLivenessSession.session.id;
    await receiver.waitFor(3);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await gateway?.stop();
    await receiver?.close();
    await testDatabase?.drop();
  });

  interface OpenPortal {
    page: Page;
    framesReceived: string[];
    problems: string[];
  }

  /** Opens the portal; with the dev token pre-filled it signs in and reads the history at once. */
  async function openPortal(token?: string): Promise<OpenPortal> {
    if (!browser) throw launchError;
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    contexts.push(context);
    const page = await context.newPage();
    const framesReceived: string[] = [];
    const problems: string[] = [];
    page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => framesReceived.push(String(payload))));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${gateway.url}/demo/portal.html`);
    await page.locator('body[data-ready="true"]').waitFor();
    if (token) {
      await page.fill('#token', token);
      await page.click('#sign-in-button');
    }
    await page.locator('#history-summary', { hasText: /match/ }).waitFor();
    return { page, framesReceived, problems };
  }

  const sequences = (page: Page, table: string) => page.$$eval(`${table} tbody tr`, (rows) => rows.map((row) => Number(row.getAttribute('data-sequence'))));
  const column = (page: Page, table: string, index: number) => page.$$eval(`${table} tbody tr`, (rows, at) => rows.map((row) => row.children[at].textContent ?? ''), index);

  async function apiHistory(filter: Record<string, unknown> = {}, first = 10, after?: string) {
    return (await gateway.ok(AuditHistoryDocument, { filter: { tenant: 'default', ...filter }, first, ...(after ? { after } : {}) }, gateway.devToken!)).auditHistory;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const file = path.join(screenshots, name);
    await page.screenshot({ path: file, fullPage: true });
    expect(fs.readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  }

  it('the history opens on the newest events of the tenant, ten a page, and pages forward and back', async () => {
    const { page, problems } = await openPortal();
    expect(await page.textContent('#viewer')).toBe('dev-user · tenant default · user, auditor');
    const first = await apiHistory();
    expect(first.totalCount).toBeGreaterThan(10);
    expect(await page.textContent('#history-summary')).toBe(`${first.totalCount} events match, newest first.`);
    expect(await sequences(page, '#history-table')).toEqual(first.edges.map((edge) => edge.node.sequence));
    expect(await page.isDisabled('#previous-page')).toBe(true);

    await page.click('#next-page');
    await page.locator('#page-number', { hasText: 'page 2' }).waitFor();
    const second = await apiHistory({}, 10, first.pageInfo.endCursor!);
    expect(await sequences(page, '#history-table')).toEqual(second.edges.map((edge) => edge.node.sequence));
    await page.click('#previous-page');
    await page.locator('#page-number', { hasText: 'page 1' }).waitFor();
    expect(await sequences(page, '#history-table')).toEqual(first.edges.map((edge) => edge.node.sequence));
    expect(await page.isHidden('#webhooks')).toBe(true);
    expect(problems).toEqual([]);
  });

  it('filters narrow the history: by user, by action, by session, and by time', async () => {
    const { page, problems } = await openPortal();
    const applied = async (expected: string) => {
      await page.click('#apply-filters');
      await page.locator('#history-summary', { hasText: expected }).waitFor();
    };
    await page.fill('#filter-user', 'bob');
    await applied('4 events match');
    expect(new Set(await column(page, '#history-table', 4))).toEqual(new Set([seeded.bobPass]));

    await page.fill('#filter-user', '');
    await page.selectOption('#filter-actions', ['DECISION_REACHED']);
    await applied('3 events match');
    expect(await column(page, '#history-table', 2)).toEqual(['DECISION_REACHED', 'DECISION_REACHED', 'DECISION_REACHED']);
    expect(await column(page, '#history-table', 5)).toEqual(['PASS', 'FAIL', 'PASS']);
    await screenshot(page, 'portal-history.png');

    await page.selectOption('#filter-actions', []);
    await page.fill('#filter-session', seeded.devFail);
    await applied('4 events match');
    expect(await column(page, '#history-table', 2)).toEqual(['DECISION_REACHED', 'ATTEMPT_RECORDED', 'COMPLETION_REPORTED', 'SESSION_STARTED']);

    await page.fill('#filter-session', '');
    await page.fill('#filter-to', '2001-01-01T00:00:00');
    await applied('No events match.');
    expect(await page.isHidden('#history-table')).toBe(true);
    await page.fill('#filter-to', '');
    await page.fill('#filter-from', '2001-01-01T00:00:00');
    await applied(`${(await apiHistory()).totalCount} events match`);
    expect(problems).toEqual([]);
  });

  it('the live feed appends each new event as it happens, in chain order, over graphql-ws', async () => {
    const { page, framesReceived, problems } = await openPortal();
    const newest = (await apiHistory({}, 1)).edges[0].node.sequence;
    await page.click('#follow');
    await page.locator('#live-state', { hasText: `Following after #${newest}` }).waitFor();
    expect(await page.getAttribute('#follow', 'aria-pressed')).toBe('true');

    const sessionId = await decided(bob, 'spoofface');
    await page.locator('#live-table tbody tr[data-action="DECISION_REACHED"]').waitFor();
    expect(await column(page, '#live-table', 4)).toEqual([sessionId, sessionId, sessionId, sessionId]);
    expect(await column(page, '#live-table', 2)).toEqual(['SESSION_STARTED', 'COMPLETION_REPORTED', 'ATTEMPT_RECORDED', 'DECISION_REACHED']);
    expect(await sequences(page, '#live-table')).toEqual([newest + 1, newest + 2, newest + 3, newest + 4]);
    const pushed = framesReceived.flatMap((text) => {
      const frame = JSON.parse(text) as { type: string; payload?: { data?: { auditEvents?: { sequence: number } } } };
      return frame.type === 'next' && frame.payload?.data?.auditEvents ? [frame.payload.data.auditEvents.sequence] : [];
    });
    expect(pushed).toEqual([newest + 1, newest + 2, newest + 3, newest + 4]);

    // A session's id in the feed opens its detail.
    await page.click(`#live-table button[data-session="${sessionId}"] >> nth=0`);
    await page.locator('#detail-verdict', { hasText: 'FAIL' }).waitFor();
    await screenshot(page, 'portal-live.png');
    await page.click('#follow');
    expect(await page.textContent('#live-state')).toBe('Not following.');
    expect(problems).toEqual([]);
  });

  it('the live feed resumes after its socket drops, with afterSequence: no event missed, none twice', async () => {
    const { page } = await openPortal();
    // Every graphql-ws socket of the page goes through this proxy, so the test can cut it.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/graphql$/, (route) => {
      sockets.push(route);
      route.connectToServer();
    });
    const newest = (await apiHistory({}, 1)).edges[0].node.sequence;
    await page.click('#follow');
    const first = await decided(bob, 'realface');
    await page.locator(`#live-table tbody tr[data-sequence="${newest + 4}"]`).waitFor();
    expect(sockets).toHaveLength(1);

    await sockets[0].close({ code: 1011, reason: 'cut by the test' });
    await page.locator('#live-state', { hasText: 'dropped' }).waitFor();
    // Decided while the page has no socket: the resumed subscription replays it.
    const second = await decided(bob, 'spoofface');
    await page.locator('#live-state', { hasText: `Resumed after #${newest + 4}` }).waitFor();
    await page.locator(`#live-table tbody tr[data-sequence="${newest + 8}"]`).waitFor();
    expect(sockets).toHaveLength(2);
    // And what happens after the resume arrives live on the new socket.
    const third = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, bob)).startLivenessSession.session.id;
    await page.locator(`#live-table tbody tr[data-sequence="${newest + 9}"]`).waitFor();

    expect(await sequences(page, '#live-table')).toEqual(Array.from({ length: 9 }, (_, index) => newest + 1 + index));
    expect(await column(page, '#live-table', 4)).toEqual([...Array(4).fill(first), ...Array(4).fill(second), third]);
    await page.click('#follow');
  });

  it("a session's detail, opened from the history, shows its attempts, decision and evidence", async () => {
    const { page, problems } = await openPortal();
    await page.fill('#filter-session', seeded.devPass);
    await page.click('#apply-filters');
    await page.locator('#history-summary', { hasText: 'events match' }).waitFor();
    await page.click(`#history-table button[data-session="${seeded.devPass}"] >> nth=0`);
    await page.locator('#detail:not([hidden])').waitFor();
    expect(await page.textContent('#detail-id')).toBe(seeded.devPass);
    expect(await page.textContent('#detail-user')).toBe('dev-user · tenant default');
    expect(await page.textContent('#detail-status')).toBe('SUCCEEDED');
    expect(await page.textContent('#detail-verdict')).toBe('PASS');
    expect(await page.locator('#detail-attempts li').allTextContents()).toEqual(['attempt 1: succeeded, REAL_FACE']);
    await page.locator('#evidence-images img[data-attempt="1"]').waitFor();
    await page.waitForFunction("document.querySelector('#evidence-images img')?.complete === true");
    expect(await page.textContent('#evidence-summary')).toMatch(/^Session image of attempt 1 kept encrypted/);

    await page.click(`#history-table button[data-session="${seeded.devPass}"] >> nth=0`);
    await page.locator('#evidence-summary', { hasText: 'kept encrypted' }).waitFor();
    await page.fill('#filter-session', seeded.devOpen);
    await page.click('#apply-filters');
    await page.locator('#history-summary', { hasText: '1 event matches' }).waitFor();
    await page.click(`#history-table button[data-session="${seeded.devOpen}"]`);
    await page.locator('#detail-verdict', { hasText: 'not decided' }).waitFor();
    expect(await page.textContent('#detail-status')).toBe('NOT_STARTED');
    expect(problems).toEqual([]);
  });

  it("the export downloads the tenant's chain as NDJSON, the very lines GET /audit/export serves", async () => {
    const { page, problems } = await openPortal();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    expect(download.suggestedFilename()).toMatch(/^audit-default-.+\.ndjson$/);
    const downloaded = fs.readFileSync((await download.path())!, 'utf8');
    const direct = await (await fetch(`${gateway.url}/audit/export?tenant=default`, { headers: { authorization: `Bearer ${gateway.devToken}` } })).text();
    const events = (text: string) => text.split('\n').filter((line) => line && !('kind' in (JSON.parse(line) as object)));
    expect(events(downloaded)).toEqual(events(direct));
    expect(events(downloaded).length).toBe((await apiHistory()).totalCount);
    await page.locator('#export-result', { hasText: 'Downloaded' }).waitFor();
    expect(problems).toEqual([]);
  });

  it('an admin reads the webhook endpoints and their delivery log, and redelivers one', async () => {
    // Three seeded decisions and the live feeds' three, each delivered and logged as such.
    await receiver.waitFor(6);
    const [endpoint] = (await gateway.ok(WebhookEndpointsDocument, {}, admin)).webhookEndpoints;
    await eventually(async () => {
      const log = (await gateway.ok(WebhookDeliveriesDocument, { id: endpoint.id, first: 20 }, admin)).webhookEndpoint!.deliveries;
      return log.totalCount === 6 && log.edges.every((edge) => edge.node.status === 'DELIVERED') ? true : undefined;
    });
    const { page, problems } = await openPortal(admin);
    await page.locator('#endpoints-table:not([hidden])').waitFor();
    expect(await column(page, '#endpoints-table', 0)).toEqual([receiver.url]);
    expect(await column(page, '#endpoints-table', 2)).toEqual(['SESSION_DECIDED']);
    expect(await column(page, '#endpoints-table', 3)).toEqual(['enabled']);
    await page.click('#endpoints-table button');
    await page.locator('#deliveries-table:not([hidden])').waitFor();
    const delivered = receiver.received.length;
    expect(await page.textContent('#deliveries-title')).toBe(`Delivery log of ${receiver.url}: ${delivered} deliveries, newest first`);
    expect(await column(page, '#deliveries-table', 0)).toEqual(Array(delivered).fill('SESSION_DECIDED'));
    expect(await column(page, '#deliveries-table', 2)).toEqual(Array(delivered).fill('DELIVERED'));
    expect(await column(page, '#deliveries-table', 4)).toEqual(Array(delivered).fill('204'));
    expect((await column(page, '#deliveries-table', 5)).every((latency) => /^\d+ ms$/.test(latency))).toBe(true);
    expect(new Set(await column(page, '#deliveries-table', 1))).toEqual(new Set(receiver.received.map((hook) => (JSON.parse(hook.body) as { data: { sessionId: string } }).data.sessionId)));
    await screenshot(page, 'portal-webhooks.png');

    const [firstId] = await page.$$eval('#deliveries-table tbody tr', (rows) => rows.map((row) => row.getAttribute('data-delivery')));
    await page.click(`#deliveries-table tr[data-delivery="${firstId}"] button:text("Redeliver")`);
    const again = await receiver.waitFor(delivered + 1);
    expect(again.at(-1)!.id).toBe(firstId);
    expect(problems).toEqual([]);
  });

  it('a token without the auditor or admin role is told the portal is not for it', async () => {
    if (!browser) throw launchError;
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gateway.url}/demo/portal.html`);
    await page.locator('body[data-ready="true"]').waitFor();
    await page.fill('#token', bob);
    await page.click('#sign-in-button');
    await page.locator('#error:not([hidden])').waitFor();
    expect(await page.textContent('#error')).toBe('The portal is for auditors and admins: this token has neither role.');
    expect(await page.isDisabled('#check-chain')).toBe(true);
    expect(await page.isDisabled('#follow')).toBe(true);
  });

  it('the chain check shows the chain holding, then, after an edit of the stored chain, where it breaks', async () => {
    const { page, problems } = await openPortal();
    await page.click('#check-chain');
    await page.locator('#chain-result[data-valid="true"]').waitFor();
    const { checked } = (await gateway.ok(VerifyAuditChainDocument, {}, gateway.devToken!)).verifyAuditChain;
    expect(await page.textContent('#chain-result')).toBe(`The chain of default holds: ${checked} events checked.`);
    expect(problems).toEqual([]);

    await gateway.stopGateway();
    const edit = "UPDATE audit_events SET actor = 'mallory' WHERE tenant = 'default' AND sequence = 5";
    if (testDatabase) {
      const client = new pg.Client({ connectionString: testDatabase.url });
      await client.connect();
      try {
        expect((await client.query(edit)).rowCount).toBe(1);
      } finally {
        await client.end();
      }
    } else {
      const db = new Database(path.join(gateway.dataDir, 'gateway.sqlite'));
      try {
        expect(db.prepare(edit).run().changes).toBe(1);
      } finally {
        db.close();
      }
    }
    await gateway.startAgain();
    const reopened = await openPortal();
    await reopened.page.click('#check-chain');
    await reopened.page.locator('#chain-result[data-valid="false"]').waitFor();
    expect(await reopened.page.textContent('#chain-result')).toBe(`The chain of default is broken at #5 (4 events checked).`);
  });
});

describe('serving the portal', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ devSecret: true });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('portal.html and its modules are served with the self-only policy, the page with the dev token and never cached', async () => {
    const page = await fetch(`${gateway.url}/demo/portal.html`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(WEB_CLIENT_CSP);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain(`<input id="token" type="text" value="${gateway.devToken}"`);
    expect(html).toContain('<script type="module" src="/demo/portal/main.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| on\w+="/);
    for (const asset of ['/demo/portal/main.js', '/demo/portal/history.js', '/demo/portal/live-feed.js', '/demo/portal/webhooks.js', '/demo/portal.css']) {
      const response = await fetch(`${gateway.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-security-policy'), asset).toBe(WEB_CLIENT_CSP);
      expect(response.headers.get('cache-control'), asset).toBe('no-cache');
    }
    for (const missing of ['/demo/portal/main.ts', '/demo/portal', '/demo/portal/']) {
      expect((await fetch(`${gateway.url}${missing}`)).status, missing).toBe(404);
    }
  });
});
