/**
 * Off-the-shelf GraphQL clients against the real gateway, as docs/clients.md sets them up: the
 * `ts` blocks of its "Apollo Client (web)" and "urql" sections are taken from the Markdown as they
 * stand, compiled and loaded, and each client runs one whole flow (start, subscribe to the decision,
 * the device plays on the emulator, complete, the decision arrives over graphql-ws) and meets each
 * error of the table "What each client sees" where the table says it surfaces. Real
 * `@apollo/client` 3 and `@urql/core`, real HTTP and WebSocket, real signed JWTs, on SQLite and
 * (with DATABASE_URL) PostgreSQL.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import WebSocket from 'ws';
import type { ApolloClient, ApolloError, NormalizedCacheObject } from '@apollo/client/core';
import type { Client as UrqlClient, CombinedError } from '@urql/core';
import { parse, type DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteLivenessSessionDocument, CompleteLivenessSessionDocument, SessionDecisionDocument, StartLivenessSessionDocument, ViewerDocument } from '../../client/generated/graphql';
import { TestGateway } from '../helpers/gateway';
import { STORES, type TestDatabase } from '../helpers/services';

const root = path.resolve(__dirname, '../..');

type Factory<T> = (gatewayUrl: string, getToken: () => string, onSocketClosed?: (code: number) => void) => T;

/** The one `ts` block of the section of docs/clients.md whose heading is `heading`. */
function docBlock(heading: string): string {
  const doc = fs.readFileSync(path.join(root, 'docs/clients.md'), 'utf8');
  const section = doc.split(/\n(?=## )/).find((text) => text.startsWith(`## ${heading}\n`));
  expect(section, `docs/clients.md § ${heading}`).toBeDefined();
  const blocks = [...section!.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((match) => match[1]);
  expect(blocks).toHaveLength(1);
  return blocks[0];
}

/** That block compiled to CommonJS and loaded from inside the repository (so its imports resolve to node_modules). */
function loadDocBlock<T>(heading: string, exported: string): T {
  const compiled = ts.transpileModule(docBlock(heading), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  // A fresh clone has no node_modules/.cache until something makes it.
  fs.mkdirSync(path.join(root, 'node_modules/.cache'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, 'node_modules/.cache/clients-doc-'));
  const file = path.join(dir, `${exported}.cjs`);
  fs.writeFileSync(file, compiled.outputText);
  const loaded = createRequire(file)(file) as Record<string, unknown>;
  fs.rmSync(dir, { recursive: true, force: true });
  expect(typeof loaded[exported], `${heading} exports ${exported}`).toBe('function');
  return loaded[exported] as T;
}

/** What a flow or an error looks like through one client library, in the library's own terms. */
interface ClientUnderTest {
  mutate<T>(document: DocumentNode, variables: Record<string, unknown>): Promise<T>;
  query<T>(document: DocumentNode, variables?: Record<string, unknown>): Promise<T>;
  /** Resolves with the first event of the subscription. */
  firstEvent<T>(document: DocumentNode, variables: Record<string, unknown>): Promise<T>;
  /** The error an operation fails with, as the library hands it over. */
  failure(document: DocumentNode, variables?: Record<string, unknown>): Promise<{ status?: number; extensions: Record<string, unknown>[] }>;
  dispose(): void;
}

function apolloUnderTest(client: ApolloClient<NormalizedCacheObject>): ClientUnderTest {
  return {
    mutate: async (mutation, variables) => (await client.mutate({ mutation, variables, fetchPolicy: 'no-cache' })).data,
    query: async (query, variables) => (await client.query({ query, variables, fetchPolicy: 'no-cache' })).data,
    firstEvent: (query, variables) =>
      new Promise((resolve, reject) => {
        const subscription = client.subscribe({ query, variables }).subscribe({
          next: (event) => {
            subscription.unsubscribe();
            resolve(event.data);
          },
          error: reject,
        });
      }),
    failure: async (document, variables) => {
      const operation = document.definitions[0].kind === 'OperationDefinition' ? document.definitions[0].operation : 'query';
      const error = (await (operation === 'mutation' ? client.mutate({ mutation: document, variables }) : client.query({ query: document, variables, fetchPolicy: 'no-cache' })).then(
        () => expect.unreachable('the operation succeeded'),
        (caught: unknown) => caught,
      )) as ApolloError;
      const network = error.networkError as (Error & { statusCode?: number; result?: { errors?: { extensions: Record<string, unknown> }[] } }) | null;
      if (network) {
        // Apollo Client 3 keeps a non-2xx answer in networkError: its status, and the parsed body in `result`.
        expect(error.graphQLErrors).toEqual([]);
        return { status: network.statusCode, extensions: (network.result?.errors ?? []).map((e) => e.extensions) };
      }
      return { extensions: error.graphQLErrors.map((e) => e.extensions as Record<string, unknown>) };
    },
    dispose: () => client.stop(),
  };
}

function urqlUnderTest(client: UrqlClient): ClientUnderTest {
  const unwrap = <T>(result: { data?: T; error?: CombinedError }): T => {
    if (result.error) throw result.error;
    return result.data as T;
  };
  return {
    mutate: async (document, variables) => unwrap(await client.mutation(document, variables).toPromise()),
    query: async (document, variables) => unwrap(await client.query(document, variables ?? {}).toPromise()),
    firstEvent: (document, variables) =>
      new Promise((resolve, reject) => {
        const { unsubscribe } = client.subscription(document, variables).subscribe((result) => {
          unsubscribe();
          if (result.error) reject(result.error);
          else resolve(result.data);
        });
      }),
    failure: async (document, variables) => {
      const operation = document.definitions[0].kind === 'OperationDefinition' ? document.definitions[0].operation : 'query';
      const result = await (operation === 'mutation' ? client.mutation(document, variables ?? {}) : client.query(document, variables ?? {})).toPromise();
      expect(result.error, 'the operation failed').toBeDefined();
      const response = result.error!.response as Response | undefined;
      return { status: response?.status, extensions: result.error!.graphQLErrors.map((e) => e.extensions as Record<string, unknown>) };
    },
    dispose: () => undefined,
  };
}

const START_LIMIT = 3;

let createApolloClient: Factory<ApolloClient<NormalizedCacheObject>>;
let createUrqlClient: Factory<UrqlClient>;
const globalWebSocket = Reflect.get(globalThis, 'WebSocket') as unknown;

beforeAll(() => {
  // The blocks are written for the browser, whose WebSocket graphql-ws finds on globalThis; Node 20 has none.
  Reflect.set(globalThis, 'WebSocket', WebSocket);
  createApolloClient = loadDocBlock('Apollo Client (web)', 'createApolloClient');
  createUrqlClient = loadDocBlock('urql', 'createUrqlClient');
});
afterAll(() => {
  Reflect.set(globalThis, 'WebSocket', globalWebSocket);
});

describe('the client setups of docs/clients.md', () => {
  it('type-check as browser code, with the settings of the web client (strict, DOM)', () => {
    const web = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(root, 'tsconfig.web.json'), ts.sys.readFile).config, ts.sys, root);
    fs.mkdirSync(path.join(root, 'node_modules/.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(root, 'node_modules/.cache/clients-doc-types-'));
    try {
      const files = ['Apollo Client (web)', 'urql'].map((heading, index) => {
        const file = path.join(dir, `block-${index}.ts`);
        fs.writeFileSync(file, docBlock(heading));
        return file;
      });
      const program = ts.createProgram(files, { ...web.options, noEmit: true, incremental: false, tsBuildInfoFile: undefined, rootDir: undefined });
      const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      expect(problems).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(STORES)('off-the-shelf clients on $store', ({ available, database }) => {
  let gateway: TestGateway;
  let testDatabase: TestDatabase | undefined;
  const clients: ClientUnderTest[] = [];

  beforeAll(async () => {
    if (!available) return;
    testDatabase = await database();
    gateway = await TestGateway.start({ env: { RATE_LIMIT_USER_STARTS: String(START_LIMIT), ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}) } });
  });
  afterAll(async () => {
    for (const client of clients) client.dispose();
    await gateway?.stop();
    await testDatabase?.drop();
  });

  const libraries = [
    { library: 'Apollo Client 3', make: (getToken: () => string, onClosed?: (code: number) => void) => apolloUnderTest(createApolloClient(gateway.url, getToken, onClosed)) },
    { library: 'urql', make: (getToken: () => string, onClosed?: (code: number) => void) => urqlUnderTest(createUrqlClient(gateway.url, getToken, onClosed)) },
  ];

  describe.each(libraries)('$library', ({ library, make }) => {
    const user = library.startsWith('Apollo') ? 'apollo' : 'urql';
    const client = (getToken: () => string, onClosed?: (code: number) => void) => {
      const made = make(getToken, onClosed);
      clients.push(made);
      return made;
    };

    it.skipIf(!available)('runs a whole flow: start, subscribe, the device plays, complete, and PASS arrives over graphql-ws', async () => {
      const token = gateway.token({ sub: `${user}-flow` });
      const app = client(() => token);
      const started = await app.mutate<{ startLivenessSession: { authToken: string; session: { id: string; status: string } } }>(StartLivenessSessionDocument, { input: {} });
      const { id } = started.startLivenessSession.session;
      expect(started.startLivenessSession.session.status).toBe('NOT_STARTED');
      const decision = app.firstEvent<{ sessionDecision: { sessionId: string; verdict: string } }>(SessionDecisionDocument, { sessionId: id });
      expect((await gateway.device('LIVENESS', started.startLivenessSession.authToken, { livenessDecision: 'realface' })).status).toBe(200);
      const completed = await app.mutate<{ completeLivenessSession: { id: string } }>(CompleteLivenessSessionDocument, { id });
      expect(completed.completeLivenessSession.id).toBe(id);
      expect((await decision).sessionDecision).toMatchObject({ sessionId: id, verdict: 'PASS' });
    });

    it.skipIf(!available)('a refused token is HTTP 401 with UNAUTHENTICATED, where the table says this client puts it', async () => {
      const failure = await client(() => 'not-a-jwt').failure(ViewerDocument);
      expect(failure.status).toBe(401);
      expect(failure.extensions).toEqual([{ code: 'UNAUTHENTICATED' }]);
    });

    it.skipIf(!available)('a socket closed with 4403 is reported; with the token refreshed, graphql-ws reconnects and the subscription carries on', async () => {
      const good = gateway.token({ sub: `${user}-socket` });
      const owner = client(() => good);
      const started = await owner.mutate<{ startLivenessSession: { session: { id: string } } }>(StartLivenessSessionDocument, { input: {} });
      const { id } = started.startLivenessSession.session;
      await owner.mutate(DeleteLivenessSessionDocument, { id });

      let token = gateway.token({ sub: `${user}-socket` }, { expiresIn: -60 });
      const closeCodes: number[] = [];
      const app = client(
        () => token,
        (code) => {
          closeCodes.push(code);
          if (code === 4403) token = good;
        },
      );
      const decision = await app.firstEvent<{ sessionDecision: { sessionId: string; verdict: string } }>(SessionDecisionDocument, { sessionId: id });
      expect(decision.sessionDecision).toMatchObject({ sessionId: id, verdict: 'EXPIRED' });
      expect(closeCodes[0]).toBe(4403);
    }, 20_000);

    it.skipIf(!available)('RATE_LIMITED carries retryAfterSeconds', async () => {
      const token = gateway.token({ sub: `${user}-busy` });
      const app = client(() => token);
      for (let start = 0; start < START_LIMIT; start++) await app.mutate(StartLivenessSessionDocument, { input: {} });
      const failure = await app.failure(StartLivenessSessionDocument, { input: {} });
      expect(failure.status).toBe(user === 'apollo' ? undefined : 200);
      expect(failure.extensions).toEqual([{ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) }]);
      expect(failure.extensions[0].retryAfterSeconds).toBeGreaterThanOrEqual(1);
    });

    it.skipIf(!available)('an argument out of range is BAD_USER_INPUT', async () => {
      const token = gateway.token({ sub: `${user}-input` });
      const failure = await client(() => token).failure(StartLivenessSessionDocument, { input: { authTokenTimeToLiveSeconds: 5 } });
      expect(failure.extensions).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT' })]);
      expect(failure.status).toBe(user === 'apollo' ? undefined : 200);
    });

    it.skipIf(!available)('a document that does not validate is BAD_USER_INPUT with reason GRAPHQL_VALIDATION_FAILED', async () => {
      const token = gateway.token({ sub: `${user}-input` });
      const failure = await client(() => token).failure(parse('query NoSuchField { viewer { noSuchField } }'));
      expect(failure.extensions).toEqual([{ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' }]);
      // Apollo Client 3 accepts application/json first (200, errors in graphQLErrors); urql prefers
      // application/graphql-response+json, answered 400, whose body it reads all the same.
      expect(failure.status).toBe(user === 'apollo' ? undefined : 400);
    });
  });
});

