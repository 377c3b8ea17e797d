/**
 * Evidence kept for manual review once a session is decided: the session images Face took during
 * its attempts (when the session was started with `enableSessionImage`), sealed at rest, kept for a
 * retention period, and shown to auditors through one-time links. Plain data, no I/O.
 */

/** What remains to do at Face once a session is decided; written with the decision. */
export interface FollowUpRecord {
  sessionId: string;
  /** The session was started with session images: fetch them before Face forgets them. */
  fetchImages: boolean;
  imagesDone: boolean;
  /** Delete the session at Face (FACE_DELETE_AFTER_DECISION), once its images are stored. */
  deleteAtFace: boolean;
  faceDeleted: boolean;
  done: boolean;
  /** Failed runs so far; the next waits longer. */
  tries: number;
  /** Not run again before this. */
  nextAt: Date;
}

/** What the decision's transition asks for; the store turns it into a pending follow-up. */
export interface FollowUpDraft {
  fetchImages: boolean;
  deleteAtFace: boolean;
}

/** A stored session image, without its bytes. */
export interface EvidenceImageInfo {
  sessionId: string;
  attemptId: number;
  tenant: string;
  /** The session owner's id (for the audit trail). */
  userId: string;
  contentType: string;
  /** Of the image in clear. */
  byteLength: number;
  storedAt: Date;
  /** The image is deleted then (EVIDENCE_RETENTION_DAYS after it was stored). */
  expiresAt: Date;
}

/** A stored session image with its sealed bytes (`image-sealer.ts`). */
export interface EvidenceImageRecord extends EvidenceImageInfo {
  sealed: string;
}

/** A one-time link to one image: only the hash of its secret is stored. */
export interface EvidenceGrant {
  secretHash: string;
  sessionId: string;
  attemptId: number;
  tenant: string;
  /** Who asked for the link: the EVIDENCE_VIEWED actor when it is used. */
  actor: string;
  createdAt: Date;
  expiresAt: Date;
}

/** The pause before the next run of a follow-up that failed `tries` times: doubling from `firstMillis`, at most `maxMillis`. */
export function followUpBackoffMillis(tries: number, firstMillis: number, maxMillis: number): number {
  return Math.min(maxMillis, firstMillis * 2 ** Math.max(0, Math.min(tries - 1, 20)));
}
