/**
 * The cost limit once the variables are known (`checkCost` in src/graphql/query-limits.ts): every
 * page size counts as the number it will run with, passed as a variable or left to the field's
 * default, exactly as the same number written in the document does.
 */
import { parse } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import type { QueryLimits } from '../../src/config';
import { createQueryGuard } from '../../src/graphql/query-limits';
import { buildGatewaySchema } from '../../src/graphql/schema';

const LIMITS: QueryLimits = { maxDepth: 10, maxAliases: 15, maxDirectives: 10, maxTokens: 1_000, maxCost: 15_000 };
const NESTED_LITERAL = '{ sessions(first: 100) { edges { node { id auditTrail(first: 100) { edges { node { id } } } } } } }';
const NESTED = 'query ($a: Int, $b: Int) { sessions(first: $a) { edges { node { id auditTrail(first: $b) { edges { node { id } } } } } } }';

let schema: Awaited<ReturnType<typeof buildGatewaySchema>>;
beforeAll(async () => {
  schema = await buildGatewaySchema();
});

const guard = () => createQueryGuard(LIMITS, { introspection: false });
/** The cost the refusal reports, or 'runs'. */
function verdict(query: string, variables?: Record<string, unknown> | null, operationName?: string): string {
  const [error] = guard().checkCost(schema, parse(query), operationName, variables);
  return error ? error.message : 'runs';
}

describe('the cost of an operation with its variables', () => {
  it('a page size passed as a variable costs what the same number written in costs', () => {
    const literal = guard().checkDocument(schema, NESTED_LITERAL);
    expect(Array.isArray(literal)).toBe(true);
    const [literalError] = literal as { message: string }[];
    expect(verdict(NESTED, { a: 100, b: 100 })).toBe(literalError.message);
    expect(verdict(NESTED, { a: 100, b: 100 })).toMatch(/^Query Cost limit of 15000 exceeded, found \d+/);
  });

  const WITH_DEFAULTS = NESTED.replace('$a: Int, $b: Int', '$a: Int = 100, $b: Int = 100');
  it.each<[string, string, Record<string, unknown> | null | undefined, 'runs' | 'refused']>([
    ['small pages', NESTED, { a: 5, b: 5 }, 'runs'],
    ['large pages', NESTED, { a: 100, b: 100 }, 'refused'],
    ['a large page in a small one', NESTED, { a: 2, b: 100 }, 'runs'],
    ['no variables sent: the fields’ defaults (20 sessions, 50 events each) run', NESTED, undefined, 'refused'],
    ['null page sizes: the fields’ defaults', NESTED, { a: null, b: null }, 'refused'],
    ['page sizes that are not integers (graphql-js refuses them): the fields’ defaults', NESTED, { a: '100', b: 1.5 }, 'refused'],
    ['large pages as the variables’ defaults', WITH_DEFAULTS, {}, 'refused'],
    ['a sent value wins over the variable’s default', WITH_DEFAULTS, { a: 1, b: 1 }, 'runs'],
    [
      'large pages through a fragment',
      'query ($a: Int, $b: Int) { sessions(first: $a) { ...P } } fragment P on LivenessSessionConnection { edges { node { auditTrail(first: $b) { edges { node { id } } } } } }',
      { a: 100, b: 100 },
      'refused',
    ],
    ['a page size left out is the field’s default', '{ sessions(first: 40) { edges { node { id auditTrail { edges { node { id } } } } } } }', {}, 'refused'],
    ['small literal pages', '{ sessions(first: 5) { edges { node { id auditTrail(first: 5) { edges { node { id } } } } } } }', {}, 'runs'],
    ['large literal pages, counted here as in validation', NESTED_LITERAL, {}, 'refused'],
    ['one page of 100 sessions', 'query ($n: Int) { sessions(first: $n) { totalCount edges { node { id status } } } }', { n: 100 }, 'runs'],
  ])('%s', (_what, query, variables, expected) => {
    expect(verdict(query, variables) === 'runs' ? 'runs' : 'refused').toBe(expected);
  });

  it('the verdict is kept per page size, not per document only', () => {
    const shared = guard();
    const document = parse(NESTED);
    expect(shared.checkCost(schema, document, undefined, { a: 2, b: 2 })).toEqual([]);
    expect(shared.checkCost(schema, document, undefined, { a: 100, b: 100 })).toHaveLength(1);
    expect(shared.checkCost(schema, document, undefined, { a: 2, b: 2 })).toEqual([]);
  });

  it('only the operation that runs is counted, chosen by its name', () => {
    const two = `query Cheap { viewer { userId } } ${NESTED.replace('query ', 'query Costly')}`;
    expect(verdict(two, { a: 100, b: 100 }, 'Cheap')).toBe('runs');
    expect(verdict(two, { a: 100, b: 100 }, 'Costly')).toMatch(/Cost limit/);
  });

});
