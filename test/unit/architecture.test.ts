/**
 * The shape of src/, read from the source files: the domain knows no transport (no GraphQL, HTTP or
 * WebSocket library, nothing of the adapters, the transports or the GraphQL layer, not even through
 * another module), and no module of src/ imports itself back through others.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src');
const DOMAIN = path.join(SRC, 'domain');

/** Packages that mean a transport or the GraphQL layer. */
const TRANSPORT_PACKAGES = [/^graphql(\/|$)/, /^type-graphql(\/|$)/, /^graphql-ws(\/|$)/, /^@apollo\//, /^ws$/, /^(node:)?https?$/];
/** Folders of src/ the domain must not reach. */
const OUTER_FOLDERS = ['adapters', 'transport', 'graphql'].map((folder) => path.join(SRC, folder) + path.sep);

interface Module {
  /** Relative imports that resolve to a file of src/. */
  local: string[];
  /** Everything else: packages and Node built-ins. */
  packages: string[];
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function resolveRelative(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile());
}

/** Every import of every file of src/: static, type-only, re-exports and dynamic `import()`. */
function readModules(): Map<string, Module> {
  const modules = new Map<string, Module>();
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const module: Module = { local: [], packages: [] };
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) module.packages.push(fileName);
      else {
        const target = resolveRelative(file, fileName);
        if (target?.startsWith(SRC + path.sep)) module.local.push(target);
      }
    }
    modules.set(file, module);
  }
  return modules;
}

/** Each cycle found by a depth-first walk, as the chain of files that closes it. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const shown = (file: string) => path.relative(SRC, file);

describe('architecture of src/', () => {
  const modules = readModules();

  it('reads every import form: the GraphQL boundary is seen importing graphql and the domain errors', () => {
    const errors = modules.get(path.join(SRC, 'errors.ts'));
    expect(errors?.packages).toContain('graphql');
    expect(errors?.local).toContain(path.join(DOMAIN, 'errors.ts'));
  });

  it('no domain file imports a transport or GraphQL package, directly or through any module it imports', () => {
    const offences: string[] = [];
    for (const file of modules.keys()) {
      if (!file.startsWith(DOMAIN + path.sep)) continue;
      const seen = new Set<string>();
      const walk = (current: string, via: string[]) => {
        if (seen.has(current)) return;
        seen.add(current);
        const module = modules.get(current);
        for (const name of module?.packages ?? []) {
          if (TRANSPORT_PACKAGES.some((pattern) => pattern.test(name))) offences.push([...via, current].map(shown).join(' -> ') + ` imports ${name}`);
        }
        for (const next of module?.local ?? []) walk(next, [...via, current]);
      };
      walk(file, []);
    }
    expect(offences).toEqual([]);
  });

  it('no domain file imports anything under src/adapters, src/transport or src/graphql, directly or through another module', () => {
    const offences: string[] = [];
    for (const file of modules.keys()) {
      if (!file.startsWith(DOMAIN + path.sep)) continue;
      const seen = new Set<string>();
      const walk = (current: string, via: string[]) => {
        if (seen.has(current)) return;
        seen.add(current);
        for (const next of modules.get(current)?.local ?? []) {
          if (OUTER_FOLDERS.some((folder) => next.startsWith(folder))) offences.push([...via, current, next].map(shown).join(' -> '));
          else walk(next, [...via, current]);
        }
      };
      walk(file, []);
    }
    expect(offences).toEqual([]);
  });

  it('the cycle finder reports a cycle of three modules and none in a chain', () => {
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });

  it('no module of src/ imports itself back through others (type-only imports included)', () => {
    const graph = new Map([...modules].map(([file, module]) => [file, module.local]));
    expect(findCycles(graph).map((cycle) => cycle.map(shown).join(' -> '))).toEqual([]);
  });
});
