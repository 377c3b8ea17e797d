/** What browsers on other origins may do: opt-in CORS for single-page apps served elsewhere. */
import { boolean, ConfigError, type Env, read } from './parse';

export interface BrowserSettings {
  /** Exact origins (`https://app.example.com`) whose pages may call the gateway's API; none by default. */
  corsOrigins: string[];
  /** `Access-Control-Allow-Credentials: true` for those origins: cookies or HTTP auth, which bearer tokens do not need. */
  corsAllowCredentials: boolean;
}

export function browserSettings(env: Env): BrowserSettings {
  const raw = read(env, 'CORS_ORIGINS');
  const corsOrigins = raw === undefined ? [] : raw.split(',').map((entry) => entry.trim()).filter(Boolean).map(exactOrigin);
  return { corsOrigins: [...new Set(corsOrigins)], corsAllowCredentials: boolean(env, 'CORS_ALLOW_CREDENTIALS', false) };
}

/**
 * A browser's `Origin` header is compared as a string, so only the form it takes is accepted:
 * scheme, host and a port that is not the scheme's default, with no path and no wildcard. A pattern
 * or `*` would let pages nobody listed read answers meant for the user.
 */
function exactOrigin(entry: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(entry);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== entry || entry.includes('*')) {
    throw new ConfigError(`CORS_ORIGINS must list exact origins such as https://app.example.com (scheme, host, port; no path, no trailing slash, no wildcard), separated by commas; got "${entry}".`);
  }
  return entry;
}
