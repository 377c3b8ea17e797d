/**
 * Evidence, end to end: a session started with `enableSessionImage` has its attempt's image fetched
 * from Face once decided, sealed in the store (never in clear), shown to an auditor of its tenant
 * once per one-time link (each view in the trail), refused to other tenants and to users, deleted
 * after its retention; and the decided session is deleted at Face (its device token with it) while
 * staying decided here. On SQLite and PostgreSQL alike, and with two instances on PostgreSQL the
 * work at Face happens once. Real gateways on port 0, the emulator over HTTP, real JWTs.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteLivenessSessionDocument,
  CreateEvidenceImageLinkDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionEvidenceDocument,
  StartLivenessSessionDocument,
  type AuditAction,
} from '../../client/generated/graphql';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { sessionImageJpeg } from '../../tools/face-emulator/session-image';
import { eventually, TestGateway, type DeviceOutcome, type GraphQLResponse } from '../helpers/gateway';
import { createTestDatabase, POSTGRES_SKIP_REASON, postgresAdminUrl, servicesFor, type TestDatabase } from '../helpers/services';

const DAY_MILLIS = 86_400_000;
const codeOf = (result: GraphQLResponse<unknown>): unknown => result.errors?.[0]?.extensions?.code;

/** A user's session with session images, its device attempt done, completion reported; resolves once decided. */
async function decidedImageSession(on: TestGateway, user: string, outcome: DeviceOutcome = { livenessDecision: 'realface' }) {
  const started = (await on.ok(StartLivenessSessionDocument, { input: { enableSessionImage: true } }, user)).startLivenessSession;
  const id = started.session.id;
  const decided = on.subscribe(on.wsClient(user), SessionDecisionDocument, { sessionId: id }).done;
  expect((await on.device('LIVENESS', started.authToken, outcome)).status).toBe(200);
  await on.ok(CompleteLivenessSessionDocument, { id }, user);
  const events = await decided;
  return { id, authToken: started.authToken, decision: events[0].data!.sessionDecision };
}

async function evidenceOf(on: TestGateway, token: string, id: string) {
  const session = (await on.ok(SessionEvidenceDocument, { id }, token)).session;
  if (!session) throw new Error(`session ${id} not found`);
  return session;
}

/** The session's trail, oldest first, as [action, actor, attemptId]. */
async function trailOf(on: TestGateway, token: string, id: string): Promise<[AuditAction, string, number | null | undefined][]> {
  const trail = (await on.ok(SessionAuditTrailDocument, { id, first: 100 }, token)).session!.auditTrail;
  return trail.edges.map((edge) => [edge.node.action, edge.node.actor, edge.node.attemptId] as [AuditAction, string, number | null | undefined]).reverse();
}

const storeKinds = [
  { kind: 'sqlite' as const, services: { run: true } },
  { kind: 'postgres' as const, services: servicesFor('evidence on PostgreSQL', [postgresAdminUrl ? undefined : POSTGRES_SKIP_REASON]) },
];

