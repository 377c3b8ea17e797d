/**
 * A real browser for the web client's tests: Debian's Chromium (`apt-get install chromium`) driven by
 * playwright-core, headless. CI installs it (.ci/run) and sets CI, so there a missing Chromium fails
 * the suite with the reason; on a laptop without it the browser tests are skipped and say why.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const chromiumInstalled = fs.existsSync(CHROMIUM_PATH);
const inCI = Boolean(process.env.CI?.trim()) && process.env.CI !== 'false';

export const CHROMIUM_SKIP_REASON = `${CHROMIUM_PATH} is missing: browser tests skipped (CI installs it in .ci/run; on Debian: apt-get install chromium)`;

/** Run the browser tests: always in CI (where a missing Chromium must fail), elsewhere when it is installed. */
export const runBrowserTests = chromiumInstalled || inCI;

if (!runBrowserTests) console.warn(`\n[skip] ${CHROMIUM_SKIP_REASON}\n`);

export async function launchChromium(): Promise<Browser> {
  if (!chromiumInstalled) {
    throw new Error(`Chromium is missing at ${CHROMIUM_PATH}, and CI is set: .ci/run installs it (apt-get install chromium) before npm test`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
