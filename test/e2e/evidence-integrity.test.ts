/**
 * What proves a decision, end to end on real processes: the digest the device reports against Face's,
 * the reference image's hashes (the gateway's and Face's), the device correlation id derived per user
 * and rotated by an admin, Face refusing a flagged id, and the attempts limit from configuration.
 * The gateway runs on port 0 with its embedded emulator; the tampering case puts a real HTTP proxy
 * between the gateway and a standalone emulator, as a compromised path would sit.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  RotateDeviceCorrelationIdDocument,
  SessionIntegrityDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  VerifyAuditChainDocument,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { eventually, TestGateway } from '../helpers/gateway';
import { PNG_1X1, referencePng, TINY_PNG } from '../helpers/images';
import { STORES, type TestDatabase } from '../helpers/services';

type Evidence = NonNullable<Awaited<ReturnType<typeof evidenceOf>>>;

let gateway: TestGateway;

async function evidenceOf(target: TestGateway, id: string, token: string) {
  return (await target.ok(SessionIntegrityDocument, { id }, token)).session;
}

/**
 * Waits for the session's decision, then reads its evidence once more: one read of a session is
 * several store reads, and the one that saw the decision may have come after the others did.
 */
async function decided(target: TestGateway, id: string, token: string): Promise<Evidence> {
  await eventually(async () => ((await evidenceOf(target, id, token))?.decision ? true : undefined));
  const session = await evidenceOf(target, id, token);
  if (!session) throw new Error(`session ${id} vanished`);
  return session;
}

const events = (evidence: Evidence, action: string) => evidence.auditTrail.edges.map((edge) => edge.node).filter((node) => node.action === action);

