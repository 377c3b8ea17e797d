/**
 * The reference web client at /demo, in a real browser: Debian's Chromium, driven by playwright-core,
 * opens the page the gateway serves and runs one whole flow per verdict as a person would (start a
 * session, press the device's buttons, report completion), then reads what the page shows: the
 * decision pushed over graphql-ws (the WebSocket frame itself is checked) and the session's audit
 * trail. The web assets are the ones `npm run build` puts in dist/web (the global setup builds them).
 */
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_CLIENT_CSP } from '../../src/transport/web-client';
import { launchChromium, runBrowserTests } from '../helpers/browser';
import { TestGateway } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { SessionAuditTrailDocument } from '../../client/generated/graphql';

type Outcome = 'realface' | 'spoofface' | 'uncertain' | 'different-person' | 'failed';

interface OpenPage {
  page: Page;
  /** Text of every WebSocket frame the page received. */
  framesReceived: string[];
  /** Console errors and uncaught exceptions (a CSP violation shows up here). */
  problems: string[];
}

interface FlowResult {
  sessionId: string;
  verdict: string;
  subscription: string;
  attempts: string[];
  trail: { action: string; verdict: string }[];
  decisionFrames: { sessionId: string; verdict: string }[];
}

describe.skipIf(!runBrowserTests)('the web client in Chromium', () => {
  let gateway: TestGateway;
  let browser: Browser | undefined;
  /** Why Chromium did not start (CI without it): every test then fails with this reason. */
  let launchError: unknown;
  const contexts: BrowserContext[] = [];
  /** Every device token a page showed, to look for in the logs at the end. */
  const deviceTokens: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium().catch((error: unknown) => {
      launchError = error;
      return undefined;
    });
    // The slow poll that serves subscribers of sessions never reported complete stays out of the way,
    // so each decision follows the page's "Report completion", as in the app.
    gateway = await TestGateway.start({ env: { POLL_MAX_INTERVAL_MS: '60000' }, devSecret: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await gateway?.stop();
  });

  function requireBrowser(): Browser {
    if (!browser) throw launchError;
    return browser;
  }

  async function openPage(): Promise<OpenPage> {
    const context = await requireBrowser().newContext();
    contexts.push(context);
    const page = await context.newPage();
    const framesReceived: string[] = [];
    const problems: string[] = [];
    page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => framesReceived.push(String(payload))));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${gateway.url}/demo`);
    await page.locator('body[data-ready="true"]').waitFor();
    return { page, framesReceived, problems };
  }

  /** Starts a session in the page, plays the device's outcomes, reports completion and waits for the decision. */
  async function runFlow({ page, framesReceived }: OpenPage, kind: 'LIVENESS' | 'LIVENESS_WITH_VERIFY', outcomes: Outcome[]): Promise<FlowResult> {
    if (kind === 'LIVENESS_WITH_VERIFY') {
      await page.check('input[name="kind"][value="LIVENESS_WITH_VERIFY"]');
      await page.setInputFiles('#reference-image', { name: 'reference.png', mimeType: 'image/png', buffer: Buffer.from(PNG_1X1, 'base64') });
    }
    await page.click('#start-session');
    await page.locator('#session:not([hidden])').waitFor();
    const sessionId = (await page.textContent('#session-id')) ?? '';
    deviceTokens.push((await page.textContent('#device-token')) ?? '');

    for (const [index, outcome] of outcomes.entries()) {
      await page.click(`button[data-outcome="${outcome}"]`);
      await page.locator(`#attempts li:nth-child(${index + 1})`).waitFor();
    }
    await page.click('#complete');
    await page.locator('#verdict:not([data-verdict=""])').waitFor();
    await page.locator('#audit-trail:not([hidden])').waitFor();

    const decisionFrames = framesReceived
      .map((text) => JSON.parse(text) as { type: string; payload?: { data?: { sessionDecision?: { sessionId: string; verdict: string } } } })
      .flatMap((frame) => (frame.type === 'next' && frame.payload?.data?.sessionDecision ? [frame.payload.data.sessionDecision] : []))
      .map(({ sessionId: id, verdict }) => ({ sessionId: id, verdict }));
    return {
      sessionId,
      verdict: (await page.textContent('#verdict')) ?? '',
      subscription: (await page.textContent('#subscription')) ?? '',
      attempts: await page.locator('#attempts li').allTextContents(),
      trail: await page.$$eval('#audit-trail tbody tr', (rows) =>
        rows.map((row) => ({ action: row.children[1].textContent ?? '', verdict: row.children[4].textContent ?? '' })),
      ),
      decisionFrames,
    };
  }

  /** What every flow's audit trail reads, in order, with `attempts` attempts recorded. */
  function expectedTrail(attempts: number, verdict: string) {
    return [
      { action: 'SESSION_STARTED', verdict: '' },
      { action: 'COMPLETION_REPORTED', verdict: '' },
      ...Array.from({ length: attempts }, () => ({ action: 'ATTEMPT_RECORDED', verdict: '' })),
      { action: 'DECISION_REACHED', verdict },
    ];
  }

  it('the page opens with the dev token pre-filled, and signs in with it', async () => {
    const opened = await openPage();
    expect(await opened.page.inputValue('#token')).toBe(gateway.devToken);
    await opened.page.click('#check-token');
    await opened.page.locator('#viewer:not(:empty)').waitFor();
    expect(await opened.page.textContent('#viewer')).toBe('dev-user · tenant default · user, auditor');
    expect(opened.problems).toEqual([]);
  });

  it('a real face: PASS arrives live over graphql-ws and the audit trail is listed', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS', ['realface']);
    expect(flow.verdict).toBe('PASS');
    expect(flow.subscription).toBe('Decision received over graphql-ws.');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'PASS' }]);
    expect(await opened.page.textContent('#decision-liveness')).toBe('REAL_FACE');
    expect(flow.attempts).toEqual(['attempt 1: succeeded, REAL_FACE']);
    expect(flow.trail).toEqual(expectedTrail(1, 'PASS'));
    expect(opened.problems).toEqual([]);
  });

  it('a spoof: FAIL arrives live over graphql-ws', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS', ['spoofface']);
    expect(flow.verdict).toBe('FAIL');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'FAIL' }]);
    expect(await opened.page.textContent('#decision-liveness')).toBe('SPOOF_FACE');
    expect(flow.trail).toEqual(expectedTrail(1, 'FAIL'));
    expect(opened.problems).toEqual([]);
  });

  it('an uncertain result: INCONCLUSIVE arrives live over graphql-ws', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS', ['uncertain']);
    expect(flow.verdict).toBe('INCONCLUSIVE');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'INCONCLUSIVE' }]);
    expect(await opened.page.textContent('#decision-liveness')).toBe('UNCERTAIN');
    expect(flow.trail).toEqual(expectedTrail(1, 'INCONCLUSIVE'));
    expect(opened.problems).toEqual([]);
  });

  it('a different person on a verify session, with the reference image from the file picker: FAIL', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS_WITH_VERIFY', ['different-person']);
    expect(await opened.page.textContent('#session-kind')).toBe('liveness with verify');
    expect(flow.verdict).toBe('FAIL');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'FAIL' }]);
    expect(await opened.page.textContent('#decision-liveness')).toBe('REAL_FACE');
    expect(await opened.page.textContent('#decision-verify')).toBe('different person (confidence 0.08)');
    expect(flow.attempts).toEqual(['attempt 1: succeeded, REAL_FACE, different person']);
    expect(flow.trail).toEqual(expectedTrail(1, 'FAIL'));
    expect(opened.problems).toEqual([]);
  });

  it('a real face on a verify session, the same person as the reference image: PASS', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS_WITH_VERIFY', ['realface']);
    expect(flow.verdict).toBe('PASS');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'PASS' }]);
    expect(await opened.page.textContent('#decision-verify')).toBe('same person (confidence 0.93)');
    expect(flow.attempts).toEqual(['attempt 1: succeeded, REAL_FACE, same person']);
    expect(flow.trail).toEqual(expectedTrail(1, 'PASS'));
    expect(opened.problems).toEqual([]);
  });

  it('a session deleted before the device played: EXPIRED arrives live over graphql-ws, and the device token stops working', async () => {
    const opened = await openPage();
    const { page, framesReceived } = opened;
    await page.click('#start-session');
    await page.locator('#session:not([hidden])').waitFor();
    const sessionId = (await page.textContent('#session-id')) ?? '';
    deviceTokens.push((await page.textContent('#device-token')) ?? '');
    await page.locator('#subscription', { hasText: 'waiting for the decision' }).waitFor();
    await page.click('#delete-session');
    await page.locator('#verdict:not([data-verdict=""])').waitFor();
    await page.locator('#audit-trail:not([hidden])').waitFor();
    expect(await page.textContent('#verdict')).toBe('EXPIRED');
    expect(await page.textContent('#decision-status')).toBe('DELETED');
    expect(await page.textContent('#completion')).toBe('Session deleted: Face no longer accepts its device token.');
    const decisions = framesReceived.flatMap((text) => {
      const frame = JSON.parse(text) as { type: string; payload?: { data?: { sessionDecision?: { sessionId: string; verdict: string } } } };
      const decision = frame.type === 'next' ? frame.payload?.data?.sessionDecision : undefined;
      return decision ? [{ sessionId: decision.sessionId, verdict: decision.verdict }] : [];
    });
    expect(decisions).toEqual([{ sessionId, verdict: 'EXPIRED' }]);
    const trail = await page.$$eval('#audit-trail tbody tr', (rows) => rows.map((row) => row.children[1].textContent ?? ''));
    expect(trail).toEqual(['SESSION_STARTED', 'SESSION_DELETED', 'DECISION_REACHED']);
    expect(opened.problems).toEqual([]);
    // Decided: the page offers the device no more, and Face itself refuses the token the page showed.
    expect(await page.isDisabled('button[data-outcome="realface"]')).toBe(true);
    const refused = await gateway.device('LIVENESS', deviceTokens.at(-1)!, { livenessDecision: 'realface' });
    expect([401, 404]).toContain(refused.status);
  });

  it('with a session image: after the decision the auditor sees the image, through a one-time link, and an evidence summary', async () => {
    const opened = await openPage();
    await opened.page.check('#session-image');
    const flow = await runFlow(opened, 'LIVENESS', ['realface']);
    expect(flow.verdict).toBe('PASS');
    const image = opened.page.locator('#evidence-images img[data-attempt="1"]');
    await image.waitFor();
    // The browser decoded it: the emulator's 64x80 JPEG, served by the gateway from the sealed copy.
    await opened.page.waitForFunction("document.querySelector('#evidence-images img')?.complete === true");
    expect(await image.evaluate((img) => [Reflect.get(img, 'naturalWidth'), Reflect.get(img, 'naturalHeight')])).toEqual([64, 80]);
    expect(await image.getAttribute('src')).toMatch(/^\/evidence\/[A-Za-z0-9_-]{43}$/);
    expect(await opened.page.textContent('#evidence-summary')).toMatch(/^Session image of attempt 1 kept encrypted \(image\/jpeg, \d+ bytes\) until .+\. Still at Face\.$/);
    // Seen once, by the page; the link is spent, and the view is in the trail with the viewer as actor.
    expect((await fetch(`${gateway.url}${await image.getAttribute('src')}`)).status).toBe(404);
    const trail = (await gateway.ok(SessionAuditTrailDocument, { id: flow.sessionId, first: 50 }, gateway.devToken!)).session!.auditTrail.edges.map((edge) => [edge.node.action, edge.node.actor]);
    expect(trail).toContainEqual(['EVIDENCE_VIEWED', 'dev-user']);
    expect(trail).toContainEqual(['EVIDENCE_STORED', 'system']);
    expect(opened.problems).toEqual([]);
  });

  it('without a session image the evidence card says none was enabled', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS', ['spoofface']);
    expect(flow.verdict).toBe('FAIL');
    await opened.page.locator('#evidence-summary', { hasText: 'not enabled' }).waitFor();
    expect(await opened.page.textContent('#evidence-summary')).toBe('Session images were not enabled for this session. Still at Face.');
    expect(await opened.page.locator('#evidence-images img').count()).toBe(0);
  });

  it('three failed attempts: INCONCLUSIVE arrives live over graphql-ws, every attempt listed', async () => {
    const opened = await openPage();
    const flow = await runFlow(opened, 'LIVENESS', ['failed', 'failed', 'failed']);
    expect(flow.verdict).toBe('INCONCLUSIVE');
    expect(flow.decisionFrames).toEqual([{ sessionId: flow.sessionId, verdict: 'INCONCLUSIVE' }]);
    expect(flow.attempts).toEqual([1, 2, 3].map((n) => `attempt ${n}: failed, FaceWithMaskDetected`));
    expect(flow.trail).toEqual(expectedTrail(3, 'INCONCLUSIVE'));
    expect(opened.problems).toEqual([]);
  });

  it('the different-person button stays off for a plain liveness session, and a bad token is shown as UNAUTHENTICATED', async () => {
    const opened = await openPage();
    await opened.page.click('#start-session');
    await opened.page.locator('#session:not([hidden])').waitFor();
    expect(await opened.page.isDisabled('button[data-outcome="different-person"]')).toBe(true);
    expect(await opened.page.isEnabled('button[data-outcome="realface"]')).toBe(true);

    await opened.page.fill('#token', 'not-a-jwt');
    await opened.page.click('#check-token');
    await opened.page.locator('#error:not([hidden])').waitFor();
    expect(await opened.page.textContent('#error')).toBe('UNAUTHENTICATED: A valid bearer token is required.');
  });

  it("no JWT and no device token the pages used appears in the gateway's logs", () => {
    requireBrowser();
    expect(deviceTokens.length).toBeGreaterThanOrEqual(7);
    const logs = gateway.logs.join('\n');
    for (const token of [gateway.devToken!, ...deviceTokens]) {
      expect(token.length).toBeGreaterThan(10);
      expect(logs).not.toContain(token);
    }
  });
});

