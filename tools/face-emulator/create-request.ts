import { faceErrors } from './errors';

/** The liveness operation modes Face v1.2 offers. */
export type OperationMode = 'Passive' | 'PassiveActive';

/** The only liveness model Face v1.2 offers, and the one it picks when none is asked for. */
export const LIVENESS_MODEL_VERSION = '2024-11-15';

/** A validated `CreateLivenessSessionContent` (plus the verify threshold of a with-verify session). */
export interface CreateSessionParams {
  operationMode: OperationMode;
  deviceCorrelationId?: string;
  deviceCorrelationIdSetInClient: boolean;
  enableSessionImage: boolean;
  modelVersion: string;
  authTokenTimeToLiveSeconds: number;
  verifyConfidenceThreshold?: number;
  /** With-verify only: answer the verify image's SHA-256 in each attempt's result. */
  returnVerifyImageHash: boolean;
}

const DEFAULT_TTL_SECONDS = 600;
const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 86_400;
const MAX_DEVICE_CORRELATION_ID_LENGTH = 64;

/**
 * The fields as they arrived, before validation: JSON values for the JSON endpoint, strings for
 * multipart text parts (where `true`, `60` and `0.7` arrive as text).
 */
type RawFields = Record<string, unknown>;

/** Reads and validates the JSON body of `POST /detectLiveness-sessions`. */
export function parseJsonCreateBody(body: Buffer): CreateSessionParams {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw faceErrors.invalidRequestBody();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw faceErrors.invalidRequestBody();
  return validate(parsed as RawFields, false);
}

/** Validates the text fields of the multipart body of `POST /detectLivenessWithVerify-sessions`. */
export function parseMultipartCreateFields(fields: ReadonlyMap<string, string>): CreateSessionParams {
  return validate(Object.fromEntries(fields), true);
}

function validate(fields: RawFields, fromText: boolean): CreateSessionParams {
  const read = fromText ? textReaders : jsonReaders;

  const mode = read.string(fields.livenessOperationMode);
  const operationMode = mode === undefined ? undefined : canonicalMode(mode);
  if (!operationMode) throw faceErrors.invalidLivenessOperationMode();

  const ttl = read.number(fields.authTokenTimeToLiveInSeconds) ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) throw faceErrors.invalidTokenLifetime();

  const deviceCorrelationIdSetInClient = read.boolean(fields.deviceCorrelationIdSetInClient) ?? false;
  const deviceCorrelationId = read.string(fields.deviceCorrelationId);
  if (deviceCorrelationId !== undefined && deviceCorrelationId.length > MAX_DEVICE_CORRELATION_ID_LENGTH) {
    throw faceErrors.invalidDeviceCorrelationId();
  }
  if (!deviceCorrelationIdSetInClient && !deviceCorrelationId) throw faceErrors.invalidDeviceCorrelationId();

  const modelVersion = read.string(fields.livenessModelVersion) ?? LIVENESS_MODEL_VERSION;
  if (modelVersion !== LIVENESS_MODEL_VERSION) throw faceErrors.invalidLivenessModelVersion();

  const enableSessionImage = read.boolean(fields.enableSessionImage) ?? false;
  const verifyConfidenceThreshold = read.number(fields.verifyConfidenceThreshold);
  if (verifyConfidenceThreshold !== undefined && !(verifyConfidenceThreshold >= 0 && verifyConfidenceThreshold <= 1)) {
    throw faceErrors.invalidRequestBody();
  }
  const returnVerifyImageHash = read.boolean(fields.returnVerifyImageHash) ?? false;

  return {
    operationMode,
    ...(deviceCorrelationId ? { deviceCorrelationId } : {}),
    deviceCorrelationIdSetInClient,
    enableSessionImage,
    modelVersion,
    authTokenTimeToLiveSeconds: ttl,
    returnVerifyImageHash,
    ...(verifyConfidenceThreshold !== undefined && { verifyConfidenceThreshold }),
  };
}

function canonicalMode(mode: string): OperationMode | undefined {
  switch (mode.toLowerCase()) {
    case 'passive':
      return 'Passive';
    case 'passiveactive':
      return 'PassiveActive';
    default:
      return undefined;
  }
}

interface Readers {
  string(value: unknown): string | undefined;
  number(value: unknown): number | undefined;
  boolean(value: unknown): boolean | undefined;
}

/** JSON fields must have their JSON types (null counts as absent); anything else is a malformed body. */
const jsonReaders: Readers = {
  string: (value) => (value == null ? undefined : typeof value === 'string' ? value : refuse()),
  number: (value) => (value == null ? undefined : typeof value === 'number' ? value : refuse()),
  boolean: (value) => (value == null ? undefined : typeof value === 'boolean' ? value : refuse()),
};

/** Multipart text parts carry every value as text. */
const textReaders: Readers = {
  string: (value) => (typeof value === 'string' ? value : undefined),
  number: (value) => {
    if (typeof value !== 'string') return undefined;
    const number = value.trim() === '' ? Number.NaN : Number(value);
    return Number.isFinite(number) ? number : refuse();
  },
  boolean: (value) => {
    if (typeof value !== 'string') return undefined;
    const lower = value.trim().toLowerCase();
    return lower === 'true' ? true : lower === 'false' ? false : refuse();
  },
};

function refuse(): never {
  throw faceErrors.invalidRequestBody();
}
