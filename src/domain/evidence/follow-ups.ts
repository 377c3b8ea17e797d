/**
 * What the gateway does at Face once a session is decided, after the decision has been announced (so
 * none of it delays the decision event): fetch the attempts' session images and store them sealed
 * (Face forgets them with the session), then delete the session at Face, which kills its device
 * token. One instance at a time works on a session, under the same lease the poller takes; a run
 * that fails is tried again later with a growing pause, by whichever instance's sweep finds it due.
 * The sweep also deletes images past their retention.
 */
import type { Logger } from '../../observability/logger';
import { SYSTEM_ACTOR, type AuditDraft } from '../audit/audit.model';
import { FaceRequestError, type FacePort } from '../ports/face.port';
import type { EvidenceRepository, SessionRepository } from '../ports/store';
import type { SessionRecord } from '../sessions/session.model';
import { followUpBackoffMillis, type FollowUpRecord } from './evidence.model';
import type { ImageSealer } from './image-sealer';

export interface FollowUpOptions {
  sessions: SessionRepository;
  evidence: EvidenceRepository;
  face: FacePort;
  sealer: ImageSealer;
  logger: Logger;
  now: () => number;
  /** The poll coordinator's instance id: the leases are the same. */
  instanceId: string;
  leaseMillis: number;
  retentionMillis: number;
  /** The first pause after a failed run; it doubles up to `maxRetryMillis`. */
  firstRetryMillis: number;
  maxRetryMillis: number;
}

/** After this many failed runs a follow-up is given up (logged): Face keeps a session 48 hours at most. */
export const MAX_FOLLOW_UP_TRIES = 30;
const SWEEP_BATCH = 100;
/** SIGTERM must finish within 10 s in all; the poll coordinator waits as long for its polls, at the same time. */
const STOP_WAIT_MILLIS = 3_000;

export class FollowUps {
  private readonly running = new Map<string, Promise<void>>();
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: FollowUpOptions) {}

  /** A decision was just stored here: start its follow-up now, if it has one. */
  start(sessionId: string): void {
    if (this.stopped || this.running.has(sessionId)) return;
    const run = this.runOnce(sessionId)
      .catch((error: unknown) => this.options.logger.error({ sessionId, err: describe(error) }, 'follow-up after the decision failed'))
      .finally(() => this.running.delete(sessionId));
    this.running.set(sessionId, run);
  }

  /** Runs the follow-ups that are due (failed runs whose pause is over, or left by a stopped instance) and purges expired images. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Starts nothing more, and waits a little for runs in flight: what a cut-off run left is due again at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    const settled = Promise.allSettled([...this.running.values(), this.sweeping]);
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MILLIS)))]);
    clearTimeout(timer);
  }

  private async sweepOnce(): Promise<void> {
    const { evidence, now } = this.options;
    const at = new Date(now());
    for (const due of await evidence.dueFollowUps(at, SWEEP_BATCH)) {
      if (this.stopped) return;
      this.start(due.sessionId);
    }
    const purged = await evidence.purgeExpired(at, SWEEP_BATCH, (image) => ({
      action: 'EVIDENCE_PURGED',
      actor: SYSTEM_ACTOR,
      sessionId: image.sessionId,
      userId: image.userId,
      attemptId: image.attemptId,
    }));
    if (purged > 0) this.options.logger.info({ images: purged }, 'deleted session images past their retention');
  }

  private async runOnce(sessionId: string): Promise<void> {
    const { sessions, evidence, now, instanceId, leaseMillis } = this.options;
    if (!(await sessions.tryLease(sessionId, instanceId, now(), leaseMillis))) return;
    // Read after the lease: another instance may have finished it in between.
    const [followUp] = await evidence.followUpsFor([sessionId]);
    if (!followUp || followUp.done || followUp.nextAt.getTime() > now()) return;
    const session = await sessions.findById(sessionId);
    if (!session) return;
    try {
      if (followUp.fetchImages && !followUp.imagesDone) {
        await this.storeImages(session);
        await evidence.updateFollowUp(sessionId, { imagesDone: true }, [], new Date(now()));
      }
      if (followUp.deleteAtFace && !followUp.faceDeleted) {
        await sessions.tryLease(sessionId, instanceId, now(), leaseMillis);
        await this.options.face.deleteSession(session.kind, sessionId);
        const audit: AuditDraft = { action: 'FACE_SESSION_DELETED', actor: SYSTEM_ACTOR, sessionId, userId: session.userId };
        await evidence.updateFollowUp(sessionId, { faceDeleted: true, done: true }, [audit], new Date(now()));
      } else {
        await evidence.updateFollowUp(sessionId, { done: true }, [], new Date(now()));
      }
    } catch (error) {
      await this.retryLater(followUp, error);
    }
  }

  /** Fetches and stores each attempt's image not stored yet; an image Face no longer has is logged and skipped. */
  private async storeImages(session: SessionRecord): Promise<void> {
    const { sessions, evidence, face, sealer, now, instanceId, leaseMillis, retentionMillis } = this.options;
    const [attempts] = await sessions.attemptsFor([session.id]);
    const [stored] = await evidence.imagesFor([session.id]);
    const have = new Set(stored.map((image) => image.attemptId));
    for (const attempt of attempts) {
      if (!attempt.sessionImageId || have.has(attempt.attemptId)) continue;
      await sessions.tryLease(session.id, instanceId, now(), leaseMillis);
      let image;
      try {
        image = await face.getSessionImage(attempt.sessionImageId);
      } catch (error) {
        if (error instanceof FaceRequestError && error.httpStatus === 404) {
          this.options.logger.warn({ sessionId: session.id, attemptId: attempt.attemptId }, 'Face no longer has the session image; none is kept');
          continue;
        }
        throw error;
      }
      const at = new Date(now());
      const identity = { tenant: session.tenant, sessionId: session.id, attemptId: attempt.attemptId };
      await evidence.storeImage(
        {
          ...identity,
          userId: session.userId,
          contentType: image.contentType,
          byteLength: image.bytes.length,
          sealed: sealer.seal(image.bytes, identity),
          storedAt: at,
          // The retention of the tenant's policy when the session started; the configured one for older sessions.
          expiresAt: new Date(at.getTime() + (session.rules ? session.rules.evidenceRetentionDays * 86_400_000 : retentionMillis)),
        },
        { action: 'EVIDENCE_STORED', actor: SYSTEM_ACTOR, sessionId: session.id, userId: session.userId, attemptId: attempt.attemptId },
        at,
      );
    }
  }

  private async retryLater(followUp: FollowUpRecord, error: unknown): Promise<void> {
    const { evidence, now, logger, firstRetryMillis, maxRetryMillis } = this.options;
    const tries = followUp.tries + 1;
    const sessionId = followUp.sessionId;
    if (tries >= MAX_FOLLOW_UP_TRIES) {
      logger.error({ sessionId, tries, err: describe(error) }, 'follow-up at Face given up: its images are not kept, or the session was not deleted at Face');
      await evidence.updateFollowUp(sessionId, { tries, done: true }, [], new Date(now()));
      return;
    }
    const nextAt = new Date(now() + followUpBackoffMillis(tries, firstRetryMillis, maxRetryMillis));
    logger.warn({ sessionId, tries, nextAt: nextAt.toISOString(), err: describe(error) }, 'follow-up at Face failed; will retry');
    await evidence.updateFollowUp(sessionId, { tries, nextAt }, [], new Date(now()));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
