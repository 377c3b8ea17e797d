import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * `DateTime`: ISO-8601 in UTC on the way out; any ISO-8601 date-time with a zone on the way in.
 *
 * Not graphql-scalars' `DateTime`/`DateTimeISO` (a peer of type-graphql, so installed anyway): they
 * refuse a date-time without seconds (`2026-11-23T18:15Z`), which ISO-8601 allows and this API has
 * always accepted, they accept lower-case `t`/`z`, and their errors carry no BAD_USER_INPUT code.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant as ISO-8601 in UTC, e.g. 2026-11-23T18:15:00.000Z.',
  serialize(value) {
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError('DateTime cannot represent a non-date value');
    return value.toISOString();
  },
  parseValue(value) {
    return parse(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO-8601 string.', { extensions: { code: 'BAD_USER_INPUT' } });
    return parse(ast.value);
  },
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parse(value: unknown): Date {
  const date = typeof value === 'string' && ISO.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError('DateTime must be an ISO-8601 date-time with a time zone, e.g. 2026-11-23T18:15:00Z.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return date;
}
