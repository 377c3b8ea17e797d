/**
 * The command line of `npm run bench` and the sizes of each mode.
 *
 *   npm run bench                          every scenario, full sizes; writes BENCHMARKS.md and tools/bench/results.json
 *   npm run bench -- --quick               every scenario, smaller sizes (a few minutes)
 *   npm run bench -- --only audit          one scenario (or several: --only query,start)
 *   npm run bench -- --out DIR             write DIR/BENCHMARKS.md and DIR/results.json instead
 *   npm run bench -- --cpu-prof            profile the gateway over each scenario's window even when its targets are met
 *
 * Scenarios 1 and 3 also run on PostgreSQL + Redis, and scenario 6 (`cluster`) only there: at
 * DATABASE_URL / REDIS_URL when set, else the local defaults (`shared-services.ts`); rows whose
 * servers do not answer are skipped, and the report says so.
 *
 * A complete run writes BENCHMARKS.md (top level) and tools/bench/results.json. A partial run
 * (`--quick` or `--only`) writes both to `.bench/` (git-ignored) unless `--out` says otherwise, so
 * that it never overwrites the committed figures of a complete run.
 */
import path from 'node:path';

export const SCENARIOS = ['query', 'start', 'decision', 'subscriptions', 'audit', 'cluster', 'commands'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Sizes {
  query: {
    rounds: number;
    warmupSeconds: number;
    measuredSeconds: number;
    connections: number;
    /**
     * Requests counted by callgrind per target, after uncounted warm-up requests (`callgrind.ts`);
     * none in a quick run, whose warm-up would end while V8 is still compiling the hot code.
     */
    instructions?: { warmupRequests: number; measuredRequests: number };
  };
  start: { rounds: number; warmupPerPath: number; measuredPerPath: number };
  decision: { warmupSessions: number; sessions: number };
  subscriptions: {
    /** Idle memory and CPU per decision: this many sessions, `sockets` x `subscriptionsPerSocket` subscriptions spread over them. */
    sessions: number;
    sockets: number;
    subscriptionsPerSocket: number;
    settleMillis: number;
    /** One decision to every subscriber of one session, `repetitions` times (a new session each time). */
    delivery: { sockets: number; subscriptionsPerSocket: number; repetitions: number };
  };
  audit: { events: number; warmupRequests: number; measuredRequests: number; deepOffset: number; verifyRuns: number };
  /** One decision on instance A to `sockets` x `subscriptionsPerSocket` subscribers on B, `repetitions` times. */
  cluster: { sockets: number; subscriptionsPerSocket: number; repetitions: number };
  /** Runs of each command (new processes, one at a time). */
  commands: { runs: number };
}

export interface BenchOptions {
  /** The repository (where package.json and schema.graphql are). */
  root: string;
  quick: boolean;
  scenarios: ScenarioName[];
  /** True when every scenario runs at full size: the run that BENCHMARKS.md at the top level records. */
  complete: boolean;
  /** BENCHMARKS.md: at the top level for a complete run, else in `.bench/` (or `--out`). */
  reportFile: string;
  /** The figures as JSON: `tools/bench/results.json` for a complete run, else beside the report. */
  resultsFile: string;
  /** Where data directories, child logs and profiles go (git-ignored). */
  workDir: string;
  /** Profile every scenario's window, not only those of missed targets. */
  cpuProfile: boolean;
  sizes: Sizes;
  /** The command as typed, for the report. */
  command: string;
}

const FULL: Sizes = {
  query: { rounds: 3, warmupSeconds: 2, measuredSeconds: 8, connections: 10, instructions: { warmupRequests: 10_000, measuredRequests: 2_000 } },
  start: { rounds: 3, warmupPerPath: 100, measuredPerPath: 700 },
  decision: { warmupSessions: 10, sessions: 200 },
  subscriptions: { sessions: 1_000, sockets: 100, subscriptionsPerSocket: 100, settleMillis: 1_500, delivery: { sockets: 1_000, subscriptionsPerSocket: 10, repetitions: 5 } },
  audit: { events: 1_000_000, warmupRequests: 20, measuredRequests: 200, deepOffset: 900_000, verifyRuns: 1 },
  cluster: { sockets: 1_000, subscriptionsPerSocket: 10, repetitions: 5 },
  commands: { runs: 10 },
};

const QUICK: Sizes = {
  query: { rounds: 1, warmupSeconds: 1, measuredSeconds: 3, connections: 10 },
  start: { rounds: 1, warmupPerPath: 30, measuredPerPath: 200 },
  decision: { warmupSessions: 5, sessions: 50 },
  subscriptions: { sessions: 200, sockets: 20, subscriptionsPerSocket: 100, settleMillis: 1_000, delivery: { sockets: 200, subscriptionsPerSocket: 10, repetitions: 3 } },
  audit: { events: 100_000, warmupRequests: 10, measuredRequests: 50, deepOffset: 90_000, verifyRuns: 1 },
  cluster: { sockets: 200, subscriptionsPerSocket: 10, repetitions: 3 },
  commands: { runs: 3 },
};

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseBenchArgs(argv: readonly string[], cwd: string): BenchOptions {
  let quick = false;
  let cpuProfile = false;
  let only: ScenarioName[] | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const next = inline ?? argv[(i += 1)];
      if (next === undefined || next === '') throw new UsageError(`${flag} needs a value.`);
      return next;
    };
    if (flag === '--quick') quick = true;
    else if (flag === '--cpu-prof') cpuProfile = true;
    else if (flag === '--only') only = [...(only ?? []), ...value().split(',').map(scenarioName)];
    else if (flag === '--out') out = value();
    else throw new UsageError(`Unknown option ${argv[i]}. Options: --quick, --only ${SCENARIOS.join('|')}, --out DIR, --cpu-prof.`);
  }
  const scenarios = only ? SCENARIOS.filter((name) => only.includes(name)) : [...SCENARIOS];
  const complete = !quick && scenarios.length === SCENARIOS.length;
  const workDir = path.join(cwd, '.bench');
  return {
    root: cwd,
    quick,
    scenarios,
    complete,
    reportFile: out ? path.resolve(cwd, out, 'BENCHMARKS.md') : complete ? path.join(cwd, 'BENCHMARKS.md') : path.join(workDir, 'BENCHMARKS.md'),
    resultsFile: out ? path.resolve(cwd, out, 'results.json') : complete ? path.join(cwd, 'tools', 'bench', 'results.json') : path.join(workDir, 'results.json'),
    workDir,
    cpuProfile,
    sizes: quick ? QUICK : FULL,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  };
}

function scenarioName(raw: string): ScenarioName {
  const name = raw.trim().toLowerCase();
  const found = SCENARIOS.find((scenario) => scenario === name);
  if (!found) throw new UsageError(`Unknown scenario "${raw}"; choose from ${SCENARIOS.join(', ')}.`);
  return found;
}
