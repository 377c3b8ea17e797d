/**
 * Viewers of tokens already verified, so a client that sends the same JWT on every request (every
 * request of a browser tab, every completion of a device) is checked once rather than each time.
 *
 * - Keyed by the whole token string: a token that differs in any byte (another signature, header or
 *   claim) is another key and is verified from scratch. Only verified tokens are kept; a refused one
 *   is refused again, at full cost, every time.
 * - An entry never outlives the token: it is served only while `validFromMillis <= now <
 *   viewer.expiresAtMillis`, the window in which the verifier itself accepts the token (`exp`, or
 *   `iat` plus the maximum age when that comes first, each with the clock tolerance; `nbf`, and `iat`
 *   under a maximum age, with the tolerance the other way). Outside it the entry is dropped and the
 *   token goes to the verifier, which refuses it.
 * - At most `maxEntries`, least recently used out first, so memory stays small whatever the traffic.
 */
import type { Viewer } from '../domain/viewer';

export interface VerifiedToken {
  viewer: Viewer;
  /** The first moment the verifier accepts the token (ms since epoch); -Infinity when it has no `nbf`. */
  validFromMillis: number;
}

export const DEFAULT_TOKEN_CACHE_ENTRIES = 1_000;

export class VerifiedTokenCache {
  /** Map order is recency: a hit moves its entry to the end, eviction takes the first. */
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(
    private readonly maxEntries = DEFAULT_TOKEN_CACHE_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  /** The viewer of a token verified before and still inside its validity window; else undefined. */
  get(token: string): Viewer | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    const now = this.now();
    if (now < entry.validFromMillis || now >= entry.viewer.expiresAtMillis) return undefined;
    this.entries.set(token, entry);
    return entry.viewer;
  }

  /** Keeps a token the verifier has just accepted. */
  set(token: string, verified: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, verified);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
