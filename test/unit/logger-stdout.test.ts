/**
 * The logger's standard output writes lines in batches (`logger.ts`): nothing buffered may be lost at
 * `process.exit` or after an uncaught exception, and an idle process's lines must not wait in the
 * buffer for more than the flush interval. Each case runs the built logger in a child process.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const LOGGER = path.resolve(__dirname, '../../dist/src/observability/logger.js');

/** Runs `script` with `createLogger` in scope; resolves with its stdout lines and exit, or at `killAfterMillis` with SIGKILL. */
function run(script: string, killAfterMillis?: number): Promise<{ lines: Record<string, unknown>[]; code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `const { createLogger } = require(${JSON.stringify(LOGGER)});\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.resume();
    const timer = killAfterMillis === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMillis);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ lines: stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>), code, signal });
    });
  });
}

describe('log lines on standard output', () => {
  it('are all written when the process exits right after them', async () => {
    const result = await run(`const log = createLogger('info'); for (let i = 0; i < 500; i += 1) log.info({ i }, 'line'); process.exit(3);`);
    expect(result.code).toBe(3);
    expect(result.lines.map((line) => line.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('are all written when an uncaught exception ends the process', async () => {
    const result = await run(`const log = createLogger('info'); log.error({}, 'about to fail'); setImmediate(() => { throw new Error('boom'); });`);
    expect(result.code).toBe(1);
    expect(result.lines.map((line) => line.msg)).toEqual(['about to fail']);
  });

  it('reach the output within the flush interval while the process stays up (here, before a SIGKILL 1 s later)', async () => {
    const result = await run(`const log = createLogger('info'); log.info({}, 'one quiet line'); setInterval(() => {}, 1000);`, 1_000);
    expect(result.signal).toBe('SIGKILL');
    expect(result.lines.map((line) => line.msg)).toEqual(['one quiet line']);
  });
});
