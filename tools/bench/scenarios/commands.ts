/**
 * Scenario 7: how long `npm run token` takes when the build is current, as a user types it, against
 * its parts: the freshness check alone (`node tools/cli/build.mjs --if-stale`) and the compiled
 * command alone (`node dist/tools/cli/token.js`). One warm-up run first builds if anything is stale,
 * so the measured runs are those of a current build; each run is a new process, one at a time.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { check, type ScenarioResult } from '../result';
import { dataDirFor, type BenchRun } from '../servers';
import { count, ms, round, summarize } from '../stats';
import { TOKEN_COMMAND_MAX_MILLIS } from '../targets';

interface Command {
  label: string;
  command: string;
  args: string[];
}

export async function runCommands(run: BenchRun): Promise<ScenarioResult> {
  const { runs } = run.options.sizes.commands;
  const startedAt = performance.now();
  const dataDir = dataDirFor(run, 'commands');
  fs.mkdirSync(dataDir, { recursive: true });
  // As in a user's shell: none of the npm_* variables `npm run bench` itself exported.
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), DATA_DIR: dataDir };
  const commands: Command[] = [
    { label: '`npm run --silent token` (what a user types)', command: 'npm', args: ['run', '--silent', 'token', '--', '--sub', 'bench-user'] },
    { label: 'the freshness check alone (`node tools/cli/build.mjs --if-stale`)', command: process.execPath, args: [path.join(run.options.root, 'tools/cli/build.mjs'), '--if-stale'] },
    { label: 'the compiled command alone (`node dist/tools/cli/token.js`)', command: process.execPath, args: [path.join(run.options.root, 'dist/tools/cli/token.js'), '--sub', 'bench-user'] },
  ];
  let failures = 0;
  let rebuilt = false;
  const once = (command: Command): number => {
    const t0 = performance.now();
    const result = spawnSync(command.command, command.args, { cwd: run.options.root, env, encoding: 'utf8' });
    const millis = performance.now() - t0;
    if (result.status !== 0) failures += 1;
    if (result.stderr?.includes('Building first')) rebuilt = true;
    return millis;
  };
  once(commands[0]);
  const warmRebuilt = rebuilt;
  rebuilt = false;
  const summaries = commands.map((command) => {
    run.log(`commands: ${runs} x ${command.label}`);
    return summarize(Array.from({ length: runs }, () => once(command)));
  });
  const [token] = summaries;
  return {
    name: 'commands',
    title: '7. `npm run token` with a current build',
    method:
      `${runs} runs of each command, one at a time, each a new process, in the repository, after one warm-up run of \`npm run token\`` +
      `${warmRebuilt ? ' (which rebuilt: a source was newer than the last build)' : ' (the build was current)'}.`,
    seconds: (performance.now() - startedAt) / 1000,
    tables: [
      {
        header: ['command', 'runs', 'p50', 'p90', 'max'],
        rows: commands.map((command, i) => [command.label, count(summaries[i].count), ms(summaries[i].p50), ms(summaries[i].p90), ms(summaries[i].max)]),
      },
    ],
    targets: [
      check('`npm run token` with a current build, p50', `<= ${TOKEN_COMMAND_MAX_MILLIS / 1000} s`, ms(token.p50), token.p50 <= TOKEN_COMMAND_MAX_MILLIS),
      check('measured runs that built first, or failed', '0', count(failures + (rebuilt ? 1 : 0)), failures === 0 && !rebuilt),
    ],
    notes: [],
    figures: Object.fromEntries(
      ['token', 'freshnessCheck', 'compiledToken'].map((key, i) => [key, { count: summaries[i].count, p50Ms: round(summaries[i].p50), p90Ms: round(summaries[i].p90), maxMs: round(summaries[i].max) }]),
    ),
  };
}
