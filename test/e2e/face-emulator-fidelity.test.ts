/**
 * The Face emulator answers as Azure does where the gateway's evidence depends on it: the verify
 * image's hash on request, the verify image's size and faces, the `x-ms-error-code` header, the
 * per-second throttle, and the attempts a session takes. Over real HTTP, through raw `fetch` and the
 * gateway's own Face adapter (`@azure-rest/ai-vision-face`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartLivenessSessionDocument } from '../../client/generated/graphql';
import { createAzureFace } from '../../src/adapters/face/azure-face';
import { FaceRequestError } from '../../src/domain/ports/face.port';
import { createFaceEmulator, type FaceEmulator } from '../../tools/face-emulator';
import { TestGateway } from '../helpers/gateway';
import { PNG_1X1, referencePng, TINY_PNG } from '../helpers/images';

const KEY = 'emulator-fidelity-key-0123456789';

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function started(options: Parameters<typeof createFaceEmulator>[0] = {}): Promise<{ emulator: FaceEmulator; base: string }> {
  const emulator = createFaceEmulator({ apiKey: KEY, ...options });
  return { emulator, base: await emulator.listen(0) };
}

async function call(base: string, method: string, path: string, body?: FormData | object): Promise<Answer> {
  const headers: Record<string, string> = { 'Ocp-Apim-Subscription-Key': KEY };
  let payload: FormData | string | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(`${base}/face/v1.2${path}`, { method, headers, body: payload });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

function verifyForm(image: Buffer, extra: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.set('verifyImage', new Blob([image], { type: 'image/png' }), 'reference.png');
  form.set('livenessOperationMode', 'Passive');
  form.set('deviceCorrelationId', randomUUID());
  for (const [name, value] of Object.entries(extra)) form.set(name, value);
  return form;
}

async function attempt(base: string, authToken: string, outcome: object): Promise<Answer> {
  const response = await fetch(`${base}/face/v1.2/detectLivenessWithVerify/singleModal`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${authToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(outcome),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

describe('the Face emulator, as Azure answers', () => {
  let emulator: FaceEmulator;
  let base = '';
  beforeAll(async () => ({ emulator, base } = await started()));
  afterAll(() => emulator.close());

  it('with returnVerifyImageHash, each attempt carries the SHA-256 of the verify image it was given', async () => {
    const image = Buffer.from(PNG_1X1, 'base64');
    const created = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(image, { returnVerifyImageHash: 'true' }));
    expect(created.status).toBe(200);

    const device = await attempt(base, created.body.authToken, { livenessDecision: 'realface' });
    const read = await call(base, 'GET', `/detectLivenessWithVerify-sessions/${created.body.sessionId}`);

    const expected = createHash('sha256').update(image).digest('hex').toUpperCase();
    expect(device.body.result.verifyImageHash).toBe(expected);
    expect(read.body.results.attempts[0].result.verifyImageHash).toBe(expected);
  });

  it('without returnVerifyImageHash, attempts carry no hash', async () => {
    const created = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(Buffer.from(PNG_1X1, 'base64')));
    const device = await attempt(base, created.body.authToken, { livenessDecision: 'realface' });

    expect(device.status).toBe(200);
    expect(device.body.result).not.toHaveProperty('verifyImageHash');
  });

  it('a verify image under 1 KB is InvalidImageSize, named in x-ms-error-code too', async () => {
    const tiny = Buffer.from(TINY_PNG, 'base64');
    expect(tiny.length).toBeLessThan(1024);

    const answer = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(tiny));

    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'InvalidImageSize', message: 'Image size is too small.' } });
    expect(answer.headers.get('x-ms-error-code')).toBe('InvalidImageSize');
  });

  it.each([
    ['no face', 0, /No face/],
    ['two faces', 2, /Multiple faces/],
  ])('a verify image marked as showing %s is InvalidImage', async (_case, faces, message) => {
    const answer = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(Buffer.from(referencePng(faces), 'base64')));

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('InvalidImage');
    expect(answer.body.error.message).toMatch(message);
    expect(answer.headers.get('x-ms-error-code')).toBe('InvalidImage');
  });

  it('a verify image marked as showing one face is taken', async () => {
    const answer = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(Buffer.from(referencePng(1), 'base64')));

    expect(answer.status).toBe(200);
  });

  it('the adapter surfaces a face-less reference image as a FaceRequestError with InvalidImage', async () => {
    const face = createAzureFace({ endpoint: base, apiKey: KEY, maxRetries: 0 });
    const refusal = await face
      .createLivenessWithVerifySession({
        operationMode: 'PASSIVE',
        deviceCorrelationId: randomUUID(),
        authTokenTimeToLiveSeconds: 600,
        enableSessionImage: false,
        verifyImage: Buffer.from(referencePng(0), 'base64'),
      })
      .then(() => undefined, (error: unknown) => error);

    expect(refusal).toBeInstanceOf(FaceRequestError);
    expect(refusal).toMatchObject({ upstreamCode: 'InvalidImage', httpStatus: 400 });
  });

  it('every error answer names its code in x-ms-error-code', async () => {
    const notFound = await call(base, 'GET', `/detectLiveness-sessions/${randomUUID()}`);
    const badMode = await call(base, 'POST', '/detectLiveness-sessions', { livenessOperationMode: 'Sideways', deviceCorrelationId: randomUUID() });
    const noKey = await fetch(`${base}/face/v1.2/detectLiveness-sessions/${randomUUID()}`);

    expect(notFound.headers.get('x-ms-error-code')).toBe('SessionNotFound');
    expect(badMode.headers.get('x-ms-error-code')).toBe('InvalidLivenessOperationMode');
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get('x-ms-error-code')).toBe('401');
  });
});

describe('the Face emulator with a calls-per-second cap (FACE_EMULATOR_TPS)', () => {
  let emulator: FaceEmulator;
  let base = '';
  beforeAll(async () => ({ emulator, base } = await started({ transactionsPerSecond: 2 })));
  afterAll(() => emulator.close());

  it('answers management calls beyond the cap with 429, Retry-After and Azure error body', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(base, 'GET', `/detectLiveness-sessions/${randomUUID()}`)));

    const throttled = answers.filter((answer) => answer.status === 429);
    // Six calls reach at most two one-second windows of two calls each.
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    for (const answer of throttled) {
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.headers.get('x-ms-error-code')).toBe('429');
      expect(answer.body).toEqual({ error: { code: '429', message: expect.any(String) } });
    }
    expect(answers.filter((answer) => answer.status === 404).length).toBeGreaterThanOrEqual(2);
  });

  it('the gateway adapter waits out the throttle as it does for Azure, and every create succeeds', async () => {
    const face = createAzureFace({ endpoint: base, apiKey: KEY, maxRetries: 4, timeoutMillis: 5_000 });
    const request = () => face.createLivenessSession({ operationMode: 'PASSIVE', deviceCorrelationId: randomUUID(), authTokenTimeToLiveSeconds: 600, enableSessionImage: false });

    const sessions = await Promise.all([request(), request(), request(), request()]);

    expect(new Set(sessions.map((session) => session.sessionId)).size).toBe(4);
  });
});

describe('the Face emulator with another attempts limit', () => {
  let emulator: FaceEmulator;
  let base = '';
  beforeAll(async () => ({ emulator, base } = await started({ maxAttempts: 2 })));
  afterAll(() => emulator.close());

  it('fails the session after that many failed attempts and refuses one more', async () => {
    const created = await call(base, 'POST', '/detectLivenessWithVerify-sessions', verifyForm(Buffer.from(PNG_1X1, 'base64')));
    const failure = { error: { code: 'FaceWithMaskDetected', message: 'Mask detected.' } };

    await attempt(base, created.body.authToken, failure);
    await attempt(base, created.body.authToken, failure);
    const third = await attempt(base, created.body.authToken, failure);
    const read = await call(base, 'GET', `/detectLivenessWithVerify-sessions/${created.body.sessionId}`);

    expect(read.body.status).toBe('Failed');
    expect(read.body.results.attempts).toHaveLength(2);
    expect(third.status).toBe(403);
    expect(third.body.error.code).toBe('MaxAttemptsReached');
  });
});

describe('a gateway whose embedded emulator throttles (FACE_EMULATOR_TPS=1)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { FACE_EMULATOR_TPS: '1', FACE_MAX_RETRIES: '5', FACE_TIMEOUT_MS: '5000' } });
  });
  afterAll(() => gateway.stop());

  it("meets Azure's 429 and still starts every session, waiting as Retry-After says", async () => {
    const token = gateway.token({ sub: 'throttled' });

    const starts = await Promise.all([1, 2, 3].map(() => gateway.graphql(StartLivenessSessionDocument, { input: {} }, token)));
    const burst = await Promise.all([1, 2, 3].map(() => fetch(`${gateway.emulatorUrl}/face/v1.2/detectLiveness-sessions/${randomUUID()}`, { headers: { 'Ocp-Apim-Subscription-Key': 'any' } })));

    for (const start of starts) expect(start.errors).toBeUndefined();
    expect(new Set(starts.map((start) => start.data?.startLivenessSession.session.id)).size).toBe(3);
    expect(burst.map((answer) => answer.status)).toContain(429);
    expect(burst.find((answer) => answer.status === 429)?.headers.get('retry-after')).toBe('1');
  });
});
