/**
 * Filters that name values of an enum (`statuses`, `actions`). Passed as variables, such a list
 * escapes every document limit, and each entry would become one bound parameter of the store's
 * query: tens of thousands of them held the event loop for seconds and then failed inside the
 * database. A list that names no value twice can never be longer than its enum, so a longer one is
 * refused before the store is asked, and the store only ever sees each value once.
 */
import { badInput } from './errors';

/** `values` without repeats; BAD_USER_INPUT if longer than `allowed` or naming a value outside it. */
export function distinctValues<T extends string>(field: string, values: readonly T[] | null | undefined, allowed: readonly T[]): T[] | undefined {
  if (values === null || values === undefined) return undefined;
  if (values.length > allowed.length) {
    throw badInput(`${field} may name at most ${allowed.length} values, each once; ${values.length} were given.`);
  }
  const distinct = [...new Set(values)];
  if (distinct.some((value) => !allowed.includes(value))) throw badInput(`${field} names a value that does not exist.`);
  return distinct;
}
