/**
 * Scenario 3: decision latency. For each session, one after another: start it through the gateway,
 * subscribe to `sessionDecision` over graphql-ws, play the device at the emulator (the device has
 * finished), then report completion; the latency runs from sending `completeLivenessSession` to the
 * arrival of the `next` frame. The emulator counts the Face calls (its `onRequest` hook), so the GETs
 * each decision cost are counted, not inferred.
 */
import { print } from 'graphql';
import {
  CompleteLivenessSessionDocument,
  SessionDecisionDocument,
  StartLivenessSessionDocument,
  type SessionDecisionSubscription,
} from '../../client/generated/graphql';
import { playDevice } from '../clients';
import { check, type ScenarioResult } from '../result';
import { startEmulator, startGateway, type BenchRun } from '../servers';
import { count, ms, round, summarize } from '../stats';
import { GraphQLWsConnection } from '../ws-client';

const P50_TARGET_MILLIS = 50;
const MAX_GETS_PER_DECISION = 2;
const EVENT_TIMEOUT_MILLIS = 10_000;

interface Sample {
  latency: number;
  completionRoundTrip: number;
  ok: boolean;
}

export async function runDecisionLatency(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.decision;
  const startedAt = performance.now();
  const emulator = await startEmulator(run, 'emulator-decision');
  const gateway = await startGateway(run, 'gateway-decision', { FACE_ENDPOINT: emulator.url, FACE_APIKEY: 'x' }).catch(async (error: unknown) => {
    await emulator.stop();
    throw error;
  });
  let socket: GraphQLWsConnection | undefined;
  try {
    const token = gateway.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });
    const ws = (socket = await GraphQLWsConnection.open(gateway.client.graphqlUrl, token));
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

    run.log(`decision: ${sizes.warmupSessions} warm-up sessions`);
    for (let i = 0; i < sizes.warmupSessions; i += 1) await one(-1 - i);
    await emulator.request('reset-face-calls');
    run.log(`decision: ${sizes.sessions} measured sessions`);
    const samples: Sample[] = [];
    const deadline = Date.now() + 180_000;
    for (let i = 0; i < sizes.sessions && Date.now() < deadline; i += 1) samples.push(await one(i));
    // Let any poll still in flight land before counting.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const calls = await emulator.request('face-calls');

    const good = samples.filter((s) => s.ok);
    const latency = summarize(good.map((s) => s.latency));
    const completion = summarize(good.map((s) => s.completionRoundTrip));
    const failed = samples.length - good.length;
    const perDecision = (n: number) => n / samples.length;

    return {
      name: 'decision',
      title: '3. Decision latency (device finished first)',
      method:
        `${samples.length} sessions one after another (after ${sizes.warmupSessions} warm-up): start, subscribe over graphql-ws, ` +
        `device attempt at the emulator, then \`completeLivenessSession\`; latency = completion sent -> \`sessionDecision\` frame received. ` +
        `Gateway defaults (POLL_INTERVAL_MS 500, POLL_MAX_INTERVAL_MS 5000); Face calls counted by the emulator's onRequest hook.`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          header: ['measure', 'p50', 'p90', 'p99', 'max'],
          rows: [
            ['completion sent -> decision event', ms(latency.p50), ms(latency.p90), ms(latency.p99), ms(latency.max)],
            ['completion sent -> mutation answered', ms(completion.p50), ms(completion.p90), ms(completion.p99), ms(completion.max)],
          ],
        },
        {
          header: ['Face calls per decision', 'count'],
          rows: [
            ['POST create session', perDecision(calls.create).toFixed(2)],
            ['GET session (polls)', perDecision(calls.get).toFixed(2)],
            ['POST device attempt (the harness, as the phone)', perDecision(calls.device).toFixed(2)],
            ['other (DELETE, faults, unknown)', perDecision(calls.delete + calls.other).toFixed(2)],
          ],
        },
      ],
      targets: [
        check('decision latency p50', `<= ${P50_TARGET_MILLIS} ms`, ms(latency.p50), latency.p50 <= P50_TARGET_MILLIS),
        check('Face POSTs (create) per decision', '1', perDecision(calls.create).toFixed(2), calls.create === samples.length),
        check('Face GETs per decision', `<= ${MAX_GETS_PER_DECISION}`, perDecision(calls.get).toFixed(2), calls.get <= MAX_GETS_PER_DECISION * samples.length),
        check('sessions without a PASS event', '0', count(failed), failed === 0),
      ],
      notes: [],
      figures: {
        sessions: samples.length,
        failed,
        latencyMs: { p50: round(latency.p50), p90: round(latency.p90), p99: round(latency.p99), max: round(latency.max), mean: round(latency.mean) },
        completionRoundTripMs: { p50: round(completion.p50), p90: round(completion.p90), p99: round(completion.p99) },
        faceCalls: calls,
        faceCallsPerDecision: { create: round(perDecision(calls.create)), get: round(perDecision(calls.get)), device: round(perDecision(calls.device)) },
      },
    };
  } finally {
    await socket?.close();
    await gateway.stop();
    await emulator.stop();
  }
}
