/**
 * The transport as an attacker or a flaky network exercises it: query limits
 * on both transports, production switches (introspection, Sandbox, suggestions, masking), WebSocket
 * limits (frame size, operations per connection, keep-alive, 4408, 4403 at token expiry), token
 * timing (clock tolerance, nbf, maximum age, the Bearer scheme), request ids, and what the logs of a
 * whole flow never contain. Every gateway is real (port 0, a real SQLite file, the emulator over HTTP).
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  getIntrospectionQuery,
  Kind,
  parse,
  print,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';
import type { Client } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from 'ws';
import {
  CompleteLivenessSessionDocument,
  CreateWebhookEndpointDocument,
  DeleteLivenessSessionDocument,
  WebhookDeliveriesDocument,
  type WebhookEventType,
  SessionDecisionDocument,
  SessionDocument,
  SessionEvidenceDocument,
  StartLivenessSessionDocument,
  StartLivenessWithVerifySessionDocument,
} from '../../client/generated/graphql';
import { landingPageDocument } from '../../src/transport/landing-page';
import { eventually, TestGateway } from '../helpers/gateway';
import { PNG_1X1 } from '../helpers/images';
import { RawSocket, type WsMessage } from '../helpers/raw-socket';

const root = path.resolve(__dirname, '../..');

type GraphQLErrorJson = { message: string; path?: unknown; extensions?: Record<string, unknown> };
interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  data?: Record<string, unknown> | null;
  errors?: GraphQLErrorJson[];
}

/** A POST /graphql as a client sends it, with whatever headers the test wants. */
async function post(
  on: TestGateway,
  query: string,
  options: { variables?: Record<string, unknown>; operationName?: string; authorization?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  const response = await fetch(on.graphqlUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables ?? {}, ...(options.operationName ? { operationName: options.operationName } : {}) }),
  });
  const text = await response.text();
  const body = JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: GraphQLErrorJson[] };
  return { status: response.status, headers: response.headers, text, ...body };
}

const wsUrl = (on: TestGateway) => on.graphqlUrl.replace(/^http/, 'ws');
const bearer = (token: string) => `Bearer ${token}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

const sockets: RawSocket[] = [];
async function socket(on: TestGateway, authorization?: string, ws?: ClientOptions): Promise<RawSocket> {
  const opened = await RawSocket.open(wsUrl(on), { authorization, ws });
  sockets.push(opened);
  return opened;
}
afterEach(async () => {
  for (const each of sockets.splice(0)) await each.close();
});

/** The close code a socket gets when it says who it is with `authorization` (undefined: accepted and still open). */
async function connectionOutcome(on: TestGateway, authorization: string): Promise<number | 'acknowledged'> {
  const raw = await socket(on);
  raw.send({ type: 'connection_init', payload: { authorization } });
  const acknowledged = eventually(() => (raw.messages.some((message) => message.type === 'connection_ack') ? ('acknowledged' as const) : undefined));
  return Promise.race([acknowledged, raw.closed.then((closed) => closed.code)]);
}

/** What one operation over a socket yielded: its `next` payloads and, if it failed, its errors. */
async function overSocket(raw: RawSocket, query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  const id = randomUUID();
  raw.subscribe(id, query, variables, operationName);
  const messages = await raw.finished(id);
  return {
    results: messages.filter((message) => message.type === 'next').map((message) => message.payload as ExecutionResult & { errors?: GraphQLErrorJson[] }),
    errors: messages.find((message) => message.type === 'error')?.payload as GraphQLErrorJson[] | undefined,
  };
}

const codesOf = (errors: GraphQLErrorJson[] | undefined) => (errors ?? []).map((error) => error.extensions?.code);

let gateway: TestGateway;
beforeAll(async () => {
  // The endpoints the documented webhook operations register are never called: the dispatcher's
  // only round comes at start, before any exists.
  gateway = await TestGateway.start({ env: { WEBHOOK_DISPATCH_INTERVAL_MS: '600000' } });
});
afterAll(async () => {
  await gateway?.stop();
});

const userToken = (on: TestGateway, claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}) =>
  on.token({ sub: `user-${randomUUID()}`, roles: ['user', 'auditor'], tenant: 'hardening', ...claims }, options);

// ---------------------------------------------------------------------------------------------
// Query limits
// ---------------------------------------------------------------------------------------------

interface DocumentedOperation {
  label: string;
  query: string;
  /** The operation's own text, without the rest of its document. */
  definition: string;
  operationName: string;
  operation: OperationDefinitionNode['operation'];
  variables: readonly VariableDefinitionNode[];
}

/** The operation with the fragments it uses (transitively), as a client sends it. */
function standalone(document: DocumentNode, operation: OperationDefinitionNode): DocumentNode {
  const fragments = new Map(
    document.definitions.filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const used = new Set<string>();
  const collect = (node: ASTNode) =>
    visit(node, {
      FragmentSpread(spread) {
        if (used.has(spread.name.value)) return;
        used.add(spread.name.value);
        collect(fragments.get(spread.name.value)!);
      },
    });
  collect(operation);
  return { kind: Kind.DOCUMENT, definitions: [operation, ...[...used].map((name) => fragments.get(name)!)] };
}

/** Every operation the project documents: the client's `.graphql` files, the examples of README.md and docs/, the Sandbox document. */
function documentedOperations(): DocumentedOperation[] {
  const found: DocumentedOperation[] = [];
  const add = (label: string, text: string, sendWhole: boolean) => {
    const document = parse(text);
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      const operationName = definition.name!.value;
      found.push({
        label: `${label} ${operationName}`,
        // Sandbox sends its whole document with the operation's name; the others, one operation each.
        query: sendWhole ? text : print(standalone(document, definition)),
        definition: print(definition),
        operationName,
        operation: definition.operation,
        variables: definition.variableDefinitions ?? [],
      });
    }
  };
  const operationsDir = path.join(root, 'client/operations');
  for (const file of fs.readdirSync(operationsDir).filter((name) => name.endsWith('.graphql'))) {
    add(`the client operation (${file})`, fs.readFileSync(path.join(operationsDir, file), 'utf8'), false);
  }
  for (const file of ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const [, block] of text.matchAll(/```graphql\n([\s\S]*?)```/g)) add(`${file}'s example`, block, false);
  }
  add("the Sandbox document's", landingPageDocument, true);
  return found;
}

