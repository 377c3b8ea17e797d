/**
 * The `DateTime` scalar: an instant goes out as `toISOString()` in UTC; any ISO-8601 date-time that
 * names its zone comes in (seconds optional), and anything else is refused with BAD_USER_INPUT,
 * whether it arrives as a variable or written into the query.
 */
import { describe, expect, it } from 'vitest';
import { GraphQLError, parseConstValue } from 'graphql';
import { DateTimeScalar } from '../../src/graphql/date-time.scalar';

const literal = (source: string) => DateTimeScalar.parseLiteral(parseConstValue(source));

function refusal(parse: () => unknown): GraphQLError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return error as GraphQLError;
  }
  throw new Error('expected the value to be refused');
}

describe('DateTime on the way out', () => {
  it('writes an instant in UTC with milliseconds', () => {
    expect(DateTimeScalar.serialize(new Date('2026-11-23T20:15:00+02:00'))).toBe('2026-11-23T18:15:00.000Z');
  });

  it.each([
    ['an invalid date', new Date(Number.NaN)],
    ['a string', '2026-11-23T18:15:00Z'],
    ['a number', 1_795_457_700_000],
  ])('refuses to write %s', (_case, value) => {
    expect(() => DateTimeScalar.serialize(value)).toThrow(/DateTime cannot represent/);
  });
});

describe('DateTime on the way in', () => {
  it.each([
    ['UTC with milliseconds', '2026-11-23T18:15:00.000Z', '2026-11-23T18:15:00.000Z'],
    ['UTC without a fraction', '2026-11-23T18:15:00Z', '2026-11-23T18:15:00.000Z'],
    ['UTC without seconds', '2026-11-23T18:15Z', '2026-11-23T18:15:00.000Z'],
    ['an offset', '2026-11-23T20:15:00+02:00', '2026-11-23T18:15:00.000Z'],
    ['an offset without seconds', '2026-11-23T13:15-05:00', '2026-11-23T18:15:00.000Z'],
    ['nanoseconds', '2026-11-23T18:15:00.123456789Z', '2026-11-23T18:15:00.123Z'],
  ])('reads %s, as a variable and as a literal', (_case, text, instant) => {
    expect((DateTimeScalar.parseValue(text) as Date).toISOString()).toBe(instant);
    expect((literal(JSON.stringify(text)) as Date).toISOString()).toBe(instant);
  });

  it.each([
    ['no zone', '2026-11-23T18:15:00'],
    ['a date alone', '2026-11-23'],
    ['a space for the T', '2026-11-23 18:15:00Z'],
    ['an offset without its colon', '2026-11-23T18:15:00+0200'],
    ['lower-case letters', '2026-11-23t18:15:00z'],
    ['plain words', 'yesterday'],
    ['an empty string', ''],
  ])('refuses %s with BAD_USER_INPUT', (_case, text) => {
    expect(refusal(() => DateTimeScalar.parseValue(text)).extensions.code).toBe('BAD_USER_INPUT');
    expect(refusal(() => literal(JSON.stringify(text))).extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a value that is not a string with BAD_USER_INPUT', () => {
    expect(refusal(() => DateTimeScalar.parseValue(1_795_457_700_000)).extensions.code).toBe('BAD_USER_INPUT');
    expect(refusal(() => literal('1795457700000')).extensions.code).toBe('BAD_USER_INPUT');
  });
});
