/**
 * The WebSocket path's document cache (`checkDocument` in src/http/query-limits.ts): a text that
 * passed is parsed and validated once and its AST shared; the limits still decide every text, on
 * every send.
 */
import { print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionDecisionDocument } from '../../client/generated/graphql';
import type { QueryLimits } from '../../src/config';
import { buildGatewaySchema } from '../../src/graphql/schema';
import { createQueryGuard, DOCUMENT_CACHE_ENTRIES } from '../../src/graphql/query-limits';

const LIMITS: QueryLimits = { maxDepth: 10, maxAliases: 15, maxDirectives: 10, maxTokens: 1_000, maxCost: 5_000 };
const SUBSCRIPTION = print(SessionDecisionDocument);
const codes = (result: unknown) => (Array.isArray(result) ? result.map((error: { extensions: { code?: string } }) => error.extensions.code) : 'document');

let schema: Awaited<ReturnType<typeof buildGatewaySchema>>;
beforeAll(async () => {
  schema = await buildGatewaySchema();
});

describe('the WebSocket document cache', () => {
  it('the same text is parsed and validated once: every operation gets the one shared AST', () => {
    const guard = createQueryGuard(LIMITS, { introspection: false });
    const first = guard.checkDocument(schema, SUBSCRIPTION);
    expect(codes(first)).toBe('document');
    expect(guard.checkDocument(schema, SUBSCRIPTION)).toBe(first);
  });

  it('a text past the depth limit is refused on every send, and never kept', () => {
    const guard = createQueryGuard({ ...LIMITS, maxDepth: 2 }, { introspection: false });
    const deep = 'subscription ($id: ID!) { sessionDecision(sessionId: $id) { session { decision { verdict } } } }';
    for (let i = 0; i < 3; i += 1) expect(codes(guard.checkDocument(schema, deep))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(guard.checkDocument(schema, 'subscription ($id: ID!) { sessionDecision(sessionId: $id) { verdict } }'))).toBe('document');
  });

  it('a text a lenient guard accepted is still refused by a stricter guard: each keeps its own', () => {
    const lenient = createQueryGuard(LIMITS, { introspection: true });
    const strict = createQueryGuard({ ...LIMITS, maxTokens: 20, maxCost: 5 }, { introspection: false });
    const introspection = '{ __schema { queryType { name } } }';
    expect(codes(lenient.checkDocument(schema, SUBSCRIPTION))).toBe('document');
    expect(codes(lenient.checkDocument(schema, introspection))).toBe('document');
    expect(codes(strict.checkDocument(schema, SUBSCRIPTION))).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codes(strict.checkDocument(schema, introspection))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(strict.checkDocument(schema, introspection))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('a syntax error and an unknown field are refused on every send', () => {
    const guard = createQueryGuard(LIMITS, { introspection: false });
    for (let i = 0; i < 2; i += 1) {
      expect(codes(guard.checkDocument(schema, 'subscription { sessionDecision('))).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(codes(guard.checkDocument(schema, '{ nope }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    }
  });

  it('keeps a bounded number of texts: beyond it the oldest is parsed again, as a new AST', () => {
    const guard = createQueryGuard(LIMITS, { introspection: false });
    const first = guard.checkDocument(schema, SUBSCRIPTION);
    for (let i = 0; i < DOCUMENT_CACHE_ENTRIES; i += 1) guard.checkDocument(schema, `query Q${i} { viewer { userId } }`);
    const again = guard.checkDocument(schema, SUBSCRIPTION);
    expect(codes(again)).toBe('document');
    expect(again).not.toBe(first);
    expect(guard.checkDocument(schema, SUBSCRIPTION)).toBe(again);
  });
});
