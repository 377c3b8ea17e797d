/** The pino logger: JSON lines with our field names, a request's id through its child logger, redaction as a second line of defence, one access line per HTTP request. */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger';
import { withRequestIds } from '../../src/transport/request-id';

/** Resolves once `done()` holds; the access line is written when the response has closed. */
async function eventually(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function capture(level: Parameters<typeof createLogger>[0] = 'debug') {
  const lines: string[] = [];
  const logger = createLogger(level, (line) => lines.push(line));
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the logger', () => {
  it('writes one JSON object a line, with level, ISO time, child bindings, details and msg', () => {
    const { logger, lines, entries } = capture();
    logger.child({ component: 'sessions' }).info({ sessionId: 's-1' }, 'session started');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(entries()[0]).toMatchObject({ level: 'info', component: 'sessions', sessionId: 's-1', msg: 'session started' });
    expect(new Date(entries()[0].time as string).toISOString()).toBe(entries()[0].time);
  });

  it('writes one access line per HTTP request, health probes and scrapes at debug and the rest at info, without the query string', async () => {
    const { logger, entries } = capture('debug');
    const server = http.createServer(
      withRequestIds(logger, (req, res) => {
        res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
        res.end('ok');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await (await fetch(`${base}/graphql?query=secret`, { method: 'POST', headers: { 'x-request-id': 'access-1' }, body: '{}' })).text();
      await (await fetch(`${base}/healthz`)).text();
      await (await fetch(`${base}/missing`)).text();
      await eventually(() => entries().length >= 3);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const lines = entries();
    expect(lines.every((line) => line.component === 'http' && line.msg === 'http request')).toBe(true);
    expect(lines[0]).toMatchObject({ level: 'info', requestId: 'access-1', method: 'POST', path: '/graphql', status: 200, durationMillis: expect.any(Number) });
    expect(lines[1]).toMatchObject({ level: 'debug', method: 'GET', path: '/healthz', status: 200 });
    expect(lines[2]).toMatchObject({ level: 'info', path: '/missing', status: 404 });
    expect(JSON.stringify(lines)).not.toContain('secret');
    expect(lines.some((line) => 'aborted' in line)).toBe(false);
  });

  it('leaves the access lines of probes out at info', async () => {
    const { logger, entries } = capture('info');
    const server = http.createServer(withRequestIds(logger, (_req, res) => res.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const path of ['/healthz', '/readyz', '/metrics', '/graphql']) await (await fetch(`${base}${path}`)).text();
      await eventually(() => entries().length >= 1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(entries().map((line) => line.path)).toEqual(['/graphql']);
  });

  it('drops lines below its level', () => {
    const { logger, entries } = capture('warn');
    logger.info({}, 'not this');
    logger.debug({}, 'nor this');
    logger.warn({}, 'this');
    logger.error({}, 'and this');
    expect(entries().map((entry) => [entry.level, entry.msg])).toEqual([
      ['warn', 'this'],
      ['error', 'and this'],
    ]);
  });

  it('keeps plain err fields as they are given', () => {
    const { logger, entries } = capture();
    logger.error({ err: { name: 'Error', message: 'boom' } }, 'failed');
    logger.error({ err: 'just a message' }, 'failed');
    expect(entries().map((entry) => entry.err)).toEqual([{ name: 'Error', message: 'boom' }, 'just a message']);
  });

  it("puts a request's id on the lines of its child logger, and of that child's children, after awaits too, and on no other", async () => {
    const { logger, entries } = capture();
    const poller = logger.child({ component: 'poller' });
    await Promise.all(
      ['r-1', 'r-2'].map(async (requestId) => {
        const requestLog = logger.child({ requestId });
        await new Promise((resolve) => setTimeout(resolve, 5));
        requestLog.child({ component: 'sessions' }).info({}, `inside ${requestId}`);
        poller.info({}, `background during ${requestId}`);
      }),
    );
    expect(entries().map((entry) => [entry.msg, entry.requestId, entry.component])).toEqual(
      expect.arrayContaining([
        ['inside r-1', 'r-1', 'sessions'],
        ['inside r-2', 'r-2', 'sessions'],
        ['background during r-1', undefined, 'poller'],
        ['background during r-2', undefined, 'poller'],
      ]),
    );
  });

  it('no module of the gateway uses AsyncLocalStorage or async_hooks: on Node 20 its promise hook slows every request', () => {
    const root = new URL('../../src/', import.meta.url);
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(20);
    const users = files.filter((file) => /from 'node:async_hooks'|from 'async_hooks'|new AsyncLocalStorage/.test(readFileSync(new URL(file, root), 'utf8')));
    expect(users).toEqual([]);
  });

  it("does not carry one line's fields into the later lines of the same child", () => {
    const { logger: root, entries } = capture();
    const logger = root.child({ requestId: 'r-3' });
    logger.info({ method: 'POST', status: 200 }, 'request finished');
    logger.info({}, 'later');
    expect(entries()[0]).toMatchObject({ requestId: 'r-3', method: 'POST', status: 200 });
    expect(entries()[1]).toMatchObject({ requestId: 'r-3', msg: 'later' });
    expect(entries()[1]).not.toHaveProperty('method');
    expect(entries()[1]).not.toHaveProperty('status');
  });

  it('redacts fields named like secrets, at the top and nested, whoever passed them', () => {
    const { logger, lines, entries } = capture();
    const secrets = {
      authorization: 'Bearer eyJ-top-level',
      token: 'jwt-token-value',
      authToken: 'device-token-value',
      verifyImage: 'iVBORw0KGgo-image-bytes',
      apiKey: 'face-api-key-value',
    };
    logger.info({ ...secrets, sessionId: 'kept' }, 'top level');
    logger.info({ req: { headers: { authorization: 'Bearer eyJ-in-headers', 'ocp-apim-subscription-key': 'face-key-in-headers' } } }, 'request');
    logger.info({ variables: { input: { verifyImage: 'image-in-variables', deviceCorrelationId: 'kept-too' } } }, 'variables');
    logger.info({ connectionParams: { authorization: 'Bearer eyJ-connection-params' } }, 'connection');
    logger.child({ session: { authToken: 'device-token-in-bindings' } }).info({}, 'bindings');

    const text = lines.join('\n');
    for (const value of [...Object.values(secrets), 'eyJ-in-headers', 'face-key-in-headers', 'image-in-variables', 'eyJ-connection-params', 'device-token-in-bindings']) {
      expect(text).not.toContain(value);
    }
    expect(entries()[0]).toMatchObject({ authorization: '[redacted]', verifyImage: '[redacted]', sessionId: 'kept' });
    expect(entries()[2]).toMatchObject({ variables: { input: { verifyImage: '[redacted]', deviceCorrelationId: 'kept-too' } } });
  });

  it('writes the same line through a fixed-fields child as through a child', () => {
    const { logger, lines } = capture();
    const line = { requestId: 'same-1', method: 'POST', path: '/graphql', status: 200, durationMillis: 3 };
    logger.child({ component: 'http' }).info(line, 'http request');
    logger.fixedFieldsChild({ component: 'http' }).info(line, 'http request');
    const withoutTime = lines.map((written) => written.replace(/"time":"[^"]*"/, ''));
    expect(withoutTime).toHaveLength(2);
    expect(withoutTime[1]).toBe(withoutTime[0]);
    expect(JSON.parse(lines[1])).toMatchObject({ component: 'http', ...line, msg: 'http request' });
  });
});
