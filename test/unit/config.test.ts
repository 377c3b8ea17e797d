/** The environment as docs/configuration.md describes it: defaults, validation that names the variable. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

const SECRET = 'an-hmac-secret-of-at-least-32-bytes!!';
const IDEMPOTENCY_SECRET = Buffer.alloc(32, 7).toString('base64');
const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: SECRET,
  FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com',
  IDEMPOTENCY_KEY_SECRET: IDEMPOTENCY_SECRET,
  EVIDENCE_KEY: Buffer.alloc(32, 9).toString('base64'),
};

/** The ConfigError `env` is refused with. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('defaults', () => {
  it('an empty environment serves on 0.0.0.0:4000 with the embedded defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      production: false,
      dataDir: path.resolve('./data'),
      databaseUrl: undefined,
      redisUrl: undefined,
      face: { mode: 'emulator' },
      jwt: { kind: 'devSecret' },
      jwtIssuer: undefined,
      jwtAudience: undefined,
      sandboxEnabled: true,
      introspectionEnabled: true,
      logLevel: 'info',
    });
  });

  it('polling starts quick and backs off to a larger, bounded gap by default', () => {
    const { pollIntervalMillis, pollMaxIntervalMillis, expirySweepIntervalMillis, faceTimeoutMillis, faceMaxRetries } = loadConfig({});
    expect(pollIntervalMillis).toBe(500);
    expect(pollMaxIntervalMillis).toBe(5_000);
    expect(expirySweepIntervalMillis).toBe(5_000);
    expect(faceTimeoutMillis).toBe(10_000);
    expect(faceMaxRetries).toBe(3);
  });

  it('every setting is read from the environment given', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: '/tmp/gateway-data',
      FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com/',
      FACE_APIKEY: 'key',
      JWT_SECRET: SECRET,
      JWT_ISSUER: 'https://issuer.example',
      JWT_AUDIENCE: 'liveness',
      POLL_INTERVAL_MS: '250',
      POLL_MAX_INTERVAL_MS: '1000',
      LOG_LEVEL: 'WARN',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      dataDir: '/tmp/gateway-data',
      face: { mode: 'azure', endpoint: 'https://example.cognitiveservices.azure.com', apiKey: 'key' },
      jwt: { kind: 'secret', secret: SECRET, generated: false },
      jwtIssuer: 'https://issuer.example',
      jwtAudience: 'liveness',
      pollIntervalMillis: 250,
      pollMaxIntervalMillis: 1000,
      logLevel: 'warn',
    });
  });

  it('a Face endpoint without a key means Microsoft Entra ID', () => {
    expect(loadConfig({ FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com' }).face).toEqual({
      mode: 'azure',
      endpoint: 'https://example.cognitiveservices.azure.com',
      apiKey: undefined,
    });
  });
});

describe('empty strings count as unset', () => {
  it.each(['', '   '])('every variable set to %j behaves as if it were not set', (blank) => {
    const names = [
      'PORT', 'HOST', 'NODE_ENV', 'DATA_DIR', 'DATABASE_URL', 'REDIS_URL', 'FACE_ENDPOINT', 'FACE_APIKEY', 'FACE_EMULATOR',
      'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'POLL_INTERVAL_MS', 'POLL_MAX_INTERVAL_MS',
      'EXPIRY_SWEEP_INTERVAL_MS', 'LOG_LEVEL', 'ENABLE_SANDBOX', 'ENABLE_INTROSPECTION',
    ];
    const env = Object.fromEntries(names.map((name) => [name, blank]));
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });
});

describe('bad values stop the process with a sentence naming the variable', () => {
  it.each(['abc', '-1', '4000.5', '65536', '0x10'])('PORT=%s', (value) => {
    expect(refusal({ PORT: value }).message).toMatch(/^PORT /);
  });

  it.each([
    ['POLL_INTERVAL_MS', 'soon'],
    ['POLL_INTERVAL_MS', '0'],
    ['POLL_INTERVAL_MS', '1.5'],
    ['POLL_MAX_INTERVAL_MS', 'later'],
    ['POLL_MAX_INTERVAL_MS', '-100'],
    ['EXPIRY_SWEEP_INTERVAL_MS', 'often'],
  ])('%s=%s', (name, value) => {
    expect(refusal({ [name]: value }).message).toMatch(new RegExp(`^${name} `));
  });

  it('a largest poll gap smaller than the first names both variables', () => {
    const { message } = refusal({ POLL_INTERVAL_MS: '1000', POLL_MAX_INTERVAL_MS: '500' });
    expect(message).toContain('POLL_MAX_INTERVAL_MS');
    expect(message).toContain('POLL_INTERVAL_MS (1000)');
  });

  it('a Face endpoint that is not an http(s) URL names FACE_ENDPOINT', () => {
    expect(refusal({ FACE_ENDPOINT: 'not a url' }).message).toMatch(/^FACE_ENDPOINT /);
    expect(refusal({ FACE_ENDPOINT: 'ftp://example.com' }).message).toMatch(/^FACE_ENDPOINT /);
  });

  it('an http:// Face endpoint needs FACE_APIKEY (Entra ID tokens go over https only); https:// does not', () => {
    expect(refusal({ FACE_ENDPOINT: 'http://127.0.0.1:4100' }).message).toMatch(/^FACE_APIKEY must be set when FACE_ENDPOINT is an http:\/\/ URL/);
    expect(refusal({ FACE_ENDPOINT: 'HTTP://127.0.0.1:4100', FACE_APIKEY: ' ' }).message).toMatch(/^FACE_APIKEY must be set/);
    expect(loadConfig({ FACE_ENDPOINT: 'http://127.0.0.1:4100', FACE_APIKEY: 'local-key' }).face).toEqual({ mode: 'azure', endpoint: 'http://127.0.0.1:4100', apiKey: 'local-key' });
    expect(loadConfig({ FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com' }).face).toMatchObject({ mode: 'azure', apiKey: undefined });
  });

  it('the emulator and a Face endpoint together are refused', () => {
    expect(refusal({ FACE_EMULATOR: 'true', FACE_ENDPOINT: 'https://example.cognitiveservices.azure.com' }).message).toMatch(/FACE_EMULATOR.*FACE_ENDPOINT/);
  });

  it('two JWT key settings together are refused, naming both', () => {
    const { message } = refusal({ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://issuer.example/jwks.json' });
    expect(message).toContain('JWT_SECRET and JWT_JWKS_URL');
  });

  it('an HMAC secret shorter than 32 bytes is refused', () => {
    expect(refusal({ JWT_SECRET: 'short' }).message).toMatch(/^JWT_SECRET /);
  });

  it('a boolean that is not one names the variable', () => {
    expect(refusal({ ENABLE_SANDBOX: 'maybe' }).message).toMatch(/^ENABLE_SANDBOX /);
  });

  it('an unknown log level names LOG_LEVEL', () => {
    expect(refusal({ LOG_LEVEL: 'loud' }).message).toMatch(/^LOG_LEVEL /);
  });
});

describe('production', () => {
  it('with real JWT and Face settings, starts without the dev conveniences', () => {
    const config = loadConfig(PRODUCTION);
    expect(config).toMatchObject({ production: true, sandboxEnabled: false, introspectionEnabled: false, face: { mode: 'azure' } });
  });

  it('refuses to start without JWT settings', () => {
    const { JWT_SECRET: _secret, ...withoutJwt } = PRODUCTION;
    expect(refusal(withoutJwt).message).toMatch(/JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set when NODE_ENV=production/);
  });

  it('accepts a JWKS URL or a public key as its JWT settings', () => {
    const { JWT_SECRET: _secret, ...withoutSecret } = PRODUCTION;
    expect(loadConfig({ ...withoutSecret, JWT_JWKS_URL: 'https://issuer.example/jwks.json' }).jwt).toEqual({
      kind: 'jwks',
      jwksUrl: 'https://issuer.example/jwks.json',
    });
    const pem = '-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----';
    expect(loadConfig({ ...withoutSecret, JWT_PUBLIC_KEY: pem }).jwt).toEqual({
      kind: 'publicKey',
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----',
    });
  });

  it('refuses to start without FACE_ENDPOINT', () => {
    const { FACE_ENDPOINT: _endpoint, ...withoutFace } = PRODUCTION;
    expect(refusal(withoutFace).message).toMatch(/^FACE_ENDPOINT must be set when NODE_ENV=production/);
  });

  it('runs the built-in emulator only when FACE_EMULATOR=true says so', () => {
    const { FACE_ENDPOINT: _endpoint, ...withoutFace } = PRODUCTION;
    expect(refusal({ ...withoutFace, FACE_EMULATOR: 'false' }).message).toMatch(/^FACE_ENDPOINT /);
    expect(loadConfig({ ...withoutFace, FACE_EMULATOR: 'true', FACE_EMULATOR_KEY: 'k' }).face).toEqual({
      mode: 'emulator',
      emulatorKey: 'k',
      emulatorMaxSessions: 10_000,
      emulatorTransactionsPerSecond: undefined,
      emulatorMaxAttempts: 3,
    });
    expect(refusal({ ...withoutFace, FACE_EMULATOR: 'true' }).message).toMatch(/^FACE_EMULATOR_KEY must be set when NODE_ENV=production/);
  });

  it('may turn the Sandbox back on explicitly', () => {
    expect(loadConfig({ ...PRODUCTION, ENABLE_SANDBOX: 'true' })).toMatchObject({ sandboxEnabled: true, introspectionEnabled: true });
  });
});

describe('abuse limits, Face resilience and idempotency', () => {
  it('ship with limits a real product would use by default', () => {
    const config = loadConfig({});
    expect(config.rateLimits).toEqual({
      userStarts: { limit: 10, windowMillis: 60_000 },
      deviceStarts: { limit: 5, windowMillis: 60_000 },
      unauthenticatedRequests: { limit: 60, windowMillis: 60_000 },
    });
    expect(config).toMatchObject({
      trustProxyHops: 0,
      faceTotalTimeoutMillis: 25_000,
      faceMaxCallsPerSecond: 10,
      faceBreaker: { failureThreshold: 5, coolDownMillis: 30_000 },
      idempotencySecret: { kind: 'devKey' },
    });
  });

  it('reads every limit, the Face budget, cap and breaker, and the idempotency secret from the environment', () => {
    const config = loadConfig({
      RATE_LIMIT_USER_STARTS: '3',
      RATE_LIMIT_USER_WINDOW_MS: '1000',
      RATE_LIMIT_DEVICE_STARTS: '2',
      RATE_LIMIT_DEVICE_WINDOW_MS: '2000',
      RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '0',
      RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS: '3000',
      TRUST_PROXY_HOPS: '1',
      FACE_TOTAL_TIMEOUT_MS: '5000',
      FACE_MAX_CALLS_PER_SECOND: '4',
      FACE_BREAKER_FAILURES: '2',
      FACE_BREAKER_COOLDOWN_MS: '500',
      IDEMPOTENCY_KEY_SECRET: IDEMPOTENCY_SECRET,
    });
    expect(config.rateLimits).toEqual({
      userStarts: { limit: 3, windowMillis: 1_000 },
      deviceStarts: { limit: 2, windowMillis: 2_000 },
      unauthenticatedRequests: { limit: 0, windowMillis: 3_000 },
    });
    expect(config).toMatchObject({ trustProxyHops: 1, faceTotalTimeoutMillis: 5_000, faceMaxCallsPerSecond: 4, faceBreaker: { failureThreshold: 2, coolDownMillis: 500 } });
    expect(config.idempotencySecret).toEqual({ kind: 'configured', key: Buffer.alloc(32, 7) });
  });

  it('refuses to start in production without IDEMPOTENCY_KEY_SECRET', () => {
    const { IDEMPOTENCY_KEY_SECRET: _secret, ...withoutSecret } = PRODUCTION;
    expect(refusal(withoutSecret).message).toMatch(/^IDEMPOTENCY_KEY_SECRET must be set when NODE_ENV=production/);
  });

  it.each([
    ['16 bytes', Buffer.alloc(16, 1).toString('base64')],
    ['33 bytes', Buffer.alloc(33, 1).toString('base64')],
    ['text that is not base64', 'this is not base64 but is long enough to be 32 bytes!'],
  ])('refuses an IDEMPOTENCY_KEY_SECRET of %s, naming it', (_case, value) => {
    expect(refusal({ IDEMPOTENCY_KEY_SECRET: value }).message).toMatch(/^IDEMPOTENCY_KEY_SECRET must be the base64 of exactly 32 bytes/);
  });

  it('refuses to start in production without EVIDENCE_KEY, and keeps the one given', () => {
    const { EVIDENCE_KEY: _key, ...withoutKey } = PRODUCTION;
    expect(refusal(withoutKey).message).toMatch(/^EVIDENCE_KEY must be set when NODE_ENV=production/);
    expect(loadConfig(PRODUCTION).evidenceKey).toEqual({ kind: 'configured', key: Buffer.alloc(32, 9) });
    expect(loadConfig({}).evidenceKey).toEqual({ kind: 'devKey' });
  });

  it.each([
    ['16 bytes', Buffer.alloc(16, 1).toString('base64')],
    ['text that is not base64', 'this is not base64 but is long enough to be 32 bytes!'],
  ])('refuses an EVIDENCE_KEY of %s, naming it', (_case, value) => {
    expect(refusal({ EVIDENCE_KEY: value }).message).toMatch(/^EVIDENCE_KEY must be the base64 of exactly 32 bytes/);
  });

  it('keeps session images 30 days, links 60 s, and deletes decided sessions at Face, unless told otherwise', () => {
    expect(loadConfig({})).toMatchObject({ evidenceRetentionMillis: 30 * 86_400_000, evidenceLinkTtlMillis: 60_000, faceDeleteAfterDecision: true });
    expect(loadConfig({ EVIDENCE_RETENTION_DAYS: '7', EVIDENCE_LINK_TTL_SECONDS: '30', FACE_DELETE_AFTER_DECISION: 'false' })).toMatchObject({
      evidenceRetentionMillis: 7 * 86_400_000,
      evidenceLinkTtlMillis: 30_000,
      faceDeleteAfterDecision: false,
    });
    expect(refusal({ EVIDENCE_RETENTION_DAYS: '0' }).message).toMatch(/^EVIDENCE_RETENTION_DAYS must be between 1 and 3650/);
    expect(refusal({ FACE_DELETE_AFTER_DECISION: 'maybe' }).message).toMatch(/^FACE_DELETE_AFTER_DECISION must be true or false/);
  });

  it.each([
    ['RATE_LIMIT_USER_STARTS', '-1'],
    ['RATE_LIMIT_DEVICE_WINDOW_MS', '5'],
    ['FACE_MAX_CALLS_PER_SECOND', 'ten'],
    ['FACE_TOTAL_TIMEOUT_MS', '10'],
    ['TRUST_PROXY_HOPS', '11'],
  ])('refuses a bad %s, naming it', (name, value) => {
    expect(refusal({ [name]: value }).message).toMatch(new RegExp(`^${name} `));
  });
});

describe('the HTTP server', () => {
  it('has request and header timeouts around 30 s, a keep-alive of 5 s, a connection cap and a small anonymous body limit by default', () => {
    expect(loadConfig({}).http).toEqual({
      headersTimeoutMillis: 20_000,
      requestTimeoutMillis: 30_000,
      keepAliveTimeoutMillis: 5_000,
      maxConnections: 5_000,
      anonymousBodyLimitBytes: 65_536,
    });
  });

  it('takes a short request timeout alone, with the headers timeout following it down', () => {
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '2000' }).http).toMatchObject({ headersTimeoutMillis: 2_000, requestTimeoutMillis: 2_000 });
  });

  it.each([
    ['HTTP_REQUEST_TIMEOUT_MS', '0'],
    ['HTTP_HEADERS_TIMEOUT_MS', 'soon'],
    ['HTTP_KEEPALIVE_TIMEOUT_MS', '-1'],
    ['HTTP_MAX_CONNECTIONS', '0'],
    ['HTTP_ANONYMOUS_BODY_LIMIT_BYTES', '100'],
    ['FACE_EMULATOR_MAX_SESSIONS', '0'],
  ])('%s=%s is refused naming the variable', (name, value) => {
    expect(refusal({ [name]: value }).message).toMatch(new RegExp(`^${name} `));
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(refusal({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '5000' }).message).toMatch(/^HTTP_HEADERS_TIMEOUT_MS \(5000\) must not be larger than HTTP_REQUEST_TIMEOUT_MS/);
  });
});
