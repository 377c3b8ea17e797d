/**
 * Settings from a `.env` file in the working directory, for development machines and simple
 * deployments. Node's own `--env-file` would stop the process when the file is missing (Node 20), so
 * the file is read here instead, with Node's own parser (`util.parseEnv`: the same syntax). A variable
 * the real environment already has, even empty, keeps its value: the environment wins over the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, type Env } from './parse';

export interface EnvFileLoaded {
  /** The file read, absolute. */
  file: string;
  /** Variables taken from it (those the environment did not already have). */
  applied: string[];
}

/** Reads `file` (default `./.env`) into `env` where `env` has no value; undefined when there is no such file. */
export function loadEnvFile(env: Env = process.env, file = path.resolve('.env')): EnvFileLoaded | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`${file} could not be read: ${(error as Error).message}`);
  }
  const applied: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined || value === undefined) continue;
    env[name] = value;
    applied.push(name);
  }
  return { file, applied };
}
