import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EmulatorHttpError, errorBody } from './errors';

/** A request body read up to a limit; the rest is drained and dropped so the answer can still be sent. */
export interface BufferedBody {
  body: Buffer;
  /** The body was longer than the limit (and `body` holds only its first `limit` bytes). */
  overLimit: boolean;
}

/** Beyond this the emulator stops listening and drops the connection. */
const HARD_LIMIT_BYTES = 64 * 1024 * 1024;

export function readBody(req: IncomingMessage, limitBytes: number): Promise<BufferedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > HARD_LIMIT_BYTES) {
        req.destroy();
        return;
      }
      if (kept < limitBytes) {
        const slice = chunk.subarray(0, limitBytes - kept);
        chunks.push(slice);
        kept += slice.length;
      }
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks, kept), overLimit: received > limitBytes }));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('request body was not received completely'));
    });
  });
}

/** Lets an unread request body flow away, so the connection can be reused after an early answer. */
export function discardBody(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(payload.length),
    'apim-request-id': randomUUID(),
    ...headers,
  });
  res.end(payload);
}

export function sendNoContent(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(204, { 'apim-request-id': randomUUID() });
  res.end();
}

/** Azure names the error code in the `x-ms-error-code` header as well as in the body. */
export function sendError(res: ServerResponse, error: EmulatorHttpError): void {
  sendJson(res, error.status, errorBody(error), { 'x-ms-error-code': error.code, ...error.headers });
}

/** A header's single value (the first, when repeated). */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
