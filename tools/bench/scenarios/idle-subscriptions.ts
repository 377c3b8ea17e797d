/**
 * Scenario 4: idle `sessionDecision` subscriptions. Start N sessions, then open K graphql-ws sockets
 * with P subscriptions each (spread evenly over the sessions), and measure the gateway process's heap
 * and RSS after GC before and after: the difference per subscription. Then play every device and
 * report every completion, and time the fan-out until all K x P subscribers have their event.
 *
 * Two clocks, kept apart (issue 6). The fan-out runs from the moment the decisions land, taken as the
 * first decision stored (the time of the gateway's "decision reached" log line, written right after
 * the transaction that stores it commits; `gateway-log.ts`), to the arrival of the last subscriber's
 * event (this process's wall clock: `performance.timeOrigin` plus the arrival time; both processes
 * read the same system clock). How fast completions become decisions is reported separately, as a
 * throughput: completions answered per second, and decisions stored per second (first to last).
 *
 * POLL_MAX_INTERVAL_MS is set to 10 minutes here so that the fallback slow poll (which watched sessions
 * get every POLL_MAX_INTERVAL_MS) cannot decide a session between its device attempt and its completion:
 * the decisions land when the completions are reported, not before. The poll task a watched session
 * holds exists whatever the interval, so the memory measured is the same.
 */
import os from 'node:os';
import { CompleteLivenessSessionDocument, StartLivenessSessionDocument } from '../../../client/generated/graphql';
import { inParallel, playDevice } from '../clients';
import { completeAndAwaitEveryone, subscribeEveryone } from '../fan-out';
import { decisionsStored } from '../gateway-log';
import type { MemorySnapshot } from '../ipc';
import { check, type ScenarioResult } from '../result';
import { startEmulator, startGateway, type BenchRun } from '../servers';
import { count, kib, mib, ms, round, summarize } from '../stats';
import { GraphQLWsConnection } from '../ws-client';

const HEAP_TARGET_BYTES = 14 * 1024;
const RSS_TARGET_BYTES = 20 * 1024;
const FAN_OUT_TARGET_MILLIS = 250;
const FAN_OUT_TIMEOUT_MILLIS = 60_000;
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