describe.each(storeKinds)('session images as evidence ($kind)', ({ kind, services }) => {
  let gateway: TestGateway;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    if (!services.run) return;
    database = kind === 'postgres' ? await createTestDatabase() : undefined;
    gateway = await TestGateway.start({ env: { FACE_DELETE_AFTER_DECISION: 'true', ...(database && { DATABASE_URL: database.url }) } });
  });
  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
  });

  const user = () => gateway.token({ sub: `user-${randomBytes(4).toString('hex')}`, tenant: 'acme' });
  const auditor = () => gateway.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme' });

  /** Every stored byte of the store, as one buffer: the SQLite files, or the PostgreSQL evidence rows. */
  async function storedBytes(): Promise<Buffer> {
    if (!database) {
      const files = fs.readdirSync(gateway.dataDir).filter((name) => name.startsWith('gateway.sqlite'));
      expect(files).toContain('gateway.sqlite');
      return Buffer.concat(files.map((name) => fs.readFileSync(path.join(gateway.dataDir, name))));
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const rows = (await client.query('SELECT * FROM evidence_images')).rows;
      return Buffer.from(JSON.stringify(rows));
    } finally {
      await client.end();
    }
  }

  it.runIf(services.run)('fetches the image once decided, seals it, shows it to an auditor once per link and audits the view', async () => {
    const owner = user();
    const { id, decision } = await decidedImageSession(gateway, owner);
    expect(decision).toMatchObject({ verdict: 'PASS', attemptId: 1 });

    const kept = await eventually(async () => {
      const session = await evidenceOf(gateway, auditor(), id);
      return session.evidence?.images.length === 1 && session.evidence.faceSessionDeleted ? session : undefined;
    });
    const imageId = kept.attempts[0].sessionImageId!;
    expect(imageId).toMatch(/^[A-Za-z0-9]{44}$/);
    const jpeg = sessionImageJpeg(imageId);
    expect(kept.evidence).toMatchObject({ sessionImageEnabled: true, imagesPending: false, faceSessionDeleted: true });
    expect(kept.evidence!.images[0]).toMatchObject({ attemptId: 1, contentType: 'image/jpeg', byteLength: jpeg.length });
    expect(Date.parse(kept.evidence!.images[0].expiresAt) - Date.parse(kept.evidence!.images[0].storedAt)).toBe(30 * DAY_MILLIS);

    // Encrypted at rest: neither the bytes, nor their base64 or hex, nor the id Face wrote into them.
    const stored = await storedBytes();
    expect(stored.includes(jpeg)).toBe(false);
    expect(stored.includes(Buffer.from(jpeg.toString('base64')))).toBe(false);
    expect(stored.includes(Buffer.from(jpeg.toString('base64url')))).toBe(false);
    expect(stored.includes(Buffer.from(jpeg.toString('hex')))).toBe(false);
    expect(stored.includes(Buffer.from(`face emulator: ${imageId}`))).toBe(false);

    const link = (await gateway.ok(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, auditor())).createEvidenceImageLink;
    expect(link.url).toMatch(/^\/evidence\/[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(link.expiresAt)).toBeGreaterThan(Date.now());
    const shown = await fetch(`${gateway.url}${link.url}`);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('content-type')).toBe('image/jpeg');
    expect(shown.headers.get('cache-control')).toBe('no-store');
    expect(Buffer.from(await shown.arrayBuffer()).equals(jpeg)).toBe(true);
    // Once per link.
    expect((await fetch(`${gateway.url}${link.url}`)).status).toBe(404);

    const trail = await trailOf(gateway, auditor(), id);
    expect(trail.map(([action]) => action)).toEqual([
      'SESSION_STARTED',
      'COMPLETION_REPORTED',
      'ATTEMPT_RECORDED',
      'DECISION_REACHED',
      'EVIDENCE_STORED',
      'FACE_SESSION_DELETED',
      'EVIDENCE_VIEWED',
    ]);
    expect(trail.slice(4)).toEqual([
      ['EVIDENCE_STORED', 'system', 1],
      ['FACE_SESSION_DELETED', 'system', null],
      ['EVIDENCE_VIEWED', 'audrey', 1],
    ]);
    // The link is a credential while it lives: it is in no log line (the access line says /evidence/[redacted]).
    const secret = link.url.split('/').pop()!;
    expect(gateway.logs.join('\n')).not.toContain(secret);
    expect(gateway.logEntries()).toContainEqual(expect.objectContaining({ path: '/evidence/[redacted]', status: 200 }));
  });

  it.runIf(services.run)("refuses links to another tenant's auditor and to users, and shows users no evidence", async () => {
    const ownerSub = `owner-${randomBytes(4).toString('hex')}`;
    const owner = gateway.token({ sub: ownerSub, tenant: 'acme' });
    const { id } = await decidedImageSession(gateway, owner);
    await eventually(async () => ((await evidenceOf(gateway, auditor(), id)).evidence?.images.length === 1 ? true : undefined));

    const otherAuditor = gateway.token({ sub: 'gus', roles: ['auditor'], tenant: 'globex' });
    expect(codeOf(await gateway.graphql(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, otherAuditor))).toBe('NOT_FOUND');
    expect(codeOf(await gateway.graphql(SessionEvidenceDocument, { id }, otherAuditor))).toBe('NOT_FOUND');
    expect(codeOf(await gateway.graphql(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, owner))).toBe('FORBIDDEN');
    expect((await evidenceOf(gateway, owner, id)).evidence).toBeNull();
    // An attempt without an image, for one who may see the session: nothing to link.
    expect(codeOf(await gateway.graphql(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 2 }, auditor()))).toBe('NOT_FOUND');
    // An admin of any tenant may.
    const admin = gateway.token({ sub: 'ada', roles: ['admin'], tenant: 'operators' });
    const link = (await gateway.ok(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, admin)).createEvidenceImageLink;
    expect((await fetch(`${gateway.url}${link.url}`)).status).toBe(200);
    // A made-up link is the same 404 as a used one.
    expect((await fetch(`${gateway.url}/evidence/${randomBytes(32).toString('base64url')}`)).status).toBe(404);
    expect((await trailOf(gateway, auditor(), id)).filter(([action]) => action === 'EVIDENCE_VIEWED')).toEqual([['EVIDENCE_VIEWED', 'ada', 1]]);
  });

  it.runIf(services.run)('deletes the decided session at Face: the device token is refused there, the session stays decided here', async () => {
    const owner = user();
    const { id, authToken } = await decidedImageSession(gateway, owner, { livenessDecision: 'spoofface' });
    await eventually(async () => ((await evidenceOf(gateway, auditor(), id)).evidence?.faceSessionDeleted ? true : undefined));
    expect((await gateway.device('LIVENESS', authToken, { livenessDecision: 'realface' })).status).toBe(401);
    const session = await evidenceOf(gateway, owner, id);
    expect(session.status).toBe('SUCCEEDED');
    expect(session.decision).toMatchObject({ verdict: 'FAIL', attemptId: 1 });
    expect((await trailOf(gateway, auditor(), id)).filter(([action]) => action === 'FACE_SESSION_DELETED')).toEqual([['FACE_SESSION_DELETED', 'system', null]]);
  });

  it.runIf(services.run)('a failed image fetch is retried, after the decision event, and the session is deleted at Face only once the image is kept', async () => {
    await gateway.fault({ status: 503, code: 'ServiceUnavailable', count: 100_000, method: 'GET', pathPrefix: '/sessionImages' });
    try {
      const owner = user();
      const { id, decision } = await decidedImageSession(gateway, owner);
      // The decision event came while Face refuses the image.
      expect(decision).toMatchObject({ verdict: 'PASS' });
      await eventually(() =>
        gateway.logEntries().some((entry) => entry.sessionId === id && entry.msg === 'follow-up at Face failed; will retry' && Number(entry.tries) >= 2) ? true : undefined,
      );
      expect((await evidenceOf(gateway, auditor(), id)).evidence).toMatchObject({ images: [], imagesPending: true, faceSessionDeleted: false });

      const cleared = await fetch(`${gateway.emulatorUrl}/_faults`, { method: 'DELETE' });
      expect(cleared.status).toBe(204);
      const kept = await eventually(async () => {
        const session = await evidenceOf(gateway, auditor(), id);
        return session.evidence?.faceSessionDeleted ? session : undefined;
      });
      expect(kept.evidence).toMatchObject({ imagesPending: false, images: [{ attemptId: 1 }] });
      expect((await trailOf(gateway, auditor(), id)).map(([action]) => action).slice(3)).toEqual(['DECISION_REACHED', 'EVIDENCE_STORED', 'FACE_SESSION_DELETED']);
    } finally {
      await fetch(`${gateway.emulatorUrl}/_faults`, { method: 'DELETE' });
    }
  });

  it.runIf(services.run)('deletes images past EVIDENCE_RETENTION_DAYS, with EVIDENCE_PURGED, and their links die with them', async () => {
    const owner = user();
    const { id } = await decidedImageSession(gateway, owner);
    await eventually(async () => ((await evidenceOf(gateway, auditor(), id)).evidence?.images.length === 1 ? true : undefined));
    const link = (await gateway.ok(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, auditor())).createEvidenceImageLink;

    gateway.advanceClock(30 * DAY_MILLIS + 60_000);
    await eventually(async () => ((await evidenceOf(gateway, auditor(), id)).evidence?.images.length === 0 ? true : undefined));
    expect((await fetch(`${gateway.url}${link.url}`)).status).toBe(404);
    expect((await trailOf(gateway, auditor(), id)).filter(([action]) => action.startsWith('EVIDENCE_'))).toEqual([
      ['EVIDENCE_STORED', 'system', 1],
      ['EVIDENCE_PURGED', 'system', 1],
    ]);
    const session = await evidenceOf(gateway, owner, id);
    expect(session.decision).toMatchObject({ verdict: 'PASS' });
  });
});

