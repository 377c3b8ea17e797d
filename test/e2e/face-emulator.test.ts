/**
 * The Face emulator over real HTTP, driven by the real `@azure-rest/ai-vision-face` client (through our
 * adapter) and by raw `fetch`, whose bodies are held against Azure's published v1.2 bodies.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAzureFace } from '../../src/adapters/face/azure-face';
import { createFaceEmulator, MAX_VERIFY_IMAGE_BYTES } from '../../tools/face-emulator';
import {
  type CreateLivenessSessionRequest,
  type CreateLivenessWithVerifySessionRequest,
  FaceRequestError,
  FaceUnavailableError,
} from '../../src/domain/ports/face.port';
import { PNG_1X1 } from '../helpers/images';

// Azure's bodies, as in /work/shared/fixtures/face-v1.2 (the REST spec's v1.2 examples and the liveness tutorial).
const fixtures = {
  createLivenessRequest: {
    livenessOperationMode: 'Passive',
    deviceCorrelationIdSetInClient: false,
    deviceCorrelationId: 'your_device_correlation_id',
    authTokenTimeToLiveInSeconds: 60,
  },
  createLivenessResponse: {
    sessionId: 'b12e033e-bda7-4b83-a211-e721c661f30e',
    authToken: 'eyJhbGciOiJFUzI1NiIsIm',
    status: 'NotStarted',
    modelVersion: '2024-11-15',
    results: { attempts: [] },
  },
  createVerifyResponse: {
    sessionId: '3847ffd3-4657-4e6c-870c-8e20de52f567',
    authToken: '<session-authorization-token>',
    status: 'NotStarted',
    modelVersion: '2024-11-15',
    results: {
      attempts: [],
      verifyReferences: [
        {
          referenceType: 'image',
          faceRectangle: { top: 98, left: 131, width: 233, height: 300 },
          qualityForRecognition: 'high',
        },
      ],
    },
  },
  getLivenessSucceeded: {
    sessionId: '0acf6dbf-ce43-42a7-937e-705938881d62',
    authToken: '',
    status: 'Succeeded',
    modelVersion: '2024-11-15',
    results: {
      attempts: [
        {
          attemptId: 1,
          attemptStatus: 'Succeeded',
          result: {
            livenessDecision: 'realface',
            targets: { color: { faceRectangle: { top: 763, left: 320, width: 739, height: 938 } } },
            digest: '517A0E700859E42107FA47E957DD12F54211C1A021A969CD391AC38BB88295A2',
            sessionImageId: 'Ab9tzwpDzqdCk35wWTiIHWJzzPr9fBCNSqBcXnJmDjbI',
          },
        },
      ],
    },
  },
  getVerifySucceeded: {
    sessionId: '93fd6f13-4161-41df-8a22-80a38ef53836',
    authToken: '',
    status: 'Succeeded',
    modelVersion: '2024-11-15',
    results: {
      attempts: [
        {
          attemptId: 1,
          attemptStatus: 'Succeeded',
          result: {
            livenessDecision: 'realface',
            targets: { color: { faceRectangle: { top: 669, left: 203, width: 646, height: 724 } } },
            digest: 'EE664438FDF0535C6344A468181E4DDD4A34AC89582D4FD6E9E8954B843C7AA7',
            verifyResult: { matchConfidence: 0.08172279, isIdentical: false },
          },
        },
      ],
      verifyReferences: [
        { faceRectangle: { top: 98, left: 131, width: 233, height: 300 }, qualityForRecognition: 'high' },
      ],
    },
  },
};

/** A valid 1x1 RGBA PNG with a text chunk that brings it over Face's 1 KB minimum. */
const PNG = Buffer.from(PNG_1X1, 'base64');
/** A valid 8x8 grey baseline JPEG (160 bytes), with a comment segment that brings it over 1 KB. */
const JPEG = withJpegComment(
  Buffer.from(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAIAAgBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAAA/AD//2Q==',
    'base64',
  ),
  'A grey square standing in for a reference photo. '.repeat(24),
);

