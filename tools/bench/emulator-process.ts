/**
 * Child entry of `npm run bench`: a standalone Face emulator (as `npm run face-emulator` runs it) that
 * counts the Face calls it serves through the emulator's `onRequest` hook, for the harness to read.
 */
import { createFaceEmulator } from '../face-emulator';
import { serveParent } from './child';
import type { FaceCallCounts, FaceCallKind } from './ipc';

const emptyCounts = (): FaceCallCounts => ({ create: 0, get: 0, delete: 0, device: 0, other: 0 });

/** Which Face operation a request is, from its method and path below the emulator's base URL. */
function classifyFaceCall(method: string, path: string): FaceCallKind {
  const segments = path.toLowerCase().split('/').filter(Boolean); // ['face', 'v1.2', collection, id?]
  const [, , collection = '', rest] = segments;
  if (collection.endsWith('-sessions')) {
    if (rest === undefined) return method === 'POST' ? 'create' : 'other';
    if (method === 'GET') return 'get';
    if (method === 'DELETE') return 'delete';
  }
  if (rest === 'singlemodal' && method === 'POST') return 'device';
  return 'other';
}

async function main(): Promise<void> {
  let counts = emptyCounts();
  // FACE_EMULATOR_TPS, as for `npm run face-emulator`: a bench run may meet Azure's throttling (S0: 10).
  const tps = Number(process.env.FACE_EMULATOR_TPS?.trim() || Number.NaN);
  const emulator = createFaceEmulator({
    ...(Number.isInteger(tps) && tps > 0 && { transactionsPerSecond: tps }),
    onRequest: (method, path) => {
      counts[classifyFaceCall(method, path)] += 1;
    },
  });
  const url = await emulator.listen(0, '127.0.0.1');
  serveParent(
    { url },
    {
      'face-calls': () => ({ ...counts }),
      'reset-face-calls': () => {
        counts = emptyCounts();
        return null;
      },
      stop: () => emulator.close(),
    },
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench Face emulator could not start: ${String(error)}\n`);
  process.exit(1);
});
