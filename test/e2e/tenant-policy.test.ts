/**
 * Tenant policies end to end: the real gateway on port 0 (SQLite, and PostgreSQL when DATABASE_URL
 * names a server), admins setting acme's policy over GraphQL with real JWTs, and users of acme and of
 * globex (which has no policy) starting sessions the emulator decides. Each setting changes what
 * acme's users may do or get, and nothing of globex's; each change is one audited event whose
 * chained content holds the policy before and after.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClearTenantPolicyDocument,
  CompleteLivenessSessionDocument,
  SessionDecisionDocument,
  SessionEvidenceDocument,
  SetTenantPolicyDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  TenantPolicyChangesDocument,
  TenantPolicyDocument,
  VerifyAuditChainDocument,
  type LivenessOperationMode,
  type TenantPolicyInput,
} from '../../client/generated/graphql';
import { eventually, TestGateway, type DeviceOutcome } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { STORES, type TestDatabase } from '../helpers/services';

let gateway: TestGateway;

const acmeAdmin = () => gateway.token({ sub: 'acme-admin', roles: ['admin'], tenant: 'acme' });
const user = (tenant: string) => gateway.token({ sub: `user-${Math.random()}`, tenant });
const codesOf = (response: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => response.errors?.map((error) => error.extensions?.code);
const PASSIVE_ACTIVE = 'PASSIVE_ACTIVE' as LivenessOperationMode;

async function setPolicy(input: TenantPolicyInput, tenant = 'acme', token = acmeAdmin()) {
  return (await gateway.ok(SetTenantPolicyDocument, { tenant, input }, token)).setTenantPolicy;
}

async function start(token: string, input: Record<string, unknown> = {}) {
  return gateway.graphql(StartLivenessSessionDocument, { input }, token);
}

/** Starts a session, plays the device's attempts, reports it complete and waits for its decision. */
async function decide(token: string, outcomes: DeviceOutcome[], options: { verify?: Record<string, unknown>; afterComplete?: DeviceOutcome[] } = {}) {
  const kind = options.verify ? 'LIVENESS_WITH_VERIFY' : 'LIVENESS';
  const started = options.verify
    ? (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1, ...options.verify } }, token)).startLivenessWithVerifySession
    : (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
  const id = started.session.id;
  const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: id });
  for (const outcome of outcomes) expect((await gateway.device(kind, started.authToken, outcome)).status).toBe(200);
  await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
  for (const outcome of options.afterComplete ?? []) expect((await gateway.device(kind, started.authToken, outcome)).status).toBe(200);
  const [event] = await subscription.done;
  return event.data!.sessionDecision;
}

async function policyChanges(tenant: string) {
  const history = (await gateway.ok(TenantPolicyChangesDocument, { tenant }, gateway.token({ sub: 'auditor', roles: ['auditor'], tenant }))).auditHistory;
  return history.edges.map(({ node }) => ({ ...node, change: node.change ? JSON.parse(node.change) : null }));
}

const FAILED_ATTEMPT: DeviceOutcome = { error: { code: 'FaceWithMaskDetected', message: 'A mask covers the face.' } };

