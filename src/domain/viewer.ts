/** Who is calling, as established from a verified JWT. */
export type Role = 'USER' | 'AUDITOR' | 'ADMIN';

export const ROLES: readonly Role[] = ['USER', 'AUDITOR', 'ADMIN'];

export interface Viewer {
  userId: string;
  tenant: string;
  roles: Role[];
  /**
   * When the gateway stops accepting the token (ms since epoch): `exp`, or `iat` plus the maximum
   * age when that comes first, plus the clock tolerance. A WebSocket is closed with 4403 then.
   */
  expiresAtMillis: number;
}

export const hasRole = (viewer: Viewer, role: Role): boolean => viewer.roles.includes(role);

/** Whose sessions a viewer may read: its own, its tenant's, or everyone's. */
export type ReadScope = { kind: 'all' } | { kind: 'tenant'; tenant: string } | { kind: 'own'; tenant: string; userId: string };

export function readScope(viewer: Viewer): ReadScope {
  if (hasRole(viewer, 'ADMIN')) return { kind: 'all' };
  if (hasRole(viewer, 'AUDITOR')) return { kind: 'tenant', tenant: viewer.tenant };
  return { kind: 'own', tenant: viewer.tenant, userId: viewer.userId };
}

/** Whether the viewer may read a session owned by `owner`; what it may not see, it is told does not exist. */
export function canRead(viewer: Viewer, owner: { userId: string; tenant: string }): boolean {
  if (hasRole(viewer, 'ADMIN')) return true;
  if (hasRole(viewer, 'AUDITOR') && owner.tenant === viewer.tenant) return true;
  return hasRole(viewer, 'USER') && owner.tenant === viewer.tenant && owner.userId === viewer.userId;
}

/** Whether the viewer may act on (complete, delete) a session: only a user, only its own. */
export function canAct(viewer: Viewer, owner: { userId: string; tenant: string }): boolean {
  return hasRole(viewer, 'USER') && owner.tenant === viewer.tenant && owner.userId === viewer.userId;
}
