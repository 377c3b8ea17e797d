/** GraphQL types of tenant policies (docs/policy.md). Range checks live in the domain. */
import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';
import * as Enums from './enums';
import type { OperationMode } from '../domain/sessions/session.model';

@InputType({ description: "A tenant's overrides; a field left out (or null) inherits the configured default." })
export class TenantPolicyInput {
  @Field(() => [Enums.LivenessOperationMode], { nullable: true, description: 'Modes a start may ask for' }) allowedOperationModes?: OperationMode[] | null;
  @Field(() => Int, { nullable: true, description: 'Lifetime of a start that names none (sends the default 600); 60..86400' }) defaultTokenLifetimeSeconds?: number | null;
  @Field(() => Int, { nullable: true, description: '60..86400; at most the default' }) minTokenLifetimeSeconds?: number | null;
  @Field(() => Int, { nullable: true, description: '60..86400; at least the default' }) maxTokenLifetimeSeconds?: number | null;
  @Field(() => Float, { nullable: true, description: 'Threshold of a verify start that names none, and the lowest one it may name; 0..1' })
  verifyConfidenceThreshold?: number | null;
  @Field(() => Int, { nullable: true, description: 'Failed attempts that end a session; 1..3' }) maxAttempts?: number | null;
  @Field(() => Boolean, { nullable: true, description: 'Whether completeLivenessSession must carry the digest' }) requireDeviceDigest?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Whether a start may ask for session images (enableSessionImage)' }) sessionImagesAllowed?: boolean | null;
  @Field(() => Int, { nullable: true, description: 'Days a kept session image is kept; 1..3650' }) evidenceRetentionDays?: number | null;
  @Field(() => Int, { nullable: true, description: 'Session starts per user per window; 0 switches the limit off' }) userStartLimit?: number | null;
  @Field(() => Int, { nullable: true, description: '10..86400000' }) userStartWindowMillis?: number | null;
  @Field(() => Int, { nullable: true, description: 'Session starts per device of a user per window; 0 switches the limit off' }) deviceStartLimit?: number | null;
  @Field(() => Int, { nullable: true, description: '10..86400000' }) deviceStartWindowMillis?: number | null;
}

@ObjectType({ simpleResolvers: true, description: "A tenant's stored overrides; null fields inherit the configured default." })
export class TenantPolicyOverrides {
  @Field(() => [Enums.LivenessOperationMode], { nullable: true }) allowedOperationModes?: OperationMode[];
  @Field(() => Int, { nullable: true }) defaultTokenLifetimeSeconds?: number;
  @Field(() => Int, { nullable: true }) minTokenLifetimeSeconds?: number;
  @Field(() => Int, { nullable: true }) maxTokenLifetimeSeconds?: number;
  @Field(() => Float, { nullable: true }) verifyConfidenceThreshold?: number;
  @Field(() => Int, { nullable: true }) maxAttempts?: number;
  @Field(() => Boolean, { nullable: true }) requireDeviceDigest?: boolean;
  @Field(() => Boolean, { nullable: true }) sessionImagesAllowed?: boolean;
  @Field(() => Int, { nullable: true }) evidenceRetentionDays?: number;
  @Field(() => Int, { nullable: true }) userStartLimit?: number;
  @Field(() => Int, { nullable: true }) userStartWindowMillis?: number;
  @Field(() => Int, { nullable: true }) deviceStartLimit?: number;
  @Field(() => Int, { nullable: true }) deviceStartWindowMillis?: number;
}

@ObjectType({ simpleResolvers: true })
export class StartRateLimit {
  @Field(() => Int, { description: '0: no limit' }) limit!: number;
  @Field(() => Int) windowMillis!: number;
}

@ObjectType({ simpleResolvers: true, description: "The rules in force for the tenant's sessions starting now." })
export class EffectiveTenantPolicy {
  @Field(() => [Enums.LivenessOperationMode]) allowedOperationModes!: OperationMode[];
  @Field(() => Int) defaultTokenLifetimeSeconds!: number;
  @Field(() => Int) minTokenLifetimeSeconds!: number;
  @Field(() => Int) maxTokenLifetimeSeconds!: number;
  @Field(() => Float, { nullable: true, description: "null: Face's own threshold" }) verifyConfidenceThreshold?: number;
  @Field(() => Int) maxAttempts!: number;
  @Field() requireDeviceDigest!: boolean;
  @Field() sessionImagesAllowed!: boolean;
  @Field(() => Int) evidenceRetentionDays!: number;
  @Field(() => StartRateLimit) userStarts!: StartRateLimit;
  @Field(() => StartRateLimit) deviceStarts!: StartRateLimit;
}

@ObjectType({ simpleResolvers: true })
export class TenantPolicy {
  @Field() tenant!: string;
  @Field(() => TenantPolicyOverrides) overrides!: TenantPolicyOverrides;
  @Field(() => EffectiveTenantPolicy) effective!: EffectiveTenantPolicy;
  @Field(() => Date, { nullable: true, description: 'null: the tenant has no policy (the configured defaults)' }) updatedAt?: Date;
  @Field(() => String, { nullable: true }) updatedBy?: string;
}
