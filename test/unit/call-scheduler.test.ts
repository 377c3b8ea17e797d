/**
 * The cap on Face calls per second, on fake timers: a burst of one second's worth, then one slot every
 * 1/rate seconds; interactive calls (starts, deletes) are served before background ones (polls),
 * first come first served within each; a call without a slot by its deadline fails with
 * FaceCallBudgetError (UPSTREAM_UNAVAILABLE, not counted against Face).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FaceCallBudgetError, FaceCallScheduler, type FaceCallPriority } from '../../src/adapters/face/call-scheduler';
import { FaceUnavailableError } from '../../src/domain/ports/face.port';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const FAR = Number.MAX_SAFE_INTEGER;

/** Acquires and records the order in which calls are granted. */
function recorder(scheduler: FaceCallScheduler) {
  const granted: string[] = [];
  const failed: { name: string; error: unknown }[] = [];
  const acquire = (name: string, priority: FaceCallPriority, deadline = FAR) =>
    scheduler.acquire(priority, deadline).then(
      () => void granted.push(name),
      (error: unknown) => void failed.push({ name, error }),
    );
  return { granted, failed, acquire };
}

describe('the Face call scheduler', () => {
  it('grants a burst of one second worth at once, then one slot per 1/rate seconds', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 4, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    for (let i = 0; i < 8; i += 1) void acquire(`poll-${i}`, 'background');
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(249);
    expect(granted).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(granted).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(750);
    expect(granted).toEqual(['poll-0', 'poll-1', 'poll-2', 'poll-3', 'poll-4', 'poll-5', 'poll-6', 'poll-7']);
  });

  it('serves a start that arrives behind many polls before them', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 2, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    for (let i = 0; i < 2; i += 1) void acquire(`early-poll-${i}`, 'background');
    for (let i = 0; i < 20; i += 1) void acquire(`poll-${i}`, 'background');
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.waiting).toEqual({ interactive: 0, background: 20 });
    void acquire('start', 'interactive');
    void acquire('delete', 'interactive');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(granted).toEqual(['early-poll-0', 'early-poll-1', 'start', 'delete']);
    await vi.advanceTimersByTimeAsync(500);
    expect(granted.at(-1)).toBe('poll-0');
  });

  it('a poll arriving while slots are free still waits behind waiting starts', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 1, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    void acquire('first', 'interactive');
    void acquire('start', 'interactive');
    void acquire('poll', 'background');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(granted).toEqual(['first', 'start']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(granted).toEqual(['first', 'start', 'poll']);
  });

  it('fails a call that gets no slot by its deadline, and serves the next one in its place', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 1, now: () => Date.now() });
    const { granted, failed, acquire } = recorder(scheduler);
    void acquire('first', 'background');
    void acquire('impatient', 'background', Date.now() + 300);
    void acquire('patient', 'background');
    await vi.advanceTimersByTimeAsync(300);
    expect(failed.map((failure) => failure.name)).toEqual(['impatient']);
    expect(failed[0].error).toBeInstanceOf(FaceCallBudgetError);
    expect(failed[0].error).toBeInstanceOf(FaceUnavailableError);
    await vi.advanceTimersByTimeAsync(700);
    expect(granted).toEqual(['first', 'patient']);
  });

  it('with a cap of 0 grants everything at once', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 0, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    for (let i = 0; i < 100; i += 1) void acquire(`call-${i}`, 'background');
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(100);
  });

  it('closing fails every waiting call', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 1, now: () => Date.now() });
    const { failed, acquire } = recorder(scheduler);
    void acquire('first', 'background');
    void acquire('second', 'interactive');
    void acquire('third', 'background');
    await vi.advanceTimersByTimeAsync(0);
    scheduler.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(failed.map((failure) => failure.name).sort()).toEqual(['second', 'third']);
  });

  it('a waiting call whose signal aborts leaves the queue at once, and the next one gets the slot', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 1, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    void acquire('first', 'interactive');
    await vi.advanceTimersByTimeAsync(0);
    const abandoned = new AbortController();
    const outcome = scheduler.acquire('interactive', FAR, abandoned.signal).then(
      () => 'granted',
      (error: unknown) => error,
    );
    void acquire('user', 'interactive');
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.waiting).toEqual({ interactive: 2, background: 0 });

    abandoned.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.waiting).toEqual({ interactive: 1, background: 0 });
    expect(await outcome).toBeInstanceOf(FaceCallBudgetError);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(granted).toEqual(['first', 'user']);
  });

  it('a call whose signal has already aborted takes no slot', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 1, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    await expect(scheduler.acquire('interactive', FAR, AbortSignal.abort())).rejects.toBeInstanceOf(FaceCallBudgetError);
    void acquire('user', 'interactive');
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toEqual(['user']);
  });

  it('a spare slot (the readiness probe) is taken only when nobody waits and another slot stays free', async () => {
    const scheduler = new FaceCallScheduler({ callsPerSecond: 3, now: () => Date.now() });
    const { granted, acquire } = recorder(scheduler);
    expect(scheduler.trySpare()).toBe(true); // 3 free: takes one, 2 left
    expect(scheduler.trySpare()).toBe(true); // 2 free: takes one, 1 left for a user
    expect(scheduler.trySpare()).toBe(false);
    void acquire('user', 'interactive');
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toEqual(['user']);
    void acquire('poll', 'background');
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.waiting.background).toBe(1);
    await vi.advanceTimersByTimeAsync(300);
    expect(scheduler.trySpare()).toBe(false); // a poll is waiting: the probe never goes before it
    expect(scheduler.waiting).toEqual({ interactive: 0, background: 1 });
  });
});
