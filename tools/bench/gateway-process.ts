/**
 * Child entry of `npm run bench`: the gateway under test, alone in its process, configured from the
 * environment the harness gives it exactly as `main.ts` is (`loadConfig()` -> `createGateway()`).
 * Answers the harness over IPC (memory after GC, peak RSS reset, stop).
 */
import { loadConfig } from '../../src/config';
import { createGateway } from '../../src/gateway';
import { createFaceEmulator } from '../face-emulator';
import { serveParent } from './child';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const faceEmulator = config.face.mode === 'emulator' ? createFaceEmulator({
          apiKey: config.face.emulatorKey,
          maxSessions: config.face.emulatorMaxSessions,
          transactionsPerSecond: config.face.emulatorTransactionsPerSecond,
          maxAttempts: config.face.emulatorMaxAttempts,
          faults: !config.production,
        }) : undefined;
  const gateway = await createGateway({ config, faceEmulator });
  serveParent({ url: gateway.url, emulatorUrl: gateway.emulatorUrl }, { stop: () => gateway.stop() });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench gateway could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
