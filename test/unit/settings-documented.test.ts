/**
 * Every numeric setting src/config/ reads (a bound, a timeout, an interval, a cap: the gateway's
 * limits) is in docs/security.md with what it protects (that every setting has its row in
 * docs/configuration.md is test/e2e/readme.test.ts's). Read from the source text, so a limit added
 * without its documentation fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const configDir = path.join(root, 'src/config');
const source = fs.readdirSync(configDir).filter((name) => name.endsWith('.ts')).map((name) => read(`src/config/${name}`)).join('\n');

/** `read(env, 'X')`, `integer(env, 'X', …)` and the like: the setting's name and how it is parsed. */
const settings = [...source.matchAll(/\b(read|integer|optionalInteger|boolean|url)\(env, '([A-Z][A-Z0-9_]*)'/g)].map(([, parser, name]) => ({ parser, name }));

/** Numbers that are no limit: where to listen. */
const NOT_LIMITS = new Set(['PORT']);

describe('settings documented', () => {
  it('finds the settings of src/config/', () => {
    expect(settings.length).toBeGreaterThan(50);
    expect(settings).toContainEqual({ parser: 'integer', name: 'GRAPHQL_MAX_DEPTH' });
  });

  it('every numeric setting (a limit) is in docs/security.md', () => {
    const docs = read('docs/security.md');
    const limits = settings.filter((setting) => setting.parser.toLowerCase().endsWith('integer') && !NOT_LIMITS.has(setting.name));
    expect(limits.map((setting) => setting.name).filter((name) => !docs.includes('`' + name + '`'))).toEqual([]);
  });
});
