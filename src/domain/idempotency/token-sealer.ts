/**
 * Encryption at rest for what an idempotent start must be able to hand out again: the device's Face
 * token (AES-256-GCM, a fresh 96-bit IV per token, the record's identity as additional authenticated
 * data, so a sealed token copied to another record does not open), and a keyed fingerprint of the
 * request (HMAC-SHA-256, so the store holds no plain hash of a reference photo).
 *
 * Both keys are derived with HKDF-SHA-256 from the one configured secret (`IDEMPOTENCY_KEY_SECRET`,
 * 32 bytes; in development generated once and kept in DATA_DIR, `idempotency-secret.ts`).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class TokenSealer {
  private readonly encryptionKey: Buffer;
  private readonly fingerprintKey: Buffer;

  constructor(secret: Buffer) {
    if (secret.length !== 32) throw new Error('The idempotency secret must be 32 bytes.');
    this.encryptionKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'liveness-gateway idempotency token encryption v1', 32));
    this.fingerprintKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'liveness-gateway idempotency request fingerprint v1', 32));
  }

  /** `v1.<iv>.<ciphertext>.<tag>` (base64url), bound to `context`. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  /** The plaintext of `sealed`; throws when it was sealed with another key, for another context, or altered. */
  open(sealed: string, context: string): string {
    const [version, iv, ciphertext, tag] = sealed.split('.');
    if (version !== VERSION || iv === undefined || ciphertext === undefined || tag === undefined) throw new Error('not a sealed token of this version');
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Hex HMAC-SHA-256 of `value`. */
  fingerprint(value: string | Buffer): string {
    return createHmac('sha256', this.fingerprintKey).update(value).digest('hex');
  }
}
