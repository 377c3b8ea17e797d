/**
 * JWT verification, for `authenticate.ts` (HTTP, WebSocket `connection_init`, the audit export).
 *
 * The algorithm list is pinned to the configured key kind (RFC 8725 section 3.1): an HS secret
 * accepts HS256/384/512 only, an RSA key RS* and PS*, an EC key ES*. `exp` and `sub` are required,
 * `nbf` is honoured, all within a clock tolerance; with a maximum age, `iat` is required too (and
 * may not lie in the future) and `exp` may lie no further than that after it. Issuer and audience
 * are checked when configured, the audience exactly. Failures never say which check failed.
 */
import { createPublicKey, createSecretKey } from 'node:crypto';
import jwt, { type Algorithm, type GetPublicKeyOrSecret, type JwtPayload } from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import type { JwtKeyConfig } from '../config';
import { unauthenticated } from '../domain/errors';
import { JwksKeySet } from './jwks-key-set';
import { DEFAULT_TOKEN_CACHE_ENTRIES, VerifiedTokenCache, type VerifiedToken } from './verified-token-cache';
import { ROLES, type Role, type Viewer } from '../domain/viewer';
import { isPseudonym } from '../domain/audit/personal-fields';

const HMAC: Algorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC: Algorithm[] = ['ES256', 'ES384', 'ES512'];

export interface TokenVerifierOptions {
  issuer?: string;
  audience?: string;
  /** Leeway for `exp`, `nbf` and `iat`, for clocks that disagree a little. Default 30. */
  clockToleranceSeconds?: number;
  /** When set, a token must carry `iat` and is refused once older than this. */
  maxAgeSeconds?: number;
  /**
   * How many verified tokens to remember (`verified-token-cache.ts`); 0: none. Default 1,000 for a
   * secret or a public key. Never with JWKS: a key withdrawn from the set must stop working as soon
   * as the set is fetched without it, not when the tokens it signed expire.
   */
  cachedTokens?: number;
  /** When the key set of a JWKS URL is fetched (`jwks-key-set.ts`). */
  jwks?: JwksOptions;
}

export interface JwksOptions {
  /** The set is fetched again once this old. Default 300. */
  refreshSeconds?: number;
  /** An unknown `kid` fetches the set at most once per this interval, overall. Default 5. */
  missRefetchSeconds?: number;
  /** A fetch that failed (the keys known before stay in use). */
  onError?: (error: unknown) => void;
}

export const DEFAULT_JWKS_REFRESH_SECONDS = 300;
export const DEFAULT_JWKS_MISS_REFETCH_SECONDS = 5;

export interface TokenVerifier {
  /** Verifies a bare token (no scheme) and returns its viewer; throws UNAUTHENTICATED. */
  verify(token: string): Promise<Viewer>;
}

/** Extracts the token of an `Authorization: Bearer <token>` value; any other scheme is refused. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.?[A-Za-z0-9\-_.+/=]*)\s*$/i.exec(header.trim());
  if (!match) throw unauthenticated();
  return match[1];
}

export function createTokenVerifier(key: JwtKeyConfig, options: TokenVerifierOptions = {}): TokenVerifier {
  const { secretOrKey, algorithms } = keyMaterial(key, options.jwks ?? {});
  const toleranceSeconds = options.clockToleranceSeconds ?? 30;
  const verifyOptions: jwt.VerifyOptions = {
    algorithms,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: toleranceSeconds,
    ...(options.maxAgeSeconds !== undefined ? { maxAge: options.maxAgeSeconds } : {}),
  };
  const validity = { toleranceSeconds, maxAgeSeconds: options.maxAgeSeconds };
  const verifyOnce = (token: string) =>
    new Promise<VerifiedToken>((resolve, reject) => {
      jwt.verify(token, secretOrKey, verifyOptions, (error, payload) => {
        if (error || typeof payload !== 'object' || payload === null) return reject(unauthenticated());
        const claims: JwtPayload = payload;
        // jsonwebtoken measures the age from `iat` without asking whether `iat` lies in the future.
        if (options.maxAgeSeconds !== undefined && (claims.iat ?? Infinity) > Date.now() / 1000 + toleranceSeconds) return reject(unauthenticated());
        if (!withinLifetime(claims, options.maxAgeSeconds) || !exactAudience(claims.aud, options.audience)) return reject(unauthenticated());
        const viewer = viewerFromClaims(claims, validity);
        return viewer ? resolve({ viewer, validFromMillis: validFrom(claims, validity) }) : reject(unauthenticated());
      });
    });
  const cachedTokens = key.kind === 'jwks' ? 0 : (options.cachedTokens ?? DEFAULT_TOKEN_CACHE_ENTRIES);
  if (cachedTokens <= 0) return { verify: async (token) => (await verifyOnce(token)).viewer };
  const cache = new VerifiedTokenCache(cachedTokens);
  return {
    verify: async (token) => {
      const cached = cache.get(token);
      if (cached) return cached;
      const verified = await verifyOnce(token);
      cache.set(token, verified);
      return verified.viewer;
    },
  };
}

/**
 * jsonwebtoken accepts an `aud` list that merely contains ours (RFC 7519 allows lists); we ask for
 * exactly ours, a string or a list of it alone, because a token also addressed to another service
 * may be replayed by that service against us.
 */
function exactAudience(aud: JwtPayload['aud'], audience: string | undefined): boolean {
  if (audience === undefined) return true;
  return aud === audience || (Array.isArray(aud) && aud.length === 1 && aud[0] === audience);
}

/**
 * Under a maximum age, a token may not claim to live longer either (`exp: 1e300`): one stolen is then
 * worth that long at most, even where a later check trusts `exp` alone. Without one, `exp` is the
 * issuer's to choose.
 */
