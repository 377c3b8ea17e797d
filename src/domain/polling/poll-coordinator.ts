/**
 * Who asks Face about which session, and when: the poller's tasks, the poll lease that lets one
 * instance at a time poll a session, the poll-now hint between instances, the expiry sweeper, and
 * resuming after a restart. What a poll saw is stored, and a decision it reached announced.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../observability/logger';
import type { DecisionBus } from '../decisions/decision-bus';
import { type FaceAttempt, FaceRequestError, type FaceCallPriority, type FacePort, type FaceSession } from '../ports/face.port';
import type { PubSub } from '../ports/pubsub';
import type { SessionRepository } from '../ports/store';
import { deriveDecision } from '../sessions/decision';
import { FINAL_STATUSES, type SessionRecord } from '../sessions/session.model';
import { verifyImageHashes } from '../sessions/transitions';
import { Poller, type PollResult } from './poller';

export interface PollCoordinatorOptions {
  sessions: SessionRepository;
  face: FacePort;
  pubsub: PubSub;
  decisions: Pick<DecisionBus, 'announce' | 'deliverStored'>;
  logger: Logger;
  /** Milliseconds since epoch; injectable so tests can move time past an expiry. */
  now: () => number;
  pollIntervalMillis: number;
  pollMaxIntervalMillis: number;
  expirySweepIntervalMillis: number;
  /** Who this instance is, in session leases; default a random id per process. */
  instanceId?: string;
  /**
   * How long a poll lease lasts (renewed at every poll): another instance takes over a session that
   * long after its poller died. Default 15 s.
   */
  sessionLeaseMillis?: number;
  /** Failed attempts that end a session (`LIVENESS_MAX_ATTEMPTS`); default 3, as Face. */
  maxAttempts?: number;
  /**
   * What follows a decision at Face (`evidence/follow-ups.ts`): started once the decision is
   * announced, and swept with expiries; `deleteAtFace` is stored with each decision.
   */
  followUps?: { deleteAtFace: boolean; start(sessionId: string): void; sweep(): Promise<void> };
}

/** Completion reported on one instance, for the instance that holds the session's poll lease. */
const POLL_NOW_TOPIC = 'poll-now';
/** How long stopping waits for polls in flight; SIGTERM must finish within 10 s in all. */
const STOP_WAIT_FOR_POLLS_MILLIS = 3_000;

export class PollCoordinator {
  private readonly poller: Poller;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly instanceId: string;
  private readonly leaseMillis: number;
  /** Until when this instance holds each session's poll lease (ms since epoch), from its last grant. */
  private readonly leasedUntil = new Map<string, number>();
  private stopListening = () => {};

  constructor(private readonly options: PollCoordinatorOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMillis = options.sessionLeaseMillis ?? 15_000;
    this.poller = new Poller({
      pollOnce: (id) => this.pollOnce(id),
      intervalMillis: options.pollIntervalMillis,
      maxIntervalMillis: options.pollMaxIntervalMillis,
      onError: (sessionId, error) =>
        options.logger.warn({ sessionId, err: error instanceof Error ? error.message : String(error) }, 'poll of the Face session failed; will retry'),
    });
  }

  /** How many sessions this instance is polling (or keeping a fallback poll for). */
  get activePollers(): number {
    return this.poller.size;
  }

  /**
   * Resumes polling for sessions reported complete before a restart, listens for completions
   * reported on other instances, and starts the sweeper.
   */
  async start(): Promise<void> {
    const { pubsub, sessions, logger } = this.options;
    this.stopListening = await pubsub.subscribe(POLL_NOW_TOPIC, (payload) => {
      const { sessionId, from } = payload as { sessionId?: unknown; from?: unknown };
      if (typeof sessionId === 'string' && from !== this.instanceId && this.holdsLease(sessionId)) this.poller.pollSoon(sessionId);
    });
    const waiting = await sessions.awaitingResult();
    for (const session of waiting) this.poller.pollSoon(session.id);
    if (waiting.length > 0) logger.info({ sessions: waiting.length }, 'resumed polling for sessions awaiting a result');
    this.sweeper = setInterval(() => {
      this.sweepExpired().catch((error: unknown) => logger.error({ err: String(error) }, 'expiry sweep failed'));
    }, this.options.expirySweepIntervalMillis);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.stopListening();
    // A poll still waiting on Face (up to FACE_TOTAL_TIMEOUT_MS) must not hold up a shutdown: it has
    // written nothing yet, and whoever polls next (after a restart, or another instance) asks again.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.poller.stop(), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_FOR_POLLS_MILLIS)))]);
    clearTimeout(timer);
    // Hand this instance's sessions to the others now rather than when the leases run out.
    await this.options.sessions.releaseLeases(this.instanceId).catch((error: unknown) =>
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not release session leases'),
    );
  }

  /** Completion was reported here: poll at once, and have the lease holder, if another instance, poll now too. */
  completionReported(sessionId: string): void {
    this.poller.pollSoon(sessionId);
    // If another instance holds this session's poll lease, it should poll now rather than at its next backoff.
    this.options.pubsub.publish(POLL_NOW_TOPIC, { sessionId, from: this.instanceId }).catch((error: unknown) =>
      this.options.logger.warn({ sessionId, err: error instanceof Error ? error.message : String(error) }, 'could not tell other instances to poll'),
    );
  }

