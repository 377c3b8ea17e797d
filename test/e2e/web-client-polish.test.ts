/**
 * The reference web client's manners, in Chromium: nothing empty shows before a session, the controls
 * that can no longer act are off once the decision is in, "New session" starts afresh, and the flow
 * runs from the keyboard alone with a name for every control and the verdict in a live region.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, runBrowserTests } from '../helpers/browser';
import { TestGateway } from '../helpers/gateway';

describe.skipIf(!runBrowserTests)('the web client, polished, in Chromium', () => {
  let gateway: TestGateway;
  let browser: Browser | undefined;
  let launchError: unknown;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium().catch((error: unknown) => {
      launchError = error;
      return undefined;
    });
    gateway = await TestGateway.start({ env: { POLL_MAX_INTERVAL_MS: '60000' }, devSecret: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await gateway?.stop();
  });

  async function openPage(): Promise<{ page: Page; problems: string[] }> {
    if (!browser) throw launchError;
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${gateway.url}/demo`);
    await page.locator('body[data-ready="true"]').waitFor();
    return { page, problems };
  }

  /** Starts a liveness session, plays `outcome`, reports completion, and waits for the verdict. */
  async function decide(page: Page, outcome: string): Promise<string> {
    await page.click('#start-session');
    await page.locator('#session:not([hidden])').waitFor();
    await page.click(`button[data-outcome="${outcome}"]`);
    await page.locator('#attempts li').waitFor();
    await page.click('#complete');
    await page.locator('#verdict:not([data-verdict=""])').waitFor();
    return (await page.textContent('#verdict')) ?? '';
  }

  /** The focused element's id, or its device outcome (the page's scripts run in the browser, so as text here). */
  const activeId = (page: Page) => page.evaluate("document.activeElement?.id || document.activeElement?.dataset?.outcome || ''") as Promise<string>;

  it('before a session, the session and decision details are not displayed at all, so no empty labels show', async () => {
    const { page } = await openPage();
    for (const selector of ['#session', '#decision-details', '#audit-trail', '#reference']) {
      expect(await page.isHidden(selector), selector).toBe(true);
    }
    expect(await page.locator('dt:visible').count()).toBe(0);
  });

  it('after a decision the device, completion and delete buttons are off, the start form stays locked, and focus moves to New session', async () => {
    const { page, problems } = await openPage();
    expect(await page.isEnabled('#start-session')).toBe(true);
    expect(await page.isDisabled('#new-session')).toBe(true);
    expect(await decide(page, 'realface')).toBe('PASS');
    for (const selector of ['button[data-outcome="realface"]', 'button[data-outcome="spoofface"]', 'button[data-outcome="failed"]', '#complete', '#delete-session', '#start-session', 'input[name="kind"]']) {
      expect(await page.isDisabled(selector), selector).toBe(true);
    }
    expect(await page.isEnabled('#new-session')).toBe(true);
    expect(await activeId(page)).toBe('new-session');
    expect(problems).toEqual([]);
  });

  it('New session resets the flow, and the next session reaches its own verdict', async () => {
    const { page, problems } = await openPage();
    expect(await decide(page, 'spoofface')).toBe('FAIL');
    const first = await page.textContent('#session-id');
    await page.click('#new-session');
    await page.locator('#session[hidden]').waitFor({ state: 'attached' });
    expect(await page.textContent('#verdict')).toBe('—');
    expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('');
    expect(await page.locator('#attempts li').count()).toBe(0);
    expect(await page.isHidden('#decision-details')).toBe(true);
    expect(await page.isHidden('#audit-trail')).toBe(true);
    expect(await page.textContent('#subscription')).toBe('Not subscribed yet: start a session.');
    expect(await page.isEnabled('#start-session')).toBe(true);
    expect(await page.isDisabled('button[data-outcome="realface"]')).toBe(true);
    expect(await page.isDisabled('#new-session')).toBe(true);
    expect(await activeId(page)).toBe('start-session');

    expect(await decide(page, 'realface')).toBe('PASS');
    expect(await page.textContent('#session-id')).not.toBe(first);
    expect(await page.locator('#attempts li').allTextContents()).toEqual(['attempt 1: succeeded, REAL_FACE']);
    expect(problems).toEqual([]);
  });

  it('a whole flow runs from the keyboard, focus following it from start to the next session', async () => {
    const { page, problems } = await openPage();
    await page.focus('#token');
    /** Presses Tab until `id` has the focus: each control on the way is reachable without a mouse. */
    const tabTo = async (id: string) => {
      for (let presses = 0; presses < 12 && (await activeId(page)) !== id; presses += 1) await page.keyboard.press('Tab');
      expect(await activeId(page)).toBe(id);
    };
    await tabTo('start-session');
    await page.keyboard.press('Enter');
    await page.locator('#session:not([hidden])').waitFor();
    await page.waitForFunction("document.activeElement?.dataset?.outcome === 'realface'");
    await page.keyboard.press('Enter');
    await page.locator('#attempts li').waitFor();
    await tabTo('complete');
    await page.keyboard.press('Enter');
    await page.locator('#verdict[data-verdict="PASS"]').waitFor();
    await page.waitForFunction("document.activeElement?.id === 'new-session'");
    await page.keyboard.press('Enter');
    await page.waitForFunction("document.activeElement?.id === 'start-session'");
    expect(await page.isHidden('#session')).toBe(true);
    expect(problems).toEqual([]);
  });

  it('every control has an accessible name, errors are an alert, and the verdict is announced from a polite live region', async () => {
    const { page } = await openPage();
    const unnamed = await page.$$eval('input, button', (controls) =>
      controls
        .filter((control) => {
          const labels = Reflect.get(control, 'labels') as { length: number } | null;
          const named = (labels?.length ?? 0) > 0 || control.getAttribute('aria-label') || (control.tagName === 'BUTTON' && control.textContent?.trim());
          return !named;
        })
        .map((control) => control.outerHTML),
    );
    expect(unnamed).toEqual([]);
    await expect(page.getByRole('textbox', { name: /App-user JWT/ }).count()).resolves.toBe(1);
    expect(await page.getAttribute('#error', 'role')).toBe('alert');

    const verdict = page.getByRole('status', { name: 'Verdict' });
    expect(await verdict.getAttribute('aria-live')).toBe('polite');
    expect(await verdict.getAttribute('aria-atomic')).toBe('true');
    expect(await decide(page, 'uncertain')).toBe('INCONCLUSIVE');
    expect(await verdict.textContent()).toBe('INCONCLUSIVE');
  });
});
