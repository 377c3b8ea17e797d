/** The admin's erasure of a user's personal data: decorators plus one service call. */
import { Arg, Authorized, Ctx, Field, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import type { UserDataErasure as Erasure } from '../domain/erasure/erasure.service';

@ObjectType({ simpleResolvers: true, description: "What eraseUserData removed and kept of a user's personal data (docs/security.md)." })
export class UserDataErasure {
  @Field() tenant!: string;
  @Field(() => Int, { description: "The user's sessions, now named by the pseudonym, without device correlation id or image hashes." }) sessions!: number;
  @Field(() => Int, { description: 'Evidence images deleted, with their links.' }) evidenceDeleted!: number;
  @Field(() => Int, { description: 'Audit events ("audit-v3") whose clear personal values were replaced; their hashes are unchanged.' }) eventsRewritten!: number;
  @Field(() => Int, { description: 'Audit events of earlier encodings that name the user: kept, since their hashes cover the user id.' }) eventsKept!: number;
  @Field({ description: 'What the sessions and rewritten events name instead of the user: "erased:" and 12 hex digits.' }) pseudonym!: string;
  @Field() erasedAt!: Date;
}

@Resolver()
export class ErasureResolver {
  @Authorized('ADMIN')
  @Mutation(() => UserDataErasure, {
    description:
      "Erases a user's personal data (evidence images, device correlation id, image hashes; the user id becomes a pseudonym) while the audit chain stays verifiable; admins of the tenant, or of the global-admin tenant; audited as USER_DATA_ERASED.",
  })
  eraseUserData(@Arg('tenant', () => String) tenant: string, @Arg('userId', () => String) userId: string, @Ctx() ctx: GatewayContext): Promise<Erasure> {
    return ctx.services.erasure.erase(requireViewer(ctx), tenant, userId);
  }
}
