/**
 * Vitest global setup: compiles the gateway once before any test file runs, so tests that start it as
 * a real child process (`node dist/src/main.js`) never race each other building dist/.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function buildOnce(): void {
  const root = path.resolve(__dirname, '../..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
