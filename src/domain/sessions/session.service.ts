/**
 * What the gateway does with liveness sessions: start them at Face, record completion, poll for the
 * result, derive and store the decision once, and tell subscribers. Knows no transport: resolvers
 * call it with a `Viewer`; it talks to the store, the Face port and pub/sub.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { canAct, canRead, hasRole, readScope, type Viewer } from '../viewer';
import { badInput, conflict, forbidden, notFound } from '../errors';
import { FaceRequestError, type CreatedFaceSession, type FaceCallPriority, type FacePort, type FaceSession } from '../ports/face.port';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { TokenSealer } from '../idempotency/token-sealer';
import type { RateLimits } from '../limits/limits';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { checkPageSize, decodeCursor, encodeCursor } from '../pagination';
import { OneShot } from '../decisions/one-shot';
import type { PubSub } from '../ports/pubsub';
import type { Page, SessionFilter, SessionPosition, Store, Transition } from '../ports/store';
import { deriveDecision } from './decision';
import { Poller, type PollResult } from '../polling/poller';
import { FINAL_STATUSES, type DecisionEvent, type DecisionRecord, type OperationMode, type SessionKind, type SessionRecord } from './session.model';
import { decodeVerifyImage } from './verify-image';

export const MIN_TOKEN_TTL_SECONDS = 60;
export const MAX_TOKEN_TTL_SECONDS = 86_400;
const MAX_CORRELATION_ID_LENGTH = 64;

export interface StartSessionInput {
  deviceCorrelationId?: string | null;
  operationMode: OperationMode;
  authTokenTimeToLiveSeconds: number;
  enableSessionImage: boolean;
  idempotencyKey?: string | null;
}

export interface StartVerifySessionInput extends StartSessionInput {
  /** Base64 of the reference image. */
  verifyImage: string;
  verifyConfidenceThreshold?: number | null;
}

export interface StartedSession {
  session: SessionRecord;
  /** The device's Face token: for the caller only; never logged, and stored only sealed (for idempotent repeats). */
  authToken: string;
}

export interface SessionServiceOptions {
  store: Store;
  face: FacePort;
  pubsub: PubSub;
  logger: Logger;
  /** Milliseconds since epoch; injectable so tests can move time past an expiry. */
  now: () => number;
  pollIntervalMillis: number;
  pollMaxIntervalMillis: number;
  expirySweepIntervalMillis: number;
  /** Limits on session starts per user and per device; absent: none (a service built by hand in a tool or test). */
  limits?: RateLimits;
  /** Who this instance is, in session leases; default a random id per process. */
  instanceId?: string;
  /**
   * How long a poll lease lasts (renewed at every poll): another instance takes over a session that
   * long after its poller died. Default 15 s.
   */
  sessionLeaseMillis?: number;
  /**
   * Idempotent starts; absent: one over `store.idempotency` sealing with a key made up for this
   * process, so kept tokens do not outlive it (the gateway passes one keyed from the configuration).
   */
  idempotency?: IdempotencyService;
  /** Counts the decisions this instance reaches, by verdict. */
  metrics?: Pick<Metrics, 'decision'>;
}

const decisionTopic = (sessionId: string) => `decision:${sessionId}`;

/** The subscribers of one session on this instance, and the one pub/sub subscription they share. */
interface Waiters {
  streams: Set<OneShot<DecisionEvent>>;
  /** Resolves when the pub/sub subscription is live (rejects if it could not be made). */
  live: Promise<void>;
  unsubscribe: () => void;
}
/** Completion reported on one instance, for the instance that holds the session's poll lease. */
const POLL_NOW_TOPIC = 'poll-now';
/** How long stopping waits for polls in flight; SIGTERM must finish within 10 s in all. */
const STOP_WAIT_FOR_POLLS_MILLIS = 3_000;
const SESSION_CURSOR = 'sessions';

export class SessionService {
  readonly poller: Poller;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly store: Store;
  private readonly face: FacePort;
  private readonly logger: Logger;
  private readonly idempotency: IdempotencyService;
  private readonly instanceId: string;
  private readonly leaseMillis: number;
  /** Until when this instance holds each session's poll lease (ms since epoch), from its last grant. */
  private readonly leasedUntil = new Map<string, number>();
  /** This instance's subscribers still waiting for a decision, by session, with the session's one pub/sub subscription. */
  private readonly waiting = new Map<string, Waiters>();
  private stopListening = () => {};

