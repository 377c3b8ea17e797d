/** The access line's path: an evidence link's secret never reaches the log, however the path is spelled. */
import { describe, expect, it } from 'vitest';
import { pathForLog } from '../../src/transport/request-id';

describe('pathForLog', () => {
  it('redacts an evidence link in every spelling the router serves as /evidence/…', () => {
    for (const url of ['/evidence/s3cret', '/./evidence/s3cret', '/a/../evidence/s3cret', '/%2e/evidence/s3cret', '/evidence/s3cret?x=1']) {
      expect(pathForLog(url), url).toBe('/evidence/[redacted]');
    }
  });

  it('keeps other paths, without their query', () => {
    expect(pathForLog('/graphql?query=x')).toBe('/graphql');
    expect(pathForLog('/healthz')).toBe('/healthz');
    expect(pathForLog(undefined)).toBe('/');
  });
});
