import { faceErrors } from './errors';
import type { DeviceOutcome, LivenessDecision } from './sessions';

const DECISIONS: readonly LivenessDecision[] = ['realface', 'spoofface', 'uncertain'];

/**
 * Reads the body of a simulated device call (`POST .../singleModal`):
 * `{ "livenessDecision": "realface", "isIdentical": true, "matchConfidence": 0.93 }` or
 * `{ "error": { "code": "FaceWithMaskDetected", "message": "…" } }`.
 */
export function parseDeviceOutcome(body: Buffer): DeviceOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw faceErrors.invalidRequestBody();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw faceErrors.invalidRequestBody();
  const { livenessDecision, isIdentical, matchConfidence, error } = parsed as Record<string, unknown>;

  if (error !== undefined) {
    if (typeof error !== 'object' || error === null) throw faceErrors.invalidRequestBody();
    const { code, message } = error as Record<string, unknown>;
    if (typeof code !== 'string' || code === '') throw faceErrors.invalidRequestBody();
    return { error: { code, message: typeof message === 'string' ? message : code } };
  }

  const decision = DECISIONS.find((candidate) => candidate === livenessDecision);
  if (!decision) throw faceErrors.invalidRequestBody();
  if (isIdentical !== undefined && typeof isIdentical !== 'boolean') throw faceErrors.invalidRequestBody();
  if (matchConfidence !== undefined && !(typeof matchConfidence === 'number' && matchConfidence >= 0 && matchConfidence <= 1)) {
    throw faceErrors.invalidRequestBody();
  }
  return {
    livenessDecision: decision,
    ...(isIdentical !== undefined && { isIdentical }),
    ...(matchConfidence !== undefined && { matchConfidence }),
  };
}
