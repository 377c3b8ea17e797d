/**
 * Showing kept evidence: what is kept of a session (for auditors and admins), and one-time links to
 * its images. A link is a random secret (only its SHA-256 is stored) that works once, within minutes,
 * for one image of one tenant; using it appends EVIDENCE_VIEWED with the actor who asked for it, in
 * the same transaction that marks it used. Users never get a link, not even to their own sessions'.
 */
import { createHash, randomBytes } from 'node:crypto';
import { notFound, forbidden } from '../errors';
import type { EvidenceRepository, SessionRepository } from '../ports/store';
import type { SessionRecord } from '../sessions/session.model';
import { hasRole, type Viewer } from '../viewer';
import type { EvidenceImageInfo, FollowUpRecord } from './evidence.model';
import type { ImageSealer } from './image-sealer';

/** Where links are served; the secret follows. */
export const EVIDENCE_PATH = '/evidence';

export interface EvidenceSummary {
  /** The session was started with `enableSessionImage`. */
  sessionImageEnabled: boolean;
  images: EvidenceImageInfo[];
  /** Images are still to be fetched from Face (a run failed and waits for its retry, or none ran yet). */
  imagesPending: boolean;
  /** The session was deleted at Face after its decision. */
  faceSessionDeleted: boolean;
}

export interface EvidenceLink {
  /** Relative to the gateway's URL: `/evidence/<secret>`. */
  url: string;
  expiresAt: Date;
}

export interface EvidenceServiceOptions {
  evidence: EvidenceRepository;
  sessions: Pick<SessionRepository, 'findById'>;
  sealer: ImageSealer;
  now: () => number;
  linkTtlMillis: number;
}

/** Whether the viewer may see a session's evidence: an auditor of its tenant, or an admin. */
export function maySeeEvidence(viewer: Viewer, session: Pick<SessionRecord, 'tenant'>): boolean {
  return hasRole(viewer, 'ADMIN') || (hasRole(viewer, 'AUDITOR') && viewer.tenant === session.tenant);
}

export class EvidenceService {
  constructor(private readonly options: EvidenceServiceOptions) {}

  /** The summary from what the caller's loaders read; undefined for a viewer who may not see evidence. */
  summary(viewer: Viewer, session: SessionRecord, images: EvidenceImageInfo[], followUp: FollowUpRecord | undefined): EvidenceSummary | undefined {
    if (!maySeeEvidence(viewer, session)) return undefined;
    return {
      sessionImageEnabled: session.enableSessionImage,
      images,
      imagesPending: Boolean(followUp?.fetchImages && !followUp.imagesDone && !followUp.done),
      faceSessionDeleted: Boolean(followUp?.faceDeleted),
    };
  }

  /** A one-time link to an attempt's image. NOT_FOUND for a session the viewer may not read or an image not kept; FORBIDDEN for users. */
  async createLink(viewer: Viewer, sessionId: string, attemptId: number): Promise<EvidenceLink> {
    if (!hasRole(viewer, 'ADMIN') && !hasRole(viewer, 'AUDITOR')) throw forbidden();
    const session = await this.options.sessions.findById(sessionId);
    if (!session || !maySeeEvidence(viewer, session)) throw notFound();
    const [images] = await this.options.evidence.imagesFor([sessionId]);
    if (!images.some((image) => image.attemptId === attemptId)) throw notFound('Session image');
    const secret = randomBytes(32).toString('base64url');
    const createdAt = new Date(this.options.now());
    const expiresAt = new Date(createdAt.getTime() + this.options.linkTtlMillis);
    await this.options.evidence.createGrant({ secretHash: hashSecret(secret), sessionId, attemptId, tenant: session.tenant, actor: viewer.userId, createdAt, expiresAt });
    return { url: `${EVIDENCE_PATH}/${secret}`, expiresAt };
  }

  /** The image a link shows, once; undefined for a link unknown, used or expired. Appends EVIDENCE_VIEWED. */
  async openLink(secret: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
    const image = await this.options.evidence.redeemGrant(hashSecret(secret), new Date(this.options.now()), (grant, shown) => ({
      action: 'EVIDENCE_VIEWED',
      actor: grant.actor,
      sessionId: shown.sessionId,
      userId: shown.userId,
      attemptId: shown.attemptId,
    }));
    if (!image) return undefined;
    const bytes = this.options.sealer.open(image.sealed, { tenant: image.tenant, sessionId: image.sessionId, attemptId: image.attemptId });
    return { bytes, contentType: image.contentType };
  }
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
