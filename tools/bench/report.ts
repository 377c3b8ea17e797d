/**
 * Writes the run as BENCHMARKS.md (tables, each measured figure next to its target) and as JSON (every
 * figure). The hand-written block between the NOTES markers of an existing report is carried over, so
 * analysis written once survives the next run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileSummary } from './cpu-profile';
import type { MachineInfo } from './machine';
import { SCENARIOS, type BenchOptions } from './options';
import type { ScenarioResult, Table } from './result';
import { GATEWAY_SETTINGS } from './servers';
import { gib } from './stats';

export interface RunReport {
  options: BenchOptions;
  startedAt: Date;
  seconds: number;
  machineAtStart: MachineInfo;
  loadAverageAtEnd: number[];
  results: ScenarioResult[];
  /** Scenarios that failed to run, with the reason. */
  failed: { name: string; error: string }[];
  profiles: ProfileSummary[];
}

const NOTES_START = '<!-- notes: hand-written, kept across runs -->';
const NOTES_END = '<!-- end of notes -->';
const BUSY_LOAD = 0.5;

export function writeReport(report: RunReport): void {
  const { options } = report;
  fs.mkdirSync(path.dirname(options.reportFile), { recursive: true });
  fs.mkdirSync(path.dirname(options.resultsFile), { recursive: true });
  fs.writeFileSync(options.reportFile, markdown(report, keptNotes(options.reportFile)));
  fs.writeFileSync(options.resultsFile, JSON.stringify(json(report), null, 2) + '\n');
}

function keptNotes(file: string): string {
  const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const start = previous.indexOf(NOTES_START);
  const end = previous.indexOf(NOTES_END);
  if (start < 0 || end < start) return '_No notes yet._';
  return previous.slice(start + NOTES_START.length, end).trim();
}

