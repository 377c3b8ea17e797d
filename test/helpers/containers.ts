/**
 * The container files as data, for the tests that check them without a container engine: compose.yaml
 * parsed (with its `<<` merges), Compose's variable interpolation, and the runtime stage's health
 * check and command from the Dockerfile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { parse as parseYaml } from 'yaml';

const root = path.resolve(__dirname, '../..');

export interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
}

export function readCompose(): { services: Record<string, ComposeService>; volumes?: Record<string, unknown> } {
  return parseYaml(fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
}

/** Compose's interpolation of `${NAME}`, `${NAME:-default}` and `${NAME:?message}` (refusing when unset, as Compose does). */
export function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_match, name: string, operator: string | undefined, rest: string | undefined) => {
    if (env[name]) return env[name];
    if (operator === ':-') return rest ?? '';
    throw new Error(`compose refuses to start: ${name} is unset (${rest ?? ''})`);
  });
}

/** A service's environment as the container sees it, `values` standing for the caller's shell. */
export function serviceEnvironment(service: ComposeService, values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([name, value]) => [name, interpolate(String(value), values)]));
}

/** The last stage's exec-form `HEALTHCHECK CMD [...]` and `CMD [...]`, and its `ENV` as name=value pairs. */
export function runtimeStage(): { healthcheck: string[]; command: string[]; env: Record<string, string> } {
  const instructions = DockerfileParser.parse(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')).getInstructions();
  const lastFrom = instructions.map((i) => i.getKeyword()).lastIndexOf('FROM');
  const runtime = instructions.slice(lastFrom + 1);
  const healthcheck = runtime.find((i) => i.getKeyword() === 'HEALTHCHECK')!.getTextContent();
  const command = runtime.find((i) => i.getKeyword() === 'CMD')!.getArgumentsContent()!;
  const env = Object.fromEntries(
    runtime
      .filter((i) => i.getKeyword() === 'ENV')
      .flatMap((i) => (i.getArgumentsContent() ?? '').split(/\s+/).filter(Boolean))
      .map((pair) => pair.split('=') as [string, string]),
  );
  return { healthcheck: JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD [') + 4)) as string[], command: JSON.parse(command) as string[], env };
}
