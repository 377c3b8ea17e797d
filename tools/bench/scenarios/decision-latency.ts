/**
 * Scenario 3: decision latency. For each session, one after another: start it through the gateway,
 * subscribe to `sessionDecision` over graphql-ws, play the device at the emulator (the device has
 * finished), then report completion; the latency runs from sending `completeLivenessSession` to the
 * arrival of the `next` frame. The emulator counts the Face calls (its `onRequest` hook), so the GETs
 * each decision cost are counted, not inferred. The same loop runs against a gateway on its SQLite
 * file and against one on PostgreSQL + Redis (skipped, and said so, when either does not answer),
 * each with an emulator of its own.
 */
import { print } from 'graphql';
import {
  CompleteLivenessSessionDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  type SessionDecisionSubscription,
} from '../../../client/generated/graphql';
import { playDevice } from '../clients';
import { profileWindow, wantsProfile, type ProfileSummary } from '../cpu-profile';
import type { BenchChild, FaceCallCounts } from '../ipc';
import { check, type ScenarioResult, type TargetCheck } from '../result';
import { startEmulator, startGateway, type BenchRun, type RunningGateway } from '../servers';
import { openSharedServices, type SharedServices } from '../shared-services';
import { count, ms, round, summarize, type LatencySummary } from '../stats';
import { DECISION_LATENCY_P50_MAX_MILLIS, MAX_FACE_GETS_PER_DECISION } from '../targets';
import { GraphQLWsConnection } from '../ws-client';

const EVENT_TIMEOUT_MILLIS = 10_000;

interface Sample {
  latency: number;
  completionRoundTrip: number;
  ok: boolean;
}

interface StoreRun {
  label: string;
  samples: number;
  failed: number;
  latency: LatencySummary;
  completion: LatencySummary;
  calls: FaceCallCounts;
  /** A profile of the loop run once more, when its latency target was missed (or `--cpu-prof`). */
  profile?: ProfileSummary;
}

