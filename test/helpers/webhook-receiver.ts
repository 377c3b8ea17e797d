/**
 * A partner's webhook receiver for tests: a real HTTP server on 127.0.0.1 that verifies every request
 * with the `standardwebhooks` library (as docs/partners.md tells partners to), records it, and
 * answers as the test scripts it: a status, headers, or no answer at all (a receiver that hangs).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** Settings of a gateway that delivers to receivers on this machine: loopback allowed, dispatch and retries quick. */
export const LOCAL_DELIVERY_ENV = {
  WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
  WEBHOOK_DISPATCH_INTERVAL_MS: '20',
  WEBHOOK_RETRY_BASE_MS: '20',
  WEBHOOK_TIMEOUT_MS: '5000',
} as const;

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  headers: Record<string, string>;
  /** Milliseconds since epoch when it arrived. */
  arrivedAt: number;
}

export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Answers in order; once used up, `otherwise`. */
  readonly script: Answer[] = [];
  otherwise: Answer = { status: 204 };
  private readonly hanging = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((request, response) => receiver!.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
    return receiver;
  }

  /** Verifies a received request with `secret` (whsec_…): the parsed payload, or throws WebhookVerificationError. */
  static verify(received: ReceivedWebhook, secret: string): unknown {
    return new Webhook(secret).verify(received.body, received.headers);
  }

  /** Resolves once `count` requests have arrived. */
  async waitFor(count: number, timeoutMillis = 15_000): Promise<ReceivedWebhook[]> {
    const deadline = Date.now() + timeoutMillis;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`the receiver got ${this.received.length} of ${count} webhooks within ${timeoutMillis} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return this.received.slice(0, count);
  }

  /** Answers every request left hanging, with `status`. */
  release(status = 204): void {
    for (const response of this.hanging) response.writeHead(status).end();
    this.hanging.clear();
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      this.received.push({
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        body: Buffer.concat(chunks).toString('utf8'),
        headers,
        arrivedAt: Date.now(),
      });
      const answer = this.script.shift() ?? this.otherwise;
      if (answer === 'hang') this.hanging.add(response);
      else response.writeHead(answer.status, answer.headers).end();
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
  }
}
