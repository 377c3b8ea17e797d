/**
 * What a caller does to a session: start it at Face (with or without a reference image to verify
 * against), report the device done, delete it. Starts are checked, rate limited and idempotent; a
 * session Face created but the store could not keep is deleted at Face again.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../observability/logger';
import type { DecisionBus } from '../decisions/decision-bus';
import { badInput, conflict, forbidden, notFound } from '../errors';
import type { IdempotencyService } from '../idempotency/idempotency.service';
import { sessionRules, type EffectivePolicy } from '../policy/tenant-policy';
import type { RateLimits } from '../limits/limits';
import type { PollCoordinator } from '../polling/poll-coordinator';
import type { CreatedFaceSession, FacePort } from '../ports/face.port';
import type { SessionRepository } from '../ports/store';
import { canAct, canRead, hasRole, type Viewer } from '../viewer';
import { deriveDecision } from './decision';
import type { DeviceCorrelationIds } from './device-correlation';
import { FINAL_STATUSES, type SessionKind, type SessionRecord, type SessionStatus } from './session.model';
import {
  checkDigestInput,
  checkStart,
  normalizedStart,
  refusedIfFlagged,
  type StartPolicies,
  type StartSessionInput,
  type StartVerifySessionInput,
  underPolicy,
} from './start-input';
import { checkVerifyImageSize, decodeVerifyImage } from './verify-image';

/** The statuses of a session Face has not finished with. */
const IN_PROGRESS: SessionStatus[] = ['NOT_STARTED', 'RUNNING'];
const IN_PROGRESS_BATCH = 100;

export interface StartedSession {
  session: SessionRecord;
  /** The device's Face token: for the caller only; never logged, and stored only sealed (for idempotent repeats). */
  authToken: string;
}

export interface SessionCommandsOptions {
  sessions: SessionRepository;
  face: FacePort;
  logger: Logger;
  now: () => number;
  idempotency: IdempotencyService;
  polling: Pick<PollCoordinator, 'pollOnce' | 'completionReported' | 'cancel'>;
  decisions: Pick<DecisionBus, 'announce'>;
  /** Limits on session starts per user and per device; absent: none. */
  limits?: RateLimits;
  /** Derives the device correlation id of a user whose client sends none. */
  correlationIds: Pick<DeviceCorrelationIds, 'forUser'>;
  /** Failed attempts that end a session (`LIVENESS_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** Whether a completion must carry the device's digest (`REQUIRE_DEVICE_DIGEST`). */
  requireDeviceDigest: boolean;
  /** The tenant's policy in force at a start; absent: the configured defaults for every tenant. */
  policies?: StartPolicies;
}

/**
 * The commands that log take the logger of the request they serve (`requestLog`, whose lines carry
 * its id); without one (a tool, a test) they log as the services do.
 */
export class SessionCommands {
  constructor(private readonly options: SessionCommandsOptions) {}

  async start(viewer: Viewer, asked: StartSessionInput, requestLog?: Logger): Promise<StartedSession> {
    const { input, policy } = await underPolicy(this.options.policies, viewer, asked);
    const request = checkStart(viewer, input, await this.correlationId(viewer, input));
    return this.startOnce(viewer, input, policy, normalizedStart('LIVENESS', input), requestLog, async () => {
      const created = await refusedIfFlagged(this.options.face.createLivenessSession(request));
      return this.keep(viewer, 'LIVENESS', input, policy, request.deviceCorrelationId, created, requestLog);
    });
  }

