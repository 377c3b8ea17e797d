/**
 * The session services, built together: commands and queries for callers, the decision bus that
 * carries decisions to subscribers, and the poll coordinator that reaches them. The composition root
 * builds them here so that it needs to know none of their wiring.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../observability/logger';
import { FollowUps, type FollowUpOptions } from '../evidence/follow-ups';
import type { Metrics } from '../../observability/metrics';
import { noticingAppends } from '../audit/feed-notices';
import { DecisionBus } from '../decisions/decision-bus';
import { processLocalIdempotency, type IdempotencyService } from '../idempotency/idempotency.service';
import type { RateLimits } from '../limits/limits';
import type { CursorCodec } from '../pagination';
import { PollCoordinator } from '../polling/poll-coordinator';
import type { FacePort } from '../ports/face.port';
import type { PubSub } from '../ports/pubsub';
import type { Store } from '../ports/store';
import { DeviceCorrelationIds } from './device-correlation';
import { MAX_ATTEMPTS } from './decision';
import { SessionCommands, type SessionCommandsOptions } from './session-commands';
import { SessionQueries } from './session-queries';

export interface SessionServicesOptions {
  store: Store;
  face: FacePort;
  pubsub: PubSub;
  logger: Logger;
  /** Milliseconds since epoch; injectable so tests can move time past an expiry. */
  now: () => number;
  pollIntervalMillis: number;
  pollMaxIntervalMillis: number;
  expirySweepIntervalMillis: number;
  /** Limits on session starts per user and per device; absent: none (services built by hand in a tool or test). */
  limits?: RateLimits;
  /** Who this instance is, in session leases; default a random id per process. */
  instanceId?: string;
  /** How long a poll lease lasts; see `PollCoordinatorOptions`. Default 15 s. */
  sessionLeaseMillis?: number;
  /**
   * Idempotent starts; absent: one over `store.idempotency` sealing with a key made up for this
   * process (the gateway passes one keyed from the configuration).
   */
  idempotency?: IdempotencyService;
  /** Counts the decisions this instance reaches, by verdict. */
  metrics?: Pick<Metrics, 'decision'>;
  /** Signs the listing's cursors; absent: a key made up for these services (the gateway passes one from the configuration). */
  cursors?: CursorCodec;
  /** Told the tenant after each write that may have appended audit events, once it has committed (the live audit feed). */
  onAuditAppended?: (tenant: string) => void;
  /** Derives users' device correlation ids; absent: a key made up for these services. */
  deviceCorrelationKey?: Buffer;
  /** Failed attempts that end a session; default 3, as Face. */
  maxAttempts?: number;
  /** Whether completions must carry the device's digest; default false. */
  requireDeviceDigest?: boolean;
  /** The tenant policies starts are held to; absent: the configured defaults for every tenant. */
  policies?: SessionCommandsOptions['policies'];
  /** Fetching session images and deleting sessions at Face after decisions; absent: neither happens. */
  evidence?: Omit<FollowUpOptions, 'sessions' | 'evidence' | 'face' | 'logger' | 'now' | 'instanceId' | 'leaseMillis' | 'firstRetryMillis' | 'maxRetryMillis'> & {
    deleteAtFace: boolean;
  };
}

export interface SessionServices {
  commands: SessionCommands;
  queries: SessionQueries;
  decisions: DecisionBus;
  polling: PollCoordinator;
  correlations: DeviceCorrelationIds;
  /** What follows decisions at Face; absent when not configured. */
  followUps?: FollowUps;
  /** Resumes polls left by a restart, listens to the other instances, and starts the expiry sweeper. */
  startBackgroundWork(): Promise<void>;
  /** Stops polling (waiting a little for polls in flight) and hands this instance's leases to the others. */
  stop(): Promise<void>;
}

export function createSessionServices(options: SessionServicesOptions): SessionServices {
  const { store, face, pubsub, logger, now } = options;
  const sessions = options.onAuditAppended ? noticingAppends(store.sessions, options.onAuditAppended) : store.sessions;
  const decisions: DecisionBus = new DecisionBus({
    pubsub,
    sessions,
    logger,
    metrics: options.metrics,
    fallbackPoll: (sessionId) => polling.watch(sessionId),
  });
  const instanceId = options.instanceId ?? randomUUID();
  const leaseMillis = options.sessionLeaseMillis ?? 15_000;
  const followUps =
    options.evidence &&
    new FollowUps({
      ...options.evidence,
      sessions,
      evidence: store.evidence,
      face,
      logger,
      now,
      instanceId,
      leaseMillis,
      firstRetryMillis: options.pollIntervalMillis,
      maxRetryMillis: options.pollMaxIntervalMillis * 60,
    });
  const polling: PollCoordinator = new PollCoordinator({
    sessions,
    face,
    pubsub,
    decisions,
    logger,
    now,
    pollIntervalMillis: options.pollIntervalMillis,
    pollMaxIntervalMillis: options.pollMaxIntervalMillis,
    expirySweepIntervalMillis: options.expirySweepIntervalMillis,
    instanceId,
    sessionLeaseMillis: leaseMillis,
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
    followUps: followUps && {
      deleteAtFace: options.evidence?.deleteAtFace ?? false,
      start: (id) => followUps.start(id),
      sweep: () => followUps.sweep(),
    },
  });
  const correlations = new DeviceCorrelationIds(store.correlations, options.deviceCorrelationKey, now);
  const idempotency =
    options.idempotency ??
    processLocalIdempotency({ repository: store.idempotency, logger, now, findSession: (id) => sessions.findById(id) });
  return {
    commands: new SessionCommands({
      sessions,
      face,
      logger,
      now,
      idempotency,
      polling,
      decisions,
      limits: options.limits,
      correlationIds: correlations,
      maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
      requireDeviceDigest: options.requireDeviceDigest ?? false,
      policies: options.policies,
    }),
    queries: new SessionQueries({ sessions, decisions, cursors: options.cursors }),
    decisions,
    polling,
    correlations,
    followUps,
    startBackgroundWork: () => polling.start(),
    stop: async () => {
      await Promise.all([polling.stop(), followUps?.stop()]);
    },
  };
}
