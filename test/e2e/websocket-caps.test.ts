/**
 * What one address, or one socket, may hold open over WebSocket: a cap on open sockets per client
 * address (the upgrade past it is refused with HTTP 429 before any WebSocket exists), the cap on
 * operations in flight per socket holding against a burst, and the refusals of such a burst logged as
 * a sampled warning with a count rather than one line each (docs/security.md, "WebSocket caps").
 */
import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SessionDecisionDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { RawSocket } from '../helpers/raw-socket';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start({ env: { WS_MAX_CONNECTIONS_PER_ADDRESS: '5', WS_MAX_SUBSCRIPTIONS: '3' } });
});
afterAll(async () => {
  await gateway?.stop();
});

const wsUrl = () => gateway.graphqlUrl.replace(/^http/, 'ws');
const bearer = () => `Bearer ${gateway.token({ sub: `user-${randomUUID()}` })}`;

const sockets: RawSocket[] = [];
async function open(authorization?: string): Promise<RawSocket> {
  const raw = await RawSocket.open(wsUrl(), { authorization });
  sockets.push(raw);
  return raw;
}
afterEach(async () => {
  for (const each of sockets.splice(0)) await each.close();
});

/** Tries an upgrade: `open` (then closes it), or the HTTP status that refused it. */
function upgradeOutcome(): Promise<{ outcome: 'open' } | { outcome: 'refused'; status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
    socket.once('open', () => {
      socket.close(1000);
      resolve({ outcome: 'open' });
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve({ outcome: 'refused', status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
      response.resume();
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('open sockets per address', () => {
  it('past WS_MAX_CONNECTIONS_PER_ADDRESS sockets from one address, the next upgrade is refused with 429; closing one makes room', async () => {
    // Idle sockets that never say who they are count too: they are what the cap is for.
    const held = [await open(bearer()), await open(bearer()), await open(), await open(), await open(bearer())];
    expect(held.every((raw) => raw.isOpen)).toBe(true);

    for (let i = 0; i < 20; i += 1) expect(await upgradeOutcome()).toEqual({ outcome: 'refused', status: 429, retryAfter: expect.any(String) });
    expect(held.every((raw) => raw.isOpen)).toBe(true);

    await held[2].close();
    await eventually(async () => ((await upgradeOutcome()).outcome === 'open' ? true : undefined));
  });
});

describe('a burst of operations on one socket', () => {
  it('past WS_MAX_SUBSCRIPTIONS each is refused with RATE_LIMITED, the socket keeps serving, and the log gets a sampled warning, not a line each', async () => {
    const authorization = bearer();
    const token = authorization.slice('Bearer '.length);
    const raw = await open(authorization);
    for (const id of ['first', 'second', 'third']) {
      const { id: sessionId } = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session;
      raw.subscribe(id, print(SessionDecisionDocument), { sessionId });
    }
    const warnings = () => gateway.logEntries().filter((entry) => entry.msg === 'websocket operation refused: too many active on one connection');
    const before = warnings().length;

    const burst = Array.from({ length: 2_000 }, (_, i) => `burst-${i}`);
    for (const id of burst) raw.subscribe(id, '{ viewer { userId } }');
    await eventually(() => (burst.every((id) => raw.messagesOf(id).length > 0) ? true : undefined), 30_000);

    const answers = burst.map((id) => raw.messagesOf(id)[0]);
    expect(answers.every((message) => message.type === 'error')).toBe(true);
    expect(answers.every((message) => (message.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code === 'RATE_LIMITED')).toBe(true);
    expect(raw.isOpen).toBe(true);

    const logged = warnings().slice(before);
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThanOrEqual(5);
    expect(logged[0]).toMatchObject({ limit: 3 });

    // Room frees up as before.
    raw.send({ id: 'first', type: 'complete' });
    raw.subscribe('after', '{ viewer { userId } }');
    expect((await raw.finished('after')).map((message) => message.type)).toEqual(['next', 'complete']);
  }, 60_000);
});