describe.each(STORES)('tenant policies on $store', ({ available, database }) => {
  let testDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: { ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}), GLOBAL_ADMIN_TENANT: 'ops' } });
  });
  afterEach(async () => {
    if (available) await gateway.ok(ClearTenantPolicyDocument, { tenant: 'acme' }, acmeAdmin());
  });
  afterAll(async () => {
    await gateway?.stop();
    await testDatabase?.drop();
  });

  it.skipIf(!available)('a tenant without a policy reads the configured defaults, and its auditors may read it', async () => {
    const policy = (await gateway.ok(TenantPolicyDocument, { tenant: 'globex' }, gateway.token({ sub: 'g-auditor', roles: ['auditor'], tenant: 'globex' }))).tenantPolicy;
    expect(policy.updatedAt).toBeNull();
    expect(policy.overrides.maxAttempts).toBeNull();
    expect(policy.effective).toMatchObject({
      allowedOperationModes: ['PASSIVE', 'PASSIVE_ACTIVE'],
      defaultTokenLifetimeSeconds: 600,
      maxAttempts: 3,
      requireDeviceDigest: false,
      sessionImagesAllowed: true,
      evidenceRetentionDays: 30,
      userStarts: { limit: 0, windowMillis: 60_000 },
    });
  });

  it.skipIf(!available)("only the tenant's admins (or the global admins) change a policy; other tenants' auditors do not even see it", async () => {
    const globexAdmin = gateway.token({ sub: 'globex-admin', roles: ['admin'], tenant: 'globex' });
    expect(codesOf(await gateway.graphql(SetTenantPolicyDocument, { tenant: 'acme', input: { maxAttempts: 1 } }, globexAdmin))).toEqual(['FORBIDDEN']);
    const acmeAuditor = gateway.token({ sub: 'acme-auditor', roles: ['auditor'], tenant: 'acme' });
    expect(codesOf(await gateway.graphql(SetTenantPolicyDocument, { tenant: 'acme', input: { maxAttempts: 1 } }, acmeAuditor))).toEqual(['FORBIDDEN']);
    expect(codesOf(await gateway.graphql(TenantPolicyDocument, { tenant: 'acme' }, gateway.token({ sub: 'g', roles: ['auditor'], tenant: 'globex' })))).toEqual(['NOT_FOUND']);
    const ops = gateway.token({ sub: 'ops-admin', roles: ['admin'], tenant: 'ops' });
    expect((await setPolicy({ maxAttempts: 2 }, 'acme', ops)).effective.maxAttempts).toBe(2);
    expect((await gateway.ok(TenantPolicyDocument, { tenant: 'acme' }, acmeAuditor)).tenantPolicy).toMatchObject({ updatedBy: 'ops-admin', overrides: { maxAttempts: 2 } });
  });

  it.skipIf(!available)('a policy out of bounds is refused with a sentence naming the rule, and nothing is stored or audited', async () => {
    const before = (await policyChanges('acme')).length;
    const refused = await gateway.graphql(SetTenantPolicyDocument, { tenant: 'acme', input: { minTokenLifetimeSeconds: 900, maxTokenLifetimeSeconds: 1_200 } }, acmeAdmin());
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0].message).toMatch(/min <= default <= max/);
    expect(codesOf(await gateway.graphql(SetTenantPolicyDocument, { tenant: 'acme', input: { maxAttempts: 4 } }, acmeAdmin()))).toEqual(['BAD_USER_INPUT']);
    expect(await policyChanges('acme')).toHaveLength(before);
  });

  it.skipIf(!available)('every change is one TENANT_POLICY_CHANGED event with the policy before and after, in a chain that stays valid', async () => {
    const before = (await policyChanges('acme')).length;
    await setPolicy({ maxAttempts: 2 });
    await setPolicy({ maxAttempts: 2 }); // the same again: no change, no event
    await setPolicy({ maxAttempts: 1, requireDeviceDigest: true });
    await gateway.ok(ClearTenantPolicyDocument, { tenant: 'acme' }, acmeAdmin());
    const changes = (await policyChanges('acme')).slice(0, -before || undefined);
    expect(changes.map(({ change }) => change)).toEqual([
      { before: { maxAttempts: 1, requireDeviceDigest: true }, after: null },
      { before: { maxAttempts: 2 }, after: { maxAttempts: 1, requireDeviceDigest: true } },
      { before: null, after: { maxAttempts: 2 } },
    ]);
    for (const event of changes) expect(event).toMatchObject({ action: 'TENANT_POLICY_CHANGED', actor: 'acme-admin', tenant: 'acme', sessionId: '', reason: null });
    expect(await policyChanges('globex')).toEqual([]);
    const auditor = gateway.token({ sub: 'acme-auditor', roles: ['auditor'], tenant: 'acme' });
    expect((await gateway.ok(VerifyAuditChainDocument, { tenant: 'acme' }, auditor)).verifyAuditChain).toMatchObject({ valid: true });
  });

  it.skipIf(!available)("allowed operation modes: acme's PASSIVE-only policy refuses PASSIVE_ACTIVE; globex still starts it", async () => {
    await setPolicy({ allowedOperationModes: ['PASSIVE' as LivenessOperationMode] });
    const refused = await start(user('acme'), { operationMode: PASSIVE_ACTIVE });
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0].message).toMatch(/does not allow operationMode PASSIVE_ACTIVE/);
    expect(codesOf(await start(user('acme'), { operationMode: 'PASSIVE' }))).toBeUndefined();
    expect((await start(user('globex'), { operationMode: PASSIVE_ACTIVE })).data?.startLivenessSession.session.operationMode).toBe('PASSIVE_ACTIVE');
  });

  it.skipIf(!available)("token lifetime: acme's default and bounds apply to acme's starts; globex keeps 600 s and Face's bounds", async () => {
    await setPolicy({ defaultTokenLifetimeSeconds: 120, maxTokenLifetimeSeconds: 300 });
    const lifetime = (session: { createdAt: string; expiresAt: string }) => (Date.parse(session.expiresAt) - Date.parse(session.createdAt)) / 1000;
    expect(lifetime((await start(user('acme'))).data!.startLivenessSession.session)).toBe(120);
    expect(lifetime((await start(user('acme'), { authTokenTimeToLiveSeconds: 240 })).data!.startLivenessSession.session)).toBe(240);
    expect(codesOf(await start(user('acme'), { authTokenTimeToLiveSeconds: 1_000 }))).toEqual(['BAD_USER_INPUT']);
    expect(lifetime((await start(user('globex'))).data!.startLivenessSession.session)).toBe(600);
    expect(lifetime((await start(user('globex'), { authTokenTimeToLiveSeconds: 1_000 })).data!.startLivenessSession.session)).toBe(1_000);
  });

  it.skipIf(!available)("verify threshold: a 0.8 match fails under acme's 0.9 and passes for globex under Face's own", async () => {
    await setPolicy({ verifyConfidenceThreshold: 0.9 });
    const match = { livenessDecision: 'realface' as const, matchConfidence: 0.8 };
    expect((await decide(user('acme'), [match], { verify: {} })).verdict).toBe('FAIL');
    expect((await decide(user('globex'), [match], { verify: {} })).verdict).toBe('PASS');
    const lower = await gateway.graphql(StartLivenessWithVerifySessionDocument, { input: { verifyImage: PNG_1X1, verifyConfidenceThreshold: 0.5 } }, user('acme'));
    expect(codesOf(lower)).toEqual(['BAD_USER_INPUT']);
  });

  it.skipIf(!available)('attempts: one failed attempt ends an acme session under maxAttempts 1; a globex session goes on to pass', async () => {
    await setPolicy({ maxAttempts: 1 });
    expect((await decide(user('acme'), [FAILED_ATTEMPT])).verdict).toBe('INCONCLUSIVE');
    expect((await decide(user('globex'), [FAILED_ATTEMPT], { afterComplete: [{ livenessDecision: 'realface' }] })).verdict).toBe('PASS');
  });

  it.skipIf(!available)('a running session keeps the rules it started under when the policy changes', async () => {
    const token = user('acme');
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
    await setPolicy({ maxAttempts: 1, requireDeviceDigest: true });
    const subscription = gateway.subscribe(gateway.wsClient(token), SessionDecisionDocument, { sessionId: started.session.id });
    expect((await gateway.device('LIVENESS', started.authToken, FAILED_ATTEMPT)).status).toBe(200);
    // Started without a digest requirement and with 3 attempts: completed without one, not ended by one failure.
    await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
    expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
    expect((await subscription.done)[0].data!.sessionDecision.verdict).toBe('PASS');
  });

  it.skipIf(!available)("device digest: acme's completions must carry it; globex's need not", async () => {
    await setPolicy({ requireDeviceDigest: true });
    const acme = user('acme');
    const acmeSession = (await start(acme)).data!.startLivenessSession.session.id;
    const refused = await gateway.graphql(CompleteLivenessSessionDocument, { id: acmeSession }, acme);
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0].message).toMatch(/digest is required/);
    const globex = user('globex');
    const globexSession = (await start(globex)).data!.startLivenessSession.session.id;
    expect(codesOf(await gateway.graphql(CompleteLivenessSessionDocument, { id: globexSession }, globex))).toBeUndefined();
  });

  it.skipIf(!available)("session images: acme's policy refuses them; globex keeps them", async () => {
    await setPolicy({ sessionImagesAllowed: false });
    const refused = await start(user('acme'), { enableSessionImage: true });
    expect(codesOf(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0].message).toMatch(/does not keep session images/);
    expect(codesOf(await start(user('globex'), { enableSessionImage: true }))).toBeUndefined();
  });

  it.skipIf(!available)("retention: acme's images are kept 2 days, globex's the configured 30", async () => {
    await setPolicy({ evidenceRetentionDays: 2 });
    const keptDays = async (tenant: string) => {
      const token = user(tenant);
      const started = (await gateway.ok(StartLivenessSessionDocument, { input: { enableSessionImage: true } }, token)).startLivenessSession;
      expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
      await gateway.ok(CompleteLivenessSessionDocument, { id: started.session.id }, token);
      const auditor = gateway.token({ sub: `${tenant}-auditor`, roles: ['auditor'], tenant });
      const image = await eventually(async () => (await gateway.ok(SessionEvidenceDocument, { id: started.session.id }, auditor)).session?.evidence?.images[0]);
      return (Date.parse(image.expiresAt) - Date.parse(image.storedAt)) / 86_400_000;
    };
    expect(await keptDays('acme')).toBe(2);
    expect(await keptDays('globex')).toBe(30);
  });

  it.skipIf(!available)("start limits per user and per device: acme's second start is RATE_LIMITED; globex's limits stay off", async () => {
    await setPolicy({ userStartLimit: 1, deviceStartLimit: 1 });
    const acme = user('acme');
    expect(codesOf(await start(acme))).toBeUndefined();
    expect(codesOf(await start(acme))).toEqual(['RATE_LIMITED']);
    const other = user('acme');
    await setPolicy({ deviceStartLimit: 1 });
    expect(codesOf(await start(other, { deviceCorrelationId: 'phone-1' }))).toBeUndefined();
    expect(codesOf(await start(other, { deviceCorrelationId: 'phone-1' }))).toEqual(['RATE_LIMITED']);
    expect(codesOf(await start(other, { deviceCorrelationId: 'phone-2' }))).toBeUndefined();
    const globex = user('globex');
    for (let i = 0; i < 3; i += 1) expect(codesOf(await start(globex, { deviceCorrelationId: 'phone-1' }))).toBeUndefined();
  });
});