/** A liveness session played by the device: answers its id, the token, and the digest the device got. */
async function livenessPlayed(target: TestGateway, token: string, outcome: { livenessDecision: 'realface' | 'spoofface' } = { livenessDecision: 'realface' }) {
  const started = (await target.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  const answer = await target.device('LIVENESS', started.authToken, outcome);
  expect(answer.status).toBe(200);
  const attempt = (await answer.json()) as { result: { digest: string } };
  return { id: started.session.id, digest: attempt.result.digest, session: started.session };
}

describe.each(STORES)('evidence on $store', ({ available, database }) => {
  let testDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: testDatabase ? { DATABASE_URL: testDatabase.url } : {} });
  });
  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  describe("the device's digest", () => {
    it.skipIf(!available)("a completion with the device's digest, equal to Face's, keeps PASS and audits the reported digest", async () => {
      const token = gateway.token({ sub: `digest-${randomUUID()}` });
      const { id, digest } = await livenessPlayed(gateway, token);

      // The SDK's digest may come back in another case than Face writes it: still the same digest.
      await gateway.ok(CompleteLivenessSessionDocument, { id, digest: digest.toLowerCase() }, token);
      const evidence = await decided(gateway, id, token);

      expect(evidence.decision).toMatchObject({ verdict: 'PASS', reason: null, attemptId: 1 });
      expect(events(evidence, 'COMPLETION_REPORTED')[0]?.digest).toBe(digest.toLowerCase());
      expect(events(evidence, 'ATTEMPT_RECORDED')[0]?.digest).toBe(digest);
      expect(events(evidence, 'DECISION_REACHED')[0]).toMatchObject({ verdict: 'PASS', reason: null });
    });

    it.skipIf(!available)("a digest that differs from Face's makes the verdict FAIL with DIGEST_MISMATCH, audited, the chain intact", async () => {
      const token = gateway.token({ sub: `digest-${randomUUID()}`, tenant: 'digest-tenant' });
      const { id, digest } = await livenessPlayed(gateway, token);
      const forged = createHash('sha256').update('another attempt').digest('hex').toUpperCase();
      expect(forged).not.toBe(digest);

      await gateway.ok(CompleteLivenessSessionDocument, { id, digest: forged }, token);
      const evidence = await decided(gateway, id, token);

      expect(evidence.decision).toMatchObject({ verdict: 'FAIL', reason: 'DIGEST_MISMATCH', livenessDecision: 'REAL_FACE', attemptId: 1 });
      expect(events(evidence, 'DECISION_REACHED')[0]).toMatchObject({ verdict: 'FAIL', reason: 'DIGEST_MISMATCH' });
      expect(events(evidence, 'COMPLETION_REPORTED')[0]?.digest).toBe(forged);
      const admin = gateway.token({ sub: 'root', roles: ['admin'] });
      const report = (await gateway.ok(VerifyAuditChainDocument, { tenant: 'digest-tenant' }, admin)).verifyAuditChain;
      expect(report).toMatchObject({ valid: true, firstBrokenSequence: null });
    });

    it.skipIf(!available)('a completion without a digest behaves as before: Face decides alone', async () => {
      const token = gateway.token({ sub: `digest-${randomUUID()}` });
      const { id } = await livenessPlayed(gateway, token);

      await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
      const evidence = await decided(gateway, id, token);

      expect(evidence.decision).toMatchObject({ verdict: 'PASS', reason: null });
      expect(events(evidence, 'COMPLETION_REPORTED')[0]?.digest).toBeNull();
    });

    it.skipIf(!available)('a spoofed face stays FAIL without a reason when the digests agree', async () => {
      const token = gateway.token({ sub: `digest-${randomUUID()}` });
      const { id, digest } = await livenessPlayed(gateway, token, { livenessDecision: 'spoofface' });

      await gateway.ok(CompleteLivenessSessionDocument, { id, digest }, token);

      expect((await decided(gateway, id, token)).decision).toMatchObject({ verdict: 'FAIL', reason: null });
    });
  });

  describe("the reference image's hash", () => {
    it.skipIf(!available)("stores the gateway's SHA-256 and Face's verifyImageHash on VerifyReference and in the audit events", async () => {
      const token = gateway.token({ sub: `verify-${randomUUID()}` });
      const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
      const ours = createHash('sha256').update(Buffer.from(PNG_1X1, 'base64')).digest('hex');
      expect((await gateway.device('LIVENESS_WITH_VERIFY', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);

      await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
      const evidence = await decided(gateway, started.session.id, token);

      expect(evidence.verifyReference).toEqual({ verifyImageSha256: ours, faceVerifyImageHash: ours.toUpperCase() });
      expect(evidence.attempts[0]?.verifyImageHash).toBe(ours.toUpperCase());
      expect(events(evidence, 'SESSION_STARTED')[0]).toMatchObject({ verifyImageSha256: ours, faceVerifyImageHash: null, reason: null });
      expect(events(evidence, 'ATTEMPT_RECORDED')[0]).toMatchObject({ verifyImageSha256: ours, faceVerifyImageHash: ours.toUpperCase(), reason: null });
      expect(evidence.decision?.verdict).toBe('PASS');
    });

    it.skipIf(!available)('a reference image under 1 KB is BAD_USER_INPUT, and Face is not asked', async () => {
      const token = gateway.token({ sub: `verify-${randomUUID()}` });
      const marker = `NotCalled${randomUUID().slice(0, 8)}`;
      await gateway.fault({ status: 400, code: marker, count: 1 });

      const refused = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: TINY_PNG } }, token);
      const probe = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);

      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors?.[0]?.message).toMatch(/1 KB/);
      expect(probe.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: marker });
    });

    it.skipIf(!available)("a reference image in which Face finds no face is Face's InvalidImage refusal", async () => {
      const token = gateway.token({ sub: `verify-${randomUUID()}` });

      const refused = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: referencePng(0) } }, token);

      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'InvalidImage' });
    });
  });

  describe('the device correlation id', () => {
    const startedBy = async (claims: { sub: string; tenant?: string }, input: { deviceCorrelationId?: string } = {}) =>
      (await gateway.ok(StartLivenessSessionDocument, { input }, gateway.token(claims))).startLivenessSession.session.deviceCorrelationId;

    it.skipIf(!available)('is derived once per user: stable across sessions, different across users and tenants, not the user id', async () => {
      const sub = `alice-${randomUUID()}`;
      const first = await startedBy({ sub, tenant: 'acme' });
      const second = await startedBy({ sub, tenant: 'acme' });
      const otherUser = await startedBy({ sub: `bob-${randomUUID()}`, tenant: 'acme' });
      const otherTenant = await startedBy({ sub, tenant: 'globex' });

      expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second).toBe(first);
      expect(otherUser).not.toBe(first);
      expect(otherTenant).not.toBe(first);
      expect(first).not.toContain(sub);
    });

    it.skipIf(!available)("a client's own id is sent as it is", async () => {
      const mine = `device-${randomUUID().slice(0, 8)}`;
      expect(await startedBy({ sub: `carol-${randomUUID()}` }, { deviceCorrelationId: mine })).toBe(mine);
    });

    it.skipIf(!available)("an admin's rotation gives the user a new id from the next session on, and is audited", async () => {
      const sub = `dave-${randomUUID()}`;
      const before = await startedBy({ sub, tenant: 'acme' });
      const admin = gateway.token({ sub: 'root', roles: ['admin'], tenant: 'ops' });

      const rotation = (await gateway.ok(RotateDeviceCorrelationIdDocument, { tenant: 'acme', userId: sub }, admin)).rotateDeviceCorrelationId;
      const after = await startedBy({ sub, tenant: 'acme' });
      const again = await startedBy({ sub, tenant: 'acme' });

      expect(rotation).toMatchObject({ tenant: 'acme', userId: sub, generation: 1 });
      expect(after).not.toBe(before);
      expect(again).toBe(after);
      const history = await gateway.graphql(
        `query ($userId: String!) { auditHistory(filter: { userId: $userId, actions: [DEVICE_CORRELATION_ID_ROTATED] }) { edges { node { action actor tenant sessionId session { id } } } } }`,
        { userId: sub },
        admin,
      );
      expect(history.errors).toBeUndefined();
      expect((history.data as { auditHistory: { edges: { node: unknown }[] } }).auditHistory.edges.map((edge) => edge.node)).toEqual([
        { action: 'DEVICE_CORRELATION_ID_ROTATED', actor: 'root', tenant: 'acme', sessionId: '', session: null },
      ]);
      const report = (await gateway.ok(VerifyAuditChainDocument, { tenant: 'acme' }, admin)).verifyAuditChain;
      expect(report.valid).toBe(true);
    });

    it.skipIf(!available)('only an admin may rotate an id', async () => {
      const auditor = gateway.token({ sub: 'eve', roles: ['auditor'], tenant: 'acme' });
      const user = gateway.token({ sub: 'frank', roles: ['user'], tenant: 'acme' });

      for (const token of [auditor, user]) {
        const refused = await gateway.graphql(RotateDeviceCorrelationIdDocument, { tenant: 'acme', userId: 'frank' }, token);
        expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    });

    it.skipIf(!available)("a session Face refuses because the id is flagged gives FORBIDDEN with reason DEVICE_CORRELATION_ID_FLAGGED, not Face's text", async () => {
      const token = gateway.token({ sub: `flagged-${randomUUID()}` });
      const faceText = 'Device correlation id is blocked by abuse monitoring (internal ref 12345).';
      await gateway.fault({ status: 403, code: 'DeviceCorrelationIdFlagged', message: faceText, method: 'POST', count: 1 } as never);

      const refused = await gateway.graphql(StartLivenessSessionDocument, { input: {} }, token);

      expect(refused.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reason: 'DEVICE_CORRELATION_ID_FLAGGED' });
      expect(JSON.stringify(refused)).not.toContain('internal ref');
    });
  });
});

