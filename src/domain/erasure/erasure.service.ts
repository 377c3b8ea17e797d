/**
 * `eraseUserData(tenant, userId)`: an admin erases one user's personal data (docs/security.md,
 * "Erasing a user's data"). Admins of the tenant may, and those of the global-admin tenant for every
 * tenant, as for tenant policies. The store erases in one transaction, as `erasure-plan.ts` rules,
 * and appends USER_DATA_ERASED; erasing a user with nothing left (unknown, or erased before) changes
 * nothing and reports zero counts, but is still recorded: the trail tells who asked.
 */
import { randomBytes } from 'node:crypto';
import { isPseudonym } from '../audit/personal-fields';
import { badInput, forbidden } from '../errors';
import type { ErasureCounts, ErasureRepository } from '../ports/store';
import { hasRole, type Viewer } from '../viewer';

/** The longest user id accepted: a JWT `sub` longer than this never started a session. */
const MAX_USER_ID_LENGTH = 1_024;

export interface UserDataErasure extends ErasureCounts {
  tenant: string;
  /** What the user's sessions and rewritten events now name instead of the user. */
  pseudonym: string;
  erasedAt: Date;
}

export interface ErasureServiceOptions {
  repository: ErasureRepository;
  now: () => number;
  globalAdminTenant?: string;
  /** Told the tenant once the erasure (and its event) committed: the live audit feed. */
  onAuditAppended?: (tenant: string) => void;
  /**
   * Ends the user's sessions still in progress before the erasure: a poll of a live session would
   * otherwise go on recording what Face reports (its verify image hash, its session image) after
   * the erasure, under the pseudonym, where no later erasure finds it.
   */
  inProgress?: { endInProgressOf(tenant: string, userId: string, actor: string): Promise<number> };
}

export class ErasureService {
  constructor(private readonly options: ErasureServiceOptions) {}

  async erase(viewer: Viewer, tenant: string, userId: string): Promise<UserDataErasure> {
    const { repository, now, globalAdminTenant, onAuditAppended } = this.options;
    if (!hasRole(viewer, 'ADMIN')) throw forbidden();
    if (viewer.tenant !== tenant && !(globalAdminTenant !== undefined && viewer.tenant === globalAdminTenant)) throw forbidden();
    if (userId === '' || userId.length > MAX_USER_ID_LENGTH) throw badInput(`userId must be 1 to ${MAX_USER_ID_LENGTH} characters.`);
    // A pseudonym is what erasure left: erasing it again would only rename the sessions once more.
    if (isPseudonym(userId)) throw badInput('userId is the pseudonym of a user already erased.');
    await this.options.inProgress?.endInProgressOf(tenant, userId, viewer.userId);
    const erasedAt = new Date(now());
    const outcome = await repository.erase(tenant, userId, viewer.userId, erasedAt, randomBytes(32).toString('hex'));
    onAuditAppended?.(tenant);
    return { tenant, ...outcome, erasedAt };
  }
}
