import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonCreateBody, parseMultipartCreateFields } from './create-request';
import { parseDeviceOutcome } from './device';
import { EmulatorHttpError, faceErrors } from './errors';
import { type FaultQueue, faultError, parseFaultRules } from './faults';
import { discardBody, headerValue, readBody, sendError, sendJson, sendNoContent } from './http-io';
import { sniffImageFormat } from './image-format';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart';
import { sessionImageJpeg } from './session-image';
import type { SessionKind, SessionStore } from './sessions';
import { attemptBody, createdSessionBody, sessionResultBody } from './wire';

/** Face refuses verify images larger than 6 MB. */
export const MAX_VERIFY_IMAGE_BYTES = 6 * 1024 * 1024;
/** ... and smaller than 1 KB (Azure's `InvalidImageSize`, "Image size is too small"). */
export const MIN_VERIFY_IMAGE_BYTES = 1024;
const MAX_JSON_BODY_BYTES = 1024 * 1024;
const MAX_MULTIPART_FIELDS_BYTES = 64 * 1024;

/** What the route handlers share: the emulator's state, and waits that `close()` can cut short. */
export interface EmulatorContext {
  readonly store: SessionStore;
  readonly faults: FaultQueue;
  readonly apiKey?: string;
  /** Answers how many seconds to wait when a management request is over the calls-per-second cap, else undefined. */
  readonly throttle?: () => number | undefined;
  delay(ms: number): Promise<void>;
}

type Route =
  | { type: 'create'; kind: SessionKind }
  | { type: 'session'; kind: SessionKind; sessionId: string }
  | { type: 'device'; kind: SessionKind }
  | { type: 'image'; sessionImageId: string };

const SESSION_COLLECTIONS: Record<string, SessionKind> = {
  'detectliveness-sessions': 'liveness',
  'detectlivenesswithverify-sessions': 'livenessWithVerify',
};
const DEVICE_OPERATIONS: Record<string, SessionKind> = {
  detectliveness: 'liveness',
  detectlivenesswithverify: 'livenessWithVerify',
};

/** Serves one request under `/face/v1.2`; `path` is what follows `/face/v1.2` (without the query). */
export async function serveFaceApi(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const route = matchRoute(req.method ?? 'GET', path);
  if (!route) throw faceErrors.resourceNotFound();
  if (route.type === 'device') return serveDeviceAttempt(context, req, res, route.kind);

  await applyFault(context, req, path);
  checkSubscriptionKey(context, req);
  const retryAfterSeconds = context.throttle?.();
  if (retryAfterSeconds !== undefined) throw faceErrors.throttled(retryAfterSeconds);
  if (route.type === 'image') {
    // Face forgets an image with its session: deleted, or past retention, it is not found.
    if (!context.store.findByImage(route.sessionImageId)) throw faceErrors.sessionImageNotFound();
    const jpeg = sessionImageJpeg(route.sessionImageId);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
    res.end(jpeg);
  } else if (route.type === 'create') {
    let session;
    if (route.kind === 'liveness') {
      session = context.store.create('liveness', parseJsonCreateBody(await readJsonBody(req)));
    } else {
      const { params, image } = await readVerifyCreateParams(req);
      const verifyImageHash = params.returnVerifyImageHash ? createHash('sha256').update(image).digest('hex').toUpperCase() : undefined;
      session = context.store.create('livenessWithVerify', params, { verifyImageHash });
    }
    sendJson(res, 200, createdSessionBody(session));
  } else if (req.method === 'GET') {
    const session = context.store.get(route.kind, route.sessionId);
    if (!session) throw faceErrors.sessionNotFound();
    sendJson(res, 200, sessionResultBody(session));
  } else {
    if (!context.store.delete(route.kind, route.sessionId)) throw faceErrors.sessionNotFound();
    sendNoContent(res);
  }
}

/** `POST /_faults` queues fault rules, `DELETE /_faults` clears them. */
export async function serveFaults(context: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'POST') {
    context.faults.add(parseFaultRules(await readJsonBody(req)));
    sendJson(res, 200, { pending: context.faults.pending });
  } else if (req.method === 'DELETE') {
    context.faults.clear();
    sendNoContent(res);
  } else {
    throw faceErrors.resourceNotFound();
  }
}

/** Answers an error thrown by a handler; anything unexpected becomes a 500 that reveals nothing. */
export function answerFailure(req: IncomingMessage, res: ServerResponse, failure: unknown): void {
  discardBody(req);
  const error =
    failure instanceof EmulatorHttpError
      ? failure
      : new EmulatorHttpError(500, 'InternalServerError', 'An unexpected error occurred in the Face emulator.');
  sendError(res, error);
}

