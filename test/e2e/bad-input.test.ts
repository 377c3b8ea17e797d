/**
 * Bad input is refused with BAD_USER_INPUT before the Face service is asked anything.
 *
 * "Face is never called" is proven by behaviour: a fault is queued at the emulator first; it fails
 * the next management request, whichever it is. After the bad input, a good start must still hit
 * that fault (UPSTREAM_ERROR with the fault's code): had the bad input reached Face, it would have
 * consumed the fault and the good start would succeed.
 */
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionsDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
  type StartLivenessSessionInput,
  type StartLivenessWithVerifySessionInput,
} from '../../client/generated/graphql';
import { TestGateway, type GraphQLResponse } from '../helpers/gateway';
import { jpegHeader, pngHeader } from '../helpers/image-headers';
import { GIF_1X1, PNG_1X1, pngOfSize, TEXT_AS_BASE64 } from '../helpers/images';

let gateway: TestGateway;
let token: string;
beforeAll(async () => {
  gateway = await TestGateway.start();
  token = gateway.token({ sub: 'bad-input-user', tenant: 'acme' });
});
afterAll(async () => {
  await gateway?.stop();
});

const startLiveness = (input: StartLivenessSessionInput) => gateway.graphql(StartLivenessSessionDocument, { input }, token);
const startVerify = (input: StartLivenessWithVerifySessionInput) => gateway.graphql(StartLivenessWithVerifySessionDocument, { input }, token);

async function sessionCount(): Promise<number> {
  return (await gateway.ok(SessionsDocument, { first: 1 }, token)).sessions.totalCount;
}

function expectBadUserInput(result: GraphQLResponse<unknown>, messagePattern?: RegExp): void {
  expect(result.data ?? null).toBeNull();
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
  if (messagePattern) expect(result.errors![0].message).toMatch(messagePattern);
}

/**
 * Runs `send` between queuing a one-shot fault and a good start, and returns what `send` answered.
 * The good start must meet the fault, so `send` made no request to Face; no session was stored either.
 */
async function withoutCallingFace<T>(send: () => Promise<T>): Promise<T> {
  const before = await sessionCount();
  const marker = `NotCalled${randomBytes(4).toString('hex')}`;
  await gateway.fault({ status: 400, code: marker, count: 1 });
  const answer = await send();
  const probe = await startLiveness({});
  expect(probe.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: marker });
  expect(await sessionCount()).toBe(before);
  return answer;
}

describe('the token time to live', () => {
  it('59 seconds is refused with BAD_USER_INPUT without calling Face', async () => {
    const result = await withoutCallingFace(() => startLiveness({ authTokenTimeToLiveSeconds: 59 }));
    expectBadUserInput(result, /authTokenTimeToLiveSeconds/);
  });

  it('86401 seconds is refused with BAD_USER_INPUT without calling Face', async () => {
    const result = await withoutCallingFace(() => startLiveness({ authTokenTimeToLiveSeconds: 86_401 }));
    expectBadUserInput(result, /authTokenTimeToLiveSeconds/);
  });

  it('a verify session with 59 seconds is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: PNG_1X1, authTokenTimeToLiveSeconds: 59 }));
    expectBadUserInput(result, /authTokenTimeToLiveSeconds/);
  });

  it('60 and 86400 seconds are accepted, and the session expires that long after its creation', async () => {
    for (const ttl of [60, 86_400]) {
      const started = (await gateway.ok(StartLivenessSessionDocument, { input: { authTokenTimeToLiveSeconds: ttl } }, token)).startLivenessSession;
      const { createdAt, expiresAt } = started.session;
      expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(ttl * 1000);
    }
  });
});

