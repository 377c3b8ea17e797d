/**
 * Instructions per response, counted by valgrind's callgrind: the one figure of scenario 1 that a
 * shared machine's noise does not move. On a small shared machine rps and CPU time per response of
 * one process move between rounds seconds apart by more than the differences the targets judge, even
 * for one build loaded against itself, so those cannot be told from noise by time. Callgrind counts
 * the instructions a process executes in user space (all its threads: V8's compiler and GC helpers
 * too), the same for the same work whatever else the machine runs.
 *
 * What it leaves out: time in the kernel (the sockets' reads and writes, SQLite's file locks) and
 * what instructions cost (cache misses, a longer JIT warm-up). So it answers "does the gateway do more
 * work per request than bare Apollo", not "is it faster"; the rps rounds answer that, with their noise.
 *
 * The child runs under valgrind from its start with instrumentation off (about 5x slower than native,
 * rather than 50x), is warmed up, then counting is switched on, zeroed after a short settle, and
 * dumped after the measured requests (`callgrind_control`, which finds the child by its pid).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { BenchChild } from './ipc';
import { loadRound, type HttpLoad } from './load';

/** Why callgrind cannot run here, or undefined when it can. */
export function callgrindUnavailable(): string | undefined {
  for (const command of ['valgrind', 'callgrind_control']) {
    const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return `\`${command}\` is not installed (Debian package valgrind)`;
  }
  if (process.platform !== 'linux') return 'callgrind runs on Linux only';
  return undefined;
}

export interface InstructionCount {
  responses: number;
  /** User-space instructions the process executed per response, all threads. */
  instructionsPerResponse: number;
  /** Responses refused by the load's check, non-2xx, errors or timeouts. */
  failures: number;
}

/**
 * Counts a child started with `callgrindOutFile` over `measured` requests of `load`, after
 * `warmup` requests uncounted. `childHost` is the child's HOST variable, if it has one: valgrind
 * names the pipes `callgrind_control` looks for after it.
 */
export async function countInstructions(
  child: BenchChild,
  outFile: string,
  childHost: string | undefined,
  load: HttpLoad,
  sizes: { warmupRequests: number; measuredRequests: number },
): Promise<InstructionCount> {
  const control = (...args: string[]) =>
    execFileSync('callgrind_control', [...args, String(child.pid)], { env: hostEnv(childHost), stdio: 'ignore' });
  const bound = (requests: number) => ({ requests, maxSeconds: 1_800 });
  await loadRound(load, bound(sizes.warmupRequests));
  control('-i', 'on'); // instrumentation on: code is translated again, so settle before zeroing
  await loadRound(load, bound(Math.ceil(sizes.measuredRequests / 5)));
  control('-z');
  const measured = await loadRound(load, bound(sizes.measuredRequests));
  control('-d');
  const total = await firstDumpTotal(outFile);
  return {
    responses: measured.responses,
    instructionsPerResponse: total / measured.responses,
    failures: measured.non2xx + measured.failedChecks + measured.errors + measured.timeouts,
  };
}

/** This process's environment with HOST as the child has it (set, or not at all). */
function hostEnv(childHost: string | undefined): NodeJS.ProcessEnv {
  const { HOST: _ours, ...rest } = process.env;
  return childHost === undefined ? rest : { ...rest, HOST: childHost };
}

/** The instruction total of the first dump callgrind writes on request (`outFile.1`), once it is whole. */
async function firstDumpTotal(outFile: string): Promise<number> {
  const dump = `${outFile}.1`;
  for (let waited = 0; waited < 60_000; waited += 200) {
    // The totals line is the last thing callgrind writes.
    const total = fs.existsSync(dump) ? /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(dump, 'utf8'))?.[1] : undefined;
    if (total !== undefined) return Number(total);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`callgrind wrote no dump to ${dump} within 60 s`);
}
