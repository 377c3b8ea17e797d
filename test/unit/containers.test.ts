/**
 * The container files, checked without a container engine (none runs where these tests run): the
 * Dockerfile passes the linter of the Docker language server (`dockerfile-utils`) and has the
 * properties docs/operations.md promises (two stages, the native driver built in the first,
 * production `NODE_ENV`, a non-root user, a health check on /healthz, the production entry point);
 * everything the gateway and the emulator import at run time is a production dependency (what the
 * runtime stage keeps); compose.yaml has two gateway instances on one PostgreSQL, one Redis and one
 * emulator, and the environment it gives them is accepted by the gateway's own configuration parser
 * as a production configuration. What these checks cannot show (that the image builds and the stack
 * comes up) is said in docs/operations.md.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { interpolate, readCompose, runtimeStage } from '../helpers/containers';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  /** The instructions of each stage, by its name. */
  const stages = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') stages.set(froms.find((from) => from.getRange().start.line === instruction.getRange().start.line)!.getBuildStage() ?? '', (current = []));
    else current?.push(instruction);
  }
  const stage = (name: string) => stages.get(name) ?? [];
  const args = (instructions: Instruction[], keyword: string) => instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');

  it('passes the Docker language server linter with every rule an error', () => {
    const strict = {
      deprecatedMaintainer: ValidationSeverity.ERROR,
      directiveCasing: ValidationSeverity.ERROR,
      emptyContinuationLine: ValidationSeverity.ERROR,
      instructionCasing: ValidationSeverity.ERROR,
      instructionCmdMultiple: ValidationSeverity.ERROR,
      instructionEntrypointMultiple: ValidationSeverity.ERROR,
      instructionHealthcheckMultiple: ValidationSeverity.ERROR,
      instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
      instructionWorkdirRelative: ValidationSeverity.ERROR,
    };
    expect(validate(text, strict).map((problem) => `line ${problem.range.start.line + 1}: ${problem.message}`)).toEqual([]);
    // The linter is awake: the same file with a broken health check is reported.
    expect(validate(text.replace('--interval=15s', '--interval=soon'), strict)).not.toEqual([]);
  });

  it('builds in one stage and runs from another, the native SQLite driver compiled in the first', () => {
    expect(froms.map((from) => from.getBuildStage())).toEqual(['build', 'runtime']);
    const build = args(stage('build'), 'RUN').join('\n');
    expect(build).toMatch(/apt-get install .*python3 make g\+\+/);
    expect(build).toContain('npm ci');
    expect(build).toContain('npm run build');
    expect(build).toContain('npm prune --omit=dev');
    // No compiler and no install in the image that runs: it copies what the build stage made.
    const runtime = args(stage('runtime'), 'RUN').join('\n');
    expect(runtime).not.toMatch(/apt-get|npm (ci|install)|g\+\+/);
    const copied = stage('runtime').filter((i) => i.getKeyword() === 'COPY').map((i) => i.getTextContent());
    expect(copied.join('\n')).toContain('--from=build /app/node_modules');
    expect(copied.join('\n')).toContain('--from=build /app/dist');
  });

  it('runs the production entry point as a non-root user, with NODE_ENV=production and a health check on /healthz', () => {
    const runtime = stage('runtime');
    expect(args(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    const users = args(runtime, 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    const healthchecks = runtime.filter((i) => i.getKeyword() === 'HEALTHCHECK').map((i) => i.getTextContent());
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0]).toMatch(/^HEALTHCHECK --interval=\S+ --timeout=\S+ .*CMD \[.*\/healthz/s);
    expect(runtimeStage().command).toEqual(['node', 'dist/src/main.js']);
    expect(runtimeStage().healthcheck.join(' ')).toContain('/healthz');
    // The same entry point npm start runs after its build.
    expect(packageJson.scripts.start).toMatch(/&& node dist\/src\/main\.js$/);
    // The user is switched after the last RUN, so nothing runs as root at start.
    const keywords = runtime.map((i) => i.getKeyword());
    expect(keywords.lastIndexOf('RUN')).toBeLessThan(keywords.indexOf('USER'));
  });

  it('copies into the build stage every source folder the build compiles', () => {
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const copied = args(stage('build'), 'COPY').map((line) => line.split(/\s+/)[0]);
    for (const folder of [...tsconfig.include, 'client', 'web']) expect(copied, folder).toContain(folder);
  });

  it('everything the gateway and the emulator import at run time is a production dependency, kept by npm prune --omit=dev', () => {
    const files = (dir: string): string[] =>
      fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(`${dir}/${entry.name}`) : entry.name.endsWith('.ts') ? [`${dir}/${entry.name}`] : []));
    const imported = new Set<string>();
    for (const file of [...files('src'), ...files('tools/face-emulator')]) {
      for (const [, specifier] of read(file).matchAll(/(?:^import [^'"]*?from |^export [^'"]*? from |import\()'([^'.][^']*)'/gm)) {
        if (builtinModules.includes(specifier.replace(/^node:/, ''))) continue;
        imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);
      }
    }
    expect(imported.size).toBeGreaterThan(10);
    expect([...imported].filter((name) => !(name in packageJson.dependencies))).toEqual([]);
  });
});

