/** The machine a run measured on, for the report: CPUs, memory, Node, kernel, and how busy it was. */
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
