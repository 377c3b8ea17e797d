/**
 * `npm run demo`: one whole flow against the gateway at GATEWAY_URL (default http://localhost:4000),
 * printing each step: start a session, subscribe to its decision, play the device against the Face
 * emulator, report completion, receive the decision, read the session and its audit trail.
 *
 * Settings: GATEWAY_URL; DEMO_TOKEN (a user JWT; default: one signed with JWT_SECRET or the dev
 * secret in DATA_DIR, as `npm run token` does); FACE_EMULATOR_URL (default GATEWAY_URL/emulator);
 * DEMO_OUTCOME: realface (default), spoofface or uncertain.
 */
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { resolveJwtKey } from '../../src/secrets/dev-jwt-secret';
import { signDevToken } from '../../src/auth/jwt';
import {
  CompleteLivenessSessionDocument,
  SessionAuditTrailDocument,
  SessionDecisionDocument,
  SessionDocument,
  StartLivenessSessionDocument,
  ViewerDocument,
  type SessionDecisionSubscription,
} from '../../client/generated/graphql';
import { loadConfig, loadEnvFile } from '../../src/config';

// The same .env as the gateway's, so a secret or a URL set there is the one the demo uses.
loadEnvFile();

const gatewayUrl = (process.env.GATEWAY_URL || 'http://localhost:4000').replace(/\/+$/, '');
const emulatorUrl = (process.env.FACE_EMULATOR_URL || `${gatewayUrl}/emulator`).replace(/\/+$/, '');
const outcome = process.env.DEMO_OUTCOME || 'realface';

function demoToken(): string {
  if (process.env.DEMO_TOKEN) return process.env.DEMO_TOKEN;
  const config = loadConfig();
  const key = resolveJwtKey(config);
  if (key.kind !== 'secret') throw new Error('set DEMO_TOKEN: the gateway does not use an HS secret this demo could sign with');
  return signDevToken(key.secret, { sub: 'demo-user', roles: ['user'], tenant: 'default' }, 600, { issuer: config.jwtIssuer, audience: config.jwtAudience });
}

async function graphql<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables, token: string): Promise<TData> {
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  }).catch((error: unknown) => {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND …) is its cause.
    const cause: unknown = error instanceof Error ? error.cause : undefined;
    const code = cause instanceof Error ? (Reflect.get(cause, 'code') ?? cause.message) : String(error);
    throw new Error(`no gateway answered at ${gatewayUrl} (${String(code)}). Start one with npm start, or set GATEWAY_URL to where yours listens, e.g. GATEWAY_URL=http://localhost:4001 npm run demo`);
  });
  const body = (await response.json()) as { data?: TData; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length || !body.data) {
    throw new Error(`GraphQL error: ${body.errors?.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ') ?? response.status}`);
  }
  return body.data;
}

function step(n: number, text: string, detail?: unknown): void {
  process.stdout.write(`${n}. ${text}${detail === undefined ? '' : `\n   ${JSON.stringify(detail)}`}\n`);
}

async function main(): Promise<void> {
  const token = demoToken();
  const { viewer } = await graphql(ViewerDocument, {}, token);
  step(1, `signed in as ${viewer.userId} (tenant ${viewer.tenant}, roles ${viewer.roles.join(', ')})`);

  const { startLivenessSession: started } = await graphql(StartLivenessSessionDocument, { input: { operationMode: 'PASSIVE' } }, token);
  const sessionId = started.session.id;
  step(2, `started liveness session ${sessionId} (status ${started.session.status}); the device token goes to the Face SDK`);

  const ws = createClient({
    url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const decision = new Promise<SessionDecisionSubscription['sessionDecision']>((resolve, reject) => {
    ws.subscribe<SessionDecisionSubscription>(
      { query: print(SessionDecisionDocument), variables: { sessionId } },
      {
        next: (result) => (result.data ? resolve(result.data.sessionDecision) : reject(new Error(JSON.stringify(result.errors)))),
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => undefined,
      },
    );
  });
  step(3, 'subscribed to sessionDecision over graphql-ws');

  const device = await fetch(`${emulatorUrl}/face/v1.2/detectLiveness/singleModal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${started.authToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ livenessDecision: outcome }),
  });
  if (!device.ok) throw new Error(`the emulator refused the device call: ${device.status}`);
  // The Face SDK hands the app the attempt's digest; the app reports it, and the gateway holds it against Face's.
  const attempt = (await device.json()) as { result?: { digest?: string } };
  const digest = attempt.result?.digest;
  step(4, `the device (simulated by the emulator) finished with "${outcome}"`);

  const { completeLivenessSession } = await graphql(CompleteLivenessSessionDocument, { id: sessionId, digest }, token);
  // The status is Face's as last read; the read that completion starts comes just after the answer.
  step(5, `reported completion with the device's digest (status ${completeLivenessSession.status}, Face's status as last read); the gateway reads Face now, and the decision follows`);

  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no decision within 30 s')), 30_000).unref());
  const reached = await Promise.race([decision, timeout]);
  step(6, `decision pushed: ${reached.verdict}`, { livenessDecision: reached.livenessDecision, attemptId: reached.attemptId, decidedAt: reached.decidedAt });
  await ws.dispose();

  const { session } = await graphql(SessionDocument, { id: sessionId }, token);
  step(7, `session ${session?.status}, ${session?.attempts.length} attempt(s)`, session?.attempts.map((a) => ({ attemptId: a.attemptId, status: a.status, digest: a.digest })));

  const trail = await graphql(SessionAuditTrailDocument, { id: sessionId, first: 20 }, token);
  const events = [...(trail.session?.auditTrail.edges ?? [])].reverse().map(({ node }) => `#${node.sequence} ${node.action} by ${node.actor}${node.verdict ? ` (${node.verdict})` : ''}`);
  step(8, 'audit trail, oldest first:', events);
  process.stdout.write(`Verdict: ${reached.verdict}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
