/**
 * Idempotent session starts (`idempotencyKey` on both start mutations).
 *
 * The same user with the same key within 24 hours gets the same session and the same device token;
 * the same key with a different input is CONFLICT. The key is claimed in the store, in one
 * transaction, *before* Face is called, so concurrent duplicates (in this process or in another
 * instance sharing the store) create one Face session: the request holding the claim creates the
 * session, the others wait and are handed its result. A claim whose start failed (Face refused or was
 * unavailable, a rate limit, the store) is released, so the key can be used again; a claim whose
 * holder died is abandoned after its lease and may be taken over.
 *
 * The device token is kept sealed (AES-256-GCM, `token-sealer.ts`) and is never logged; the input is
 * compared by a keyed fingerprint, never kept.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { badInput, conflict } from '../errors';
import type { Logger } from '../../observability/logger';
import type { SessionRecord } from '../sessions/session.model';
import type { IdempotencyRecord, IdempotencyRepository, IdempotencyScope } from '../ports/store';
import { TokenSealer } from './token-sealer';

export const IDEMPOTENCY_RETENTION_MILLIS = 24 * 3600 * 1000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const PURGE_EVERY_MILLIS = 10 * 60 * 1000;
const PURGE_BATCH = 1_000;
const FIRST_WAIT_MILLIS = 20;
const MAX_WAIT_MILLIS = 250;

/** What an idempotent start hands out: the session, and the device token (never stored in clear). */
export interface IdempotentResult {
  session: SessionRecord;
  authToken: string;
}

export interface IdempotencyServiceOptions {
  repository: IdempotencyRepository;
  sealer: TokenSealer;
  logger: Logger;
  now: () => number;
  /**
   * How long a claim stays the holder's before it counts as abandoned: longer than a start can take
   * (the Face call's whole budget, plus the store).
   */
  claimLeaseMillis: number;
  /** The session a completed key points to, as it is now. */
  findSession(id: string): Promise<SessionRecord | undefined>;
}

export class IdempotencyService {
  /** Starts this process is performing, by key: local duplicates share the outcome, error included. */
  private readonly inFlight = new Map<string, Promise<IdempotentResult>>();
  private nextPurge = 0;

  constructor(private readonly options: IdempotencyServiceOptions) {}

  /**
   * Runs `start` once per key for its owner when the caller gave a key, or simply runs it when not.
   * `normalizedInput` is what makes two starts the same start (a JSON-able value, fixed key order).
   * `requestLog` is the logger of the request asking (its lines carry its id); absent, the service's own.
   */
  once(
    owner: { tenant: string; userId: string },
    key: string | null | undefined,
    normalizedInput: unknown,
    start: () => Promise<IdempotentResult>,
    requestLog?: Logger,
  ): Promise<IdempotentResult> {
    if (key === undefined || key === null) return start();
    this.checkKey(key);
    return this.run({ tenant: owner.tenant, userId: owner.userId, key }, this.fingerprint(normalizedInput), start, requestLog);
  }

  /** Throws BAD_USER_INPUT for a key that is empty or too long. */
  checkKey(key: string): void {
    if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      throw badInput(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
    }
  }

  /** The keyed fingerprint of a normalized input (a JSON-able value with a fixed key order). */
  fingerprint(normalizedInput: unknown): string {
    return this.options.sealer.fingerprint(JSON.stringify(normalizedInput));
  }

  /**
   * Runs `start` at most once for `scope` (within 24 h), or hands out what it produced. `requestHash`
   * is `fingerprint()` of the normalized input.
   */
  async run(scope: IdempotencyScope, requestHash: string, start: () => Promise<IdempotentResult>, requestLog?: Logger): Promise<IdempotentResult> {
    this.checkKey(scope.key);
    const log = requestLog ? requestLog.child({ component: 'idempotency' }) : this.options.logger;
    this.purgeIfDue();
    const local = localKey(scope);
    for (;;) {
      const now = this.options.now();
      const claimId = randomUUID();
      const claim = await this.options.repository.claim(scope, {
        claimId,
        requestHash,
        now: new Date(now),
        leaseUntil: new Date(now + this.options.claimLeaseMillis),
        expiresAt: new Date(now + IDEMPOTENCY_RETENTION_MILLIS),
      });
      if (claim.claimed) return this.perform(scope, local, claimId, start, log);

      const existing = claim.existing;
      checkSameInput(existing, requestHash);
      if (existing.state === 'completed') return this.replay(scope, existing, log);
      // Pending: another request is starting this session. In this process: share its outcome.
      const running = this.inFlight.get(local);
      if (running) return running;
      // In another instance: wait for it; claim again if it released the key or died.
      const completed = await this.awaitOther(scope, requestHash, existing);
      if (completed) return this.replay(scope, completed, log);
    }
  }

