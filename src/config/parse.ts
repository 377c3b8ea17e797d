/**
 * Reading one environment variable as a typed value. Every parser names the variable in its error,
 * so a bad setting stops the process with a sentence an operator can act on.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

/** Empty strings count as unset, so `FOO= npm start` behaves like not setting FOO at all. */
export function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}".`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}.`);
  return value;
}

export function optionalInteger(env: Env, name: string, min: number, max: number): number | undefined {
  return read(env, name) === undefined ? undefined : integer(env, name, min, min, max);
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
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
export function base64Key(env: Env, name: string, production: boolean): Buffer | undefined {
  const text = read(env, name);
  if (production && !text) throw new ConfigError(`${name} must be set when NODE_ENV=production (base64 of 32 random bytes, e.g. \`openssl rand -base64 32\`).`);
  if (text === undefined) return undefined;
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new ConfigError(`${name} must be the base64 of exactly 32 bytes (e.g. \`openssl rand -base64 32\`).`);
  return key;
}
