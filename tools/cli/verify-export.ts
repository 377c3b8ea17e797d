/**
 * `npm run verify-export -- --key checkpoint-key.pem [--checkpoint kept.json] audit.ndjson`: checks an
 * audit export offline, with no gateway and no server secret (docs/audit.md, "Checking an export
 * offline"):
 * - every event chains to the one before (the first of a whole chain to 64 zeros);
 * - every "audit-v3" event's clear personal values match their commitments under the salt exported
 *   with it, or, for an erased user (no salt), read as the pseudonym and are gone;
 * - every event that reads as erased is followed, in the export, by a USER_DATA_ERASED naming its
 *   pseudonym, and by no event naming the same user in clear (`erased-events.ts`): a line's own salt
 *   is no evidence, so one pseudonymised with its salt removed is caught here. An export cut (`to`)
 *   before an erasure cannot show it, and is INVALID for the events it erased;
 * - every checkpoint line is signed by the key (`GET /audit/checkpoint-key`, kept by the operator) and
 *   the export holds its hash at its sequence;
 * - with `--checkpoint`, a checkpoint kept earlier outside the database (a checkpoint line, or
 *   `latestCheckpoint` from `verifyAuditChain`) is signed by the key and the export holds its hash at
 *   its sequence: an export that ends before it, or differs there, was cut or rewritten.
 * - at least one signed checkpoint lies in the export: hashes alone can be computed by anyone.
 * Prints one line; exits 0 when everything holds, 1 when something does not, 2 on a usage error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chainHash, GENESIS_HASH } from '../../src/domain/audit/chain';
import { checkpointSignatureValid, type AuditCheckpoint } from '../../src/domain/audit/seal';
import type { AuditEventRecord } from '../../src/domain/audit/audit.model';
import { personalFieldsProblem } from '../../src/domain/audit/personal-fields';
import { ErasedEventsCheck } from '../../src/domain/audit/erased-events';
import { parseArgs } from './args';

interface CheckpointLine {
  kind?: string;
  tenant: string;
  sequence: number;
  hash: string;
  at: string;
  signature: string;
}

class Invalid extends Error {}

function main(argv: string[]): number {
  const file = argv[argv.length - 1];
  let options: Record<string, string>;
  try {
    if (!file || file.startsWith('--')) throw new Error('name the export file last');
    options = parseArgs(argv.slice(0, -1), ['key', 'checkpoint']);
    if (!options.key) throw new Error('--key (the PEM of GET /audit/checkpoint-key) is required');
  } catch (error) {
    console.error(`usage: npm run verify-export -- --key checkpoint-key.pem [--checkpoint kept.json] audit.ndjson (${(error as Error).message})`);
    return 2;
  }
  // `npm run` runs scripts in the package's directory; names on the command line are the caller's.
  const read = (name: string) => fs.readFileSync(path.resolve(process.env.INIT_CWD ?? process.cwd(), name), 'utf8');
  try {
    console.log(verify(read(file), read(options.key), options.checkpoint && read(options.checkpoint)));
    return 0;
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    console.log(`INVALID: ${error.message}`);
    return 1;
  }
}

function verify(ndjson: string, publicKeyPem: string, keptJson?: string): string {
  const lines = ndjson.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
  const events = lines.filter((line) => line.kind === undefined) as unknown as (Omit<AuditEventRecord, 'at'> & { at: string; salt?: string | null })[];
  const checkpoints = lines.filter((line) => line.kind === 'checkpoint') as unknown as CheckpointLine[];
  if (events.length === 0) throw new Invalid('the export holds no events.');
  const hashes = new Map<number, string>();
  const tenant = events[0].tenant;
  let previous = events[0].sequence === 1 ? GENESIS_HASH : events[0].previousHash;
  let expected = events[0].sequence;
  // One entry per pseudonym still waiting for its erasure's event, whatever the export's length.
  const erased = new ErasedEventsCheck();
  for (const event of events) {
    if (event.tenant !== tenant || event.sequence !== expected || event.previousHash !== previous) {
      throw new Invalid(`event ${expected} is missing, out of order or does not follow from the one before it.`);
    }
    if (chainHash(previous, { ...event, at: new Date(event.at) }) !== event.hash) throw new Invalid(`event ${event.sequence} does not hash to its recorded hash.`);
    const personal = event.userIdCommitment == null ? undefined : personalFieldsProblem(event, event.salt ?? undefined);
    if (personal) throw new Invalid(`event ${event.sequence}: ${personal}.`);
    const erasure = erased.see(event);
    if (erasure) throw new Invalid(`event ${erasure.sequence}: ${erasure.problem}.`);
    hashes.set(event.sequence, event.hash);
    previous = event.hash;
    expected += 1;
  }
  const first = events[0].sequence;
  const last = expected - 1;
  const check = (what: string, line: CheckpointLine) => {
    const checkpoint: AuditCheckpoint = { ...line, at: new Date(line.at) };
    if (line.tenant !== tenant) throw new Invalid(`${what} is of tenant ${line.tenant}, the export of ${tenant}.`);
    if (!checkpointSignatureValid(checkpoint, publicKeyPem)) throw new Invalid(`${what} at sequence ${line.sequence} is not signed by this key.`);
    if (line.sequence > last) throw new Invalid(`${what} records sequence ${line.sequence}, but the export ends at ${last}: the chain was cut.`);
    if (line.sequence < first) throw new Invalid(`${what} records sequence ${line.sequence}, before the export's first event (${first}): export from further back.`);
    if (hashes.get(line.sequence) !== line.hash) throw new Invalid(`${what} records another hash at sequence ${line.sequence} than the export holds: the chain was rewritten.`);
  };
  for (const line of checkpoints) check('the checkpoint line', line);
  let keptSequence: number | undefined;
  if (keptJson !== undefined) {
    const kept = JSON.parse(keptJson) as CheckpointLine | null;
    if (typeof kept !== 'object' || kept === null || typeof kept.signature !== 'string' || typeof kept.at !== 'string') {
      throw new Invalid('the kept checkpoint is not a checkpoint (tenant, sequence, hash, at, signature).');
    }
    check('the kept checkpoint', kept);
    keptSequence = kept.sequence;
  }
  // After the checkpoints, which tell a cut export: that explains an erasure missing from its end better.
  const unmatched = erased.finish();
  if (unmatched) throw new Invalid(`event ${unmatched.sequence}: ${unmatched.problem}, or the export ends before the erasure (export through it to tell).`);
  // Anyone can hash events: only a signature says the gateway wrote them. Events after the last
  // signed sequence chain correctly but are vouched for by nothing yet, and the line says so.
  const signedThrough = Math.max(0, ...checkpoints.map((line) => line.sequence), ...(keptSequence === undefined ? [] : [keptSequence]));
  if (signedThrough === 0) throw new Invalid('no checkpoint signed by this key lies in the export: its events chain, but nothing shows the gateway wrote them.');
  const signed = [...checkpoints.map((line) => line.sequence), ...(keptJson === undefined ? [] : ['kept'])];
  const tail = signedThrough < last ? `; events ${signedThrough + 1}..${last} are signed by no checkpoint yet` : '';
  return `valid: events ${first}..${last} of tenant ${tenant} chain; checkpoints checked: ${signed.join(', ')}; signed through ${signedThrough}${tail}.`;
}

process.exitCode = main(process.argv.slice(2));
