/** GraphQL types of the audit trail (docs/api.md). */
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import * as Enums from './enums';
import { PageInfo } from './session.type';
import type { Verdict } from '../domain/sessions/session.model';
import type { AuditAction } from '../domain/audit/audit.model';

@ObjectType({ simpleResolvers: true, description: "One event of a tenant's hash-chained audit trail." })
export class AuditEvent {
  @Field(() => ID) id!: string;
  @Field(() => Int, { description: "1, 2, 3 … within its tenant's chain" }) sequence!: number;
  @Field() at!: Date;
  @Field(() => Enums.AuditAction) action!: AuditAction;
  @Field() tenant!: string;
  @Field({ description: 'The user\'s sub, "system", or (once the user is erased) the pseudonym "erased:…"' }) actor!: string;
  @Field(() => ID) sessionId!: string;
  // session is a field resolver (audit.resolver.ts)
  @Field(() => Int, { nullable: true }) attemptId?: number;
  @Field(() => Enums.Verdict, { nullable: true }) verdict?: Verdict;
  @Field(() => String, { nullable: true, description: "The Face attempt's digest (ATTEMPT_RECORDED), or the device's (COMPLETION_REPORTED)" }) digest?: string;
  // reason and change are field resolvers (audit.resolver.ts): both come from the chained `reason`.
  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the verify image the gateway sent (verify sessions)' }) verifyImageSha256?: string;
  @Field(() => String, { nullable: true, description: "Face's hash of the verify image it compared (ATTEMPT_RECORDED)" }) faceVerifyImageHash?: string;
  @Field({ description: "Hex SHA-256 over previousHash and this event's canonical content (see docs/audit.md)" }) hash!: string;
  @Field({ description: '64 zeros for sequence 1' }) previousHash!: string;
}

@ObjectType({ simpleResolvers: true })
export class AuditEventEdge {
  @Field() cursor!: string;
  @Field(() => AuditEvent) node!: AuditEvent;
}

@ObjectType({ simpleResolvers: true })
export class AuditEventConnection {
  @Field(() => [AuditEventEdge]) edges!: AuditEventEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@InputType()
export class AuditFilter {
  @Field(() => ID, { nullable: true }) sessionId?: string | null;
  @Field(() => String, { nullable: true }) userId?: string | null;
  @Field(() => String, { nullable: true }) tenant?: string | null;
  @Field(() => [Enums.AuditAction], { nullable: true }) actions?: AuditAction[] | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
}

@ObjectType({ simpleResolvers: true, description: "A tenant's chain head, signed with the key of auditCheckpointKey (docs/audit.md)." })
export class AuditCheckpoint {
  @Field() tenant!: string;
  @Field(() => Int) sequence!: number;
  @Field({ description: 'The hash of the event at `sequence`' }) hash!: string;
  @Field() at!: Date;
  @Field({ description: 'Base64 Ed25519 signature over ["audit-checkpoint-v1", tenant, sequence, hash, at]' }) signature!: string;
}

@InputType({ description: 'A checkpoint kept outside the database: the chain must hold `hash` at `sequence`.' })
export class AuditCheckpointInput {
  @Field(() => Int) sequence!: number;
  @Field() hash!: string;
}

@InputType({ description: "What the live feed selects: AuditFilter's criteria that make sense for events yet to come." })
export class AuditFeedFilter {
  @Field(() => ID, { nullable: true }) sessionId?: string | null;
  @Field(() => String, { nullable: true, description: "The session owner's id" }) userId?: string | null;
  @Field(() => String, {
    nullable: true,
    description: "The chain to follow: default the auditor's own tenant (naming another is FORBIDDEN); an admin without one follows every tenant.",
  })
  tenant?: string | null;
  @Field(() => [Enums.AuditAction], { nullable: true }) actions?: AuditAction[] | null;
}

@ObjectType({ simpleResolvers: true })
export class AuditChainReport {
  @Field() tenant!: string;
  @Field() valid!: boolean;
  @Field(() => Int) checked!: number;
  @Field(() => Int, { nullable: true }) firstBrokenSequence?: number;
  @Field(() => String, { nullable: true, description: 'Why the chain is not valid; null when it is.' }) reason?: string;
  @Field(() => AuditCheckpoint, { nullable: true, description: "The tenant's latest checkpoint whose signature verifies: keep it outside the database." })
  latestCheckpoint?: AuditCheckpoint;
}
