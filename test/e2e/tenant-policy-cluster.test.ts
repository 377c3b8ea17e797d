/**
 * A policy change on one instance is in force on another at once: two gateways on one PostgreSQL
 * database and one Redis, each with its own cache of effective policies. B reads acme's policy (and
 * caches it) before A changes it; B's next starts must follow the change well before B's cache would
 * expire on its own (POLICY_CACHE_MILLIS), which only the notice through Redis achieves.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClearTenantPolicyDocument, SetTenantPolicyDocument, StartLivenessSessionDocument, type LivenessOperationMode } from '../../client/generated/graphql';
import { POLICY_CACHE_MILLIS } from '../../src/domain/policy/policy.service';
import { eventually, TestGateway } from '../helpers/gateway';
import { createTestDatabase, POSTGRES_SKIP_REASON, postgresAdminUrl, REDIS_SKIP_REASON, redisUrl, servicesFor, type TestDatabase } from '../helpers/services';

const services = servicesFor('the tenant policy cluster suite', [
  postgresAdminUrl === undefined ? POSTGRES_SKIP_REASON : undefined,
  redisUrl === undefined ? REDIS_SKIP_REASON : undefined,
]);
/** Well under the cache's own lifetime: a change seen this soon on B came through Redis. */
const NOTICE_MILLIS = POLICY_CACHE_MILLIS / 6;

describe.skipIf(!services.run)('tenant policies across two instances on PostgreSQL and Redis', () => {
  let database: TestDatabase | undefined;
  let a: TestGateway;
  let b: TestGateway;

  beforeEach(() => {
    if (services.missing) throw new Error(services.missing);
  });

  beforeAll(async () => {
    if (services.missing) return;
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl!,
      REDIS_CHANNEL_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
      JWT_SECRET: randomBytes(32).toString('hex'),
    };
    a = await TestGateway.start({ env });
    b = await TestGateway.start({ env });
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  const startOn = async (gateway: TestGateway, operationMode: string) =>
    gateway.graphql(StartLivenessSessionDocument, { input: { operationMode: operationMode as LivenessOperationMode } }, gateway.token({ sub: `user-${Math.random()}`, tenant: 'acme' }));
  const codeOf = (response: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => response.errors?.[0]?.extensions?.code;

  it('a policy set on A refuses starts on B at once, and clearing it on A lets them through on B again', async () => {
    const admin = a.token({ sub: 'acme-admin', roles: ['admin'], tenant: 'acme' });
    // B caches acme's policy (none) with this start.
    expect(codeOf(await startOn(b, 'PASSIVE_ACTIVE'))).toBeUndefined();

    await a.ok(SetTenantPolicyDocument, { tenant: 'acme', input: { allowedOperationModes: ['PASSIVE' as LivenessOperationMode] } }, admin);
    await eventually(async () => ((codeOf(await startOn(b, 'PASSIVE_ACTIVE'))) === 'BAD_USER_INPUT' ? true : undefined), NOTICE_MILLIS);
    expect(codeOf(await startOn(b, 'PASSIVE'))).toBeUndefined();

    await a.ok(ClearTenantPolicyDocument, { tenant: 'acme' }, admin);
    await eventually(async () => ((codeOf(await startOn(b, 'PASSIVE_ACTIVE'))) === undefined ? true : undefined), NOTICE_MILLIS);
  });
});
