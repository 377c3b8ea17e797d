/** How incoming JWTs are verified: the key, its algorithms, and the claims a token must carry. */
import { ConfigError, type Env, integer, optionalInteger, read, url } from './parse';

/** How incoming JWTs are verified; the algorithm list is pinned to the key kind. */
export type JwtKeyConfig =
  | { kind: 'secret'; secret: string; /** true when generated for development and kept in DATA_DIR */ generated: boolean }
  | { kind: 'publicKey'; publicKeyPem: string }
  | { kind: 'jwks'; jwksUrl: string };

export interface AuthSettings {
  /** `devSecret` means: generate one for development and keep it in DATA_DIR (resolved by `auth/dev-secret.ts`). */
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
}

export function authSettings(env: Env, production: boolean): AuthSettings {
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
  const jwt: AuthSettings['jwt'] = jwtSecret
    ? { kind: 'secret', secret: jwtSecret, generated: false }
    : jwtPublicKey
      ? { kind: 'publicKey', publicKeyPem: jwtPublicKey.replace(/\\n/g, '\n') }
      : jwtJwksUrl
        ? { kind: 'jwks', jwksUrl: jwtJwksUrl }
        : { kind: 'devSecret' };
  return {
    jwt,
    jwtIssuer: read(env, 'JWT_ISSUER'),
    jwtAudience: read(env, 'JWT_AUDIENCE'),
    jwtClockToleranceSeconds: integer(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 30, 0, 300),
    jwtMaxAgeSeconds: optionalInteger(env, 'JWT_MAX_AGE_SECONDS', 1, 366 * 24 * 3600),
    jwtJwksRefreshSeconds: integer(env, 'JWT_JWKS_REFRESH_SECONDS', 300, 1, 86_400),
    jwtJwksMissRefetchSeconds: integer(env, 'JWT_JWKS_MISS_REFETCH_SECONDS', 5, 1, 3_600),
  };
}
