/**
 * Opaque keyset cursors, `first` limits and the connection a page is answered as, shared by every
 * listing.
 *
 * A cursor is base64url(JSON position) + "." + a truncated HMAC over the kind and the position, so
 * that an edited, truncated or made-up cursor is refused with BAD_USER_INPUT instead of silently
 * paging elsewhere. Every query applies the caller's scope whatever the cursor says, so a forged
 * cursor could only skip around the caller's own rows; still, the key is a server secret (derived by
 * the composition root), never a constant anyone can read in the source and sign with. Instances
 * that share the secret read each other's cursors.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badInput } from './errors';
import type { Page, SessionPosition } from './ports/store';

export const MAX_PAGE_SIZE = 100;

export class CursorCodec {
  constructor(private readonly key: Uint8Array) {}

  /** A codec with a key of its own, for a service built without one (its cursors work only with it). */
  static withRandomKey(): CursorCodec {
    return new CursorCodec(randomBytes(32));
  }

  encode(kind: string, position: unknown): string {
    const body = Buffer.from(JSON.stringify(position)).toString('base64url');
    return `${body}.${this.mac(kind, body).toString('base64url')}`;
  }

  /** Decodes a cursor of `kind`; `isPosition` checks the decoded shape. Throws BAD_USER_INPUT. */
  decode<T>(kind: string, cursor: string, isPosition: (value: unknown) => value is T): T {
    const [body, signature, ...rest] = cursor.split('.');
    const expected = body ? this.mac(kind, body) : undefined;
    const given = signature ? Buffer.from(signature, 'base64url') : undefined;
    if (rest.length > 0 || !expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw badInput('The cursor is not valid.');
    }
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw badInput('The cursor is not valid.');
    }
    if (!isPosition(value)) throw badInput('The cursor is not valid.');
    return value;
  }

  private mac(kind: string, body: string): Buffer {
    return createHmac('sha256', this.key).update(kind).update('.').update(body).digest().subarray(0, 12);
  }
}

/** `first` must be 1..100. */
export function checkPageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return first;
}

/** A page with a cursor per item: what a listing answers. */
export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor?: string };
}

export function connectionOf<T>(page: Page<T>, cursorOf: (item: T) => string): Connection<T> {
  const edges = page.items.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, totalCount: page.totalCount, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor } };
}

const SESSION_CURSOR = 'sessions';

/** A session's place in the newest-first listing of sessions. */
export function encodeSessionCursor(codec: CursorCodec, session: { createdAt: Date; id: string }): string {
  return codec.encode(SESSION_CURSOR, { createdAtMillis: session.createdAt.getTime(), id: session.id } satisfies SessionPosition);
}

export function decodeSessionCursor(codec: CursorCodec, cursor: string): SessionPosition {
  return codec.decode(SESSION_CURSOR, cursor, isSessionPosition);
}

function isSessionPosition(value: unknown): value is SessionPosition {
  const v = value as SessionPosition;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(v.createdAtMillis) && typeof v.id === 'string';
}
