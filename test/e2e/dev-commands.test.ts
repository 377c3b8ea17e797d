/**
 * The README's "Development" table, run as written: `npm run build`, `npm run schema`,
 * `npm run codegen` and `npm run typecheck`, each must succeed and change nothing a commit would see.
 * `schema` and `codegen` rewrite committed files that other tests read while this one runs, so every
 * command runs in a throwaway copy of the working tree (node_modules symlinked), and the copy must be
 * byte-identical to itself before and after: a committed schema.graphql or client/generated/
 * that lags the code fails here. `npm run bench` runs here too, but at its smallest (`--quick
 * --only start`, into a directory of its own): a test can show that the command works and writes its
 * report, not measure anything; BENCHMARKS.md is written by a full run on a quiet machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
/** What the commands may write beside the committed files (both ignored by .gitignore). */
const NOT_COMPARED = new Set(['node_modules', 'dist', '.bench']);
const COMMAND_TIMEOUT_MILLIS = 180_000;

/** The commands of the README's Development table, in order. */
function developmentCommands(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Development');
  expect(start, 'README section "Development"').toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]);
}

/** The working tree as a user has it: tracked files plus untracked ones that are not ignored. */
function copyWorkingTree(target: string): void {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  for (const file of new Set(listed.split('\0').filter(Boolean))) {
    const source = path.join(root, file);
    if (!fs.existsSync(source)) continue; // deleted in the working tree, not yet in the index
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.copyFileSync(source, path.join(target, file));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(target, 'node_modules'), 'dir');
}

/** Every file under `dir` but node_modules and dist, by path relative to `dir`. */
function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const name = path.posix.join(relative, entry.name);
      if (relative === '' && NOT_COMPARED.has(entry.name)) continue;
      if (entry.isDirectory()) walk(name);
      else files.set(name, fs.readFileSync(path.join(dir, name)));
    }
  };
  walk('');
  return files;
}

/** What differs between two snapshots, one line per file, naming the first line that differs. */
function changes(before: Map<string, Buffer>, after: Map<string, Buffer>): string[] {
  const found: string[] = [];
  for (const [file, content] of after) {
    const previous = before.get(file);
    if (!previous) found.push(`added ${file}`);
    else if (!previous.equals(content)) {
      const [a, b] = [previous.toString('utf8').split('\n'), content.toString('utf8').split('\n')];
      const line = a.findIndex((text, index) => text !== b[index]);
      const at = line === -1 ? a.length : line;
      found.push(`changed ${file} at line ${at + 1}: ${JSON.stringify(a[at])} became ${JSON.stringify(b[at])}`);
    }
  }
  for (const file of before.keys()) if (!after.has(file)) found.push(`removed ${file}`);
  return found;
}