/** An endpoint the webhook operations register: an address literal (no DNS), never called here. */
const UNCALLED_URL = 'https://8.8.8.8/hook';

/** A webhook endpoint of the token's tenant, subscribed to deletions; its id. */
async function webhookEndpoint(token: string): Promise<string> {
  const input = { url: UNCALLED_URL, eventTypes: ['SESSION_DELETED' as WebhookEventType] };
  return (await gateway.ok(CreateWebhookEndpointDocument, { input }, token)).createWebhookEndpoint.endpoint.id;
}

/** A pending delivery (a deleted session's) of a new endpoint; its id. */
async function webhookDelivery(token: string): Promise<string> {
  const endpointId = await webhookEndpoint(token);
  const id = (await gateway.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session.id;
  await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
  return (await gateway.ok(WebhookDeliveriesDocument, { id: endpointId }, token)).webhookEndpoint!.deliveries.edges[0].node.id;
}

async function variablesFor(operation: DocumentedOperation, sessionId: string, token: string, tenant = 'hardening'): Promise<Record<string, unknown>> {
  const values: Record<string, unknown> = {};
  const webhook = /webhook/i.test(operation.definition);
  for (const definition of operation.variables) {
    const name = definition.variable.name.value;
    const type = print(definition.type);
    if (type === 'ID!' && webhook) values[name] = name === 'deliveryId' ? await webhookDelivery(token) : await webhookEndpoint(token);
    else if (type === 'ID!') values[name] = sessionId;
    else if (type === 'CreateWebhookEndpointInput!') values[name] = { url: UNCALLED_URL, eventTypes: ['SESSION_DECIDED'] };
    else if (type === 'UpdateWebhookEndpointInput!') values[name] = { enabled: true };
    else if (type === 'String!' && name === 'url') values[name] = UNCALLED_URL;
    else if (type === 'String!' && /tenant/i.test(name)) values[name] = tenant;
    else if (type === 'TenantPolicyInput!') values[name] = {};
    else if (type === 'StartLivenessWithVerifySessionInput!') values[name] = { verifyImage: PNG_1X1 };
    else if (type === 'StartLivenessSessionInput!') values[name] = {};
    else if (type === 'String!') values[name] = 'hardening';
    else if (name === 'attemptId') values[name] = 1;
  }
  return values;
}

describe('query limits', () => {
  const documented = documentedOperations();

  it('the documented operations are all found (client files, docs, Sandbox)', () => {
    expect(documented.length).toBeGreaterThanOrEqual(30);
    expect(documented.filter((operation) => operation.operation === 'subscription')).toHaveLength(5);
  });

  for (const operation of documented) {
    it(`${operation.label} passes the default limits over HTTP and WebSocket`, async () => {
      // An admin for the admin operations (webhooks, device correlation ids, policies, erasure); the others as a user and auditor.
      const admin = /webhook|rotateDeviceCorrelationId|TenantPolicy|eraseUserData/i.test(operation.definition);
      // Each admin test in a tenant of its own: a tenant may register only so many webhook endpoints.
      const tenant = admin ? `hardening-${randomUUID()}` : undefined;
      const token = userToken(gateway, tenant ? { roles: ['user', 'auditor', 'admin'], tenant } : {});
      // An operation about an attempt's kept image needs a decided session whose image is kept.
      const needsImage = operation.variables.some((definition) => definition.variable.name.value === 'attemptId');
      const newSession = async () => {
        const started = (await gateway.ok(StartLivenessSessionDocument, { input: { enableSessionImage: needsImage } }, token)).startLivenessSession;
        const id = started.session.id;
        if (!needsImage) return id;
        expect((await gateway.device('LIVENESS', started.authToken, { livenessDecision: 'realface' })).status).toBe(200);
        await gateway.ok(CompleteLivenessSessionDocument, { id }, token);
        await eventually(async () => ((await gateway.ok(SessionEvidenceDocument, { id }, token)).session?.evidence?.images.length ? true : undefined));
        return id;
      };
      const raw = await socket(gateway, bearer(token));

      if (operation.operationName === 'AuditEvents') {
        // The live feed never completes: from afterSequence 0 it emits the chain's stored events at once.
        await newSession();
        const id = randomUUID();
        raw.subscribe(id, operation.query, { afterSequence: 0 }, operation.operationName);
        const [first] = await raw.answered(id);
        expect(first.type).toBe('next');
        expect((first.payload as ExecutionResult).errors).toBeUndefined();
        raw.send({ id, type: 'complete' });
        return;
      }
      if (operation.operation === 'subscription') {
        // A decided session, so that the subscription emits at once and completes.
        const id = await newSession();
        await gateway.ok(DeleteLivenessSessionDocument, { id }, token);
        const { results, errors } = await overSocket(raw, operation.query, await variablesFor(operation, id, token, tenant), operation.operationName);
        expect(errors).toBeUndefined();
        expect(results).toHaveLength(1);
        expect(results[0].errors).toBeUndefined();
        return;
      }

      const overHttp = await post(gateway, operation.query, {
        variables: await variablesFor(operation, await newSession(), token, tenant),
        operationName: operation.operationName,
        authorization: bearer(token),
      });
      expect(overHttp.errors, overHttp.text).toBeUndefined();
      expect(overHttp.status).toBe(200);

      const { results, errors } = await overSocket(raw, operation.query, await variablesFor(operation, await newSession(), token, tenant), operation.operationName);
      expect(errors).toBeUndefined();
      expect(results).toHaveLength(1);
      expect(results[0].errors, JSON.stringify(results[0].errors)).toBeUndefined();
    });
  }

  const repeat = (count: number, text: (i: number) => string) => Array.from({ length: count }, (_, i) => text(i)).join(' ');
  const hostile: { what: string; query: string; reason: string; message: RegExp }[] = [
    {
      what: 'a document nested 14 levels deep (decision, session, decision, …)',
      query: `query Deep { session(id: "x") { ${'decision { session { '.repeat(6)} id ${'} } '.repeat(6)} } }`,
      reason: 'GRAPHQL_VALIDATION_FAILED',
      message: /Query depth limit of 10 exceeded, found 14/,
    },
    {
      what: 'an alias bomb of 50 viewers',
      query: `query Aliases { ${repeat(50, (i) => `a${i}: viewer { userId }`)} }`,
      reason: 'GRAPHQL_VALIDATION_FAILED',
      message: /Aliases limit of 15 exceeded, found 50/,
    },
    {
      what: 'a flood of 30 directives',
      query: `query Directives { viewer { ${repeat(30, () => 'userId @skip(if: false)')} } }`,
      reason: 'GRAPHQL_VALIDATION_FAILED',
      message: /Directives limit of 10 exceeded, found 30/,
    },
    {
      what: 'a document of 1,500 tokens',
      query: `query Tokens { viewer { ${repeat(1_500, () => 'userId')} } }`,
      reason: 'GRAPHQL_PARSE_FAILED',
      message: /more tha[nt] 1000 tokens/,
    },
    {
      what: 'pages of 100 nested in pages of 100 (cost)',
      query: 'query Cost { sessions(first: 100) { edges { node { id auditTrail(first: 100) { edges { node { id hash previousHash } } } } } } }',
      reason: 'GRAPHQL_VALIDATION_FAILED',
      message: /Query Cost limit of 15000 exceeded/,
    },
    {
      what: 'introspection nested 19 levels deep',
      query: `query DeepIntrospection { __schema { types { ${'fields { type { '.repeat(8)} name ${'} } '.repeat(8)} } } }`,
      reason: 'GRAPHQL_VALIDATION_FAILED',
      message: /Query depth limit of 16 exceeded, found 19/,
    },
  ];

  for (const { what, query, reason, message } of hostile) {
    it(`${what} is refused with BAD_USER_INPUT over HTTP and over WebSocket, and the socket keeps serving`, async () => {
      const token = userToken(gateway);
      const overHttp = await post(gateway, query, { authorization: bearer(token) });
      expect(overHttp.status).toBe(400);
      expect(overHttp.data ?? null).toBeNull();
      expect(overHttp.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason });
      expect(overHttp.errors?.map((error) => error.message).join('\n')).toMatch(message);

      const raw = await socket(gateway, bearer(token));
      const { results, errors } = await overSocket(raw, query);
      expect(results).toEqual([]);
      expect(errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason });
      expect(errors?.map((error) => error.message).join('\n')).toMatch(message);
      expect((await overSocket(raw, '{ viewer { userId } }')).results[0].data).toEqual({ viewer: { userId: expect.any(String) } });
    });
  }

  it('an alias bomb of session starts is refused before anything runs: no session is started, over HTTP or WebSocket', async () => {
    const token = userToken(gateway, { roles: ['user'], tenant: `bombed-${randomUUID()}` });
    const bomb = `mutation Bomb { ${repeat(20, (i) => `s${i}: startLivenessSession(input: {}) { authToken }`)} }`;
    expect(codesOf((await post(gateway, bomb, { authorization: bearer(token) })).errors)).toEqual(['BAD_USER_INPUT']);
    const raw = await socket(gateway, bearer(token));
    expect(codesOf((await overSocket(raw, bomb)).errors)).toEqual(['BAD_USER_INPUT']);
    const listed = await post(gateway, '{ sessions(first: 100) { totalCount } }', { authorization: bearer(token) });
    expect(listed.data).toEqual({ sessions: { totalCount: 0 } });
  });

  it('a batch of operations in one HTTP request is refused with 400, none of them run', async () => {
    const token = userToken(gateway, { roles: ['user'], tenant: `batched-${randomUUID()}` });
    const start = { query: 'mutation { startLivenessSession(input: {}) { authToken } }' };
    const response = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: bearer(token) },
      body: JSON.stringify([start, start, start]),
    });
    expect(response.status).toBe(400);
    expect(codesOf(((await response.json()) as { errors?: GraphQLErrorJson[] }).errors)).toEqual(['BAD_USER_INPUT']);
    expect((await post(gateway, '{ sessions(first: 100) { totalCount } }', { authorization: bearer(token) })).data).toEqual({ sessions: { totalCount: 0 } });
  });

  it('a GraphQL syntax error over WebSocket is answered with BAD_USER_INPUT instead of closing the socket', async () => {
    const raw = await socket(gateway, bearer(userToken(gateway)));
    const { errors } = await overSocket(raw, '{ viewer { userId ');
    expect(errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_PARSE_FAILED' });
    expect(raw.isOpen).toBe(true);
  });

  it('the introspection query Sandbox sends passes outside production, over HTTP and WebSocket', async () => {
    const token = userToken(gateway);
    const overHttp = await post(gateway, getIntrospectionQuery(), { authorization: bearer(token) });
    expect(overHttp.errors).toBeUndefined();
    expect((overHttp.data as { __schema: { queryType: { name: string } } }).__schema.queryType.name).toBe('Query');
    const { results } = await overSocket(await socket(gateway, bearer(token)), getIntrospectionQuery());
    expect(results[0].errors).toBeUndefined();
  });

  it('GRAPHQL_MAX_* settings move the limits', async () => {
    const strict = await TestGateway.start({ env: { GRAPHQL_MAX_DEPTH: '2', GRAPHQL_MAX_ALIASES: '1', GRAPHQL_MAX_DIRECTIVES: '0', GRAPHQL_MAX_TOKENS: '20', GRAPHQL_MAX_COST: '5' } });
    try {
      const token = userToken(strict);
      const refusal = async (query: string) => (await post(strict, query, { authorization: bearer(token) })).errors?.map((error) => error.message).join('\n');
      expect(await refusal('{ viewer { userId } }')).toBeUndefined();
      expect(await refusal('{ session(id: "x") { decision { verdict } } }')).toMatch(/depth limit of 2/);
      expect(await refusal('{ a: viewer { userId } b: viewer { userId } }')).toMatch(/Aliases limit of 1/);
      expect(await refusal('{ viewer { userId @skip(if: false) } }')).toMatch(/Directives limit of 0/);
      expect(await refusal(`{ viewer { ${'userId '.repeat(17)}} }`)).toMatch(/more tha[nt] 20 tokens/);
      expect(await refusal('{ viewer { userId tenant roles } }')).toMatch(/Cost limit of 5/);
    } finally {
      await strict.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Production
// ---------------------------------------------------------------------------------------------

describe('in production (NODE_ENV=production)', () => {
  const production = { NODE_ENV: 'production', FACE_EMULATOR: 'true', FACE_EMULATOR_KEY: randomBytes(16).toString('hex'), IDEMPOTENCY_KEY_SECRET: randomBytes(32).toString('base64'), EVIDENCE_KEY: randomBytes(32).toString('base64') };
  let prod: TestGateway;
  beforeAll(async () => {
    prod = await TestGateway.start({ env: production });
  });
  afterAll(async () => {
    await prod?.stop();
  });

  const introspection = ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }'];

  it('introspection is refused over HTTP and WebSocket, where outside production it answers', async () => {
    for (const query of introspection) {
      const refused = await post(prod, query, { authorization: bearer(userToken(prod)) });
      expect(refused.status, query).toBe(400);
      expect(codesOf(refused.errors), query).toEqual(['BAD_USER_INPUT']);
      expect(codesOf((await overSocket(await socket(prod, bearer(userToken(prod))), query)).errors), query).toEqual(['BAD_USER_INPUT']);

      expect((await post(gateway, query, { authorization: bearer(userToken(gateway)) })).errors, query).toBeUndefined();
      expect((await overSocket(await socket(gateway, bearer(userToken(gateway))), query)).results[0].errors, query).toBeUndefined();
    }
  });

  it('introspection is refused by the same rule over HTTP and WebSocket: the same errors, word for word', async () => {
    for (const query of introspection) {
      const overHttp = await post(prod, query, { authorization: bearer(userToken(prod)) });
      const overWebSocket = await overSocket(await socket(prod, bearer(userToken(prod))), query);
      expect(overHttp.errors, query).toEqual(overWebSocket.errors);
    }
  });

  it("the emulator opted into has no /_faults route (docs/api.md), where outside production it has", async () => {
    const rule = JSON.stringify({ status: 503, count: 1 });
    const post = (on: TestGateway) => fetch(`${on.emulatorUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: rule });
    const refused = await post(prod);
    expect(refused.status).toBe(404);
    expect((await fetch(`${prod.emulatorUrl}/_faults`, { method: 'DELETE' })).status).toBe(404);
    // The Face API of the emulator still answers, and no fault was queued: a start works.
    expect((await prod.graphql(StartLivenessSessionDocument, { input: {} }, userToken(prod))).errors).toBeUndefined();
    const accepted = await post(gateway);
    expect(accepted.status).toBeLessThan(300);
    expect((await fetch(`${gateway.emulatorUrl}/_faults`, { method: 'DELETE' })).status).toBeLessThan(300);
  });

  it('Sandbox is not served, where outside production it is', async () => {
    const sandbox = (on: TestGateway) => fetch(on.graphqlUrl, { headers: { accept: 'text/html' } }).then((response) => response.text());
    expect(await sandbox(prod)).not.toContain('embeddable-sandbox');
    expect(await sandbox(gateway)).toContain('embeddable-sandbox');
  });

  it('ENABLE_INTROSPECTION=true and ENABLE_SANDBOX=true turn both back on, over HTTP and WebSocket', async () => {
    const open = await TestGateway.start({ env: { ...production, ENABLE_INTROSPECTION: 'true', ENABLE_SANDBOX: 'true' } });
    try {
      for (const query of introspection) {
        expect((await post(open, query, { authorization: bearer(userToken(open)) })).errors, query).toBeUndefined();
        expect((await overSocket(await socket(open, bearer(userToken(open))), query)).results[0].errors, query).toBeUndefined();
      }
      expect(await (await fetch(open.graphqlUrl, { headers: { accept: 'text/html' } })).text()).toContain('embeddable-sandbox');
    } finally {
      await open.stop();
    }
  });

  const misspelt: [string, string, Record<string, unknown>][] = [
    ['a misspelt field', '{ viewer { userI } }', {}],
    ['a misspelt argument', '{ sessions(firs: 1) { totalCount } }', {}],
    ['a misspelt input field', 'mutation M($input: StartLivenessSessionInput!) { startLivenessSession(input: $input) { authToken } }', { input: { operationMod: 'PASSIVE' } }],
    ['a misspelt enum value', 'mutation M($input: StartLivenessSessionInput!) { startLivenessSession(input: $input) { authToken } }', { input: { operationMode: 'PASIVE' } }],
  ];
  for (const [what, query, variables] of misspelt) {
    it(`${what} is refused without suggesting a name, over HTTP and WebSocket, where outside production it suggests one`, async () => {
      const messages = async (on: TestGateway) => {
        const token = userToken(on);
        const overHttp = await post(on, query, { variables, authorization: bearer(token) });
        const overWs = await overSocket(await socket(on, bearer(token)), query, variables);
        const errors = [...(overHttp.errors ?? []), ...(overWs.errors ?? []), ...overWs.results.flatMap((result) => result.errors ?? [])];
        expect(codesOf(errors)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
        return errors.map((error) => error.message);
      };
      for (const message of await messages(prod)) expect(message).not.toMatch(/Did you mean/);
      for (const message of await messages(gateway)) expect(message).toMatch(/Did you mean/);
    });
  }

  /**
   * Stores a row the code does not expect (as a bug or a bad migration would leave it), so reading
   * the session fails with an error nobody mapped; reads it over HTTP (with `x-request-id`
   * `masked-over-http`) and over WebSocket, and expects both answers masked, with no detail.
   */
  async function expectUnexpectedErrorMasked(on: TestGateway): Promise<void> {
    const token = userToken(on);
    const { id } = (await on.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session;
    const database = new Database(path.join(on.dataDir, 'gateway.sqlite'));
    try {
      database.prepare('UPDATE sessions SET status = ? WHERE id = ?').run('BOGUS_STATUS', id);
    } finally {
      database.close();
    }

    const masked = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    const overHttp = await post(on, print(SessionDocument), { variables: { id }, authorization: bearer(token), headers: { 'x-request-id': 'masked-over-http' } });
    expect(overHttp.errors).toEqual([expect.objectContaining(masked)]);
    expect(overHttp.text).not.toMatch(/BOGUS|stack|Enum|SessionStatus/);

    const { results } = await overSocket(await socket(on, bearer(token)), print(SessionDocument), { id });
    expect(results[0].errors).toEqual([expect.objectContaining(masked)]);
    expect(JSON.stringify(results)).not.toMatch(/BOGUS|stack|Enum|SessionStatus/);
  }

  it('an unexpected error is masked over HTTP and WebSocket, without a stack trace, and logged with its request id', async () => {
    await expectUnexpectedErrorMasked(prod);
    const logged = prod.logEntries().filter((entry) => entry.msg === 'unexpected error while serving a GraphQL operation' && JSON.stringify(entry).includes('BOGUS_STATUS'));
    expect(logged.map((entry) => entry.requestId)).toEqual(['masked-over-http', expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    const webSocketOperation = prod.logEntries().find((entry) => entry.msg === 'websocket operation started' && entry.requestId === logged[1].requestId);
    expect(webSocketOperation).toBeDefined();
  });

  it('outside production an unexpected error is masked the same way, over HTTP and WebSocket', async () => {
    await expectUnexpectedErrorMasked(gateway);
  });
});

// ---------------------------------------------------------------------------------------------
// WebSocket limits
// ---------------------------------------------------------------------------------------------

describe('WebSocket limits', () => {
  let limited: TestGateway;
  beforeAll(async () => {
    limited = await TestGateway.start({ env: { WS_MAX_SUBSCRIPTIONS: '3', WS_KEEPALIVE_INTERVAL_MS: '200', WS_MAX_PAYLOAD_BYTES: '4096' } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  /** A subscribe frame of exactly `bytes` bytes: a viewer query padded with an unused variable. */
  const frameOf = (bytes: number) => {
    const frame = (pad: string) => JSON.stringify({ id: 'padded', type: 'subscribe', payload: { query: '{ viewer { userId } }', variables: { pad } } });
    return frame('x'.repeat(bytes - frame('').length));
  };

  it('a message larger than 64 KiB (the default) closes the socket with 1009; one just below is answered', async () => {
    const token = userToken(gateway);
    const below = await socket(gateway, bearer(token));
    below.sendText(frameOf(64 * 1024));
    expect((await below.finished('padded')).map((message: WsMessage) => message.type)).toEqual(['next', 'complete']);

    const above = await socket(gateway, bearer(token));
    above.sendText(frameOf(64 * 1024 + 1));
    expect((await above.closed).code).toBe(1009);
    // Said in the JSON log, not on the console.
    await eventually(() => gateway.logEntries().find((entry) => entry.msg === 'websocket error; the socket is closed' && entry.err === 'Max payload size exceeded'));
  });

  it('WS_MAX_PAYLOAD_BYTES sets that limit', async () => {
    const token = userToken(limited);
    const below = await socket(limited, bearer(token));
    below.sendText(frameOf(4096));
    expect((await below.finished('padded')).map((message) => message.type)).toEqual(['next', 'complete']);
    const above = await socket(limited, bearer(token));
    above.sendText(frameOf(4097));
    expect((await above.closed).code).toBe(1009);
  });

  it('past WS_MAX_SUBSCRIPTIONS active operations on one connection, the next is refused with RATE_LIMITED, and room frees up when one completes', async () => {
    const token = userToken(limited);
    const raw = await socket(limited, bearer(token));
    const undecided = async () => (await limited.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession.session.id;
    for (const id of ['first', 'second', 'third']) raw.subscribe(id, print(SessionDecisionDocument), { sessionId: await undecided() });

    const refused = await overSocket(raw, '{ viewer { userId } }');
    expect(refused.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'RATE_LIMITED', reason: 'TOO_MANY_SUBSCRIPTIONS', retryAfterSeconds: 1 } }),
    ]);
    raw.subscribe('fourth', print(SessionDecisionDocument), { sessionId: await undecided() });
    expect(codesOf((await raw.finished('fourth')).find((message) => message.type === 'error')?.payload as GraphQLErrorJson[])).toEqual(['RATE_LIMITED']);
    expect(raw.isOpen).toBe(true);

    // Another connection has its own allowance.
    expect((await overSocket(await socket(limited, bearer(token)), '{ viewer { userId } }')).results).toHaveLength(1);

    raw.send({ id: 'first', type: 'complete' });
    expect((await overSocket(raw, '{ viewer { userId } }')).results[0].data).toEqual({ viewer: { userId: expect.any(String) } });
    expect(['first', 'second', 'third'].flatMap((id) => raw.messagesOf(id))).toEqual([]);
  });

  it('the server pings every WS_KEEPALIVE_INTERVAL_MS: a client that answers stays connected, one that does not is cut off', async () => {
    const token = userToken(limited);
    const answering = await socket(limited, bearer(token));
    const silent = await socket(limited, bearer(token), { autoPong: false });
    const cutOff = await silent.closed;
    expect(cutOff.code).toBe(1006); // terminated, no close frame
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    await answering.waitForPings(3);
    expect(answering.isOpen).toBe(true);
    expect((await overSocket(answering, '{ viewer { userId } }')).results).toHaveLength(1);
  });

  it('a socket that does not send connection_init within 3 s is closed with 4408', async () => {
    const raw = await socket(gateway);
    const closed = await raw.closed;
    expect(closed.code).toBe(4408);
    expect(closed.afterMillis).toBeGreaterThanOrEqual(2_900);
  });
});

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

describe('token timing and scheme, alike over HTTP and WebSocket', () => {
  /** No clock tolerance and a one-minute maximum age. */
  let tight: TestGateway;
  beforeAll(async () => {
    tight = await TestGateway.start({ env: { JWT_CLOCK_TOLERANCE_SECONDS: '0', JWT_MAX_AGE_SECONDS: '60' } });
  });
  afterAll(async () => {
    await tight?.stop();
  });

  /** A token with exactly these time claims (seconds since epoch; null leaves a claim out). */
  const timed = (on: TestGateway, times: { exp: number; nbf?: number; iat?: number | null }) => {
    const { iat, ...rest } = times;
    const claims = { sub: `timed-${randomUUID()}`, roles: ['user'], tenant: 'hardening', ...rest, ...(iat === null ? {} : { iat: iat ?? nowSeconds() }) };
    // jsonwebtoken keeps a given iat, and leaves it out only with noTimestamp.
    return jwt.sign(claims, on.jwtSecret, { algorithm: 'HS256', noTimestamp: iat === null });
  };

  async function outcome(on: TestGateway, authorization: string): Promise<{ http: number; webSocket: number | 'acknowledged' }> {
    const http = (await post(on, '{ viewer { userId } }', { authorization })).status;
    return { http, webSocket: await connectionOutcome(on, authorization) };
  }
  const ACCEPTED = { http: 200, webSocket: 'acknowledged' };
  const REFUSED = { http: 401, webSocket: 4403 };

  it('a token expired less than the clock tolerance (default 30 s) ago is accepted; one expired longer ago is refused', async () => {
    expect(await outcome(gateway, bearer(timed(gateway, { exp: nowSeconds() - 10 })))).toEqual(ACCEPTED);
    expect(await outcome(gateway, bearer(timed(gateway, { exp: nowSeconds() - 40 })))).toEqual(REFUSED);
  });

  it('with JWT_CLOCK_TOLERANCE_SECONDS=0 a token expired a second ago is refused', async () => {
    expect(await outcome(tight, bearer(timed(tight, { exp: nowSeconds() - 1 })))).toEqual(REFUSED);
    expect(await outcome(tight, bearer(timed(tight, { exp: nowSeconds() + 60 })))).toEqual(ACCEPTED);
  });

  it('a token whose nbf lies beyond the tolerance is refused; within it, accepted', async () => {
    const exp = nowSeconds() + 600;
    expect(await outcome(gateway, bearer(timed(gateway, { exp, nbf: nowSeconds() + 120 })))).toEqual(REFUSED);
    expect(await outcome(gateway, bearer(timed(gateway, { exp, nbf: nowSeconds() + 10 })))).toEqual(ACCEPTED);
    // Within tight's maximum age, so that only nbf refuses it.
    expect(await outcome(tight, bearer(timed(tight, { exp: nowSeconds() + 50, nbf: nowSeconds() + 10 })))).toEqual(REFUSED);
  });

  it('with JWT_MAX_AGE_SECONDS a token older than that, one without iat and one issued in the future are refused; a fresh one is accepted', async () => {
    const exp = nowSeconds() + 50;
    expect(await outcome(tight, bearer(timed(tight, { exp, iat: nowSeconds() - 120 })))).toEqual(REFUSED);
    expect(await outcome(tight, bearer(timed(tight, { exp, iat: null })))).toEqual(REFUSED);
    expect(await outcome(tight, bearer(timed(tight, { exp, iat: nowSeconds() + 120 })))).toEqual(REFUSED);
    expect(await outcome(tight, bearer(timed(tight, { exp, iat: nowSeconds() - 5 })))).toEqual(ACCEPTED);
    // Nor may it claim to live longer than the maximum age, however fresh.
    expect(await outcome(tight, bearer(timed(tight, { exp: nowSeconds() + 3_600, iat: nowSeconds() - 5 })))).toEqual(REFUSED);
    // Without a maximum age, an old iat is nobody's business.
    expect(await outcome(gateway, bearer(timed(gateway, { exp: nowSeconds() + 3_600, iat: nowSeconds() - 86_400 })))).toEqual(ACCEPTED);
  });

  it('a socket is closed with 4403 the moment its token expires, not before, and HTTP refuses the token from then on', async () => {
    const exp = nowSeconds() + 2;
    const token = timed(tight, { exp });
    const raw = await socket(tight, bearer(token));
    expect((await overSocket(raw, '{ viewer { userId } }')).results).toHaveLength(1);
    const closed = await raw.closed;
    expect(closed.code).toBe(4403);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect((await post(tight, '{ viewer { userId } }', { authorization: bearer(token) })).status).toBe(401);
  });

  it('a socket is closed with 4403 the moment its token passes the maximum age, which exp may not outlast', async () => {
    const iat = nowSeconds() - 58;
    const raw = await socket(tight, bearer(timed(tight, { exp: iat + 60, iat })));
    const closed = await raw.closed;
    expect(closed.code).toBe(4403);
    expect(Date.now()).toBeGreaterThanOrEqual((iat + 60) * 1000);
    // A token whose exp lies an hour ahead claims to live longer than the maximum age: never let in.
    expect(await connectionOutcome(tight, bearer(timed(tight, { exp: nowSeconds() + 3_600, iat })))).toBe(4403);
  });

  it('only the Bearer scheme is accepted (in any letter case, as RFC 7235 says)', async () => {
    const token = userToken(gateway);
    for (const authorization of [`Token ${token}`, `Basic ${token}`, token, 'Bearer', `Bearer ${token} ${token}`, `Bearer: ${token}`]) {
      expect(await outcome(gateway, authorization), authorization.replace(token, '<jwt>')).toEqual(REFUSED);
    }
    expect(await outcome(gateway, `bearer ${token}`)).toEqual(ACCEPTED);
  });

  it('every refused token gets the same answer, whichever check failed', async () => {
    const exp = nowSeconds() + 50;
    const [header, payload] = timed(tight, { exp }).split('.');
    const refused = {
      expired: timed(tight, { exp: nowSeconds() - 5 }),
      'not yet valid': timed(tight, { exp, nbf: nowSeconds() + 60 }),
      'too old': timed(tight, { exp, iat: nowSeconds() - 600 }),
      'without iat': timed(tight, { exp, iat: null }),
      'living longer than the maximum age': timed(tight, { exp: nowSeconds() + 600 }),
      'badly signed': `${header}.${payload}.${Buffer.from('forged').toString('base64url')}`,
      'signed with another secret': jwt.sign({ sub: 'mallory', exp }, randomBytes(32).toString('hex'), { noTimestamp: false }),
      'unsigned': jwt.sign({ sub: 'mallory', exp }, '', { algorithm: 'none' }),
      'without sub': jwt.sign({ exp, iat: nowSeconds() }, tight.jwtSecret),
    };
    const answers = await Promise.all(
      Object.entries(refused).map(async ([what, token]) => {
        const { status, errors } = await post(tight, '{ viewer { userId } }', { authorization: bearer(token) });
        return { what, status, errors };
      }),
    );
    for (const { what, status, errors } of answers) {
      expect({ status, errors }, what).toEqual({ status: 401, errors: [{ message: 'A valid bearer token is required.', extensions: { code: 'UNAUTHENTICATED' } }] });
    }
  });
});

describe('a JWKS endpoint under a flood of unknown kids', () => {
  it('is asked once per refetch interval however many arrive, every such token is refused, and known keys keep working', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let fetches = 0;
    const jwks = http.createServer((_req, res) => {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'known', use: 'sig', alg: 'RS256' }] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const keyed = await TestGateway.start({ env: { JWT_SECRET: '', JWT_JWKS_URL: url, JWT_JWKS_MISS_REFETCH_SECONDS: '1' } });
    try {
      const sign = (kid: string) => jwt.sign({ roles: ['user'], tenant: 'jwks' }, keys.privateKey, { algorithm: 'RS256', subject: 'alice', expiresIn: 600, keyid: kid });
      expect((await post(keyed, '{ viewer { userId } }', { authorization: bearer(sign('known')) })).data).toEqual({ viewer: { userId: 'alice' } });
      // Unknown kids wait for the next fetch (at most one a second here), which they all share.
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(keyed, '{ viewer { userId } }', { authorization: bearer(sign(`unknown-${i}`)) })));
      expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 30 }, () => 401));
      expect(await connectionOutcome(keyed, bearer(sign('unknown-over-websocket')))).toBe(4403);
      // The first fetch, one for the thirty, one for the socket's kid.
      expect(fetches).toBeLessThanOrEqual(3);
      expect((await post(keyed, '{ viewer { userId } }', { authorization: bearer(sign('known')) })).data).toEqual({ viewer: { userId: 'alice' } });
    } finally {
      await keyed.stop();
      await new Promise((resolve) => jwks.close(resolve));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Request ids
// ---------------------------------------------------------------------------------------------

describe('request ids', () => {
  it('a sane x-request-id is echoed and carried by every log line written for that request', async () => {
    const requestId = `trace-${randomBytes(4).toString('hex')}.a:b_c-d`;
    const answer = await post(gateway, print(StartLivenessSessionDocument), {
      variables: { input: {} },
      authorization: bearer(userToken(gateway)),
      headers: { 'x-request-id': requestId },
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.headers.get('x-request-id')).toBe(requestId);
    const lines = await eventually(() => {
      const found = gateway.logEntries().filter((entry) => entry.requestId === requestId);
      return found.some((entry) => entry.msg === 'http request') ? found : undefined;
    });
    expect(lines.map((entry) => entry.msg)).toEqual(expect.arrayContaining(['session started', 'http request']));
    expect(lines.find((entry) => entry.msg === 'http request')).toMatchObject({ method: 'POST', path: '/graphql', status: 200 });
  });

  it('an x-request-id that is not sane is replaced by a fresh one, and never logged', async () => {
    for (const insane of ['two words', 'x'.repeat(129), '{"level":"error"}', '']) {
      const answer = await post(gateway, '{ viewer { userId } }', { authorization: bearer(userToken(gateway)), headers: { 'x-request-id': insane } });
      expect(answer.headers.get('x-request-id'), insane).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      if (insane) expect(gateway.logs.join('\n')).not.toContain(JSON.stringify(insane).slice(1, -1));
    }
  });

  it('without x-request-id every request gets an id of its own', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await fetch(`${gateway.url}/healthz`)).headers.get('x-request-id')));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('over WebSocket every operation gets a request id of its own, carried by the log lines written on its behalf', async () => {
    const raw = await socket(gateway, bearer(userToken(gateway)));
    const linesBefore = gateway.logs.length;
    const started = await overSocket(raw, print(StartLivenessSessionDocument), { input: {} }, 'StartLivenessSession');
    const sessionId = (started.results[0].data as { startLivenessSession: { session: { id: string } } }).startLivenessSession.session.id;
    await overSocket(raw, '{ viewer { userId } }');

    const lines = gateway.logEntries().slice(linesBefore);
    const mine = lines.filter((entry) => entry.msg === 'websocket operation started');
    expect(mine).toHaveLength(2);
    expect(mine[0].connectionId).toEqual(expect.any(String));
    expect(mine[0].connectionId).toBe(mine[1].connectionId);
    expect(mine[0].requestId).not.toBe(mine[1].requestId);
    const sessionLine = lines.find((entry) => entry.msg === 'session started' && entry.sessionId === sessionId);
    expect(sessionLine?.requestId).toBe(mine[0].requestId);
  });
});

// ---------------------------------------------------------------------------------------------
// What the logs never contain
// ---------------------------------------------------------------------------------------------

describe('logs', () => {
  it('after a whole flow (both kinds, an image, the device, completion, subscriptions, deletion, refusals) no log line holds the JWT, its signature, a device token, the Face key or the image', async () => {
    const faceKey = `face-key-${randomBytes(12).toString('hex')}`;
    const scanned = await TestGateway.start({ env: { FACE_EMULATOR_KEY: faceKey, LOG_LEVEL: 'debug' } });
    try {
      const token = userToken(scanned);
      // A real PNG with random bytes after its end: distinctive, so any copy of it would be found.
      const image = Buffer.concat([Buffer.from(PNG_1X1, 'base64'), randomBytes(3_000)]).toString('base64');

      const liveness = (await scanned.ok(StartLivenessSessionDocument, { input: {} }, token)).startLivenessSession;
      const verify = (await scanned.ok(StartLivenessWithVerifySessionDocument, { input: { verifyImage: image } }, token)).startLivenessWithVerifySession;
      const raw = await socket(scanned, bearer(token));
      const overWs = await overSocket(raw, print(StartLivenessWithVerifySessionDocument), { input: { verifyImage: image } }, 'StartLivenessWithVerifySession');
      const verifyOverWs = (overWs.results[0].data as { startLivenessWithVerifySession: { authToken: string; session: { id: string } } }).startLivenessWithVerifySession;

      const client: Client = scanned.wsClient(token);
      const decisions = [liveness.session.id, verify.session.id].map((sessionId) => scanned.subscribe(client, SessionDecisionDocument, { sessionId }));
      expect((await scanned.device('LIVENESS', liveness.authToken, { livenessDecision: 'realface' })).status).toBe(200);
      expect((await scanned.device('LIVENESS_WITH_VERIFY', verify.authToken, { livenessDecision: 'realface', isIdentical: true, matchConfidence: 0.9 })).status).toBe(200);
      for (const id of [liveness.session.id, verify.session.id]) await scanned.ok(CompleteLivenessSessionDocument, { id }, token);
      for (const decision of decisions) expect((await decision.done)[0].data?.sessionDecision.verdict).toBe('PASS');
      for (const id of [liveness.session.id, verify.session.id, verifyOverWs.session.id]) {
        await scanned.ok(SessionDocument, { id }, token);
        await scanned.ok(DeleteLivenessSessionDocument, { id }, token);
      }

      // Refusals and mistakes, each of which carries a secret somewhere in the request.
      await post(scanned, '{ viewer { userId } }', { authorization: bearer(`${token}x`) });
      await post(scanned, print(StartLivenessWithVerifySessionDocument), { variables: { input: { verifyImage: image, verifyConfidenceThreshold: 7 } }, authorization: bearer(token) });
      await post(scanned, print(StartLivenessWithVerifySessionDocument), { variables: { input: { verifyImage: image, unknownField: 1 } }, authorization: bearer(token) });
      const inUrl = new URL(scanned.graphqlUrl);
      inUrl.searchParams.set('query', print(StartLivenessWithVerifySessionDocument));
      inUrl.searchParams.set('variables', JSON.stringify({ input: { verifyImage: image } }));
      await fetch(inUrl, { headers: { authorization: bearer(token), 'apollo-require-preflight': 'true' } });
      expect(await connectionOutcome(scanned, bearer(`${token}x`))).toBe(4403);
      await scanned.device('LIVENESS', `${liveness.authToken}x`, { livenessDecision: 'realface' });

      await eventually(() => (scanned.logEntries().filter((entry) => entry.msg === 'http request').length >= 10 ? true : undefined));
      const logs = scanned.logs.join('\n');
      expect(logs).toContain(verify.session.id); // the lines are about this flow
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.split('.')[2]);
      for (const authToken of [liveness.authToken, verify.authToken, verifyOverWs.authToken]) expect(logs).not.toContain(authToken);
      expect(logs).not.toContain(faceKey);
      expect(logs).not.toContain(scanned.jwtSecret);
      expect(logs).not.toContain(image);
      expect(logs).not.toContain(image.slice(2_000, 2_064));
      expect(logs).not.toContain(encodeURIComponent(image.slice(2_000, 2_064)));
    } finally {
      await scanned.stop();
    }
  });
});

describe('the status of a GraphQL error over HTTP, by the media type the client accepts', () => {
  const LEGACY = 'application/json';
  const RESPONSE = 'application/graphql-response+json';
  /** A POST with exactly this Accept header (or none). */
  async function answer(accept: string | undefined, query: string, variables: Record<string, unknown> = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: bearer(userToken(gateway)), ...(accept === undefined ? {} : { accept }) };
    const response = await fetch(gateway.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { errors?: GraphQLErrorJson[] };
    return { status: response.status, headers: response.headers, errors: body.errors };
  }

  it('a document that does not parse, or does not validate, is 200 under application/json and 400 under application/graphql-response+json', async () => {
    const aliasBomb = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: viewer { userId }`).join(' ')} }`;
    for (const query of ['{ viewer { ', '{ viewer { nope } }', aliasBomb]) {
      for (const accept of [LEGACY, undefined, '*/*', `${RESPONSE};q=0.5, ${LEGACY}`]) {
        const legacy = await answer(accept, query);
        expect([legacy.status, legacy.headers.get('content-type')], `${query} / ${accept}`).toEqual([200, 'application/json; charset=utf-8']);
        expect(codesOf(legacy.errors)[0]).toBe('BAD_USER_INPUT');
      }
      for (const accept of [RESPONSE, `${RESPONSE}, ${LEGACY}`, `${LEGACY};q=0.5, ${RESPONSE}`]) {
        const strict = await answer(accept, query);
        expect([strict.status, strict.headers.get('content-type')], `${query} / ${accept}`).toEqual([400, 'application/graphql-response+json; charset=utf-8']);
      }
    }
  });

  it('variables that do not coerce are 200 under application/json and 400 under application/graphql-response+json', async () => {
    const query = 'query ($id: ID!) { session(id: $id) { id } }';
    expect((await answer(LEGACY, query, { id: { not: 'an id' } })).status).toBe(200);
    expect((await answer(LEGACY, query, {})).status).toBe(200);
    expect((await answer(RESPONSE, query, {})).status).toBe(400);
  });

  it('a malformed request and a refused token keep their 4xx under application/json', async () => {
    const noQuery = await fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: LEGACY }, body: JSON.stringify({ variables: {} }) });
    expect(noQuery.status).toBe(400);
    const refused = await post(gateway, '{ viewer { userId } }', { authorization: 'Bearer not-a-jwt', headers: { accept: LEGACY } });
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(refused.status).toBe(401);
    expect(codesOf(refused.errors)).toEqual(['UNAUTHENTICATED']);
  });

  it('an error while executing a valid document is 200 under both media types', async () => {
    for (const accept of [LEGACY, RESPONSE]) {
      const missing = await answer(accept, 'query ($id: ID!) { session(id: $id) { id } }', { id: 'no-such-session' });
      expect(missing.status).toBe(200);
      expect(codesOf(missing.errors)).toEqual(['NOT_FOUND']);
    }
  });
});
