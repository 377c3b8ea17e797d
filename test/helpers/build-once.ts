/**
 * Vitest global setup: builds once before any test file runs, with the project's own `npm run build`
 * (the gateway into dist/, the web client into dist/web/), so tests that start the gateway as a real
 * child process (`node dist/src/main.js`) or open /demo in a browser never race each other building.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function buildOnce(): void {
  const root = path.resolve(__dirname, '../..');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
