/**
 * The keys of a JWKS endpoint, by `kid`, for the verifier.
 *
 * Anyone can send a token naming a `kid` that does not exist, without holding any key. If each such
 * token could trigger a fetch under a fixed budget (so many a minute), a few of them would use the
 * budget up, and a key the identity provider has just rotated in would be refused until it refilled.
 * So the set is fetched on two occasions only, neither of which a caller can exhaust:
 *
 * - on a schedule: once the set is `refreshMillis` old, the next lookup fetches it again (and waits
 *   for it), so keys withdrawn from the set stop working within that time;
 * - on a miss: a `kid` not in the set waits for a fetch that starts after it arrived, and such fetches
 *   start at most once per `missRefetchMillis` overall, shared by every lookup waiting at the time.
 *   A made-up `kid` therefore costs at most one fetch per interval however many are sent, and a
 *   rotated-in `kid` is found at the latest one interval (plus the fetch) after it first shows up.
 *
 * A fetch that fails keeps the keys already known. A token without `kid` is checked against the only
 * key of a one-key set, as jwks-rsa does.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

export interface JwksKey {
  kid?: string;
  /** PEM, or a key object. */
  publicKey: string | KeyObject;
}

export interface JwksKeySetOptions {
  /** Fetches the whole set; throws when the endpoint cannot be read. */
  load: () => Promise<JwksKey[]>;
  refreshMillis: number;
  missRefetchMillis: number;
  onError?: (error: unknown) => void;
  now?: () => number;
}

export class JwksKeySet {
  private keys: { kid?: string; key: KeyObject }[] = [];
  /** When the latest fetch started. */
  private startedAt = -Infinity;
  /** Fetches are numbered as they start; `finished` is the number of the latest one done (either way). */
  private started = 0;
  private finished = 0;
  private inFlight: Promise<void> | undefined;
  private nextSlot: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: JwksKeySetOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key for `kid`, or undefined when the set does not hold it even after a fresh fetch. */
  async find(kid: string | undefined): Promise<KeyObject | undefined> {
    // Counted rather than timed: a fetch that started in the same millisecond may still predate us.
    const startedBefore = this.started;
    if (this.now() - this.startedAt >= this.options.refreshMillis) await this.fetch();
    const known = this.lookup(kid);
    if (known) return known;
    while (this.finished <= startedBefore) await this.nextFetch();
    return this.lookup(kid);
  }

  private lookup(kid: string | undefined): KeyObject | undefined {
    if (kid === undefined) return this.keys.length === 1 ? this.keys[0].key : undefined;
    return this.keys.find((entry) => entry.kid === kid)?.key;
  }

  /** Waits for the fetch under way, or for the next slot, or starts a fetch if the slot is open. */
  private async nextFetch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const wait = this.startedAt + this.options.missRefetchMillis - this.now();
    if (wait <= 0) return this.fetch();
    this.nextSlot ??= new Promise<void>((resolve) => setTimeout(resolve, wait)).finally(() => {
      this.nextSlot = undefined;
    });
    return this.nextSlot;
  }

  private fetch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const number = ++this.started;
    this.startedAt = this.now();
    this.inFlight = (async () => {
      try {
        const loaded = await this.options.load();
        this.keys = loaded.map(({ kid, publicKey }) => ({ kid, key: typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey }));
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.finished = number;
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
