/**
 * The servers under test run in child processes (the gateway, the anchors, the Face emulator), so that
 * their memory is measured apart from the load generator and they get a core of their own. This is the
 * parent's side: fork a child entry with an explicit environment, wait for it to say where it listens,
 * and ask it questions over IPC ("collect garbage, then report process.memoryUsage()").
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AllocationProfile, CpuProfile } from './v8-profiles';
import { processCpuSeconds } from './machine';

/** `process.memoryUsage()` after forced garbage collection, in bytes. */
export interface MemorySnapshot {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Face calls an emulator child has served, by kind (see `classifyFaceCall`). */
export type FaceCallCounts = Record<FaceCallKind, number>;
export type FaceCallKind = 'create' | 'get' | 'delete' | 'device' | 'other';

/** What a child answers, by request kind. */
export interface ChildApi {
  /** Forced GC (several passes), then `process.memoryUsage()`. */
  memory: MemorySnapshot;
  /** Resets the kernel's peak RSS (VmHWM) of the child; false when the kernel refused. */
  'reset-peak-rss': boolean;
  /** Emulator children only. */
  'face-calls': FaceCallCounts;
  'reset-face-calls': null;
  /** Starts V8's sampling CPU profiler in the child (`profileWindow` in cpu-profile.ts). */
  'profile-start': null;
  /** Stops it and answers the profile. */
  'profile-stop': CpuProfile;
  /** Starts V8's sampling heap profiler, collected objects included (`allocationWindow` in allocation-profile.ts). */
  'allocations-start': null;
  /** Stops it and answers the profile. */
  'allocations-stop': AllocationProfile;
  /** Stops serving (draining as the real process would), then the child exits. */
  stop: null;
}
export type ChildRequestKind = keyof ChildApi;

export interface ChildRequestMessage {
  id: number;
  kind: ChildRequestKind;
}
export type ChildReplyMessage = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
/** The first message of a child: where it listens. */
export interface ChildReadyMessage {
  ready: true;
  url: string;
  emulatorUrl?: string;
}

export interface ForkOptions {
  /** A name for logs and profiles, e.g. `gateway-query`. */
  name: string;
  /** The child entry's file name in this directory, e.g. `gateway-process.js`. */
  entry: string;
  /** The child's whole environment (nothing is inherited but PATH and HOME). */
  env: Record<string, string>;
  /** Where the child's stdout and stderr are written. */
  logDir: string;
  /**
   * When set, the child runs under valgrind's callgrind with instrumentation off, writing its counts
   * to this file when asked (`countInstructions` in `callgrind.ts`).
   */
  callgrindOutFile?: string;
  readyTimeoutMillis?: number;
}

const STOP_TIMEOUT_MILLIS = 15_000;

export class BenchChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
    readonly ready: ChildReadyMessage,
    private readonly exited: Promise<number | null>,
  ) {
    child.on('message', (message: ChildReplyMessage) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(`${name}: ${message.error}`));
    });
    void exited.then((code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited (code ${code}); see ${logFile}`));
      this.pending.clear();
    });
  }

  static async fork(options: ForkOptions): Promise<BenchChild> {
    fs.mkdirSync(options.logDir, { recursive: true });
    const logFile = path.join(options.logDir, `${options.name}.log`);
    const log = fs.openSync(logFile, 'w');
    const execArgv = ['--expose-gc'];
    // Under callgrind, valgrind runs node (same pid, same IPC channel): fork() puts execArgv before the entry.
    const underCallgrind = options.callgrindOutFile !== undefined && [
      '--tool=callgrind',
      '--smc-check=all', // V8 writes and rewrites machine code
      '--instr-atstart=no',
      `--callgrind-out-file=${options.callgrindOutFile}`,
      process.execPath,
    ];
    const child = fork(path.join(__dirname, options.entry), [], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      ...(underCallgrind ? { execPath: 'valgrind', execArgv: [...underCallgrind, ...execArgv] } : { execArgv }),
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const timeoutMillis = options.readyTimeoutMillis ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const ready = await Promise.race([
        new Promise<ChildReadyMessage>((resolve) => {
          const onMessage = (message: unknown) => {
            if (isReady(message)) {
              child.off('message', onMessage);
              resolve(message);
            }
          };
          child.on('message', onMessage);
        }),
        exited.then((code): never => {
          throw new Error(`${options.name} exited with code ${code} before it was ready:\n${tail(logFile)}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${options.name} was not ready within ${timeoutMillis} ms:\n${tail(logFile)}`)), timeoutMillis);
        }),
      ]);
      return new BenchChild(options.name, child, logFile, ready, exited);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get url(): string {
    return this.ready.url;
  }

  request<K extends ChildRequestKind>(kind: K, timeoutMillis = 60_000): Promise<ChildApi[K]> {
    const id = this.nextId++;
    return new Promise<ChildApi[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer "${kind}" within ${timeoutMillis} ms`));
      }, timeoutMillis);
      this.pending.set(id, {
        // The child answers `kind` with ChildApi[K]; IPC carries it as plain JSON.
        resolve: (value) => (clearTimeout(timer), resolve(value as ChildApi[K])),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.child.send({ id, kind } satisfies ChildRequestMessage);
    });
  }

  /** Asks the child to stop and waits for it to exit; kills it (by pid) if it does not within 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request('stop', STOP_TIMEOUT_MILLIS).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MILLIS);
    await this.exited;
    clearTimeout(timer);
  }

  /** CPU the child has used so far, in seconds (`processCpuSeconds`). */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  /** Kernel figures of the child from /proc/<pid>/status, in bytes: VmRSS (now) and VmHWM (peak). */
  procStatus(): { vmRss: number; vmHwm: number } {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { vmRss: kib('VmRSS'), vmHwm: kib('VmHWM') };
  }
}

function isReady(message: unknown): message is ChildReadyMessage {
  return typeof message === 'object' && message !== null && (message as { ready?: unknown }).ready === true;
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
