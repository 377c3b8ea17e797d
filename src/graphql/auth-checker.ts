/**
 * The whole authorization story at the GraphQL edge: `@Authorized()` needs a viewer,
 * `@Authorized('USER')` a viewer with that role. Ownership and tenant rules live in the services.
 */
import type { AuthCheckerFn } from 'type-graphql';
import { forbidden, unauthenticated } from '../domain/errors';
import type { GatewayContext } from './context';
import { hasRole, type Role } from '../domain/viewer';

export const authChecker: AuthCheckerFn<GatewayContext, Role> = ({ context }, roles) => {
  if (!context.viewer) throw unauthenticated();
  if (roles.length === 0 || roles.some((role) => hasRole(context.viewer!, role))) return true;
  throw forbidden();
};

/** The viewer of an operation that requires one (subscriptions check here, outside `@Authorized`). */
export function requireViewer(context: GatewayContext) {
  if (!context.viewer) throw unauthenticated();
  return context.viewer;
}