describe('configuration', () => {
  it('REQUIRE_DEVICE_DIGEST=true refuses a completion without a digest with BAD_USER_INPUT', async () => {
    const strict = await TestGateway.start({ env: { REQUIRE_DEVICE_DIGEST: 'true' } });
    try {
      const token = strict.token({ sub: 'grace' });
      const { id, digest } = await livenessPlayed(strict, token);

      const refused = await strict.graphql(CompleteLivenessSessionDocument, { id }, token);
      await strict.ok(CompleteLivenessSessionDocument, { id, digest }, token);

      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((await decided(strict, id, token)).decision).toMatchObject({ verdict: 'PASS', reason: null });
    } finally {
      await strict.stop();
    }
  });

  it('LIVENESS_MAX_ATTEMPTS=2 decides INCONCLUSIVE after two failed attempts, while Face would take a third', async () => {
    const limited = await TestGateway.start({ env: { LIVENESS_MAX_ATTEMPTS: '2' } });
    try {
      const token = limited.token({ sub: 'heidi' });
      const started = (await limited.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const answer = await limited.device('LIVENESS', started.authToken, { error: { code: 'FaceWithMaskDetected', message: 'Mask detected.' } });
        expect(answer.status).toBe(200);
      }

      await limited.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
      const evidence = await decided(limited, started.session.id, token);

      expect(evidence.decision).toMatchObject({ verdict: 'INCONCLUSIVE', attemptId: 2 });
      expect(evidence.attempts.map((attempt) => attempt.status)).toEqual(['FAILED', 'FAILED']);
    } finally {
      await limited.stop();
    }
  });
});

