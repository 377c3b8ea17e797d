/** Session queries, mutations and the decision subscription: decorators plus one service call each. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import type { Connection } from '../domain/pagination';
import type { AttemptRecord, DecisionEvent, DecisionRecord, SessionRecord } from '../domain/sessions/session.model';
import { SessionFilter, StartLivenessSessionInput, StartLivenessWithVerifySessionInput } from './session.input';
import type { StartedSession } from '../domain/sessions/session-commands';
import type { StartSessionInput } from '../domain/sessions/start-input';
import { Decision, LivenessAttempt, LivenessSession, LivenessSessionConnection, StartSessionPayload } from './session.type';

/** Applies the contract's defaults to inputs whose fields are nullable with a default. */
function withDefaults(input: StartLivenessSessionInput): StartSessionInput {
  return {
    deviceCorrelationId: input.deviceCorrelationId,
    operationMode: input.operationMode ?? 'PASSIVE',
    authTokenTimeToLiveSeconds: input.authTokenTimeToLiveSeconds ?? 600,
    enableSessionImage: input.enableSessionImage ?? false,
    idempotencyKey: input.idempotencyKey,
  };
}

@Resolver(() => LivenessSession)
export class SessionResolver {
  @Authorized()
  @Query(() => LivenessSession, { nullable: true, description: 'A session the caller may see; NOT_FOUND otherwise.' })
  session(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<SessionRecord> {
    return ctx.services.sessions.queries.get(requireViewer(ctx), id);
  }

  @Authorized()
  @Query(() => LivenessSessionConnection, { description: "Newest first: a user's own sessions, an auditor's tenant's, an admin's all." })
  sessions(
    @Ctx() ctx: GatewayContext,
    @Arg('filter', () => SessionFilter, { nullable: true }) filter?: SessionFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<Connection<SessionRecord>> {
    return ctx.services.sessions.queries.list(requireViewer(ctx), filter, first ?? 20, after);
  }

  @Authorized('USER')
  @Mutation(() => StartSessionPayload)
  startLivenessSession(@Arg('input', () => StartLivenessSessionInput) input: StartLivenessSessionInput, @Ctx() ctx: GatewayContext): Promise<StartedSession> {
    return ctx.services.sessions.commands.start(requireViewer(ctx), withDefaults(input), ctx.logger);
  }

  @Authorized('USER')
  @Mutation(() => StartSessionPayload)
  startLivenessWithVerifySession(
    @Arg('input', () => StartLivenessWithVerifySessionInput) input: StartLivenessWithVerifySessionInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<StartedSession> {
    const start = { ...withDefaults(input), verifyImage: input.verifyImage, verifyConfidenceThreshold: input.verifyConfidenceThreshold };
    return ctx.services.sessions.commands.startWithVerify(requireViewer(ctx), start, ctx.logger);
  }

  @Authorized('USER')
  @Mutation(() => LivenessSession, { description: 'The client reports the device is done; polling starts at once.' })
  completeLivenessSession(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GatewayContext,
    @Arg('digest', () => String, { nullable: true, description: "The digest the Face SDK returned on the device; a different one from Face's makes the verdict FAIL." })
    digest?: string | null,
  ): Promise<SessionRecord> {
    return ctx.services.sessions.commands.complete(requireViewer(ctx), id, digest);
  }

  @Authorized('USER')
  @Mutation(() => LivenessSession, { description: 'Revokes the session at the Face service.' })
  deleteLivenessSession(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<SessionRecord> {
    return ctx.services.sessions.commands.delete(requireViewer(ctx), id, ctx.logger);
  }

  @Authorized()
  @Subscription(() => Decision, {
    description: 'Emits exactly one Decision, then completes. If the session is already decided, emits at once.',
    subscribe: ({ args, context }) => (context as GatewayContext).services.sessions.queries.decision(requireViewer(context as GatewayContext), args.sessionId as string),
  })
  sessionDecision(@Root() decision: DecisionRecord, @Arg('sessionId', () => ID) _sessionId: string): DecisionRecord {
    return decision;
  }

  @FieldResolver(() => [LivenessAttempt])
  attempts(@Root() session: SessionRecord, @Ctx() ctx: GatewayContext): AttemptRecord[] | Promise<AttemptRecord[]> {
    return ctx.loaders.attempts.load(session.id);
  }

  @FieldResolver(() => Decision, { nullable: true })
  decision(@Root() session: SessionRecord, @Ctx() ctx: GatewayContext): DecisionRecord | undefined | Promise<DecisionRecord | undefined> {
    return ctx.loaders.decision.load(session.id);
  }
}

@Resolver(() => Decision)
export class DecisionResolver {
  @FieldResolver(() => LivenessSession)
  async session(@Root() decision: DecisionEvent, @Ctx() ctx: GatewayContext): Promise<SessionRecord> {
    // A decision just reached brings its session (every subscriber was allowed to see it); one read back does not.
    if (decision.session) return decision.session;
    const session = await ctx.loaders.session.load(decision.sessionId);
    if (!session) throw new Error(`decision of unknown session ${decision.sessionId}`);
    return session;
  }
}