describe('FACE_DELETE_AFTER_DECISION=false', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { FACE_DELETE_AFTER_DECISION: 'false' } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('keeps the decided session at Face, images still fetched', async () => {
    const owner = gateway.token({ sub: 'keeper', tenant: 'acme' });
    const auditor = gateway.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme' });
    const { id } = await decidedImageSession(gateway, owner);
    await eventually(async () => ((await evidenceOf(gateway, auditor, id)).evidence?.images.length === 1 ? true : undefined));
    // Give a deletion that should not come the time to come.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const atFace = await fetch(`${gateway.emulatorUrl}/face/v1.2/detectLiveness-sessions/${id}`, { headers: { 'Ocp-Apim-Subscription-Key': 'any' } });
    expect(atFace.status).toBe(200);
    expect((await evidenceOf(gateway, auditor, id)).evidence).toMatchObject({ faceSessionDeleted: false, imagesPending: false });
    expect((await trailOf(gateway, auditor, id)).map(([action]) => action)).not.toContain('FACE_SESSION_DELETED');
  });
});

describe('two instances on PostgreSQL', () => {
  const services = servicesFor('evidence with two instances', [postgresAdminUrl ? undefined : POSTGRES_SKIP_REASON]);
  let database: TestDatabase | undefined;
  let emulator: FaceEmulator | undefined;
  let faceUrl = '';
  let instances: TestGateway[] = [];
  beforeAll(async () => {
    if (!services.run) return;
    database = await createTestDatabase();
    emulator = createFaceEmulator({ apiKey: 'cluster-face-key' });
    faceUrl = await emulator.listen(0);
    const shared = {
      DATABASE_URL: database.url,
      FACE_ENDPOINT: faceUrl,
      FACE_APIKEY: 'cluster-face-key',
      FACE_DELETE_AFTER_DECISION: 'true',
      EVIDENCE_KEY: randomBytes(32).toString('base64'),
      JWT_SECRET: randomBytes(32).toString('hex'),
    };
    instances = [await TestGateway.start({ env: shared }), await TestGateway.start({ env: shared })];
  });
  afterAll(async () => {
    for (const instance of instances) await instance.stop();
    await emulator?.close();
    await database?.drop();
  });

  /** Face requests of `operation` that answered `status`, over both instances, from their /metrics. */
  async function faceRequests(operation: string, status: string): Promise<number> {
    let total = 0;
    for (const instance of instances) {
      const text = await (await fetch(`${instance.url}/metrics`)).text();
      const line = text.split('\n').find((row) => row.startsWith(`liveness_gateway_face_requests_total{operation="${operation}",status="${status}"}`));
      total += line ? Number(line.split(' ').pop()) : 0;
    }
    return total;
  }

  it.runIf(services.run)('fetch and delete at Face happen once, whichever instance decided', async () => {
    const [a, b] = instances;
    const owner = a.token({ sub: 'twin', tenant: 'acme' });
    const auditor = a.token({ sub: 'audrey', roles: ['auditor'], tenant: 'acme' });
    const started = (await a.ok(StartLivenessSessionDocument, { input: { enableSessionImage: true } }, owner)).startLivenessSession;
    const id = started.session.id;
    const response = await fetch(`${faceUrl}/face/v1.2/detectLiveness/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${started.authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ livenessDecision: 'realface' }),
    });
    expect(response.status).toBe(200);
    // Both report completion, so both poll and both see the decision.
    await Promise.all([a.ok(CompleteLivenessSessionDocument, { id }, owner), b.ok(CompleteLivenessSessionDocument, { id }, owner)]);
    await eventually(async () => ((await evidenceOf(b, auditor, id)).evidence?.faceSessionDeleted ? true : undefined));
    // Let a second run, had one started, finish and be counted.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await faceRequests('get_session_image', '200')).toBe(1);
    expect(await faceRequests('delete_session', '204')).toBe(1);
    const actions = (await trailOf(a, auditor, id)).map(([action]) => action);
    expect(actions.filter((action) => action === 'EVIDENCE_STORED')).toHaveLength(1);
    expect(actions.filter((action) => action === 'FACE_SESSION_DELETED')).toHaveLength(1);
    // Either instance shows it, sealed under the shared key.
    const link = (await b.ok(CreateEvidenceImageLinkDocument, { sessionId: id, attemptId: 1 }, auditor)).createEvidenceImageLink;
    const shown = await fetch(`${a.url}${link.url}`);
    expect(shown.status).toBe(200);
    expect(Buffer.from(await shown.arrayBuffer()).subarray(0, 2).toString('hex')).toBe('ffd8');
  });
});
