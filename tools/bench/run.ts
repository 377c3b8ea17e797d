/**
 * `npm run bench`: the benchmark harness entry (options in options.ts, the scenarios in scenarios/).
 * Runs each chosen scenario in turn, each with its own child processes, then writes BENCHMARKS.md and
 * the JSON figures. A scenario that fails is reported as such and the others still run; the whole run
 * is bounded by a watchdog.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeMachine } from './machine';
import { parseBenchArgs, UsageError, type ScenarioName } from './options';
import { writeReport } from './report';
import type { ScenarioResult } from './result';
import { runAuditPages } from './scenarios/audit-pages';
import { runClusterFanOut } from './scenarios/cluster-fan-out';
import { runCommands } from './scenarios/commands';
import { runDecisionLatency } from './scenarios/decision-latency';
import { runIdleSubscriptions } from './scenarios/idle-subscriptions';
import { runSessionQuery } from './scenarios/session-query';
import { runStartSession } from './scenarios/start-session';
import type { BenchRun } from './servers';

const SCENARIO_RUNNERS: Record<ScenarioName, (run: BenchRun) => Promise<ScenarioResult>> = {
  query: runSessionQuery,
  start: runStartSession,
  decision: runDecisionLatency,
  subscriptions: runIdleSubscriptions,
  audit: runAuditPages,
  cluster: runClusterFanOut,
  commands: runCommands,
};
const WATCHDOG_MILLIS = 40 * 60_000;

async function main(): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2), process.cwd());
  const startedAt = new Date();
  const t0 = performance.now();
  const log = (message: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const watchdog = setTimeout(() => {
    log(`the run exceeded ${WATCHDOG_MILLIS / 60_000} minutes; giving up (child processes stop when this process exits)`);
    process.exit(2);
  }, WATCHDOG_MILLIS);
  watchdog.unref();

  const runDir = path.join(options.workDir, 'run');
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });
  fs.rmSync(path.join(options.workDir, 'profiles'), { recursive: true, force: true });
  const run: BenchRun = { options, runDir, log };

  const machineAtStart = describeMachine();
  log(`${options.command}: ${options.scenarios.join(', ')}${options.quick ? ' (quick)' : ''} on ${machineAtStart.cpuCount} x ${machineAtStart.cpuModel}, Node ${machineAtStart.node}, load ${machineAtStart.loadAverage.join('/')}`);

  const results: ScenarioResult[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const name of options.scenarios) {
    log(`== ${name}`);
    try {
      const result = await SCENARIO_RUNNERS[name](run);
      results.push(result);
      for (const target of result.targets) {
        log(`   ${target.met === undefined ? '  ' : target.met ? 'ok' : 'NO'} ${target.what}: ${target.measured} (target ${target.target})`);
      }
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`   FAILED: ${message}`);
      failed.push({ name, error: message.split('\n').slice(0, 12).join('\n') });
    }
  }

  writeReport({
    options,
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    machineAtStart,
    loadAverageAtEnd: describeMachine().loadAverage,
    results,
    failed,
  });
  fs.rmSync(path.join(runDir, 'data'), { recursive: true, force: true });
  log(`wrote ${path.relative(options.root, options.reportFile)} and ${path.relative(options.root, options.resultsFile)} (child logs in ${path.relative(options.root, path.join(runDir, 'logs'))})`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) process.stderr.write(`npm run bench: ${error.message}\n`);
  else process.stderr.write(`npm run bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
