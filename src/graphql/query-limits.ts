/**
 * The limits every GraphQL document keeps, the same over HTTP and WebSocket: depth, aliases,
 * directives, cost, tokens, and introspection unless it is enabled. Apollo applies them to HTTP
 * requests (`parseOptions`, `validationRules`); graphql-ws validates with plain graphql-js unless
 * told otherwise, so the WebSocket transport parses and validates through `checkDocument` instead.
 *
 * Depth, aliases, directives and cost are graphql-armor's validation rules (reported, not thrown,
 * so graphql-js collects them with its own errors). Tokens are graphql-js's own parser limit: armor's
 * token plugin for Apollo throws from a plugin hook, which Apollo answers with a 500, while the
 * parser's `maxTokens` is a syntax error (400, BAD_USER_INPUT) on both transports.
 */
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  BREAK,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  visit,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { QueryLimits } from '../config';
import { pageSizeValue, pageSizeVariables, withPageSizesWritten } from './page-sizes';

/**
 * Introspection fields are left out of the depth and cost limits (Sandbox's introspection query is
 * 15 levels deep), but not left unbounded: introspection can nest `fields { type { fields … } } }`
 * as deep as tokens allow, so the whole document, introspection included, keeps this depth.
 */
export const INTROSPECTION_MAX_DEPTH = 16;

export interface QueryGuard {
  /** For Apollo Server's `parseOptions`. */
  parseOptions: ParseOptions;
  /** For Apollo Server's `validationRules`, introspection included (Apollo adds graphql-js's own rules). */
  validationRules: ValidationRule[];
  /**
   * Parses and validates a document as Apollo does over HTTP: graphql-js's rules and
   * `validationRules`. Errors carry Apollo's codes (GRAPHQL_PARSE_FAILED,
   * GRAPHQL_VALIDATION_FAILED), so both transports answer them alike.
   *
   * Documents that pass are kept by their text (at most `DOCUMENT_CACHE_ENTRIES` texts of
   * `DOCUMENT_CACHE_CHARS` characters in all, least recently used out first), as Apollo's document
   * store does over HTTP: the same text is parsed and validated once, and every operation that
   * sends it shares one read-only AST (graphql-js never changes a document). A document that fails
   * is checked again each time it is sent; a text longer than 1/16 of the budget is never kept.
   */
  checkDocument(schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[];
  /**
   * The cost limit once the variables are known, for a document that has passed validation: every
   * page size counts as the number it runs with, passed as a variable or left to the field's default
   * (`page-sizes.ts`). Both transports call it before executing; an empty list means the operation
   * may run. The error carries the code and message of the validation-time refusal, so a client sees
   * the same answer either way. Verdicts are kept per document (the transports share one AST per
   * text) and per page-size values, at most `COST_VERDICTS_PER_DOCUMENT` of them.
   */
  checkCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): readonly GraphQLError[];
}

/**
 * Checked documents kept per query guard. A client subscribes with a handful of texts, and each
 * subscription would otherwise hold its own parse of the same text (~14 KB with locations) and pay
 * its own validation.
 */
export const DOCUMENT_CACHE_ENTRIES = 200;
/**
 * The texts kept, in characters: a parsed document takes roughly 50 bytes per character of its text
 * (the 14 KB above), so the cache stays under ~15 MB however many large documents clients send.
 */
export const DOCUMENT_CACHE_CHARS = 256 * 1024;
/** Cost verdicts kept per document: a client pages with a few sizes; whoever sends many only fills this. */
export const COST_VERDICTS_PER_DOCUMENT = 32;

interface KnownCost {
  variables: string[];
  verdicts: Map<string, readonly GraphQLError[]>;
}

