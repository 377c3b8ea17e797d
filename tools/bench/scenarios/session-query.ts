/**
 * Scenario 1: `session(id)` over HTTP with a real JWT and a stored (decided) session, against two
 * anchors serving the same response JSON: raw node:http, and bare Apollo Server 5 with a static
 * resolver. The gateway runs twice: on its SQLite file, and on PostgreSQL + Redis (a database of its
 * own; skipped, and said so, when either server does not answer). Rounds rotate the order of the
 * targets; each figure is the median of its rounds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CompleteLivenessSessionDocument, SessionDocument, StartLivenessSessionDocument } from '../../../client/generated/graphql';
import { eventually, graphqlBody, graphqlHeaders, playDevice } from '../clients';
import type { BenchChild } from '../ipc';
import { callgrindUnavailable, countInstructions, type InstructionCount } from '../callgrind';
import { allocationWindow, type AllocationSummary } from '../allocation-profile';
import { profileWindow, wantsProfile, type ProfileSummary } from '../cpu-profile';
import { failures, graphqlCheck, loadRound, type HttpLoad, type LoadRound } from '../load';
import { check, type ScenarioResult, type Table, type TargetCheck } from '../result';
import { dataDirFor, GATEWAY_SETTINGS, startAnchor, startGateway, type BenchRun, type RunningGateway } from '../servers';
import { openSharedServices, type SharedServices } from '../shared-services';
import { commandsCpuSeconds } from '../machine';
import { count, median, micros, ms, ratio, round } from '../stats';
import { PG_INSTRUCTIONS_MAX_RATIO, SESSION_INSTRUCTIONS_MAX_RATIO, SESSION_RPS_MIN_RATIO } from '../targets';

type TargetKey = 'raw' | 'apollo' | 'gateway' | 'gatewayPg';

interface Target {
  key: TargetKey;
  label: string;
  /** The server process answering, for its CPU time. */
  server: BenchChild;
  /** Commands of the local servers it reads from (PostgreSQL, Redis), whose CPU is counted apart. */
  backends?: readonly string[];
  url: string;
  headers: Record<string, string>;
  body: string;
  check(body: string): boolean;
}

/** A measured round, with the server process's CPU time per response over it (µs). */
type MeasuredRound = LoadRound & { cpuMicros: number; backendCpuMicros?: number };

/** A stored session with an attempt and a decision, read by its owner with a real JWT; and its answer, as recorded. */
async function decidedSession(gateway: RunningGateway) {
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
  return {
    recorded,
    headers: graphqlHeaders(token),
    body: graphqlBody(SessionDocument, { id }),
    // Every response must carry exactly the recorded data.
    check: graphqlCheck((data: unknown) => JSON.stringify(data) === recordedData),
  };
}

