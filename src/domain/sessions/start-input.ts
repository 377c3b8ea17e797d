/**
 * What a start or a completion may ask, checked before anything reaches Face: the caller's role, the
 * token lifetime, the device correlation id and the digest; the tenant's policy applied to a start;
 * what makes two starts the same start; and Face's refusal of a flagged device in the caller's words.
 */
import { badInput, DomainError, forbidden } from '../errors';
import { applyPolicy, PolicyError, type EffectivePolicy, type StartRequest } from '../policy/tenant-policy';
import { FaceRequestError, FLAGGED_CORRELATION_CODES } from '../ports/face.port';
import { hasRole, type Viewer } from '../viewer';
import type { OperationMode, SessionKind } from './session.model';

const MIN_TOKEN_TTL_SECONDS = 60;
const MAX_TOKEN_TTL_SECONDS = 86_400;
const MAX_CORRELATION_ID_LENGTH = 64;
/** Face's digests are hex SHA-256 (64 characters); anything much longer is not one. */
const MAX_DIGEST_LENGTH = 128;

export interface StartSessionInput {
  deviceCorrelationId?: string | null;
  operationMode: OperationMode;
  authTokenTimeToLiveSeconds: number;
  enableSessionImage: boolean;
  idempotencyKey?: string | null;
}

export interface StartVerifySessionInput extends StartSessionInput {
  /** Base64 of the reference image. */
  verifyImage: string;
  verifyConfidenceThreshold?: number | null;
}

/** The tenant's policy in force at a start. */
export interface StartPolicies {
  effectiveFor(tenant: string): Promise<EffectivePolicy>;
}

/**
 * The start as the tenant's policy makes it (its defaults filled in), with that policy; refused
 * with BAD_USER_INPUT when the policy forbids it. Only callers who may start are asked about.
 */
export async function underPolicy<T extends StartSessionInput & { verifyConfidenceThreshold?: number | null }>(
  policies: StartPolicies | undefined,
  viewer: Viewer,
  input: T,
): Promise<{ input: T; policy?: EffectivePolicy }> {
  if (!hasRole(viewer, 'USER')) throw forbidden();
  if (!policies) return { input };
  const policy = await policies.effectiveFor(viewer.tenant);
  const asked: StartRequest = {
    operationMode: input.operationMode,
    authTokenTimeToLiveSeconds: input.authTokenTimeToLiveSeconds,
    enableSessionImage: input.enableSessionImage,
    ...(input.verifyConfidenceThreshold != null && { verifyConfidenceThreshold: input.verifyConfidenceThreshold }),
  };
  try {
    const applied = applyPolicy(policy, asked);
    return { input: { ...input, ...applied }, policy };
  } catch (error) {
    if (error instanceof PolicyError) throw badInput(error.message);
    throw error;
  }
}

/**
 * Face refuses sessions for a device correlation id its abuse monitoring flagged: the caller is told
 * so in words it can act on (an admin may review and rotate the id), not with Face's own text.
 */
export async function refusedIfFlagged<T>(creating: Promise<T>): Promise<T> {
  try {
    return await creating;
  } catch (error) {
    if (error instanceof FaceRequestError && FLAGGED_CORRELATION_CODES.has(error.upstreamCode)) {
      throw new DomainError(
        'FORBIDDEN',
        'The Face service refuses new sessions for this device: its abuse monitoring flagged the device correlation id. An administrator may review and rotate it.',
        { reason: 'DEVICE_CORRELATION_ID_FLAGGED' },
      );
    }
    throw error;
  }
}

/** The digest a completion reports, checked; undefined when none was sent (and none is required). */
export function checkDigestInput(digest: string | null | undefined, required: boolean): string | undefined {
  if (digest == null || digest.trim() === '') {
    if (required) throw badInput('digest is required: report the digest the Face SDK returned on the device.');
    return undefined;
  }
  if (digest.length > MAX_DIGEST_LENGTH || !/^[0-9A-Za-z+/=_-]+$/.test(digest.trim())) {
    throw badInput('digest must be the digest the Face SDK returned (hex), as it returned it.');
  }
  return digest.trim();
}

/** Checks a start's input and the caller's role; answers the request for Face. */
export function checkStart(viewer: Viewer, input: StartSessionInput, deviceCorrelationId: string) {
  if (!hasRole(viewer, 'USER')) throw forbidden();
  const ttl = input.authTokenTimeToLiveSeconds;
  if (!Number.isInteger(ttl) || ttl < MIN_TOKEN_TTL_SECONDS || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw badInput(`authTokenTimeToLiveSeconds must be between ${MIN_TOKEN_TTL_SECONDS} and ${MAX_TOKEN_TTL_SECONDS}.`);
  }
  if (deviceCorrelationId.length === 0 || deviceCorrelationId.length > MAX_CORRELATION_ID_LENGTH) {
    throw badInput(`deviceCorrelationId must be 1 to ${MAX_CORRELATION_ID_LENGTH} characters.`);
  }
  return {
    operationMode: input.operationMode,
    deviceCorrelationId,
    authTokenTimeToLiveSeconds: ttl,
    enableSessionImage: input.enableSessionImage,
  };
}

/** What makes two starts the same start, for idempotency keys (the verify image is added by its hash). */
export function normalizedStart(kind: SessionKind, input: StartSessionInput) {
  return {
    kind,
    operationMode: input.operationMode,
    authTokenTimeToLiveSeconds: input.authTokenTimeToLiveSeconds,
    enableSessionImage: input.enableSessionImage,
    deviceCorrelationId: input.deviceCorrelationId ?? null,
  };
}
