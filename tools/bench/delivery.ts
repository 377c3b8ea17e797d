/**
 * One decision delivered to every subscriber of its session: a new session, `sockets` x
 * `subscriptionsPerSocket` `sessionDecision` subscriptions to it, the device played, one completion
 * reported, and every subscriber's event awaited. The clock starts when the decision is stored, taken
 * as the time of the "decision reached" log line of the instance that stored it (written as the
 * transaction storing it commits; ms resolution, `gateway-log.ts`), and stops at the first and at the
 * last frame arriving here (this process's wall clock: both processes read the same system clock).
 * The subscribers' sockets may be on another instance than the one deciding (scenario 6).
 */
import { CompleteLivenessSessionDocument, StartLivenessSessionDocument } from '../../client/generated/graphql';
import { eventually, playDevice } from './clients';
import { subscribeEveryone } from './fan-out';
import { decisionsStored } from './gateway-log';
import type { BenchChild } from './ipc';
import type { RunningGateway } from './servers';
import type { GraphQLWsConnection } from './ws-client';

const DELIVERY_TIMEOUT_MILLIS = 60_000;

export interface Delivery {
  subscribers: number;
  /** Completion sent -> decision stored. */
  completionToStoredMillis: number;
  storedToFirstFrameMillis: number;
  storedToLastFrameMillis: number;
  /** Each instance's CPU (user + system) from the completion sent to the last frame arriving, by child name. */
  cpuMillis: Record<string, number>;
  /** The instance whose log says it stored the decision. */
  storedBy: string;
  /** Subscribers without their event in time, with a wrong one, a second one, or a failed subscription. */
  problems: number;
}

export interface DeliveryOptions {
  /** The instance the session is started on and its completion reported to. */
  decider: RunningGateway;
  /** Every instance involved: their logs are searched for the decision, their CPU is measured. */
  instances: readonly BenchChild[];
  emulator: BenchChild;
  sockets: GraphQLWsConnection[];
  subscriptionsPerSocket: number;
  token: string;
}

/**
 * Sets up one repetition (session, subscriptions, device) and returns the step that decides and
 * delivers, so that it can be timed or profiled alone. `repetition` keeps subscription ids apart.
 */
export async function prepareDelivery(options: DeliveryOptions, repetition: number): Promise<() => Promise<Delivery>> {
  const { decider, emulator, sockets, token } = options;
  const started = await decider.client.ok(StartLivenessSessionDocument, { input: {} }, token);
  const session = { id: started.startLivenessSession.session.id, authToken: started.startLivenessSession.authToken };
  const tally = subscribeEveryone(sockets, [session], options.subscriptionsPerSocket, `delivery-${repetition}`);
  await Promise.all(sockets.map((socket) => socket.roundTrip()));
  const early = tally.received;
  await playDevice(emulator.url, session.authToken);

  return async () => {
    const cpuBefore = options.instances.map((instance) => instance.cpuSeconds());
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const inTime = Promise.race([
      tally.everyoneHasIt.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DELIVERY_TIMEOUT_MILLIS))),
    ]);
    await decider.client.ok(CompleteLivenessSessionDocument, { id: session.id }, token);
    const everyone = await inTime;
    clearTimeout(timer);
    const cpuMillis = Object.fromEntries(options.instances.map((instance, i) => [instance.name, (instance.cpuSeconds() - cpuBefore[i]) * 1000]));
    const stored = await eventually('the "decision reached" log line', async () => {
      for (const instance of options.instances) {
        const at = decisionsStored(instance).get(session.id);
        if (at !== undefined) return { at, by: instance.name };
      }
      return undefined;
    });
    // The `complete` frames that follow each event, read before the next repetition subscribes.
    await Promise.all(sockets.map((socket) => socket.roundTrip()));

    const times = Array.from(tally.arrivals).filter((at) => !Number.isNaN(at));
    // The wall clock now, not at this process's start: the monotonic clock may drift from it over a long run.
    const offset = Date.now() - performance.now();
    const wall = (at: number) => offset + at;
    const first = times.reduce((a, b) => Math.min(a, b), Infinity);
    const last = times.reduce((a, b) => Math.max(a, b), -Infinity);
    return {
      subscribers: tally.total,
      completionToStoredMillis: stored.at - wall(t0),
      storedToFirstFrameMillis: wall(first) - stored.at,
      storedToLastFrameMillis: everyone ? wall(last) - stored.at : NaN,
      cpuMillis,
      storedBy: stored.by,
      problems: tally.total - tally.received + tally.wrong + tally.duplicates + tally.failed + early,
    };
  };
}

/**
 * `repetitions` deliveries one after another, each on a new session, after one that is not counted:
 * the first delivery of a process runs code V8 has not compiled yet.
 */
export async function measureDeliveries(options: DeliveryOptions, repetitions: number): Promise<Delivery[]> {
  await (await prepareDelivery(options, -1))();
  const deliveries: Delivery[] = [];
  for (let r = 0; r < repetitions; r += 1) deliveries.push(await (await prepareDelivery(options, r))());
  return deliveries;
}
