/** Evidence rows (follow-ups, images, grants) to records and back, for both SQL adapters. */
import type { EvidenceGrant, EvidenceImageInfo, EvidenceImageRecord, FollowUpDraft, FollowUpRecord } from '../../domain/evidence/evidence.model';
import type { FollowUpChanges } from '../../domain/ports/store';
import type { Row } from './rows';

const flag = (value: unknown): boolean => value === true || value === 1;
const time = (value: unknown): Date => new Date(Number(value));

export const FOLLOW_UP_INSERT_COLUMNS = 'session_id, fetch_images, delete_at_face, next_at';

export function followUpValues(sessionId: string, draft: FollowUpDraft, at: Date, bool: (value: boolean) => unknown): unknown[] {
  return [sessionId, bool(draft.fetchImages), bool(draft.deleteAtFace), at.getTime()];
}

export function toFollowUp(row: Row): FollowUpRecord {
  return {
    sessionId: row.session_id as string,
    fetchImages: flag(row.fetch_images),
    imagesDone: flag(row.images_done),
    deleteAtFace: flag(row.delete_at_face),
    faceDeleted: flag(row.face_deleted),
    done: flag(row.done),
    tries: Number(row.tries),
    nextAt: time(row.next_at),
  };
}

/** `SET` assignments and their values for `changes`, through `bind`. */
export function followUpAssignments(changes: FollowUpChanges, bind: (value: unknown) => string, bool: (value: boolean) => unknown): string[] {
  const set: string[] = [];
  if (changes.imagesDone) set.push(`images_done = ${bind(bool(true))}`);
  if (changes.faceDeleted) set.push(`face_deleted = ${bind(bool(true))}`);
  if (changes.done) set.push(`done = ${bind(bool(true))}`);
  if (changes.tries !== undefined) set.push(`tries = ${bind(changes.tries)}`);
  if (changes.nextAt !== undefined) set.push(`next_at = ${bind(changes.nextAt.getTime())}`);
  return set;
}

export const IMAGE_COLUMNS = 'session_id, attempt_id, tenant, user_id, content_type, byte_length, sealed, stored_at, expires_at';
/** Every column but the sealed bytes. */
export const IMAGE_INFO_COLUMNS = 'session_id, attempt_id, tenant, user_id, content_type, byte_length, stored_at, expires_at';

export function imageValues(image: EvidenceImageRecord): unknown[] {
  return [image.sessionId, image.attemptId, image.tenant, image.userId, image.contentType, image.byteLength, image.sealed, image.storedAt.getTime(), image.expiresAt.getTime()];
}

export function toImageInfo(row: Row): EvidenceImageInfo {
  return {
    sessionId: row.session_id as string,
    attemptId: Number(row.attempt_id),
    tenant: row.tenant as string,
    userId: row.user_id as string,
    contentType: row.content_type as string,
    byteLength: Number(row.byte_length),
    storedAt: time(row.stored_at),
    expiresAt: time(row.expires_at),
  };
}

export function toImage(row: Row): EvidenceImageRecord {
  return { ...toImageInfo(row), sealed: row.sealed as string };
}

/** Image rows (ordered by attempt) grouped per session of `sessionIds`, in that order. */
export function imagesBySession(sessionIds: readonly string[], rows: Row[]): EvidenceImageInfo[][] {
  const lists = new Map<string, EvidenceImageInfo[]>();
  for (const row of rows) {
    const list = lists.get(row.session_id as string) ?? [];
    list.push(toImageInfo(row));
    lists.set(row.session_id as string, list);
  }
  return sessionIds.map((id) => lists.get(id) ?? []);
}

export const GRANT_COLUMNS = 'secret_hash, session_id, attempt_id, tenant, actor, created_at, expires_at';

export function grantValues(grant: EvidenceGrant): unknown[] {
  return [grant.secretHash, grant.sessionId, grant.attemptId, grant.tenant, grant.actor, grant.createdAt.getTime(), grant.expiresAt.getTime()];
}

export function toGrant(row: Row): EvidenceGrant {
  return {
    secretHash: row.secret_hash as string,
    sessionId: row.session_id as string,
    attemptId: Number(row.attempt_id),
    tenant: row.tenant as string,
    actor: row.actor as string,
    createdAt: time(row.created_at),
    expiresAt: time(row.expires_at),
  };
}
