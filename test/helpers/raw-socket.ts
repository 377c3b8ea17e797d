/**
 * A bare `graphql-transport-ws` socket, for what the graphql-ws client never does: skipping
 * `connection_init`, sending oversized frames, not answering pings, counting what the server sends.
 */
import WebSocket, { type ClientOptions } from 'ws';

export interface WsMessage {
  id?: string;
  type: string;
  payload?: unknown;
}

export interface Closed {
  code: number;
  reason: string;
  /** Milliseconds since the socket opened. */
  afterMillis: number;
}

export class RawSocket {
  readonly messages: WsMessage[] = [];
  /** ws-level pings the server sent (graphql-ws keep-alive). */
  pings = 0;
  readonly closed: Promise<Closed>;
  private closedWith: Closed | undefined;
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly socket: WebSocket,
    openedAt: number,
  ) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as WsMessage);
      this.wake();
    });
    socket.on('ping', () => {
      this.pings += 1;
      this.wake();
    });
    socket.on('error', () => undefined); // a server-side close shows as 'close'; errors say nothing more
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        this.closedWith = { code, reason: String(reason), afterMillis: Date.now() - openedAt };
        resolve(this.closedWith);
        this.wake();
      });
    });
  }

  /** Opens a socket; with `authorization`, sends `connection_init` and waits for the ack. */
  static async open(url: string, options: { authorization?: string; ws?: ClientOptions } = {}): Promise<RawSocket> {
    const socket = new WebSocket(url, 'graphql-transport-ws', options.ws);
    const openedAt = Date.now();
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const raw = new RawSocket(socket, openedAt);
    if (options.authorization !== undefined) {
      raw.send({ type: 'connection_init', payload: { authorization: options.authorization } });
      await raw.until(() => raw.messages.some((message) => message.type === 'connection_ack'));
    }
    return raw;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(message: WsMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  sendText(text: string): void {
    this.socket.send(text);
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}, operationName?: string): void {
    this.send({ id, type: 'subscribe', payload: { query, variables, ...(operationName ? { operationName } : {}) } });
  }

  messagesOf(id: string): WsMessage[] {
    return this.messages.filter((message) => message.id === id);
  }

  /** Waits until operation `id` ended (complete or error) and returns what the server sent for it. */
  async finished(id: string): Promise<WsMessage[]> {
    await this.until(() => this.messagesOf(id).some((message) => message.type === 'complete' || message.type === 'error'));
    return this.messagesOf(id);
  }

  /** Waits until the server sent something for operation `id`. */
  async answered(id: string): Promise<WsMessage[]> {
    await this.until(() => this.messagesOf(id).length > 0);
    return this.messagesOf(id);
  }

  async waitForPings(count: number): Promise<void> {
    await this.until(() => this.pings >= count);
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
      else this.socket.terminate();
    }
    await this.closed;
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.closedWith) throw new Error(`the socket closed with ${this.closedWith.code} ${this.closedWith.reason}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}
