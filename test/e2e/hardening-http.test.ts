/**
 * The HTTP server under pressure from one caller, as an attacker applies it over raw TCP: requests
 * that never finish arriving (the server's timeouts), more connections than the server keeps (its
 * cap), and large bodies sent without a valid token (refused before they are read). Every gateway
 * is real (port 0, a real SQLite file, the emulator over HTTP); short limits keep the tests quick,
 * and no assertion depends on how fast a shared machine is.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestGateway } from '../helpers/gateway';

/** A raw TCP connection to the gateway, writing whatever the test wants and recording what comes back. */
class RawHttp {
  received = '';
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset shows as 'close'; the test looks at what arrived
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static async open(url: string): Promise<RawHttp> {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawHttp(socket);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(text: string): void {
    if (!this.isClosed) this.socket.write(text);
  }

  /** Waits for one whole answer (status line, headers, a Content-Length body), or the end of the connection. */
  async answer(timeoutMillis = 15_000): Promise<{ status: number; headers: string; body: string } | undefined> {
    await eventually(() => (this.isClosed || this.complete() ? true : undefined), timeoutMillis);
    if (!this.complete()) return undefined;
    const [head, body] = [this.received.slice(0, this.received.indexOf('\r\n\r\n')), this.received.slice(this.received.indexOf('\r\n\r\n') + 4)];
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body };
  }

  /** Sends `text` one byte at a time, `gapMillis` apart, until the server closes the connection or `giveUpMillis` pass. */
  async dribble(text: string, gapMillis: number, giveUpMillis: number): Promise<{ closedByServer: boolean }> {
    const deadline = Date.now() + giveUpMillis;
    for (let i = 0; this.isOpen && Date.now() < deadline; i = (i + 1) % text.length) {
      this.write(text[i]);
      await new Promise((resolve) => setTimeout(resolve, gapMillis));
    }
    return { closedByServer: !this.isOpen };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private complete(): boolean {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.received.slice(0, end))?.[1] ?? 0);
    return this.received.length - end - 4 >= length;
  }
}

const opened: RawHttp[] = [];
async function connect(on: TestGateway): Promise<RawHttp> {
  const raw = await RawHttp.open(on.url);
  opened.push(raw);
  return raw;
}
const gateways: TestGateway[] = [];
async function boot(env: Record<string, string>): Promise<TestGateway> {
  const started = await TestGateway.start({ env });
  gateways.push(started);
  return started;
}
afterAll(async () => {
  for (const raw of opened) raw.destroy();
  for (const each of gateways) await each.stop();
});

/** The head of a POST /graphql, announcing a body of `length` bytes. */
function postHead(on: TestGateway, length: number, headers: Record<string, string> = {}): string {
  const all = { Host: new URL(on.url).host, 'Content-Type': 'application/json', Accept: 'application/graphql-response+json', ...headers, 'Content-Length': String(length) };
  return ['POST /graphql HTTP/1.1', ...Object.entries(all).map(([name, value]) => `${name}: ${value}`), '', ''].join('\r\n');
}

/** A client address of its own for each test, so that their anonymous budgets are apart. */
let lastOctet = 0;
const freshAddress = () => `203.0.113.${(lastOctet += 1)}`;

const MEGABYTE = 1024 * 1024;

describe('server timeouts (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await boot({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' });
  });

  it('a client dribbling its body is cut off with 408, however steadily it keeps sending', async () => {
    const raw = await connect(gateway);
    raw.write(postHead(gateway, 100_000, { Authorization: `Bearer ${gateway.token()}` }));
    const { closedByServer } = await raw.dribble('{"query":"{ viewer { userId } }"   ', 100, 20_000);
    expect(closedByServer).toBe(true);
    expect(raw.received).toMatch(/^HTTP\/1\.1 408 /);
  }, 30_000);

  it('a client dribbling its headers is cut off too', async () => {
    const raw = await connect(gateway);
    raw.write(`GET /healthz HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n`);
    const { closedByServer } = await raw.dribble('X-Slow: a\r\n', 100, 20_000);
    expect(closedByServer).toBe(true);
    expect(raw.received).toMatch(/^HTTP\/1\.1 408 /);
  }, 30_000);

  it('a request that arrives in time is served as before, and the gateway keeps serving', async () => {
    const result = await gateway.graphql('{ viewer { userId } }', {}, gateway.token({ sub: 'on-time' }));
    expect(result.data).toEqual({ viewer: { userId: 'on-time' } });
  });
});

describe('the connection cap (HTTP_MAX_CONNECTIONS)', () => {
  it('a connection past the cap is closed unanswered; once one closes, the next is served', async () => {
    const gateway = await boot({ HTTP_MAX_CONNECTIONS: '2', HTTP_KEEPALIVE_TIMEOUT_MS: '60000' });
    const health = `GET /healthz HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n\r\n`;
    // Two kept-alive connections, each answered once, so the server has certainly accepted both.
    const held = [await connect(gateway), await connect(gateway)];
    for (const raw of held) {
      raw.write(health);
      expect((await raw.answer())?.status).toBe(200);
    }

    const refused = await connect(gateway);
    refused.write(health);
    expect(await refused.answer()).toBeUndefined();
    expect(refused.received).toBe('');
    expect(held.every((raw) => raw.isOpen)).toBe(true);

    held[0].destroy();
    await held[0].closed;
    const served = await eventually(async () => {
      const next = await connect(gateway);
      next.write(health);
      const answer = await next.answer();
      next.destroy();
      return answer?.status;
    });
    expect(served).toBe(200);
  });
});

describe('bodies without a valid token are refused before they are read', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await boot({ RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '2', RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS: '600000', TRUST_PROXY_HOPS: '1' });
  });

  it('an anonymous POST announcing 1 MB is answered 413 before any of its body is sent', async () => {
    const raw = await connect(gateway);
    raw.write(postHead(gateway, MEGABYTE, { 'X-Forwarded-For': freshAddress() }));
    const answer = await raw.answer();
    expect(answer?.status).toBe(413);
    expect(JSON.parse(answer?.body ?? '{}')).toEqual({ errors: [{ message: 'Request body too large.', extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('a POST with a bad token announcing 1 MB is answered 401 before any of its body is sent', async () => {
    const raw = await connect(gateway);
    raw.write(postHead(gateway, MEGABYTE, { Authorization: `Bearer ${gateway.token()}x`, 'X-Forwarded-For': freshAddress() }));
    const answer = await raw.answer();
    expect(answer?.status).toBe(401);
    expect(JSON.parse(answer?.body ?? '{}').errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('1 MB of invalid JSON without a token is 413, not parsed (not 400), and counts until the address is refused 429', async () => {
    const address = freshAddress();
    const send = () =>
      fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-forwarded-for': address },
        body: `{"query": ${'['.repeat(MEGABYTE)}`,
      });
    const answers = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await send();
      answers.push({ status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { errors: { extensions: { code: string } }[] } });
    }
    expect(answers.map(({ status }) => status)).toEqual([413, 413, 429]);
    expect(answers.map(({ body }) => body.errors[0].extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT', 'RATE_LIMITED']);
    expect(answers[2].retryAfter).toMatch(/^\d+$/);
  });

  it('a valid token may still send a large body', async () => {
    const token = gateway.token({ sub: 'large-body' });
    const response = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      // A variable the document does not declare is ignored: only the body's size matters here.
      body: JSON.stringify({ query: '{ viewer { userId } }', variables: { pad: 'x'.repeat(MEGABYTE) } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { viewer: { userId: 'large-body' } } });
  });
});
