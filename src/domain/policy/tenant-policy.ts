/**
 * A tenant's policy: the rules a session of that tenant starts under, where the configuration gives
 * the same rules to every tenant. Every field is optional; an absent field inherits the configured
 * default, so a tenant without a policy behaves exactly as before policies existed.
 * Pure: validation, merging with the defaults, and the before/after text of an audited change.
 */
import type { AuditChangeText } from '../audit/audit.model';
import { MAX_ATTEMPTS } from '../sessions/decision';
import type { OperationMode, SessionRules } from '../sessions/session.model';

export const OPERATION_MODES: readonly OperationMode[] = ['PASSIVE', 'PASSIVE_ACTIVE'];
/** Face's own bounds of a device token's lifetime. */
export const MIN_TOKEN_TTL_SECONDS = 60;
export const MAX_TOKEN_TTL_SECONDS = 86_400;
/** The token lifetime a start asks for when it names none (the schema's default). */
export const SCHEMA_DEFAULT_TOKEN_TTL_SECONDS = 600;
/** The bounds of `EVIDENCE_RETENTION_DAYS`, which a tenant's retention keeps too. */
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 3_650;
/** The bounds of `RATE_LIMIT_*_STARTS` and `RATE_LIMIT_*_WINDOW_MS`. */
export const MAX_START_LIMIT = 1_000_000;
export const MIN_WINDOW_MILLIS = 10;
export const MAX_WINDOW_MILLIS = 86_400_000;

/** The overrides a tenant's admins set; absent means "the configured default". */
export interface TenantPolicy {
  /** Modes a start may ask for, e.g. only PASSIVE for a tenant of mobile apps. */
  allowedOperationModes?: OperationMode[];
  /** The token lifetime of a start that names none. */
  defaultTokenLifetimeSeconds?: number;
  minTokenLifetimeSeconds?: number;
  maxTokenLifetimeSeconds?: number;
  /** The verify threshold of a start that names none, and the lowest one a start may name. */
  verifyConfidenceThreshold?: number;
  /** Failed attempts that end a session, at most Face's 3. */
  maxAttempts?: number;
  requireDeviceDigest?: boolean;
  /** Whether a start may ask for session images to be kept as evidence. */
  sessionImagesAllowed?: boolean;
  /** How long a kept session image is kept. */
  evidenceRetentionDays?: number;
  userStartLimit?: number;
  userStartWindowMillis?: number;
  deviceStartLimit?: number;
  deviceStartWindowMillis?: number;
}

export const POLICY_FIELDS = [
  'allowedOperationModes',
  'defaultTokenLifetimeSeconds',
  'minTokenLifetimeSeconds',
  'maxTokenLifetimeSeconds',
  'verifyConfidenceThreshold',
  'maxAttempts',
  'requireDeviceDigest',
  'sessionImagesAllowed',
  'evidenceRetentionDays',
  'userStartLimit',
  'userStartWindowMillis',
  'deviceStartLimit',
  'deviceStartWindowMillis',
] as const satisfies readonly (keyof TenantPolicy)[];

/** What the configuration gives every tenant (docs/configuration.md). */
export interface PolicyDefaults {
  maxAttempts: number;
  requireDeviceDigest: boolean;
  evidenceRetentionDays: number;
  userStarts: { limit: number; windowMillis: number };
  deviceStarts: { limit: number; windowMillis: number };
}

/** The rules in force for a tenant: its overrides over the defaults. */
export interface EffectivePolicy {
  allowedOperationModes: OperationMode[];
  defaultTokenLifetimeSeconds: number;
  minTokenLifetimeSeconds: number;
  maxTokenLifetimeSeconds: number;
  /** Undefined: Face's own threshold. */
  verifyConfidenceThreshold?: number;
  maxAttempts: number;
  requireDeviceDigest: boolean;
  sessionImagesAllowed: boolean;
  evidenceRetentionDays: number;
  userStarts: { limit: number; windowMillis: number };
  deviceStarts: { limit: number; windowMillis: number };
}


