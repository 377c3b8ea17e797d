/** The pino logger: JSON lines with our field names, request bindings that follow async work, redaction as a second line of defence. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger';

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

  it('writes the access line exactly as pino writes the same fields, key for key, and only at enabled levels', () => {
    const { logger, lines } = capture('info');
    const fields = [
      { requestId: 'r-1', method: 'POST', path: '/graphql', status: 200, durationMillis: 3 },
      { requestId: 'r-2', method: 'GET', path: '/we"ird\\path\u2028', status: 499, durationMillis: 0, aborted: true as const },
    ];
    for (const line of fields) {
      logger.accessLine('info', line);
      logger.withBindings({ requestId: line.requestId }, () => logger.child({ component: 'http' }).info({ ...line }, 'http request'));
    }
    logger.accessLine('debug', fields[0]);
    expect(lines).toHaveLength(4);
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
    expect(withoutTime(lines[0])).toBe(withoutTime(lines[1]));
    expect(withoutTime(lines[2])).toBe(withoutTime(lines[3]));
    expect(JSON.parse(lines[2])).toMatchObject({ level: 'info', component: 'http', path: fields[1].path, aborted: true, msg: 'http request' });
    expect(new Date(JSON.parse(lines[0]).time as string).toISOString()).toBe(JSON.parse(lines[0]).time);
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

  it('adds the bindings of withBindings to every line written during the work, after awaits and timers too, and to no other', async () => {
    const { logger, entries } = capture();
    const child = logger.child({ component: 'poller' });
    await Promise.all([
      logger.withBindings({ requestId: 'r-1' }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        child.info({}, 'inside one');
      }),
      logger.withBindings({ requestId: 'r-2' }, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        child.info({}, 'inside two');
      }),
    ]);
    child.info({}, 'outside');
    expect(entries().map((entry) => [entry.msg, entry.requestId])).toEqual(
      expect.arrayContaining([
        ['inside one', 'r-1'],
        ['inside two', 'r-2'],
        ['outside', undefined],
      ]),
    );
  });

  it("does not carry one line's fields into the later lines of the same bindings", () => {
    const { logger, entries } = capture();
    logger.withBindings({ requestId: 'r-3' }, () => {
      logger.info({ method: 'POST', status: 200 }, 'request finished');
      logger.info({}, 'later');
    });
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
});