  async startWithVerify(viewer: Viewer, asked: StartVerifySessionInput, requestLog?: Logger): Promise<StartedSession> {
    const threshold = asked.verifyConfidenceThreshold ?? undefined;
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
      throw badInput('verifyConfidenceThreshold must be between 0 and 1.');
    }
    const { input, policy } = await underPolicy(this.options.policies, viewer, asked);
    const request = checkStart(viewer, input, await this.correlationId(viewer, input));
    const { bytes } = decodeVerifyImage(input.verifyImage);
    checkVerifyImageSize(bytes);
    const verifyImageSha256 = createHash('sha256').update(bytes).digest('hex');
    const applied = input.verifyConfidenceThreshold ?? undefined;
    const normalized = {
      ...normalizedStart('LIVENESS_WITH_VERIFY', input),
      verifyConfidenceThreshold: applied ?? null,
      verifyImageSha256,
    };
    return this.startOnce(viewer, input, policy, normalized, requestLog, async () => {
      const created = await refusedIfFlagged(
        this.options.face.createLivenessWithVerifySession({ ...request, verifyImage: bytes, verifyConfidenceThreshold: applied }),
      );
      // The gateway's own hash of the bytes it sent, kept beside the hash Face reports with the attempts.
      const reference = created.verifyReference && { ...created.verifyReference, verifyImageSha256 };
      return this.keep(viewer, 'LIVENESS_WITH_VERIFY', input, policy, request.deviceCorrelationId, { ...created, verifyReference: reference }, requestLog);
    });
  }

  /**
   * The client reports that the device is done: polling starts at once. Reported after the session
   * was decided, there is nothing left to poll, but the report is still the owner's action and goes
   * into the trail (`planCompletion`).
   */
  async complete(viewer: Viewer, id: string, digest?: string | null): Promise<SessionRecord> {
    const session = await this.actable(viewer, id);
    // The rule the session started under: a later change of the tenant's policy does not rewrite it.
    const reportedDigest = checkDigestInput(digest, session.rules?.requireDeviceDigest ?? this.options.requireDeviceDigest);
    if (session.status === 'DELETED' || session.status === 'EXPIRED') {
      throw conflict(`The session is ${session.status.toLowerCase()}; it can no longer be completed.`);
    }
    if (FINAL_STATUSES.has(session.status) && session.completionReportedAt !== undefined) return session;
    const updated = await this.options.sessions.reportCompletion(id, viewer.userId, new Date(this.options.now()), reportedDigest);
    if (!FINAL_STATUSES.has(updated.status)) this.options.polling.completionReported(id);
    return updated;
  }

  /** Revokes the session at Face, then marks it DELETED (deciding it, if undecided, as an ended session). */
  async delete(viewer: Viewer, id: string, requestLog?: Logger): Promise<SessionRecord> {
    const session = await this.actable(viewer, id);
    if (session.status === 'DELETED') return session;
    return this.end(session, viewer.userId, this.logFor(requestLog), 'required');
  }

  /**
   * Ends every session of the user still in progress, on behalf of `actor` (an admin erasing the
   * user's data), as a deletion would: what the device did is recorded first, and the session is
   * decided and marked DELETED, so nothing more is written about it once its owner is erased. Face
   * failing to delete a session does not stop this: its token dies at its expiry, and a decided
   * session is never polled again. Answers how many sessions it ended.
   */
  async endInProgressOf(tenant: string, userId: string, actor: string): Promise<number> {
    const ended = new Set<string>();
    for (;;) {
      const page = await this.options.sessions.list({ kind: 'tenant', tenant }, { userId, statuses: IN_PROGRESS }, IN_PROGRESS_BATCH);
      // Each ended session leaves the listing, so the next page is the next batch; one seen again
      // did not leave it, and is not ended twice.
      const open = page.items.filter((session) => !FINAL_STATUSES.has(session.status) && !ended.has(session.id));
      for (const session of open) {
        await this.end(session, actor, this.options.logger, 'best effort');
        ended.add(session.id);
      }
      if (open.length === 0 || !page.hasNextPage) return ended.size;
    }
  }

  private async end(session: SessionRecord, actor: string, logger: Logger, atFace: 'required' | 'best effort'): Promise<SessionRecord> {
    const { sessions, face, polling } = this.options;
    const { id } = session;
    // Record what the device already did (a result, failed attempts) before Face forgets it; best effort.
    if (!FINAL_STATUSES.has(session.status)) {
      await polling.pollOnce(id, 'interactive').catch((error: unknown) =>
        logger.warn({ sessionId: id, err: error instanceof Error ? error.message : String(error) }, 'could not read the session before deleting it'),
      );
    }
    const deleting = face.deleteSession(session.kind, id);
    await (atFace === 'required'
      ? deleting
      : deleting.catch((error: unknown) =>
          logger.warn({ sessionId: id, err: error instanceof Error ? error.message : String(error) }, 'could not delete the session at Face; its device token lasts until it expires'),
        ));
    polling.cancel(id);
    // Deleted without a result: the same rules as any other ending (failed attempts only: INCONCLUSIVE).
    const [attempts] = await sessions.attemptsFor([id]);
    const now = this.options.now();
    const ending = deriveDecision({
      kind: session.kind,
      faceStatus: 'CANCELED',
      attempts,
      nowMillis: now,
      expiresAtMillis: session.expiresAt.getTime(),
      maxAttempts: session.rules?.maxAttempts ?? this.options.maxAttempts,
    });
    const transition = await sessions.markDeleted(id, actor, new Date(now), ending?.decision ?? { verdict: 'EXPIRED' });
    await this.options.decisions.announce(transition, logger);
    return transition.session;
  }

  /**
   * Runs a checked start under the rate limits, once per idempotency key when one is given. A repeat
   * answered from the key is not counted against the limits: it starts nothing at Face.
   */
  private startOnce(
    viewer: Viewer,
    input: StartSessionInput,
    policy: EffectivePolicy | undefined,
    normalized: object,
    requestLog: Logger | undefined,
    create: () => Promise<StartedSession>,
  ): Promise<StartedSession> {
    const start = async () => {
      await this.options.limits?.sessionStart(viewer, input.deviceCorrelationId ?? undefined, policy);
      return create();
    };
    return this.options.idempotency.once(viewer, input.idempotencyKey, normalized, start, requestLog);
  }

  /** Stores a session Face created; if that fails, deletes it at Face again so nothing is left half-made. */
  private async keep(
    viewer: Viewer,
    kind: SessionKind,
    input: StartSessionInput,
    policy: EffectivePolicy | undefined,
    deviceCorrelationId: string,
    created: CreatedFaceSession,
    requestLog: Logger | undefined,
  ): Promise<StartedSession> {
    const logger = this.logFor(requestLog);
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
      ...(policy && { rules: sessionRules(policy) }),
    };
    try {
      await this.options.sessions.create(record, viewer.userId);
    } catch (error) {
      logger.error({ sessionId: record.id, err: error instanceof Error ? error.message : String(error) }, 'could not store a session Face created; deleting it at Face');
      await this.options.face.deleteSession(kind, record.id).then(
        () => logger.info({ sessionId: record.id }, 'deleted the unstored session at Face'),
        (deleteError: unknown) => logger.error({ sessionId: record.id, err: String(deleteError) }, 'could not delete the unstored session at Face'),
      );
      throw error;
    }
    logger.info({ sessionId: record.id, kind, userId: viewer.userId, tenant: viewer.tenant }, 'session started');
    return { session: record, authToken: created.authToken };
  }

  /** The client's device correlation id, or the one derived for the user (only for callers who may start). */
  private async correlationId(viewer: Viewer, input: StartSessionInput): Promise<string> {
    if (input.deviceCorrelationId != null || !hasRole(viewer, 'USER')) return input.deviceCorrelationId ?? '';
    return this.options.correlationIds.forUser(viewer.tenant, viewer.userId);
  }

  /** The request's logger with this component's name, as the services' own lines have it; else theirs. */
  private logFor(requestLog: Logger | undefined): Logger {
    return requestLog ? requestLog.child({ component: 'sessions' }) : this.options.logger;
  }

  private async actable(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.options.sessions.findById(id);
    if (!session || !canRead(viewer, session)) throw notFound();
    // The caller may see the session (e.g. as an auditor) but not act on it: saying so hides nothing.
    if (!canAct(viewer, session)) throw forbidden();
    return session;
  }
}
