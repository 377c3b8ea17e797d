/**
 * GraphQL object types of sessions (docs/api.md). Resolvers hand them domain records.
 *
 * `simpleResolvers`, here and on every object type: a plain field is read from the record by
 * graphql-js's default resolver, not through type-graphql's per-field middleware wrapper, which
 * none of them needs (no field carries a role or a middleware; field resolvers are unaffected).
 */
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import type { FaceQualityForRecognition } from '../domain/ports/face.port';
import * as Enums from './enums';
import type {
  DecisionReason,
  LivenessDecision as LivenessDecisionValue,
  OperationMode,
  SessionKind,
  SessionStatus,
  Verdict,
} from '../domain/sessions/session.model';

@ObjectType({ simpleResolvers: true })
export class FaceRectangle {
  @Field(() => Int) top!: number;
  @Field(() => Int) left!: number;
  @Field(() => Int) width!: number;
  @Field(() => Int) height!: number;
}

@ObjectType({ simpleResolvers: true, description: 'The face Face found in the reference image of a liveness-with-verify session.' })
export class VerifyReference {
  @Field(() => FaceRectangle) faceRectangle!: FaceRectangle;
  @Field(() => Enums.QualityForRecognition) qualityForRecognition!: FaceQualityForRecognition;
  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the image bytes the gateway sent to Face.' }) verifyImageSha256?: string;
  @Field(() => String, { nullable: true, description: "Face's verifyImageHash of the image it compared, once an attempt reported it." })
  faceVerifyImageHash?: string;
}

@ObjectType({ simpleResolvers: true })
export class VerifyResult {
  @Field() isIdentical!: boolean;
  @Field(() => Float) matchConfidence!: number;
}

@ObjectType({ simpleResolvers: true })
export class AttemptError {
  @Field() code!: string;
  @Field() message!: string;
}

@ObjectType({ simpleResolvers: true, description: 'One attempt of the device, as Face reported it.' })
export class LivenessAttempt {
  @Field(() => Int) attemptId!: number;
  @Field(() => Enums.SessionStatus) status!: SessionStatus;
  @Field(() => Enums.LivenessDecision, { nullable: true }) livenessDecision?: LivenessDecisionValue;
  @Field(() => VerifyResult, { nullable: true }) verifyResult?: VerifyResult;
  @Field(() => FaceRectangle, { nullable: true }) faceRectangle?: FaceRectangle;
  @Field(() => String, { nullable: true, description: "Face's digest of the attempt, for reconciling with the device." }) digest?: string;
  @Field(() => String, { nullable: true }) sessionImageId?: string;
  @Field(() => String, { nullable: true, description: "Liveness-with-verify: Face's hash of the verify image this attempt was compared with." })
  verifyImageHash?: string;
  @Field(() => AttemptError, { nullable: true }) error?: AttemptError;
}

@ObjectType({ simpleResolvers: true, description: 'A liveness or liveness-with-verify session.' })
export class LivenessSession {
  @Field(() => ID, { description: "The Face service's sessionId." }) id!: string;
  @Field(() => Enums.SessionKind) kind!: SessionKind;
  @Field(() => Enums.SessionStatus) status!: SessionStatus;
  @Field(() => Enums.LivenessOperationMode) operationMode!: OperationMode;
  @Field() userId!: string;
  @Field() tenant!: string;
  @Field(() => String, { nullable: true }) deviceCorrelationId?: string;
  @Field() createdAt!: Date;
  @Field({ description: "When the device's Face token stops working; undecided by then means EXPIRED." }) expiresAt!: Date;
  @Field(() => String, { nullable: true }) modelVersion?: string;
  @Field(() => VerifyReference, { nullable: true }) verifyReference?: VerifyReference;
  // attempts, decision and auditTrail are field resolvers (session.resolver.ts, audit.resolver.ts).
}

@ObjectType({ simpleResolvers: true, description: "A session's final decision; reached once, never changed." })
export class Decision {
  @Field(() => ID) sessionId!: string;
  @Field(() => Enums.Verdict) verdict!: Verdict;
  @Field(() => Enums.LivenessDecision, { nullable: true }) livenessDecision?: LivenessDecisionValue;
  @Field(() => VerifyResult, { nullable: true }) verifyResult?: VerifyResult;
  @Field(() => Int, { nullable: true, description: 'The attempt the decision rests on, if any.' }) attemptId?: number;
  @Field(() => Enums.DecisionReason, { nullable: true, description: "Set when the verdict is not Face's result alone (e.g. DIGEST_MISMATCH: FAIL)." })
  reason?: DecisionReason;
  @Field() decidedAt!: Date;
  // session is a field resolver (decision.resolver.ts).
}

@ObjectType({ simpleResolvers: true })
export class StartSessionPayload {
  @Field(() => LivenessSession) session!: LivenessSession;
  @Field({ description: "For the device's Face SDK. Returned here only: never stored in clear or logged." }) authToken!: string;
}

@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor?: string;
}

@ObjectType({ simpleResolvers: true })
export class LivenessSessionEdge {
  @Field() cursor!: string;
  @Field(() => LivenessSession) node!: LivenessSession;
}

@ObjectType({ simpleResolvers: true })
export class LivenessSessionConnection {
  @Field(() => [LivenessSessionEdge]) edges!: LivenessSessionEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}