  constructor(private readonly options: SessionServiceOptions) {
    this.store = options.store;
    this.face = options.face;
    this.logger = options.logger;
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMillis = options.sessionLeaseMillis ?? 15_000;
    this.idempotency =
      options.idempotency ??
      new IdempotencyService({
        repository: options.store.idempotency,
        sealer: new TokenSealer(randomBytes(32)),
        logger: options.logger,
        now: options.now,
        claimLeaseMillis: 60_000,
        findSession: (id) => options.store.sessions.findById(id),
      });
    this.poller = new Poller({
      pollOnce: (id) => this.pollOnce(id),
      intervalMillis: options.pollIntervalMillis,
      maxIntervalMillis: options.pollMaxIntervalMillis,
      onError: (sessionId, error) =>
        this.logger.warn({ sessionId, err: error instanceof Error ? error.message : String(error) }, 'poll of the Face session failed; will retry'),
    });
  }

  /**
   * Resumes polling for sessions reported complete before a restart, listens for completions
   * reported on other instances, and starts the sweeper.
   */
  async startBackgroundWork(): Promise<void> {
    this.stopListening = await this.options.pubsub.subscribe(POLL_NOW_TOPIC, (payload) => {
      const { sessionId, from } = payload as { sessionId?: unknown; from?: unknown };
      if (typeof sessionId === 'string' && from !== this.instanceId && this.holdsLease(sessionId)) this.poller.pollSoon(sessionId);
    });
    const waiting = await this.store.sessions.awaitingResult();
    for (const session of waiting) this.poller.pollSoon(session.id);
    if (waiting.length > 0) this.logger.info({ sessions: waiting.length }, 'resumed polling for sessions awaiting a result');
    this.sweeper = setInterval(() => {
      this.sweepExpired().catch((error: unknown) => this.logger.error({ err: String(error) }, 'expiry sweep failed'));
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
    await this.store.sessions.releaseLeases(this.instanceId).catch((error: unknown) =>
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not release session leases'),
    );
  }

  async start(viewer: Viewer, input: StartSessionInput): Promise<StartedSession> {
    const request = this.checkStart(viewer, input);
    return this.startOnce(viewer, input, normalizedStart('LIVENESS', input), async () => {
      const created = await this.face.createLivenessSession(request);
      return this.keep(viewer, 'LIVENESS', input, request.deviceCorrelationId, created);
    });
  }

  async startWithVerify(viewer: Viewer, input: StartVerifySessionInput): Promise<StartedSession> {
    const request = this.checkStart(viewer, input);
    const threshold = input.verifyConfidenceThreshold ?? undefined;
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
      throw badInput('verifyConfidenceThreshold must be between 0 and 1.');
    }
    const { bytes } = decodeVerifyImage(input.verifyImage);
    const normalized = {
      ...normalizedStart('LIVENESS_WITH_VERIFY', input),
      verifyConfidenceThreshold: threshold ?? null,
      verifyImageSha256: createHash('sha256').update(bytes).digest('hex'),
    };
    return this.startOnce(viewer, input, normalized, async () => {
      const created = await this.face.createLivenessWithVerifySession({ ...request, verifyImage: bytes, verifyConfidenceThreshold: threshold });
      return this.keep(viewer, 'LIVENESS_WITH_VERIFY', input, request.deviceCorrelationId, created);
    });
  }

  /**
   * Runs a checked start under the rate limits, once per idempotency key when one is given. A repeat
   * answered from the key is not counted against the limits: it starts nothing at Face.
   */
  private async startOnce(viewer: Viewer, input: StartSessionInput, normalized: object, create: () => Promise<StartedSession>): Promise<StartedSession> {
    const limitedCreate = async () => {
      await this.options.limits?.sessionStart(viewer, input.deviceCorrelationId ?? undefined);
      return create();
    };
    const key = input.idempotencyKey;
    if (key === undefined || key === null) return limitedCreate();
    this.idempotency.checkKey(key);
    const scope = { tenant: viewer.tenant, userId: viewer.userId, key };
    return this.idempotency.run(scope, this.idempotency.fingerprint(normalized), limitedCreate);
  }

  /** The client reports that the device is done: polling starts at once. */
  async complete(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.actable(viewer, id);
    if (session.status === 'DELETED' || session.status === 'EXPIRED') {
      throw conflict(`The session is ${session.status.toLowerCase()}; it can no longer be completed.`);
    }
    if (FINAL_STATUSES.has(session.status)) return session;
    const updated = await this.store.sessions.reportCompletion(id, viewer.userId, new Date(this.options.now()));
    this.poller.pollSoon(id);
    // If another instance holds this session's poll lease, it should poll now rather than at its next backoff.
    this.options.pubsub.publish(POLL_NOW_TOPIC, { sessionId: id, from: this.instanceId }).catch((error: unknown) =>
      this.logger.warn({ sessionId: id, err: error instanceof Error ? error.message : String(error) }, 'could not tell other instances to poll'),
    );
    return updated;
  }

  /** Revokes the session at Face, then marks it DELETED (deciding it, if undecided, as an ended session). */
  async delete(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.actable(viewer, id);
    if (session.status === 'DELETED') return session;
    // Record what the device already did (a result, failed attempts) before Face forgets it; best effort.
    if (!FINAL_STATUSES.has(session.status)) {
      await this.pollOnce(id, 'interactive').catch((error: unknown) =>
        this.logger.warn({ sessionId: id, err: error instanceof Error ? error.message : String(error) }, 'could not read the session before deleting it'),
      );
    }
    await this.face.deleteSession(session.kind, id);
    this.poller.cancel(id);
    // Deleted without a result: the same rules as any other ending (failed attempts only: INCONCLUSIVE).
    const [attempts] = await this.store.sessions.attemptsFor([id]);
    const now = this.options.now();
    const ending = deriveDecision({ kind: session.kind, faceStatus: 'CANCELED', attempts, nowMillis: now, expiresAtMillis: session.expiresAt.getTime() });
    const transition = await this.store.sessions.markDeleted(id, viewer.userId, new Date(now), ending?.decision ?? { verdict: 'EXPIRED' });
    await this.announce(transition);
    return transition.session;
  }

  async get(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.store.sessions.findById(id);
    if (!session || !canRead(viewer, session)) throw notFound();
    return session;
  }

  async list(viewer: Viewer, filter: SessionFilter, first: number, after?: string | null): Promise<Page<SessionRecord>> {
    checkPageSize(first);
    if (filter.from && filter.to && filter.from >= filter.to) throw badInput('filter.from must be before filter.to.');
    const position = after ? decodeCursor(SESSION_CURSOR, after, isSessionPosition) : undefined;
    return this.store.sessions.list(readScope(viewer), filter, first, position);
  }

  cursorOf(session: SessionRecord): string {
    return encodeCursor(SESSION_CURSOR, { createdAtMillis: session.createdAt.getTime(), id: session.id } satisfies SessionPosition);
  }

  /**
   * The decision of a session, as a stream of exactly one event. The session's pub/sub subscription
   * is live *before* the store is read, so a decision landing in between is seen by one or the other,
   * never missed.
   */
  async decisionStream(viewer: Viewer, id: string): Promise<AsyncIterableIterator<DecisionEvent>> {
    await this.get(viewer, id);
    let stopWatching = () => {};
    const stream = new OneShot<DecisionEvent>(() => {
      stopWatching();
      this.unwait(id, stream);
    });
    try {
      await this.wait(id, stream);
      const [existing] = await this.store.sessions.decisionsFor([id]);
      if (existing) stream.resolve(existing);
      else stopWatching = this.poller.watch(id);
    } catch (error) {
      await stream.return();
      throw error;
    }
    return stream;
  }

  /**
   * One poll of Face for one session; stores what it saw and announces a new decision. `background`
   * (the poller, the sweeper) yields to starts and deletes under the cap on Face calls per second.
   */
  async pollOnce(id: string, priority: FaceCallPriority = 'background'): Promise<PollResult> {
    const session = await this.store.sessions.findById(id);
    if (!session) return this.pollDone(id);
    if (FINAL_STATUSES.has(session.status)) {
      // Decided, perhaps by another instance whose message never arrived (Redis down): tell our own.
      await this.deliverStored(id);
      return this.pollDone(id);
    }
    const now = this.options.now();
    // One instance at a time asks Face about a session; the others keep their task to take over if it dies.
    if (priority === 'background') {
      if (!(await this.store.sessions.tryLease(id, this.instanceId, now, this.leaseMillis))) {
        this.leasedUntil.delete(id);
        return 'pending';
      }
      this.leasedUntil.set(id, now + this.leaseMillis);
    }
    const snapshot = await this.fetch(session, priority);
    const outcome = snapshot
      ? deriveDecision({ kind: session.kind, faceStatus: snapshot.status, attempts: snapshot.attempts, nowMillis: now, expiresAtMillis: session.expiresAt.getTime() })
      : ({ status: 'EXPIRED', decision: { verdict: 'EXPIRED' } } as const);
    const transition = await this.store.sessions.recordProgress(
      id,
      {
        faceStatus: snapshot?.status ?? (session.status as FaceSession['status']),
        modelVersion: snapshot?.modelVersion,
        attempts: snapshot?.attempts ?? [],
        outcome,
      },
      new Date(now),
    );
    await this.announce(transition);
    return FINAL_STATUSES.has(transition.session.status) ? this.pollDone(id) : 'pending';
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
   * poll the store until the decision (issue 6, the two-instance fan-out).
   */
  private holdsLease(sessionId: string): boolean {
    return this.poller.has(sessionId) && (this.leasedUntil.get(sessionId) ?? -Infinity) > this.options.now();
  }

  /**
   * Gives every undecided session past its expiry a last poll, which decides it, and picks up
   * sessions awaiting a result that no poller here knows (their instance died; the lease decides
   * who polls).
   */
  async sweepExpired(): Promise<void> {
    const now = this.options.now();
    for (const [sessionId, until] of this.leasedUntil) if (until <= now) this.leasedUntil.delete(sessionId);
    const due = await this.store.sessions.dueForExpiry(new Date(now), 500);
    const orphans = await this.store.sessions.awaitingResult();
    for (const session of [...due, ...orphans]) {
      if (!this.poller.isPolling(session.id)) this.poller.pollSoon(session.id);
    }
  }

  private checkStart(viewer: Viewer, input: StartSessionInput) {
    if (!hasRole(viewer, 'USER')) throw forbidden();
    const ttl = input.authTokenTimeToLiveSeconds;
    if (!Number.isInteger(ttl) || ttl < MIN_TOKEN_TTL_SECONDS || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw badInput(`authTokenTimeToLiveSeconds must be between ${MIN_TOKEN_TTL_SECONDS} and ${MAX_TOKEN_TTL_SECONDS}.`);
    }
    const deviceCorrelationId = input.deviceCorrelationId ?? randomUUID();
    if (deviceCorrelationId.length === 0 || deviceCorrelationId.length > MAX_CORRELATION_ID_LENGTH) {
      throw badInput(`deviceCorrelationId must be 1 to ${MAX_CORRELATION_ID_LENGTH} characters.`);
    }
    return {
      operationMode: input.operationMode,
      deviceCorrelationId,
      authTokenTimeToLiveSeconds: ttl,
      enableSessionImage: input.enableSessionImage,
    };
  }

  /** Stores a session Face created; if that fails, deletes it at Face again so nothing is left half-made. */
  private async keep(
    viewer: Viewer,
    kind: SessionKind,
    input: StartSessionInput,
    deviceCorrelationId: string,
    created: CreatedFaceSession,
  ): Promise<StartedSession> {
    const now = this.options.now();
    const record: SessionRecord = {
      id: created.sessionId,
      kind,
      status: created.status,
      operationMode: input.operationMode,
      userId: viewer.userId,
      tenant: viewer.tenant,
      deviceCorrelationId,
      createdAt: new Date(now),
      expiresAt: new Date(now + input.authTokenTimeToLiveSeconds * 1000),
      modelVersion: created.modelVersion,
      verifyReference: created.verifyReference,
      enableSessionImage: input.enableSessionImage,
    };
    try {
      await this.store.sessions.create(record, viewer.userId);
    } catch (error) {
      this.logger.error({ sessionId: record.id, err: error instanceof Error ? error.message : String(error) }, 'could not store a session Face created; deleting it at Face');
      await this.face.deleteSession(kind, record.id).then(
        () => this.logger.info({ sessionId: record.id }, 'deleted the unstored session at Face'),
        (deleteError: unknown) => this.logger.error({ sessionId: record.id, err: String(deleteError) }, 'could not delete the unstored session at Face'),
      );
      throw error;
    }
    this.logger.info({ sessionId: record.id, kind, userId: viewer.userId, tenant: viewer.tenant }, 'session started');
    return { session: record, authToken: created.authToken };
  }

  private async actable(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.store.sessions.findById(id);
    if (!session || !canRead(viewer, session)) throw notFound();
    // The caller may see the session (e.g. as an auditor) but not act on it: saying so hides nothing.
    if (!canAct(viewer, session)) throw forbidden();
    return session;
  }

  /** Face's view of the session, or undefined when Face no longer knows it (deleted elsewhere, or past 48 h). */
  private async fetch(session: SessionRecord, priority: FaceCallPriority): Promise<FaceSession | undefined> {
    try {
      return await this.face.getSession(session.kind, session.id, { priority });
    } catch (error) {
      if (error instanceof FaceRequestError && error.httpStatus === 404) return undefined;
      throw error;
    }
  }

  private async announce(transition: Transition): Promise<void> {
    const decision = transition.newDecision;
    if (!decision) return;
    this.logger.info({ sessionId: decision.sessionId, verdict: decision.verdict }, 'decision reached');
    this.options.metrics?.decision(decision.verdict);
    // Our own subscribers hear it directly; pub/sub carries it to other instances (and to ours again,
    // which a one-shot stream ignores). A failed publish loses nothing: the stored decision reaches
    // other instances' subscribers through their fallback poll.
    const event: DecisionEvent = { ...decision, session: transition.session };
    for (const stream of this.waiting.get(decision.sessionId)?.streams ?? []) stream.resolve(event);
    await this.options.pubsub.publish(decisionTopic(decision.sessionId), toPayload(event)).catch((error: unknown) =>
      this.logger.warn({ sessionId: decision.sessionId, err: error instanceof Error ? error.message : String(error) }, 'could not publish a decision'),
    );
  }

  /** Hands a stored decision to this instance's waiting subscribers. */
  private async deliverStored(sessionId: string): Promise<void> {
    const streams = this.waiting.get(sessionId)?.streams;
    if (!streams || streams.size === 0) return;
    const [decision] = await this.store.sessions.decisionsFor([sessionId]);
    if (decision) for (const stream of streams) stream.resolve(decision);
  }

  /**
   * Adds a subscriber of a session. One pub/sub subscription per session serves all of this
   * instance's subscribers of it: a message is decoded once and handed to each (issue 6: the
   * per-subscriber work of a decision). Resolves once that subscription is live.
   */
  private wait(sessionId: string, stream: OneShot<DecisionEvent>): Promise<void> {
    let waiters = this.waiting.get(sessionId);
    if (!waiters) {
      const created: Waiters = { streams: new Set(), live: Promise.resolve(), unsubscribe: () => {} };
      created.live = this.options.pubsub
        .subscribe(decisionTopic(sessionId), (payload) => {
          const event = fromPayload(payload);
          for (const waiting of created.streams) waiting.resolve(event);
        })
        .then((unsubscribe) => {
          // Every subscriber may have left while Redis confirmed the subscription.
          if (this.waiting.get(sessionId) === created) created.unsubscribe = unsubscribe;
          else unsubscribe();
        });
      this.waiting.set(sessionId, (waiters = created));
    }
    waiters.streams.add(stream);
    return waiters.live;
  }

  private unwait(sessionId: string, stream: OneShot<DecisionEvent>): void {
    const waiters = this.waiting.get(sessionId);
    if (waiters?.streams.delete(stream) && waiters.streams.size === 0) {
      this.waiting.delete(sessionId);
      waiters.unsubscribe();
    }
  }
}

/** What makes two starts the same start, for idempotency keys (the verify image is added by its hash). */
function normalizedStart(kind: SessionKind, input: StartSessionInput) {
  return {
    kind,
    operationMode: input.operationMode,
    authTokenTimeToLiveSeconds: input.authTokenTimeToLiveSeconds,
    enableSessionImage: input.enableSessionImage,
    deviceCorrelationId: input.deviceCorrelationId ?? null,
  };
}

function isSessionPosition(value: unknown): value is SessionPosition {
  const v = value as SessionPosition;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(v.createdAtMillis) && typeof v.id === 'string';
}

/** Decisions travel through pub/sub as JSON (Redis will carry them between instances). */
function toPayload(event: DecisionEvent): unknown {
  const { session, ...decision } = event;
  return {
    ...decision,
    decidedAt: decision.decidedAt.toISOString(),
    ...(session && {
      session: {
        ...session,
        createdAt: session.createdAt.toISOString(),
        expiresAt: session.expiresAt.toISOString(),
        completionReportedAt: session.completionReportedAt?.toISOString(),
      },
    }),
  };
}

/** A message from an instance that sends no session (an older version) yields a decision without one. */
function fromPayload(payload: unknown): DecisionEvent {
  type Dated<T, K extends keyof T> = Omit<T, K> & { [P in K]: string };
  const { session, ...decision } = payload as Dated<DecisionRecord, 'decidedAt'> & {
    session?: Dated<SessionRecord, 'createdAt' | 'expiresAt' | 'completionReportedAt'>;
  };
  return {
    ...decision,
    decidedAt: new Date(decision.decidedAt),
    ...(session && {
      session: {
        ...session,
        createdAt: new Date(session.createdAt),
        expiresAt: new Date(session.expiresAt),
        completionReportedAt: session.completionReportedAt === undefined ? undefined : new Date(session.completionReportedAt),
      },
    }),
  };
}
