/**
 * Tokens signed with public-key algorithms, as identity providers issue them: a PEM key
 * (JWT_PUBLIC_KEY) and a JWKS endpoint (JWT_JWKS_URL, a real HTTP server here). The algorithm list
 * is pinned to the key kind, so the classic confusion attacks fail.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

const claims = { roles: ['user'], tenant: 'acme' };
const sign = (key: KeyObject | string, algorithm: jwt.Algorithm, options: jwt.SignOptions = {}) =>
  jwt.sign(claims, key, { algorithm, subject: 'alice', expiresIn: 600, ...options });

async function viewer(gateway: TestGateway, token: string) {
  return gateway.graphql(ViewerDocument, {}, token);
}

describe('an RSA public key (JWT_PUBLIC_KEY)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { JWT_SECRET: '', JWT_PUBLIC_KEY: pem(rsa.publicKey) } });
  });
  afterAll(() => gateway?.stop());

  it('accepts RS256 and PS256 tokens signed with the private key', async () => {
    for (const algorithm of ['RS256', 'PS256'] as const) {
      const result = await viewer(gateway, sign(rsa.privateKey, algorithm));
      expect(result.data?.viewer, algorithm).toEqual({ userId: 'alice', tenant: 'acme', roles: ['USER'] });
    }
  });

  it('refuses an HS256 token whose secret is the public key itself (algorithm confusion)', async () => {
    const forged = sign(pem(rsa.publicKey), 'HS256');
    const result = await viewer(gateway, forged);
    expect(result.status).toBe(401);
    expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an unsigned token (alg none)', async () => {
    const unsigned = jwt.sign(claims, '', { algorithm: 'none', subject: 'alice', expiresIn: 600 });
    expect((await viewer(gateway, unsigned)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed by another RSA key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect((await viewer(gateway, sign(other.privateKey, 'RS256'))).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('an EC public key (JWT_PUBLIC_KEY)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await TestGateway.start({ env: { JWT_SECRET: '', JWT_PUBLIC_KEY: pem(ec.publicKey) } });
  });
  afterAll(() => gateway?.stop());

  it('accepts ES256 tokens and refuses RS256 ones', async () => {
    expect((await viewer(gateway, sign(ec.privateKey, 'ES256'))).data?.viewer.userId).toBe('alice');
    expect((await viewer(gateway, sign(rsa.privateKey, 'RS256'))).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('a JWKS endpoint (JWT_JWKS_URL)', () => {
  let gateway: TestGateway;
  let jwks: http.Server;
  let keys: object[] = [];
  let fetches = 0;

  beforeAll(async () => {
    jwks = http.createServer((_req, res) => {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    keys = [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'key-1', use: 'sig', alg: 'RS256' }];
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    gateway = await TestGateway.start({ env: { JWT_SECRET: '', JWT_JWKS_URL: url } });
  });
  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('accepts a token whose kid is in the key set, fetching the set once for many requests', async () => {
    const token = sign(rsa.privateKey, 'RS256', { keyid: 'key-1' });
    for (let i = 0; i < 5; i++) expect((await viewer(gateway, token)).data?.viewer.userId).toBe('alice');
    expect(fetches).toBe(1);
  });

  it('picks up a rotated key by its new kid', async () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys = [...keys, { ...next.publicKey.export({ format: 'jwk' }), kid: 'key-2', use: 'sig', alg: 'RS256' }];
    const token = sign(next.privateKey, 'RS256', { keyid: 'key-2' });
    expect((await viewer(gateway, token)).data?.viewer.userId).toBe('alice');
  });

  it('refuses a token with an unknown kid', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const result = await viewer(gateway, sign(attacker.privateKey, 'RS256', { keyid: 'attacker-key' }));
    expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('never takes a key from the token itself: jku, x5u and jwk headers are not followed, even naming a kid the gateway knows', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // The attacker's key under the legitimate kid, served from a live server the headers point at.
    const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'key-1', use: 'sig', alg: 'RS256' };
    let attackerFetches = 0;
    const evil = http.createServer((_req, res) => {
      attackerFetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [attackerJwk] }));
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/jwks.json`;
    try {
      const before = fetches;
      for (const extra of [{ jku: evilUrl }, { x5u: evilUrl }, { jwk: attackerJwk }, { jku: evilUrl, jwk: attackerJwk }]) {
        const token = jwt.sign(claims, attacker.privateKey, {
          algorithm: 'RS256',
          subject: 'mallory',
          expiresIn: 600,
          header: { alg: 'RS256', kid: 'key-1', ...extra } as jwt.JwtHeader,
        });
        const result = await viewer(gateway, token);
        expect(result.errors?.[0].extensions?.code, JSON.stringify(Object.keys(extra))).toBe('UNAUTHENTICATED');
      }
      expect(attackerFetches).toBe(0);
      // The known kid is answered from the cached set of JWT_JWKS_URL: no fetch there either.
      expect(fetches).toBe(before);
    } finally {
      await new Promise((resolve) => evil.close(resolve));
    }
  });
});