/** `jpeg` with a COM segment right after its start-of-image marker. */
function withJpegComment(jpeg: Buffer, text: string): Buffer {
  const comment = Buffer.from(text, 'latin1');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(comment.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), length, comment, jpeg.subarray(2)]);
}

const KEY = 'emulator-test-key-0123456789';
const HOUR_MILLIS = 60 * 60 * 1000;

let clockOffsetMillis = 0;
const emulator = createFaceEmulator({ apiKey: KEY, now: () => Date.now() + clockOffsetMillis });
let base = '';

beforeAll(async () => {
  base = await emulator.listen(0);
});

afterEach(async () => {
  clockOffsetMillis = 0;
  await fetch(`${base}/_faults`, { method: 'DELETE' });
});

afterAll(async () => {
  await emulator.close();
});

function adapter(overrides: { apiKey?: string; timeoutMillis?: number; maxRetries?: number; endpoint?: string } = {}) {
  return createAzureFace({ endpoint: base, apiKey: KEY, timeoutMillis: 2_000, maxRetries: 3, ...overrides });
}

function livenessRequest(overrides: Partial<CreateLivenessSessionRequest> = {}): CreateLivenessSessionRequest {
  return {
    operationMode: 'PASSIVE',
    deviceCorrelationId: randomUUID(),
    authTokenTimeToLiveSeconds: 600,
    enableSessionImage: false,
    ...overrides,
  };
}

function verifyRequest(overrides: Partial<CreateLivenessWithVerifySessionRequest> = {}): CreateLivenessWithVerifySessionRequest {
  return { ...livenessRequest(), verifyImage: PNG, ...overrides };
}

interface RawAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function raw(
  method: string,
  path: string,
  options: { json?: unknown; body?: string | FormData; key?: string | null } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers['Ocp-Apim-Subscription-Key'] = key;
  let body = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

type DeviceKind = 'liveness' | 'verify';

async function device(kind: DeviceKind, authToken: string, outcome: unknown): Promise<RawAnswer> {
  const operation = kind === 'liveness' ? 'detectLiveness' : 'detectLivenessWithVerify';
  const response = await fetch(`${base}/face/v1.2/${operation}/singleModal`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${authToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(outcome),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Keys (in order), nesting and value types of a JSON value; arrays by their first element. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, shapeOf(item)]));
  }
  return value === null ? 'null' : typeof value;
}

