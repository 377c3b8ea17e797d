/**
 * The Face emulator served on the gateway's public port (`FACE_EMULATOR=true`), as someone who can
 * reach that port would use it: its management API demands the configured key, and however many
 * sessions a key holder creates, the emulator keeps a bounded number. That production refuses to
 * start without a key is checked on the real process in startup-config.test.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TestGateway } from '../helpers/gateway';

const gateways: TestGateway[] = [];
async function boot(env: Record<string, string>): Promise<TestGateway> {
  const started = await TestGateway.start({ env });
  gateways.push(started);
  return started;
}
afterAll(async () => {
  for (const each of gateways) await each.stop();
});

describe('the Face emulator on the public port', () => {
  const createSession = (on: TestGateway, key?: string) =>
    fetch(`${on.emulatorUrl}/face/v1.2/detectLiveness-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'ocp-apim-subscription-key': key }) },
      body: JSON.stringify({ livenessOperationMode: 'Passive', deviceCorrelationId: randomUUID() }),
    });

  it('in production it answers only its FACE_EMULATOR_KEY: another key, or none, is 401', async () => {
    const key = randomBytes(16).toString('hex');
    const gateway = await boot({ NODE_ENV: 'production', FACE_EMULATOR: 'true', FACE_EMULATOR_KEY: key, IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64') });
    expect((await createSession(gateway, 'any-key-at-all')).status).toBe(401);
    expect((await createSession(gateway)).status).toBe(401);
    expect((await createSession(gateway, key)).status).toBe(200);
    // The gateway itself still talks to it with that key.
    const started = await gateway.graphql('mutation { startLivenessSession(input: {}) { session { id } } }', {}, gateway.token({ sub: `user-${randomUUID()}` }));
    expect(started.errors).toBeUndefined();
  });

  it('keeps at most FACE_EMULATOR_MAX_SESSIONS sessions: creating more forgets the oldest', async () => {
    const key = 'emulator-cap-key';
    const gateway = await boot({ FACE_EMULATOR_KEY: key, FACE_EMULATOR_MAX_SESSIONS: '3' });
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const created = await createSession(gateway, key);
      expect(created.status).toBe(200);
      ids.push(((await created.json()) as { sessionId: string }).sessionId);
    }
    const found = [];
    for (const id of ids) {
      const response = await fetch(`${gateway.emulatorUrl}/face/v1.2/detectLiveness-sessions/${id}`, { headers: { 'ocp-apim-subscription-key': key } });
      found.push(response.status);
    }
    expect(found).toEqual([404, 404, 404, 404, 200, 200, 200]);
  });
});