/** The measured loop against one gateway and its emulator. */
async function measure(run: BenchRun, label: string, gateway: RunningGateway, emulator: BenchChild): Promise<StoreRun> {
  const sizes = run.options.sizes.decision;
  const token = gateway.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });
  const ws = await GraphQLWsConnection.open(gateway.client.graphqlUrl, token);
  try {
    const subscription = print(SessionDecisionDocument);
    const one = async (index: number): Promise<Sample> => {
      const started = await gateway.client.ok(StartLivenessSessionDocument, { input: {} }, token);
      const id = started.startLivenessSession.session.id;
      let timer: NodeJS.Timeout | undefined;
      const event = new Promise<{ payload: { data?: unknown; errors?: unknown[] }; at: number }>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no decision within ${EVENT_TIMEOUT_MILLIS} ms`)), EVENT_TIMEOUT_MILLIS);
        ws.subscribe(`decision-${index}`, subscription, { sessionId: id }, {
          next: (payload, at) => resolve({ payload, at }),
          error: (errors) => reject(new Error(`subscription error: ${JSON.stringify(errors)}`)),
          complete: () => undefined,
        });
      });
      event.catch(() => undefined).finally(() => clearTimeout(timer));
      await ws.roundTrip(); // the server has the subscription before completion is reported
      await playDevice(emulator.url, started.startLivenessSession.authToken);

      const t0 = performance.now();
      const completed = gateway.client.ok(CompleteLivenessSessionDocument, { id }, token).then(() => performance.now());
      try {
        const { payload, at } = await event;
        const done = await completed;
        const verdict = (payload.data as SessionDecisionSubscription | undefined)?.sessionDecision?.verdict;
        return { latency: at - t0, completionRoundTrip: done - t0, ok: !payload.errors?.length && verdict === 'PASS' };
      } catch {
        await completed.catch(() => undefined);
        return { latency: NaN, completionRoundTrip: NaN, ok: false };
      }
    };

    run.log(`decision (${label}): ${sizes.warmupSessions} warm-up sessions`);
    for (let i = 0; i < sizes.warmupSessions; i += 1) await one(-1 - i);
    await emulator.request('reset-face-calls');
    run.log(`decision (${label}): ${sizes.sessions} measured sessions`);
    const samples: Sample[] = [];
    const deadline = Date.now() + 180_000;
    for (let i = 0; i < sizes.sessions && Date.now() < deadline; i += 1) samples.push(await one(i));
    // Let any poll still in flight land before counting.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const calls = await emulator.request('face-calls');
    const good = samples.filter((s) => s.ok);
    return {
      label,
      samples: samples.length,
      failed: samples.length - good.length,
      latency: summarize(good.map((s) => s.latency)),
      completion: summarize(good.map((s) => s.completionRoundTrip)),
      calls,
    };
  } finally {
    await ws.close();
  }
}

async function withGateway(
  run: BenchRun,
  name: string,
  env: Record<string, string>,
  work: (gateway: RunningGateway, emulator: BenchChild) => Promise<StoreRun>,
): Promise<StoreRun> {
  const emulator = await startEmulator(run, `emulator-${name}`);
  try {
    const gateway = await startGateway(run, `gateway-${name}`, { FACE_ENDPOINT: emulator.url, FACE_APIKEY: 'x', ...env });
    try {
      const measured = await work(gateway, emulator);
      if (!wantsProfile(run, measured.latency.p50 <= DECISION_LATENCY_P50_MAX_MILLIS)) return measured;
      const profile = await profileWindow(run, gateway.child, `the loop of ${measured.label} run once more`, () => work(gateway, emulator));
      return { ...measured, profile };
    } finally {
      await gateway.stop();
    }
  } finally {
    await emulator.stop();
  }
}

export async function runDecisionLatency(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.decision;
  const startedAt = performance.now();
  const runs: StoreRun[] = [await withGateway(run, 'decision', {}, (gateway, emulator) => measure(run, 'SQLite', gateway, emulator))];

  let skipped: string | undefined;
  const shared = await openSharedServices('decision');
  if (shared.available) {
    const services: SharedServices = shared.services;
    try {
      const env = { DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, REDIS_CHANNEL_PREFIX: services.channelPrefix };
      runs.push(await withGateway(run, 'decision-pg', env, (gateway, emulator) => measure(run, 'PostgreSQL + Redis', gateway, emulator)));
    } finally {
      await services.drop().catch((error: unknown) => run.log(`decision: could not drop the bench database: ${String(error)}`));
    }
  } else {
    skipped = shared.reason;
    run.log(`decision: PostgreSQL + Redis rows skipped: ${skipped}`);
  }

  const perDecision = (r: StoreRun, n: number) => n / r.samples;
  const targetsOf = (r: StoreRun): TargetCheck[] => {
    const suffix = runs.length > 1 || skipped ? ` (${r.label})` : '';
    return [
      check(`decision latency p50${suffix}`, `<= ${DECISION_LATENCY_P50_MAX_MILLIS} ms`, ms(r.latency.p50), r.latency.p50 <= DECISION_LATENCY_P50_MAX_MILLIS),
      check(`Face POSTs (create) per decision${suffix}`, '1', perDecision(r, r.calls.create).toFixed(2), r.calls.create === r.samples),
      check(`Face GETs per decision${suffix}`, `<= ${MAX_FACE_GETS_PER_DECISION}`, perDecision(r, r.calls.get).toFixed(2), r.calls.get <= MAX_FACE_GETS_PER_DECISION * r.samples),
      check(`sessions without a PASS event${suffix}`, '0', count(r.failed), r.failed === 0),
    ];
  };
  const figuresOf = (r: StoreRun) => ({
    sessions: r.samples,
    failed: r.failed,
    latencyMs: { p50: round(r.latency.p50), p90: round(r.latency.p90), p99: round(r.latency.p99), max: round(r.latency.max), mean: round(r.latency.mean) },
    completionRoundTripMs: { p50: round(r.completion.p50), p90: round(r.completion.p90), p99: round(r.completion.p99) },
    faceCalls: r.calls,
    faceCallsPerDecision: { create: round(perDecision(r, r.calls.create)), get: round(perDecision(r, r.calls.get)), device: round(perDecision(r, r.calls.device)) },
  });
  const [sqlite, postgres] = runs;

  return {
    name: 'decision',
    title: '3. Decision latency (device finished first)',
    method:
      `${sqlite.samples} sessions one after another (after ${sizes.warmupSessions} warm-up) per store: start, subscribe over graphql-ws, ` +
      `device attempt at the emulator, then \`completeLivenessSession\`; latency = completion sent -> \`sessionDecision\` frame received. ` +
      `Once on the gateway's SQLite file, once on PostgreSQL + Redis (a database created for this run; both servers on this machine), each gateway with an emulator of its own. ` +
      `Gateway defaults (POLL_INTERVAL_MS 500, POLL_MAX_INTERVAL_MS 5000); Face calls counted by the emulator's onRequest hook.`,
    seconds: (performance.now() - startedAt) / 1000,
    tables: [
      {
        header: ['store', 'measure', 'p50', 'p90', 'p99', 'max'],
        rows: [
          ...runs.flatMap((r) => [
            [r.label, 'completion sent -> decision event', ms(r.latency.p50), ms(r.latency.p90), ms(r.latency.p99), ms(r.latency.max)],
            [r.label, 'completion sent -> mutation answered', ms(r.completion.p50), ms(r.completion.p90), ms(r.completion.p99), ms(r.completion.max)],
          ]),
          ...(skipped ? [['PostgreSQL + Redis', `skipped: ${skipped}`, '', '', '', '']] : []),
        ],
      },
      {
        header: ['Face calls per decision', ...runs.map((r) => r.label)],
        rows: [
          ['POST create session', ...runs.map((r) => perDecision(r, r.calls.create).toFixed(2))],
          ['GET session (polls)', ...runs.map((r) => perDecision(r, r.calls.get).toFixed(2))],
          ['POST device attempt (the harness, as the phone)', ...runs.map((r) => perDecision(r, r.calls.device).toFixed(2))],
          ['other (DELETE, faults, unknown)', ...runs.map((r) => perDecision(r, r.calls.delete + r.calls.other).toFixed(2))],
        ],
      },
    ],
    targets: runs.flatMap(targetsOf),
    notes: skipped ? [`The PostgreSQL + Redis rows were skipped: ${skipped}.`] : [],
    profiles: runs.flatMap((r) => (r.profile ? [r.profile] : [])),
    figures: {
      ...figuresOf(sqlite),
      ...(postgres ? { postgresRedis: figuresOf(postgres) } : { postgresRedis: { skipped } }),
    },
  };
}
