/** GraphQL inputs of sessions (docs/api.md). Range checks live in the service. */
import { Field, Float, InputType, Int } from 'type-graphql';
import * as Enums from './enums';
import type { OperationMode, SessionKind, SessionStatus } from '../domain/sessions/session.model';

@InputType()
export class StartLivenessSessionInput {
  @Field(() => String, { nullable: true, description: 'Generated when absent.' }) deviceCorrelationId?: string | null;
  @Field(() => Enums.LivenessOperationMode, { nullable: true, defaultValue: 'PASSIVE' }) operationMode?: OperationMode | null;
  @Field(() => Int, { nullable: true, defaultValue: 600, description: '60..86400' }) authTokenTimeToLiveSeconds?: number | null;
  @Field(() => Boolean, { nullable: true, defaultValue: false }) enableSessionImage?: boolean | null;
  @Field(() => String, { nullable: true }) idempotencyKey?: string | null;
}

@InputType()
export class StartLivenessWithVerifySessionInput extends StartLivenessSessionInput {
  @Field({ description: 'Base64 of a JPEG, PNG, GIF, BMP or WEBP, at most 6 MB decoded.' }) verifyImage!: string;
  @Field(() => Float, { nullable: true }) verifyConfidenceThreshold?: number | null;
}

@InputType()
export class SessionFilter {
  @Field(() => [Enums.SessionStatus], { nullable: true }) statuses?: SessionStatus[] | null;
  @Field(() => Enums.SessionKind, { nullable: true }) kind?: SessionKind | null;
  @Field(() => String, { nullable: true }) userId?: string | null;
  @Field(() => String, { nullable: true }) tenant?: string | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
}
