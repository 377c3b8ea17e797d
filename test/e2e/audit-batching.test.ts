/**
 * How the audit trail reads the store: `AuditEvent.session` in one batched query per page,
 * `GET /audit/export` in bounded batches at the pace of its client, and
 * `verifyAuditChain` batch after batch, finding an edit in any batch, at a boundary too.
 *
 * Everything here is the real thing (the schema, the resolvers, `createLoaders`, the services, the
 * export handler, the JWT verifier, SQLite) except that the test holds the store instance itself,
 * which over the gateway's HTTP it cannot. It *observes* two store methods by wrapping them on that
 * instance: each wrapper records its arguments and calls the real method. Nothing is stubbed, and
 * what is asserted (how many queries, which keys) is the behaviour the issue asks for; the GraphQL
 * layer is executed in-process with `graphql()` for the same reason, with the context built as
 * src/gateway.ts builds it per request. No production code carries a test hook for this.
 */
import { PolicyService } from '../../src/domain/policy/policy.service';
import { ErasureService } from '../../src/domain/erasure/erasure.service';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { graphql, print } from 'graphql';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditExportHandler } from '../../src/transport/audit-export';
import { AuditService, type ChainReport } from '../../src/domain/audit/audit.service';
import { AuditSeal, DEFAULT_CHECKPOINT_POLICY } from '../../src/domain/audit/seal';
import { createAuthenticate } from '../../src/auth/authenticate';
import { createTokenVerifier } from '../../src/auth/jwt';
import { RateLimits } from '../../src/domain/limits/limits';
import { createInMemoryRateLimitCounter } from '../../src/domain/limits/rate-limit';
import { authenticateRequests } from '../../src/transport/request-auth';
import type { Viewer } from '../../src/domain/viewer';
import { AuditHistoryDocument, type AuditHistoryQuery } from '../../client/generated/graphql';
import { createAzureFace } from '../../src/adapters/face/azure-face';
import type { GatewayContext } from '../../src/graphql/context';
import { createLoaders } from '../../src/graphql/loaders';
import { AuditFeed } from '../../src/domain/audit/audit-feed';
import { buildGatewaySchema } from '../../src/graphql/schema';
import { createLogger } from '../../src/observability/logger';
import { createInProcessPubSub } from '../../src/adapters/pubsub/in-process';
import { createSessionServices } from '../../src/domain/sessions';
import { WebhookService } from '../../src/domain/webhooks/webhook.service';
import { TokenSealer } from '../../src/domain/idempotency/token-sealer';
import { CursorCodec } from '../../src/domain/pagination';
import { OutboundPolicy } from '../../src/adapters/webhooks/outbound-guard';
import type { SessionRecord } from '../../src/domain/sessions/session.model';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store';
import type { Store } from '../../src/domain/ports/store';
import { parseNdjson } from '../helpers/audit';
import { EvidenceService } from '../../src/domain/evidence/evidence.service';
import { ImageSealer } from '../../src/domain/evidence/image-sealer';

