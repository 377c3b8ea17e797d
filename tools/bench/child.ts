/**
 * The child's side of `ipc.ts`: say where we listen, then answer the parent's requests. Memory is
 * reported after forced garbage collection (children run with `--expose-gc`).
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AllocationProfile, CpuProfile } from './v8-profiles';
import type { ChildApi, ChildReadyMessage, ChildReplyMessage, ChildRequestKind, ChildRequestMessage, MemorySnapshot } from './ipc';

type Handlers = { [K in Exclude<ChildRequestKind, 'stop'>]?: () => Promise<ChildApi[K]> | ChildApi[K] };

/**
 * Announces `ready` and serves requests; `stop` (asked for, or the parent gone) stops serving and the
 * process exits. `memory`, `reset-peak-rss` and the profiler's start and stop are answered here
 * unless `handlers` says otherwise.
 */
export function serveParent(ready: Omit<ChildReadyMessage, 'ready'>, handlers: Handlers & { stop: () => Promise<void> }): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('This is a child entry of `npm run bench`; it must be started with an IPC channel.');
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= handlers.stop());
  const builtIn: Handlers = {
    memory: collectedMemory,
    'reset-peak-rss': resetPeakRss,
    'profile-start': startProfiling,
    'profile-stop': stopProfiling,
    'allocations-start': startAllocationProfile,
    'allocations-stop': stopAllocationProfile,
  };
  process.on('message', (message: ChildRequestMessage) => {
    const handler: (() => unknown) | undefined = message.kind === 'stop' ? stop : (handlers[message.kind] ?? builtIn[message.kind]);
    const reply = (answer: ChildReplyMessage) => send(answer);
    if (!handler) return reply({ id: message.id, ok: false, error: `no handler for "${message.kind}"` });
    Promise.resolve()
      .then(() => handler())
      .then(
        (value) => {
          reply({ id: message.id, ok: true, value: value ?? null });
          if (message.kind === 'stop') process.disconnect();
        },
        (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  // The parent going away (crash, Ctrl-C) must not leave a server behind.
  process.on('disconnect', () => {
    stop().finally(() => process.exit(0));
  });
  send({ ready: true, ...ready } satisfies ChildReadyMessage);
}

async function collectedMemory(): Promise<MemorySnapshot> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the child was started without --expose-gc');
  // Several passes with turns in between, so finalizers and weak callbacks get to run.
  for (let pass = 0; pass < 4; pass += 1) {
    gc();
    await nextTurn();
  }
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers };
}

/** Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+). */
function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

let profiler: Session | undefined;

async function startProfiling(): Promise<null> {
  if (profiler) throw new Error('the profiler is already running');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  profiler = session;
  return null;
}

async function stopProfiling(): Promise<CpuProfile> {
  const session = profiler;
  if (!session) throw new Error('the profiler is not running');
  profiler = undefined;
  try {
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

let allocations: Session | undefined;

/** One sample per 16 KB allocated on average: cheap enough to leave the window's work near its usual pace. */
const ALLOCATION_SAMPLING_BYTES = 16 * 1024;

async function startAllocationProfile(): Promise<null> {
  if (allocations) throw new Error('the allocation profiler is already running');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  // Without these two, samples of objects the collector frees are dropped: the profile would show
  // what the window left alive, not what it allocated.
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: ALLOCATION_SAMPLING_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  allocations = session;
  return null;
}

async function stopAllocationProfile(): Promise<AllocationProfile> {
  const session = allocations;
  if (!session) throw new Error('the allocation profiler is not running');
  allocations = undefined;
  try {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    return profile as AllocationProfile;
  } finally {
    session.disconnect();
  }
}
