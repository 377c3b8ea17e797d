/**
 * Verifying or exporting a long audit chain must not freeze the gateway: a real gateway process on
 * port 0 (so its event loop is its own, not the test's), a chain of many events written straight into
 * its SQLite file (correctly chained, so verification reads all of it), real JWTs over real HTTP.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../src/domain/audit/chain';
import { deriveAuditSeal } from '../../src/secrets/audit-keys';
import { resolveIdempotencySecret } from '../../src/secrets/idempotency-secret';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway';

const TENANT = 'long-chain';
const EVENTS = 100_000;

const secret = randomBytes(32).toString('hex');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-chain-limits-'));
const env = { JWT_SECRET: secret, DATA_DIR: dataDir, RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '0' };
let gateway: ChildGateway;
beforeAll(async () => {
  // The first boot creates the schema; the chain is written while no gateway holds the file.
  await (await startChildGateway(env)).kill();
  const db = new Database(path.join(dataDir, 'gateway.sqlite'));
  try {
    const insert = db.prepare(
      'INSERT INTO audit_events (id, tenant, sequence, at, action, actor, session_id, user_id, attempt_id, verdict, digest, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?)',
    );
    db.transaction(() => {
      let previousHash = GENESIS_HASH;
      const at = new Date('2026-01-01T00:00:00.000Z');
      for (let sequence = 1; sequence <= EVENTS; sequence += 1) {
        const fields = { id: randomUUID(), tenant: TENANT, sequence, at, action: 'SESSION_STARTED' as const, actor: 'user-1', sessionId: `s-${sequence}`, userId: 'user-1' };
        const hash = chainHash(previousHash, fields);
        insert.run(fields.id, TENANT, sequence, at.getTime(), fields.action, fields.actor, fields.sessionId, fields.userId, previousHash, hash);
        previousHash = hash;
      }
      // Sealed as the gateway seals it: with the key derived from the dev idempotency key of DATA_DIR.
      const seal = deriveAuditSeal(resolveIdempotencySecret({ dataDir, idempotencySecret: { kind: 'devKey' } }));
      const mac = seal.headMac(TENANT, { sequence: EVENTS, hash: previousHash });
      db.prepare('INSERT INTO audit_heads (tenant, sequence, hash, mac) VALUES (?, ?, ?, ?)').run(TENANT, EVENTS, previousHash, mac);
    })();
  } finally {
    db.close();
  }
  gateway = await startChildGateway(env);
}, 120_000);
afterAll(async () => {
  await gateway?.kill();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const auditor = (sub = 'chain-auditor') => jwt.sign({ roles: ['auditor'], tenant: TENANT }, secret, { algorithm: 'HS256', subject: sub, expiresIn: 3600 });

async function graphql(query: string, token: string): Promise<{ data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}
const VERIFY = `query { verifyAuditChain { valid checked } }`;

/**
 * Runs `work` while asking /healthz over and over; returns the longest wait between two answers
 * (or between the start and the first answer) while `work` was running, and how long it ran.
 */
async function healthWhile(work: () => Promise<unknown>): Promise<{ longestGapMillis: number; durationMillis: number; answers: number }> {
  const started = Date.now();
  let done = false;
  let last = started;
  let longestGapMillis = 0;
  let answers = 0;
  const running = work().finally(() => (done = true));
  const probing = (async () => {
    while (!done) {
      const response = await fetch(`${gateway.url}/healthz`);
      await response.arrayBuffer();
      if (done) break;
      expect(response.status).toBe(200);
      const now = Date.now();
      longestGapMillis = Math.max(longestGapMillis, now - last);
      last = now;
      answers += 1;
    }
  })();
  await running;
  const durationMillis = Date.now() - started;
  longestGapMillis = Math.max(longestGapMillis, Date.now() - last);
  await probing;
  return { longestGapMillis, durationMillis, answers };
}

describe('chain verification and export keep the gateway answering', () => {
  it('/healthz answers while verifyAuditChain reads a chain of 100k events', async () => {
    const result = await healthWhile(async () => {
      const response = await graphql(VERIFY, auditor());
      expect(response.errors).toBeUndefined();
      expect(response.data?.verifyAuditChain).toEqual({ valid: true, checked: EVENTS });
    });
    // Frozen, the gateway answers nothing until the end: one gap as long as the whole verification.
    expect(result.answers).toBeGreaterThan(2);
    expect(result.longestGapMillis).toBeLessThan(result.durationMillis / 2);
  }, 120_000);

  it('/healthz answers while GET /audit/export streams a chain of 100k events', async () => {
    const result = await healthWhile(async () => {
      const response = await fetch(`${gateway.url}/audit/export`, { headers: { authorization: `Bearer ${auditor('exporter')}` } });
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(body.split('\n').filter(Boolean)).toHaveLength(EVENTS);
    });
    expect(result.answers).toBeGreaterThan(2);
    expect(result.longestGapMillis).toBeLessThan(result.durationMillis / 2);
  }, 120_000);
});

