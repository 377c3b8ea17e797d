/** GraphQL object types of kept evidence (docs/evidence.md). */
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({ simpleResolvers: true, description: "An attempt's session image, kept encrypted; its bytes only through a one-time link." })
export class EvidenceImage {
  @Field(() => Int) attemptId!: number;
  @Field({ description: 'e.g. image/jpeg' }) contentType!: string;
  @Field(() => Int, { description: 'Size of the image in bytes.' }) byteLength!: number;
  @Field() storedAt!: Date;
  @Field({ description: 'When the image is deleted (EVIDENCE_RETENTION_DAYS after it was stored).' }) expiresAt!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'What the gateway keeps of a decided session beyond its decision and trail.' })
export class SessionEvidence {
  @Field({ description: 'The session was started with enableSessionImage.' }) sessionImageEnabled!: boolean;
  @Field(() => [EvidenceImage]) images!: EvidenceImage[];
  @Field({ description: 'Images are still to be fetched from Face (retried until they are, or Face no longer has them).' }) imagesPending!: boolean;
  @Field({ description: 'The session was deleted at Face after its decision (its device token with it); the session stays decided here.' })
  faceSessionDeleted!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'A one-time link to a session image.' })
export class EvidenceImageLink {
  @Field({ description: 'Relative to the gateway (`/evidence/…`): GET it once, before expiresAt, without a token. Every use is audited (EVIDENCE_VIEWED).' })
  url!: string;
  @Field() expiresAt!: Date;
}