function markdown(report: RunReport, notes: string): string {
  const { options, machineAtStart: machine } = report;
  const busy = machine.loadAverage[0] > BUSY_LOAD || report.loadAverageAtEnd[0] > BUSY_LOAD;
  const lines: string[] = [];
  lines.push(
    '# Benchmarks',
    '',
    'Speed and memory of the gateway are measured here, by `npm run bench`, and nowhere else: no test asserts a time. ' +
      'Each server under test runs alone in a child process (`src/bench/gateway-process.ts`, `anchor-process.ts`, `emulator-process.ts`), ' +
      'so its memory is measured apart from the load generator; the harness (`src/bench/run.ts`) loads it from this machine with autocannon ' +
      '(programmatic API) or a real graphql-ws client, a warm-up round before every measured round, and checks every response ' +
      '(non-2xx, GraphQL errors, unexpected data). The machine is small and noisy, so figures that compare are ratios against anchors ' +
      'measured in the same run. Everything binds 127.0.0.1; every loop is bounded in count and time.',
    '',
    '## How to run',
    '',
    '| command | what |',
    '| --- | --- |',
    '| `npm run bench` | every scenario at full size (about 9 to 11 minutes here, 5 to 6 of them counting instructions under valgrind; without valgrind installed that part is skipped and said so); writes this file and `tools/bench/results.json` |',
    '| `npm run bench -- --quick` | every scenario at smaller sizes (under a minute); writes `.bench/BENCHMARKS.md` and `.bench/results.json` |',
    '| `npm run bench -- --only audit` | one scenario: `query`, `start`, `decision`, `subscriptions`, `audit` or `cluster` (several: `--only query,start`); also to `.bench/` |',
    '| `npm run bench -- --out DIR` | write `DIR/BENCHMARKS.md` and `DIR/results.json` instead |',
    '| `npm run bench -- --cpu-prof` | also run the gateway children under `node --cpu-prof` (profiles in `.bench/profiles/`) and list their top frames |',
    '',
    'Options combine (`npm run bench -- --quick --only subscriptions`). Child logs and data go to `.bench/run/` (git-ignored).',
    '',
    'Scenarios 1 (`query`) and 3 (`decision`) also run the gateway on PostgreSQL + Redis, side by side with SQLite, and scenario 6 (`cluster`) runs two ' +
      'instances there: at `DATABASE_URL` and `REDIS_URL` when set, else `postgres://postgres@127.0.0.1:5432/postgres` and `redis://127.0.0.1:6379`. ' +
      'Each scenario creates a database of its own and drops it after, and uses a Redis channel prefix of its own; when either server does not answer, ' +
      'those rows are skipped and the report says why.',
    '',
    '## This run',
    '',
    `- Date: ${report.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    `- Command: \`${options.command}\`` +
      (options.quick ? ' — quick sizes, smaller than the issues name: the targets are indicative only' : '') +
      (options.scenarios.length < SCENARIOS.length ? ` — scenarios: ${options.scenarios.join(', ')}` : ''),
    `- Machine: ${machine.cpuCount} x ${machine.cpuModel} (${machine.cpuMHz > 0 ? `${machine.cpuMHz} MHz` : 'clock not reported'}, from \`os.cpus()\`), ${gib(machine.totalMemoryBytes)} memory ` +
      `(${gib(machine.freeMemoryBytes)} free at start), Node ${machine.node} (V8 ${machine.v8}), ${machine.os}`,
    `- Load average (1/5/15 min): ${machine.loadAverage.join(' / ')} at start, ${report.loadAverageAtEnd.join(' / ')} at the end` +
      (busy ? ` — **other work was loading the CPU during this run** (${machine.cpuCount} cores); absolute figures are pessimistic, ratios less affected.` : ''),
    `- Gateway under test: built from the working tree by the same command, in its own process with ${Object.entries(GATEWAY_SETTINGS)
      .map(([name, value]) => `${name}=${value}`)
      .join(', ')} (quotas raised out of reach; their checks still run), a fresh JWT_SECRET and IDEMPOTENCY_KEY_SECRET, and each scenario's Face settings`,
    `- Wall time: ${(report.seconds / 60).toFixed(1)} min`,
    '',
  );

  lines.push('## Targets at a glance', '', '| scenario | what | target | measured | met |', '| --- | --- | --- | --- | --- |');
  for (const result of report.results) {
    for (const target of result.targets) {
      lines.push(`| ${result.title.replace(/^(\d+)\..*$/, '$1')} | ${target.what} | ${target.target} | ${target.measured} | ${target.met === undefined ? '—' : target.met ? 'yes' : '**no**'} |`);
    }
  }
  for (const failure of report.failed) lines.push(`| ${failure.name} | the scenario did not complete | | ${escapeCell(failure.error)} | **no** |`);
  lines.push('');

  for (const result of report.results) {
    lines.push(`## ${result.title}`, '', result.method, '');
    for (const table of result.tables) lines.push(...renderTable(table), '');
    lines.push(...renderTable({ header: ['target', 'goal', 'measured', 'met'], rows: result.targets.map((t) => [t.what, t.target, t.measured, t.met === undefined ? '—' : t.met ? 'yes' : '**no**']) }), '');
    for (const note of result.notes) lines.push(`- ${note}`);
    if (result.notes.length) lines.push('');
    lines.push(`_Scenario time: ${result.seconds.toFixed(0)} s._`, '');
  }
  for (const failure of report.failed) lines.push(`## ${failure.name}: did not complete`, '', '```', failure.error, '```', '');

  lines.push('## What to look at next', '');
  const missed = report.results.flatMap((result) => result.targets.filter((t) => t.met === false).map((t) => `${result.title.replace(/\s*\(.*\)$/, '')}: ${t.what} is ${t.measured} against ${t.target}.`));
  if (missed.length) {
    lines.push('Targets missed in this run:', '', ...missed.map((m) => `- ${m}`), '');
  } else {
    lines.push('Every target with a figure was met in this run.', '');
  }
  for (const profile of report.profiles) {
    lines.push(
      `CPU profile of \`${path.basename(profile.file)}\` (this run, \`--cpu-prof\`): ${(profile.busyMillis / 1000).toFixed(1)} s busy of ${(profile.totalMillis / 1000).toFixed(1)} s; ` +
        'top frames by self time, in % of the busy time:',
      '',
      ...renderTable({ header: ['frame', 'self', '%'], rows: profile.topFrames.map((f) => [`\`${f.frame}\``, `${f.selfMillis.toFixed(0)} ms`, f.percent.toFixed(1)]) }),
      '',
      ...renderTable({ header: ['package', 'self', '%'], rows: profile.byPackage.map((p) => [p.name, `${p.selfMillis.toFixed(0)} ms`, p.percent.toFixed(1)]) }),
      '',
    );
  }
  lines.push(NOTES_START, '', notes, '', NOTES_END, '');
  return lines.join('\n');
}

function renderTable(table: Table): string[] {
  const rows = [
    ...(table.caption ? [`_${table.caption}_`, ''] : []),
    `| ${table.header.join(' | ')} |`,
    `| ${table.header.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ];
  return rows;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function json(report: RunReport) {
  return {
    date: report.startedAt.toISOString(),
    command: report.options.command,
    mode: report.options.quick ? 'quick' : 'full',
    scenarios: report.options.scenarios,
    wallSeconds: Math.round(report.seconds),
    machine: { ...report.machineAtStart, loadAverageAtEnd: report.loadAverageAtEnd },
    targets: report.results.flatMap((result) => result.targets.map((target) => ({ scenario: result.name, ...target, met: target.met ?? null }))),
    failed: report.failed,
    results: Object.fromEntries(report.results.map((result) => [result.name, { seconds: Math.round(result.seconds), ...result.figures }])),
    profiles: report.profiles.map((profile) => ({ ...profile, file: path.basename(profile.file) })),
  };
}