describe('one chain verification per document', () => {
  const codes = (response: Awaited<ReturnType<typeof graphql>>) => (response.errors ?? []).map((error) => error.extensions?.code);

  it('two aliases of verifyAuditChain are refused BAD_USER_INPUT, and nothing is verified', async () => {
    const response = await graphql(`query { a: verifyAuditChain { valid checked } b: verifyAuditChain { valid checked } }`, auditor('aliases'));
    expect(response.data ?? null).toBeNull();
    expect(codes(response).length).toBeGreaterThan(0);
    expect(new Set(codes(response))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(response.errors?.[0].message).toMatch(/verifyAuditChain.*once/);
  });

  it('a second one hidden in a fragment is refused too', async () => {
    const response = await graphql(
      `query { verifyAuditChain { valid } ...again } fragment again on Query { ... on Query { other: verifyAuditChain { checked } } }`,
      auditor('fragments'),
    );
    expect(response.data ?? null).toBeNull();
    expect(new Set(codes(response))).toEqual(new Set(['BAD_USER_INPUT']));
  });

  it('over WebSocket too', async () => {
    const client = createClient({
      url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${auditor('socket')}` },
      retryAttempts: 0,
      lazy: true,
    });
    try {
      const results: { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe({ query: `query { a: verifyAuditChain { valid } b: verifyAuditChain { valid } }` }, {
          next: (result) => results.push(result),
          error: reject,
          complete: resolve,
        });
      });
      expect(results).toHaveLength(1);
      expect(results[0].data ?? null).toBeNull();
      expect(new Set(results[0].errors?.map((error) => error.extensions?.code))).toEqual(new Set(['BAD_USER_INPUT']));
    } finally {
      await client.dispose();
    }
  });

  it('one verification in a document still runs', async () => {
    const response = await graphql(`query { viewer { tenant } verifyAuditChain { valid checked } }`, auditor('single'));
    expect(response.errors).toBeUndefined();
    expect(response.data?.verifyAuditChain).toEqual({ valid: true, checked: EVENTS });
  });
});

describe('one costly chain operation in flight per caller', () => {
  type Result = Awaited<ReturnType<typeof graphql>>;
  const refused = (response: Result) => response.errors?.[0]?.extensions?.code === 'RATE_LIMITED';

  it('two concurrent verifications by one auditor: one runs, the other is refused RATE_LIMITED', async () => {
    const token = auditor('twice-at-once');
    const [first, second] = await Promise.all([graphql(VERIFY, token), graphql(VERIFY, token)]);
    const outcomes = [first, second];
    expect(outcomes.filter(refused)).toHaveLength(1);
    const ran = outcomes.find((response) => !refused(response));
    expect(ran?.errors).toBeUndefined();
    expect(ran?.data?.verifyAuditChain).toEqual({ valid: true, checked: EVENTS });
    const refusal = outcomes.find(refused)?.errors?.[0];
    expect(refusal?.extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    // The slot is given back once the verification ends.
    const after = await graphql(VERIFY, token);
    expect(after.errors).toBeUndefined();
  }, 120_000);

  it('another auditor is not held up by the first one', async () => {
    const [mine, theirs] = await Promise.all([graphql(VERIFY, auditor('first-caller')), graphql(VERIFY, auditor('second-caller'))]);
    expect(mine.errors).toBeUndefined();
    expect(theirs.errors).toBeUndefined();
  }, 120_000);

  it('two concurrent exports by one auditor: one streams, the other is 429 with Retry-After', async () => {
    const token = auditor('exports-at-once');
    const open = () => fetch(`${gateway.url}/audit/export`, { headers: { authorization: `Bearer ${token}` } });
    const responses = await Promise.all([open(), open()]);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 429]);
    const limited = responses.find((response) => response.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await limited.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const streamed = await responses.find((response) => response.status === 200)!.text();
    expect(streamed.split('\n').filter(Boolean)).toHaveLength(EVENTS);

    // Given back when the export ends, and when its client goes away before reading anything.
    const abandoned = new AbortController();
    const cut = await fetch(`${gateway.url}/audit/export`, { headers: { authorization: `Bearer ${token}` }, signal: abandoned.signal });
    expect(cut.status).toBe(200);
    abandoned.abort();
    let again: Response | undefined;
    for (let tries = 0; tries < 100; tries += 1) {
      again = await open();
      if (again.status !== 429) break;
      await again.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(again?.status).toBe(200);
    await again?.arrayBuffer();
  }, 120_000);
});
