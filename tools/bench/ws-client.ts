/**
 * A minimal `graphql-transport-ws` client for the harness: real frames over a real WebSocket, and the
 * arrival time of every frame, with none of a full client's retries, lazy connects or keep-alives in
 * the way of the measurement. One connection carries many subscriptions.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface SubscriptionHandlers {
  /** A `next` frame: its payload and `performance.now()` when it arrived. */
  next(payload: { data?: unknown; errors?: unknown[] }, atMillis: number): void;
  /** An `error` frame (the subscription is over). */
  error(errors: unknown): void;
  complete(): void;
}

type ServerFrame =
  | { type: 'connection_ack' | 'ping' | 'pong' }
  | { type: 'next'; id: string; payload: { data?: unknown; errors?: unknown[] } }
  | { type: 'error'; id: string; payload: unknown }
  | { type: 'complete'; id: string };

export class GraphQLWsConnection {
  private readonly subscriptions = new Map<string, SubscriptionHandlers>();
  private closedWith: { code: number; reason: string } | undefined;
  private readonly pongWaiters: (() => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.receive(String(data), performance.now()));
    socket.on('close', (code, reason) => {
      this.closedWith = { code, reason: String(reason) };
      for (const handlers of this.subscriptions.values()) handlers.error(new Error(`socket closed with ${code} ${String(reason)}`));
      this.subscriptions.clear();
    });
  }

  /** Connects and completes the `connection_init` / `connection_ack` handshake with the token. */
  static open(graphqlUrl: string, token: string, timeoutMillis = 10_000): Promise<GraphQLWsConnection> {
    const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    return new Promise<GraphQLWsConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`no connection_ack within ${timeoutMillis} ms`));
      }, timeoutMillis);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.once('error', fail);
      socket.once('close', (code, reason) => fail(new Error(`socket closed during the handshake: ${code} ${String(reason)}`)));
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      socket.once('message', (data) => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        const frame = JSON.parse(String(data)) as ServerFrame;
        if (frame.type !== 'connection_ack') {
          socket.terminate();
          reject(new Error(`expected connection_ack, got ${frame.type}`));
          return;
        }
        socket.on('error', () => undefined); // surfaced through 'close'
        resolve(new GraphQLWsConnection(socket));
      });
    });
  }

  subscribe(id: string, query: string, variables: Record<string, unknown>, handlers: SubscriptionHandlers): void {
    if (this.closedWith) throw new Error(`socket closed with ${this.closedWith.code}`);
    this.subscriptions.set(id, handlers);
    this.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
  }

  /** Ends a subscription from this side (a `complete` frame); no more of its frames are handled. */
  unsubscribe(id: string): void {
    if (!this.subscriptions.delete(id) || this.closedWith) return;
    this.socket.send(JSON.stringify({ id, type: 'complete' }));
  }

  /**
   * A protocol `ping` answered by `pong`: the server has read every frame sent before it. (The server
   * handles a `subscribe` without waiting on I/O, so by then the subscriptions are set up too.)
   */
  roundTrip(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.pongWaiters.push(resolve);
      this.socket.send(JSON.stringify({ type: 'ping' }));
    });
  }

  close(): Promise<void> {
    if (this.closedWith || this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 2_000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(1000, 'bench done');
    });
  }

  private receive(text: string, atMillis: number): void {
    const frame = JSON.parse(text) as ServerFrame;
    if (frame.type === 'ping') return void this.socket.send(JSON.stringify({ type: 'pong' }));
    if (frame.type === 'pong') return void this.pongWaiters.shift()?.();
    if (frame.type === 'next') this.subscriptions.get(frame.id)?.next(frame.payload, atMillis);
    else if (frame.type === 'error') {
      this.subscriptions.get(frame.id)?.error(frame.payload);
      this.subscriptions.delete(frame.id);
    } else if (frame.type === 'complete') {
      this.subscriptions.get(frame.id)?.complete();
      this.subscriptions.delete(frame.id);
    }
  }
}
