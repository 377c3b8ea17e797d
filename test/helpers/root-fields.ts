/**
 * The public operations are the root fields of the schema (`query.viewer`, `mutation.startLivenessSession`,
 * `subscription.sessionDecision`, …); these say which of them a document's operations call.
 */
import { Kind, type DocumentNode, type GraphQLSchema } from 'graphql';

/** `query.viewer`, `mutation.deleteLivenessSession`, …: every root field of the schema. */
export function publicOperations(schema: GraphQLSchema): string[] {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const;
  return roots.flatMap(([kind, type]) => Object.keys(type?.getFields() ?? {}).map((field) => `${kind}.${field}`)).sort();
}

/** The root fields the operations of `documents` select, in the same form. */
export function operationsCalled(...documents: DocumentNode[]): string[] {
  const called = new Set<string>();
  for (const document of documents) {
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const selection of definition.selectionSet.selections) {
        if (selection.kind === Kind.FIELD && !selection.name.value.startsWith('__')) called.add(`${definition.operation}.${selection.name.value}`);
      }
    }
  }
  return [...called].sort();
}
