/**
 * `npm run dev`: the gateway, restarted whenever its code changes. Two tools Node and TypeScript ship:
 * `tsc --watch` recompiles what changed into dist/, and `node --watch dist/src/main.js` restarts the
 * gateway when a file it loaded changes. The gateway starts once the first compilation is done, so it
 * never runs half-written output. The web client (web/) is not watched: `npm run build` rebuilds it.
 * Ctrl-C stops both. `npm start` stays the production-like path: one full build, then one process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin/tsc');
/** What `tsc --watch` prints when a compilation ends, with or without errors. */
const COMPILED = /Found \d+ errors?\. Watching for file changes\./;

const children: ChildProcess[] = [];

function stopAll(code: number): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}

function main(): void {
  const compiler = spawn(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--watch', '--preserveWatchOutput'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(compiler);
  let gateway: ChildProcess | undefined;
  let output = '';
  compiler.stdout!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    if (gateway) return;
    output += chunk.toString();
    if (!COMPILED.test(output)) return;
    gateway = spawn(process.execPath, ['--watch', path.join(root, 'dist/src/main.js')], { cwd: process.cwd(), stdio: 'inherit' });
    children.push(gateway);
    gateway.once('exit', (code) => stopAll(code ?? 1));
  });
  compiler.once('exit', (code) => stopAll(code ?? 1));
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
}

main();
