/**
 * Scenario 1: `session(id)` over HTTP with a real JWT and a stored (decided) session, against two
 * anchors serving the same response JSON: raw node:http, and bare Apollo Server 5 with a static
 * resolver. Rounds alternate the order of the three targets; each figure is the median of its rounds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CompleteLivenessSessionDocument, SessionDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { eventually, graphqlBody, graphqlHeaders, playDevice } from '../clients';
import type { BenchChild } from '../ipc';
import { failures, graphqlCheck, warmAndMeasure, type LoadRound } from '../load';
import { check, type ScenarioResult } from '../result';
import { startAnchor, startGateway, type BenchRun } from '../servers';
import { count, median, ms, ratio, round } from '../stats';

interface Target {
  key: 'raw' | 'apollo' | 'gateway';
  label: string;
  url: string;
}

export async function runSessionQuery(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.query;
  const startedAt = performance.now();
  const gateway = await startGateway(run, 'gateway-query', { FACE_EMULATOR: 'true' });
  const anchors: BenchChild[] = [];
  try {
    // A stored session with an attempt and a decision, read by its owner with a real JWT.
    const token = gateway.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });
    const started = await gateway.client.ok(StartLivenessSessionDocument, { input: {} }, token);
    const id = started.startLivenessSession.session.id;
    await playDevice(gateway.child.ready.emulatorUrl ?? '', started.startLivenessSession.authToken);
    await gateway.client.ok(CompleteLivenessSessionDocument, { id }, token);
    await eventually('the session decided', async () => {
      const data = await gateway.client.ok(SessionDocument, { id }, token);
      return data.session?.decision ? data : undefined;
    });

    const recorded = await gateway.client.raw(SessionDocument, { id }, token);
    if (recorded.status !== 200) throw new Error(`session(id) answered ${recorded.status}: ${recorded.body.slice(0, 300)}`);
    const recordedData = JSON.stringify((JSON.parse(recorded.body) as { data: unknown }).data);
    const responseFile = path.join(run.runDir, 'session-response.json');
    fs.writeFileSync(responseFile, recorded.body);

    const raw = await startAnchor(run, 'raw', { ANCHOR_RESPONSE_FILE: responseFile, ANCHOR_CONTENT_TYPE: recorded.contentType });
    anchors.push(raw);
    const apollo = await startAnchor(run, 'apollo', { ANCHOR_RESPONSE_FILE: responseFile, ANCHOR_SCHEMA_FILE: path.join(run.options.root, 'schema.graphql') });
    anchors.push(apollo);

    const targets: Target[] = [
      { key: 'raw', label: 'raw node:http', url: `${raw.url}/graphql` },
      { key: 'apollo', label: 'bare Apollo Server 5', url: `${apollo.url}/graphql` },
      { key: 'gateway', label: 'gateway', url: gateway.client.graphqlUrl },
    ];
    const body = graphqlBody(SessionDocument, { id });
    const headers = graphqlHeaders(token);
    // Every response must carry exactly the recorded data: the anchors serve the same JSON.
    const sameData = graphqlCheck((data: unknown) => JSON.stringify(data) === recordedData);
    for (const target of targets) {
      const answer = await fetch(target.url, { method: 'POST', headers, body });
      const text = await answer.text();
      if (answer.status !== 200 || !sameData(text)) throw new Error(`${target.label} does not serve the recorded response: ${answer.status} ${text.slice(0, 300)}`);
    }

    const rounds: Record<Target['key'], LoadRound[]> = { raw: [], apollo: [], gateway: [] };
    for (let r = 0; r < sizes.rounds; r += 1) {
      // Rotate the order so no target always runs first (or last) on a machine that warms and cools.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]);
      for (const target of order) {
        run.log(`query: round ${r + 1}/${sizes.rounds}, ${target.label}`);
        const { measured } = await warmAndMeasure(
          { url: target.url, method: 'POST', headers, body, connections: sizes.connections, check: sameData },
          { seconds: sizes.warmupSeconds, maxSeconds: sizes.warmupSeconds + 10 },
          { seconds: sizes.measuredSeconds, maxSeconds: sizes.measuredSeconds + 10 },
        );
        rounds[target.key].push(measured);
      }
    }

    const figure = (key: Target['key']) => ({
      rps: median(rounds[key].map((m) => m.rps)),
      p50: median(rounds[key].map((m) => m.latency.p50)),
      p99: median(rounds[key].map((m) => m.latency.p99)),
      responses: rounds[key].reduce((total, m) => total + m.responses, 0),
      failures: rounds[key].reduce((total, m) => total + failures(m), 0),
    });
    const figures = { raw: figure('raw'), apollo: figure('apollo'), gateway: figure('gateway') };
    const rpsVsApollo = figures.gateway.rps / figures.apollo.rps;
    const p99VsApollo = figures.gateway.p99 / figures.apollo.p99;
    const anyFailure = Object.values(figures).some((f) => f.failures > 0);

    return {
      name: 'query',
      title: '1. `session(id)` over HTTP',
      method:
        `The \`Session\` query (src/client/operations) for one stored, decided session, read by its owner with a real HS256 JWT; ` +
        `the anchors serve the very response JSON the gateway served (checked on every response). autocannon, ${sizes.connections} connections, ` +
        `${sizes.rounds} round(s) of ${sizes.warmupSeconds} s warm-up + ${sizes.measuredSeconds} s measured per target, order rotated per round; medians of the rounds.`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          header: ['target', 'rps', 'p50', 'p99', 'responses checked', 'failed'],
          rows: targets.map((t) => [t.label, count(figures[t.key].rps), ms(figures[t.key].p50), ms(figures[t.key].p99), count(figures[t.key].responses), count(figures[t.key].failures)]),
        },
        {
          header: ['ratio', 'value'],
          rows: [
            ['gateway rps / bare Apollo rps', ratio(rpsVsApollo)],
            ['gateway p99 / bare Apollo p99', ratio(p99VsApollo)],
            ['gateway rps / raw node:http rps', ratio(figures.gateway.rps / figures.raw.rps)],
            ['bare Apollo rps / raw node:http rps', ratio(figures.apollo.rps / figures.raw.rps)],
          ],
        },
      ],
      targets: [
        check('gateway rps vs bare Apollo', '>= 1.00x', ratio(rpsVsApollo), rpsVsApollo >= 1),
        check('gateway p99 vs bare Apollo', 'no worse (<= 1.00x)', `${ratio(p99VsApollo)} (${ms(figures.gateway.p99)} vs ${ms(figures.apollo.p99)})`, p99VsApollo <= 1),
        check('responses failing a check (non-2xx, GraphQL errors, other data)', '0', count(Object.values(figures).reduce((t, f) => t + f.failures, 0)), !anyFailure),
      ],
      notes: [],
      figures: {
        connections: sizes.connections,
        rounds: Object.fromEntries(
          targets.map((t) => [t.key, rounds[t.key].map((m) => ({ rps: round(m.rps, 1), p50: round(m.latency.p50), p99: round(m.latency.p99), responses: m.responses, failures: failures(m), firstFailure: m.firstFailure }))]),
        ),
        medians: Object.fromEntries(Object.entries(figures).map(([k, f]) => [k, { rps: round(f.rps, 1), p50Ms: round(f.p50), p99Ms: round(f.p99) }])),
        ratios: { gatewayRpsVsApollo: round(rpsVsApollo), gatewayP99VsApollo: round(p99VsApollo), gatewayRpsVsRaw: round(figures.gateway.rps / figures.raw.rps), apolloRpsVsRaw: round(figures.apollo.rps / figures.raw.rps) },
        responseBytes: Buffer.byteLength(recorded.body),
      },
    };
  } finally {
    await Promise.all([gateway.stop(), ...anchors.map((anchor) => anchor.stop())]);
  }
}