export async function runSessionQuery(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.query;
  const startedAt = performance.now();
  const gateway = await startGateway(run, 'gateway-query', { FACE_EMULATOR: 'true' });
  const anchors: BenchChild[] = [];
  let pgGateway: RunningGateway | undefined;
  let services: SharedServices | undefined;
  try {
    const sqlite = await decidedSession(gateway);
    const responseFile = path.join(run.runDir, 'session-response.json');
    fs.writeFileSync(responseFile, sqlite.recorded.body);

    const shared = await openSharedServices('query');
    let skipped: string | undefined;
    if (shared.available) {
      services = shared.services;
      pgGateway = await startGateway(run, 'gateway-query-pg', {
        FACE_EMULATOR: 'true',
        DATABASE_URL: services.databaseUrl,
        REDIS_URL: services.redisUrl,
        REDIS_CHANNEL_PREFIX: services.channelPrefix,
      });
    } else {
      skipped = shared.reason;
      run.log(`query: PostgreSQL + Redis rows skipped: ${skipped}`);
    }
    const postgres = pgGateway ? await decidedSession(pgGateway) : undefined;

    const raw = await startAnchor(run, 'raw', { ANCHOR_RESPONSE_FILE: responseFile, ANCHOR_CONTENT_TYPE: sqlite.recorded.contentType });
    anchors.push(raw);
    const apollo = await startAnchor(run, 'apollo', { ANCHOR_RESPONSE_FILE: responseFile, ANCHOR_SCHEMA_FILE: path.join(run.options.root, 'schema.graphql') });
    anchors.push(apollo);

    // The anchors serve the very JSON the SQLite gateway served; the PostgreSQL gateway serves its own
    // session (another id and times, the same shape and size), checked against its own recording.
    const same = { headers: sqlite.headers, body: sqlite.body, check: sqlite.check };
    const targets: Target[] = [
      { key: 'raw', label: 'raw node:http', server: raw, url: `${raw.url}/graphql`, ...same },
      { key: 'apollo', label: 'bare Apollo Server 5', server: apollo, url: `${apollo.url}/graphql`, ...same },
      { key: 'gateway', label: 'gateway (SQLite)', server: gateway.child, url: gateway.client.graphqlUrl, ...same },
      ...(pgGateway && postgres
        ? [
            {
              key: 'gatewayPg' as const,
              label: 'gateway (PostgreSQL + Redis)',
              server: pgGateway.child,
              backends: ['postgres', 'redis-server'],
              url: pgGateway.client.graphqlUrl,
              headers: postgres.headers,
              body: postgres.body,
              check: postgres.check,
            },
          ]
        : []),
    ];
    for (const target of targets) {
      const answer = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
      const text = await answer.text();
      if (answer.status !== 200 || !target.check(text)) throw new Error(`${target.label} does not serve the recorded response: ${answer.status} ${text.slice(0, 300)}`);
    }

    const rounds: Record<TargetKey, MeasuredRound[]> = { raw: [], apollo: [], gateway: [], gatewayPg: [] };
    for (let r = 0; r < sizes.rounds; r += 1) {
      // Rotate the order so no target always runs first (or last) on a machine that warms and cools.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]);
      for (const target of order) {
        run.log(`query: round ${r + 1}/${sizes.rounds}, ${target.label}`);
        const load = { url: target.url, method: 'POST' as const, headers: target.headers, body: target.body, connections: sizes.connections, check: target.check };
        await loadRound(load, { seconds: sizes.warmupSeconds, maxSeconds: sizes.warmupSeconds + 10 });
        const cpuBefore = target.server.cpuSeconds();
        const backendsBefore = target.backends && commandsCpuSeconds(target.backends);
        const measured = await loadRound(load, { seconds: sizes.measuredSeconds, maxSeconds: sizes.measuredSeconds + 10 });
        const cpuMicros = ((target.server.cpuSeconds() - cpuBefore) * 1e6) / measured.responses;
        const backendsAfter = target.backends && commandsCpuSeconds(target.backends);
        const backendCpuMicros = backendsBefore !== undefined && backendsAfter !== undefined ? ((backendsAfter - backendsBefore) * 1e6) / measured.responses : undefined;
        rounds[target.key].push({ ...measured, cpuMicros, ...(backendCpuMicros !== undefined && { backendCpuMicros }) });
      }
    }

    const instructions = await countEveryTarget(run, {
      responseFile,
      sqlite: { contentType: sqlite.recorded.contentType, ...same },
      ...(services && { services }),
    });

    const figure = (key: TargetKey) => ({
      rps: median(rounds[key].map((m) => m.rps)),
      p50: median(rounds[key].map((m) => m.latency.p50)),
      p99: median(rounds[key].map((m) => m.latency.p99)),
      cpuMicros: median(rounds[key].map((m) => m.cpuMicros)),
      backendCpuMicros: rounds[key].every((m) => m.backendCpuMicros !== undefined) ? median(rounds[key].map((m) => m.backendCpuMicros ?? NaN)) : undefined,
      responses: rounds[key].reduce((total, m) => total + m.responses, 0),
      failures: rounds[key].reduce((total, m) => total + failures(m), 0),
    });
    const figures = Object.fromEntries(targets.map((t) => [t.key, figure(t.key)])) as Record<TargetKey, ReturnType<typeof figure>>;
    const versusApollo = (key: 'gateway' | 'gatewayPg') => ({
      rps: figures[key].rps / figures.apollo.rps,
      p99: figures[key].p99 / figures.apollo.p99,
      cpu: figures[key].cpuMicros / figures.apollo.cpuMicros,
    });
    // Round by round: a gateway's figure over bare Apollo's in the same round (minutes apart at most).
    const perRound = (key: 'gateway' | 'gatewayPg', measure: 'rps' | 'cpuMicros') =>
      rounds[key].map((m, r) => (measure === 'rps' ? m.rps / rounds.apollo[r].rps : m.cpuMicros / rounds.apollo[r].cpuMicros));
    const spread = (key: 'gateway' | 'gatewayPg', measure: 'rps' | 'cpuMicros') =>
      sizes.rounds > 1 ? ` (rounds: ${perRound(key, measure).map(ratio).join(', ')})` : '';
    const sqliteRatios = versusApollo('gateway');
    const pgRatios = pgGateway ? versusApollo('gatewayPg') : undefined;
    const countedFailures = 'counted' in instructions ? Object.values(instructions.counted).reduce((total, c) => total + c.failures, 0) : 0;
    const totalFailures = targets.reduce((total, t) => total + figures[t.key].failures, 0) + countedFailures;
    // Each round runs every target in turn, so a round's ratio compares the two on one state of the machine.
    const rpsRatio = median(perRound('gateway', 'rps'));
    const instructionsOf = (key: TargetKey) => ('counted' in instructions ? instructions.counted[key]?.instructionsPerResponse : undefined);
    const instructionTarget = (label: string, key: 'gateway' | 'gatewayPg', max: number): TargetCheck => {
      const own = instructionsOf(key);
      const apollo = instructionsOf('apollo');
      const goal = `<= ${max.toFixed(2)}x`;
      if ('skipped' in instructions) return check(`${label} instructions per response vs bare Apollo`, goal, `not counted: ${instructions.skipped}`, undefined);
      if (own === undefined || apollo === undefined) return check(`${label} instructions per response vs bare Apollo`, goal, 'not counted', undefined);
      return check(`${label} instructions per response vs bare Apollo`, goal, `${ratio(own / apollo)} (${count(own / 1000)} K vs ${count(apollo / 1000)} K)`, own / apollo <= max);
    };
    const rpsTarget = check(
      'gateway (SQLite) rps vs bare Apollo, median of the interleaved rounds',
      `>= ${SESSION_RPS_MIN_RATIO.toFixed(2)}x`,
      `${ratio(rpsRatio)}${spread('gateway', 'rps')}`,
      rpsRatio >= SESSION_RPS_MIN_RATIO,
    );
    const sqliteInstructions = instructionTarget('gateway (SQLite)', 'gateway', SESSION_INSTRUCTIONS_MAX_RATIO);
    const pgInstructions = pgGateway ? instructionTarget('gateway (PostgreSQL + Redis)', 'gatewayPg', PG_INSTRUCTIONS_MAX_RATIO) : undefined;

    // A miss is explained by a profile of one more load round, apart from the measured ones.
    const profiles: ProfileSummary[] = [];
    const profileRound = (target: Target) =>
      profileWindow(run, target.server, `${target.label}, one ${sizes.measuredSeconds} s load round of session(id)`, () =>
        loadRound(
          { url: target.url, method: 'POST', headers: target.headers, body: target.body, connections: sizes.connections, check: target.check },
          { seconds: sizes.measuredSeconds, maxSeconds: sizes.measuredSeconds + 10 },
        ),
      );
    const byKey = (key: TargetKey) => targets.find((t) => t.key === key);
    const sqliteTarget = byKey('gateway');
    const pgTarget = byKey('gatewayPg');
    if (sqliteTarget && wantsProfile(run, rpsTarget.met, sqliteInstructions.met)) profiles.push(await profileRound(sqliteTarget));
    if (pgTarget && wantsProfile(run, pgInstructions?.met)) profiles.push(await profileRound(pgTarget));
    // Time the CPU profile cannot place (the collector's) is explained by what each response allocates.
    const allocations: AllocationSummary[] = [];
    const apolloTarget = byKey('apollo');
    if (sqliteTarget && apolloTarget && wantsProfile(run, rpsTarget.met)) {
      for (const target of [apolloTarget, sqliteTarget]) {
        allocations.push(
          await allocationWindow(run, target.server, `${target.label}, one ${sizes.measuredSeconds} s load round of session(id)`, async () => {
            const load = { url: target.url, method: 'POST' as const, headers: target.headers, body: target.body, connections: sizes.connections, check: target.check };
            return (await loadRound(load, { seconds: sizes.measuredSeconds, maxSeconds: sizes.measuredSeconds + 10 })).responses;
          }),
        );
      }
    }

    return {
      name: 'query',
      title: '1. `session(id)` over HTTP',
      method:
        `The \`Session\` query (client/operations) for one stored, decided session, read by its owner with a real HS256 JWT; ` +
        `the anchors serve the very response JSON the SQLite gateway served (checked on every response); the PostgreSQL + Redis gateway ` +
        `(a database created for this run and dropped after it, its own Redis channel prefix; PostgreSQL and Redis run on this same machine) ` +
        `serves a session of its own, checked against its own recording. autocannon, ${sizes.connections} connections, ` +
        `${sizes.rounds} round(s) of ${sizes.warmupSeconds} s warm-up + ${sizes.measuredSeconds} s measured per target, order rotated per round; medians of the rounds, and ratios of those medians, with each round's own ratio beside them (the spread is this machine's noise). ` +
        `Server CPU per response: the server process's user + system time over the measured round (/proc/<pid>/stat) divided by the responses it served; ` +
        `it leaves out time spent waiting for a core, but not the slowdown of sharing one, so it moves with the machine too. For PostgreSQL + Redis, the CPU of every local \`postgres\` and \`redis-server\` process over the round is shown beside it. ` +
        `Then each target once more, in a child of its own under valgrind's callgrind, for its instructions per response (tools/bench/callgrind.ts).`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          header: ['target', 'rps', 'p50', 'p99', 'server CPU per response', 'responses checked', 'failed'],
          rows: [
            ...targets.map((t) => [
              t.label,
              count(figures[t.key].rps),
              ms(figures[t.key].p50),
              ms(figures[t.key].p99),
              figures[t.key].backendCpuMicros === undefined
                ? micros(figures[t.key].cpuMicros)
                : `${micros(figures[t.key].cpuMicros)} (+ ${micros(figures[t.key].backendCpuMicros ?? NaN)} PostgreSQL and Redis)`,
              count(figures[t.key].responses),
              count(figures[t.key].failures),
            ]),
            ...(skipped ? [['gateway (PostgreSQL + Redis)', `skipped: ${skipped}`, '', '', '', '', '']] : []),
          ],
        },
        {
          header: ['ratio', 'value'],
          rows: [
            ['gateway (SQLite) rps / bare Apollo rps', `${ratio(sqliteRatios.rps)}${spread('gateway', 'rps')}`],
            ['gateway (SQLite) p99 / bare Apollo p99', ratio(sqliteRatios.p99)],
            ['gateway (SQLite) CPU per response / bare Apollo\'s', `${ratio(sqliteRatios.cpu)}${spread('gateway', 'cpuMicros')}`],
            ...(pgRatios
              ? [
                  ['gateway (PostgreSQL + Redis) rps / bare Apollo rps', `${ratio(pgRatios.rps)}${spread('gatewayPg', 'rps')}`],
                  ['gateway (PostgreSQL + Redis) p99 / bare Apollo p99', ratio(pgRatios.p99)],
                  ['gateway (PostgreSQL + Redis) CPU per response / bare Apollo\'s (the gateway process only)', ratio(pgRatios.cpu)],
                  ...(figures.gatewayPg.backendCpuMicros !== undefined
                    ? [['gateway (PostgreSQL + Redis) CPU per response with PostgreSQL\'s and Redis\'s / bare Apollo\'s', ratio((figures.gatewayPg.cpuMicros + figures.gatewayPg.backendCpuMicros) / figures.apollo.cpuMicros)]]
                    : []),
                ]
              : []),
            ['gateway (SQLite) rps / raw node:http rps', ratio(figures.gateway.rps / figures.raw.rps)],
            ['bare Apollo rps / raw node:http rps', ratio(figures.apollo.rps / figures.raw.rps)],
          ],
        },
        instructionsTable(instructions, targets, sizes.instructions),
        ...allocationTables(allocations),
      ],
      targets: [
        sqliteInstructions,
        rpsTarget,
        ...(pgInstructions ? [pgInstructions] : []),
        check('responses failing a check (non-2xx, GraphQL errors, other data)', '0', count(totalFailures), totalFailures === 0),
      ],
      notes: [
        ...(skipped ? [`The PostgreSQL + Redis rows were skipped: ${skipped}.`] : []),
        ...('skipped' in instructions ? [`Instructions per response were not counted: ${instructions.skipped}.`] : []),
      ],
      profiles,
      figures: {
        connections: sizes.connections,
        rounds: Object.fromEntries(
          targets.map((t) => [
            t.key,
            rounds[t.key].map((m) => ({
              rps: round(m.rps, 1),
              p50: round(m.latency.p50),
              p99: round(m.latency.p99),
              cpuMicrosPerResponse: round(m.cpuMicros, 1),
              ...(m.backendCpuMicros !== undefined && { backendCpuMicrosPerResponse: round(m.backendCpuMicros, 1) }),
              responses: m.responses,
              failures: failures(m),
              firstFailure: m.firstFailure,
            })),
          ]),
        ),
        medians: Object.fromEntries(
          targets.map((t) => [t.key, { rps: round(figures[t.key].rps, 1), p50Ms: round(figures[t.key].p50), p99Ms: round(figures[t.key].p99), cpuMicrosPerResponse: round(figures[t.key].cpuMicros, 1) }]),
        ),
        ratios: {
          gatewayRpsVsApollo: round(sqliteRatios.rps),
          gatewayP99VsApollo: round(sqliteRatios.p99),
          gatewayCpuVsApollo: round(sqliteRatios.cpu),
          gatewayRpsVsApolloPerRound: perRound('gateway', 'rps').map((value) => round(value)),
          gatewayRpsVsApolloMedianOfRounds: round(rpsRatio),
          gatewayCpuVsApolloPerRound: perRound('gateway', 'cpuMicros').map((value) => round(value)),
          ...(pgRatios && { gatewayPgRpsVsApollo: round(pgRatios.rps), gatewayPgP99VsApollo: round(pgRatios.p99), gatewayPgCpuVsApollo: round(pgRatios.cpu) }),
          gatewayRpsVsRaw: round(figures.gateway.rps / figures.raw.rps),
          apolloRpsVsRaw: round(figures.apollo.rps / figures.raw.rps),
        },
        postgresRedis: skipped ? { skipped } : { measured: true },
        instructionsPerResponse:
          'skipped' in instructions
            ? { skipped: instructions.skipped }
            : Object.fromEntries(Object.entries(instructions.counted).map(([key, c]) => [key, { instructions: Math.round(c.instructionsPerResponse), responses: c.responses, failures: c.failures }])),
        responseBytes: Buffer.byteLength(sqlite.recorded.body),
        allocatedBytesPerResponse: Object.fromEntries(allocations.map((a) => [a.label.split(',')[0], Math.round(a.bytesPerResponse)])),
      },
    };
  } finally {
    await Promise.all([gateway.stop(), ...(pgGateway ? [pgGateway.stop()] : []), ...anchors.map((anchor) => anchor.stop())]);
    await services?.drop().catch((error: unknown) => run.log(`query: could not drop the bench database: ${String(error)}`));
  }
}

