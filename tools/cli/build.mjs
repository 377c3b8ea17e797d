/**
 * `npm run build`, and the build the other commands run first.
 *
 *   node tools/cli/build.mjs             compiles the gateway and the tools into dist/ (tsc, incremental),
 *                                        then the web client into dist/web/; last, stamps dist/.build-stamp
 *   node tools/cli/build.mjs --if-stale  the same, but only when a source is newer than the stamp
 *
 * Plain JavaScript, so it runs before anything is compiled. Even an incremental tsc with nothing to do
 * parses the whole program (about 3 s here, 5 s with the web client), so `npm run token` and its
 * neighbours would wait that long on every run; comparing modification times takes milliseconds.
 * The stamp carries the time the build *started*: a file saved while it ran is newer, and the next
 * command builds again. Directories count too, since deleting or renaming a file changes its folder.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stamp = path.join(root, 'dist/.build-stamp');
/** What the build reads: a change to any of them makes dist/ stale. */
const INPUTS = ['src', 'tools', 'web', 'client', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.web.json', 'package.json', 'package-lock.json'];
/** What `--if-stale` callers run: missing, the build is stale whatever the stamp says. */
const OUTPUTS = ['dist/src/main.js', 'dist/tools/cli/token.js', 'dist/web/index.html'];

/** The newest modification time under `entry` (files and folders), and the path that has it. */
function newest(entry, found = { millis: 0, path: '' }) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return found;
  }
  if (stat.mtimeMs > found.millis) Object.assign(found, { millis: stat.mtimeMs, path: entry });
  if (stat.isDirectory()) for (const name of fs.readdirSync(entry)) newest(path.join(entry, name), found);
  return found;
}

/** Why dist/ is stale, or undefined when it is current. */
function staleBecause() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return 'no build yet';
  }
  const missing = OUTPUTS.find((output) => !fs.existsSync(path.join(root, output)));
  if (missing) return `${missing} is missing`;
  const found = { millis: 0, path: '' };
  for (const input of INPUTS) newest(path.join(root, input), found);
  return found.millis > built ? `${path.relative(root, found.path)} changed` : undefined;
}

function build() {
  const startedAt = new Date();
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'dist/tools/cli/build-web.js')], { cwd: root, stdio: 'inherit' });
  fs.writeFileSync(stamp, `${startedAt.toISOString()}\n`);
  fs.utimesSync(stamp, startedAt, startedAt);
}

const ifStale = process.argv.includes('--if-stale');
const reason = ifStale ? staleBecause() : 'asked';
if (reason !== undefined) {
  // On stderr: `TOKEN=$(npm run --silent token)` must capture the token alone.
  if (ifStale) process.stderr.write(`Building first (${reason}); later runs start at once.\n`);
  try {
    build();
  } catch {
    // tsc has printed what is wrong.
    process.exit(1);
  }
}
