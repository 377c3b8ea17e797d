/**
 * `sessionDecision` (docs/api.md): exactly one Decision, then complete; at once when the
 * session is already decided; never lost in the race between subscribing and deciding; shared by
 * every subscriber; robust to clients leaving early; fed by the slow fallback poll when completion is
 * never reported; EXPIRED when the session is deleted.
 *
 * The gateway here runs with a fallback poll of ten minutes. With the helper's default (200 ms) that
 * poll would hand a subscriber the stored decision within any of these tests' waits, so a decision the
 * subscription itself lost (the store read before the pub/sub subscription is live, or no read at all)
 * would still arrive and the tests could not fail. Only the fallback poll's own test boots a gateway
 * with a short one.
 */
import { randomUUID } from 'node:crypto';
import { print, type ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CompleteLivenessSessionDocument,
  DeleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
  type SessionDecisionSubscription,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';

/** Longer than any wait below by far: nothing these tests receive can come from the fallback poll. */
const FALLBACK_POLL_MILLIS = 600_000;

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start({ env: { POLL_MAX_INTERVAL_MS: String(FALLBACK_POLL_MILLIS) } });
});
afterAll(async () => {
  await gateway?.stop();
});

const TENANT = 'acme-subscriptions';
const auditor = (on = gateway) => on.token({ sub: 'sub-auditor', roles: ['auditor'], tenant: TENANT });

/** Rejects when `promise` has not settled within `millis`: a subscription that hangs fails the test instead. */
function within<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${millis} ms`)), millis);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function newUser(on = gateway) {
  const token = on.token({ sub: `user-${randomUUID()}`, tenant: TENANT });
  const started = (await on.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  return { token, id: started.session.id, authToken: started.authToken };
}

async function playDevice(authToken: string, livenessDecision: 'realface' | 'spoofface' = 'realface', on = gateway) {
  const answer = await on.device('LIVENESS', authToken, { livenessDecision });
  expect(answer.status).toBe(200);
}

/** Subscriptions that only hold sockets open; cancelled after each test. */
const anchors: (() => void)[] = [];
afterEach(() => {
  for (const cancel of anchors.splice(0)) cancel();
});

/**
 * A client whose socket is open and acknowledged, so that a subscribe goes out at once. A lazy client
 * opens its socket with the first subscription and closes it after the last: a subscription to a
 * session of `ownerToken`'s user that nobody completes keeps it open until the test ends.
 */
async function connectedClient(token: string, ownerToken = token, on = gateway): Promise<Client> {
  const client = on.wsClient(token);
  const connected = new Promise<void>((resolve) => {
    const off = client.on('connected', () => {
      off();
      resolve();
    });
  });
  const anchorId = (await on.ok(StartLivenessSessionDocument, { input: {} }, ownerToken)).startLivenessSession.session.id;
  const anchor = on.subscribe(client, SessionDecisionDocument, { sessionId: anchorId });
  anchor.done.catch(() => undefined);
  anchors.push(anchor.cancel);
  await within(connected, 5_000, 'the WebSocket connection');
  return client;
}

function onlyDecision(events: ExecutionResult<SessionDecisionSubscription>[]) {
  expect(events).toHaveLength(1);
  expect(events[0].errors).toBeUndefined();
  return events[0].data!.sessionDecision;
}

async function storedDecision(token: string, id: string) {
  return eventually(async () => (await gateway.ok(SessionDocument, { id }, token)).session?.decision ?? undefined);
}

async function auditActions(id: string, on = gateway): Promise<string[]> {
  const { session } = await on.ok(SessionAuditTrailDocument, { id, first: 50 }, auditor(on));
  return session!.auditTrail.edges.map((edge) => edge.node.action).reverse();
}

interface Message {
  id?: string;
  type: string;
  payload?: unknown;
}

const rawSockets: RawSocket[] = [];
afterEach(async () => {
  for (const socket of rawSockets.splice(0)) await socket.close();
});

/** A bare graphql-transport-ws socket, for sending frames in an order the graphql-ws client never would. */
class RawSocket {
  readonly messages: Message[] = [];
  closeCode: number | undefined;
  private readonly waiters: (() => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as Message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(url: string, token: string): Promise<RawSocket> {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const raw = new RawSocket(socket);
    rawSockets.push(raw);
    raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    await within(raw.until(() => raw.messages.some((message) => message.type === 'connection_ack')), 5_000, 'connection_ack');
    return raw;
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  messagesOf(id: string): Message[] {
    return this.messages.filter((message) => message.id === id);
  }

  completed(id: string): Promise<void> {
    return this.until(() => this.messagesOf(id).some((message) => message.type === 'complete' || message.type === 'error'));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.close(1000);
    await closed;
  }

  private async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.closeCode !== undefined) throw new Error(`the socket closed with ${this.closeCode}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

