/** Process entry: configuration -> createGateway() -> listen; SIGINT/SIGTERM stop it gracefully. */
import { ConfigError, loadConfig, loadEnvFile } from './config';
import { createGateway } from './gateway';

async function main(): Promise<void> {
  const envFile = loadEnvFile();
  const config = loadConfig();
  // Development wiring: without FACE_ENDPOINT the gateway talks to the Face emulator (a tool, loaded
  // only then), served on the gateway's own port under /emulator.
  const faceEmulator =
    config.face.mode === 'emulator'
      ? (await import('../tools/face-emulator/index.js')).createFaceEmulator({
          apiKey: config.face.emulatorKey,
          maxSessions: config.face.emulatorMaxSessions,
          transactionsPerSecond: config.face.emulatorTransactionsPerSecond,
          maxAttempts: config.face.emulatorMaxAttempts,
          faults: !config.production,
        })
      : undefined;
  const gateway = await createGateway({ config, processMetrics: true, faceEmulator });
  // The embedded emulator is always reachable; a Face endpoint is checked once, so that a wrong URL or
  // key shows here rather than in the first user's error. Production refuses what cannot heal.
  const faceProblem = config.face.mode === 'azure' ? await gateway.checkFace() : undefined;
  if (faceProblem?.definite && config.production) {
    await gateway.stop();
    throw new Error(faceProblem.message);
  }

  const lines = [
    envFile ? `Settings from ${envFile.file}: ${envFile.applied.length} applied (the environment wins over the file)` : undefined,
    `Liveness gateway on ${gateway.url}/graphql (WebSocket: ${gateway.url.replace(/^http/, 'ws')}/graphql)`,
    gateway.emulatorUrl ? `Face emulator at ${gateway.emulatorUrl} (Face API v1.2 under /face/v1.2)` : undefined,
    config.sandboxEnabled ? `Apollo Sandbox: open ${gateway.url}/graphql in a browser` : undefined,
    config.webClientEnabled ? `Web client: open ${gateway.url}/demo in a browser` : undefined,
    gateway.devToken ? `Dev token (sub dev-user, roles user+auditor, tenant default; 12 h):\n  ${gateway.devToken}` : undefined,
    gateway.devToken ? `More tokens: npm run token -- --sub alice --roles user --tenant acme` : undefined,
    faceProblem ? `Warning: ${faceProblem.message}` : undefined,
  ];
  // A human-readable banner on stderr, apart from the JSON log lines on stdout. The dev token only
  // exists with the HS secret the gateway generated for development, never with a configured one.
  process.stderr.write(lines.filter(Boolean).join('\n') + '\n');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping after ${signal}: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
  } else {
    process.stderr.write(`The gateway could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
