/**
 * The app-user tokens the gateway accepts (a shared secret, a public key or a JWKS, with the
 * configured issuer, audience and clock rules), and the development token it may offer.
 */
import { createTokenVerifier, signDevToken, type TokenVerifier } from '../auth/jwt';
import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import { resolveJwtKey } from '../secrets/dev-jwt-secret';

export function createTokens(config: GatewayConfig, logger: Logger): { verifier: TokenVerifier; devToken?: string } {
  const jwtKey = resolveJwtKey(config);
  const verifier = createTokenVerifier(jwtKey, {
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockToleranceSeconds: config.jwtClockToleranceSeconds,
    maxAgeSeconds: config.jwtMaxAgeSeconds,
    jwks: {
      refreshSeconds: config.jwtJwksRefreshSeconds,
      missRefetchSeconds: config.jwtJwksMissRefetchSeconds,
      onError: (error) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'the JWKS key set could not be fetched; the keys known before stay in use'),
    },
  });
  // Only with the secret the gateway generated itself: with an operator's own JWT_SECRET the token
  // would be a real credential (user and auditor, 12 h) handed to whoever opens a page or reads the log.
  const devToken =
    !config.production && jwtKey.kind === 'secret' && jwtKey.generated
      ? signDevToken(jwtKey.secret, { sub: 'dev-user', roles: ['user', 'auditor'], tenant: 'default' }, 12 * 3600, {
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
        })
      : undefined;
  return { verifier, devToken };
}
