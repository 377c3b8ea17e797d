/**
 * The profiles V8 answers over the inspector protocol, as the bench children send them to the
 * harness and as `.cpuprofile` and `.heapprofile` files hold them (the fields the bench reads).
 */

/** Where a sample was taken: a function, its script and line (zero-based). */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** V8's CPU profile, as `Profiler.stop` returns it and `.cpuprofile` files hold it. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface AllocationNode {
  callFrame: CallFrame;
  /** Estimated bytes allocated by this frame itself (V8 scales each sample by its probability). */
  selfSize: number;
  children?: AllocationNode[];
}

/** V8's sampling heap profile, as `HeapProfiler.stopSampling` returns it and `.heapprofile` files hold it. */
export interface AllocationProfile {
  head: AllocationNode;
}
