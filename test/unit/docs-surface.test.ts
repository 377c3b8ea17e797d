/**
 * What the documentation says about the surface, held against the code: the HTTP surface table of
 * docs/api.md lists every path the router serves and nothing it does not; every GraphQL example in
 * README.md and docs/ that shares a name with an operation of the Sandbox document uses Sandbox's
 * variable names and types (so a value pasted into Sandbox's Variables panel works for both); the
 * LICENSE file is the licence package.json names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { AUDIT_EXPORT_PATH, CHECKPOINT_KEY_PATH } from '../../src/transport/audit-export';
import { EVIDENCE_PATH } from '../../src/transport/evidence-link';
import { DOCS_PATH, FRONT_DOOR_PATH } from '../../src/transport/front-door';
import { EMULATOR_PREFIX, GRAPHQL_PATH } from '../../src/transport/http-server';
import { landingPageDocument } from '../../src/transport/landing-page';
import { METRICS_PATH } from '../../src/transport/metrics-endpoint';
import { WEB_CLIENT_PATH } from '../../src/transport/web-client';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

/** The path constants the router may compare a request's path with; a new one must be added here, and documented. */
const PATH_CONSTANTS: Record<string, string> = {
  GRAPHQL_PATH,
  AUDIT_EXPORT_PATH,
  CHECKPOINT_KEY_PATH,
  METRICS_PATH,
  EVIDENCE_PATH,
  WEB_CLIENT_PATH,
  EMULATOR_PREFIX,
  FRONT_DOOR_PATH,
  DOCS_PATH,
};

/** Every path the router of src/transport/http-server.ts (and the front door it hands the rest to) answers, read from their source. */
function routedPaths(): Set<string> {
  const source = read('src/transport/http-server.ts');
  const router = source.slice(source.indexOf('function router('));
  const found = new Set<string>();
  for (const [, constant, literal] of router.matchAll(/(?:pathname === |under\(pathname, |startsWith\(`\$\{)(?:([A-Z_]+)|'([^']+)')/g)) {
    if (literal) found.add(literal);
    else {
      expect(PATH_CONSTANTS, `the router compares the path with ${constant}`).toHaveProperty(constant);
      found.add(PATH_CONSTANTS[constant]);
    }
  }
  // The front door answers what no route above took: its own paths.
  expect(router).toContain('routes.frontDoor?.(req, res, pathname)');
  const frontDoor = read('src/transport/front-door.ts');
  expect(frontDoor).toContain('pathname !== FRONT_DOOR_PATH');
  expect(frontDoor).toContain('pathname.startsWith(`${DOCS_PATH}/`)');
  found.add(FRONT_DOOR_PATH);
  found.add(DOCS_PATH);
  return found;
}

/** The paths the first column of docs/api.md's HTTP surface table names, without methods, placeholders or trailing parts. */
function documentedPaths(): Set<string> {
  const api = read('docs/api.md');
  const section = api.slice(api.indexOf('## HTTP surface'), api.indexOf('\n## ', api.indexOf('## HTTP surface') + 1));
  const found = new Set<string>();
  for (const [, cell] of section.matchAll(/^\| (.+?) \| /gm)) {
    for (const [, route] of cell.matchAll(/`(?:[A-Z]+ )?(\/[^`]*)`/g)) {
      found.add(route.replace(/\/(<[^>]+>(\.md)?|…)$/, '').replace(/\/$/, '') || '/');
    }
  }
  return found;
}

describe('docs/api.md, HTTP surface', () => {
  it('lists every path the router serves, and only those', () => {
    const routed = routedPaths();
    expect(routed.size).toBeGreaterThanOrEqual(11);
    expect([...documentedPaths()].sort()).toEqual([...routed].sort());
  });
});

describe('README, docs and Sandbox agree on variable names', () => {
  const sandbox = new Map(
    parse(landingPageDocument)
      .definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => [operation.name!.value, variables(operation)]),
  );

  function variables(operation: OperationDefinitionNode): Record<string, string> {
    return Object.fromEntries((operation.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, print(definition.type)]));
  }

  it('an example named as a Sandbox operation declares only variables Sandbox declares, with the same types', () => {
    const files = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    const compared: string[] = [];
    const disagreements: string[] = [];
    for (const file of files) {
      for (const [, body] of read(file).matchAll(/^```graphql\n([\s\S]*?)^```/gm)) {
        for (const definition of parse(body).definitions) {
          if (definition.kind !== Kind.OPERATION_DEFINITION || !definition.name || !sandbox.has(definition.name.value)) continue;
          const name = definition.name.value;
          compared.push(name);
          const expected = sandbox.get(name)!;
          for (const [variable, type] of Object.entries(variables(definition))) {
            if (expected[variable] !== type) disagreements.push(`${file} ${name}: $${variable}: ${type}, Sandbox has ${JSON.stringify(expected)}`);
          }
        }
      }
    }
    expect(compared).toEqual(expect.arrayContaining(['SessionDecision', 'CompleteLivenessSession', 'Session', 'DeleteLivenessSession']));
    expect(disagreements).toEqual([]);
  });
});

describe('LICENSE', () => {
  it('is the MIT licence that package.json names', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('MIT');
    const license = read('LICENSE');
    expect(license.split('\n')[0]).toBe('MIT License');
    expect(license).toContain('Permission is hereby granted, free of charge, to any person obtaining a copy');
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });
});