  /** A subscriber waits for the session's decision; returns the function that ends its fallback poll. */
  watch(sessionId: string): () => void {
    return this.poller.watch(sessionId);
  }

  /** The session ended (deleted): stop polling it. */
  cancel(sessionId: string): void {
    this.poller.cancel(sessionId);
  }

  /**
   * One poll of Face for one session; stores what it saw and announces a new decision. `background`
   * (the poller, the sweeper) yields to starts and deletes under the cap on Face calls per second.
   */
  async pollOnce(id: string, priority: FaceCallPriority = 'background'): Promise<PollResult> {
    const { sessions, decisions } = this.options;
    const session = await sessions.findById(id);
    if (!session) return this.pollDone(id);
    if (FINAL_STATUSES.has(session.status)) {
      // Decided, perhaps by another instance whose message never arrived (Redis down): tell our own.
      await decisions.deliverStored(id);
      return this.pollDone(id);
    }
    const now = this.options.now();
    // One instance at a time asks Face about a session; the others keep their task to take over if it dies.
    if (priority === 'background') {
      if (!(await sessions.tryLease(id, this.instanceId, now, this.leaseMillis))) {
        this.leasedUntil.delete(id);
        return 'pending';
      }
      this.leasedUntil.set(id, now + this.leaseMillis);
    }
    const snapshot = await this.fetch(session, priority);
    const outcome = snapshot
      ? deriveDecision({
          kind: session.kind,
          faceStatus: snapshot.status,
          attempts: snapshot.attempts,
          nowMillis: now,
          expiresAtMillis: session.expiresAt.getTime(),
          // The rule the session started under, kept with it; the configured one for older sessions.
          maxAttempts: session.rules?.maxAttempts ?? this.options.maxAttempts,
        })
      : ({ status: 'EXPIRED', decision: { verdict: 'EXPIRED' } } as const);
    if (snapshot) this.warnOfForeignVerifyImage(session, snapshot.attempts);
    const transition = await sessions.recordProgress(
      id,
      {
        faceStatus: snapshot?.status ?? (session.status as FaceSession['status']),
        modelVersion: snapshot?.modelVersion,
        attempts: snapshot?.attempts ?? [],
        outcome,
        ...(this.options.followUps && { followUp: { deleteAtFace: this.options.followUps.deleteAtFace } }),
      },
      new Date(now),
    );
    await decisions.announce(transition);
    if (transition.newDecision) this.options.followUps?.start(id);
    return FINAL_STATUSES.has(transition.session.status) ? this.pollDone(id) : 'pending';
  }

  /**
   * Face reported the hash of a verify image other than the one the gateway sent: logged the first
   * time it is seen (the store audits it with the attempt, VERIFY_IMAGE_HASH_MISMATCH).
   */
  private warnOfForeignVerifyImage(session: SessionRecord, attempts: readonly FaceAttempt[]): void {
    const reference = session.verifyReference;
    if (!reference || reference.faceVerifyImageHash !== undefined) return;
    const reported = attempts.find((attempt) => attempt.verifyImageHash !== undefined)?.verifyImageHash;
    if (reported === undefined || verifyImageHashes(reference, reported).reason === undefined) return;
    this.options.logger.warn(
      { sessionId: session.id, verifyImageSha256: reference.verifyImageSha256, faceVerifyImageHash: reported },
      'Face reported the hash of another verify image than the one the gateway sent',
    );
  }

  /**
   * Gives every undecided session past its expiry a last poll, which decides it, and picks up
   * sessions awaiting a result that no poller here knows (their instance died; the lease decides
   * who polls).
   */
  async sweepExpired(): Promise<void> {
    const now = this.options.now();
    for (const [sessionId, until] of this.leasedUntil) if (until <= now) this.leasedUntil.delete(sessionId);
    const due = await this.options.sessions.dueForExpiry(new Date(now), 500);
    const orphans = await this.options.sessions.awaitingResult();
    for (const session of [...due, ...orphans]) {
      if (!this.poller.isPolling(session.id)) this.poller.pollSoon(session.id);
    }
    await this.options.followUps?.sweep();
  }

  private pollDone(id: string): PollResult {
    this.leasedUntil.delete(id);
    return 'done';
  }

  /**
   * Whether this instance holds the session's poll lease (its last grant has not run out), and so
   * should answer a completion reported elsewhere by polling now. An instance that only keeps a
   * subscriber's slow fallback task, and never took the lease, leaves the poll to the instance the
   * completion was reported to, which polls at once: answering too made both race for the lease and
   * poll the store until the decision.
   */
  private holdsLease(sessionId: string): boolean {
    return this.poller.has(sessionId) && (this.leasedUntil.get(sessionId) ?? -Infinity) > this.options.now();
  }

  /** Face's view of the session, or undefined when Face no longer knows it (deleted elsewhere, or past 48 h). */
  private async fetch(session: SessionRecord, priority: FaceCallPriority): Promise<FaceSession | undefined> {
    try {
      return await this.options.face.getSession(session.kind, session.id, { priority });
    } catch (error) {
      if (error instanceof FaceRequestError && error.httpStatus === 404) return undefined;
      throw error;
    }
  }
}