describe("a verify image hash that is not the gateway's", () => {
  let emulator: FaceEmulator;
  let proxy: Server;
  let tampering: TestGateway;
  let emulatorUrl = '';
  const forgedHash = 'AB'.repeat(32);

  beforeAll(async () => {
    emulator = createFaceEmulator({ apiKey: 'evidence-key' });
    emulatorUrl = await emulator.listen(0);
    // Passes everything through, but rewrites the verify image hash in the session reads.
    proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
      const upstream = await fetch(`${emulatorUrl}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (req.method === 'GET' && body.length > 0) body = Buffer.from(body.toString('utf8').replace(/"verifyImageHash":"[0-9A-F]{64}"/g, `"verifyImageHash":"${forgedHash}"`));
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json', 'content-length': String(body.length) });
      res.end(body);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    tampering = await TestGateway.start({ env: { FACE_ENDPOINT: proxyUrl, FACE_APIKEY: 'evidence-key' } });
  });
  afterAll(async () => {
    await tampering?.stop();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    proxy.closeAllConnections();
    await emulator.close();
  });

  it('is stored beside the gateway\'s own, audited as VERIFY_IMAGE_HASH_MISMATCH and logged', async () => {
    const token = tampering.token({ sub: `ivan-${randomUUID()}` });
    const started = (await tampering.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1 } }, token)).startLivenessWithVerifySession;
    const device = await fetch(`${emulatorUrl}/face/v1.2/detectLivenessWithVerify/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${started.authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ livenessDecision: 'realface' }),
    });
    expect(device.status).toBe(200);

    await tampering.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    const evidence = await decided(tampering, started.session.id, token);

    const ours = createHash('sha256').update(Buffer.from(PNG_1X1, 'base64')).digest('hex');
    expect(evidence.verifyReference).toEqual({ verifyImageSha256: ours, faceVerifyImageHash: forgedHash });
    expect(events(evidence, 'ATTEMPT_RECORDED')[0]).toMatchObject({ reason: 'VERIFY_IMAGE_HASH_MISMATCH', verifyImageSha256: ours, faceVerifyImageHash: forgedHash });
    const warning = tampering.logEntries().find((entry) => entry.sessionId === started.session.id && String(entry.msg).includes('another verify image'));
    expect(warning).toMatchObject({ verifyImageSha256: ours, faceVerifyImageHash: forgedHash });
  });
});
