/**
 * The development token is a valid token handed to whoever opens a page: it may exist only when the
 * gateway generated the secret itself. With an operator's own JWT_SECRET (outside production), no
 * token is minted: none in the Sandbox page, none in /demo, none in the banner of a real process.
 * (With the generated secret it is there: sandbox.test.ts, web-client.test.ts, readme.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { TestGateway } from '../helpers/gateway';

/** Anything that looks like a JWT (a base64url JSON header, as every JWT begins). */
const JWT_LIKE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;

describe("with an operator's JWT_SECRET outside production", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start();
  });
  afterAll(() => gateway?.stop());

  it('the Sandbox page carries no token and no Authorization header', async () => {
    const page = await fetch(gateway.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('embeddable-sandbox');
    expect(text).not.toMatch(JWT_LIKE);
    const config = JSON.parse(/var embeddedSandboxConfig = (\{.*\});\n/.exec(text)![1]) as { initialState: { headers?: unknown } };
    expect(config.initialState.headers).toBeUndefined();
    expect(gateway.devToken).toBeUndefined();
  });

  it('/demo opens with an empty token field', async () => {
    const page = await fetch(`${gateway.url}/demo`);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('<input id="token" type="text" value=""');
    expect(text).not.toMatch(JWT_LIKE);
  });
});

describe("a real process with an operator's JWT_SECRET outside production", () => {
  let child: ChildGateway | undefined;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-gateway-dev-token-'));
  afterAll(async () => {
    await child?.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints no dev token in its banner or its logs, and serves none', async () => {
    child = await startChildGateway({ DATA_DIR: dataDir, JWT_SECRET: randomBytes(32).toString('hex') });
    const sandbox = await (await fetch(`${child.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    const demo = await (await fetch(`${child.url}/demo`)).text();
    expect(sandbox).toContain('embeddable-sandbox');
    expect(sandbox).not.toMatch(JWT_LIKE);
    expect(demo).not.toMatch(JWT_LIKE);
    expect(child.output()).toContain('Liveness gateway on');
    expect(child.output()).not.toContain('Dev token');
    expect(child.output()).not.toMatch(JWT_LIKE);
  });
});
