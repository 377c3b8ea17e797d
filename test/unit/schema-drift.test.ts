/**
 * The committed schema.graphql and the generated client must match the code, and the schema must
 * keep every promise of docs/api.md (copied in test/fixtures/contract-schema.graphql).
 */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { buildSchema, findBreakingChanges, findDangerousChanges, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import codegenConfig from '../../codegen';
import { buildGatewaySchema, printGatewaySchema } from '../../src/graphql/schema';
import { operationsCalled, publicOperations } from '../helpers/root-fields';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

describe('schema and codegen drift', () => {
  it('schema.graphql is what the type-graphql classes emit (run `npm run schema` after changing them)', async () => {
    expect(read('schema.graphql')).toBe(printGatewaySchema(await buildGatewaySchema()));
  });

  it('the schema keeps every type, field, argument and default of the public contract', () => {
    const contract = buildSchema(read('test/fixtures/contract-schema.graphql'));
    const ours = buildSchema(read('schema.graphql'));
    expect(findBreakingChanges(contract, ours)).toEqual([]);
    // graphql-js calls these additions "dangerous" only because a client may not know of them: an
    // optional argument (old documents mean what they meant) and a new AuditAction value (docs/api.md
    // tells clients switching over AuditAction to expect new values). Anything else must not change.
    const additions = (change: { type: string; description: string }) =>
      change.type === 'OPTIONAL_ARG_ADDED' || (change.type === 'VALUE_ADDED_TO_ENUM' && change.description.endsWith('to enum type AuditAction.'));
    expect(findDangerousChanges(contract, ours).filter((change) => !additions(change))).toEqual([]);
  });

  it('every public operation has a typed document: each root field is called by an operation in client/operations', () => {
    const operationsDir = path.join(root, 'client/operations');
    const documents = fs.readdirSync(operationsDir).filter((name) => name.endsWith('.graphql')).map((name) => parse(read(`client/operations/${name}`)));
    const schema = buildSchema(read('schema.graphql'));
    expect(publicOperations(schema)).toHaveLength(25);
    expect(operationsCalled(...documents)).toEqual(publicOperations(schema));
  });

  it('the generated client is what codegen.ts produces from the operations (run `npm run codegen`)', async () => {
    const previous = process.cwd();
    process.chdir(root);
    try {
      const outputs = (await generate({ ...codegenConfig, silent: true }, false)) as { filename: string; content: string }[];
      expect(outputs.length).toBeGreaterThan(0);
      for (const output of outputs) {
        expect(read(path.relative(root, path.resolve(root, output.filename))), output.filename).toBe(output.content);
      }
    } finally {
      process.chdir(previous);
    }
  });
});
