/**
 * Opaque keyset cursors and `first` limits, shared by every connection.
 *
 * A cursor is base64url(JSON position) + "." + a truncated HMAC over the kind and the position. The
 * HMAC is an integrity check so that an edited or truncated cursor is refused with BAD_USER_INPUT
 * instead of silently paging elsewhere; it guards nothing secret: every query applies the caller's
 * scope whatever the cursor says, so a forged cursor could only skip around the caller's own rows.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { badInput } from './errors';

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

/** `first` must be 1..100 (CONTRACT.md section 5). */
export function checkPageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return first;
}