export function createQueryGuard(limits: QueryLimits, options: { introspection: boolean }): QueryGuard {
  const parseOptions: ParseOptions = { maxTokens: limits.maxTokens };
  const validationRules = [...armorRules(limits), ...(options.introspection ? [] : [noIntrospection])];
  const webSocketRules = [...specifiedRules, ...validationRules];
  const costRules = costRule(limits);
  let costs = new WeakMap<DocumentNode, KnownCost>();
  let costsAgainst: GraphQLSchema | undefined;
  const checked = new Map<string, DocumentNode>();
  let checkedChars = 0;
  let checkedAgainst: GraphQLSchema | undefined;

  const check = (schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[] => {
    let document: DocumentNode;
    try {
      document = parse(query, parseOptions);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
    }
    const errors = validate(schema, document, webSocketRules);
    return errors.length > 0 ? errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED')) : document;
  };

  return {
    parseOptions,
    validationRules,
    checkDocument(schema, query) {
      if (schema !== checkedAgainst) {
        checked.clear(); // validation is against one schema
        checkedChars = 0;
        checkedAgainst = schema;
      }
      const cached = checked.get(query);
      if (cached) {
        checked.delete(query);
        checked.set(query, cached);
        return cached;
      }
      const result = check(schema, query);
      if (!Array.isArray(result) && query.length <= DOCUMENT_CACHE_CHARS / 16) {
        checked.set(query, result);
        checkedChars += query.length;
        while (checked.size > DOCUMENT_CACHE_ENTRIES || checkedChars > DOCUMENT_CACHE_CHARS) {
          const oldest = checked.keys().next().value as string;
          checked.delete(oldest);
          checkedChars -= oldest.length;
        }
      }
      return result;
    },
    checkCost(schema, document, operationName, variables) {
      if (schema !== costsAgainst) {
        costs = new WeakMap(); // a cost is counted against one schema's field defaults
        costsAgainst = schema;
      }
      let known = costs.get(document);
      if (!known) {
        known = { variables: pageSizeVariables(document), verdicts: new Map() };
        costs.set(document, known);
      }
      const key = JSON.stringify([operationName ?? null, ...known.variables.map((name) => pageSizeValue(variables?.[name]))]);
      const kept = known.verdicts.get(key);
      if (kept) return kept;
      const written = withPageSizesWritten(schema, document, operationName, variables);
      const verdict = written ? validate(schema, written, costRules) : [];
      if (known.verdicts.size >= COST_VERDICTS_PER_DOCUMENT) known.verdicts.clear();
      known.verdicts.set(key, verdict);
      return verdict;
    },
  };
}

// Our own reporter instead of armor's: the same code Apollo gives graphql-js's validation errors,
// and no "Syntax Error:" prefix on what is not a syntax error.
const reportTo = (context: ValidationContext | null, error: GraphQLError) =>
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
const report = { propagateOnRejection: false, onReject: [reportTo] };
const costOptions = (limits: QueryLimits) => ({ maxCost: limits.maxCost, flattenFragments: true, ...report });

function armorRules(limits: QueryLimits): ValidationRule[] {
  const main = new ApolloArmor({
    blockFieldSuggestion: { enabled: false }, // hidden by the error formatter, on both transports, in production
    maxTokens: { enabled: false }, // the parser's maxTokens, see above
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...report },
    maxAliases: { n: limits.maxAliases, ...report },
    maxDirectives: { n: limits.maxDirectives, ...report },
    costLimit: costOptions(limits),
  }).protect().validationRules;
  const introspectionDepth = new ApolloArmor({
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    maxAliases: { enabled: false },
    maxDirectives: { enabled: false },
    costLimit: { enabled: false },
    maxDepth: {
      n: Math.max(limits.maxDepth, INTROSPECTION_MAX_DEPTH),
      flattenFragments: true,
      ignoreIntrospection: false,
      propagateOnRejection: false,
      // A deep document without __schema has already been refused by the main depth rule.
      onReject: [(context, error) => context && asksForSchema(context.getDocument()) && reportTo(context, error)],
    },
  }).protect().validationRules;
  return [...main, ...introspectionDepth];
}

/** The cost rule alone, as `armorRules` configures it, for `checkCost`. */
function costRule(limits: QueryLimits): ValidationRule[] {
  return new ApolloArmor({
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    maxDepth: { enabled: false },
    maxAliases: { enabled: false },
    maxDirectives: { enabled: false },
    costLimit: costOptions(limits),
  }).protect().validationRules;
}

/** Introspection refused, one error per `__schema` or `__type` field (what Apollo's `introspection: false` does). */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '__schema' || node.name.value === '__type') {
      context.reportError(new GraphQLError('GraphQL introspection is not allowed here, but the query contained __schema or __type.', { nodes: [node] }));
    }
  },
});

function asksForSchema(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema') found = true;
      return found ? BREAK : undefined;
    },
  });
  return found;
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code },
  });
}
