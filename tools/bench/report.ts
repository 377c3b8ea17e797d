/**
 * Writes the run as BENCHMARKS.md (how to run, the targets, this run's figure for each with met or
 * missed, the profile behind each miss, then each scenario's tables) and as JSON (every figure). The
 * file is generated whole: what it says is what this run measured, except the account of what was
 * tried against the missed targets (`tried.md`), which is written by hand and embedded as it is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileSummary } from './cpu-profile';
import type { MachineInfo } from './machine';
import { SCENARIOS, type BenchOptions } from './options';
import type { ScenarioResult, Table, TargetCheck } from './result';
import { GATEWAY_SETTINGS } from './servers';
import { gib } from './stats';
import { TARGETS } from './targets';

export interface RunReport {
  options: BenchOptions;
  startedAt: Date;
  seconds: number;
  machineAtStart: MachineInfo;
  loadAverageAtEnd: number[];
  results: ScenarioResult[];
  /** Scenarios that failed to run, with the reason. */
  failed: { name: string; error: string }[];
}

const BUSY_LOAD = 0.5;

export function writeReport(report: RunReport): void {
  const { options } = report;
  fs.mkdirSync(path.dirname(options.reportFile), { recursive: true });
  fs.mkdirSync(path.dirname(options.resultsFile), { recursive: true });
  fs.writeFileSync(options.reportFile, markdown(report));
  fs.writeFileSync(options.resultsFile, JSON.stringify(json(report), null, 2) + '\n');
}

const HOW_TO_RUN = [
  '## How to run',
  '',
  '| command | what |',
  '| --- | --- |',
  '| `npm run bench` | every scenario at full size (10 to 15 minutes on 2 cores, about 5 of them counting instructions under valgrind; without valgrind that part is skipped and said so); writes this file and `tools/bench/results.json` |',
  '| `npm run bench -- --quick` | every scenario at smaller sizes (a few minutes; no instruction counts); writes `.bench/BENCHMARKS.md` and `.bench/results.json` |',
  '| `npm run bench -- --only subscriptions` | some scenarios: `query`, `start`, `decision`, `subscriptions`, `audit`, `cluster`, `commands` (several: `--only query,start`); also to `.bench/` |',
  '| `npm run bench -- --out DIR` | write `DIR/BENCHMARKS.md` and `DIR/results.json` instead |',
  '| `npm run bench -- --cpu-prof` | profile the gateway in every scenario, not only where a target is missed (profiles in `.bench/profiles/`) |',
  '',
  'Options combine. Each server under test runs alone in a child process (`tools/bench/gateway-process.ts`, `anchor-process.ts`, `emulator-process.ts`), ' +
    'loaded from the harness process (`tools/bench/run.ts`) with autocannon or a real graphql-ws client; every response is checked. ' +
    'PostgreSQL and Redis are taken from `DATABASE_URL` and `REDIS_URL`, else `postgres://postgres@127.0.0.1:5432/postgres` and `redis://127.0.0.1:6379`; ' +
    'each scenario creates a database of its own and drops it after. When they do not answer, their rows are skipped and say so. ' +
    'Where a target is missed, the scenario profiles the gateway over one more window of the same work (not the measured one: the profiler has a cost) and the profile is summarised below. ' +
    'Child logs and data go to `.bench/run/` (git-ignored).',
  '',
];

