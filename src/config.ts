/**
 * The one place that reads `process.env`. Every setting of docs/configuration.md (and the few the
 * project adds) is parsed, validated and given its unit here; a bad value stops the process with a
 * sentence that names the variable.
 */
import path from 'node:path';
import type { RateLimitSettings } from './domain/limits/limits';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** How incoming JWTs are verified; the algorithm list is pinned to the key kind. */
export type JwtKeyConfig =
  | { kind: 'secret'; secret: string; /** true when generated for development and kept in DATA_DIR */ generated: boolean }
  | { kind: 'publicKey'; publicKeyPem: string }
  | { kind: 'jwks'; jwksUrl: string };

export type FaceConfig =
  /** The built-in emulator, served under `/emulator` on the gateway's own port. */
  | {
      mode: 'emulator';
      emulatorKey?: string;
      /** Sessions it keeps; past it, the oldest is forgotten. */
      emulatorMaxSessions: number;
      /** Management calls per second it answers before `429` (as Azure throttles); undefined: no cap. */
      emulatorTransactionsPerSecond?: number;
      /** Device attempts per session it takes (Face: 3). */
      emulatorMaxAttempts: number;
    }
  | { mode: 'azure'; endpoint: string; apiKey?: string };

/** Limits every GraphQL document must keep, over HTTP and WebSocket alike (see `http/query-limits.ts`). */
export interface QueryLimits {
  /** Deepest field nesting, fragments flattened. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens of the whole document; parsing stops past it. */
  maxTokens: number;
  /** graphql-armor's static cost (objects 2, scalars 1, x1.5 per level, x a literal `first`). */
  maxCost: number;
}

/** graphql-transport-ws connections. */
export interface WebSocketLimits {
  /** Largest message a client may send (ws `maxPayload`); a larger one closes the socket with 1009. */
  maxPayloadBytes: number;
  /** Operations (subscriptions, or queries in flight) one connection may have at once. */
  maxSubscriptionsPerConnection: number;
  /** Sockets one client address may hold open at once; the next upgrade is refused with 429. */
  maxConnectionsPerAddress: number;
  /** A ping this often; a socket whose pong does not come within the same time is terminated. */
  keepAliveMillis: number;
  /**
   * Live events one `auditEvents` subscription may have waiting for a client that reads slowly; past
   * it the subscription ends with RATE_LIMITED and the client resumes with `afterSequence`.
   */
  auditFeedBufferEvents: number;
  /** How often the live audit feed reads its chains again without a notice: the longest delay a lost notice causes. */
  auditFeedRecheckMillis: number;
}

/** The node:http server's limits; past a timeout a request gets 408 and its connection is closed. */
export interface HttpServerLimits {
  /** Until the request's headers, then the whole request with its body, have arrived. */
  headersTimeoutMillis: number;
  requestTimeoutMillis: number;
  /** An idle keep-alive connection between two requests. */
  keepAliveTimeoutMillis: number;
  /** Open connections (WebSockets included) at once; one more is closed at once. */
  maxConnections: number;
  /** Largest body of a POST /graphql without a valid token; a valid token may send BODY_LIMIT_BYTES. */
  anonymousBodyLimitBytes: number;
}

/** Webhook delivery (`domain/webhooks/`): the dispatcher, its retries, and which addresses it may call. */
export interface WebhookSettings {
  dispatchIntervalMillis: number;
  /** One attempt as a whole: connecting, sending, and reading the (bounded) answer. */
  timeoutMillis: number;
  retryBaseDelayMillis: number;
  retryMaxDelayMillis: number;
  /** A delivery is tried for this long after the event; then it has failed. */
  retryHorizonMillis: number;
  /** Failed attempts in a row after which an endpoint is marked failing. */
  failingAfter: number;
  /** How long a rotated-out secret still signs, unless the rotation says otherwise. */
  secretOverlapMillis: number;
  /** CIDR ranges endpoints may resolve to although private, loopback or link-local (e.g. `127.0.0.0/8`). */
  allowedCidrs: string[];
  /** The tenant whose admins manage every tenant's endpoints; unset: each admin only its own tenant's. */
  globalAdminTenant?: string;
}

