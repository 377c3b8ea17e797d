/**
 * The Face emulator: the Face REST API v1.2 liveness-session operations over real HTTP, answering as
 * Azure does, so `@azure-rest/ai-vision-face` runs against it unchanged (docs/api.md, "The Face emulator").
 *
 * Under `<base>/face/v1.2`: create, get and delete sessions of both kinds (management, with
 * `Ocp-Apim-Subscription-Key`), and `POST /detectLiveness/singleModal` or
 * `/detectLivenessWithVerify/singleModal` with the session's `authToken` as a Bearer token, standing in
 * for the Face client SDK on a phone. Under `<base>/_faults`: fault injection for resilience tests.
 *
 * It never logs, and never echoes a key, a device token (outside the create answer) or image bytes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { faceErrors } from './errors';
import { createFaultQueue } from './faults';
import { sendError } from './http-io';
import { answerFailure, type EmulatorContext, serveFaceApi, serveFaults } from './routes';
import { createSessionStore } from './sessions';

export { MAX_VERIFY_IMAGE_BYTES } from './routes';

export interface FaceEmulatorOptions {
  /** When set, Ocp-Apim-Subscription-Key must equal it; otherwise any non-empty key is accepted. */
  apiKey?: string;
  /** Milliseconds since epoch; injectable so tests can move time forward for expiry. Default Date.now. */
  now?: () => number;
  /**
   * Called once for every request the emulator serves (management, device and `/_faults` alike), before
   * it is answered, with the method and the path below the mount prefix, without the query (e.g.
   * `GET /face/v1.2/detectLiveness-sessions/<id>`). For counting Face calls (`npm run bench`); it must not throw.
   */
  onRequest?: (method: string, path: string) => void;
  /**
   * Whether `<base>/_faults` exists (default true). Off in production (docs/api.md: "in
   * production there is no such route"), so an emulator opted into there cannot be made to fail by
   * anyone who can reach it.
   */
  faults?: boolean;
  /**
   * Sessions kept in memory at most (default 10,000); creating one more forgets the oldest, as if it
   * had passed Face's retention.
   */
  maxSessions?: number;
  /**
   * Management requests (create, get, delete) answered per second at most; beyond it `429` with
   * `Retry-After`, as Azure throttles a resource (S0: 10 per second). Absent: no cap.
   */
  transactionsPerSecond?: number;
  /** Device attempts a session takes (default 3, as Face). */
  maxAttempts?: number;
}

export interface FaceEmulator {
  /**
   * Handles a request whose URL path has already had any mount prefix removed (path starts with
   * /face/v1.2/ or /_faults). Returns false (and writes nothing) when the path is not the emulator's,
   * so the caller can 404.
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Standalone: listens on its own node:http server; returns the base URL (e.g. http://127.0.0.1:4100). */
  listen(port: number, host?: string): Promise<string>;
  /** Stops the standalone server (dropping open connections) and cancels pending injected latencies. */
  close(): Promise<void>;
}

const API_PREFIX = '/face/v1.2';
const FAULTS_PATH = '/_faults';

export function createFaceEmulator(options: FaceEmulatorOptions = {}): FaceEmulator {
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const context: EmulatorContext = {
    store: createSessionStore(options.now ?? Date.now, options.maxSessions, options.maxAttempts),
    faults: createFaultQueue(),
    ...(options.apiKey !== undefined && { apiKey: options.apiKey }),
    ...(options.transactionsPerSecond !== undefined && { throttle: createThrottle(options.transactionsPerSecond, Date.now) }),
    delay: (ms) =>
      new Promise((resolve) => {
        const pending = {
          resolve,
          timer: setTimeout(() => {
            pendingDelays.delete(pending);
            resolve();
          }, ms),
        };
        pendingDelays.add(pending);
      }),
  };
  let server: Server | undefined;

  const handle: FaceEmulator['handle'] = (req, res, path) => {
    const pathname = path.split('?')[0] ?? '';
    let serving: Promise<void>;
    const notify = () => options.onRequest?.(req.method ?? 'GET', pathname);
    if ((pathname === FAULTS_PATH || pathname === `${FAULTS_PATH}/`) && options.faults !== false) {
      notify();
      serving = serveFaults(context, req, res);
    } else if (pathname.toLowerCase().startsWith(`${API_PREFIX}/`)) {
      notify();
      serving = serveFaceApi(context, req, res, pathname.slice(API_PREFIX.length));
    } else {
      return false;
    }
    serving.catch((failure: unknown) => answerFailure(req, res, failure));
    return true;
  };

  return {
    handle,

    async listen(port, host = '127.0.0.1') {
      if (server) throw new Error('The Face emulator is already listening.');
      const listening = createServer((req, res) => {
        if (!handle(req, res, req.url ?? '/')) sendError(res, faceErrors.resourceNotFound());
      });
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      server = listening;
      const address = listening.address();
      const boundPort = typeof address === 'object' && address !== null ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    },

    async close() {
      for (const pending of pendingDelays) {
        clearTimeout(pending.timer);
        pending.resolve();
      }
      pendingDelays.clear();
      context.faults.clear();
      const closing = server;
      server = undefined;
      if (!closing) return;
      await new Promise<void>((resolve, reject) => {
        closing.close((error) => (error ? reject(error) : resolve()));
        // The Azure client keeps connections alive; close() alone would wait for them.
        closing.closeAllConnections();
      });
    },
  };
}

/**
 * A fixed one-second window: up to `perSecond` requests in the current second, then the rest wait for
 * the next one (answered with the whole seconds to wait, at least 1, as Azure's `Retry-After`).
 */
function createThrottle(perSecond: number, now: () => number): () => number | undefined {
  let windowStart = 0;
  let used = 0;
  return () => {
    const at = now();
    const second = Math.floor(at / 1000) * 1000;
    if (second !== windowStart) {
      windowStart = second;
      used = 0;
    }
    if (used < perSecond) {
      used += 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((windowStart + 1000 - at) / 1000));
  };
}
