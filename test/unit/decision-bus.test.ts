/**
 * The decision bus: its wire format survives JSON, one pub/sub subscription per session serves all
 * of an instance's subscribers, a decision reaches them from this instance or another, a failed
 * publish loses nothing here, and a subscriber who leaves ends its fallback poll. On the in-process
 * pub/sub and a real SQLite store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessPubSub } from '../../src/adapters/pubsub/in-process';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import { DecisionBus } from '../../src/domain/decisions/decision-bus';
import { decisionTopic, fromPayload, toPayload } from '../../src/domain/decisions/wire';
import type { PubSub } from '../../src/domain/ports/pubsub';
import type { Store, Transition } from '../../src/domain/ports/store';
import type { DecisionEvent, SessionRecord } from '../../src/domain/sessions/session.model';
import { createLogger } from '../../src/observability/logger';

function session(id: string): SessionRecord {
  return {
    id,
    kind: 'LIVENESS',
    status: 'SUCCEEDED',
    operationMode: 'PASSIVE',
    userId: 'bus-user',
    tenant: 'bus',
    deviceCorrelationId: `device-${id}`,
    createdAt: new Date('2026-01-02T03:04:05.006Z'),
    expiresAt: new Date('2026-01-02T03:14:05.006Z'),
    completionReportedAt: new Date('2026-01-02T03:05:00.000Z'),
    enableSessionImage: false,
  };
}

function decided(id: string): DecisionEvent {
  return { sessionId: id, verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 1, decidedAt: new Date('2026-01-02T03:05:01.000Z'), session: session(id) };
}

/** The transition that reached `event`: the session as it left it, and the decision. */
function reaching(event: DecisionEvent): Transition {
  const { session: reached, ...decision } = event;
  return { session: reached as SessionRecord, newDecision: decision };
}

/** Pub/sub that counts the subscriptions made and ended, and whose publishes can be made to fail. */
function countingPubSub(inner: PubSub) {
  const counts = { subscribed: 0, unsubscribed: 0 };
  let failPublish = false;
  const pubsub: PubSub = {
    publish: async (topic, payload) => {
      if (failPublish) throw new Error('Redis is down');
      return inner.publish(topic, JSON.parse(JSON.stringify(payload)));
    },
    subscribe: async (topic, listener) => {
      counts.subscribed += 1;
      const end = await inner.subscribe(topic, listener);
      return () => {
        counts.unsubscribed += 1;
        end();
      };
    },
    close: () => inner.close(),
  };
  return { pubsub, counts, failPublishes: () => (failPublish = true) };
}

let dir: string;
let store: Store;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decision-bus-'));
  store = openSqliteStore(path.join(dir, 'gateway.sqlite'));
});
afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function bus(pubsub: PubSub) {
  const fallbackPolls = { started: 0, ended: 0 };
  const decisions = new DecisionBus({
    pubsub,
    sessions: store.sessions,
    logger: createLogger('silent'),
    fallbackPoll: () => {
      fallbackPolls.started += 1;
      return () => (fallbackPolls.ended += 1);
    },
  });
  return { decisions, fallbackPolls };
}

describe('decision wire format', () => {
  it('a decision and its session come back from JSON equal, with their dates as dates', () => {
    const event = decided('wire-1');
    const back = fromPayload(JSON.parse(JSON.stringify(toPayload(event))));
    expect(back).toEqual(event);
    expect(back.decidedAt).toBeInstanceOf(Date);
    expect(back.session?.completionReportedAt).toBeInstanceOf(Date);
  });

  it('a message without a session yields the decision without one', () => {
    const { session: _session, ...decision } = decided('wire-2');
    const back = fromPayload(JSON.parse(JSON.stringify({ ...decision, decidedAt: decision.decidedAt.toISOString() })));
    expect(back).toEqual(decision);
    expect('session' in back).toBe(false);
  });
});

describe('DecisionBus', () => {
  it('ten subscribers of one session share one pub/sub subscription, all get the decision announced here, and the subscription ends with them', async () => {
    const { pubsub, counts } = countingPubSub(createInProcessPubSub());
    const { decisions, fallbackPolls } = bus(pubsub);
    const streams = await Promise.all(Array.from({ length: 10 }, () => decisions.stream('shared-1')));
    expect(counts.subscribed).toBe(1);
    expect(fallbackPolls.started).toBe(10);
    const event = decided('shared-1');
    await decisions.announce(reaching(event));
    const firsts = await Promise.all(streams.map((stream) => stream.next()));
    for (const first of firsts) expect(first).toEqual({ done: false, value: event });
    expect(await Promise.all(streams.map((stream) => stream.next()))).toEqual(streams.map(() => ({ done: true, value: undefined })));
    expect(counts.unsubscribed).toBe(1);
    expect(fallbackPolls.ended).toBe(10);
  });

  it('a decision another instance publishes reaches this instance’s subscribers, with its session', async () => {
    const shared = createInProcessPubSub();
    const here = bus(countingPubSub(shared).pubsub);
    const stream = await here.decisions.stream('remote-1');
    const event = decided('remote-1');
    await shared.publish(decisionTopic('remote-1'), JSON.parse(JSON.stringify(toPayload(event))));
    expect(await stream.next()).toEqual({ done: false, value: event });
  });

  it('when publishing fails, this instance’s subscribers still get the decision and announcing does not throw', async () => {
    const { pubsub, failPublishes } = countingPubSub(createInProcessPubSub());
    const { decisions } = bus(pubsub);
    const stream = await decisions.stream('no-redis-1');
    failPublishes();
    const event = decided('no-redis-1');
    await expect(decisions.announce(reaching(event))).resolves.toBeUndefined();
    expect(await stream.next()).toEqual({ done: false, value: event });
  });

  it('a transition that reached no decision tells no one', async () => {
    const { pubsub } = countingPubSub(createInProcessPubSub());
    const { decisions } = bus(pubsub);
    const stream = await decisions.stream('undecided-1');
    await decisions.announce({ session: session('undecided-1') });
    const next = stream.next();
    let settled = false;
    void next.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    await stream.return?.();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a subscriber who leaves before the decision ends its fallback poll and, the last one, the pub/sub subscription', async () => {
    const { pubsub, counts } = countingPubSub(createInProcessPubSub());
    const { decisions, fallbackPolls } = bus(pubsub);
    const first = await decisions.stream('leaving-1');
    const second = await decisions.stream('leaving-1');
    await first.return?.();
    expect(fallbackPolls).toEqual({ started: 2, ended: 1 });
    expect(counts.unsubscribed).toBe(0);
    await second.return?.();
    expect(fallbackPolls).toEqual({ started: 2, ended: 2 });
    expect(counts.unsubscribed).toBe(1);
  });
});