function expectSameShape(actual: unknown, azure: unknown): void {
  expect(JSON.stringify(shapeOf(actual), null, 1)).toBe(JSON.stringify(shapeOf(azure), null, 1));
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function queueFault(rule: unknown): Promise<void> {
  const answer = await raw('POST', '/_faults', { json: rule, key: null });
  expect(answer.status).toBe(200);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('creating sessions', () => {
  it('answers a liveness session create in the shape of Azure', async () => {
    const answer = await raw('POST', '/face/v1.2/detectLiveness-sessions', { json: fixtures.createLivenessRequest });

    expect(answer.status).toBe(200);
    expectSameShape(answer.body, fixtures.createLivenessResponse);
    expect(answer.body).toMatchObject({ status: 'NotStarted', modelVersion: '2024-11-15', results: { attempts: [] } });
  });

  it('answers a multipart liveness-with-verify create in the shape of Azure', async () => {
    const form = new FormData();
    form.set('verifyImage', new Blob([PNG], { type: 'image/png' }), 'face.png');
    form.set('livenessOperationMode', 'PassiveActive');
    form.set('deviceCorrelationId', randomUUID());
    form.set('authTokenTimeToLiveInSeconds', '120');
    form.set('enableSessionImage', 'true');
    form.set('verifyConfidenceThreshold', '0.7');

    const answer = await raw('POST', '/face/v1.2/detectLivenessWithVerify-sessions', { body: form });

    expect(answer.status).toBe(200);
    expectSameShape(answer.body, fixtures.createVerifyResponse);
  });

  it('returns the device token and the reference face through the Azure client', async () => {
    const face = adapter();

    const liveness = await face.createLivenessSession(livenessRequest({ operationMode: 'PASSIVE_ACTIVE' }));
    const verify = await face.createLivenessWithVerifySession(verifyRequest({ verifyImage: JPEG, verifyConfidenceThreshold: 0.6 }));

    expect(liveness).toMatchObject({ status: 'NOT_STARTED', modelVersion: '2024-11-15', attempts: [] });
    expect(liveness.authToken).not.toBe('');
    expect(liveness.verifyReference).toBeUndefined();
    expect(verify.verifyReference).toMatchObject({ qualityForRecognition: 'HIGH', faceRectangle: { width: expect.any(Number) } });
    expect(verify.authToken).not.toBe(liveness.authToken);
  });

  it('lets the device set its correlation id when the gateway has none', async () => {
    const session = await adapter().createLivenessSession(livenessRequest({ deviceCorrelationId: '' }));

    expect(session.status).toBe('NOT_STARTED');
  });
});

describe('device attempts', () => {
  it.each([
    ['realface', 'REAL_FACE'],
    ['spoofface', 'SPOOF_FACE'],
    ['uncertain', 'UNCERTAIN'],
  ] as const)('a %s attempt succeeds the session with %s', async (decision, expected) => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());

    const answer = await device('liveness', created.authToken, { livenessDecision: decision });
    const session = await face.getSession('LIVENESS', created.sessionId);

    expect(answer.status).toBe(200);
    expect(session.status).toBe('SUCCEEDED');
    expect(session.attempts).toHaveLength(1);
    expect(session.attempts[0]).toMatchObject({ attemptId: 1, status: 'SUCCEEDED', livenessDecision: expected });
    expect(session.attempts[0]?.digest).toMatch(/^[0-9A-F]{64}$/);
    expect(session.attempts[0]?.faceRectangle).toEqual({
      top: expect.any(Number),
      left: expect.any(Number),
      width: expect.any(Number),
      height: expect.any(Number),
    });
    expect(session.attempts[0]?.sessionImageId).toBeUndefined();
  });

  it('a succeeded liveness session reads back in the shape of Azure, without the device token', async () => {
    const created = await adapter().createLivenessSession(livenessRequest({ enableSessionImage: true }));
    await device('liveness', created.authToken, { livenessDecision: 'realface' });

    const answer = await raw('GET', `/face/v1.2/detectLiveness-sessions/${created.sessionId}`);

    expect(answer.status).toBe(200);
    expectSameShape(answer.body, fixtures.getLivenessSucceeded);
    expect(answer.body).toMatchObject({ sessionId: created.sessionId, authToken: '', status: 'Succeeded' });
    expect(JSON.stringify(answer.body)).not.toContain(created.authToken);
  });

  it('a verify attempt whose face is not identical reads back in the shape of Azure and maps to the port', async () => {
    const face = adapter();
    const created = await face.createLivenessWithVerifySession(verifyRequest());
    await device('verify', created.authToken, { livenessDecision: 'realface', isIdentical: false, matchConfidence: 0.08172279 });

    const answer = await raw('GET', `/face/v1.2/detectLivenessWithVerify-sessions/${created.sessionId}`);
    const session = await face.getSession('LIVENESS_WITH_VERIFY', created.sessionId);

    // The gateway asks for the verify image's hash; Face then adds `verifyImageHash` after `verifyResult`.
    const [azureAttempt] = fixtures.getVerifySucceeded.results.attempts;
    const withHash = {
      ...fixtures.getVerifySucceeded,
      results: { ...fixtures.getVerifySucceeded.results, attempts: [{ ...azureAttempt, result: { ...azureAttempt?.result, verifyImageHash: '' } }] },
    };
    expectSameShape(answer.body, withHash);
    expect(session.status).toBe('SUCCEEDED');
    expect(session.attempts[0]).toMatchObject({
      livenessDecision: 'REAL_FACE',
      verifyResult: { isIdentical: false, matchConfidence: 0.08172279 },
    });
    expect(session.verifyReference?.qualityForRecognition).toBe('HIGH');
  });

  it('a verify attempt without a verdict defaults to an identical face at 0.9', async () => {
    const face = adapter();
    const created = await face.createLivenessWithVerifySession(verifyRequest());
    await device('verify', created.authToken, { livenessDecision: 'realface' });

    const session = await face.getSession('LIVENESS_WITH_VERIFY', created.sessionId);

    expect(session.attempts[0]?.verifyResult).toEqual({ isIdentical: true, matchConfidence: 0.9 });
  });

  it('a failed attempt carries Face error and leaves the session running', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());

    await device('liveness', created.authToken, { error: { code: 'FaceWithMaskDetected', message: 'Mask detected.' } });
    const session = await face.getSession('LIVENESS', created.sessionId);
    const answer = await raw('GET', `/face/v1.2/detectLiveness-sessions/${created.sessionId}`);

    expect(session.status).toBe('RUNNING');
    expect(session.attempts[0]).toMatchObject({
      attemptId: 1,
      status: 'FAILED',
      error: { code: 'FaceWithMaskDetected', message: 'Mask detected.' },
    });
    expect(session.attempts[0]?.livenessDecision).toBeUndefined();
    expect(shapeOf(answer.body)).toMatchObject({
      results: {
        attempts: [
          {
            attemptId: 'number',
            attemptStatus: 'string',
            error: { code: 'string', message: 'string', targets: { color: { faceRectangle: { top: 'number' } } } },
          },
        ],
      },
    });
  });

  it('three failed attempts fail the session and a fourth is refused', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());
    const failure = { error: { code: 'FaceTooSmall', message: 'Move closer.' } };

    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect((await device('liveness', created.authToken, failure)).status).toBe(200);
    }
    const fourth = await device('liveness', created.authToken, { livenessDecision: 'realface' });
    const session = await face.getSession('LIVENESS', created.sessionId);

    expect(fourth.status).toBe(403);
    expect(fourth.body).toEqual({ error: { code: 'MaxAttemptsReached', message: expect.any(String) } });
    expect(session.status).toBe('FAILED');
    expect(session.attempts.map((attempt) => attempt.attemptId)).toEqual([1, 2, 3]);
  });

  it('a session that succeeded refuses further attempts', async () => {
    const created = await adapter().createLivenessSession(livenessRequest());
    await device('liveness', created.authToken, { error: { code: 'FaceWithMaskDetected', message: 'Mask.' } });
    await device('liveness', created.authToken, { livenessDecision: 'realface' });

    const third = await device('liveness', created.authToken, { livenessDecision: 'spoofface' });

    expect(third.status).toBe(403);
    expect(third.body).toMatchObject({ error: { code: 'SessionCompleted' } });
  });

  it('refuses a device token once its TTL has passed, while the session stays readable', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest({ authTokenTimeToLiveSeconds: 60 }));

    clockOffsetMillis = 61_000;
    const late = await device('liveness', created.authToken, { livenessDecision: 'realface' });

    expect(late.status).toBe(401);
    expect(late.body).toMatchObject({ error: { code: '401' } });
    expect((await face.getSession('LIVENESS', created.sessionId)).status).toBe('NOT_STARTED');
  });

  it('forgets sessions 48 hours after their creation', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());

    clockOffsetMillis = 48 * HOUR_MILLIS;
    const error = await rejectionOf(face.getSession('LIVENESS', created.sessionId));

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'SessionNotFound', httpStatus: 404 });
  });

  it('refuses an unknown token, a malformed body, and a token on the other kind path', async () => {
    const created = await adapter().createLivenessSession(livenessRequest());

    expect((await device('liveness', 'not-a-token', { livenessDecision: 'realface' })).status).toBe(401);
    expect((await device('verify', created.authToken, { livenessDecision: 'realface' })).status).toBe(401);
    const malformed = await device('liveness', created.authToken, { livenessDecision: 'alive' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: { code: 'InvalidRequestBody' } });
  });
});

