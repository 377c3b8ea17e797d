/**
 * Scenario 6: two gateway instances, A and B, on one PostgreSQL database and one Redis (both on this
 * machine), sharing a standalone Face emulator. One session is started on A, its subscribers are on
 * B; its device is played and its completion reported to A, which polls Face and decides; B's
 * subscribers hear the decision through Redis. Timed as scenario 4's delivery (`delivery.ts`): from
 * the decision stored (A's "decision reached" log line) to the first and the last frame arriving from
 * B, repeated on new sessions. POLL_MAX_INTERVAL_MS=600000 on both, so B's slow fallback poll for its
 * subscribers cannot decide the session before its completion, and EXPIRY_SWEEP_INTERVAL_MS=600000,
 * so B's sweeper does not take over a session A is deciding. Skipped, and said so, when PostgreSQL or
 * Redis does not answer.
 */
import { randomBytes } from 'node:crypto';
import { inParallel } from '../clients';
import { measureDeliveries, type Delivery } from '../delivery';
import { check, type ScenarioResult } from '../result';
import { startEmulator, startGateway, type BenchRun, type RunningGateway } from '../servers';
import { openSharedServices, type SharedServices } from '../shared-services';
import { count, median, ms, round } from '../stats';
import { GraphQLWsConnection } from '../ws-client';

const TITLE = '6. Two instances on PostgreSQL + Redis: one decision on A to the subscribers of its session on B';

export async function runClusterFanOut(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.cluster;
  const subscribers = sizes.sockets * sizes.subscriptionsPerSocket;
  const startedAt = performance.now();
  const method =
    `One session started on instance A; ${count(subscribers)} \`sessionDecision\` subscriptions to it on instance B, over ${count(sizes.sockets)} graphql-ws sockets x ${sizes.subscriptionsPerSocket}; ` +
    `its device played, then its completion reported to A; ${sizes.repetitions} repetitions after one uncounted, a new session each. ` +
    `Both instances on one PostgreSQL database (created for this run) and one Redis (a channel prefix of this run), one standalone emulator; ` +
    `POLL_MAX_INTERVAL_MS=600000 and EXPIRY_SWEEP_INTERVAL_MS=600000 (B neither falls back to polling nor sweeps up A's session). ` +
    `From the decision stored (A's "decision reached" log line, ms resolution) to the first and the last frame arriving from B (wall clocks of one machine).`;

  const shared = await openSharedServices('cluster');
  if (!shared.available) {
    run.log(`cluster: skipped: ${shared.reason}`);
    return {
      name: 'cluster',
      title: TITLE,
      method,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [],
      targets: [check('two-instance delivery', 'runs when PostgreSQL and Redis answer', `skipped: ${shared.reason}`, undefined)],
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
      IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64'),
    };
    const a = await startGateway(run, 'gateway-cluster-a', env);
    gateways.push(a);
    const b = await startGateway(run, 'gateway-cluster-b', env);
    gateways.push(b);
    const token = a.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });

    run.log(`cluster: ${sizes.sockets} sockets x ${sizes.subscriptionsPerSocket} subscriptions on B, ${sizes.repetitions} decisions on A`);
    sockets.push(...(await inParallel(Array.from({ length: sizes.sockets }), 10, () => GraphQLWsConnection.open(b.client.graphqlUrl, token))));
    const deliveries = await measureDeliveries(
      { decider: a, instances: [a.child, b.child], emulator, sockets, subscriptionsPerSocket: sizes.subscriptionsPerSocket, token },
      sizes.repetitions,
    );
    const p50 = (pick: (d: Delivery) => number) => median(deliveries.map(pick));
    const problems = deliveries.reduce((sum, d) => sum + d.problems, 0);
    const onA = deliveries.filter((d) => d.storedBy === a.child.name).length;
    const cpu = (d: Delivery, instance: RunningGateway) => d.cpuMillis[instance.child.name] ?? NaN;
    const figuresOf = (d: Delivery) => [d.completionToStoredMillis, d.storedToFirstFrameMillis, d.storedToLastFrameMillis, cpu(d, a), cpu(d, b)];
    const row = (label: string, figures: number[]) => [label, ...figures.map(ms)];

    return {
      name: 'cluster',
      title: TITLE,
      method,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          caption: `One decision stored by A to the ${count(subscribers)} subscribers of its session on B`,
          header: ['repetition', 'completion sent -> stored', 'stored -> first frame', 'stored -> last frame', 'CPU of A, completion sent -> last frame', 'CPU of B, same window'],
          rows: [
            ...deliveries.map((d, r) => row(String(r + 1), figuresOf(d))),
            row('p50', [0, 1, 2, 3, 4].map((column) => p50((d) => figuresOf(d)[column]))),
          ],
        },
      ],
      targets: [
        check(
          `one decision on A to ${count(subscribers)} subscribers on B: stored -> last frame, p50 of ${deliveries.length}`,
          'no figure set',
          `${ms(p50((d) => d.storedToLastFrameMillis))} (first frame ${ms(p50((d) => d.storedToFirstFrameMillis))})`,
          undefined,
        ),
        check('events missing, wrong, duplicated, early or failed', '0', count(problems), problems === 0),
        check('decisions stored by A, which was told of the completion', `${deliveries.length}`, `${onA} (B: ${deliveries.length - onA})`, onA === deliveries.length),
      ],
      notes: [],
      figures: {
        subscribersOnB: subscribers,
        sockets: sizes.sockets,
        subscriptionsPerSocket: sizes.subscriptionsPerSocket,
        repetitions: deliveries.map((d) => ({
          completionToStoredMs: round(d.completionToStoredMillis),
          storedToFirstFrameMs: round(d.storedToFirstFrameMillis),
          storedToLastFrameMs: round(d.storedToLastFrameMillis),
          cpuMsOfA: round(cpu(d, a)),
          cpuMsOfB: round(cpu(d, b)),
          storedBy: d.storedBy,
          problems: d.problems,
        })),
        storedToFirstFrameP50Ms: round(p50((d) => d.storedToFirstFrameMillis)),
        storedToLastFrameP50Ms: round(p50((d) => d.storedToLastFrameMillis)),
      },
    };
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await emulator.stop();
    await services.drop().catch((error: unknown) => run.log(`cluster: could not drop the bench database: ${String(error)}`));
  }
}