  /**
   * Reads the key until the claim another instance holds completes (answers the record), or is
   * released or abandoned (answers undefined: claim again). Gives up with CONFLICT after waiting a
   * whole lease beyond the claim's own.
   */
  private async awaitOther(scope: IdempotencyScope, requestHash: string, pending: IdempotencyRecord): Promise<IdempotencyRecord | undefined> {
    const giveUpAt = pending.leaseUntil.getTime() + this.options.claimLeaseMillis;
    for (let waitMillis = FIRST_WAIT_MILLIS; ; waitMillis = Math.min(waitMillis * 2, MAX_WAIT_MILLIS)) {
      await sleep(waitMillis);
      const now = this.options.now();
      const record = await this.options.repository.find(scope, new Date(now));
      if (!record || (record.state === 'pending' && record.leaseUntil.getTime() <= now)) return undefined;
      checkSameInput(record, requestHash);
      if (record.state === 'completed') return record;
      if (now > giveUpAt) throw conflict('A request with this idempotencyKey is still in progress; try again shortly.');
    }
  }

  private perform(
    scope: IdempotencyScope,
    local: string,
    claimId: string,
    start: () => Promise<IdempotentResult>,
    logger: Logger,
  ): Promise<IdempotentResult> {
    const { repository } = this.options;
    const performing = (async () => {
      let result: IdempotentResult;
      try {
        result = await start();
      } catch (error) {
        await repository.release(scope, claimId).catch((releaseError: unknown) =>
          logger.error({ err: String(releaseError), tenant: scope.tenant, userId: scope.userId }, 'could not release an idempotency claim; the key stays busy until its lease ends'),
        );
        throw error;
      }
      const sealedAuthToken = this.options.sealer.seal(result.authToken, sealContext(scope, result.session.id));
      const kept = await repository.complete(scope, claimId, { sessionId: result.session.id, sealedAuthToken }).catch((error: unknown) => {
        logger.error({ err: String(error), sessionId: result.session.id }, 'could not record the session of an idempotency key; a repeat after the lease may start another');
        return true;
      });
      if (!kept) logger.warn({ sessionId: result.session.id }, 'an idempotency claim was taken over before its session was recorded (its lease ran out)');
      return result;
    })();
    this.inFlight.set(local, performing);
    const forget = () => {
      if (this.inFlight.get(local) === performing) this.inFlight.delete(local);
    };
    performing.then(forget, forget);
    return performing;
  }

  private async replay(scope: IdempotencyScope, record: IdempotencyRecord, logger: Logger): Promise<IdempotentResult> {
    const session = record.sessionId ? await this.options.findSession(record.sessionId) : undefined;
    if (!session || !record.sealedAuthToken) throw new Error(`idempotency record points to a missing session (${record.sessionId ?? 'none'})`);
    let authToken: string;
    try {
      authToken = this.options.sealer.open(record.sealedAuthToken, sealContext(scope, session.id));
    } catch {
      logger.warn({ sessionId: session.id }, 'the device token kept for an idempotency key cannot be opened (was IDEMPOTENCY_KEY_SECRET changed?)');
      throw conflict('The result of this idempotencyKey can no longer be handed out; use a new key for a new session.');
    }
    logger.info({ sessionId: session.id, userId: scope.userId, tenant: scope.tenant }, 'idempotent start answered with the session it created before');
    return { session, authToken };
  }

  private purgeIfDue(): void {
    const now = this.options.now();
    if (now < this.nextPurge) return;
    this.nextPurge = now + PURGE_EVERY_MILLIS;
    this.options.repository.purgeExpired(new Date(now), PURGE_BATCH).then(
      (purged) => purged > 0 && this.options.logger.debug({ purged }, 'forgot expired idempotency keys'),
      (error: unknown) => this.options.logger.warn({ err: String(error) }, 'could not purge expired idempotency keys'),
    );
  }
}

/**
 * Idempotency sealing with a key made up for this process, so kept tokens do not outlive it: for a
 * gateway built without a configured key (a tool or a test); the gateway passes one keyed from its
 * configuration.
 */
export function processLocalIdempotency(
  options: Pick<IdempotencyServiceOptions, 'repository' | 'logger' | 'now' | 'findSession'>,
): IdempotencyService {
  return new IdempotencyService({ ...options, sealer: new TokenSealer(randomBytes(32)), claimLeaseMillis: 60_000 });
}

function checkSameInput(record: IdempotencyRecord, requestHash: string): void {
  if (record.requestHash !== requestHash) {
    throw conflict('This idempotencyKey was already used with a different input; use a new key for a new session.');
  }
}

const localKey = (scope: IdempotencyScope) => JSON.stringify([scope.tenant, scope.userId, scope.key]);

/** What a sealed token is bound to: it opens only for this user's key and this session. */
const sealContext = (scope: IdempotencyScope, sessionId: string) => JSON.stringify(['idempotent-start', scope.tenant, scope.userId, scope.key, sessionId]);
