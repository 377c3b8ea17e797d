/**
 * One webhook attempt over HTTP(S), signed per the Standard Webhooks specification with the
 * `standardwebhooks` library: `webhook-id`, `webhook-timestamp`, and `webhook-signature` with one
 * `v1,<base64 HMAC-SHA256>` per secret (two while a rotated secret overlaps). Redirects are not
 * followed (a 3xx is a failed attempt), the answer is read up to a bound and dropped, and the whole
 * attempt has a deadline. Addresses are checked at connection time (`outbound-guard.ts`).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookSender, WebhookSendRequest } from '../../domain/ports/webhooks';
import { parseRetryAfter, type AttemptOutcome } from '../../domain/webhooks/retry-policy';
import { hostOf, type OutboundPolicy } from './outbound-guard';

/** Bytes of an answer read before the connection is dropped: only its status matters. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpSenderOptions {
  policy: OutboundPolicy;
  timeoutMillis: number;
  userAgent?: string;
}

export function signatureHeader(request: Pick<WebhookSendRequest, 'messageId' | 'timestamp' | 'body' | 'secrets'>): string {
  return request.secrets.map((secret) => new Webhook(secret).sign(request.messageId, request.timestamp, request.body)).join(' ');
}

export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly options: HttpSenderOptions) {}

  send(request: WebhookSendRequest): Promise<AttemptOutcome> {
    const started = performance.now();
    const latency = () => performance.now() - started;
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Omit<AttemptOutcome, 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve({ ...outcome, latencyMs: latency() });
      };
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return finish({ delivered: false, error: 'the endpoint URL is not valid' });
      }
      const host = hostOf(url);
      if (net.isIP(host) && !this.options.policy.mayReach(host)) return finish({ delivered: false, error: 'the endpoint address may not be reached' });
      const body = Buffer.from(request.body, 'utf8');
      const client = url.protocol === 'https:' ? https : http;
      const outgoing = client.request(url, {
        method: 'POST',
        lookup: this.options.policy.lookup,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': this.options.userAgent ?? 'liveness-gateway-webhooks',
          'webhook-id': request.messageId,
          'webhook-timestamp': String(Math.floor(request.timestamp.getTime() / 1000)),
          'webhook-signature': signatureHeader(request),
        },
      });
      const deadline = setTimeout(() => {
        outgoing.destroy();
        finish({ delivered: false, error: `no answer within ${this.options.timeoutMillis} ms` });
      }, this.options.timeoutMillis);
      outgoing.on('error', (error: NodeJS.ErrnoException) =>
        finish({ delivered: false, error: error.code === 'EADDRREFUSED' ? 'the endpoint address may not be reached' : `connection failed (${error.code ?? 'error'})` }),
      );
      outgoing.on('response', (response) => {
        const statusCode = response.statusCode ?? 0;
        const retryAfterMillis = parseRetryAfter(headerText(response.headers['retry-after']), Date.now());
        let read = 0;
        const done = () =>
          finish({
            delivered: statusCode >= 200 && statusCode < 300,
            statusCode,
            retryAfterMillis,
            error: statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : statusCode >= 300 ? `answered ${statusCode}` : undefined,
          });
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) {
            response.destroy();
            done();
          }
        });
        response.on('end', done);
        response.on('error', done);
        response.on('close', done);
      });
      outgoing.end(body);
    });
  }
}

const headerText = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
