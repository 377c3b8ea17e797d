/**
 * The live audit feed across instances: two gateway processes on one PostgreSQL database and one
 * Redis, sharing one standalone Face emulator. Events are written through A; the subscriber is on B,
 * which hears of them only through Redis. Needs DATABASE_URL and REDIS_URL (CI sets both): without
 * them the suite is skipped and says why, except in CI, where it fails and says why.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuditEventsDocument,
  StartLivenessSessionDocument,
  type AuditEventsSubscription,
  type AuditEventsSubscriptionVariables,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';
import { eventually } from '../helpers/gateway';
import { createTestDatabase, POSTGRES_SKIP_REASON, postgresAdminUrl, REDIS_SKIP_REASON, redisUrl, servicesFor, type TestDatabase } from '../helpers/services';

const services = servicesFor('the audit feed cluster suite', [
  postgresAdminUrl === undefined ? POSTGRES_SKIP_REASON : undefined,
  redisUrl === undefined ? REDIS_SKIP_REASON : undefined,
]);
const secret = randomBytes(32).toString('hex');

function token(sub: string, roles: string[], tenant: string) {
  return jwt.sign({ roles, tenant }, secret, { subject: sub, expiresIn: 600 });
}

async function graphql<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables, bearer: string): Promise<TData> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as FormattedExecutionResult<TData>;
  if (body.errors || !body.data) throw new Error(`GraphQL errors from ${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

describe.skipIf(!services.run)('the live audit feed across two instances on PostgreSQL and Redis', () => {
  let database: TestDatabase | undefined;
  let emulator: FaceEmulator | undefined;
  const dataDirs: string[] = [];
  const clients: Client[] = [];
  let a: ChildGateway;
  let b: ChildGateway;

  beforeEach(() => {
    if (services.missing) throw new Error(services.missing);
  });

  beforeAll(async () => {
    if (services.missing) return;
    database = await createTestDatabase();
    emulator = createFaceEmulator();
    const faceUrl = await emulator.listen(0);
    const channelPrefix = `test-${randomBytes(4).toString('hex')}:`;
    const instance = () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-feed-cluster-'));
      dataDirs.push(dataDir);
      return startChildGateway({
        DATA_DIR: dataDir,
        DATABASE_URL: database!.url,
        REDIS_URL: redisUrl!,
        REDIS_CHANNEL_PREFIX: channelPrefix,
        FACE_ENDPOINT: faceUrl,
        FACE_APIKEY: 'cluster-key',
        JWT_SECRET: secret,
        RATE_LIMIT_USER_STARTS: '100000',
        RATE_LIMIT_DEVICE_STARTS: '100000',
        IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'),
        // B must hear of A's events through Redis: its own rechecks of the chain are an hour apart.
        AUDIT_FEED_RECHECK_MS: '3600000',
      });
    };
    [a, b] = await Promise.all([instance(), instance()]);
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await Promise.all([a, b].filter(Boolean).map((gateway) => gateway.kill()));
    await emulator?.close();
    await database?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  function subscribe(on: ChildGateway, bearer: string, variables: AuditEventsSubscriptionVariables) {
    const client = createClient({
      url: `${on.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${bearer}` },
      retryAttempts: 0,
    });
    clients.push(client);
    const events: ExecutionResult<AuditEventsSubscription>[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe<AuditEventsSubscription>(
        { query: print(AuditEventsDocument), variables },
        { next: (value) => events.push(value as ExecutionResult<AuditEventsSubscription>), error: reject, complete: resolve },
      );
    });
    done.catch(() => undefined);
    const received = () => events.map((event) => event.data!.auditEvents);
    return {
      client,
      received,
      /** Waits for `count` events and returns them as [tenant, sequence]. */
      async first(count: number) {
        await eventually(() => (events.length >= count ? true : undefined));
        return received().map((event) => [event.tenant, event.sequence] as const);
      },
    };
  }

  /** One SESSION_STARTED event in `tenant`'s chain, written through `on`. */
  const startOn = (on: ChildGateway, tenant: string, user = 'alice') => graphql(on.url, StartLivenessSessionDocument, { input: {} }, token(user, ['user'], tenant));
  const range = (tenant: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => [tenant, from + index] as const);

  it('events written on A reach an auditor on B in chain order, and B resumes after a reconnect without gaps or duplicates', async () => {
    const tenant = `cluster-${randomUUID()}`;
    const auditor = token('portal', ['auditor'], tenant);
    await startOn(a, tenant);
    const first = subscribe(b, auditor, { afterSequence: 0 });
    expect(await first.first(1)).toEqual(range(tenant, 1, 1));
    // B has followed the chain since: these reach it only as notices through Redis.
    await startOn(a, tenant);
    await startOn(a, tenant, 'bob');
    const beforeDrop = await first.first(3);
    expect(beforeDrop).toEqual(range(tenant, 1, 3));
    await first.client.dispose();

    await startOn(a, tenant);
    await startOn(a, tenant);
    const writing = Promise.all([startOn(a, tenant, 'carol'), startOn(a, tenant, 'dave')]);
    const second = subscribe(b, auditor, { afterSequence: beforeDrop[beforeDrop.length - 1][1] });
    await writing;
    await startOn(a, tenant);
    expect(await second.first(5)).toEqual(range(tenant, 4, 8));
    // Nothing more is on its way: the next event written on A is the next one B hands out.
    await startOn(a, tenant);
    expect(await second.first(6)).toEqual(range(tenant, 4, 9));
  });

  it("an admin on B without a tenant filter sees a new tenant's events written on A, from its first", async () => {
    const busy = `cluster-busy-${randomUUID()}`;
    await startOn(a, busy);
    const admin = subscribe(b, token('operator', ['admin'], 'operators'), {});
    // Live only: keep writing until B shows it is listening.
    await eventually(async () => {
      await startOn(a, busy);
      return admin.received().length > 0 ? true : undefined;
    });
    const fresh = `cluster-fresh-${randomUUID()}`;
    await startOn(a, fresh);
    await startOn(a, fresh, 'bob');
    await eventually(() => (admin.received().filter((event) => event.tenant === fresh).length >= 2 ? true : undefined));
    expect(admin.received().filter((event) => event.tenant === fresh).map((event) => event.sequence)).toEqual([1, 2]);
    const busySequences = admin.received().filter((event) => event.tenant === busy).map((event) => event.sequence);
    expect(busySequences).toEqual([...busySequences].sort((x, y) => x - y));
    expect(new Set(busySequences).size).toBe(busySequences.length);
  });
});
