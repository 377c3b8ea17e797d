/**
 * What one client may hold over WebSocket, beside graphql-ws's own rules: open sockets per address,
 * and a warning that a flood of refusals cannot turn into a flood of log lines.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Counts open sockets per client address. `admit` is asked at the upgrade, before any WebSocket
 * exists, so an address past its cap costs no more than an HTTP answer; a socket counts until its
 * TCP connection closes, however the WebSocket ended (or if its handshake never completed).
 */
export function countSocketsPerAddress(max: number): { admit(request: IncomingMessage, address: string): boolean } {
  const counts = new Map<string, number>();
  return {
    admit(request, address) {
      const count = counts.get(address) ?? 0;
      if (count >= max) return false;
      counts.set(address, count + 1);
      request.socket.once('close', () => {
        const left = (counts.get(address) ?? 1) - 1;
        if (left <= 0) counts.delete(address);
        else counts.set(address, left);
      });
      return true;
    },
  };
}

const SAMPLE_EVERY_MILLIS = 10_000;

/**
 * One warning line per `intervalMillis` at most, saying how many events it stands for (`refused`:
 * this one and those left unwritten since the last line); `flush` writes what is left (the
 * connection closes).
 */
export class SampledWarning {
  private lastAt = Number.NEGATIVE_INFINITY;
  private unwritten = 0;
  private write: ((count: number) => void) | undefined;

  constructor(
    private readonly intervalMillis = SAMPLE_EVERY_MILLIS,
    private readonly now: () => number = Date.now,
  ) {}

  note(write: (count: number) => void): void {
    const at = this.now();
    this.write = write;
    if (at - this.lastAt < this.intervalMillis) {
      this.unwritten += 1;
      return;
    }
    const count = this.unwritten + 1;
    this.unwritten = 0;
    this.lastAt = at;
    write(count);
  }

  flush(): void {
    if (this.unwritten === 0 || !this.write) return;
    const count = this.unwritten;
    this.unwritten = 0;
    this.write(count);
  }
}
