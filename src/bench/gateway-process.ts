/**
 * Child entry of `npm run bench`: the gateway under test, alone in its process, configured from the
 * environment the harness gives it exactly as `main.ts` is (`loadConfig()` -> `createGateway()`).
 * Answers the harness over IPC (memory after GC, peak RSS reset, stop).
 */
import { loadConfig } from '../config';
import { createGateway } from '../gateway';
import { serveParent } from './child';

async function main(): Promise<void> {
  const gateway = await createGateway({ config: loadConfig(process.env) });
  serveParent({ url: gateway.url, emulatorUrl: gateway.emulatorUrl }, { stop: () => gateway.stop() });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench gateway could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