function markdown(report: RunReport): string {
  const { options, machineAtStart: machine } = report;
  const busy = machine.loadAverage[0] > BUSY_LOAD || report.loadAverageAtEnd[0] > BUSY_LOAD;
  const lines: string[] = ['# Benchmarks', '', 'Speed and memory of the gateway, measured by `npm run bench` and nowhere else (no test asserts a time).', '', ...HOW_TO_RUN];

  lines.push('## Targets', '', ...TARGETS.map((target) => `- ${target.text} (scenario ${target.scenario})`), '');

  lines.push(
    '## Latest run',
    '',
    `\`${options.command}\`, ${report.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, ${(report.seconds / 60).toFixed(1)} min` +
      (options.quick ? '. **Quick sizes**, smaller than the targets name: indicative only' : '') +
      (options.scenarios.length < SCENARIOS.length ? `. Scenarios: ${options.scenarios.join(', ')}` : '') +
      '.',
    '',
    `Machine: ${machine.cpuCount} x ${machine.cpuModel}, ${gib(machine.totalMemoryBytes)} memory, Node ${machine.node}, ${machine.os}; ` +
      `load average ${machine.loadAverage.join(' / ')} at start, ${report.loadAverageAtEnd.join(' / ')} at the end` +
      (busy ? ' (**other work shared the CPU**: times are pessimistic; instruction counts are not affected)' : '') +
      '. Gateway: the working tree built by the same command, ' +
      Object.entries(GATEWAY_SETTINGS)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ') +
      ' (quotas out of reach; their checks still run).',
    '',
    '| # | what | target | measured | met |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const result of report.results) {
    for (const target of result.targets) lines.push(`| ${numberOf(result)} | ${escapeCell(target.what)} | ${escapeCell(target.target)} | ${escapeCell(target.measured)} | ${verdict(target)} |`);
  }
  for (const failure of report.failed) lines.push(`| ${failure.name} | the scenario did not complete | | ${escapeCell(failure.error.split('\n')[0])} | **no** |`);
  lines.push('');

  const missed = report.results.flatMap((result) => result.targets.filter((t) => t.met === false).map((t) => ({ result, target: t })));
  lines.push('## Missed targets', '');
  if (missed.length === 0 && report.failed.length === 0) lines.push('None: every target with a figure was met in this run.', '');
  for (const { result, target } of missed) lines.push(`- **${numberOf(result)}. ${target.what}**: ${target.measured}, against ${target.target}.`);
  for (const failure of report.failed) lines.push(`- **${failure.name}** did not complete:`, '', '```', failure.error, '```');
  if (missed.length || report.failed.length) lines.push('');
  for (const result of report.results) {
    for (const profile of result.profiles ?? []) lines.push(...renderProfile(result, profile, options.root));
  }
  lines.push(...whatWasTried(options.root));

  lines.push('## Details', '');
  for (const result of report.results) {
    lines.push(`### ${result.title}`, '', result.method, '');
    for (const table of result.tables) lines.push(...renderTable(table), '');
    for (const note of result.notes) lines.push(`- ${note}`);
    if (result.notes.length) lines.push('');
  }
  return lines.join('\n');
}

/** Written by hand, not measured by this run: what was tried against the missed targets, and its effect. */
export const TRIED_FILE = path.join('tools', 'bench', 'tried.md');

/**
 * The committed account of what was tried against the missed targets, with each attempt's effect as
 * measured when it was made, so that a regenerated report keeps it beside the profiles of this run.
 */
function whatWasTried(root: string): string[] {
  const file = path.join(root, TRIED_FILE);
  if (!fs.existsSync(file)) return [];
  return [fs.readFileSync(file, 'utf8').trimEnd(), ''];
}

function numberOf(result: ScenarioResult): string {
  return result.title.replace(/^(\d+)\..*$/, '$1');
}

function verdict(target: TargetCheck): string {
  return target.met === undefined ? '—' : target.met ? 'yes' : '**no**';
}

function renderProfile(result: ScenarioResult, profile: ProfileSummary, root: string): string[] {
  return [
    `### Profile, scenario ${numberOf(result)}: ${profile.label}`,
    '',
    `\`${path.relative(root, profile.file)}\`: ${(profile.busyMillis / 1000).toFixed(2)} s busy of ${(profile.totalMillis / 1000).toFixed(2)} s sampled. Self time, in % of the busy time:`,
    '',
    ...renderTable({ header: ['frame', 'self', '%'], rows: profile.topFrames.map((f) => [`\`${f.frame}\``, `${f.selfMillis.toFixed(0)} ms`, f.percent.toFixed(1)]) }),
    '',
    ...renderTable({ header: ['package', 'self', '%'], rows: profile.byPackage.map((p) => [p.name, `${p.selfMillis.toFixed(0)} ms`, p.percent.toFixed(1)]) }),
    '',
    ...(profile.gatewayTotals.length
      ? [
          ...renderTable({
            caption: 'Gateway functions by total time (their own and their callees\'), in % of the busy time',
            header: ['gateway function', 'total', '%'],
            rows: profile.gatewayTotals.map((f) => [`\`${f.frame}\``, `${f.totalMillis.toFixed(0)} ms`, f.percent.toFixed(1)]),
          }),
          '',
        ]
      : []),
  ];
}

function renderTable(table: Table): string[] {
  return [
    ...(table.caption ? [`_${table.caption}_`, ''] : []),
    `| ${table.header.join(' | ')} |`,
    `| ${table.header.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ];
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
    profiles: report.results.flatMap((result) => (result.profiles ?? []).map((profile) => ({ scenario: result.name, ...profile, file: path.basename(profile.file) }))),
  };
}