/** Puts `dir` back to `files`, so one command's damage is not blamed on the next. */
function restore(dir: string, files: Map<string, Buffer>): void {
  for (const file of snapshot(dir).keys()) if (!files.has(file)) fs.rmSync(path.join(dir, file));
  for (const [file, content] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
}

interface Ran {
  code: number | null;
  output: string;
}

/** Runs a README command line in `cwd` with the npm on PATH, in a shell without npm's own variables. */
function run(commandLine: string, cwd: string): Promise<Ran> {
  // `npx vitest` exports npm_config_* and npm_package_* for the package it was started in; a user's
  // shell has none of them, and they must not point npm back at the real checkout.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const [command, ...args] = commandLine.split(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('the Development commands of the README, run in a copy of the working tree', () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-dev-commands-'));
  let committed = new Map<string, Buffer>();

  beforeAll(() => {
    copyWorkingTree(copy);
    committed = snapshot(copy);
  });

  afterEach(() => restore(copy, committed));

  afterAll(() => {
    fs.rmSync(copy, { recursive: true, force: true });
  });

  /** Runs `commandLine` as written; it must exit 0 and leave every file as it was copied. */
  async function runAndExpectNoChange(commandLine: string): Promise<Ran> {
    expect(developmentCommands()).toContain(commandLine);
    const ran = await run(commandLine, copy);
    expect(ran.code, `${commandLine} exited with ${ran.code}:\n${ran.output}`).toBe(0);
    expect(changes(committed, snapshot(copy)), `${commandLine} changed committed files`).toEqual([]);
    return ran;
  }

  it('the table lists exactly the commands this file runs, and the benchmarks', () => {
    expect(developmentCommands()).toEqual(['npm run build', 'npm run dev', 'npm run schema', 'npm run codegen', 'npm run typecheck', 'npm run bench']);
  });

  it('npm run build compiles the gateway into dist/ and the web client into dist/web/, changing no committed file', async () => {
    await runAndExpectNoChange('npm run build');
    expect(fs.existsSync(path.join(copy, 'dist/src/main.js'))).toBe(true);
    expect(fs.readFileSync(path.join(copy, 'dist/web/operations.js'), 'utf8')).toContain('export const operations');
    expect(fs.existsSync(path.join(copy, 'dist/web/index.html'))).toBe(true);
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run token uses a current build as it is, and builds first once a source has changed', async () => {
    await runAndExpectNoChange('npm run build');
    const stamp = path.join(copy, 'dist/.build-stamp');
    const builtAt = fs.statSync(stamp).mtimeMs;

    const current = await run('npm run --silent token -- --sub alice', copy);
    expect(current.code, current.output).toBe(0);
    expect(current.output).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(fs.statSync(stamp).mtimeMs).toBe(builtAt);

    // A source saved after the build: the next command compiles it before running.
    const source = path.join(copy, 'tools/cli/token.ts');
    fs.writeFileSync(source, fs.readFileSync(source, 'utf8').replace("args.sub ?? 'dev-user'", "args.sub ?? 'edited-user'"));
    const later = new Date(builtAt + 2_000);
    fs.utimesSync(source, later, later);
    const stale = await run('npm run --silent token', copy);
    expect(stale.code, stale.output).toBe(0);
    expect(stale.output).toContain('Building first (tools/cli/token.ts changed)');
    const token = stale.output.trim().split('\n').pop()!;
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))).toMatchObject({ sub: 'edited-user' });
    expect(fs.statSync(stamp).mtimeMs).toBeGreaterThan(builtAt);
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run dev serves the gateway and restarts it with the new code when a source changes', async () => {
    expect(developmentCommands()).toContain('npm run dev');
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-dev-data-'));
    const child = spawn('npm', ['run', 'dev'], {
      cwd: copy,
      env: { ...env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const banners = () => [...output.matchAll(/Liveness gateway on (http:\/\/[^\s/]+)\/graphql/g)].map((match) => match[1]);
    const waitFor = async (what: string, done: () => boolean) => {
      for (let waited = 0; !done(); waited += 200) {
        if (waited > 150_000 || child.exitCode !== null) throw new Error(`npm run dev: no ${what}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    try {
      await waitFor('first start', () => banners().length === 1);
      expect(await (await fetch(`${banners()[0]}/healthz`)).json()).toEqual({ status: 'ok' });

      // A change to the health route: tsc --watch compiles it, node --watch restarts the gateway.
      const source = path.join(copy, 'src/transport/health.ts');
      const before = fs.readFileSync(source, 'utf8');
      expect(before).toContain("sendJson(res, 200, { status: 'ok' })");
      fs.writeFileSync(source, before.replace("sendJson(res, 200, { status: 'ok' })", "sendJson(res, 200, { status: 'ok', restarted: true })"));
      await waitFor('restart', () => banners().length >= 2);
      expect(await (await fetch(`${banners().at(-1)}/healthz`)).json()).toEqual({ status: 'ok', restarted: true });
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run schema writes schema.graphql, and what it writes is the committed file, byte for byte', async () => {
    // Removed first, so a command that wrote nothing could not pass for one that wrote the same bytes.
    fs.rmSync(path.join(copy, 'schema.graphql'));
    const ran = await runAndExpectNoChange('npm run schema');
    expect(ran.output).toContain('wrote schema.graphql');
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run codegen writes client/generated/, and what it writes is the committed client, byte for byte', async () => {
    fs.rmSync(path.join(copy, 'client/generated'), { recursive: true });
    await runAndExpectNoChange('npm run codegen');
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run typecheck passes on src/, test/ and the web client, changing no committed file', async () => {
    await runAndExpectNoChange('npm run typecheck');
  }, COMMAND_TIMEOUT_MILLIS);

  it('npm run bench runs its scenarios and writes its report and figures where --out says, changing no committed file', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-bench-out-'));
    try {
      expect(developmentCommands()).toContain('npm run bench');
      const ran = await run(`npm run bench -- --quick --only start,audit --out ${out}`, copy);
      expect(ran.code, `npm run bench exited with ${ran.code}:\n${ran.output}`).toBe(0);
      expect(changes(committed, snapshot(copy)), 'npm run bench changed committed files').toEqual([]);
      const report = fs.readFileSync(path.join(out, 'BENCHMARKS.md'), 'utf8');
      for (const section of ['## How to run', '## Targets', '## Latest run', '## Missed targets', '## What was tried', '### 2. `startLivenessSession` against a standalone emulator', '### 5. Audit pages']) {
        expect(report).toContain(section);
      }
      expect(report).toMatch(/^\| 2 \| gateway overhead per start, p50 \| <= 2 ms \| -?[\d.]+ ms \| (yes|\*\*no\*\*) \|$/m);
      const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { scenarios?: string[]; results?: Record<string, unknown> };
      // The audit scenario runs the production gateway with the embedded emulator, as scenarios 1 and 4 do.
      expect(report).not.toContain('FAILED');
      expect(results.scenarios).toEqual(['start', 'audit']);
      expect(Object.keys(results.results ?? {})).toEqual(['start', 'audit']);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, COMMAND_TIMEOUT_MILLIS);
});