describe('sessionDecision', () => {
  it('a subscriber who subscribed before the device finished gets exactly one decision, then completion', async () => {
    const { token, id, authToken } = await newUser();
    const client = await connectedClient(token);
    const subscription = gateway.subscribe(client, SessionDecisionDocument, { sessionId: id });
    expect(subscription.events).toEqual([]);
    await playDevice(authToken);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);

    const decision = onlyDecision(await within(subscription.done, 10_000, 'the decision'));
    expect(decision).toMatchObject({ sessionId: id, verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 1 });
    const { session: _session, ...pushed } = decision;
    expect(await storedDecision(token, id)).toEqual(pushed);
  });

  it('a subscriber to an already decided session gets the decision at once, then completion', async () => {
    const { token, id, authToken } = await newUser();
    await playDevice(authToken, 'spoofface');
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const stored = await storedDecision(token, id);

    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
    const decision = onlyDecision(await within(subscription.done, 2_000, 'the stored decision'));
    const { session: _session, ...pushed } = decision;
    expect(pushed).toEqual(stored);
    expect(pushed.verdict).toBe('FAIL');
  });

  /**
   * Starts 20 sessions whose device has finished, then for each fires the subscription and the
   * completion together, the subscription `skewMillis(i)` later (negative: earlier) than the completion.
   */
  async function race(skewMillis: (i: number) => number) {
    const sessions = await Promise.all(Array.from({ length: 20 }, () => newUser()));
    await Promise.all(sessions.map((session) => playDevice(session.authToken)));
    const clients = await Promise.all(sessions.map((session) => connectedClient(session.token)));
    const after = <T>(millis: number, action: () => Promise<T>) =>
      millis <= 0 ? action() : new Promise<void>((resolve) => setTimeout(resolve, millis)).then(action);

    const outcomes = await Promise.all(
      sessions.map(async (session, i) => {
        const skew = skewMillis(i);
        const subscribe = () => within(gateway.subscribe(clients[i], SessionDecisionDocument, { sessionId: session.id }).done, 10_000, `session ${i}`);
        const complete = () => gateway.ok(CompleteLivenessSessionDocument, { id: session.id }, session.token);
        const [events] = await Promise.all([after(skew, subscribe), after(-skew, complete)]);
        return events;
      }),
    );

    for (const [i, events] of outcomes.entries()) {
      const decision = onlyDecision(events);
      expect(decision).toMatchObject({ sessionId: sessions[i].id, verdict: 'PASS' });
      const { session: _session, ...pushed } = decision;
      expect(await storedDecision(sessions[i].token, sessions[i].id)).toEqual(pushed);
    }
  }

  it('subscribing at the same moment as the completion is reported never loses the decision (20 sessions)', async () => {
    // Here every subscription is live well before the decision lands (a poll of Face later, some
    // 60 ms): this catches a store read ahead of the pub/sub subscription only when the gap between
    // them outlasts that poll. The next test spreads subscriptions across the moment of the decision.
    await race(() => 0);
  });

  it('subscribing some milliseconds before or after the completion never loses the decision (20 sessions)', async () => {
    // The decision lands some milliseconds after the completion (one poll of Face over HTTP, tens of
    // milliseconds when 20 run at once): subscriptions spread from 15 ms before to 80 ms after it
    // land before, during and after that poll.
    await race((i) => i * 5 - 15);
  });

  it('several subscribers on different sockets all get the one decision, reached once', async () => {
    const { token, id, authToken } = await newUser();
    const clients = await Promise.all([connectedClient(token), connectedClient(token), connectedClient(auditor(), token)]);
    const subscriptions = clients.map((client) => gateway.subscribe(client, SessionDecisionDocument, { sessionId: id }));
    await playDevice(authToken);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);

    const decisions = (await within(Promise.all(subscriptions.map((s) => s.done)), 10_000, 'every subscriber')).map(onlyDecision);
    expect(decisions[1]).toEqual(decisions[0]);
    expect(decisions[2]).toEqual(decisions[0]);
    expect(decisions[0]).toMatchObject({ sessionId: id, verdict: 'PASS' });
    const actions = await auditActions(id);
    expect(actions.filter((action) => action === 'DECISION_REACHED')).toHaveLength(1);
    expect(actions.filter((action) => action === 'ATTEMPT_RECORDED')).toHaveLength(1);
  });

  it('a sole subscriber who leaves before the decision breaks nothing, and a later subscriber gets the decision', async () => {
    const { token, id, authToken } = await newUser();
    const socket = await RawSocket.open(gateway.graphqlUrl.replace(/^http/, 'ws'), token);
    const errorsBefore = gateway.logEntries().filter((entry) => entry.level === 'error').length;

    // Left while the server is still setting the subscription up: subscribe and complete in one go.
    socket.send({ id: 'left-at-once', type: 'subscribe', payload: { query: print(SessionDecisionDocument), variables: { sessionId: id } } });
    socket.send({ id: 'left-at-once', type: 'complete' });
    // Left once it is surely set up: the server has answered a later operation on the same socket.
    socket.send({ id: 'left-later', type: 'subscribe', payload: { query: print(SessionDecisionDocument), variables: { sessionId: id } } });
    socket.send({ id: 'sentinel', type: 'subscribe', payload: { query: print(SessionDecisionDocument), variables: { sessionId: randomUUID() } } });
    await within(socket.completed('sentinel'), 5_000, 'the sentinel');
    socket.send({ id: 'left-later', type: 'complete' });

    await playDevice(authToken);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const stored = await storedDecision(token, id);

    socket.send({ id: 'later', type: 'subscribe', payload: { query: print(SessionDecisionDocument), variables: { sessionId: id } } });
    await within(socket.completed('later'), 2_000, 'the later subscriber');
    const later = socket.messagesOf('later');
    expect(later.map((message) => message.type)).toEqual(['next', 'complete']);
    const { session: _session, ...laterDecision } = (later[0].payload as ExecutionResult<SessionDecisionSubscription>).data!.sessionDecision;
    expect(laterDecision).toEqual(JSON.parse(JSON.stringify(stored)));
    expect(socket.messagesOf('left-at-once')).toEqual([]);
    expect(socket.messagesOf('left-later')).toEqual([]);
    expect(socket.closeCode).toBeUndefined();
    expect(gateway.logEntries().filter((entry) => entry.level === 'error')).toHaveLength(errorsBefore);
  });

  it('when one of two subscribers leaves before the decision, the other still gets it', async () => {
    const { token, id, authToken } = await newUser();
    const leaving = gateway.subscribe(await connectedClient(token), SessionDecisionDocument, { sessionId: id });
    const staying = gateway.subscribe(await connectedClient(token), SessionDecisionDocument, { sessionId: id });
    leaving.cancel();

    await playDevice(authToken);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
    const stayed = onlyDecision(await within(staying.done, 10_000, 'the subscriber that stayed'));
    const { session: _session, ...stayedDecision } = stayed;
    expect(stayedDecision).toEqual(await storedDecision(token, id));
    expect(leaving.events).toEqual([]);
  });

  it('a subscriber whose client never reports completion still gets the decision from the slow fallback poll', async () => {
    // The one test that needs the fallback poll: a gateway of its own with the helper's 200 ms one.
    const fallback = await TestGateway.start();
    try {
      const { token, id, authToken } = await newUser(fallback);
      const subscription = fallback.subscribe(await connectedClient(token, token, fallback), SessionDecisionDocument, { sessionId: id });
      await playDevice(authToken, 'realface', fallback);

      const decision = onlyDecision(await within(subscription.done, 10_000, 'the fallback decision'));
      expect(decision).toMatchObject({ sessionId: id, verdict: 'PASS', session: { id, status: 'SUCCEEDED' } });
      const actions = await auditActions(id, fallback);
      expect(actions).not.toContain('COMPLETION_REPORTED');
      expect(actions).toContain('DECISION_REACHED');
    } finally {
      await fallback.stop();
    }
  });

  it('deleting a session while subscribed delivers the verdict EXPIRED', async () => {
    const { token, id } = await newUser();
    const subscription = gateway.subscribe(await connectedClient(token), SessionDecisionDocument, { sessionId: id });
    await gateway.ok(DeleteLivenessSessionDocument, { id }, token);

    const decision = onlyDecision(await within(subscription.done, 10_000, 'the EXPIRED decision'));
    expect(decision).toMatchObject({ sessionId: id, verdict: 'EXPIRED', livenessDecision: null, attemptId: null, session: { id, status: 'DELETED' } });
  });

  it("the decision's session resolves over the socket, with the session's final status", async () => {
    const { token, id, authToken } = await newUser();
    const subscription = gateway.subscribe(await connectedClient(token), SessionDecisionDocument, { sessionId: id });
    await playDevice(authToken);
    await gateway.ok(CompleteLivenessSessionDocument, { id }, token);

    const decision = onlyDecision(await within(subscription.done, 10_000, 'the decision'));
    expect(decision.session).toEqual({ id, status: 'SUCCEEDED' });
    const already = onlyDecision(await within(gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id }).done, 2_000, 'the stored decision'));
    expect(already.session).toEqual({ id, status: 'SUCCEEDED' });
  });
});
