/** CORS_ORIGINS and CORS_ALLOW_CREDENTIALS as docs/configuration.md describes them: exact origins only, none by default. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

describe('CORS settings', () => {
  it('no origin is allowed and credentials are off by default', () => {
    expect(loadConfig({})).toMatchObject({ corsOrigins: [], corsAllowCredentials: false });
  });

  it('a comma-separated list of exact origins is read, spaces and repeats ignored', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://app.example.com', CORS_ALLOW_CREDENTIALS: 'true' });
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.corsAllowCredentials).toBe(true);
  });

  it.each([
    ['*', 'a wildcard'],
    ['https://*.example.com', 'a pattern'],
    ['https://app.example.com/', 'a trailing slash'],
    ['https://app.example.com/spa', 'a path'],
    ['https://app.example.com:443', "the scheme's default port, which browsers leave out of Origin"],
    ['https://App.Example.com', 'capitals, which browsers lower-case'],
    ['app.example.com', 'no scheme'],
    ['ftp://files.example.com', 'a scheme other than http and https'],
  ])('%s is refused, naming the variable (%s)', (entry) => {
    expect(() => loadConfig({ CORS_ORIGINS: `https://ok.example.com,${entry}` })).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: entry })).toThrow(/^CORS_ORIGINS must list exact origins/);
  });
});