describe('the verify image', () => {
  it('text that is valid base64 but no image is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: TEXT_AS_BASE64 }));
    expectBadUserInput(result, /JPEG, PNG, GIF, BMP or WEBP/);
  });

  it('a string that is not base64 is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: 'this is %% not base64 at all!' }));
    expectBadUserInput(result, /base64/);
  });

  it('base64 with a broken length is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: PNG_1X1.slice(0, -3) }));
    expectBadUserInput(result, /base64/);
  });

  it('an empty image is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: '' }));
    expectBadUserInput(result, /empty/);
  });

  it('an image one byte over 6 MB decoded is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: pngOfSize(6 * 1024 * 1024 + 1) }));
    expectBadUserInput(result, /6 MB/);
  });

  it('a decompression bomb (a small PNG claiming 100,000 x 100,000 pixels) is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: pngHeader(100_000, 100_000).toString('base64') }));
    expectBadUserInput(result, /100000 x 100000 pixels/);
  });

  it('an image of no pixels, or whose header gives no size, is refused without calling Face', async () => {
    expectBadUserInput(await withoutCallingFace(() => startVerify({ verifyImage: jpegHeader(640, 0).toString('base64') })), /no pixels/);
    expectBadUserInput(await withoutCallingFace(() => startVerify({ verifyImage: pngHeader(640, 480).subarray(0, 18).toString('base64') })), /damaged/);
  });

  it('an image of exactly 6 MB decoded is accepted', async () => {
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: pngOfSize(6 * 1024 * 1024) } }, token))
      .startLivenessWithVerifySession;
    expect(started.session.kind).toBe('LIVENESS_WITH_VERIFY');
    expect(started.authToken).not.toBe('');
  });

  it('a GIF is accepted', async () => {
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: GIF_1X1 } }, token))
      .startLivenessWithVerifySession;
    expect(started.session.kind).toBe('LIVENESS_WITH_VERIFY');
    expect(started.session.verifyReference?.qualityForRecognition).toMatch(/^(LOW|MEDIUM|HIGH)$/);
  });
});

describe('the verify confidence threshold', () => {
  it('below 0 is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: PNG_1X1, verifyConfidenceThreshold: -0.01 }));
    expectBadUserInput(result, /verifyConfidenceThreshold/);
  });

  it('above 1 is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: PNG_1X1, verifyConfidenceThreshold: 1.01 }));
    expectBadUserInput(result, /verifyConfidenceThreshold/);
  });

  it('0 and 1 are accepted', async () => {
    for (const threshold of [0, 1]) {
      const result = await startVerify({ verifyImage: PNG_1X1, verifyConfidenceThreshold: threshold });
      expect(result.errors).toBeUndefined();
      expect(result.data?.startLivenessWithVerifySession.session.id).toBeTruthy();
    }
  });
});

describe('the device correlation id', () => {
  it('65 characters is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startLiveness({ deviceCorrelationId: 'x'.repeat(65) }));
    expectBadUserInput(result, /deviceCorrelationId/);
  });

  it('65 characters is refused for a verify session too, without calling Face', async () => {
    const result = await withoutCallingFace(() => startVerify({ verifyImage: PNG_1X1, deviceCorrelationId: 'x'.repeat(65) }));
    expectBadUserInput(result, /deviceCorrelationId/);
  });

  it('an empty one is refused without calling Face', async () => {
    const result = await withoutCallingFace(() => startLiveness({ deviceCorrelationId: '' }));
    expectBadUserInput(result, /deviceCorrelationId/);
  });

  it('64 characters is accepted and kept', async () => {
    const id = 'y'.repeat(64);
    const started = (await gateway.ok(StartLivenessSessionDocument, { input: { deviceCorrelationId: id } }, token)).startLivenessSession;
    expect(started.session.deviceCorrelationId).toBe(id);
  });
});

describe('malformed requests', () => {
  it('a body that is not JSON is answered 400 with BAD_USER_INPUT', async () => {
    const response = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"query": "{ viewer { userId } }"',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a body over the size limit is answered 413 with BAD_USER_INPUT, without calling Face', async () => {
    const response = await withoutCallingFace(() =>
      fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: print(StartLivenessWithVerifySessionDocument), variables: { input: { verifyImage: pngOfSize(8 * 1024 * 1024) } } }),
      }),
    );
    expect(response.status).toBe(413);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a GraphQL syntax error is answered with BAD_USER_INPUT, without calling Face', async () => {
    const result = await withoutCallingFace(() => gateway.graphql('mutation { startLivenessSession(input: {}) { authToken ', {}, token));
    expectBadUserInput(result, /Syntax Error/);
  });

  it('a field the schema does not have is answered with BAD_USER_INPUT', async () => {
    const result = await gateway.graphql('{ viewer { userId favouriteColour } }', {}, token);
    expectBadUserInput(result, /favouriteColour/);
  });
});