export async function runIdleSubscriptions(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.subscriptions;
  const total = sizes.sockets * sizes.subscriptionsPerSocket;
  const startedAt = performance.now();
  const emulator = await startEmulator(run, 'emulator-subscriptions');
  const gateway = await startGateway(run, 'gateway-subscriptions', {
    FACE_ENDPOINT: emulator.url,
    FACE_APIKEY: 'x',
    POLL_MAX_INTERVAL_MS: '600000',
  }).catch(async (error: unknown) => {
    await emulator.stop();
    throw error;
  });
  const sockets: GraphQLWsConnection[] = [];
  try {
    const token = gateway.client.token({ sub: 'alice', roles: ['user'], tenant: 'acme' });
    run.log(`subscriptions: starting ${sizes.sessions} sessions`);
    const sessions = await inParallel(Array.from({ length: sizes.sessions }), 8, async () => {
      const started = await gateway.client.ok(StartLivenessSessionDocument, { input: {} }, token);
      return { id: started.startLivenessSession.session.id, authToken: started.startLivenessSession.authToken };
    });

    await sleep(sizes.settleMillis);
    const before = await gateway.child.request('memory');
    const beforeProc = gateway.child.procStatus();

    run.log(`subscriptions: ${sizes.sockets} sockets x ${sizes.subscriptionsPerSocket} subscriptions`);
    sockets.push(...(await inParallel(Array.from({ length: sizes.sockets }), 10, () => GraphQLWsConnection.open(gateway.client.graphqlUrl, token))));
    const tally = subscribeEveryone(sockets, sessions, sizes.subscriptionsPerSocket);
    const { arrivals, decidedAt, sessionOf } = tally;
    await Promise.all(sockets.map((socket) => socket.roundTrip()));
    await sleep(sizes.settleMillis);
    const earlyEvents = tally.received;
    const after = await gateway.child.request('memory');
    const afterProc = gateway.child.procStatus();

    run.log('subscriptions: device attempts, then completions');
    await inParallel(sessions, 16, (session) => playDevice(emulator.url, session.authToken));
    await emulator.request('reset-face-calls');
    const cpuBefore = { gateway: gateway.child.cpuSeconds(), emulator: emulator.cpuSeconds(), here: process.cpuUsage() };
    const { t0, completionsDone, completionFailures, everyoneInTime: complete } = await completeAndAwaitEveryone(
      tally,
      sessions,
      (id) => gateway.client.ok(CompleteLivenessSessionDocument, { id }, token),
      FAN_OUT_TIMEOUT_MILLIS,
    );
    const hereCpu = process.cpuUsage(cpuBefore.here);
    // CPU per decision, in ms, from the first completion sent to the last event (plus the few ms the
    // tally takes to notice): the gateway, the emulator, and this process (the 1,000 completions and
    // the 10,000 subscribers' sockets).
    const cpuPerDecision = {
      gateway: ((gateway.child.cpuSeconds() - cpuBefore.gateway) * 1000) / sizes.sessions,
      emulator: ((emulator.cpuSeconds() - cpuBefore.emulator) * 1000) / sizes.sessions,
      here: (hereCpu.user + hereCpu.system) / 1000 / sizes.sessions,
    };
    const calls = await emulator.request('face-calls');

    const times = Array.from(arrivals).filter((at) => !Number.isNaN(at));
    const firstEvent = times.reduce((a, b) => Math.min(a, b), Infinity) - t0;
    const lastEvent = times.reduce((a, b) => Math.max(a, b), -Infinity) - t0;
    const perSession = new Map<number, { first: number; last: number }>();
    arrivals.forEach((at, index) => {
      if (Number.isNaN(at)) return;
      const span = perSession.get(sessionOf[index]) ?? { first: at, last: at };
      perSession.set(sessionOf[index], { first: Math.min(span.first, at), last: Math.max(span.last, at) });
    });
    const sessionSpread = summarize([...perSession.values()].map((span) => span.last - span.first));

    // The fan-out clock: wall-clock times, decisions as the gateway logged storing them, arrivals as seen here.
    const wall = (at: number) => performance.timeOrigin + at;
    const logged = decisionsStored(gateway.child);
    let notLogged = 0;
    const storedAt = sessions.map((session, index) => {
      const at = logged.get(session.id);
      if (at !== undefined) return at;
      notLogged += 1;
      return decidedAt[index]; // the poll's start: earlier than the store write, so a longer fan-out
    });
    const decisionTimes = storedAt.filter((at) => !Number.isNaN(at));
    const firstDecision = decisionTimes.reduce((a, b) => Math.min(a, b), Infinity);
    const lastDecision = decisionTimes.reduce((a, b) => Math.max(a, b), -Infinity);
    const lastArrivalWall = wall(lastEvent + t0);
    const fanOut = lastArrivalWall - firstDecision;
    const afterLastDecision = lastArrivalWall - lastDecision;
    const decisionSpan = lastDecision - firstDecision;
    const decisionToSubscribers = summarize([...perSession.entries()].map(([session, span]) => wall(span.last) - storedAt[session]));
    const firstDecisionAfterCompletion = firstDecision - wall(t0);

    const heapPer = (after.heapUsed - before.heapUsed) / total;
    const rssPer = (after.rss - before.rss) / total;
    const memoryRow = (label: string, m: MemorySnapshot, vmHwm: number) => [label, mib(m.heapUsed), mib(m.heapTotal), mib(m.rss), mib(m.external), mib(vmHwm)];

    return {
      name: 'subscriptions',
      title: '4. Idle subscriptions and fan-out',
      method:
        `${count(total)} \`sessionDecision\` subscriptions on ${count(sizes.sessions)} sessions (${count(total / sizes.sessions)} each), over ${sizes.sockets} graphql-ws sockets x ` +
        `${sizes.subscriptionsPerSocket} subscriptions (the gateway sets no per-socket limit). Memory of the gateway process after forced GC, before and ` +
        `${sizes.settleMillis} ms after the last subscription. Fan-out: every device attempt played first, then all ${count(sizes.sessions)} completions ` +
        `reported (32 in flight). Fan-out: from the first decision stored (the gateway's "decision reached" log line, written as the storing transaction commits) ` +
        `to the last subscriber's event arriving here (wall clocks of one machine, ms resolution); completion-to-decision throughput reported apart. ` +
        `POLL_MAX_INTERVAL_MS=600000 (see src/bench/scenarios/idle-subscriptions.ts).`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          caption: 'Gateway process memory after GC',
          header: ['when', 'heap used', 'heap total', 'RSS', 'external', 'peak RSS so far (VmHWM)'],
          rows: [
            memoryRow(`${count(sizes.sessions)} sessions, no subscription`, before, beforeProc.vmHwm),
            memoryRow(`${count(total)} idle subscriptions`, after, afterProc.vmHwm),
            ['per subscription', kib(heapPer), kib((after.heapTotal - before.heapTotal) / total), kib(rssPer), kib((after.external - before.external) / total), ''],
          ],
        },
        {
          caption: 'Fan-out: from the decisions landing (the first decision stored) to the subscribers',
          header: ['measure', 'time'],
          rows: [
            [`first decision stored -> all ${count(total)} subscribers have their event`, complete ? ms(fanOut) : `not within ${FAN_OUT_TIMEOUT_MILLIS / 1000} s (${count(tally.received)} did)`],
            ['last decision stored -> all subscribers have their event', complete ? ms(afterLastDecision) : 'n/a'],
            [
              `one decision stored -> the last of its ${count(total / sizes.sessions)} subscribers (p50 / p99 / max)`,
              `${ms(decisionToSubscribers.p50)} / ${ms(decisionToSubscribers.p99)} / ${ms(decisionToSubscribers.max)}`,
            ],
            [`one session's ${count(total / sizes.sessions)} subscribers, first -> last event (p50 / max)`, `${ms(sessionSpread.p50)} / ${ms(sessionSpread.max)}`],
          ],
        },
        {
          caption: 'Completions -> decisions (throughput; the fan-out clock above starts after the first of these)',
          header: ['measure', 'value'],
          rows: [
            [`all ${count(sizes.sessions)} completions answered, from the first sent`, `${ms(completionsDone)} (${count(sizes.sessions / (completionsDone / 1000))} completions/s)`],
            [
              `${count(decisionTimes.length)} decisions stored, first -> last`,
              `${ms(decisionSpan)} (${decisionSpan > 0 ? count((decisionTimes.length - 1) / (decisionSpan / 1000)) : 'n/a'} decisions/s)`,
            ],
            ['first completion sent -> first decision stored', ms(firstDecisionAfterCompletion)],
            ['first completion sent -> first / last subscriber event (the clock of earlier runs)', `${ms(firstEvent)} / ${complete ? ms(lastEvent) : 'n/a'}`],
            ['Face GETs per decision during the fan-out', (calls.get / sizes.sessions).toFixed(2)],
          ],
        },
        {
          caption: `CPU per decision, first completion sent -> last event (user + system; ${os.cpus().length} cores on this machine)`,
          header: ['process', 'CPU per decision', `for ${count(sizes.sessions)} decisions`],
          rows: [
            ['gateway', ms(cpuPerDecision.gateway), ms(cpuPerDecision.gateway * sizes.sessions)],
            ['Face emulator (the GETs)', ms(cpuPerDecision.emulator), ms(cpuPerDecision.emulator * sizes.sessions)],
            [`load (this process: the completions and the ${count(total)} subscribers)`, ms(cpuPerDecision.here), ms(cpuPerDecision.here * sizes.sessions)],
          ],
        },
      ],
      targets: [
        check('heap per idle subscription', `<= ${kib(HEAP_TARGET_BYTES)}`, kib(heapPer), heapPer <= HEAP_TARGET_BYTES),
        check('RSS per idle subscription', `<= ${kib(RSS_TARGET_BYTES)}`, kib(rssPer), rssPer <= RSS_TARGET_BYTES),
        check(
          `all ${count(total)} subscribers have their event (from the first decision stored)`,
          `<= ${FAN_OUT_TARGET_MILLIS} ms`,
          complete ? `${ms(fanOut)} (decisions stored at ${decisionSpan > 0 ? count((decisionTimes.length - 1) / (decisionSpan / 1000)) : 'n/a'}/s)` : 'not all',
          complete && fanOut <= FAN_OUT_TARGET_MILLIS,
        ),
        check('events missing, wrong, duplicated, early or failed; completions failed', '0', count(total - tally.received + tally.wrong + tally.duplicates + earlyEvents + tally.failed + completionFailures), tally.received === total && tally.wrong + tally.duplicates + earlyEvents + tally.failed + completionFailures === 0),
      ],
      notes: notLogged > 0 ? [`${count(notLogged)} decision(s) had no "decision reached" log line; their \`decidedAt\` (the start of the poll that reached them) stood in.`] : [],
      figures: {
        sessions: sizes.sessions,
        sockets: sizes.sockets,
        subscriptionsPerSocket: sizes.subscriptionsPerSocket,
        subscriptions: total,
        memoryBefore: { ...before, vmHwm: beforeProc.vmHwm, vmRss: beforeProc.vmRss },
        memoryAfter: { ...after, vmHwm: afterProc.vmHwm, vmRss: afterProc.vmRss },
        perSubscriptionBytes: { heapUsed: round(heapPer, 0), rss: round(rssPer, 0), external: round((after.external - before.external) / total, 0) },
        fanOutMs: {
          firstDecisionToAllEvents: complete ? round(fanOut) : null,
          lastDecisionToAllEvents: complete ? round(afterLastDecision) : null,
          decisionToItsSubscribers: { p50: round(decisionToSubscribers.p50), p99: round(decisionToSubscribers.p99), max: round(decisionToSubscribers.max) },
          perSessionSpreadP50: round(sessionSpread.p50),
          perSessionSpreadMax: round(sessionSpread.max),
        },
        throughput: {
          completionsAnsweredMs: round(completionsDone),
          completionsPerSecond: round(sizes.sessions / (completionsDone / 1000), 1),
          decisionsStoredSpanMs: round(decisionSpan),
          decisionsPerSecond: decisionSpan > 0 ? round((decisionTimes.length - 1) / (decisionSpan / 1000), 1) : null,
          firstCompletionToFirstDecisionMs: round(firstDecisionAfterCompletion),
          firstCompletionToFirstEventMs: round(firstEvent),
          firstCompletionToAllEventsMs: complete ? round(lastEvent) : null,
        },
        received: tally.received,
        wrong: tally.wrong,
        duplicates: tally.duplicates,
        earlyEvents,
        failedSubscriptions: tally.failed,
        completionFailures,
        faceCallsDuringFanOut: calls,
        cpuMsPerDecision: { gateway: round(cpuPerDecision.gateway), emulator: round(cpuPerDecision.emulator), load: round(cpuPerDecision.here) },
      },
    };
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
    await gateway.stop();
    await emulator.stop();
  }
}