type Counted = Partial<Record<TargetKey, InstructionCount>>;

/**
 * Instructions per response of each target, each in a child of its own started under callgrind
 * (`callgrind.ts`): the figure this machine's noise does not move. Skipped, with the reason, when
 * valgrind is not installed and in a quick run.
 */
async function countEveryTarget(
  run: BenchRun,
  recorded: {
    responseFile: string;
    sqlite: { contentType: string; headers: Record<string, string>; body: string; check(body: string): boolean };
    services?: SharedServices;
  },
): Promise<{ counted: Counted } | { skipped: string }> {
  const sizes = run.options.sizes.query;
  const skip = (reason: string) => {
    run.log(`query: instructions per response skipped: ${reason}`);
    return { skipped: reason };
  };
  const counting = sizes.instructions;
  if (!counting) return skip('not in a --quick run (its warm-up would end while V8 still compiles the hot code)');
  const unavailable = callgrindUnavailable();
  if (unavailable) return skip(unavailable);
  const outFile = (name: string) => path.join(run.runDir, `${name}.callgrind`);
  const counted: Counted = {};
  const count = async (key: TargetKey, child: BenchChild, host: string | undefined, load: Omit<HttpLoad, 'method' | 'connections'>) => {
    run.log(`query: instructions per response, ${key} (under callgrind)`);
    counted[key] = await countInstructions(child, outFile(`callgrind-${key}`), host, { ...load, method: 'POST', connections: sizes.connections }, counting);
  };
  const onGateway = async (key: 'gateway' | 'gatewayPg', env: Record<string, string>) => {
    const name = `gateway-query-callgrind${key === 'gatewayPg' ? '-pg' : ''}`;
    const gateway = await startGateway(run, name, { FACE_EMULATOR: 'true', ...env }, dataDirFor(run, name), { callgrindOutFile: outFile(`callgrind-${key}`) });
    try {
      const own = await decidedSession(gateway);
      await count(key, gateway.child, GATEWAY_SETTINGS.HOST, { url: gateway.client.graphqlUrl, headers: own.headers, body: own.body, check: own.check });
    } finally {
      await gateway.stop();
    }
  };
  const onAnchor = async (key: 'raw' | 'apollo', env: Record<string, string>) => {
    const anchor = await startAnchor(run, key, env, { callgrindOutFile: outFile(`callgrind-${key}`), nameSuffix: '-callgrind' });
    try {
      await count(key, anchor, undefined, { url: `${anchor.url}/graphql`, headers: recorded.sqlite.headers, body: recorded.sqlite.body, check: recorded.sqlite.check });
    } finally {
      await anchor.stop();
    }
  };
  await onAnchor('raw', { ANCHOR_RESPONSE_FILE: recorded.responseFile, ANCHOR_CONTENT_TYPE: recorded.sqlite.contentType });
  await onAnchor('apollo', { ANCHOR_RESPONSE_FILE: recorded.responseFile, ANCHOR_SCHEMA_FILE: path.join(run.options.root, 'schema.graphql') });
  await onGateway('gateway', {});
  if (recorded.services) {
    const { databaseUrl, redisUrl, channelPrefix } = recorded.services;
    await onGateway('gatewayPg', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_CHANNEL_PREFIX: `${channelPrefix}callgrind:` });
  }
  return { counted };
}

