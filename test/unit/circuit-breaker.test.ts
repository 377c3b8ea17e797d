/**
 * The circuit breaker's rules, on a clock the test moves: it opens after N consecutive unavailable
 * failures, fails fast while open, lets one trial through after the cool-down, and closes on its
 * success or opens again on its failure. Refusals (Face answered) and the gateway's own congestion
 * do not count as Face being down.
 */
import { describe, expect, it } from 'vitest';
import { FaceCallBudgetError } from '../../src/adapters/face/call-scheduler';
import { createAzureFace } from '../../src/adapters/face/azure-face';
import { CIRCUIT_OPEN_MESSAGE, CircuitBreaker, type CircuitState, withCircuitBreaker } from '../../src/adapters/face/circuit-breaker';
import { FaceRequestError, FaceUnavailableError } from '../../src/domain/ports/face.port';

function setup(failureThreshold = 3, coolDownMillis = 10_000) {
  const clock = { now: 0 };
  const changes: CircuitState[] = [];
  const breaker = new CircuitBreaker({ failureThreshold, coolDownMillis, now: () => clock.now, onStateChange: (state) => changes.push(state) });
  let calls = 0;
  const call = (outcome: 'ok' | 'unavailable' | 'refused' | 'congested') =>
    breaker.run(async () => {
      calls += 1;
      if (outcome === 'unavailable') throw new FaceUnavailableError('Face create failed with 503 after 2 tries.', 503);
      if (outcome === 'refused') throw new FaceRequestError('InvalidRequest', 400, 'refused');
      if (outcome === 'congested') throw new FaceCallBudgetError('no slot');
      return 'answer';
    });
  return { breaker, clock, changes, call, calls: () => calls };
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('the circuit breaker', () => {
  it('stays closed below the threshold and opens at it', async () => {
    const { breaker, call, changes } = setup(3);
    await failureOf(call('unavailable'));
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('closed');
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['open']);
  });

  it('while open fails fast without calling Face, saying when to retry', async () => {
    const { call, calls, clock } = setup(1, 10_000);
    await failureOf(call('unavailable'));
    clock.now = 2_500;
    const error = await failureOf(call('ok'));
    expect(calls()).toBe(1);
    expect(error).toBeInstanceOf(FaceUnavailableError);
    expect(error.message).toBe(CIRCUIT_OPEN_MESSAGE);
    expect((error as FaceUnavailableError).retryAfterSeconds).toBe(8);
  });

  it('a success in between resets the count of consecutive failures', async () => {
    const { breaker, call } = setup(2);
    await failureOf(call('unavailable'));
    await call('ok');
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('closed');
  });

  it('a refusal from Face proves it alive and resets the count', async () => {
    const { breaker, call } = setup(2);
    await failureOf(call('unavailable'));
    expect(await failureOf(call('refused'))).toBeInstanceOf(FaceRequestError);
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('closed');
  });

  it("the gateway's own congestion is not counted as Face failing", async () => {
    const { breaker, call } = setup(2);
    await failureOf(call('unavailable'));
    for (let i = 0; i < 5; i += 1) await failureOf(call('congested'));
    expect(breaker.state).toBe('closed');
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('open');
  });

  it('after the cool-down lets one trial through, and closes when it succeeds', async () => {
    const { breaker, call, calls, clock, changes } = setup(1, 10_000);
    await failureOf(call('unavailable'));
    clock.now = 10_000;
    expect(await call('ok')).toBe('answer');
    expect(calls()).toBe(2);
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
    await call('ok');
    expect(calls()).toBe(3);
  });

  it('a failed trial opens the circuit for another full cool-down', async () => {
    const { breaker, call, calls, clock } = setup(1, 10_000);
    await failureOf(call('unavailable'));
    clock.now = 10_000;
    await failureOf(call('unavailable'));
    expect(breaker.state).toBe('open');
    clock.now = 19_999;
    expect((await failureOf(call('ok'))).message).toBe(CIRCUIT_OPEN_MESSAGE);
    expect(calls()).toBe(2);
    clock.now = 20_000;
    await call('ok');
    expect(breaker.state).toBe('closed');
  });

  it('while the trial is in flight, other calls still fail fast', async () => {
    const { breaker, clock } = setup(1, 1_000);
    await failureOf(breaker.run(async () => Promise.reject(new FaceUnavailableError('down'))));
    clock.now = 1_000;
    let finishTrial = () => {};
    const trial = breaker.run(() => new Promise<string>((resolve) => (finishTrial = () => resolve('trial'))));
    expect(breaker.state).toBe('half-open');
    let reached = false;
    const other = await failureOf(breaker.run(async () => (reached = true)));
    expect(other.message).toBe(CIRCUIT_OPEN_MESSAGE);
    expect(reached).toBe(false);
    finishTrial();
    expect(await trial).toBe('trial');
    expect(breaker.state).toBe('closed');
  });

  it('a threshold of 0 switches it off', async () => {
    const { breaker, call, calls } = setup(0);
    for (let i = 0; i < 10; i += 1) await failureOf(call('unavailable'));
    expect(breaker.state).toBe('closed');
    expect(calls()).toBe(10);
  });

  it('a call that got its slot at its deadline is congestion, and never opens the circuit', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, coolDownMillis: 10_000 });
    // Every slot is granted only when the call's time is up, as under a queue of probes.
    const face = withCircuitBreaker(
      createAzureFace({
        endpoint: 'http://127.0.0.1:9',
        apiKey: 'unit-test-key',
        maxRetries: 0,
        totalTimeoutMillis: 50,
        acquire: (_priority, deadlineMillis) => new Promise((resolve) => setTimeout(resolve, Math.max(0, deadlineMillis - Date.now()))),
      }),
      breaker,
    );
    const request = { operationMode: 'PASSIVE', deviceCorrelationId: 'd', authTokenTimeToLiveSeconds: 600, enableSessionImage: false } as const;
    for (let i = 0; i < 4; i += 1) expect(await failureOf(face.createLivenessSession(request))).toBeInstanceOf(FaceCallBudgetError);
    expect(breaker.state).toBe('closed');
  });
});
