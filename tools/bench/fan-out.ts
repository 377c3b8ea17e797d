/**
 * The subscriber side of the subscription scenarios (4, one instance; 6, two instances):
 * `sessionDecision` subscriptions spread evenly over sessions and sockets, each event checked and
 * timed as it arrives, and the completions that make the decisions, raced against a timeout.
 */
import { print } from 'graphql';
import { SessionDecisionDocument, type SessionDecisionSubscription } from '../../client/generated/graphql';
import { inParallel } from './clients';
import type { GraphQLWsConnection } from './ws-client';

export interface FanOutTally {
  /** When each subscription's event arrived (`performance.now()` here), NaN until it has. */
  readonly arrivals: Float64Array;
  /** The `decidedAt` each session's subscribers were told (ms since epoch); one decision per session. */
  readonly decidedAt: Float64Array;
  /** The session (index) of each subscription. */
  readonly sessionOf: Int32Array;
  /** Subscriptions opened. */
  readonly total: number;
  /** Subscriptions still open, whose events are awaited (`keepOnly` ends the others). */
  expected: number;
  received: number;
  /** Events with errors, for another session, not PASS, or disagreeing on `decidedAt`. */
  wrong: number;
  /** Subscriptions that failed (an `error` message). */
  failed: number;
  /** A second event for one subscription. */
  duplicates: number;
  /** Resolves once every subscription has its event. */
  readonly everyoneHasIt: Promise<void>;
}

/**
 * Subscribes `subscriptionsPerSocket` times on each socket, subscription `i` to session
 * `i % sessions.length`, and returns the tally its events fill in. Every event must be the session's
 * PASS, carry the session itself, and tell all of the session's subscribers the same `decidedAt`.
 */
export function subscribeEveryone(sockets: GraphQLWsConnection[], sessions: { id: string }[], subscriptionsPerSocket: number, idPrefix = 'sub'): FanOutTally {
  const total = sockets.length * subscriptionsPerSocket;
  let allArrived: () => void = () => undefined;
  const tally: FanOutTally = {
    arrivals: new Float64Array(total).fill(NaN),
    decidedAt: new Float64Array(sessions.length).fill(NaN),
    sessionOf: new Int32Array(total),
    total,
    expected: total,
    received: 0,
    wrong: 0,
    failed: 0,
    duplicates: 0,
    everyoneHasIt: new Promise<void>((resolve) => (allArrived = resolve)),
  };
  const query = print(SessionDecisionDocument);
  sockets.forEach((socket, s) => {
    for (let j = 0; j < subscriptionsPerSocket; j += 1) {
      const index = s * subscriptionsPerSocket + j;
      const session = index % sessions.length;
      const sessionId = sessions[session].id;
      tally.sessionOf[index] = session;
      socket.subscribe(`${idPrefix}-${index}`, query, { sessionId }, {
        next: (payload, at) => {
          if (!Number.isNaN(tally.arrivals[index])) return void (tally.duplicates += 1);
          tally.arrivals[index] = at;
          const decision = (payload.data as SessionDecisionSubscription | undefined)?.sessionDecision;
          const decidedAt = decision ? new Date(decision.decidedAt as string).getTime() : NaN;
          if (payload.errors?.length || decision?.sessionId !== sessionId || decision.verdict !== 'PASS' || decision.session.id !== sessionId) tally.wrong += 1;
          else if (Number.isNaN(tally.decidedAt[session])) tally.decidedAt[session] = decidedAt;
          else if (tally.decidedAt[session] !== decidedAt) tally.wrong += 1; // one decision, told alike to all
          tally.received += 1;
          if (tally.received === tally.expected) allArrived();
        },
        error: () => {
          tally.failed += 1;
        },
        complete: () => undefined,
      });
    }
  });
  return tally;
}

/**
 * Ends (client `complete`) every subscription of the tally but those `keep` picks, before any event:
 * only the kept ones are awaited from then on. Resolves once the server has read every `complete`.
 */
export async function keepOnly(tally: FanOutTally, sockets: GraphQLWsConnection[], subscriptionsPerSocket: number, keep: (index: number) => boolean, idPrefix = 'sub'): Promise<void> {
  let kept = 0;
  for (let index = 0; index < tally.total; index += 1) {
    if (keep(index)) kept += 1;
    else sockets[Math.floor(index / subscriptionsPerSocket)].unsubscribe(`${idPrefix}-${index}`);
  }
  tally.expected = kept;
  await Promise.all(sockets.map((socket) => socket.roundTrip()));
}

/**
 * Reports every session complete (32 in flight) through `complete`, and waits for every subscriber
 * to have its event, at most `timeoutMillis`. Times are from `t0` (`performance.now()`), taken just
 * before the first completion is sent.
 */
export async function completeAndAwaitEveryone(
  tally: FanOutTally,
  sessions: { id: string }[],
  complete: (sessionId: string) => Promise<unknown>,
  timeoutMillis: number,
): Promise<{ t0: number; completionsDone: number; completionFailures: number; everyoneInTime: boolean }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const arrivedInTime = Promise.race([
    tally.everyoneHasIt.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMillis))),
  ]);
  let completionFailures = 0;
  await inParallel(sessions, 32, (session) =>
    complete(session.id).catch(() => {
      completionFailures += 1;
    }),
  );
  const completionsDone = performance.now() - t0;
  const everyoneInTime = await arrivedInTime;
  clearTimeout(timer);
  return { t0, completionsDone, completionFailures, everyoneInTime };
}