describe('serving /demo', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('the page and its modules are served with a self-only Content-Security-Policy', async () => {
    const page = await fetch(`${gateway.url}/demo`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(WEB_CLIENT_CSP);
    expect(WEB_CLIENT_CSP).toContain("default-src 'none'");
    expect(WEB_CLIENT_CSP).toContain("script-src 'self'");
    expect(WEB_CLIENT_CSP).toContain("connect-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/demo/app.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| on\w+="/);

    for (const asset of ['/demo/app.js', '/demo/operations.js', '/demo/gateway-client.js', '/demo/vendor/graphql-ws.js']) {
      const response = await fetch(`${gateway.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-type'), asset).toBe('text/javascript; charset=utf-8');
      expect(response.headers.get('content-security-policy'), asset).toBe(WEB_CLIENT_CSP);
    }
  });

  it('only the built files answer: sources, other paths and other methods do not', async () => {
    for (const asset of ['/demo/app.ts', '/demo/missing.js', '/demo/%2e%2e/package.json', '/demo/..%2fpackage.json', '/demo/.tsbuildinfo']) {
      expect((await fetch(`${gateway.url}${asset}`)).status, asset).toBe(404);
    }
    expect((await fetch(`${gateway.url}/demo/app.js`, { method: 'POST' })).status).toBe(405);
  });

  it('the operations module holds every typed document of the client, printed', async () => {
    const text = await (await fetch(`${gateway.url}/demo/operations.js`)).text();
    for (const name of ['Viewer', 'StartLivenessSession', 'StartLivenessWithVerifySession', 'CompleteLivenessSession', 'DeleteLivenessSession', 'Session', 'Sessions', 'SessionDecision', 'AuditHistory', 'SessionAuditTrail', 'VerifyAuditChain', 'SessionEvidence', 'CreateEvidenceImageLink']) {
      expect(text, name).toContain(`"${name}": "`);
    }
  });

  it('/demo is not served in production, unless ENABLE_WEB_CLIENT=true, and then without a dev token', async () => {
    const production = { NODE_ENV: 'production', FACE_EMULATOR: 'true', FACE_EMULATOR_KEY: randomBytes(16).toString('hex'), IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64') };
    const off = await TestGateway.start({ env: production });
    try {
      expect((await fetch(`${off.url}/demo`)).status).toBe(404);
      expect((await fetch(`${off.url}/demo/app.js`)).status).toBe(404);
    } finally {
      await off.stop();
    }
    const on = await TestGateway.start({ env: { ...production, ENABLE_WEB_CLIENT: 'true' } });
    try {
      const page = await fetch(`${on.url}/demo`);
      expect(page.status).toBe(200);
      expect(on.devToken).toBeUndefined();
      expect(await page.text()).toContain('<input id="token" type="text" value=""');
    } finally {
      await on.stop();
    }
  });
});