describe('reading and deleting sessions', () => {
  it('deleting answers 204, then the session is not found and its device token is refused', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());

    const deleted = await raw('DELETE', `/face/v1.2/detectLiveness-sessions/${created.sessionId}`);
    const afterwards = await raw('GET', `/face/v1.2/detectLiveness-sessions/${created.sessionId}`);
    const attempt = await device('liveness', created.authToken, { livenessDecision: 'realface' });

    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect(afterwards.status).toBe(404);
    expect(afterwards.body).toEqual({
      error: { code: 'SessionNotFound', message: 'Session ID is not found. The session ID is expired or does not exist.' },
    });
    expect(attempt.status).toBe(401);
    await expect(face.deleteSession('LIVENESS', created.sessionId)).resolves.toBeUndefined();
  });

  it('the adapter deletes a verify session and then reports it as not found', async () => {
    const face = adapter();
    const created = await face.createLivenessWithVerifySession(verifyRequest());

    await face.deleteSession('LIVENESS_WITH_VERIFY', created.sessionId);
    const error = await rejectionOf(face.getSession('LIVENESS_WITH_VERIFY', created.sessionId));

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'SessionNotFound', httpStatus: 404 });
  });

  it('a session of one kind is not found under the other kind path', async () => {
    const created = await adapter().createLivenessSession(livenessRequest());

    const answer = await raw('GET', `/face/v1.2/detectLivenessWithVerify-sessions/${created.sessionId}`);
    const deleted = await raw('DELETE', `/face/v1.2/detectLivenessWithVerify-sessions/${created.sessionId}`);

    expect(answer.status).toBe(404);
    expect(deleted.status).toBe(404);
    expect((await raw('GET', `/face/v1.2/detectLiveness-sessions/${created.sessionId}`)).status).toBe(200);
  });
});

