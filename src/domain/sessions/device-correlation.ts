/**
 * Device correlation ids derived per end user. Azure's abuse monitoring correlates sessions by
 * `deviceCorrelationId` and expects one per end user, resettable on demand. When a client sends none,
 * the gateway derives it: HMAC-SHA256 under a server key over tenant, user id and the user's rotation
 * generation, shaped as a UUID (version 8, "custom"). Stable for a user, different across users and
 * tenants, and not reversible to the user id without the key. An admin's rotation moves the user to
 * the next generation, so Face sees a new id from the next session on; the rotation is audited.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { forbidden } from '../errors';
import type { DeviceCorrelationRepository } from '../ports/store';
import { hasRole, type Viewer } from '../viewer';

/** The id for `userId` of `tenant` at `generation`. Pure. */
export function deriveDeviceCorrelationId(key: Buffer, tenant: string, userId: string, generation: number): string {
  // A JSON array: no two (tenant, user, generation) triples encode to the same bytes.
  const mac = createHmac('sha256', key).update(JSON.stringify([tenant, userId, generation])).digest();
  const bytes = mac.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface DeviceCorrelationRotation {
  tenant: string;
  userId: string;
  generation: number;
  rotatedAt: Date;
}

export class DeviceCorrelationIds {
  private readonly key: Buffer;

  constructor(
    private readonly repository: DeviceCorrelationRepository,
    /** The server key; absent: one made up for this process (ids then change with every restart). */
    key: Buffer | undefined,
    private readonly now: () => number,
  ) {
    this.key = key ?? randomBytes(32);
  }

  /** The id Face sees for this user's sessions. */
  async forUser(tenant: string, userId: string): Promise<string> {
    return deriveDeviceCorrelationId(this.key, tenant, userId, await this.repository.generation(tenant, userId));
  }

  /** An admin resets a user's id (e.g. after reviewing a flag by Face's abuse monitoring). */
  async rotate(viewer: Viewer, tenant: string, userId: string): Promise<DeviceCorrelationRotation> {
    if (!hasRole(viewer, 'ADMIN')) throw forbidden();
    const rotatedAt = new Date(this.now());
    const generation = await this.repository.rotate(tenant, userId, viewer.userId, rotatedAt);
    return { tenant, userId, generation, rotatedAt };
  }
}
