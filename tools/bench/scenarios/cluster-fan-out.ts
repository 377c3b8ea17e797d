/**
 * Scenario 6: two gateway instances, A and B, on one PostgreSQL database and one Redis (both on this
 * machine), sharing a standalone Face emulator. N sessions are started on A; K x P `sessionDecision`
 * subscriptions to them are opened on B (spread evenly); every device is played; then every completion
 * is reported to A, which polls Face and decides (completion reported on an instance makes that
 * instance poll at once), and B's subscribers hear each decision through Redis.
 *
 * The clock is scenario 4's: from the first decision stored (A's "decision reached" log line, written
 * as the storing transaction commits) to the last event arriving at a subscriber on B (this process's
 * wall clock), with the rate
 * at which completions become decisions reported apart. Which instance reached each decision is
 * counted from the instances' own "decision reached" log lines. POLL_MAX_INTERVAL_MS=600000 on both,
 * so B's slow fallback poll for its subscribers cannot decide a session before its completion, and
 * EXPIRY_SWEEP_INTERVAL_MS=600000, so B's sweeper does not take over sessions A has not polled yet
 * (completions reported but not decided look orphaned to it while A works through its backlog).
 * Skipped, and said so, when PostgreSQL or Redis does not answer.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { CompleteLivenessSessionDocument, StartLivenessSessionDocument } from '../../../client/generated/graphql';
import { inParallel, playDevice } from '../clients';
import { completeAndAwaitEveryone, subscribeEveryone } from '../fan-out';
import { decisionsStored } from '../gateway-log';
import type { BenchChild } from '../ipc';
import { check, type ScenarioResult } from '../result';
import { startEmulator, startGateway, type BenchRun, type RunningGateway } from '../servers';
import { openSharedServices, type SharedServices } from '../shared-services';
import { count, ms, round, summarize } from '../stats';
import { GraphQLWsConnection } from '../ws-client';

const FAN_OUT_TIMEOUT_MILLIS = 60_000;
const TITLE = '6. Two instances on PostgreSQL + Redis: decisions reached on A, delivered to subscribers on B';
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** "decision reached" lines an instance has logged so far. */
function decisionsLogged(child: BenchChild): number {
  try {
    return fs.readFileSync(child.logFile, 'utf8').split('\n').filter((line) => line.includes('"msg":"decision reached"')).length;
  } catch {
    return NaN;
  }
}