describe('session images', () => {
  it('a session with session images gives each attempt a sessionImageId whose image is a JPEG, served through the Azure client', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest({ enableSessionImage: true }));
    await device('liveness', created.authToken, { livenessDecision: 'realface' });
    const [attempt] = (await face.getSession('LIVENESS', created.sessionId)).attempts;
    expect(attempt.sessionImageId).toMatch(/^[A-Za-z0-9]{44}$/);

    const image = await face.getSessionImage(attempt.sessionImageId!);
    expect(image.contentType).toBe('image/jpeg');
    // SOI, a comment naming the image, the frame, EOI: a real JPEG, different for every image.
    expect(image.bytes.subarray(0, 4).toString('hex')).toBe('ffd8fffe');
    expect(image.bytes.includes(Buffer.from(attempt.sessionImageId!))).toBe(true);
    expect(image.bytes.includes(Buffer.from([0xff, 0xc0]))).toBe(true);
    expect(image.bytes.subarray(-2).toString('hex')).toBe('ffd9');

    const answer = await fetch(`${base}/face/v1.2/sessionImages/${attempt.sessionImageId}`);
    expect(answer.status).toBe(401);
  });

  it('deleting the session makes its images and its device token unusable', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest({ enableSessionImage: true }));
    await device('liveness', created.authToken, { error: { code: 'FaceWithMaskDetected', message: 'mask' } });
    await device('liveness', created.authToken, { livenessDecision: 'spoofface' });
    const attempts = (await face.getSession('LIVENESS', created.sessionId)).attempts;
    const imageId = attempts.find((attempt) => attempt.sessionImageId)!.sessionImageId!;
    await face.deleteSession('LIVENESS', created.sessionId);

    const error = await rejectionOf(face.getSessionImage(imageId));
    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'SessionImageNotFound', httpStatus: 404 });
    expect((await device('liveness', created.authToken, { livenessDecision: 'realface' })).status).toBe(401);
  });

  it('a fault with pathPrefix fails only the requests under that path', async () => {
    const face = adapter({ maxRetries: 0 });
    const created = await face.createLivenessSession(livenessRequest({ enableSessionImage: true }));
    await device('liveness', created.authToken, { livenessDecision: 'realface' });
    await queueFault({ status: 500, count: 1, method: 'GET', pathPrefix: '/sessionImages' });
    const [attempt] = (await face.getSession('LIVENESS', created.sessionId)).attempts;
    expect(await rejectionOf(face.getSessionImage(attempt.sessionImageId!))).toBeInstanceOf(FaceUnavailableError);
    expect((await face.getSessionImage(attempt.sessionImageId!)).bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect((await raw('POST', '/_faults', { json: { status: 500, pathPrefix: 'sessionImages' }, key: null })).status).toBe(400);
  });
});

