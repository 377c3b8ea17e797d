/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`, see `--cpu-prof` in options.ts) and lists the
 * frames with the most self time, and self time by package, so a run can say where the gateway's time
 * goes without opening a profiler.
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMillis: number;
  /** Sampled time not spent idle (waiting for I/O): what the percentages are of. */
  busyMillis: number;
  topFrames: { frame: string; selfMillis: number; percent: number }[];
  byPackage: { name: string; selfMillis: number; percent: number }[];
}

export function summarizeCpuProfile(file: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
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
  return {
    file,
    totalMillis: total / 1000,
    busyMillis: (total - idle) / 1000,
    topFrames: ranked(frames).map(({ name, ...rest }) => ({ frame: name, ...rest })),
    byPackage: ranked(packages),
  };
}

function describeFrame(frame: ProfileNode['callFrame'], root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name; // (garbage collector), (program), (idle), native
  const file = frame.url.replace(/^file:\/\//, '');
  const shown = file.includes('/node_modules/') ? file.slice(file.lastIndexOf('/node_modules/') + '/node_modules/'.length) : path.relative(root, file) || file;
  return `${name} ${shown}:${frame.lineNumber + 1}`;
}

function packageOf(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const marker = url.lastIndexOf('/node_modules/');
  if (marker >= 0) {
    const parts = url.slice(marker + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node (core)';
  return url.includes('/dist/src/') ? 'gateway (dist/src)' : 'other';
}
