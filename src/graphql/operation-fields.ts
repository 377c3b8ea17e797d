/**
 * How many times an operation asks for one root field, aliases and fragments included: a costly field
 * that reads a whole store (`verifyAuditChain`) must not be multiplied by aliasing it. It counts what
 * the document writes, `@skip`/`@include` aside, so the answer is the same whatever the variables.
 */
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

export function rootFieldCount(info: Pick<GraphQLResolveInfo, 'operation' | 'fragments'>, fieldName: string): number {
  return countIn(info.operation.selectionSet, fieldName, info.fragments, new Set());
}

function countIn(set: SelectionSetNode, fieldName: string, fragments: Record<string, FragmentDefinitionNode>, visited: Set<string>): number {
  let count = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === fieldName) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countIn(selection.selectionSet, fieldName, fragments, visited);
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      // Validation refuses fragment cycles; the set only guards against spreading one twice.
      if (!fragment || visited.has(name)) continue;
      visited.add(name);
      count += countIn(fragment.selectionSet, fieldName, fragments, visited);
    }
  }
  return count;
}