describe('validation', () => {
  it('refuses a missing or wrong subscription key with 401', async () => {
    const missing = await raw('GET', `/face/v1.2/detectLiveness-sessions/${randomUUID()}`, { key: null });
    const wrong = await raw('POST', '/face/v1.2/detectLiveness-sessions', { json: fixtures.createLivenessRequest, key: 'nope' });

    for (const answer of [missing, wrong]) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: { code: '401', message: expect.stringContaining('Access denied') } });
    }
  });

  it('accepts any non-empty key when no key is configured', async () => {
    const open = createFaceEmulator();
    const openBase = await open.listen(0);
    try {
      const path = `${openBase}/face/v1.2/detectLiveness-sessions/${randomUUID()}`;
      const withKey = await fetch(path, { headers: { 'Ocp-Apim-Subscription-Key': 'anything' } });
      const withoutKey = await fetch(path);

      expect(withKey.status).toBe(404);
      expect(withoutKey.status).toBe(401);
    } finally {
      await open.close();
    }
  });

  it('the adapter reports a wrong key as a refused request without revealing the key', async () => {
    const secret = 'wrong-key-that-must-not-leak';
    const error = await rejectionOf(adapter({ apiKey: secret }).createLivenessSession(livenessRequest()));

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: '401', httpStatus: 401 });
    expect(String((error as Error).message)).not.toContain(secret);
  });

  it.each([59, 86_401, 0])('refuses a TTL of %i seconds with InvalidTokenLifetime', async (ttl) => {
    const answer = await raw('POST', '/face/v1.2/detectLiveness-sessions', {
      json: { ...fixtures.createLivenessRequest, authTokenTimeToLiveInSeconds: ttl },
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'InvalidTokenLifetime' } });
  });

  it('accepts the TTL bounds of 60 and 86400 seconds', async () => {
    const face = adapter();

    await expect(face.createLivenessSession(livenessRequest({ authTokenTimeToLiveSeconds: 60 }))).resolves.toBeDefined();
    await expect(face.createLivenessSession(livenessRequest({ authTokenTimeToLiveSeconds: 86_400 }))).resolves.toBeDefined();
  });

  it('the adapter surfaces a TTL refusal of either kind as a FaceRequestError with Face code', async () => {
    const face = adapter();

    const liveness = await rejectionOf(face.createLivenessSession(livenessRequest({ authTokenTimeToLiveSeconds: 59 })));
    const verify = await rejectionOf(face.createLivenessWithVerifySession(verifyRequest({ authTokenTimeToLiveSeconds: 30 })));

    for (const error of [liveness, verify]) {
      expect(error).toBeInstanceOf(FaceRequestError);
      expect(error).toMatchObject({ upstreamCode: 'InvalidTokenLifetime', httpStatus: 400 });
    }
  });

  it('refuses an unknown or missing livenessOperationMode', async () => {
    const { livenessOperationMode: _omitted, ...withoutMode } = fixtures.createLivenessRequest;
    const unknown = await raw('POST', '/face/v1.2/detectLiveness-sessions', {
      json: { ...fixtures.createLivenessRequest, livenessOperationMode: 'Active' },
    });
    const missing = await raw('POST', '/face/v1.2/detectLiveness-sessions', { json: withoutMode });

    for (const answer of [unknown, missing]) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'InvalidLivenessOperationMode' } });
    }
  });

  it('refuses a body that is not JSON, and a create without a device correlation id', async () => {
    const notJson = await raw('POST', '/face/v1.2/detectLiveness-sessions', { body: '{"livenessOperationMode":' });
    const noCorrelation = await raw('POST', '/face/v1.2/detectLiveness-sessions', {
      json: { livenessOperationMode: 'Passive' },
    });

    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: { code: 'InvalidRequestBody' } });
    expect(noCorrelation.status).toBe(400);
    expect(noCorrelation.body).toMatchObject({ error: { code: 'InvalidDeviceCorrelationId' } });
  });

  it('refuses a verify image that is not an image with InvalidImage', async () => {
    const error = await rejectionOf(
      adapter().createLivenessWithVerifySession(verifyRequest({ verifyImage: Buffer.from('this is not an image, just text. '.repeat(64)) })),
    );

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'InvalidImage', httpStatus: 400 });
  });

  it('refuses a verify image over 6 MB with InvalidImageSize', async () => {
    const tooBig = Buffer.alloc(MAX_VERIFY_IMAGE_BYTES + 1);
    PNG.copy(tooBig);

    const error = await rejectionOf(adapter().createLivenessWithVerifySession(verifyRequest({ verifyImage: tooBig })));

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'InvalidImageSize', httpStatus: 400 });
  });

  it('answers an unknown session id with 404 SessionNotFound in Azure error shape', async () => {
    const answer = await raw('GET', `/face/v1.2/detectLiveness-sessions/${randomUUID()}`);

    expect(answer.status).toBe(404);
    expectSameShape(answer.body, { error: { code: '', message: '' } });
    expect(answer.body).toMatchObject({ error: { code: 'SessionNotFound' } });
  });
});

