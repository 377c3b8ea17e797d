/**
 * The poller's rules, with a real `pollOnce` written here and small real intervals: one task per
 * session, backoff that doubles up to the largest gap, an end on 'done', cancel and stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Poller, type PollResult } from '../../src/domain/polling/poller';

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** A session as Face would answer for it: 'pending' until `doneAfter` polls, then 'done'. Records every poll. */
class FakeFaceSessions {
  readonly polls: { sessionId: string; at: number }[] = [];
  readonly errors: { sessionId: string; error: unknown }[] = [];
  private readonly inFlight = new Map<string, number>();
  maxInFlightPerSession = 0;

  constructor(
    private readonly options: { doneAfter?: Record<string, number>; pollMillis?: number; failFirst?: number } = {},
  ) {}

  pollOnce = async (sessionId: string): Promise<PollResult> => {
    this.polls.push({ sessionId, at: performance.now() });
    const running = (this.inFlight.get(sessionId) ?? 0) + 1;
    this.inFlight.set(sessionId, running);
    this.maxInFlightPerSession = Math.max(this.maxInFlightPerSession, running);
    try {
      if (this.options.pollMillis) await sleep(this.options.pollMillis);
      const count = this.count(sessionId);
      if (this.options.failFirst && count <= this.options.failFirst) throw new Error(`Face answered 503 to poll ${count}`);
      const doneAfter = this.options.doneAfter?.[sessionId];
      return doneAfter !== undefined && count >= doneAfter ? 'done' : 'pending';
    } finally {
      this.inFlight.set(sessionId, (this.inFlight.get(sessionId) ?? 1) - 1);
    }
  };

  onError = (sessionId: string, error: unknown) => this.errors.push({ sessionId, error });

  count(sessionId: string): number {
    return this.polls.filter((poll) => poll.sessionId === sessionId).length;
  }

  gaps(sessionId: string): number[] {
    const times = this.polls.filter((poll) => poll.sessionId === sessionId).map((poll) => poll.at);
    return times.slice(1).map((at, i) => at - times[i]);
  }
}

const pollers: Poller[] = [];
function poller(face: FakeFaceSessions, intervalMillis: number, maxIntervalMillis: number): Poller {
  const created = new Poller({ pollOnce: face.pollOnce, onError: face.onError, intervalMillis, maxIntervalMillis });
  pollers.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});

/** Waits until `check` holds, or fails after `timeoutMillis`. */
async function until(check: () => boolean, timeoutMillis = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('Poller', () => {
  it('polls at once when completion is reported', async () => {
    const face = new FakeFaceSessions({ doneAfter: { s1: 1 } });
    const started = performance.now();
    poller(face, 1_000, 5_000).pollSoon('s1');
    await until(() => face.count('s1') === 1);
    expect(face.polls[0].at - started).toBeLessThan(500);
  });

  it('backs off from the first interval, doubling up to the largest gap', async () => {
    const face = new FakeFaceSessions({ doneAfter: { s1: 7 } });
    const polls = poller(face, 40, 320);
    polls.pollSoon('s1');
    await until(() => face.count('s1') === 7, 5_000);
    const expected = [40, 80, 160, 320, 320, 320];
    const gaps = face.gaps('s1');
    expect(gaps).toHaveLength(expected.length);
    gaps.forEach((gap, i) => {
      // Timers never fire early (allowing Node's 1 ms rounding); a busy machine may make them late.
      expect(gap).toBeGreaterThanOrEqual(expected[i] - 2);
      expect(gap).toBeLessThan(expected[i] + Math.max(40, expected[i] / 2));
    });
  });

  it("stops polling a session once it answers 'done'", async () => {
    const face = new FakeFaceSessions({ doneAfter: { s1: 3 } });
    const polls = poller(face, 10, 20);
    polls.pollSoon('s1');
    await until(() => face.count('s1') === 3);
    await until(() => polls.size === 0);
    expect(polls.isPolling('s1')).toBe(false);
    await sleep(100);
    expect(face.count('s1')).toBe(3);
  });

  it('runs one task per session, however many subscribers watch it and however often completion is reported', async () => {
    const face = new FakeFaceSessions({ doneAfter: { s1: 4 }, pollMillis: 15 });
    const polls = poller(face, 10, 40);
    const releases = [polls.watch('s1'), polls.watch('s1'), polls.watch('s1')];
    polls.pollSoon('s1');
    polls.pollSoon('s1');
    await sleep(5);
    polls.pollSoon('s1'); // reported again while a poll is in flight
    releases.push(polls.watch('s1'));
    expect(polls.size).toBe(1);
    await until(() => face.count('s1') === 4);
    await until(() => polls.size === 0);
    await sleep(100);
    expect(face.count('s1')).toBe(4);
    expect(face.maxInFlightPerSession).toBe(1);
    for (const release of releases) release();
  });

  it('polls sessions independently of one another', async () => {
    const face = new FakeFaceSessions({ doneAfter: { a: 1, b: 3 } });
    const polls = poller(face, 10, 20);
    polls.pollSoon('a');
    polls.pollSoon('b');
    expect(polls.size).toBe(2);
    await until(() => face.count('b') === 3);
    await until(() => polls.size === 0);
    expect(face.count('a')).toBe(1);
  });

  it('reports a failed poll and keeps polling', async () => {
    const face = new FakeFaceSessions({ doneAfter: { s1: 3 }, failFirst: 2 });
    const polls = poller(face, 10, 20);
    polls.pollSoon('s1');
    await until(() => face.count('s1') === 3);
    await until(() => polls.size === 0);
    expect(face.errors.map((e) => [e.sessionId, (e.error as Error).message])).toEqual([
      ['s1', 'Face answered 503 to poll 1'],
      ['s1', 'Face answered 503 to poll 2'],
    ]);
  });

  it('polls a session only subscribers wait for at the largest gap, and stops when the last one leaves', async () => {
    const face = new FakeFaceSessions();
    const polls = poller(face, 10, 60);
    const started = performance.now();
    const first = polls.watch('s1');
    const second = polls.watch('s1');
    expect(polls.isPolling('s1')).toBe(false);
    await until(() => face.count('s1') === 2);
    expect(face.polls[0].at - started).toBeGreaterThanOrEqual(58);
    expect(face.gaps('s1')[0]).toBeGreaterThanOrEqual(58);
    first();
    first(); // releasing twice counts once
    expect(polls.size).toBe(1);
    second();
    expect(polls.size).toBe(0);
    const count = face.count('s1');
    await sleep(150);
    expect(face.count('s1')).toBe(count);
  });

  it('cancel ends the polling of a session, even with a poll in flight', async () => {
    const face = new FakeFaceSessions({ pollMillis: 30 });
    const polls = poller(face, 10, 20);
    const release = polls.watch('s1');
    polls.pollSoon('s1');
    await until(() => face.count('s1') === 1);
    polls.cancel('s1');
    expect(polls.size).toBe(0);
    expect(polls.isPolling('s1')).toBe(false);
    await sleep(150);
    expect(face.count('s1')).toBe(1);
    release();
  });

  it('stop waits for the polls in flight and starts no more', async () => {
    const face = new FakeFaceSessions({ pollMillis: 50 });
    const polls = poller(face, 10, 20);
    polls.pollSoon('s1');
    await until(() => face.count('s1') === 1);
    const stopping = polls.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await sleep(10);
    expect(stopped).toBe(false);
    await stopping;
    polls.pollSoon('s2');
    polls.watch('s3')();
    await sleep(100);
    expect(face.polls.map((poll) => poll.sessionId)).toEqual(['s1']);
    expect(polls.size).toBe(0);
  });
});
