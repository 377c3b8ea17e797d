/**
 * The webhook rules as tables: when a failed delivery is tried again (backoff with jitter, a
 * Retry-After, the horizon), when an endpoint counts as failing, which addresses deliveries may
 * reach. No network: the outbound policy is given IP literals, which resolve to themselves.
 */
import { describe, expect, it } from 'vitest';
import { OutboundPolicy } from '../../src/adapters/webhooks/outbound-guard';
import { afterAttempt, endpointAfterAttempt, parseRetryAfter, type AttemptOutcome } from '../../src/domain/webhooks/retry-policy';
import { planDeliveries, webhookEvent } from '../../src/domain/webhooks/webhook.model';

const at = new Date('2026-03-01T12:00:00.000Z');
const settings = { baseDelayMillis: 1_000, maxDelayMillis: 60_000 };
const failed: AttemptOutcome = { delivered: false, statusCode: 500, latencyMs: 10 };
const horizon = new Date(at.getTime() + 86_400_000);
const delayOf = (after: ReturnType<typeof afterAttempt>) => (after.nextAttemptAt ? after.nextAttemptAt.getTime() - at.getTime() : undefined);

describe('retrying a delivery', () => {
  it.each([
    [1, 0, 500],
    [1, 0.999, 1_000],
    [2, 0, 1_000],
    [3, 0.5, 3_000],
    [10, 0, 30_000],
    [40, 1, 60_000],
  ])('attempt %i with jitter draw %f waits %i ms', (attempt, random, expected) => {
    expect(delayOf(afterAttempt(attempt, failed, horizon, at, settings, random))).toBeCloseTo(expected, -1);
  });

  it('a delivered attempt ends the delivery', () => {
    expect(afterAttempt(3, { delivered: true, statusCode: 200, latencyMs: 5 }, horizon, at, settings, 0.5)).toEqual({ status: 'DELIVERED' });
  });

  it('a Retry-After longer than the backoff is honoured, a shorter one changes nothing', () => {
    expect(delayOf(afterAttempt(1, { ...failed, retryAfterMillis: 120_000 }, horizon, at, settings, 0))).toBe(120_000);
    expect(delayOf(afterAttempt(2, { ...failed, retryAfterMillis: 10 }, horizon, at, settings, 0))).toBe(1_000);
  });

  it('a retry that would start after the horizon is not made: the delivery has failed', () => {
    expect(afterAttempt(1, failed, new Date(at.getTime() + 100), at, settings, 0)).toEqual({ status: 'FAILED' });
    expect(afterAttempt(1, { ...failed, retryAfterMillis: 90_000_000 }, horizon, at, settings, 0)).toEqual({ status: 'FAILED' });
  });

  it.each<[string | undefined, number | undefined]>([
    ['120', 120_000],
    [' 0 ', 0],
    ['Sun, 01 Mar 2026 12:01:00 GMT', 60_000],
    ['soon', undefined],
    [undefined, undefined],
  ])('Retry-After %j is %j ms', (header, expected) => {
    expect(parseRetryAfter(header, at.getTime())).toBe(expected);
  });
});

describe('an endpoint failing', () => {
  const endpoint = { id: 'whe_1', consecutiveFailures: 0, failing: false };
  it('is marked after the threshold of failures in a row, audited once, and cleared by a success, audited too', () => {
    const first = endpointAfterAttempt(endpoint, false, 2);
    expect(first).toEqual({ consecutiveFailures: 1, failing: false, auditEvents: [] });
    const second = endpointAfterAttempt({ ...endpoint, ...first }, false, 2);
    expect(second).toMatchObject({ consecutiveFailures: 2, failing: true, auditEvents: [{ action: 'WEBHOOK_ENDPOINT_FAILING', actor: 'system', sessionId: 'whe_1' }] });
    const third = endpointAfterAttempt({ ...endpoint, ...second }, false, 2);
    expect(third).toEqual({ consecutiveFailures: 3, failing: true, auditEvents: [] });
    expect(endpointAfterAttempt({ ...endpoint, ...third }, true, 2)).toMatchObject({ consecutiveFailures: 0, failing: false, auditEvents: [{ action: 'WEBHOOK_ENDPOINT_RECOVERED' }] });
    expect(endpointAfterAttempt(endpoint, true, 2)).toEqual({ consecutiveFailures: 0, failing: false, auditEvents: [] });
  });
});

describe('the outbox fan-out', () => {
  const session = { id: 's1', kind: 'LIVENESS', status: 'SUCCEEDED', operationMode: 'PASSIVE', userId: 'u', tenant: 'acme', deviceCorrelationId: 'd', createdAt: at, expiresAt: at, enableSessionImage: false } as const;
  it('writes one row per enabled endpoint of the tenant subscribed to the type', () => {
    const event = webhookEvent('session.decided', session, undefined, at);
    const endpoints = [
      { id: 'a', tenant: 'acme', enabled: true, eventTypes: ['session.decided' as const] },
      { id: 'b', tenant: 'acme', enabled: false, eventTypes: ['session.decided' as const] },
      { id: 'c', tenant: 'acme', enabled: true, eventTypes: ['session.deleted' as const] },
      { id: 'd', tenant: 'globex', enabled: true, eventTypes: ['session.decided' as const] },
      { id: 'e', tenant: 'acme', enabled: true, eventTypes: ['session.expired' as const, 'session.decided' as const] },
    ];
    const drafts = planDeliveries(endpoints, [event], at, 1_000);
    expect(drafts.map((draft) => draft.endpointId)).toEqual(['a', 'e']);
    expect(drafts[0].retryUntil).toEqual(new Date(at.getTime() + 1_000));
  });
});

describe('where deliveries may go', () => {
  const policy = new OutboundPolicy({ production: true, allowedCidrs: [] });
  const lenient = new OutboundPolicy({ production: false, allowedCidrs: ['127.0.0.0/8', 'fd00::/8'] });

  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '224.0.0.1', '::7f00:1', '::ffff:0:7f00:1', '2002:7f00:1::1', '64:ff9b:1::7f00:1', 'fec0::1'])(
    '%s is refused',
    (address) => {
      expect(policy.mayReach(address)).toBe(false);
    },
  );

  it.each(['8.8.8.8', '20.42.0.1', '2606:4700::1111'])('%s is reached', (address) => {
    expect(policy.mayReach(address)).toBe(true);
  });

  it('configured ranges are allowed, and only they', () => {
    expect(lenient.mayReach('127.0.0.1')).toBe(true);
    expect(lenient.mayReach('fd00:ec2::254')).toBe(true);
    expect(lenient.mayReach('10.0.0.1')).toBe(false);
  });

  it('in production only https URLs are accepted', async () => {
    await expect(policy.check('http://8.8.8.8/hook')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(policy.check('https://8.8.8.8/hook')).resolves.toBeUndefined();
    await expect(lenient.check('http://127.0.0.1:9/hook')).resolves.toBeUndefined();
    await expect(policy.check('https://user:pw@8.8.8.8/hook')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
