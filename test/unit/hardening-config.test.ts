/** The hardening settings (docs/security.md, "Limits"): defaults, overrides, and refusals that name the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

const NAMES = [
  'GRAPHQL_MAX_DEPTH',
  'GRAPHQL_MAX_ALIASES',
  'GRAPHQL_MAX_DIRECTIVES',
  'GRAPHQL_MAX_TOKENS',
  'GRAPHQL_MAX_COST',
  'WS_MAX_PAYLOAD_BYTES',
  'WS_MAX_SUBSCRIPTIONS',
  'WS_MAX_CONNECTIONS_PER_ADDRESS',
  'WS_KEEPALIVE_INTERVAL_MS',
  'AUDIT_FEED_BUFFER_EVENTS',
  'AUDIT_FEED_RECHECK_MS',
  'JWT_CLOCK_TOLERANCE_SECONDS',
  'JWT_MAX_AGE_SECONDS',
];

describe('hardening settings', () => {
  it('default to limits every documented operation fits, a 30 s clock tolerance and no maximum token age', () => {
    const config = loadConfig({});
    expect(config.queryLimits).toEqual({ maxDepth: 10, maxAliases: 15, maxDirectives: 10, maxTokens: 1_000, maxCost: 15_000 });
    expect(config.webSocket).toEqual({ maxPayloadBytes: 65_536, maxSubscriptionsPerConnection: 100, maxConnectionsPerAddress: 250, keepAliveMillis: 12_000, auditFeedBufferEvents: 1_000, auditFeedRecheckMillis: 5_000 });
    expect(config.jwtClockToleranceSeconds).toBe(30);
    expect(config.jwtMaxAgeSeconds).toBeUndefined();
    expect([config.jwtJwksRefreshSeconds, config.jwtJwksMissRefetchSeconds]).toEqual([300, 5]);
  });

  it('are read from the environment', () => {
    const config = loadConfig({
      GRAPHQL_MAX_DEPTH: '7',
      GRAPHQL_MAX_ALIASES: '0',
      GRAPHQL_MAX_DIRECTIVES: '3',
      GRAPHQL_MAX_TOKENS: '500',
      GRAPHQL_MAX_COST: '2000',
      WS_MAX_PAYLOAD_BYTES: '8192',
      WS_MAX_SUBSCRIPTIONS: '10',
      WS_MAX_CONNECTIONS_PER_ADDRESS: '20',
      WS_KEEPALIVE_INTERVAL_MS: '30000',
      AUDIT_FEED_BUFFER_EVENTS: '50',
      AUDIT_FEED_RECHECK_MS: '250',
      JWT_CLOCK_TOLERANCE_SECONDS: '0',
      JWT_MAX_AGE_SECONDS: '3600',
      JWT_JWKS_REFRESH_SECONDS: '60',
      JWT_JWKS_MISS_REFETCH_SECONDS: '2',
    });
    expect([config.jwtJwksRefreshSeconds, config.jwtJwksMissRefetchSeconds]).toEqual([60, 2]);
    expect(config.queryLimits).toEqual({ maxDepth: 7, maxAliases: 0, maxDirectives: 3, maxTokens: 500, maxCost: 2_000 });
    expect(config.webSocket).toEqual({ maxPayloadBytes: 8_192, maxSubscriptionsPerConnection: 10, maxConnectionsPerAddress: 20, keepAliveMillis: 30_000, auditFeedBufferEvents: 50, auditFeedRecheckMillis: 250 });
    expect(config.jwtClockToleranceSeconds).toBe(0);
    expect(config.jwtMaxAgeSeconds).toBe(3_600);
  });

  it('count empty values as unset', () => {
    const empty = loadConfig(Object.fromEntries(NAMES.map((name) => [name, ' '])));
    const unset = loadConfig({});
    expect([empty.queryLimits, empty.webSocket, empty.jwtClockToleranceSeconds, empty.jwtMaxAgeSeconds]).toEqual([
      unset.queryLimits,
      unset.webSocket,
      unset.jwtClockToleranceSeconds,
      unset.jwtMaxAgeSeconds,
    ]);
  });

  it.each([
    ['GRAPHQL_MAX_DEPTH', '0'],
    ['GRAPHQL_MAX_DEPTH', 'deep'],
    ['GRAPHQL_MAX_ALIASES', '-1'],
    ['GRAPHQL_MAX_TOKENS', '0'],
    ['GRAPHQL_MAX_COST', '1.5'],
    ['WS_MAX_PAYLOAD_BYTES', '100'],
    ['WS_MAX_SUBSCRIPTIONS', '0'],
    ['WS_MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['READINESS_CACHE_MS', '60001'],
    ['WS_KEEPALIVE_INTERVAL_MS', '10'],
    ['AUDIT_FEED_BUFFER_EVENTS', '0'],
    ['AUDIT_FEED_RECHECK_MS', '5'],
    ['JWT_CLOCK_TOLERANCE_SECONDS', '301'],
    ['JWT_MAX_AGE_SECONDS', '0'],
    ['JWT_MAX_AGE_SECONDS', 'a day'],
    ['JWT_JWKS_REFRESH_SECONDS', '0'],
    ['JWT_JWKS_MISS_REFETCH_SECONDS', 'soon'],
  ])('%s=%s stops the process with a sentence naming it', (name, value) => {
    expect(refusal({ [name]: value })).toMatch(new RegExp(`^${name} `));
  });
});