describe('faults and resilience', () => {
  it('a queued 429 answers with Retry-After and Azure error body, rules are consumed in order and by method', async () => {
    await queueFault([
      { status: 503, code: 'ServiceUnavailable', method: 'DELETE' },
      { status: 429, code: 'TooManyRequests', retryAfterSeconds: 7, count: 1 },
    ]);
    const path = `/face/v1.2/detectLiveness-sessions/${randomUUID()}`;

    const throttled = await raw('GET', path);
    const unavailable = await raw('DELETE', path);
    const normal = await raw('GET', path);

    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect(throttled.body).toEqual({ error: { code: 'TooManyRequests', message: expect.any(String) } });
    expect(unavailable.status).toBe(503);
    expect(normal.status).toBe(404);
  });

  it('faults do not touch device calls', async () => {
    const created = await adapter().createLivenessSession(livenessRequest());
    await queueFault({ status: 500, count: 5 });

    expect((await device('liveness', created.authToken, { livenessDecision: 'realface' })).status).toBe(200);
  });

  it('a latency fault with status 200 answers normally after the delay', async () => {
    await queueFault({ status: 200, latencyMs: 300, count: 1 });
    const started = Date.now();

    const answer = await raw('GET', `/face/v1.2/detectLiveness-sessions/${randomUUID()}`);

    expect(answer.status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('the adapter retries a 429 after Retry-After and then succeeds', async () => {
    const face = adapter();
    const created = await face.createLivenessSession(livenessRequest());
    await queueFault({ status: 429, code: 'TooManyRequests', retryAfterSeconds: 1, count: 1, method: 'GET' });
    const started = Date.now();

    const session = await face.getSession('LIVENESS', created.sessionId);

    expect(session.sessionId).toBe(created.sessionId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('a persistent 503 becomes FaceUnavailableError within a bounded time', async () => {
    await queueFault({ status: 503, code: 'ServiceUnavailable', count: 50 });
    const started = Date.now();

    const error = await rejectionOf(adapter({ maxRetries: 2, timeoutMillis: 1_000 }).createLivenessSession(livenessRequest()));

    expect(error).toBeInstanceOf(FaceUnavailableError);
    expect(error).toMatchObject({ httpStatus: 503 });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a Retry-After longer than the adapter will wait fails at once and carries the wait', async () => {
    await queueFault({ status: 429, code: 'TooManyRequests', retryAfterSeconds: 30, count: 5 });

    const error = await rejectionOf(adapter().getSession('LIVENESS', randomUUID()));

    expect(error).toBeInstanceOf(FaceUnavailableError);
    expect(error).toMatchObject({ httpStatus: 429, retryAfterSeconds: 30 });
  });

  it('a 400-class fault becomes FaceRequestError with Face code and is not retried', async () => {
    const face = adapter();
    await queueFault({ status: 400, code: 'InvalidRequest', message: 'Injected refusal.', count: 1, method: 'POST' });

    const error = await rejectionOf(face.createLivenessSession(livenessRequest()));

    expect(error).toBeInstanceOf(FaceRequestError);
    expect(error).toMatchObject({ upstreamCode: 'InvalidRequest', httpStatus: 400 });
    await expect(face.createLivenessSession(livenessRequest())).resolves.toMatchObject({ status: 'NOT_STARTED' });
  });

  it('a Face slower than the adapter timeout becomes FaceUnavailableError', async () => {
    await queueFault({ status: 200, latencyMs: 1_500, count: 5 });
    const started = Date.now();

    const error = await rejectionOf(adapter({ timeoutMillis: 200, maxRetries: 1 }).getSession('LIVENESS', randomUUID()));

    expect(error).toBeInstanceOf(FaceUnavailableError);
    expect((error as Error).message).toContain('did not answer within 200 ms');
    expect(Date.now() - started).toBeLessThan(1_400);
  });

  it('an endpoint nobody listens on becomes FaceUnavailableError', async () => {
    const port = await closedPort();
    const face = adapter({ endpoint: `http://127.0.0.1:${port}`, maxRetries: 1, timeoutMillis: 500 });

    const error = await rejectionOf(face.createLivenessSession(livenessRequest()));

    expect(error).toBeInstanceOf(FaceUnavailableError);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});

describe('readiness probe', () => {
  it('ping resolves when Face answers and accepts the key', async () => {
    await expect(adapter().ping()).resolves.toBeUndefined();
  });

  it('ping rejects with a clear message when the key is wrong, without revealing it', async () => {
    const secret = 'definitely-wrong-key';
    const error = await rejectionOf(adapter({ apiKey: secret }).ping());

    expect(error).toBeInstanceOf(FaceRequestError);
    expect((error as Error).message).toContain('refused our credentials');
    expect((error as Error).message).not.toContain(secret);
  });

  it('ping rejects when Face cannot be reached', async () => {
    const port = await closedPort();

    const error = await rejectionOf(adapter({ endpoint: `http://127.0.0.1:${port}`, timeoutMillis: 500 }).ping());

    expect(error).toBeInstanceOf(FaceUnavailableError);
  });
});

describe('mounted under a prefix', () => {
  let host: Server;
  let hostBase = '';
  const mounted = createFaceEmulator({ apiKey: KEY });

  beforeAll(async () => {
    host = createServer((req, res) => {
      const url = req.url ?? '/';
      const handled = url.startsWith('/emulator/') && mounted.handle(req, res, url.slice('/emulator'.length));
      if (!handled) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not the emulator');
      }
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    hostBase = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      host.close(() => resolve());
      host.closeAllConnections();
    });
    await mounted.close();
  });

  it('serves the Azure client under /emulator and leaves other paths to its host', async () => {
    const face = adapter({ endpoint: `${hostBase}/emulator` });

    const created = await face.createLivenessSession(livenessRequest());
    const session = await face.getSession('LIVENESS', created.sessionId);
    const other = await fetch(`${hostBase}/emulator/graphql`);

    expect(session.sessionId).toBe(created.sessionId);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('not the emulator');
  });
});