describe('compose.yaml', () => {
  const compose = readCompose();
  const services = compose.services;
  const gateways = ['gateway-a', 'gateway-b'];
  const secrets = { JWT_SECRET: 'a'.repeat(64), IDEMPOTENCY_KEY_SECRET: Buffer.alloc(32, 1).toString('base64'), EVIDENCE_KEY: Buffer.alloc(32, 2).toString('base64') };

  it('has two gateway instances built from this Dockerfile, PostgreSQL, Redis and a shared Face emulator', () => {
    expect(Object.keys(services).sort()).toEqual(['face-emulator', 'gateway-a', 'gateway-b', 'postgres', 'redis']);
    for (const name of gateways) {
      expect(services[name].build, name).toBe('.');
      expect(services[name].depends_on, name).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' }, 'face-emulator': { condition: 'service_started' } });
    }
    expect(services['gateway-a'].ports).toEqual(['4001:4000']);
    expect(services['gateway-b'].ports).toEqual(['4002:4000']);
    expect(services['face-emulator'].command).toEqual(['node', 'dist/tools/face-emulator/main.js']);
    expect(services.postgres.healthcheck?.test).toContain('pg_isready');
    expect(services.redis.healthcheck?.test).toContain('redis-cli');
  });

  it('gives both instances the same production environment, which the gateway accepts, on the shared database, Redis and emulator', () => {
    const [a, b] = gateways.map((name) => services[name].environment!);
    expect(a).toEqual(b);
    const env = Object.fromEntries(Object.entries(a).map(([name, value]) => [name, interpolate(String(value), secrets)]));
    const config = loadConfig(env);
    expect(config.production).toBe(true);
    expect(config.databaseUrl).toBe('postgres://liveness:liveness@postgres:5432/liveness');
    expect(config.redisUrl).toBe('redis://redis:6379');
    expect(config.face).toMatchObject({ mode: 'azure', endpoint: 'http://face-emulator:4100' });
    // The emulator accepts exactly the key the gateways send.
    const emulator = services['face-emulator'].environment!;
    expect(interpolate(emulator.FACE_EMULATOR_KEY, {})).toBe(env.FACE_APIKEY);
    expect(emulator.FACE_EMULATOR_PORT).toBe(new URL(env.FACE_ENDPOINT).port);
    expect(emulator.FACE_EMULATOR_HOST).toBe('0.0.0.0');
    const database = new URL(env.DATABASE_URL);
    expect(services.postgres.environment).toMatchObject({ POSTGRES_USER: database.username, POSTGRES_PASSWORD: database.password, POSTGRES_DB: database.pathname.slice(1) });
  });

  it('refuses to start without the shared secrets, rather than defaulting them', () => {
    const environment = services['gateway-a'].environment!;
    for (const name of Object.keys(secrets)) {
      expect(environment[name], name).toMatch(new RegExp(`^\\$\\{${name}:\\?`));
      expect(() => interpolate(environment[name], {}), name).toThrow(`${name} is unset`);
    }
  });
});