export class PolicyError extends Error {}

export function effectivePolicy(defaults: PolicyDefaults, policy: TenantPolicy | undefined): EffectivePolicy {
  const p = policy ?? {};
  return {
    allowedOperationModes: p.allowedOperationModes ?? [...OPERATION_MODES],
    defaultTokenLifetimeSeconds: p.defaultTokenLifetimeSeconds ?? SCHEMA_DEFAULT_TOKEN_TTL_SECONDS,
    minTokenLifetimeSeconds: p.minTokenLifetimeSeconds ?? MIN_TOKEN_TTL_SECONDS,
    maxTokenLifetimeSeconds: p.maxTokenLifetimeSeconds ?? MAX_TOKEN_TTL_SECONDS,
    ...(p.verifyConfidenceThreshold !== undefined && { verifyConfidenceThreshold: p.verifyConfidenceThreshold }),
    maxAttempts: p.maxAttempts ?? defaults.maxAttempts,
    requireDeviceDigest: p.requireDeviceDigest ?? defaults.requireDeviceDigest,
    sessionImagesAllowed: p.sessionImagesAllowed ?? true,
    evidenceRetentionDays: p.evidenceRetentionDays ?? defaults.evidenceRetentionDays,
    userStarts: { limit: p.userStartLimit ?? defaults.userStarts.limit, windowMillis: p.userStartWindowMillis ?? defaults.userStarts.windowMillis },
    deviceStarts: { limit: p.deviceStartLimit ?? defaults.deviceStarts.limit, windowMillis: p.deviceStartWindowMillis ?? defaults.deviceStarts.windowMillis },
  };
}

/** The rules a session started now keeps (`SessionRules`). */
export function sessionRules(effective: EffectivePolicy): SessionRules {
  return { maxAttempts: effective.maxAttempts, requireDeviceDigest: effective.requireDeviceDigest, evidenceRetentionDays: effective.evidenceRetentionDays };
}

const integerIn = (name: string, value: number | undefined, min: number, max: number) => {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) throw new PolicyError(`${name} must be a whole number from ${min} to ${max}.`);
};

/**
 * Checks a policy on its own and against the defaults it inherits from (a minimum above the
 * inherited default is as wrong as one above its own default). Answers it without absent fields and
 * with its modes in a stable order; throws `PolicyError` with a sentence naming the field.
 */
export function checkPolicy(policy: TenantPolicy, defaults: PolicyDefaults): TenantPolicy {
  const checked: TenantPolicy = {};
  for (const field of POLICY_FIELDS) {
    const value = policy[field];
    if (value !== undefined && value !== null) (checked as Record<string, unknown>)[field] = value;
  }
  if (checked.allowedOperationModes !== undefined) {
    const modes = new Set(checked.allowedOperationModes);
    if (modes.size === 0) throw new PolicyError('allowedOperationModes must name at least one mode.');
    for (const mode of modes) if (!OPERATION_MODES.includes(mode)) throw new PolicyError(`Unknown operation mode ${mode}.`);
    checked.allowedOperationModes = OPERATION_MODES.filter((mode) => modes.has(mode));
  }
  integerIn('minTokenLifetimeSeconds', checked.minTokenLifetimeSeconds, MIN_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS);
  integerIn('maxTokenLifetimeSeconds', checked.maxTokenLifetimeSeconds, MIN_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS);
  integerIn('defaultTokenLifetimeSeconds', checked.defaultTokenLifetimeSeconds, MIN_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS);
  const threshold = checked.verifyConfidenceThreshold;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new PolicyError('verifyConfidenceThreshold must be between 0 and 1.');
  integerIn('maxAttempts', checked.maxAttempts, 1, MAX_ATTEMPTS);
  integerIn('evidenceRetentionDays', checked.evidenceRetentionDays, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS);
  integerIn('userStartLimit', checked.userStartLimit, 0, MAX_START_LIMIT);
  integerIn('deviceStartLimit', checked.deviceStartLimit, 0, MAX_START_LIMIT);
  integerIn('userStartWindowMillis', checked.userStartWindowMillis, MIN_WINDOW_MILLIS, MAX_WINDOW_MILLIS);
  integerIn('deviceStartWindowMillis', checked.deviceStartWindowMillis, MIN_WINDOW_MILLIS, MAX_WINDOW_MILLIS);
  const effective = effectivePolicy(defaults, checked);
  const { minTokenLifetimeSeconds: min, defaultTokenLifetimeSeconds: fallback, maxTokenLifetimeSeconds: max } = effective;
  if (!(min <= fallback && fallback <= max)) {
    throw new PolicyError(`The token lifetimes must keep min <= default <= max; this policy gives ${min} <= ${fallback} <= ${max}.`);
  }
  return checked;
}

