/** The admin's reset of a user's derived device correlation id. */
import { Arg, Authorized, Ctx, Field, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import { requireViewer } from './auth-checker';
import type { GatewayContext } from './context';
import type { DeviceCorrelationRotation as Rotation } from '../domain/sessions/device-correlation';

@ObjectType({ simpleResolvers: true, description: "A user's derived device correlation id, rotated: Face sees a new one from the next session on." })
export class DeviceCorrelationRotation {
  @Field() tenant!: string;
  @Field() userId!: string;
  @Field(() => Int, { description: 'How often the id was rotated, this time included.' }) generation!: number;
  @Field() rotatedAt!: Date;
}

@Resolver()
export class DeviceCorrelationResolver {
  @Authorized('ADMIN')
  @Mutation(() => DeviceCorrelationRotation, {
    description: "Gives the user a new derived device correlation id (e.g. after reviewing a flag by Face's abuse monitoring); audited.",
  })
  rotateDeviceCorrelationId(@Arg('tenant') tenant: string, @Arg('userId') userId: string, @Ctx() ctx: GatewayContext): Promise<Rotation> {
    return ctx.services.sessions.correlations.rotate(requireViewer(ctx), tenant, userId);
  }
}