function withinLifetime(claims: JwtPayload, maxAgeSeconds: number | undefined): boolean {
  if (maxAgeSeconds === undefined) return true;
  if (typeof claims.exp !== 'number') return false;
  const issued = typeof claims.iat === 'number' ? claims.iat : Date.now() / 1000;
  return claims.exp - issued <= maxAgeSeconds;
}

/**
 * The first moment jsonwebtoken (and our `iat` check) accept the token: `nbf`, and `iat` under a
 * maximum age, less the tolerance. jsonwebtoken compares whole seconds (`floor(now / 1000)`), hence
 * the ceiling. Only a clock set back could bring a cached token before it.
 */
function validFrom(claims: JwtPayload, validity: { toleranceSeconds: number; maxAgeSeconds?: number }): number {
  const notBefore = typeof claims.nbf === 'number' ? Math.ceil(claims.nbf - validity.toleranceSeconds) * 1000 : -Infinity;
  const issued = validity.maxAgeSeconds !== undefined && typeof claims.iat === 'number' ? (claims.iat - validity.toleranceSeconds) * 1000 : -Infinity;
  return Math.max(notBefore, issued);
}

function keyMaterial(key: JwtKeyConfig, jwks: JwksOptions): { secretOrKey: jwt.Secret | GetPublicKeyOrSecret; algorithms: Algorithm[] } {
  switch (key.kind) {
    // KeyObjects made once: given a string, jsonwebtoken 9 first tries `createPublicKey` on it at
    // every verify (and fails, for a secret), which costs far more than the verification itself.
    case 'secret':
      return { secretOrKey: createSecretKey(Buffer.from(key.secret)), algorithms: HMAC };
    case 'publicKey': {
      const publicKey = createPublicKey(key.publicKeyPem);
      const type = publicKey.asymmetricKeyType;
      const algorithms = type === 'ec' ? EC : type === 'rsa' || type === 'rsa-pss' ? RSA : [];
      if (algorithms.length === 0) throw new Error(`JWT_PUBLIC_KEY is a ${type} key; only RSA and EC keys are supported.`);
      return { secretOrKey: publicKey, algorithms };
    }
    case 'jwks': {
      // `jku`, `x5u` and `jwk` headers are never looked at: keys come only from the configured URL.
      // jwks-rsa only reads the set (no cache, no rate limit of its own): when to read it is
      // `jwks-key-set.ts`'s business.
      const client = new JwksClient({ jwksUri: key.jwksUrl, cache: false, rateLimit: false, timeout: 5_000 });
      const keySet = new JwksKeySet({
        load: async () => (await client.getSigningKeys()).map((signingKey) => ({ kid: signingKey.kid ?? undefined, publicKey: signingKey.getPublicKey() })),
        refreshMillis: (jwks.refreshSeconds ?? DEFAULT_JWKS_REFRESH_SECONDS) * 1000,
        missRefetchMillis: (jwks.missRefetchSeconds ?? DEFAULT_JWKS_MISS_REFETCH_SECONDS) * 1000,
        onError: jwks.onError,
      });
      const getKey: GetPublicKeyOrSecret = (header, callback) => {
        keySet.find(header.kid).then(
          (publicKey) => (publicKey ? callback(null, publicKey) : callback(new Error('no key for this kid'))),
          (error: Error) => callback(error),
        );
      };
      return { secretOrKey: getKey, algorithms: [...RSA, ...EC] };
    }
  }
}

function viewerFromClaims(claims: JwtPayload, validity: { toleranceSeconds: number; maxAgeSeconds?: number }): Viewer | undefined {
  if (typeof claims.sub !== 'string' || claims.sub === '' || typeof claims.exp !== 'number') return undefined;
  // What an erased user's sessions and events name instead of the user: a token naming it would
  // read them, and a user with such a `sub` could never be erased.
  if (isPseudonym(claims.sub)) return undefined;
  const roles = parseRoles((claims as Record<string, unknown>).roles);
  const tenant = (claims as Record<string, unknown>).tenant;
  if (!roles || (tenant !== undefined && (typeof tenant !== 'string' || tenant === ''))) return undefined;
  // The moment jsonwebtoken would start refusing it: a WebSocket is closed then, not earlier or later.
  const tooOldAt = validity.maxAgeSeconds !== undefined && typeof claims.iat === 'number' ? claims.iat + validity.maxAgeSeconds : Infinity;
  const expiresAtMillis = (Math.min(claims.exp, tooOldAt) + validity.toleranceSeconds) * 1000;
  // Frozen: a cached viewer is shared by every request that sends the same token.
  Object.freeze(roles);
  return Object.freeze({ userId: claims.sub, tenant: tenant ?? 'default', roles, expiresAtMillis });
}

/** `roles` absent means `["user"]`; present, it must be an array of known role names. */
function parseRoles(value: unknown): Role[] | undefined {
  if (value === undefined) return ['USER'];
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const roles: Role[] = [];
  for (const item of value) {
    const role = typeof item === 'string' ? (item.toUpperCase() as Role) : undefined;
    if (!role || !ROLES.includes(role)) return undefined;
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

/** Signs a token with an HS secret; for the dev helpers (`npm run token`, the Sandbox header). */
export function signDevToken(
  secret: string,
  claims: { sub: string; roles?: string[]; tenant?: string },
  ttlSeconds = 12 * 3600,
  options: { issuer?: string; audience?: string } = {},
): string {
  return jwt.sign({ roles: claims.roles ?? ['user'], tenant: claims.tenant ?? 'default' }, secret, {
    algorithm: 'HS256',
    subject: claims.sub,
    expiresIn: ttlSeconds,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  });
}
