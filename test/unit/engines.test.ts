/**
 * `npm install` warns `EBADENGINE` for every package whose `engines.node` the running Node does not
 * satisfy. package-lock.json holds each installed package's `engines`, so the check needs no network:
 * every range must accept the Node this process runs and the one `.nvmrc` names. The ranges are read
 * with the few forms npm packages use (`>=`, `>`, `<`, `<=`, `^`, `~`, x-ranges, `||`), by hand, so
 * the test leans on no package the project does not declare.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
type Version = [number, number, number];

function version(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** One comparator (`>=20.19`, `^22.13.0`, `20.x`, `*` …) against `v`. */
function comparator(v: Version, text: string): boolean {
  const [, op = '', rest] = /^(>=|<=|>|<|\^|~|=)?\s*(.*)$/.exec(text)!;
  const parts = rest.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : undefined));
  const given = parts.findIndex((part) => part === undefined);
  const defined = given === -1 ? parts.length : given;
  const floor: Version = [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
  const order = compare(v, floor);
  const samePrefix = (n: number) => floor.slice(0, n).every((part, i) => v[i] === part);
  switch (op) {
    case '>=':
      return order >= 0;
    case '>':
      return order > 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '^':
      return order >= 0 && samePrefix(floor[0] > 0 ? 1 : floor[1] > 0 ? 2 : 3);
    case '~':
      return order >= 0 && samePrefix(Math.min(2, Math.max(1, defined)));
    default:
      return samePrefix(Math.min(3, defined));
  }
}

/** Whether `v` satisfies a whole range: `||` of space-separated comparators. */
function satisfies(v: Version, range: string): boolean {
  return range.split('||').some((set) =>
    set
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((part) => comparator(v, part)),
  );
}

const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
const ranges = Object.entries(lock.packages).flatMap(([name, entry]) => {
  const node = entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
  return node ? [{ name: name || 'liveness-gateway', range: node }] : [];
});

describe('engines', () => {
  it('reads the range forms npm packages use', () => {
    expect(satisfies(version('20.20.2'), '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies(version('20.18.1'), '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies(version('20.20.2'), '>=23.5.0 || ^22.13.0')).toBe(false);
    expect(satisfies(version('20.20.2'), '20.x || 22.x')).toBe(true);
    expect(satisfies(version('20.20.2'), '>= 10.x')).toBe(true);
    expect(satisfies(version('20.20.2'), '^12.20 || >= 14.13')).toBe(true);
    expect(satisfies(version('20.20.2'), '~20.19')).toBe(false);
    expect(satisfies(version('20.20.2'), '*')).toBe(true);
    expect(satisfies(version('20.20.2'), '18 || >=22')).toBe(false);
  });

  it('every installed package accepts the Node running this test, so npm install prints no EBADENGINE', () => {
    expect(ranges.length).toBeGreaterThan(50);
    expect(ranges.filter(({ range }) => !satisfies(version(process.versions.node), range))).toEqual([]);
  });

  it('every installed package, and package.json, accepts the Node that .nvmrc names', () => {
    const nvmrc = fs.readFileSync(path.join(root, '.nvmrc'), 'utf8').trim();
    expect(nvmrc).toMatch(/^\d+\.\d+$/);
    expect(ranges.filter(({ range }) => !satisfies(version(nvmrc), range))).toEqual([]);
  });
});
