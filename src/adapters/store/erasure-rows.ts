/** What both SQL adapters read for an erasure (`erasure/erasure-plan.ts`), mapped from rows. */
import type { CommittedEvent, ErasurePlan } from '../../domain/erasure/erasure-plan';
import type { VerifyReference } from '../../domain/sessions/session.model';

export const ERASURE_EVENT_COLUMNS =
  'id, actor, actor_commitment, user_id_commitment, verify_image_sha256, verify_image_sha256_commitment, face_verify_image_hash, face_verify_image_hash_commitment';

const optional = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : (value as string));

export function committedEventOf(row: Record<string, unknown>): CommittedEvent {
  return {
    id: row.id as string,
    actor: row.actor as string,
    actorCommitment: optional(row.actor_commitment),
    userIdCommitment: row.user_id_commitment as string,
    verifyImageSha256: optional(row.verify_image_sha256),
    verifyImageSha256Commitment: optional(row.verify_image_sha256_commitment),
    faceVerifyImageHash: optional(row.face_verify_image_hash),
    faceVerifyImageHashCommitment: optional(row.face_verify_image_hash_commitment),
  };
}

export const verifyReferenceOf = (value: unknown): VerifyReference | undefined => (typeof value === 'string' ? (JSON.parse(value) as VerifyReference) : undefined);

export const sessionIdsIn = (plan: ErasurePlan): string[] => plan.sessions.map((session) => session.id);