function matchRoute(method: string, path: string): Route | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  const [first = '', second, ...rest] = segments;
  if (rest.length > 0) return undefined;

  const collectionKind = SESSION_COLLECTIONS[first.toLowerCase()];
  if (collectionKind && second === undefined) return method === 'POST' ? { type: 'create', kind: collectionKind } : undefined;
  if (collectionKind && second !== undefined && (method === 'GET' || method === 'DELETE')) {
    const sessionId = decodeSegment(second);
    return sessionId === undefined ? undefined : { type: 'session', kind: collectionKind, sessionId };
  }

  if (first.toLowerCase() === 'sessionimages' && second !== undefined && method === 'GET') {
    const sessionImageId = decodeSegment(second);
    return sessionImageId === undefined ? undefined : { type: 'image', sessionImageId };
  }

  const deviceKind = DEVICE_OPERATIONS[first.toLowerCase()];
  if (deviceKind && second?.toLowerCase() === 'singlemodal' && method === 'POST') return { type: 'device', kind: deviceKind };
  return undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

async function applyFault(context: EmulatorContext, req: IncomingMessage, path: string): Promise<void> {
  const fault = context.faults.take(req.method, path);
  if (!fault) return;
  if (fault.latencyMs > 0) await context.delay(fault.latencyMs);
  if (fault.status !== 200) throw faultError(fault);
}

function checkSubscriptionKey(context: EmulatorContext, req: IncomingMessage): void {
  const key = headerValue(req, 'Ocp-Apim-Subscription-Key');
  if (!key) throw faceErrors.accessDenied();
  if (context.apiKey !== undefined && !sameSecret(key, context.apiKey)) throw faceErrors.accessDenied();
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

async function readJsonBody(req: IncomingMessage): Promise<Buffer> {
  const { body, overLimit } = await readBody(req, MAX_JSON_BODY_BYTES);
  if (overLimit) throw faceErrors.invalidRequestBody();
  return body;
}

async function readVerifyCreateParams(req: IncomingMessage) {
  let boundary: string | undefined;
  try {
    boundary = multipartBoundary(headerValue(req, 'Content-Type'));
  } catch {
    boundary = undefined;
  }
  if (!boundary) throw faceErrors.invalidRequestBody();

  const { body, overLimit } = await readBody(req, MAX_VERIFY_IMAGE_BYTES + MAX_MULTIPART_FIELDS_BYTES);
  if (overLimit) throw faceErrors.imageTooBig();

  let parts;
  try {
    parts = parseMultipart(body, boundary);
  } catch (error) {
    if (error instanceof MultipartError) throw faceErrors.invalidRequestBody();
    throw error;
  }

  const fields = new Map<string, string>();
  let image: Buffer | undefined;
  for (const part of parts) {
    // The older API named the part `VerifyImage`; the client SDK still special-cases that spelling.
    if (part.name.toLowerCase() === 'verifyimage') image = part.data;
    else fields.set(part.name, part.data.toString('utf8'));
  }
  const params = parseMultipartCreateFields(fields);

  if (!image) throw faceErrors.invalidRequestBody();
  if (image.length < MIN_VERIFY_IMAGE_BYTES) throw faceErrors.imageTooSmall();
  if (image.length > MAX_VERIFY_IMAGE_BYTES) throw faceErrors.imageTooBig();
  if (!sniffImageFormat(image)) throw faceErrors.invalidImage();
  const faces = markedFaceCount(image);
  if (faces === 0) throw faceErrors.noFaceInImage();
  if (faces > 1) throw faceErrors.multipleFacesInImage();
  return { params, image };
}

/**
 * The emulator detects no faces: a test image says how many it shows with the text
 * `face-emulator:faces=<n>` anywhere in its bytes (a PNG tEXt chunk, a JPEG comment, a GIF comment).
 * An image without the mark shows one face.
 */
export function markedFaceCount(image: Buffer): number {
  const match = /face-emulator:faces=(\d{1,3})/.exec(image.toString('latin1'));
  return match?.[1] === undefined ? 1 : Number(match[1]);
}

async function serveDeviceAttempt(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  kind: SessionKind,
): Promise<void> {
  const authorization = headerValue(req, 'Authorization') ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  const session = match?.[1] === undefined ? undefined : context.store.authorize(kind, match[1]);
  if (!session) throw faceErrors.invalidSessionToken();

  const attempt = context.store.recordAttempt(session, parseDeviceOutcome(await readJsonBody(req)));
  sendJson(res, 200, attemptBody(attempt));
}
