/**
 * Opaque keyset cursors, `first` limits and the connection a page is answered as, shared by every
 * listing.
 *
 * A cursor is base64url(JSON position) + "." + a truncated HMAC over the kind and the position. The
 * HMAC is an integrity check so that an edited or truncated cursor is refused with BAD_USER_INPUT
 * instead of silently paging elsewhere; it guards nothing secret: every query applies the caller's
 * scope whatever the cursor says, so a forged cursor could only skip around the caller's own rows.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { badInput } from './errors';
import type { Page, SessionPosition } from './ports/store';

const INTEGRITY_KEY = 'liveness-gateway/cursor/v1';
export const MAX_PAGE_SIZE = 100;

function mac(kind: string, body: string): Buffer {
  return createHmac('sha256', INTEGRITY_KEY).update(kind).update('.').update(body).digest().subarray(0, 12);
}

export function encodeCursor(kind: string, position: unknown): string {
  const body = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${body}.${mac(kind, body).toString('base64url')}`;
}

/** Decodes a cursor of `kind`; `isPosition` checks the decoded shape. Throws BAD_USER_INPUT. */
export function decodeCursor<T>(kind: string, cursor: string, isPosition: (value: unknown) => value is T): T {
  const [body, signature, ...rest] = cursor.split('.');
  const expected = body ? mac(kind, body) : undefined;
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
export function encodeSessionCursor(session: { createdAt: Date; id: string }): string {
  return encodeCursor(SESSION_CURSOR, { createdAtMillis: session.createdAt.getTime(), id: session.id } satisfies SessionPosition);
}

export function decodeSessionCursor(cursor: string): SessionPosition {
  return decodeCursor(SESSION_CURSOR, cursor, isSessionPosition);
}

function isSessionPosition(value: unknown): value is SessionPosition {
  const v = value as SessionPosition;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(v.createdAtMillis) && typeof v.id === 'string';
}
