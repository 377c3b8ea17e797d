/**
 * Delivers the outbox: every interval it takes the lease of the deliveries that are due (one
 * instance at a time holds a delivery; one whose holder died is taken over once its lease has run
 * out), makes one signed attempt each, and records what came of it by `retry-policy.ts`; after a
 * round it deletes, now and then, finished deliveries past their retention. Stopping
 * waits a little for attempts in flight and leaves the rest: their rows stay, and their leases expire.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import type { TokenSealer } from '../idempotency/token-sealer';
import type { ClaimedDelivery, WebhookRepository, WebhookSender } from '../ports/webhooks';
import { afterAttempt, type RetrySettings } from './retry-policy';
import { signingSecrets } from './secrets';

export interface DispatcherOptions {
  repository: WebhookRepository;
  sender: WebhookSender;
  sealer: TokenSealer;
  logger: Logger;
  now: () => number;
  intervalMillis: number;
  timeoutMillis: number;
  retry: RetrySettings;
  failingAfter: number;
  /** A delivered or failed delivery is deleted (with its attempts) this long after it finished. */
  deliveryRetentionMillis: number;
  instanceId?: string;
  metrics?: Pick<Metrics, 'webhookAttempt'>;
  /** A draw in [0, 1) for the backoff's jitter; default `Math.random`. */
  random?: () => number;
}

/** Deliveries one instance takes per round. */
const BATCH = 20;
/**
 * Finished deliveries deleted per statement, and statements per purge: the work of one purge is
 * bounded however much has piled up; the rest goes at the next.
 */
const PURGE_BATCH = 500;
const PURGE_MAX_BATCHES = 20;
/** How often, by the gateway's clock, finished deliveries past their retention are looked for. */
const PURGE_EVERY_MILLIS = 60_000;
/** How long stopping waits for attempts in flight before it leaves them to their leases. */
const STOP_WAIT_MILLIS = 3_000;

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private nextPurgeAt = 0;
  private readonly instanceId: string;
  /** Longer than an attempt can take, so that a lease runs out only when its holder is gone. */
  private readonly leaseMillis: number;

  constructor(private readonly options: DispatcherOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMillis = options.timeoutMillis * 2 + 1_000;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.poke(), this.options.intervalMillis);
    this.timer.unref();
    this.poke();
  }

  /** Starts a round now unless one is running. */
  poke(): void {
    if (this.stopped || this.round) return;
    this.round = this.deliverDue()
      .then(() => undefined)
      .catch((error: unknown) => this.options.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'webhook dispatch round failed'))
      .then(() => this.purgeIfDue())
      .finally(() => (this.round = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.round, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MILLIS)))]);
    clearTimeout(timer);
  }

  /** One round: claims what is due and attempts it; returns once every attempt is recorded. */
  async deliverDue(): Promise<number> {
    const { repository, now } = this.options;
    const claimed = await repository.claimDue(this.instanceId, now(), this.leaseMillis, BATCH);
    await Promise.all(claimed.map((claim) => this.attempt(claim)));
    return claimed.length;
  }

  /**
   * Deletes finished deliveries past their retention, at most once a minute, in bounded batches.
   * Every instance does so on its own schedule: a delete is idempotent, and pending rows are never
   * touched, so instances need no coordination.
   */
  async purgeIfDue(): Promise<void> {
    const { repository, now, logger, deliveryRetentionMillis } = this.options;
    const at = now();
    if (at < this.nextPurgeAt) return;
    this.nextPurgeAt = at + PURGE_EVERY_MILLIS;
    const before = new Date(at - deliveryRetentionMillis);
    let purged = 0;
    try {
      for (let batch = 0; batch < PURGE_MAX_BATCHES && !this.stopped; batch++) {
        const deleted = await repository.purgeFinished(before, PURGE_BATCH);
        purged += deleted;
        if (deleted < PURGE_BATCH) break;
      }
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not purge finished webhook deliveries; trying again at the next purge');
    }
    if (purged > 0) logger.info({ purged, finishedBefore: before.toISOString() }, 'purged finished webhook deliveries past their retention');
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const { repository, sender, sealer, logger, now } = this.options;
    const { delivery, endpoint } = claim;
    const at = new Date(now());
    const outcome = await sender.send({
      url: endpoint.url,
      messageId: delivery.id,
      timestamp: at,
      body: delivery.payload,
      secrets: signingSecrets(endpoint, sealer, at),
    });
    // The next attempt is counted from the answer; the attempt is recorded at its start.
    const after = afterAttempt(delivery.attemptCount + 1, outcome, delivery.retryUntil, new Date(now()), this.options.retry, (this.options.random ?? Math.random)());
    await repository.recordAttempt(claim, outcome, after, at, this.options.failingAfter);
    this.options.metrics?.webhookAttempt(after.status, outcome.statusCode, outcome.latencyMs / 1000);
    logger.info(
      { deliveryId: delivery.id, endpointId: endpoint.id, statusCode: outcome.statusCode, error: outcome.error, status: after.status, nextAttemptAt: after.nextAttemptAt?.toISOString() },
      'webhook attempt recorded',
    );
  }
}
