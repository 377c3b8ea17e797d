/** Evidence: the summary on a session (auditors and admins only) and one-time links to its images. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { EvidenceLink, EvidenceSummary } from '../domain/evidence/evidence.service';
import { maySeeEvidence } from '../domain/evidence/evidence.service';
import type { SessionRecord } from '../domain/sessions/session.model';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import { EvidenceImageLink, SessionEvidence } from './evidence.type';
import { LivenessSession } from './session.type';

@Resolver(() => LivenessSession)
export class SessionEvidenceResolver {
  @FieldResolver(() => SessionEvidence, { nullable: true, description: "What is kept of the session for review; null for users (auditors of its tenant and admins only)." })
  async evidence(@Root() session: SessionRecord, @Ctx() ctx: GatewayContext): Promise<EvidenceSummary | undefined> {
    const viewer = requireViewer(ctx);
    if (!maySeeEvidence(viewer, session)) return undefined;
    const [images, followUp] = await Promise.all([ctx.loaders.evidenceImages.load(session.id), ctx.loaders.followUp.load(session.id)]);
    return ctx.services.evidence.summary(viewer, session, images, followUp);
  }
}

@Resolver()
export class EvidenceResolver {
  @Authorized('AUDITOR', 'ADMIN')
  @Mutation(() => EvidenceImageLink, { description: "A one-time link to an attempt's session image (EVIDENCE_LINK_TTL_SECONDS); NOT_FOUND when none is kept or the session is not the caller's to see." })
  createEvidenceImageLink(
    @Arg('sessionId', () => ID) sessionId: string,
    @Arg('attemptId', () => Int) attemptId: number,
    @Ctx() ctx: GatewayContext,
  ): Promise<EvidenceLink> {
    return ctx.services.evidence.createLink(requireViewer(ctx), sessionId, attemptId);
  }
}