describe('what errors never contain', () => {
  /** A valid PNG (so only the other mistake is wrong), with distinctive random bytes after its header. */
  const image = Buffer.concat([Buffer.from(PNG_1X1, 'base64'), randomBytes(300)]).toString('base64');
  const fragmentsOf = (secret: string) => [secret, secret.slice(0, 48), secret.slice(-48)];

  function expectNoEcho(result: unknown, secret: string): void {
    const text = JSON.stringify(result);
    for (const fragment of fragmentsOf(secret)) expect(text).not.toContain(fragment);
  }

  it('a refused image is not echoed', async () => {
    const text = Buffer.concat([Buffer.from('just text, no image '), randomBytes(300)]).toString('base64');
    const tooLarge = pngOfSize(6 * 1024 * 1024 + 1);
    for (const verifyImage of [text, `${image}!`, tooLarge]) {
      const result = await startVerify({ verifyImage });
      expectBadUserInput(result);
      expectNoEcho(result, verifyImage);
    }
  });

  it('an image sent with another invalid field is not echoed', async () => {
    const input = { verifyImage: image, verifyConfidenceTreshold: 0.5 } as unknown as StartLivenessWithVerifySessionInput;
    const result = await startVerify(input);
    expectBadUserInput(result, /verifyConfidenceTreshold/);
    expectNoEcho(result, image);
  });

  it('an image sent with a wrongly typed field is not echoed', async () => {
    const input = { verifyImage: image, authTokenTimeToLiveSeconds: 'ten minutes' } as unknown as StartLivenessWithVerifySessionInput;
    const result = await startVerify(input);
    expectBadUserInput(result, /authTokenTimeToLiveSeconds/);
    expectNoEcho(result, image);
  });

  it('an image sent where the input object belongs is not echoed', async () => {
    const result = await startVerify(image as unknown as StartLivenessWithVerifySessionInput);
    expectBadUserInput(result, /input/);
    expectNoEcho(result, image);
  });

  it('an image written into the document of a malformed request is not echoed', async () => {
    const documents = [
      `mutation { startLivenessWithVerifySession(input: { verifyImage: "${image}" }) { authToken `,
      `mutation { startLivenessWithVerifySession(input: { verifyImage: "${image}" } "${image}") { authToken } }`,
      `mutation { startLivenessWithVerifySession(input: "${image}") { authToken } }`,
    ];
    for (const document of documents) {
      const result = await gateway.graphql(document, {}, token);
      expectBadUserInput(result);
      expectNoEcho(result, image);
    }
  });

  it('names and short values in request errors are kept, so the caller can fix the request', async () => {
    const result = await startVerify({ verifyImage: image, operationMode: 'PASIVE' } as unknown as StartLivenessWithVerifySessionInput);
    expectBadUserInput(result);
    expect(result.errors![0].message).toContain('"PASIVE"');
    expect(result.errors![0].message).toContain('"LivenessOperationMode"');
    expectNoEcho(result, image);
  });

  it('the bearer token is not echoed, whether it is valid or refused', async () => {
    const syntax = await gateway.graphql('{ viewer { ', {}, token);
    expectBadUserInput(syntax);
    expectNoEcho(syntax, token);

    const forged = `${token.slice(0, -4)}AAAA`;
    const refused = await gateway.graphql('{ viewer { userId } }', {}, forged);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expectNoEcho(refused, forged);
  });

  it('the device token is never in a log line, and no image is', async () => {
    const started = (await gateway.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: image } }, token)).startLivenessWithVerifySession;
    const logs = gateway.logs.join('\n');
    expect(logs).not.toContain(started.authToken);
    for (const fragment of fragmentsOf(image)) expect(logs).not.toContain(fragment);
    expect(logs).not.toContain(token);
  });
});
