/**
 * `npm run token -- --sub alice --roles user --tenant acme [--ttl 3600]`: prints a JWT signed with the
 * configured HS secret (JWT_SECRET, or the development secret kept in DATA_DIR), for trying the
 * gateway by hand. With JWT_PUBLIC_KEY or JWT_JWKS_URL, tokens come from your identity provider.
 */
import { resolveJwtKey } from '../../src/secrets/dev-jwt-secret';
import { signDevToken } from '../../src/auth/jwt';
import { ROLES } from '../../src/domain/viewer';
import { loadConfig, loadEnvFile } from '../../src/config';
import { parseArgs } from './args';

function main(): void {
  const args = parseArgs(process.argv.slice(2), ['sub', 'roles', 'tenant', 'ttl']);
  loadEnvFile();
  const config = loadConfig();
  const key = resolveJwtKey(config);
  if (key.kind !== 'secret') {
    throw new Error('npm run token signs with an HS secret; with JWT_PUBLIC_KEY or JWT_JWKS_URL set, get tokens from your identity provider.');
  }
  const roles = (args.roles ?? 'user').split(',').map((role) => role.trim().toLowerCase()).filter(Boolean);
  for (const role of roles) {
    if (!ROLES.includes(role.toUpperCase() as (typeof ROLES)[number])) throw new Error(`unknown role "${role}"; roles are user, auditor, admin`);
  }
  const ttlSeconds = Number(args.ttl ?? 3600);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new Error('--ttl must be a whole number of seconds');
  const token = signDevToken(key.secret, { sub: args.sub ?? 'dev-user', roles, tenant: args.tenant ?? 'default' }, ttlSeconds, {
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
  });
  process.stdout.write(token + '\n');
}

try {
  main();
} catch (error) {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