function instructionsTable(
  instructions: { counted: Counted } | { skipped: string },
  targets: readonly Target[],
  sizes: { warmupRequests: number; measuredRequests: number } | undefined,
): Table {
  const caption =
    `Instructions per response, counted by valgrind's callgrind (user space, all threads of the server process; ` +
    (sizes ? `${count(sizes.measuredRequests)} requests counted after ${count(sizes.warmupRequests)} uncounted, ` : '') +
    `each target in a child of its own): ` +
    `the same for the same work whatever else the machine runs, but blind to time in the kernel and to what an instruction costs`;
  if ('skipped' in instructions) return { caption, header: ['target', 'instructions per response'], rows: [['all', `skipped: ${instructions.skipped}`]] };
  const { counted } = instructions;
  const apollo = counted.apollo?.instructionsPerResponse ?? NaN;
  return {
    caption,
    header: ['target', 'instructions per response', 'vs bare Apollo', 'responses counted', 'failed'],
    rows: targets.flatMap((t) => {
      const c = counted[t.key];
      return c ? [[t.label, `${count(c.instructionsPerResponse / 1000)} K`, ratio(c.instructionsPerResponse / apollo), count(c.responses), count(c.failures)]] : [];
    }),
  };
}

/** Bytes allocated per response by each profiled target, and where the gateway's come from. */
function allocationTables(allocations: readonly AllocationSummary[]): Table[] {
  if (allocations.length === 0) return [];
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const gateway = allocations[allocations.length - 1];
  return [
    {
      caption:
        'Bytes allocated per response (garbage included), over one more load round of each target apart from the measured ones: ' +
        "V8's sampling heap profiler keeping the samples of collected objects (tools/bench/allocation-profile.ts; files in `.bench/profiles/`)",
      header: ['target', 'allocated per response', 'responses', 'top packages'],
      rows: allocations.map((a) => [
        a.label.split(',')[0],
        kb(a.bytesPerResponse),
        count(a.responses),
        a.byPackage.slice(0, 4).map((p) => `${p.name} ${p.percent.toFixed(0)}%`).join(', '),
      ]),
    },
    {
      caption: `Where ${gateway.label.split(',')[0]} allocates, by the allocating function (self bytes per response)`,
      header: ['function', 'per response', 'share'],
      rows: gateway.topFrames.map((f) => [f.frame, kb(f.bytesPerResponse), `${f.percent.toFixed(1)}%`]),
    },
  ];
}
