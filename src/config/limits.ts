/** What one caller may ask of the gateway: documents, sockets, HTTP requests and rate limits. */
import type { RateLimitSettings } from '../domain/limits/limits';
import { ConfigError, type Env, integer } from './parse';

/** Limits every GraphQL document must keep, over HTTP and WebSocket alike (see `graphql/query-limits.ts`). */
export interface QueryLimits {
  /** Deepest field nesting, fragments flattened. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens of the whole document; parsing stops past it. */
  maxTokens: number;
  /** graphql-armor's static cost (objects 2, scalars 1, x1.5 per level, x `first` whether literal or a variable). */
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

export interface LimitSettings {
  queryLimits: QueryLimits;
  webSocket: WebSocketLimits;
  http: HttpServerLimits;
  /** Abuse limits (`limits/limits.ts`); a `limit` of 0 switches a rule off. */
  rateLimits: RateLimitSettings;
  /** Reverse proxies in front of the gateway whose `X-Forwarded-For` entries are trusted (`limits/client-address.ts`). */
  trustProxyHops: number;
}

export function limitSettings(env: Env): LimitSettings {
  const requestTimeoutMillis = integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000);
  const headersTimeoutMillis = integer(env, 'HTTP_HEADERS_TIMEOUT_MS', Math.min(20_000, requestTimeoutMillis), 100, 600_000);
  if (headersTimeoutMillis > requestTimeoutMillis) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMillis}) must not be larger than HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMillis}).`);
  }
  return {
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
    rateLimits: {
      userStarts: { limit: integer(env, 'RATE_LIMIT_USER_STARTS', 10, 0, 1_000_000), windowMillis: integer(env, 'RATE_LIMIT_USER_WINDOW_MS', 60_000, 10, 86_400_000) },
      deviceStarts: { limit: integer(env, 'RATE_LIMIT_DEVICE_STARTS', 5, 0, 1_000_000), windowMillis: integer(env, 'RATE_LIMIT_DEVICE_WINDOW_MS', 60_000, 10, 86_400_000) },
      unauthenticatedRequests: {
        limit: integer(env, 'RATE_LIMIT_UNAUTHENTICATED_REQUESTS', 60, 0, 1_000_000),
        windowMillis: integer(env, 'RATE_LIMIT_UNAUTHENTICATED_WINDOW_MS', 60_000, 10, 86_400_000),
      },
    },
    trustProxyHops: integer(env, 'TRUST_PROXY_HOPS', 0, 0, 10),
  };
}