export interface GatewayConfig {
  port: number;
  host: string;
  production: boolean;
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL connections per gateway instance. */
  databasePoolSize: number;
  redisUrl?: string;
  /** Prefix of Redis channels and keys, so deployments can share one Redis. */
  redisPrefix: string;
  /** How long a session's poll lease lasts; another instance takes over that long after its poller died. */
  sessionLeaseMillis: number;
  face: FaceConfig;
  faceTimeoutMillis: number;
  faceMaxRetries: number;
  /** One Face call as a whole: every try, backoff and wait for a slot under the per-second cap. */
  faceTotalTimeoutMillis: number;
  /** Gateway-wide cap on HTTP requests to Face per second (Azure S0: 10 per resource); 0: no cap. */
  faceMaxCallsPerSecond: number;
  /** The circuit breaker around Face (`face/circuit-breaker.ts`); a threshold of 0 switches it off. */
  faceBreaker: { failureThreshold: number; coolDownMillis: number };
  /** Attempts a session may use; failed attempts up to it decide the session (Face allows 3). */
  livenessMaxAttempts: number;
  /** Whether `completeLivenessSession` must carry the device's digest (a tenant policy may override it later). */
  requireDeviceDigest: boolean;
  /** How long one `/readyz` answer is reused, so a flood of probes costs one check (`transport/health.ts`). */
  readinessCacheMillis: number;
  /** Abuse limits (`limits/limits.ts`); a `limit` of 0 switches a rule off. */
  rateLimits: RateLimitSettings;
  /** Reverse proxies in front of the gateway whose `X-Forwarded-For` entries are trusted (`limits/client-address.ts`). */
  trustProxyHops: number;
  /** Seals device tokens kept for idempotent starts; `devKey`: generated and kept in DATA_DIR (`idempotency/idempotency-secret.ts`). */
  idempotencySecret: { kind: 'configured'; key: Buffer } | { kind: 'devKey' };
  /** When the audit chain's head is also recorded as a signed checkpoint (`audit/seal.ts`): every N events or once the last is this old. */
  auditCheckpoints: { everyEvents: number; everyMillis: number };
  /** Seals session images kept as evidence (`EVIDENCE_KEY`); `devKey`: generated and kept in DATA_DIR (`secrets/evidence-key.ts`). */
  evidenceKey: { kind: 'configured'; key: Buffer } | { kind: 'devKey' };
  /** How long a stored session image is kept before the sweeper deletes it. */
  evidenceRetentionMillis: number;
  /** How long a one-time link to a session image stays usable. */
  evidenceLinkTtlMillis: number;
  /** Delete a session at Face once its decision (and its images) are stored. */
  faceDeleteAfterDecision: boolean;
  /** Undefined means: generate one for development and keep it in DATA_DIR (resolved by `auth/dev-secret.ts`). */
  jwt: JwtKeyConfig | { kind: 'devSecret' };
  jwtIssuer?: string;
  jwtAudience?: string;
  /** Leeway for `exp`, `nbf` (and `iat` with a maximum age), for clocks that disagree a little. */
  jwtClockToleranceSeconds: number;
  /** When set, tokens must carry `iat`, are refused once older than this, and may not claim to live longer. */
  jwtMaxAgeSeconds?: number;
  /** With a JWKS URL: the key set is fetched again once this old, and at most once per miss interval for unknown `kid`s. */
  jwtJwksRefreshSeconds: number;
  jwtJwksMissRefetchSeconds: number;
  queryLimits: QueryLimits;
  webSocket: WebSocketLimits;
  http: HttpServerLimits;
  pollIntervalMillis: number;
  pollMaxIntervalMillis: number;
  /** How often sessions past their `expiresAt` are looked for and given their EXPIRED decision. */
  expirySweepIntervalMillis: number;
  /** `GET /metrics` (Prometheus); with `metricsToken`, scrapes must carry it as a bearer token. */
  metricsEnabled: boolean;
  metricsToken?: string;
  /** Apollo Sandbox landing page and introspection. */
  sandboxEnabled: boolean;
  introspectionEnabled: boolean;
  /** The reference web client at /demo (src/web, built into dist/web). */
  webClientEnabled: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  webhooks: WebhookSettings;
}

type Env = Record<string, string | undefined>;

/** Empty strings count as unset, so `FOO= npm start` behaves like not setting FOO at all. */
function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}".`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}.`);
  return value;
}

function optionalInteger(env: Env, name: string, min: number, max: number): number | undefined {
  return read(env, name) === undefined ? undefined : integer(env, name, min, min, max);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got something else.`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}.`);
  }
  return raw.replace(/\/+$/, '');
}

/** A 32-byte key given as base64, required in production. */
function base64Key(env: Env, name: string, production: boolean): Buffer | undefined {
  const text = read(env, name);
  if (production && !text) throw new ConfigError(`${name} must be set when NODE_ENV=production (base64 of 32 random bytes, e.g. \`openssl rand -base64 32\`).`);
  if (text === undefined) return undefined;
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new ConfigError(`${name} must be the base64 of exactly 32 bytes (e.g. \`openssl rand -base64 32\`).`);
  return key;
}

