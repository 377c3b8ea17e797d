/** The machine a run measured on, for the report: CPUs, memory, Node, kernel, and how busy it was. */
import fs from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  cpuMHz: number;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  node: string;
  v8: string;
  os: string;
  /** 1, 5 and 15 minute load averages. */
  loadAverage: number[];
}

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    cpuMHz: cpus[0]?.speed ?? 0,
    totalMemoryBytes: os.totalmem(),
    freeMemoryBytes: os.freemem(),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

/** USER_HZ: the unit of /proc/<pid>/stat's times, 100 on every Linux Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The command name and CPU time (user + system, all threads) of a process, from /proc/<pid>/stat. */
function readStat(pid: number | string): { command: string; cpuSeconds: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // "pid (command) state ppid ...": the command may hold spaces and parentheses, so split after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND };
}

/**
 * CPU a process has used so far, in seconds. The difference over a round divided by the responses
 * served is the server's own cost per response. Unlike rps it leaves out time spent waiting for a
 * core, but not the slowdown of sharing caches with whatever else runs, so it still moves with the
 * machine (for a count that does not, see `callgrind.ts`).
 */
export function processCpuSeconds(pid: number): number {
  return readStat(pid).cpuSeconds;
}

/**
 * CPU used so far by every process on this machine whose command is one of `commands` (such as
 * PostgreSQL's backends and Redis), in seconds; undefined when none runs here (servers elsewhere).
 * Processes that start or end between two readings make the difference approximate.
 */
export function commandsCpuSeconds(commands: readonly string[]): number | undefined {
  let total = 0;
  let found = false;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { command, cpuSeconds } = readStat(entry);
      if (!commands.includes(command)) continue;
      total += cpuSeconds;
      found = true;
    } catch {
      // The process ended while we looked.
    }
  }
  return found ? total : undefined;
}
