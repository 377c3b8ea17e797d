/**
 * Scenario 5: audit pages at a long history (1,000,000 events in one tenant at full size). The SQLite
 * file is seeded before the gateway starts on it (`audit-seed.ts`); then, over HTTP with an auditor's
 * JWT, one request at a time: the first page of `auditHistory`, a page deep in the history (its cursor
 * built with the service's own `cursorOf`, the encoding every `endCursor` uses), and a page filtered by
 * one session, and a page filtered by action (whose `totalCount` is counted once from scratch, then
 * only over the events appended since: `AuditCountCache`; the first request is timed apart). Last,
 * `verifyAuditChain` over the whole chain: its time, and the gateway's peak RSS
 * (VmHWM, reset just before) against its RSS before: the chain is read in batches, so memory should
 * stay bounded whatever its length.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AuditService } from '../../../src/domain/audit/audit.service';
import { CursorCodec } from '../../../src/domain/pagination';
import { deriveCursorKey } from '../../../src/secrets/cursor-key';
import { AuditHistoryDocument, VerifyAuditChainDocument, type AuditHistoryQuery, type AuditHistoryQueryVariables } from '../../../client/generated/graphql';
import { openSqliteStore } from '../../../src/adapters/store/sqlite-store';
import { deriveAuditSeal } from '../../../src/secrets/audit-keys';
import { seedAuditHistory } from '../audit-seed';
import { graphqlBody, graphqlHeaders } from '../clients';
import { profileWindow, wantsProfile, type ProfileSummary } from '../cpu-profile';
import { failures, graphqlCheck, loadRound, warmAndMeasure, type HttpLoad, type LoadRound } from '../load';
import { check, type ScenarioResult } from '../result';
import { dataDirFor, startGateway, type BenchRun } from '../servers';
import { count, mib, ms, round } from '../stats';
import { AUDIT_P95_MAX_MILLIS } from '../targets';

const PAGE_SIZE = 50;
const TENANT = 'acme';

interface Page {
  key: 'first' | 'deep' | 'session' | 'action';
  label: string;
  variables: AuditHistoryQueryVariables;
  expect(data: AuditHistoryQuery): boolean;
}

export async function runAuditPages(run: BenchRun): Promise<ScenarioResult> {
  const sizes = run.options.sizes.audit;
  const startedAt = performance.now();
  const dataDir = dataDirFor(run, 'gateway-audit');
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'gateway.sqlite');

  run.log(`audit: seeding ${count(sizes.events)} events`);
  // Cursors and the chain's head are keyed by the gateway's idempotency secret: the bench chooses it.
  const idempotencySecret = randomBytes(32);
  const seeded = await seedAuditHistory(file, { tenant: TENANT, events: sizes.events, users: 1_000, log: run.log, seal: deriveAuditSeal(idempotencySecret) });
  run.log(`audit: seeded in ${seeded.seconds.toFixed(1)} s (${mib(seeded.fileBytes)})`);

  // Positions were assigned in chain order (one tenant, inserted by sequence), so position = sequence.
  const deepPosition = Math.max(2, seeded.newestPosition - sizes.deepOffset);
  const store = openSqliteStore(file);
  const deepCursor = new AuditService(store.audit, { cursors: new CursorCodec(deriveCursorKey(idempotencySecret)) }).cursorOf({ position: deepPosition });
  await store.close();

  const gateway = await startGateway(run, 'gateway-audit', { FACE_EMULATOR: 'true', IDEMPOTENCY_KEY_SECRET: idempotencySecret.toString('base64') }, dataDir);
  try {
    const token = gateway.client.token({ sub: 'auditor-1', roles: ['auditor'], tenant: TENANT });
    const fullPage = (data: AuditHistoryQuery) =>
      data.auditHistory.edges.length === PAGE_SIZE && data.auditHistory.edges.every((edge) => edge.node.session?.id === edge.node.sessionId);
    const pages: Page[] = [
      {
        key: 'first',
        label: `first page (first: ${PAGE_SIZE})`,
        variables: { first: PAGE_SIZE },
        expect: (data) => fullPage(data) && data.auditHistory.edges[0].node.sequence === seeded.events && data.auditHistory.totalCount === seeded.events,
      },
      {
        key: 'deep',
        label: `a page ${count(sizes.deepOffset)} events deep (after: cursor)`,
        variables: { first: PAGE_SIZE, after: deepCursor },
        expect: (data) => fullPage(data) && data.auditHistory.edges[0].node.sequence === deepPosition - 1,
      },
      {
        key: 'session',
        label: 'filtered by one session (filter: { sessionId })',
        variables: { filter: { sessionId: seeded.sampleSessionId }, first: PAGE_SIZE },
        expect: (data) =>
          data.auditHistory.totalCount === 4 && data.auditHistory.edges.length === 4 && data.auditHistory.edges.every((edge) => edge.node.sessionId === seeded.sampleSessionId),
      },
      {
        key: 'action',
        label: 'filtered by action (filter: { actions: [DECISION_REACHED] })',
        variables: { filter: { actions: ['DECISION_REACHED'] }, first: PAGE_SIZE },
        expect: (data) =>
          fullPage(data) && data.auditHistory.totalCount === seeded.sessions && data.auditHistory.edges.every((edge) => edge.node.action === 'DECISION_REACHED'),
      },
    ];

    const loadOf = (page: Page): HttpLoad => ({
      url: gateway.client.graphqlUrl,
      method: 'POST',
      headers: graphqlHeaders(token),
      body: graphqlBody(AuditHistoryDocument, page.variables),
      connections: 1,
      check: graphqlCheck(page.expect),
    });
    const rounds = new Map<Page['key'], LoadRound>();
    /** Each page's very first request, before any warm-up: what a count from scratch costs. */
    const cold = new Map<Page['key'], number>();
    for (const page of pages) {
      run.log(`audit: ${page.label}`);
      const t0 = performance.now();
      const first = await fetch(gateway.client.graphqlUrl, { method: 'POST', headers: graphqlHeaders(token), body: graphqlBody(AuditHistoryDocument, page.variables) });
      const firstBody = await first.text();
      cold.set(page.key, performance.now() - t0);
      if (first.status !== 200 || !graphqlCheck(page.expect)(firstBody)) throw new Error(`${page.label}: unexpected answer ${first.status} ${firstBody.slice(0, 300)}`);
      const result = await warmAndMeasure(
        loadOf(page),
        { requests: sizes.warmupRequests, maxSeconds: 120 },
        { requests: sizes.measuredRequests, maxSeconds: 300 },
      );
      rounds.set(page.key, result.measured);
    }
    const measured = (page: Page): LoadRound => rounds.get(page.key) as LoadRound;

    // A page over its target is explained by a profile of the slowest page, over one more round of it.
    const profiles: ProfileSummary[] = [];
    const slowest = pages.reduce((a, b) => (measured(b).latency.p95 > measured(a).latency.p95 ? b : a));
    if (wantsProfile(run, measured(slowest).latency.p95 <= AUDIT_P95_MAX_MILLIS)) {
      profiles.push(
        await profileWindow(run, gateway.child, `${slowest.label}, ${sizes.measuredRequests} requests`, () =>
          loadRound(loadOf(slowest), { requests: sizes.measuredRequests, maxSeconds: 300 }),
        ),
      );
    }

    run.log(`audit: verifyAuditChain over ${count(seeded.events)} events`);
    const rssBefore = (await gateway.child.request('memory')).rss;
    const peakReset = await gateway.child.request('reset-peak-rss');
    const verifyMillis: number[] = [];
    let verified = true;
    for (let i = 0; i < sizes.verifyRuns; i += 1) {
      const t0 = performance.now();
      const report = await gateway.client.ok(VerifyAuditChainDocument, {}, token);
      verifyMillis.push(performance.now() - t0);
      verified &&= report.verifyAuditChain.valid && report.verifyAuditChain.checked === seeded.events;
    }
    const { vmHwm: peakRss } = gateway.child.procStatus();
    const verifyTime = Math.min(...verifyMillis);

    const pageFigures = Object.fromEntries(
      pages.map((page) => {
        const m = measured(page);
        return [
          page.key,
          { firstRequestMs: round(cold.get(page.key) ?? NaN), requests: m.responses, p50Ms: round(m.latency.p50), p95Ms: round(m.latency.p95), p99Ms: round(m.latency.p99), failures: failures(m), firstFailure: m.firstFailure },
        ];
      }),
    );
    const pageFailures = pages.reduce((total, page) => total + failures(measured(page)), 0);

    return {
      name: 'audit',
      title: `5. Audit pages and chain verification at ${count(seeded.events)} events`,
      method:
        `${count(seeded.events)} events (${count(seeded.sessions)} sessions x 4) in tenant "${TENANT}", seeded into the SQLite file before the gateway started ` +
        `(${seeded.seconds.toFixed(1)} s, file ${mib(seeded.fileBytes)}). \`AuditHistory\` (client/operations, with \`session { id status }\` per event) ` +
        `with an auditor JWT: each page's first request timed alone (cold), then autocannon, 1 connection, ${sizes.warmupRequests} warm-up + ${sizes.measuredRequests} measured requests per page. ` +
        `Then \`verifyAuditChain\` ${sizes.verifyRuns === 1 ? 'once' : `${sizes.verifyRuns} times (best time)`}, peak RSS from /proc/<pid>/status VmHWM` +
        `${peakReset ? ', reset just before' : ' (the kernel refused the reset: peak since the process started)'}.`,
      seconds: (performance.now() - startedAt) / 1000,
      tables: [
        {
          header: ['page', 'first request (cold)', 'requests', 'p50', 'p95', 'p99', 'failed'],
          rows: pages.map((page) => {
            const m = measured(page);
            return [page.label, ms(cold.get(page.key) ?? NaN), count(m.responses), ms(m.latency.p50), ms(m.latency.p95), ms(m.latency.p99), count(failures(m))];
          }),
        },
        {
          header: ['verifyAuditChain', 'value'],
          rows: [
            ['events checked', count(seeded.events)],
            ['time', `${(verifyTime / 1000).toFixed(2)} s (${count(seeded.events / (verifyTime / 1000))} events/s)`],
            ['gateway RSS before (after GC)', mib(rssBefore)],
            ['gateway peak RSS during (VmHWM)', mib(peakRss)],
            ['growth', mib(peakRss - rssBefore)],
            ['SQLite file, for scale', mib(seeded.fileBytes)],
          ],
        },
      ],
      targets: [
        ...pages.map((page) =>
          check(
            `${page.label}, p95`,
            `<= ${AUDIT_P95_MAX_MILLIS} ms`,
            `${ms(measured(page).latency.p95)} (first request: ${ms(cold.get(page.key) ?? NaN)})`,
            measured(page).latency.p95 <= AUDIT_P95_MAX_MILLIS,
          ),
        ),
        check('verifyAuditChain peak RSS', 'bounded (no figure set)', `${mib(peakRss)} peak, +${mib(peakRss - rssBefore)} over the ${mib(rssBefore)} before; file ${mib(seeded.fileBytes)}`, undefined),
        check('responses failing a check; chain reported valid', '0; valid', `${count(pageFailures)}; ${verified ? 'valid' : 'NOT valid'}`, pageFailures === 0 && verified),
      ],
      notes: [],
      profiles,
      figures: {
        events: seeded.events,
        sessions: seeded.sessions,
        seedSeconds: round(seeded.seconds, 1),
        fileBytes: seeded.fileBytes,
        deepPosition,
        pages: pageFigures,
        verify: { millis: verifyMillis.map((v) => round(v, 1)), valid: verified, rssBeforeBytes: rssBefore, peakRssBytes: peakRss, peakResetWorked: peakReset },
      },
    };
  } finally {
    await gateway.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
