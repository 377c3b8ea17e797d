/**
 * What makes a cut-off audit chain visible (docs/security.md, "What the audit chain proves, against
 * whom"). The hash chain alone proves order and content, but nothing about its end: whoever can write
 * the database can delete the newest events and move the head row back, and what is left still chains.
 *
 * - Each tenant's head row carries a MAC (HMAC-SHA256 under the audit MAC key) over the head's
 *   sequence and hash, so a head moved back or deleted by someone without the key does not verify.
 * - Now and then the gateway also records a checkpoint: the head (tenant, sequence, hash, time)
 *   signed with Ed25519. Its public key is published, so an operator who keeps checkpoints outside
 *   the database can check them, and an exported chain against them, with no server secret.
 *
 * Signed and MACed texts are JSON arrays with a version tag first, like the chain's own encoding.
 */
import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export interface ChainHead {
  sequence: number;
  hash: string;
}

/** A head row as stored: `mac` null or wrong means it was not written by a gateway holding the key. */
export interface StoredHead extends ChainHead {
  mac: string | null;
}

export interface AuditCheckpoint {
  tenant: string;
  sequence: number;
  hash: string;
  at: Date;
  /** Base64 Ed25519 signature over `checkpointPayload`. */
  signature: string;
}

/** When to record a checkpoint: after this many events, or once the last one is this old. */
export interface CheckpointPolicy {
  everyEvents: number;
  everyMillis: number;
}

export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = { everyEvents: 1_000, everyMillis: 60 * 60_000 };

/** The signed text: ["audit-checkpoint-v1", tenant, sequence, hash, at (ISO-8601 UTC, milliseconds)]. */
export function checkpointPayload(checkpoint: Omit<AuditCheckpoint, 'signature'>): string {
  return JSON.stringify(['audit-checkpoint-v1', checkpoint.tenant, checkpoint.sequence, checkpoint.hash, checkpoint.at.toISOString()]);
}

/** True when `signature` is the Ed25519 signature of the checkpoint under `publicKey` (PEM or key). */
export function checkpointSignatureValid(checkpoint: AuditCheckpoint, publicKey: KeyObject | string): boolean {
  try {
    return verify(null, Buffer.from(checkpointPayload(checkpoint), 'utf8'), publicKey, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The two audit keys: the MAC key of the head rows and the Ed25519 key that signs checkpoints. */
export class AuditSeal {
  readonly publicKeyPem: string;
  private readonly signingKey: KeyObject;

  constructor(
    private readonly macKey: Buffer,
    signingSeed: Buffer,
  ) {
    if (macKey.length < 32 || signingSeed.length !== 32) throw new Error('An audit seal needs a MAC key of 32 bytes or more and an Ed25519 seed of 32 bytes.');
    this.signingKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, signingSeed]), format: 'der', type: 'pkcs8' });
    this.publicKeyPem = createPublicKey(this.signingKey).export({ type: 'spki', format: 'pem' }) as string;
  }

  /** For stores opened outside a gateway (tools, tests): heads sealed with it verify under this seal only. */
  static withRandomKeys(): AuditSeal {
    return new AuditSeal(randomBytes(32), randomBytes(32));
  }

  /** hex(HMAC-SHA256(key, ["audit-head-v1", tenant, sequence, hash])). */
  headMac(tenant: string, head: ChainHead): string {
    return createHmac('sha256', this.macKey).update(JSON.stringify(['audit-head-v1', tenant, head.sequence, head.hash])).digest('hex');
  }

  headSealed(tenant: string, head: StoredHead): boolean {
    if (head.mac === null || !/^[0-9a-f]{64}$/.test(head.mac)) return false;
    return timingSafeEqual(Buffer.from(head.mac, 'hex'), Buffer.from(this.headMac(tenant, head), 'hex'));
  }

  sign(checkpoint: Omit<AuditCheckpoint, 'signature'>): AuditCheckpoint {
    const signature = sign(null, Buffer.from(checkpointPayload(checkpoint), 'utf8'), this.signingKey).toString('base64');
    return { tenant: checkpoint.tenant, sequence: checkpoint.sequence, hash: checkpoint.hash, at: checkpoint.at, signature };
  }
}

/** What an adapter needs to seal the heads it writes: the keys and when to checkpoint. */
export interface ChainSealing {
  seal: AuditSeal;
  checkpoints: CheckpointPolicy;
}

/**
 * What an append writes beside its events, decided from the head it found (`found`, undefined for a
 * tenant's first append), the new head, the tenant's latest checkpoint and the time.
 *
 * A head found without a valid MAC taints the chain for good: the new head is written without a MAC
 * and no checkpoint is signed, so the gateway never vouches for a chain whose end someone else moved
 * (sealing it would launder a truncation). Appends go on, so the tenant keeps working, and
 * `verifyAuditChain` keeps reporting the head.
 */
export function sealAppend(
  sealing: ChainSealing,
  tenant: string,
  found: StoredHead | undefined,
  next: ChainHead,
  latestCheckpoint: { sequence: number; at: Date } | undefined,
  at: Date,
): { mac: string | null; checkpoint?: AuditCheckpoint } {
  if (found && !sealing.seal.headSealed(tenant, found)) return { mac: null };
  const mac = sealing.seal.headMac(tenant, next);
  const policy = sealing.checkpoints;
  const due =
    !latestCheckpoint ||
    Math.floor(next.sequence / policy.everyEvents) > Math.floor(latestCheckpoint.sequence / policy.everyEvents) ||
    at.getTime() - latestCheckpoint.at.getTime() >= policy.everyMillis;
  return due ? { mac, checkpoint: sealing.seal.sign({ tenant, ...next, at }) } : { mac };
}
