/**
 * The page sizes an operation will run with, for the cost limit. graphql-armor's cost rule reads a
 * page size only where it is written in the document: `first: $n` counted as no page size at all,
 * so `first: $n` with `{"n": 100}` nested in another page of 100 ran what the same document with
 * literals is refused for, and a page size left out counted as 1 although the field's default (50 for
 * an audit trail) is what runs. Validation runs before the variables are known, so the cost is
 * counted again once they are, over a copy of the operation in which every page size is written in as
 * the number it will run with.
 */
import {
  getOperationAST,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type ValueNode,
} from 'graphql';

/** The arguments the cost rule multiplies a field's subtree by. */
const PAGE_SIZE_ARGUMENTS = new Set(['first', 'last']);

type Variables = Readonly<Record<string, unknown>> | null | undefined;

/** The names of the variables the document passes as page sizes, in a fixed order. */
export function pageSizeVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (PAGE_SIZE_ARGUMENTS.has(node.name.value) && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
      return false; // an argument's value holds no arguments
    },
  });
  return [...names].sort();
}

/** What a variable contributes as a page size: a whole number, or null (absent, null, or refused later by graphql-js). */
export function pageSizeValue(value: unknown): number | null {
  return Number.isSafeInteger(value) ? (value as number) : null;
}

/**
 * The operation that will run, with every fragment, each of its page-size arguments written in as the
 * number it runs with: the literal; a variable's value, else the variable's default; else the field's
 * default (an argument without any of these is left out, as graphql-js leaves it). Undefined when the
 * operation cannot be chosen (execution refuses that document anyway).
 */
export function withPageSizesWritten(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Variables): DocumentNode | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const variableDefaults = new Map<string, ValueNode | undefined>(
    (operation.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, definition.defaultValue]),
  );
  const fragments = document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION);
  const selected: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] };

  const valueOf = (given: ArgumentNode | undefined): ValueNode | undefined => {
    if (!given) return undefined;
    if (given.value.kind === Kind.INT) return given.value;
    if (given.value.kind !== Kind.VARIABLE) return undefined; // null: the field's default
    const name = given.value.name.value;
    const sent = pageSizeValue(variables?.[name]);
    if (sent !== null) return { kind: Kind.INT, value: String(sent) };
    const fallback = variableDefaults.get(name);
    return fallback?.kind === Kind.INT ? fallback : undefined;
  };

  const typeInfo = new TypeInfo(schema);
  return visit(
    selected,
    visitWithTypeInfo(typeInfo, {
      Field(node): FieldNode | undefined {
        const pageSizes = typeInfo.getFieldDef()?.args.filter((argument) => PAGE_SIZE_ARGUMENTS.has(argument.name));
        if (!pageSizes?.length) return undefined;
        const others = (node.arguments ?? []).filter((argument) => !PAGE_SIZE_ARGUMENTS.has(argument.name.value));
        const written: ArgumentNode[] = [];
        for (const definition of pageSizes) {
          const given = node.arguments?.find((argument) => argument.name.value === definition.name);
          const fieldDefault = Number.isSafeInteger(definition.defaultValue) ? { kind: Kind.INT, value: String(definition.defaultValue) } as const : undefined;
          const value = valueOf(given) ?? fieldDefault;
          if (value) written.push({ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: definition.name }, value });
        }
        return { ...node, arguments: [...others, ...written] };
      },
    }),
  );
}