/** Parses and validates the environment. Throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const production = read(env, 'NODE_ENV') === 'production';

  const faceEndpoint = url(env, 'FACE_ENDPOINT', ['https:', 'http:']);
  const emulatorOptIn = boolean(env, 'FACE_EMULATOR', false);
  if (faceEndpoint && emulatorOptIn) {
    throw new ConfigError('FACE_EMULATOR=true and FACE_ENDPOINT cannot both be set: choose the emulator or a Face endpoint.');
  }
  if (production && !faceEndpoint && !emulatorOptIn) {
    throw new ConfigError('FACE_ENDPOINT must be set when NODE_ENV=production (or set FACE_EMULATOR=true to run the built-in emulator on purpose).');
  }
  const face: FaceConfig = faceEndpoint
    ? { mode: 'azure', endpoint: faceEndpoint, apiKey: read(env, 'FACE_APIKEY') }
    : {
        mode: 'emulator',
        emulatorKey: read(env, 'FACE_EMULATOR_KEY'),
        emulatorMaxSessions: integer(env, 'FACE_EMULATOR_MAX_SESSIONS', 10_000, 1, 10_000_000),
        emulatorTransactionsPerSecond: optionalInteger(env, 'FACE_EMULATOR_TPS', 1, 100_000),
        emulatorMaxAttempts: integer(env, 'FACE_EMULATOR_MAX_ATTEMPTS', 3, 1, 100),
      };

  const jwtSecret = read(env, 'JWT_SECRET');
  const jwtPublicKey = read(env, 'JWT_PUBLIC_KEY');
  const jwtJwksUrl = url(env, 'JWT_JWKS_URL', ['https:', 'http:']);
  const keySettings = [jwtSecret && 'JWT_SECRET', jwtPublicKey && 'JWT_PUBLIC_KEY', jwtJwksUrl && 'JWT_JWKS_URL'].filter(Boolean);
  if (keySettings.length > 1) {
    throw new ConfigError(`Only one of JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL may be set; got ${keySettings.join(' and ')}.`);
  }
  if (production && keySettings.length === 0) {
    throw new ConfigError('One of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set when NODE_ENV=production.');
  }
  if (jwtSecret && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 bytes long (RFC 7518 section 3.2 for HS256).');
  }
  if (jwtPublicKey && !jwtPublicKey.includes('-----BEGIN')) {
    throw new ConfigError('JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----…).');
  }
  const jwt: GatewayConfig['jwt'] = jwtSecret
    ? { kind: 'secret', secret: jwtSecret, generated: false }
    : jwtPublicKey
      ? { kind: 'publicKey', publicKeyPem: jwtPublicKey.replace(/\\n/g, '\n') }
      : jwtJwksUrl
        ? { kind: 'jwks', jwksUrl: jwtJwksUrl }
        : { kind: 'devSecret' };

  // The emulator's management API is served on the gateway's public port: without a key of its own
  // it would create, read and delete sessions for anyone who can reach that port.
  if (production && face.mode === 'emulator' && face.emulatorKey === undefined) {
    throw new ConfigError('FACE_EMULATOR_KEY must be set when NODE_ENV=production and FACE_EMULATOR=true, or the emulator on the public port accepts any key.');
  }

  const idempotencySecretText = read(env, 'IDEMPOTENCY_KEY_SECRET');
  if (production && !idempotencySecretText) {
    throw new ConfigError('IDEMPOTENCY_KEY_SECRET must be set when NODE_ENV=production (base64 of 32 random bytes, e.g. `openssl rand -base64 32`).');
  }
  const idempotencyKey = idempotencySecretText === undefined ? undefined : Buffer.from(idempotencySecretText, 'base64');
  if (idempotencyKey && (idempotencyKey.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(idempotencySecretText ?? ''))) {
    throw new ConfigError('IDEMPOTENCY_KEY_SECRET must be the base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`).');
  }

  const evidenceKey = base64Key(env, 'EVIDENCE_KEY', production);

  const pollIntervalMillis = integer(env, 'POLL_INTERVAL_MS', 500, 10, 600_000);
  const pollMaxIntervalMillis = integer(env, 'POLL_MAX_INTERVAL_MS', 5_000, 10, 3_600_000);
  if (pollMaxIntervalMillis < pollIntervalMillis) {
    throw new ConfigError(`POLL_MAX_INTERVAL_MS (${pollMaxIntervalMillis}) must not be smaller than POLL_INTERVAL_MS (${pollIntervalMillis}).`);
  }

  const requestTimeoutMillis = integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000);
  const headersTimeoutMillis = integer(env, 'HTTP_HEADERS_TIMEOUT_MS', Math.min(20_000, requestTimeoutMillis), 100, 600_000);
  if (headersTimeoutMillis > requestTimeoutMillis) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMillis}) must not be larger than HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMillis}).`);
  }

  const logLevel = (read(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of debug, info, warn, error, silent; got "${logLevel}".`);
  }

  const sandboxEnabled = boolean(env, 'ENABLE_SANDBOX', !production);

  const metricsToken = read(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters, without spaces (e.g. `openssl rand -hex 24`).');
  }
  // In production the gateway's port usually faces the internet: /metrics is off there unless a
  // token guards it, or METRICS_ENABLED=true says the port is reached from inside only.
  const metricsEnabled = boolean(env, 'METRICS_ENABLED', !production || metricsToken !== undefined);

  return {
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host: read(env, 'HOST') ?? '0.0.0.0',
    production,
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1_000),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: read(env, 'REDIS_CHANNEL_PREFIX') ?? 'liveness-gateway:',
    sessionLeaseMillis: integer(env, 'SESSION_LEASE_MS', 15_000, 100, 600_000),
    face,
    faceTimeoutMillis: integer(env, 'FACE_TIMEOUT_MS', 10_000, 100, 120_000),
    faceMaxRetries: integer(env, 'FACE_MAX_RETRIES', 3, 0, 10),
    faceTotalTimeoutMillis: integer(env, 'FACE_TOTAL_TIMEOUT_MS', 25_000, 100, 600_000),
    faceMaxCallsPerSecond: integer(env, 'FACE_MAX_CALLS_PER_SECOND', 10, 0, 100_000),
    faceBreaker: {
      failureThreshold: integer(env, 'FACE_BREAKER_FAILURES', 5, 0, 1_000),
      coolDownMillis: integer(env, 'FACE_BREAKER_COOLDOWN_MS', 30_000, 10, 3_600_000),
    },
    livenessMaxAttempts: integer(env, 'LIVENESS_MAX_ATTEMPTS', 3, 1, 100),
    requireDeviceDigest: boolean(env, 'REQUIRE_DEVICE_DIGEST', false),
    readinessCacheMillis: integer(env, 'READINESS_CACHE_MS', 2_000, 0, 60_000),
    rateLimits: {
      userStarts: { limit: integer(env, 'RATE_LIMIT_USER_STARTS', 10, 0, 1_000_000), windowMillis: integer(env, 'RATE_LIMIT_USER_WINDOW_MS', 60_000, 10, 86_400_000) },
      deviceStarts: { limit: integer(env, 'RATE_LIMIT_DEVICE_STARTS', 5, 0, 1_000_000), windowMillis: integer(env, 'RATE_LIMIT_DEVICE_WINDOW_MS', 60_000, 10, 86_400_000) },
      unauthenticatedRequests: {
        limit: integer(env, 'RATE_LIMIT_UNAUTHENTICATED_REQUESTS', 60, 0, 1_000_000),
        windowMillis: integer(env, 'RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS', 60_000, 10, 86_400_000),
      },
    },
    trustProxyHops: integer(env, 'TRUST_PROXY_HOPS', 0, 0, 10),
    idempotencySecret: idempotencyKey ? { kind: 'configured', key: idempotencyKey } : { kind: 'devKey' },
    auditCheckpoints: {
      everyEvents: integer(env, 'AUDIT_CHECKPOINT_EVERY_EVENTS', 1_000, 1, 100_000_000),
      everyMillis: integer(env, 'AUDIT_CHECKPOINT_EVERY_MINUTES', 60, 1, 525_600) * 60_000,
    },
    evidenceKey: evidenceKey ? { kind: 'configured', key: evidenceKey } : { kind: 'devKey' },
    evidenceRetentionMillis: integer(env, 'EVIDENCE_RETENTION_DAYS', 30, 1, 3_650) * 86_400_000,
    evidenceLinkTtlMillis: integer(env, 'EVIDENCE_LINK_TTL_SECONDS', 60, 5, 3_600) * 1_000,
    faceDeleteAfterDecision: boolean(env, 'FACE_DELETE_AFTER_DECISION', true),
    jwt,
    jwtIssuer: read(env, 'JWT_ISSUER'),
    jwtAudience: read(env, 'JWT_AUDIENCE'),
    jwtClockToleranceSeconds: integer(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 30, 0, 300),
    jwtMaxAgeSeconds: optionalInteger(env, 'JWT_MAX_AGE_SECONDS', 1, 366 * 24 * 3600),
    jwtJwksRefreshSeconds: integer(env, 'JWT_JWKS_REFRESH_SECONDS', 300, 1, 86_400),
    jwtJwksMissRefetchSeconds: integer(env, 'JWT_JWKS_MISS_REFETCH_SECONDS', 5, 1, 3_600),
    queryLimits: {
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 10, 1, 1_000),
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1_000),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', 10, 0, 1_000),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', 1_000, 1, 1_000_000),
      // A page size passed as a variable counts as its value, so the documented listings must fit at
      // the largest page (100); pages nested in pages still cost many times this.
      maxCost: integer(env, 'GRAPHQL_MAX_COST', 15_000, 1, 100_000_000),
    },
    webSocket: {
      maxPayloadBytes: integer(env, 'WS_MAX_PAYLOAD_BYTES', 64 * 1024, 1_024, 100 * 1024 * 1024),
      maxSubscriptionsPerConnection: integer(env, 'WS_MAX_SUBSCRIPTIONS', 100, 1, 10_000),
      maxConnectionsPerAddress: integer(env, 'WS_MAX_CONNECTIONS_PER_ADDRESS', 250, 1, 1_000_000),
      keepAliveMillis: integer(env, 'WS_KEEPALIVE_INTERVAL_MS', 12_000, 50, 3_600_000),
      auditFeedBufferEvents: integer(env, 'AUDIT_FEED_BUFFER_EVENTS', 1_000, 1, 1_000_000),
      auditFeedRecheckMillis: integer(env, 'AUDIT_FEED_RECHECK_MS', 5_000, 10, 3_600_000),
    },
    http: {
      headersTimeoutMillis,
      requestTimeoutMillis,
      keepAliveTimeoutMillis: integer(env, 'HTTP_KEEPALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
      maxConnections: integer(env, 'HTTP_MAX_CONNECTIONS', 5_000, 1, 1_000_000),
      anonymousBodyLimitBytes: integer(env, 'HTTP_ANONYMOUS_BODY_LIMIT_BYTES', 64 * 1024, 1_024, 10 * 1024 * 1024),
    },
    pollIntervalMillis,
    pollMaxIntervalMillis,
    expirySweepIntervalMillis: integer(env, 'EXPIRY_SWEEP_INTERVAL_MS', 5_000, 10, 3_600_000),
    metricsEnabled,
    metricsToken,
    sandboxEnabled,
    introspectionEnabled: boolean(env, 'ENABLE_INTROSPECTION', sandboxEnabled),
    webClientEnabled: boolean(env, 'ENABLE_WEB_CLIENT', !production),
    logLevel: logLevel as GatewayConfig['logLevel'],
    webhooks: webhookSettings(env),
  };
}

function webhookSettings(env: Env): WebhookSettings {
  const allowedCidrs = (read(env, 'WEBHOOK_ALLOWED_CIDRS') ?? '').split(',').map((cidr) => cidr.trim()).filter(Boolean);
  for (const cidr of allowedCidrs) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(cidr)) throw new ConfigError(`WEBHOOK_ALLOWED_CIDRS must be a comma-separated list of CIDR ranges (e.g. 127.0.0.0/8), got "${cidr}".`);
  }
  return {
    dispatchIntervalMillis: integer(env, 'WEBHOOK_DISPATCH_INTERVAL_MS', 1_000, 10, 600_000),
    timeoutMillis: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    retryBaseDelayMillis: integer(env, 'WEBHOOK_RETRY_BASE_MS', 5_000, 1, 3_600_000),
    retryMaxDelayMillis: integer(env, 'WEBHOOK_RETRY_MAX_DELAY_MS', 3_600_000, 1, 86_400_000),
    retryHorizonMillis: integer(env, 'WEBHOOK_RETRY_HORIZON_MS', 86_400_000, 1_000, 7 * 86_400_000),
    failingAfter: integer(env, 'WEBHOOK_FAILING_AFTER', 5, 1, 1_000),
    secretOverlapMillis: integer(env, 'WEBHOOK_SECRET_OVERLAP_MS', 86_400_000, 0, 30 * 86_400_000),
    allowedCidrs,
    globalAdminTenant: read(env, 'GLOBAL_ADMIN_TENANT'),
  };
}
