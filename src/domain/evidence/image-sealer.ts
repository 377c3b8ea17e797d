/**
 * Encryption at rest of session images: AES-256-GCM under a key derived (HKDF-SHA-256) from
 * `EVIDENCE_KEY`, a fresh 96-bit IV per image, and the image's identity (tenant, session, attempt) as
 * additional authenticated data, so that a sealed image copied to another row does not open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface ImageIdentity {
  tenant: string;
  sessionId: string;
  attemptId: number;
}

export class ImageSealer {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    if (secret.length !== 32) throw new Error('The evidence key must be 32 bytes.');
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'liveness-gateway session image encryption v1', 32));
  }

  /** `v1.<iv>.<ciphertext>.<tag>` (base64url), bound to `identity`. */
  seal(image: Buffer, identity: ImageIdentity): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(context(identity));
    const ciphertext = Buffer.concat([cipher.update(image), cipher.final()]);
    return [VERSION, ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
  }

  /** The image in clear; throws when sealed with another key, for another identity, or altered. */
  open(sealed: string, identity: ImageIdentity): Buffer {
    const [version, iv, ciphertext, tag] = sealed.split('.');
    if (version !== VERSION || iv === undefined || ciphertext === undefined || tag === undefined) throw new Error('not a sealed image of this version');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(context(identity));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  }
}

function context(identity: ImageIdentity): Buffer {
  return Buffer.from(JSON.stringify(['session-image', identity.tenant, identity.sessionId, identity.attemptId]), 'utf8');
}
