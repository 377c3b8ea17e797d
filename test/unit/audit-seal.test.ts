/** The rules of `audit/seal.ts`: when a checkpoint is due, and that a head the gateway did not seal stays unsealed. */
import { describe, expect, it } from 'vitest';
import { AuditSeal, checkpointPayload, checkpointSignatureValid, sealAppend, type ChainSealing } from '../../src/domain/audit/seal';

const seal = AuditSeal.withRandomKeys();
const sealing: ChainSealing = { seal, checkpoints: { everyEvents: 10, everyMillis: 60_000 } };
const at = new Date('2026-12-06T05:00:00.000Z');
const head = (sequence: number) => ({ sequence, hash: sequence.toString(16).padStart(64, '0') });
const sealed = (sequence: number) => ({ ...head(sequence), mac: seal.headMac('acme', head(sequence)) });

describe('sealAppend', () => {
  it.each([
    { what: "a tenant's first append", found: undefined, next: 2, latest: undefined, due: true },
    { what: 'crossing a multiple of everyEvents', found: 9, next: 11, latest: { sequence: 1, at }, due: true },
    { what: 'landing on a multiple of everyEvents', found: 9, next: 10, latest: { sequence: 1, at }, due: true },
    { what: 'within the same ten events, the latest recent', found: 11, next: 13, latest: { sequence: 10, at }, due: false },
    { what: 'the latest checkpoint a minute old', found: 11, next: 12, latest: { sequence: 10, at: new Date(at.getTime() - 60_000) }, due: true },
  ])('$what: checkpoint due $due', ({ found, next, latest, due }) => {
    const result = sealAppend(sealing, 'acme', found === undefined ? undefined : sealed(found), head(next), latest, at);
    expect(result.mac).toBe(seal.headMac('acme', head(next)));
    expect(result.checkpoint !== undefined).toBe(due);
    if (result.checkpoint) {
      expect(result.checkpoint).toMatchObject({ tenant: 'acme', ...head(next), at });
      expect(checkpointSignatureValid(result.checkpoint, seal.publicKeyPem)).toBe(true);
    }
  });

  it.each([
    { what: 'a head without a MAC', found: { ...head(5), mac: null } },
    { what: "a head with another head's MAC", found: { ...head(5), mac: seal.headMac('acme', head(4)) } },
    { what: "another tenant's head MAC", found: { ...head(5), mac: seal.headMac('globex', head(5)) } },
    { what: 'a MAC under another key', found: { ...head(5), mac: AuditSeal.withRandomKeys().headMac('acme', head(5)) } },
  ])('$what is not sealed again, nor checkpointed', ({ found }) => {
    expect(sealAppend(sealing, 'acme', found, head(6), undefined, at)).toEqual({ mac: null });
  });
});

describe('checkpoints', () => {
  it('the signed text is the documented JSON array', () => {
    expect(checkpointPayload({ tenant: 'acme', sequence: 12, hash: 'ab'.repeat(32), at })).toBe(
      `["audit-checkpoint-v1","acme",12,"${'ab'.repeat(32)}","2026-12-06T05:00:00.000Z"]`,
    );
  });

  it('a checkpoint changed in any field, or checked with another key, does not verify', () => {
    const checkpoint = seal.sign({ tenant: 'acme', ...head(12), at });
    expect(checkpointSignatureValid(checkpoint, seal.publicKeyPem)).toBe(true);
    expect(checkpointSignatureValid({ ...checkpoint, sequence: 13 }, seal.publicKeyPem)).toBe(false);
    expect(checkpointSignatureValid({ ...checkpoint, tenant: 'globex' }, seal.publicKeyPem)).toBe(false);
    expect(checkpointSignatureValid({ ...checkpoint, at: new Date(at.getTime() + 1) }, seal.publicKeyPem)).toBe(false);
    expect(checkpointSignatureValid({ ...checkpoint, signature: 'not base64 at all' }, seal.publicKeyPem)).toBe(false);
    expect(checkpointSignatureValid(checkpoint, AuditSeal.withRandomKeys().publicKeyPem)).toBe(false);
  });
});
