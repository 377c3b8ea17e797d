/**
 * Allocation profiles of a child over one window of work: V8's sampling heap profiler, told to keep
 * the samples of objects already collected again, so that it estimates every byte the window
 * allocated (garbage included) and where: what a request costs the collector, which instruction
 * counts and CPU profiles show only as time in `(garbage collector)`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeFrame, packageOf } from './cpu-profile';
import type { BenchChild } from './ipc';
import type { BenchRun } from './servers';
import type { AllocationNode, AllocationProfile } from './v8-profiles';

export interface AllocationSummary {
  label: string;
  file: string;
  responses: number;
  bytesPerResponse: number;
  topFrames: { frame: string; bytesPerResponse: number; percent: number }[];
  byPackage: { name: string; bytesPerResponse: number; percent: number }[];
}

/** Profiles `child`'s allocations while `work` runs; `work` answers how many responses it got. */
export async function allocationWindow(run: BenchRun, child: BenchChild, label: string, work: () => Promise<number>): Promise<AllocationSummary> {
  await child.request('allocations-start');
  let profile: AllocationProfile;
  let responses = 0;
  try {
    responses = await work();
  } finally {
    profile = await child.request('allocations-stop');
  }
  const dir = path.join(run.options.workDir, 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${child.name}-${label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.heapprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  run.log(`allocations of ${child.name}: ${label} (${path.relative(run.options.root, file)})`);
  return summarizeAllocations(profile, label, file, responses, run.options.root);
}

export function summarizeAllocations(profile: AllocationProfile, label: string, file: string, responses: number, root: string, top = 12): AllocationSummary {
  const frames = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  const stack: AllocationNode[] = [profile.head];
  while (stack.length > 0) {
    const node = stack.pop() as AllocationNode;
    stack.push(...(node.children ?? []));
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const name = describeFrame(node.callFrame, root);
    frames.set(name, (frames.get(name) ?? 0) + node.selfSize);
    const pkg = packageOf(node.callFrame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + node.selfSize);
  }
  const perResponse = (bytes: number) => (responses > 0 ? bytes / responses : NaN);
  const ranked = (entries: Map<string, number>) =>
    [...entries.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => ({ name, bytesPerResponse: perResponse(bytes), percent: total > 0 ? (100 * bytes) / total : 0 }));
  return {
    label,
    file,
    responses,
    bytesPerResponse: perResponse(total),
    topFrames: ranked(frames).map(({ name, ...rest }) => ({ frame: name, ...rest })),
    byPackage: ranked(packages),
  };
}