let dataDir: string;
let store: Store;
/** The keys the store seals heads with, which verification checks them against. */
const seal = AuditSeal.withRandomKeys();
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-batching-'));
  store = openSqliteStore(path.join(dataDir, 'gateway.sqlite'), { sealing: { seal, checkpoints: DEFAULT_CHECKPOINT_POLICY } });
});
afterAll(async () => {
  await store?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function sessionRecord(id: string, userId: string, tenant: string): SessionRecord {
  const now = Date.now();
  return {
    id,
    kind: 'LIVENESS',
    status: 'NOT_STARTED',
    operationMode: 'PASSIVE',
    userId,
    tenant,
    deviceCorrelationId: `device-${id}`,
    createdAt: new Date(now),
    expiresAt: new Date(now + 600_000),
    enableSessionImage: false,
  };
}

describe('AuditEvent.session', () => {
  const findByIdsCalls: string[][] = [];
  let execute: (first: number, after?: string | null) => Promise<AuditHistoryQuery['auditHistory']>;

  beforeAll(async () => {
    // 50 sessions, each started then reported complete: 100 events, two per session, side by side.
    for (let i = 0; i < 50; i += 1) {
      const session = sessionRecord(`page-session-${i}`, `user-${i}`, 'pages');
      await store.sessions.create(session, session.userId);
      await store.sessions.reportCompletion(session.id, session.userId, new Date());
    }
    const realFindByIds = store.sessions.findByIds.bind(store.sessions);
    store.sessions.findByIds = async (ids) => {
      findByIdsCalls.push([...ids]);
      return realFindByIds(ids);
    };

    const schema = await buildGatewaySchema();
    const logger = createLogger('silent');
    const pubsub = createInProcessPubSub();
    const services = {
      audit: new AuditService(store.audit, { seal }),
      auditFeed: new AuditFeed({ pubsub, audit: store.audit, logger, bufferLimit: 1_000, recheckMillis: 60_000 }),
      // Never called by these queries; built for real all the same (no Face call happens at construction).
      sessions: createSessionServices({
        store,
        face: createAzureFace({ endpoint: 'http://127.0.0.1:9', apiKey: 'unused', maxRetries: 0 }),
        pubsub,
        logger,
        now: Date.now,
        pollIntervalMillis: 1_000,
        pollMaxIntervalMillis: 1_000,
        expirySweepIntervalMillis: 60_000,
      }),
      evidence: new EvidenceService({ evidence: store.evidence, sessions: store.sessions, sealer: new ImageSealer(randomBytes(32)), now: Date.now, linkTtlMillis: 60_000 }),
      // Never called by these queries either.
      webhooks: new WebhookService({
        repository: store.webhooks,
        sealer: new TokenSealer(randomBytes(32)),
        urlGuard: new OutboundPolicy({ production: false, allowedCidrs: [] }),
        cursors: CursorCodec.withRandomKey(),
        now: Date.now,
        secretOverlapMillis: 60_000,
        retryHorizonMillis: 60_000,
      }),
      policies: new PolicyService({
        repository: store.policies,
        pubsub,
        now: Date.now,
        defaults: { maxAttempts: 3, requireDeviceDigest: false, evidenceRetentionDays: 30, userStarts: { limit: 0, windowMillis: 60_000 }, deviceStarts: { limit: 0, windowMillis: 60_000 } },
      }),
      erasure: new ErasureService({ repository: store.erasure, now: Date.now }),
    };
    const admin: Viewer = { userId: 'operator', tenant: 'operators', roles: ['ADMIN'], expiresAtMillis: Date.now() + 3_600_000 };
    execute = async (first, after) => {
      // A fresh context per operation, as src/gateway.ts builds one per HTTP request.
      const contextValue: GatewayContext = { viewer: admin, services, loaders: createLoaders(store), requestId: 'batching-test', logger: createLogger('silent') };
      const result = await graphql({ schema, source: print(AuditHistoryDocument), variableValues: { filter: { tenant: 'pages' }, first, after }, contextValue });
      expect(result.errors).toBeUndefined();
      return (result.data as AuditHistoryQuery).auditHistory;
    };
  });

  it.each([1, 7, 25, 100])('loads the sessions of a page of %i in one batched store query', async (first) => {
    findByIdsCalls.length = 0;
    const page = await execute(first);
    expect(page.edges).toHaveLength(first);
    const sessionIds = [...new Set(page.edges.map((edge) => edge.node.sessionId))];
    expect(findByIdsCalls).toEqual([sessionIds]);
    for (const { node } of page.edges) expect(node.session).toEqual({ id: node.sessionId, status: 'NOT_STARTED' });
  });

  it('walking every page costs one batched query per page, each with that page’s sessions only', async () => {
    findByIdsCalls.length = 0;
    const pages: string[][] = [];
    let after: string | null = null;
    for (;;) {
      const page: AuditHistoryQuery['auditHistory'] = await execute(25, after);
      pages.push([...new Set(page.edges.map((edge) => edge.node.sessionId))]);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toHaveLength(4);
    expect(findByIdsCalls).toEqual(pages);
    // Two events per session side by side: a page of 25 names 13 sessions, each once in its batch.
    expect(findByIdsCalls.map((keys) => keys.length)).toEqual([13, 13, 13, 13]);
  });
});

describe('GET /audit/export streaming', () => {
  const BATCH = 50;
  const EVENTS = 4_000;
  // Long user ids make long lines (about 4.6 KB each, 18 MB in all), so that a client that stops
  // reading fills the socket buffers (a few MB on loopback) long before the end of the chain.
  const longUser = (i: number) => `user-${i}-${'u'.repeat(2_200)}`;
  const secret = 'batching-test-secret-of-at-least-32-bytes';
  const sliceCalls: { afterSequence: number; limit: number }[] = [];
  const handlers: Promise<void>[] = [];
  let server: http.Server;
  let exportUrl: string;
  const ANY_RATE = { limit: 1_000_000, windowMillis: 60_000 };
  const token = jwt.sign({ roles: ['auditor'], tenant: 'bulk' }, secret, { algorithm: 'HS256', subject: 'auditor', expiresIn: 600 });

  beforeAll(async () => {
    for (let i = 0; i < EVENTS; i += 1) {
      await store.sessions.create(sessionRecord(`bulk-session-${i}`, longUser(i), 'bulk'), longUser(i));
    }
    const realChainSlice = store.audit.chainSlice.bind(store.audit);
    store.audit.chainSlice = async (tenant, afterSequence, limit) => {
      sliceCalls.push({ afterSequence, limit });
      return realChainSlice(tenant, afterSequence, limit);
    };
    const handler = createAuditExportHandler({
      authenticate: authenticateRequests(
        createAuthenticate(
          createTokenVerifier({ kind: 'secret', secret, generated: false }),
          new RateLimits(createInMemoryRateLimitCounter(), { userStarts: ANY_RATE, deviceStarts: ANY_RATE, unauthenticatedRequests: ANY_RATE }, Date.now),
        ),
        0,
      ),
      audit: new AuditService(store.audit, { chainBatchSize: BATCH, seal }),
    });
    server = http.createServer((req, res) => {
      const handling = handler(req, res, new URL(req.url ?? '/', 'http://gateway'));
      handlers.push(handling);
      handling.catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    exportUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit/export`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('reads the chain in batches of the configured size, in order, and streams all of it', async () => {
    sliceCalls.length = 0;
    const response = await fetch(exportUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const events = parseNdjson(await response.text());
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    expect(events[EVENTS - 1].userId).toBe(longUser(EVENTS - 1));
    expect(sliceCalls).toEqual(Array.from({ length: EVENTS / BATCH }, (_, i) => ({ afterSequence: i * BATCH, limit: BATCH })));
  });

  it('stops reading the store while the client does not read, and for good once it disconnects', async () => {
    sliceCalls.length = 0;
    const handled = handlers.length;
    let received = 0;
    const request = http.get(exportUrl, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      expect(response.statusCode).toBe(200);
      response.once('data', (chunk: Buffer) => {
        received += chunk.length;
        response.pause(); // the client stops reading after its first chunk
      });
    });
    request.on('error', () => {}); // destroyed below on purpose

    // Reading goes on while the socket buffers absorb lines, then stops well before the end.
    const stalledAt = await settled(() => sliceCalls.length);
    expect(received).toBeGreaterThan(0);
    expect(stalledAt).toBeGreaterThan(0);
    expect(stalledAt * BATCH).toBeLessThan(EVENTS / 2);

    // The client goes away: the handler finishes and no further batch is read.
    expect(handlers).toHaveLength(handled + 1);
    request.destroy();
    await within(5_000, handlers[handled]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sliceCalls.length).toBe(stalledAt);
  });
});

describe('verifyAuditChain over many batches', () => {
  // Batches of 7 over 53 events: 1-7, 8-14, 15-21, 22-28, 29-35, 36-42, 43-49, then 50-53.
  const BATCH = 7;
  const EVENTS = 53;
  const admin: Viewer = { userId: 'operator', tenant: 'operators', roles: ['ADMIN'], expiresAtMillis: Date.now() + 3_600_000 };
  // Only what these tests are about: the checkpoint and reason are test/e2e/audit-truncation.test.ts's.
  const verify = async (tenant: string) => {
    const { latestCheckpoint: _checkpoint, reason: _reason, ...report } = await new AuditService(store.audit, { chainBatchSize: BATCH, seal }).verifyChain(admin, tenant);
    return report;
  };
  const sliceCalls: { tenant: string; afterSequence: number; limit: number }[] = [];

  const intact = 'chain-intact';
  // 8 full batches: the last read finds nothing.
  const wholeBatches = 'chain-whole-batches';
  const cases: { name: string; what: string; sequence: number; sql: string }[] = [
    { name: 'inside', what: 'editing the actor of event 40, inside the sixth batch', sequence: 40, sql: "UPDATE audit_events SET actor = 'mallory' WHERE tenant = ? AND sequence = 40" },
    { name: 'second-first', what: 'moving the time of event 8, the first of the second batch, by a millisecond', sequence: 8, sql: 'UPDATE audit_events SET at = at - 1 WHERE tenant = ? AND sequence = 8' },
    { name: 'batch-last', what: 'editing the user id of event 28, the last of the fourth batch', sequence: 28, sql: "UPDATE audit_events SET user_id = 'someone' WHERE tenant = ? AND sequence = 28" },
    {
      name: 'batch-first',
      what: 'editing the previousHash of event 29, the first of the fifth batch',
      sequence: 29,
      sql: "UPDATE audit_events SET previous_hash = (CASE WHEN substr(previous_hash, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(previous_hash, 2) WHERE tenant = ? AND sequence = 29",
    },
    { name: 'deleted-batch-last', what: 'deleting event 35, the last of the fifth batch', sequence: 35, sql: 'DELETE FROM audit_events WHERE tenant = ? AND sequence = 35' },
    { name: 'deleted-last', what: 'deleting the last event (53), in the short last batch', sequence: EVENTS, sql: 'DELETE FROM audit_events WHERE tenant = ? AND sequence = 53' },
  ];
  const tenantOf = (name: string) => `chain-${name}`;
  /** How each chain that is then edited verified before the edit. */
  const beforeEdit = new Map<string, ChainReport>();

  beforeAll(async () => {
    const chains: [string, number][] = [[intact, EVENTS], [wholeBatches, 8 * BATCH], ...cases.map(({ name }): [string, number] => [tenantOf(name), EVENTS])];
    for (const [tenant, events] of chains) {
      for (let i = 0; i < events; i += 1) {
        const session = sessionRecord(`${tenant}-session-${i}`, `${tenant}-user-${i}`, tenant);
        await store.sessions.create(session, session.userId);
      }
    }
    for (const { name } of cases) beforeEdit.set(tenantOf(name), await verify(tenantOf(name)));

    // Behind the store's back, as someone with the file would: a second connection to it.
    const db = new Database(path.join(dataDir, 'gateway.sqlite'));
    try {
      for (const { name, sql } of cases) expect(db.prepare(sql).run(tenantOf(name)).changes, name).toBe(1);
    } finally {
      db.close();
    }

    const realChainSlice = store.audit.chainSlice.bind(store.audit);
    store.audit.chainSlice = async (tenant, afterSequence, limit) => {
      sliceCalls.push({ tenant, afterSequence, limit });
      return realChainSlice(tenant, afterSequence, limit);
    };
  });

  it('a chain of 53 events verifies whole, read in 8 batches of 7, in order', async () => {
    sliceCalls.length = 0;
    expect(await verify(intact)).toEqual({ tenant: intact, valid: true, checked: EVENTS });
    expect(sliceCalls).toEqual(Array.from({ length: 8 }, (_, i) => ({ tenant: intact, afterSequence: i * BATCH, limit: BATCH })));
  });

  it('a chain of exactly 8 batches (56 events) verifies whole', async () => {
    expect(await verify(wholeBatches)).toEqual({ tenant: wholeBatches, valid: true, checked: 8 * BATCH });
  });

  for (const { name, what, sequence } of cases) {
    it(`${what}: the chain is reported broken at sequence ${sequence}`, async () => {
      const tenant = tenantOf(name);
      expect(beforeEdit.get(tenant)).toEqual({ tenant, valid: true, checked: EVENTS });
      expect(await verify(tenant)).toEqual({ tenant, valid: false, checked: sequence - 1, firstBrokenSequence: sequence });
    });
  }
});

/** Waits until `count()` has not changed for 300 ms (at most 10 s) and returns it. */
async function settled(count: () => number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= 300) {
      return now;
    }
    if (Date.now() > deadline) throw new Error('the count never settled');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `promise`, or a failure if it has not settled within `millis`. */
async function within<T>(millis: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${millis} ms`)), millis);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
