import { Authorized, Ctx, Field, ObjectType, Query, Resolver } from 'type-graphql';
import * as Enums from './enums';
import type { GatewayContext } from './context';
import { requireViewer } from './auth-checker';
import type { Role, Viewer as ViewerRecord } from '../domain/viewer';

@ObjectType({ simpleResolvers: true, description: 'The caller, as its token says.' })
export class Viewer {
  @Field() userId!: string;
  @Field() tenant!: string;
  @Field(() => [Enums.Role]) roles!: Role[];
}

@Resolver()
export class ViewerResolver {
  @Authorized()
  @Query(() => Viewer)
  viewer(@Ctx() ctx: GatewayContext): ViewerRecord {
    return requireViewer(ctx);
  }
}