/**
 * The text an audited change records in its event's `reason` (a chained field, so the hash covers
 * it): JSON with no whitespace, `{"before":…,"after":…}`, each the stored overrides (null: none).
 */
export function policyChange(before: TenantPolicy | undefined, after: TenantPolicy | undefined): PolicyChangeText {
  return JSON.stringify({ before: before ?? null, after: after ?? null }) as PolicyChangeText;
}

export type PolicyChangeText = AuditChangeText;

/** Whether an audit event's `reason` is a policy change's JSON rather than one of the reason codes. */
export const isPolicyChange = (reason: string | undefined): reason is PolicyChangeText => reason !== undefined && reason.startsWith('{"before":');

/** What a start asks for, as far as a policy rules on it. */
export interface StartRequest {
  operationMode: OperationMode;
  authTokenTimeToLiveSeconds: number;
  enableSessionImage: boolean;
  verifyConfidenceThreshold?: number;
}

/**
 * A start under its tenant's policy: the request with the tenant's defaults filled in, or a
 * `PolicyError` saying which rule refuses it. A start that names no token lifetime arrives with the
 * schema's default (600 s), which stands for "the default": the tenant's default replaces it. A start
 * that names no verify threshold gets the tenant's; one that names a lower threshold is refused, as is
 * a mode the tenant does not allow, a lifetime out of its bounds, or session images it does not keep.
 */
export function applyPolicy(effective: EffectivePolicy, request: StartRequest): StartRequest {
  if (!effective.allowedOperationModes.includes(request.operationMode)) {
    throw new PolicyError(`The tenant's policy does not allow operationMode ${request.operationMode}; allowed: ${effective.allowedOperationModes.join(', ')}.`);
  }
  const ttl = request.authTokenTimeToLiveSeconds === SCHEMA_DEFAULT_TOKEN_TTL_SECONDS ? effective.defaultTokenLifetimeSeconds : request.authTokenTimeToLiveSeconds;
  if (ttl < effective.minTokenLifetimeSeconds || ttl > effective.maxTokenLifetimeSeconds) {
    throw new PolicyError(
      `authTokenTimeToLiveSeconds must be between ${effective.minTokenLifetimeSeconds} and ${effective.maxTokenLifetimeSeconds} under the tenant's policy.`,
    );
  }
  if (request.enableSessionImage && !effective.sessionImagesAllowed) {
    throw new PolicyError("The tenant's policy does not keep session images: start without enableSessionImage.");
  }
  const floor = effective.verifyConfidenceThreshold;
  const threshold = request.verifyConfidenceThreshold ?? floor;
  if (floor !== undefined && threshold !== undefined && threshold < floor) {
    throw new PolicyError(`verifyConfidenceThreshold must be at least ${floor} under the tenant's policy.`);
  }
  return { ...request, authTokenTimeToLiveSeconds: ttl, ...(threshold !== undefined && { verifyConfidenceThreshold: threshold }) };
}
