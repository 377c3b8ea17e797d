/**
 * JWKS key rotation under attack: tokens with made-up `kid`s (which anyone can send, without any
 * key) must not use up the gateway's right to fetch the key set, or a legitimately rotated key is
 * refused. The key set is served over real HTTP, the gateway is real.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';

const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' });
const sign = (key: KeyObject, kid: string) => jwt.sign({ roles: ['user'], tenant: 'jwks' }, key, { algorithm: 'RS256', subject: 'alice', expiresIn: 600, keyid: kid });

describe('a JWKS endpoint while unknown kids flood in', () => {
  const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let keys: object[] = [jwk(first.publicKey, 'key-1')];
  let fetches = 0;
  let jwks: http.Server;
  let gateway: TestGateway;

  beforeAll(async () => {
    jwks = http.createServer((_req, res) => {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    gateway = await TestGateway.start({
      env: {
        JWT_SECRET: '',
        JWT_JWKS_URL: url,
        JWT_JWKS_REFRESH_SECONDS: '2',
        JWT_JWKS_MISS_REFETCH_SECONDS: '1',
        // The anonymous budget is on: refused tokens count against it, valid ones never do.
        RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '10',
      },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const viewer = async (token: string) => {
    const result = await gateway.graphql(ViewerDocument, {}, token);
    return result.errors?.[0]?.extensions?.code ?? result.data?.viewer.userId;
  };

  it('a key rotated in after a flood of random kids is accepted; the flood is refused and counted', async () => {
    expect(await viewer(sign(first.privateKey, 'key-1'))).toBe('alice');
    const flood = await Promise.all(Array.from({ length: 15 }, () => viewer(sign(attacker.privateKey, randomUUID()))));
    expect(new Set(flood)).toEqual(new Set(['UNAUTHENTICATED', 'RATE_LIMITED']));
    expect(flood.filter((answer) => answer === 'UNAUTHENTICATED')).toHaveLength(10);
    // One more round of unknown kids, one after the other.
    for (let i = 0; i < 3; i += 1) expect(await viewer(sign(attacker.privateKey, randomUUID()))).toBe('RATE_LIMITED');

    keys = [...keys, jwk(next.publicKey, 'key-2')];
    expect(await viewer(sign(next.privateKey, 'key-2'))).toBe('alice');
    expect(await viewer(sign(first.privateKey, 'key-1'))).toBe('alice');
    // The key set was asked a bounded number of times, not once per made-up kid.
    expect(fetches).toBeLessThan(10);
  });

  it('the key set is fetched again on a schedule: a key withdrawn from it stops working', async () => {
    keys = [jwk(next.publicKey, 'key-2')];
    await eventually(async () => ((await viewer(sign(first.privateKey, 'key-1'))) === 'alice' ? undefined : true), 15_000);
    expect(await viewer(sign(next.privateKey, 'key-2'))).toBe('alice');
  });
});
