/**
 * CPU profiles of a child over one window of work: the harness asks the child to start V8's sampling
 * profiler (`profile-start`, through `node:inspector` in the child), runs the work, asks for the
 * profile (`profile-stop`), writes it as a `.cpuprofile` (open it in Chrome DevTools or VS Code) and
 * summarises it: the frames with the most self time, and self time by package. A window is profiled
 * apart from the measured one, because the profiler's own cost would move the figure it explains.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchChild } from './ipc';
import type { CallFrame, CpuProfile, ProfileNode } from './v8-profiles';
import type { BenchRun } from './servers';

export interface ProfileSummary {
  /** What was profiled, e.g. "gateway (SQLite), one load round of session(id)". */
  label: string;
  file: string;
  totalMillis: number;
  /** Sampled time not spent idle (waiting for I/O): what the percentages are of. */
  busyMillis: number;
  topFrames: { frame: string; selfMillis: number; percent: number }[];
  byPackage: { name: string; selfMillis: number; percent: number }[];
  /**
   * The gateway's own functions (dist/src) by total time: their self time and their callees'. Self
   * time alone lands on native frames (socket writes, SQLite); this says which gateway code led there.
   */
  gatewayTotals: { frame: string; totalMillis: number; percent: number }[];
}

/**
 * Profiles `child` while `work` runs and returns the summary (the profile file is in
 * `.bench/profiles/`). The profile is taken even when `work` fails, which then fails this call.
 */
export async function profileWindow(run: BenchRun, child: BenchChild, label: string, work: () => Promise<unknown>): Promise<ProfileSummary> {
  await child.request('profile-start');
  let profile: CpuProfile;
  try {
    await work();
  } finally {
    profile = await child.request('profile-stop');
  }
  const dir = path.join(run.options.workDir, 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${child.name}-${label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  run.log(`profiled ${child.name}: ${label} (${path.relative(run.options.root, file)})`);
  return summarizeCpuProfile(profile, label, file, run.options.root);
}

/** True when the scenario should take a profile: one of `met` is false, or `--cpu-prof` asks for it. */
export function wantsProfile(run: BenchRun, ...met: (boolean | undefined)[]): boolean {
  return run.options.cpuProfile || met.some((value) => value === false);
}

export function summarizeCpuProfile(profile: CpuProfile, label: string, file: string, root: string, top = 10): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (deltas[i] ?? 0)));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  let idle = 0;

  const frames = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    const name = describeFrame(frame, root);
    frames.set(name, (frames.get(name) ?? 0) + micros);
    const pkg = packageOf(frame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + micros);
  }
  const ranked = (entries: Map<string, number>) =>
    [...entries.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, selfMillis: micros / 1000, percent: total > idle ? (100 * micros) / (total - idle) : 0 }));
  const busy = total - idle;
  const gatewayTotals = [...gatewayInclusive(profile, byId, selfMicros, root).entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, micros]) => ({ frame, totalMillis: micros / 1000, percent: busy > 0 ? (100 * micros) / busy : 0 }));
  return {
    label,
    file,
    totalMillis: total / 1000,
    busyMillis: busy / 1000,
    topFrames: ranked(frames).map(({ name, ...rest }) => ({ frame: name, ...rest })),
    byPackage: ranked(packages),
    gatewayTotals,
  };
}

/** Total (inclusive) time of each gateway frame, a recursive frame counted once per call path. */
function gatewayInclusive(profile: CpuProfile, byId: Map<number, ProfileNode>, selfMicros: Map<number, number>, root: string): Map<string, number> {
  const isChild = new Set(profile.nodes.flatMap((node) => node.children ?? []));
  const totals = new Map<string, number>();
  const inclusive = new Map<number, number>();
  // Iterative post-order: profiles of deep async stacks can be deeper than the JS call stack allows.
  const stack: { id: number; onPath: ReadonlySet<string>; visited: boolean }[] = profile.nodes.filter((node) => !isChild.has(node.id)).map((node) => ({ id: node.id, onPath: new Set<string>(), visited: false }));
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const node = byId.get(top.id);
    if (!node) {
      stack.pop();
      continue;
    }
    const name = node.callFrame.url.includes('/dist/src/') ? describeFrame(node.callFrame, root) : undefined;
    if (!top.visited) {
      top.visited = true;
      const onPath = name ? new Set([...top.onPath, name]) : top.onPath;
      for (const child of node.children ?? []) stack.push({ id: child, onPath, visited: false });
      continue;
    }
    stack.pop();
    const sum = (node.callFrame.functionName === '(idle)' ? 0 : (selfMicros.get(node.id) ?? 0)) + (node.children ?? []).reduce((a, child) => a + (inclusive.get(child) ?? 0), 0);
    inclusive.set(node.id, sum);
    if (name && !top.onPath.has(name)) totals.set(name, (totals.get(name) ?? 0) + sum);
  }
  return totals;
}

export function describeFrame(frame: CallFrame, root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name; // (garbage collector), (program), (idle), native
  const file = frame.url.replace(/^file:\/\//, '');
  const shown = file.includes('/node_modules/') ? file.slice(file.lastIndexOf('/node_modules/') + '/node_modules/'.length) : path.relative(root, file) || file;
  return `${name} ${shown}:${frame.lineNumber + 1}`;
}

export function packageOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const marker = url.lastIndexOf('/node_modules/');
  if (marker >= 0) {
    const parts = url.slice(marker + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node (core)';
  if (url.includes('/dist/src/')) return 'gateway (dist/src)';
  return url.includes('/dist/tools/') ? 'tools (dist/tools)' : 'other';
}