export async function runClusterFanOut(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.cluster;
  const total = sizes.sockets * sizes.subscriptionsPerSocket;
  const startedAt = performance.now();
  const method =
    `${count(sizes.sessions)} sessions started on instance A; ${count(total)} \`sessionDecision\` subscriptions to them (${count(total / sizes.sessions)} each) on instance B, ` +
    `over ${sizes.sockets} graphql-ws sockets x ${sizes.subscriptionsPerSocket}; every device played, then every completion reported to A (32 in flight). ` +
    `Both instances on one PostgreSQL database (created for this run) and one Redis (a channel prefix of this run), one standalone emulator; ` +
    `POLL_MAX_INTERVAL_MS=600000 and EXPIRY_SWEEP_INTERVAL_MS=600000 (B neither falls back to polling nor sweeps up A's backlog). Fan-out: from the first decision stored (A's "decision reached" log line) to the last event arriving on B (wall clocks of one machine).`;

  const shared = await openSharedServices('cluster');
  if (!shared.available) {
    run.log(`cluster: skipped: ${shared.reason}`);
    return {
      name: 'cluster',
      title: TITLE,
      method,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [],
      targets: [check('two-instance fan-out', 'runs when PostgreSQL and Redis answer', `skipped: ${shared.reason}`, undefined)],
      notes: [`Skipped: ${shared.reason}.`],
      figures: { skipped: shared.reason },
    };
  }
  const services: SharedServices = shared.services;
  const emulator = await startEmulator(run, 'emulator-cluster');
  const gateways: RunningGateway[] = [];
  const sockets: GraphQLWsConnection[] = [];
  try {
    const env = {
      FACE_ENDPOINT: emulator.url,
      FACE_APIKEY: 'x',
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: services.redisUrl,
      REDIS_CHANNEL_PREFIX: services.channelPrefix,
      POLL_MAX_INTERVAL_MS: '600000',
      EXPIRY_SWEEP_INTERVAL_MS: '600000',
      JWT_SECRET: randomBytes(32).toString('hex'),
      IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'),
    };
    const a = await startGateway(run, 'gateway-cluster-a', env);
    gateways.push(a);
    const b = await startGateway(run, 'gateway-cluster-b', env);
    gateways.push(b);
    const token = a.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });

    run.log(`cluster: starting ${sizes.sessions} sessions on A`);
    const sessions = await inParallel(Array.from({ length: sizes.sessions }), 8, async () => {
      const started = await a.client.ok(StartLivenessSessionDocument, { input: {} }, token);
      return { id: started.startLivenessSession.session.id, authToken: started.startLivenessSession.authToken };
    });

    run.log(`cluster: ${sizes.sockets} sockets x ${sizes.subscriptionsPerSocket} subscriptions on B`);
    sockets.push(...(await inParallel(Array.from({ length: sizes.sockets }), 10, () => GraphQLWsConnection.open(b.client.graphqlUrl, token))));
    const tally = subscribeEveryone(sockets, sessions, sizes.subscriptionsPerSocket);
    const { arrivals, decidedAt, sessionOf } = tally;
    await Promise.all(sockets.map((socket) => socket.roundTrip()));
    await sleep(500);
    const earlyEvents = tally.received;

    run.log('cluster: device attempts, then completions on A');
    await inParallel(sessions, 16, (session) => playDevice(emulator.url, session.authToken));
    await emulator.request('reset-face-calls');
    const decidedBefore = { a: decisionsLogged(a.child), b: decisionsLogged(b.child) };
    const { completionsDone, completionFailures, everyoneInTime: complete } = await completeAndAwaitEveryone(
      tally,
      sessions,
      (id) => a.client.ok(CompleteLivenessSessionDocument, { id }, token),
      FAN_OUT_TIMEOUT_MILLIS,
    );
    await sleep(250); // the last log lines reach the files
    const calls = await emulator.request('face-calls');
    const decidedOn = { a: decisionsLogged(a.child) - decidedBefore.a, b: decisionsLogged(b.child) - decidedBefore.b };

    const wall = (at: number) => performance.timeOrigin + at;
    const lastArrival = Array.from(arrivals).reduce((m, at) => (Number.isNaN(at) ? m : Math.max(m, at)), -Infinity);
    const logged = new Map([...decisionsStored(b.child), ...decisionsStored(a.child)]);
    const storedAt = sessions.map((session, index) => logged.get(session.id) ?? decidedAt[index]);
    const decisionTimes = storedAt.filter((at) => !Number.isNaN(at));
    const firstDecision = Math.min(...decisionTimes);
    const lastDecision = Math.max(...decisionTimes);
    const fanOut = wall(lastArrival) - firstDecision;
    const decisionSpan = lastDecision - firstDecision;
    const decisionsPerSecond = decisionSpan > 0 ? (decisionTimes.length - 1) / (decisionSpan / 1000) : NaN;
    const lastPerSession = new Map<number, number>();
    arrivals.forEach((at, index) => {
      if (!Number.isNaN(at)) lastPerSession.set(sessionOf[index], Math.max(lastPerSession.get(sessionOf[index]) ?? -Infinity, at));
    });
    const decisionToSubscribers = summarize([...lastPerSession.entries()].map(([session, at]) => wall(at) - storedAt[session]));
    const problems = total - tally.received + tally.wrong + tally.duplicates + earlyEvents + tally.failed + completionFailures;

    return {
      name: 'cluster',
      title: TITLE,
      method,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          caption: 'Fan-out across instances: decisions stored by A, events on B',
          header: ['measure', 'time'],
          rows: [
            [`first decision stored -> all ${count(total)} subscribers on B have their event`, complete ? ms(fanOut) : `not within ${FAN_OUT_TIMEOUT_MILLIS / 1000} s (${count(tally.received)} did)`],
            ['last decision stored -> all subscribers on B have their event', complete ? ms(wall(lastArrival) - lastDecision) : 'n/a'],
            [
              `one decision stored -> the last of its ${count(total / sizes.sessions)} subscribers on B (p50 / p99 / max)`,
              `${ms(decisionToSubscribers.p50)} / ${ms(decisionToSubscribers.p99)} / ${ms(decisionToSubscribers.max)}`,
            ],
          ],
        },
        {
          caption: 'Completions -> decisions (throughput)',
          header: ['measure', 'value'],
          rows: [
            [`all ${count(sizes.sessions)} completions answered by A, from the first sent`, `${ms(completionsDone)} (${count(sizes.sessions / (completionsDone / 1000))} completions/s)`],
            [`${count(decisionTimes.length)} decisions stored, first -> last`, `${ms(decisionSpan)} (${count(decisionsPerSecond)} decisions/s)`],
            ['decisions reached on A / on B (their "decision reached" log lines)', `${count(decidedOn.a)} / ${count(decidedOn.b)}`],
            ['Face GETs per decision', (calls.get / sizes.sessions).toFixed(2)],
          ],
        },
      ],
      targets: [
        check(
          `all ${count(total)} subscribers on B have their event (from the first decision stored on A)`,
          'no figure set',
          complete ? `${ms(fanOut)} (decisions stored at ${count(decisionsPerSecond)}/s)` : 'not all',
          undefined,
        ),
        check('events missing, wrong, duplicated, early or failed; completions failed', '0', count(problems), tally.received === total && problems === 0),
        check('decisions reached on A', `${count(sizes.sessions)}`, `${count(decidedOn.a)} (B: ${count(decidedOn.b)})`, decidedOn.a === sizes.sessions),
      ],
      notes: [],
      figures: {
        sessions: sizes.sessions,
        subscriptionsOnB: total,
        fanOutMs: {
          firstDecisionToAllEvents: complete ? round(fanOut) : null,
          lastDecisionToAllEvents: complete ? round(wall(lastArrival) - lastDecision) : null,
          decisionToItsSubscribers: { p50: round(decisionToSubscribers.p50), p99: round(decisionToSubscribers.p99), max: round(decisionToSubscribers.max) },
        },
        throughput: {
          completionsAnsweredMs: round(completionsDone),
          decisionsStoredSpanMs: round(decisionSpan),
          decisionsPerSecond: round(decisionsPerSecond, 1),
        },
        decidedOn,
        received: tally.received,
        wrong: tally.wrong,
        duplicates: tally.duplicates,
        earlyEvents,
        failedSubscriptions: tally.failed,
        completionFailures,
        faceCalls: calls,
      },
    };
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await emulator.stop();
    await services.drop().catch((error: unknown) => run.log(`cluster: could not drop the bench database: ${String(error)}`));
  }
}
