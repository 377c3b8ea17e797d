/**
 * Scenario 2: `startLivenessSession` through the gateway (FACE_ENDPOINT = a standalone emulator) against
 * the same emulator called directly with our `createAzureFace` (`@azure-rest/ai-vision-face`), one
 * request at a time so that latencies, not queueing, are compared. The gateway's overhead per start is
 * the difference of the p50s. Rounds alternate the two paths; percentiles pool every round.
 */
import { randomUUID } from 'node:crypto';
import { StartLivenessSessionDocument, type StartLivenessSessionMutation } from '../../../client/generated/graphql';
import { createAzureFace } from '../../../src/adapters/face/azure-face';
import { graphqlBody, graphqlHeaders } from '../clients';
import { profileWindow, wantsProfile } from '../cpu-profile';
import { failures, graphqlCheck, loadRound, type LoadRound } from '../load';
import { check, type ScenarioResult } from '../result';
import { startEmulator, startGateway, type BenchRun } from '../servers';
import { count, ms, round, summarize } from '../stats';
import { START_OVERHEAD_MAX_MILLIS } from '../targets';

export async function runStartSession(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.start;
  const startedAt = performance.now();
  const emulator = await startEmulator(run, 'emulator-start');
  const gateway = await startGateway(run, 'gateway-start', { FACE_ENDPOINT: emulator.url, FACE_APIKEY: 'x' }).catch(async (error: unknown) => {
    await emulator.stop();
    throw error;
  });
  try {
    const face = createAzureFace({ endpoint: emulator.url, apiKey: 'x' });
    const faceRequest = () => ({ operationMode: 'PASSIVE' as const, deviceCorrelationId: randomUUID(), authTokenTimeToLiveSeconds: 600, enableSessionImage: false });
    let directFailures = 0;
    const direct = async (n: number): Promise<number[]> => {
      const samples: number[] = [];
      const deadline = Date.now() + 120_000;
      for (let i = 0; i < n && Date.now() < deadline; i += 1) {
        const t0 = performance.now();
        const created = await face.createLivenessSession(faceRequest()).catch(() => undefined);
        samples.push(performance.now() - t0);
        if (!created?.authToken) directFailures += 1;
      }
      return samples;
    };

    const token = gateway.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });
    const load = {
      url: gateway.client.graphqlUrl,
      method: 'POST' as const,
      headers: graphqlHeaders(token),
      body: graphqlBody(StartLivenessSessionDocument, { input: {} }),
      connections: 1,
      check: graphqlCheck((data: StartLivenessSessionMutation) => data.startLivenessSession.authToken.length > 0),
    };
    const viaGateway = (n: number) => loadRound(load, { requests: n, maxSeconds: 120 });

    const directSamples: number[] = [];
    const gatewayRounds: LoadRound[] = [];
    const gatewaySamples: number[] = [];
    let gatewayFaceCreates = 0;
    let gatewayFaceOther = 0;
    for (let r = 0; r < sizes.rounds; r += 1) {
      const gatewayFirst = r % 2 === 1;
      const runDirect = async () => {
        run.log(`start: round ${r + 1}/${sizes.rounds}, direct createAzureFace -> emulator`);
        await direct(sizes.warmupPerPath);
        directSamples.push(...(await direct(sizes.measuredPerPath)));
      };
      const runGateway = async () => {
        run.log(`start: round ${r + 1}/${sizes.rounds}, gateway -> emulator`);
        await viaGateway(sizes.warmupPerPath);
        await emulator.request('reset-face-calls');
        const measured = await viaGateway(sizes.measuredPerPath);
        const calls = await emulator.request('face-calls');
        gatewayFaceCreates += calls.create;
        gatewayFaceOther += calls.get + calls.delete + calls.other;
        gatewayRounds.push(measured);
        gatewaySamples.push(...measured.samples);
      };
      if (gatewayFirst) await runGateway().then(runDirect);
      else await runDirect().then(runGateway);
    }

    const directSummary = summarize(directSamples);
    const gatewaySummary = summarize(gatewaySamples);
    const overheadP50 = gatewaySummary.p50 - directSummary.p50;
    const gatewayResponses = gatewayRounds.reduce((total, m) => total + m.responses, 0);
    const gatewayFailures = gatewayRounds.reduce((total, m) => total + failures(m), 0);
    const createsPerStart = gatewayFaceCreates / gatewayResponses;
    const overheadMet = overheadP50 <= START_OVERHEAD_MAX_MILLIS;
    const profiles = wantsProfile(run, overheadMet)
      ? [await profileWindow(run, gateway.child, `${sizes.measuredPerPath} more starts, one at a time`, () => viaGateway(sizes.measuredPerPath))]
      : [];

    return {
      name: 'start',
      title: '2. `startLivenessSession` against a standalone emulator',
      method:
        `Gateway child with FACE_ENDPOINT=<emulator child>, FACE_APIKEY=x; the same emulator called directly from the harness with \`createAzureFace\` ` +
        `(\`@azure-rest/ai-vision-face\`). One request at a time (autocannon, 1 connection, for the gateway; a sequential loop for the direct calls), ` +
        `${sizes.rounds} round(s) of ${sizes.warmupPerPath} warm-up + ${sizes.measuredPerPath} measured starts per path, order alternating; percentiles over all measured starts.`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          header: ['path', 'starts', 'p50', 'p90', 'p99', 'failed'],
          rows: [
            ['emulator directly (createAzureFace)', count(directSummary.count), ms(directSummary.p50), ms(directSummary.p90), ms(directSummary.p99), count(directFailures)],
            ['through the gateway (GraphQL mutation)', count(gatewaySummary.count), ms(gatewaySummary.p50), ms(gatewaySummary.p90), ms(gatewaySummary.p99), count(gatewayFailures)],
            ['gateway overhead (difference)', '', ms(overheadP50), ms(gatewaySummary.p90 - directSummary.p90), ms(gatewaySummary.p99 - directSummary.p99), ''],
          ],
        },
      ],
      targets: [
        check('gateway overhead per start, p50', `<= ${START_OVERHEAD_MAX_MILLIS} ms`, ms(overheadP50), overheadMet),
        check('Face create calls per start through the gateway', '1', createsPerStart.toFixed(2), createsPerStart === 1 && gatewayFaceOther === 0),
        check('failed starts (non-2xx, GraphQL errors, Face errors)', '0', count(gatewayFailures + directFailures), gatewayFailures + directFailures === 0),
      ],
      notes: [],
      profiles,
      figures: {
        direct: { ...roundSummary(directSummary), failures: directFailures },
        gateway: { ...roundSummary(gatewaySummary), failures: gatewayFailures, faceCreates: gatewayFaceCreates, otherFaceCalls: gatewayFaceOther },
        overheadMs: { p50: round(overheadP50), p90: round(gatewaySummary.p90 - directSummary.p90), p99: round(gatewaySummary.p99 - directSummary.p99) },
      },
    };
  } finally {
    await gateway.stop();
    await emulator.stop();
  }
}

function roundSummary(summary: ReturnType<typeof summarize>) {
  return { count: summary.count, p50Ms: round(summary.p50), p90Ms: round(summary.p90), p99Ms: round(summary.p99), meanMs: round(summary.mean) };
}
