/**
 * What the audit tests share: reading an NDJSON export, the blocks of docs/audit.md, and a second,
 * independent implementation of the documented hash encoding (written from docs/audit.md, not from
 * src/audit/chain.ts), so that a test comparing both checks the documentation too.
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** One line of `GET /audit/export`, as docs/audit.md describes it. */
export interface ExportedEvent {
  id: string;
  tenant: string;
  sequence: number;
  at: string;
  action: string;
  actor: string;
  sessionId: string;
  userId: string;
  attemptId: number | null;
  verdict: string | null;
  digest: string | null;
  /** Only on lines of "audit-v2" events. */
  reason?: string | null;
  verifyImageSha256?: string | null;
  faceVerifyImageHash?: string | null;
  /** Only on lines of "audit-v3" events: the commitments of the personal fields, and the user's salt (null once erased). */
  actorCommitment?: string | null;
  userIdCommitment?: string;
  verifyImageSha256Commitment?: string | null;
  faceVerifyImageHashCommitment?: string | null;
  salt?: string | null;
  previousHash: string;
  hash: string;
}

export const EXPORT_FIELDS = [
  'id',
  'tenant',
  'sequence',
  'at',
  'action',
  'actor',
  'sessionId',
  'userId',
  'attemptId',
  'verdict',
  'digest',
  'previousHash',
  'hash',
] as const;

/** The keys of an "audit-v2" event's line: after `digest`, its three fields. */
export const EXPORT_FIELDS_V2 = [...EXPORT_FIELDS.slice(0, 11), 'reason', 'verifyImageSha256', 'faceVerifyImageHash', 'previousHash', 'hash'] as const;

/** The keys of an "audit-v3" event's line: the v2 ones, then the commitments and the salt. */
export const EXPORT_FIELDS_V3 = [
  ...EXPORT_FIELDS_V2.slice(0, 14),
  'actorCommitment',
  'userIdCommitment',
  'verifyImageSha256Commitment',
  'faceVerifyImageHashCommitment',
  'salt',
  'previousHash',
  'hash',
] as const;

export const ZERO_HASH = '0'.repeat(64);

/** The event lines of an export (a checkpoint line, `"kind":"checkpoint"`, is left out: `parseCheckpoints`). */
export function parseNdjson(body: string): ExportedEvent[] {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ExportedEvent & { kind?: string })
    .filter((line) => line.kind === undefined);
}

/** A checkpoint line of an export, as docs/audit.md describes it. */
export interface ExportedCheckpoint {
  kind: 'checkpoint';
  tenant: string;
  sequence: number;
  hash: string;
  at: string;
  signature: string;
}

export function parseCheckpoints(body: string): ExportedCheckpoint[] {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { kind?: string })
    .filter((line): line is ExportedCheckpoint => line.kind === 'checkpoint');
}

/** docs/audit.md, "The hash chain": hex SHA-256 of previousHash, "\n" and the canonical JSON array. */
export function documentedHash(previousHash: string, event: Omit<ExportedEvent, 'previousHash' | 'hash'>): string {
  if ('userIdCommitment' in event) {
    const v3 = [
      'audit-v3', event.id, event.tenant, event.sequence, event.at, event.action, event.actorCommitment === null ? event.actor : null, event.actorCommitment,
      event.sessionId, event.userIdCommitment, event.attemptId, event.verdict, event.digest, event.reason, event.verifyImageSha256Commitment, event.faceVerifyImageHashCommitment,
    ];
    return createHash('sha256').update(Buffer.from(previousHash + '\n' + '[' + v3.map((value) => JSON.stringify(value)).join(',') + ']', 'utf8')).digest('hex');
  }
  const v2 = 'reason' in event;
  const fields: unknown[] = [event.id, event.tenant, event.sequence, event.at, event.action, event.actor, event.sessionId, event.userId, event.attemptId, event.verdict, event.digest];
  if (v2) fields.push(event.reason, event.verifyImageSha256, event.faceVerifyImageHash);
  const canonical = (v2 ? '["audit-v2",' : '["audit-v1",') + fields.map((value) => JSON.stringify(value)).join(',') + ']';
  return createHash('sha256').update(Buffer.from(previousHash + '\n' + canonical, 'utf8')).digest('hex');
}

/**
 * docs/audit.md, "Personal fields and erasure": whether a v3 line's clear personal values go with its
 * commitments, under its salt, or (salt null) read as the erased user's pseudonym.
 */
export function documentedPersonalFieldsHold(event: ExportedEvent): boolean {
  if (event.userIdCommitment === undefined) return true;
  const fields = [
    [event.actor, event.actorCommitment],
    [event.userId, event.userIdCommitment],
    [event.verifyImageSha256, event.verifyImageSha256Commitment],
    [event.faceVerifyImageHash, event.faceVerifyImageHashCommitment],
  ] as const;
  const pseudonym = `erased:${event.userIdCommitment.slice(0, 12)}`;
  return fields.every(([clear, committed], index) => {
    if (committed === null || committed === undefined) return true;
    if (event.salt) return clear != null && createHmac('sha256', Buffer.from(event.salt, 'hex')).update(clear, 'utf8').digest('hex') === committed;
    return index < 2 ? clear === pseudonym : clear === null;
  });
}

const docs = () => fs.readFileSync(path.resolve(__dirname, '../../docs/audit.md'), 'utf8');

/** The fenced blocks of `language` inside the docs/audit.md section whose heading starts with `heading`. */
export function docsBlocks(heading: string, language: string): string[] {
  const text = docs();
  const start = text.indexOf(`\n## ${heading}`);
  if (start === -1) throw new Error(`docs/audit.md has no section "${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]);
}
