/**
 * The tenant policy's rules as tables: what a policy may say, what is in force when it says nothing,
 * and how a start is held to it.
 */
import { describe, expect, it } from 'vitest';
import { applyPolicy, checkPolicy, effectivePolicy, isPolicyChange, policyChange, type PolicyDefaults, type TenantPolicy } from '../../src/domain/policy/tenant-policy';

const defaults: PolicyDefaults = {
  maxAttempts: 3,
  requireDeviceDigest: false,
  evidenceRetentionDays: 30,
  userStarts: { limit: 10, windowMillis: 60_000 },
  deviceStarts: { limit: 5, windowMillis: 60_000 },
};
const start = { operationMode: 'PASSIVE' as const, authTokenTimeToLiveSeconds: 600, enableSessionImage: false };

describe('a tenant policy', () => {
  it('a tenant without a policy is given the configured defaults', () => {
    expect(effectivePolicy(defaults, undefined)).toEqual({
      allowedOperationModes: ['PASSIVE', 'PASSIVE_ACTIVE'],
      defaultTokenLifetimeSeconds: 600,
      minTokenLifetimeSeconds: 60,
      maxTokenLifetimeSeconds: 86_400,
      maxAttempts: 3,
      requireDeviceDigest: false,
      sessionImagesAllowed: true,
      evidenceRetentionDays: 30,
      userStarts: { limit: 10, windowMillis: 60_000 },
      deviceStarts: { limit: 5, windowMillis: 60_000 },
    });
  });

  it('each override replaces its default and nothing else', () => {
    const effective = effectivePolicy(defaults, { maxAttempts: 1, userStartLimit: 2 });
    expect(effective.maxAttempts).toBe(1);
    expect(effective.userStarts).toEqual({ limit: 2, windowMillis: 60_000 });
    expect(effective.deviceStarts).toEqual(defaults.deviceStarts);
    expect(effective.requireDeviceDigest).toBe(false);
  });

  it.each<[string, TenantPolicy, RegExp]>([
    ['no mode at all', { allowedOperationModes: [] }, /at least one mode/],
    ['a minimum above the default', { minTokenLifetimeSeconds: 900 }, /min <= default <= max/],
    ['a maximum below the default', { maxTokenLifetimeSeconds: 300 }, /min <= default <= max/],
    ['a lifetime Face refuses', { defaultTokenLifetimeSeconds: 30 }, /defaultTokenLifetimeSeconds must be a whole number from 60 to 86400/],
    ['a threshold above 1', { verifyConfidenceThreshold: 1.5 }, /between 0 and 1/],
    ['more attempts than Face allows', { maxAttempts: 4 }, /maxAttempts must be a whole number from 1 to 3/],
    ['no attempt at all', { maxAttempts: 0 }, /maxAttempts/],
    ['a retention beyond EVIDENCE_RETENTION_DAYS bounds', { evidenceRetentionDays: 4_000 }, /evidenceRetentionDays/],
    ['a window shorter than the configured bound', { userStartWindowMillis: 5 }, /userStartWindowMillis/],
  ])('refuses %s', (_name, policy, message) => {
    expect(() => checkPolicy(policy, defaults)).toThrow(message);
  });

  it('keeps a consistent policy, without its empty fields and with its modes in a stable order', () => {
    expect(checkPolicy({ allowedOperationModes: ['PASSIVE_ACTIVE', 'PASSIVE'], maxTokenLifetimeSeconds: 300, defaultTokenLifetimeSeconds: 120, requireDeviceDigest: undefined }, defaults)).toEqual({
      allowedOperationModes: ['PASSIVE', 'PASSIVE_ACTIVE'],
      maxTokenLifetimeSeconds: 300,
      defaultTokenLifetimeSeconds: 120,
    });
  });
});

describe('a start under its tenant policy', () => {
  it('a start under no policy is what it asked for', () => {
    expect(applyPolicy(effectivePolicy(defaults, undefined), start)).toEqual(start);
  });

  it("a start that names no lifetime gets the tenant's default; one inside the bounds keeps its own", () => {
    const effective = effectivePolicy(defaults, { defaultTokenLifetimeSeconds: 120, maxTokenLifetimeSeconds: 300 });
    expect(applyPolicy(effective, start).authTokenTimeToLiveSeconds).toBe(120);
    expect(applyPolicy(effective, { ...start, authTokenTimeToLiveSeconds: 200 }).authTokenTimeToLiveSeconds).toBe(200);
    expect(() => applyPolicy(effective, { ...start, authTokenTimeToLiveSeconds: 301 })).toThrow(/between 60 and 300/);
  });

  it('a mode the tenant does not allow is refused', () => {
    expect(() => applyPolicy(effectivePolicy(defaults, { allowedOperationModes: ['PASSIVE'] }), { ...start, operationMode: 'PASSIVE_ACTIVE' })).toThrow(
      /does not allow operationMode PASSIVE_ACTIVE/,
    );
  });

  it("a verify start without a threshold gets the tenant's; a lower one is refused, a higher one kept", () => {
    const effective = effectivePolicy(defaults, { verifyConfidenceThreshold: 0.9 });
    expect(applyPolicy(effective, start).verifyConfidenceThreshold).toBe(0.9);
    expect(applyPolicy(effective, { ...start, verifyConfidenceThreshold: 0.95 }).verifyConfidenceThreshold).toBe(0.95);
    expect(() => applyPolicy(effective, { ...start, verifyConfidenceThreshold: 0.5 })).toThrow(/at least 0.9/);
  });

  it('session images are refused where the tenant keeps none', () => {
    expect(() => applyPolicy(effectivePolicy(defaults, { sessionImagesAllowed: false }), { ...start, enableSessionImage: true })).toThrow(/session images/);
  });
});

describe('the audited text of a change', () => {
  it('records the overrides before and after as JSON that the chained reason carries', () => {
    const text = policyChange(undefined, { maxAttempts: 1 });
    expect(JSON.parse(text)).toEqual({ before: null, after: { maxAttempts: 1 } });
    expect(isPolicyChange(text)).toBe(true);
    expect(isPolicyChange('DIGEST_MISMATCH')).toBe(false);
  });
});
