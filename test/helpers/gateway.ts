/**
 * Boots the real gateway on port 0 with a fresh SQLite file and the embedded Face emulator, and
 * speaks to it as clients do: GraphQL over HTTP with real signed JWTs, graphql-transport-ws over a
 * real WebSocket, and the device's side against the emulator over HTTP. Nothing of ours is mocked.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config';
import { createGateway, type Gateway } from '../../src/gateway';
import type { HostResolver } from '../../src/adapters/webhooks/outbound-guard';
import { createFaceEmulator } from '../../tools/face-emulator';

export interface TokenClaims {
  sub?: string;
  roles?: string[];
  tenant?: string;
  [claim: string]: unknown;
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export type DeviceOutcome =
  | { livenessDecision: 'realface' | 'spoofface' | 'uncertain'; isIdentical?: boolean; matchConfidence?: number }
  | { error: { code: string; message: string } };

export interface TestGatewayOptions {
  /** Extra environment, as a user would set it (strings). */
  env?: Record<string, string>;
  /** Reuse a data directory (restart tests). */
  dataDir?: string;
  /**
   * No JWT_SECRET: the gateway runs on the development secret it keeps in DATA_DIR (written there
   * first, so tests sign with it), the one case with a dev token in Sandbox and /demo.
   */
  devSecret?: boolean;
  /** Stands in for DNS when deliveries resolve webhook endpoint names (`GatewayOptions.resolveHost`). */
  resolveHost?: HostResolver;
}

export class TestGateway {
  /** Log lines the gateway wrote, as JSON text. */
  readonly logs: string[] = [];
  /** Milliseconds added to the real clock: `advanceClock` moves the gateway (and emulator) into the future. */
  private clockOffsetMillis = 0;
  private gateway: Gateway | undefined;
  private readonly clients = new Set<Client>();

  private constructor(
    readonly dataDir: string,
    readonly jwtSecret: string,
    private readonly env: Record<string, string>,
    private readonly resolveHost?: HostResolver,
  ) {}

  static async start(options: TestGatewayOptions = {}): Promise<TestGateway> {
    const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'liveness-gateway-test-'));
    const secret = options.env?.JWT_SECRET ?? randomBytes(32).toString('hex');
    if (options.devSecret) fs.writeFileSync(path.join(dataDir, 'dev-jwt-secret'), secret + '\n', { mode: 0o600 });
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ...(options.devSecret ? {} : { JWT_SECRET: secret }),
      POLL_INTERVAL_MS: '20',
      POLL_MAX_INTERVAL_MS: '200',
      EXPIRY_SWEEP_INTERVAL_MS: '50',
      FACE_TIMEOUT_MS: '2000',
      FACE_MAX_RETRIES: '1',
      // Suites about other things start many sessions from one user and one address, and fail Face on
      // purpose: the abuse limits and the circuit breaker are off and the Face call cap generous here;
      // test/e2e/rate-limits.test.ts and face-resilience.test.ts set their own.
      RATE_LIMIT_USER_STARTS: '0',
      RATE_LIMIT_DEVICE_STARTS: '0',
      RATE_LIMIT_UNAUTHENTICATED_REQUESTS: '0',
      FACE_BREAKER_FAILURES: '0',
      FACE_MAX_CALLS_PER_SECOND: '1000',
      // Deleting a decided session at Face appends FACE_SESSION_DELETED a moment after the decision;
      // suites about other things read exact trails. test/e2e/evidence.test.ts turns it on.
      FACE_DELETE_AFTER_DECISION: 'false',
      LOG_LEVEL: 'debug',
      ...options.env,
    };
    const test = new TestGateway(dataDir, secret, env, options.resolveHost);
    await test.boot();
    return test;
  }

  get url(): string {
    return this.running.url;
  }

  get graphqlUrl(): string {
    return `${this.running.url}/graphql`;
  }

  get emulatorUrl(): string {
    return this.running.emulatorUrl as string;
  }

  get devToken(): string | undefined {
    return this.running.devToken;
  }

  /** Moves the gateway's clock (session expiry, the emulator's token expiry) forward. */
  advanceClock(millis: number): void {
    this.clockOffsetMillis += millis;
  }

  /** A real HS256 JWT signed with the gateway's secret. */
  token(claims: TokenClaims = {}, options: jwt.SignOptions = {}): string {
    const { sub = 'alice', roles = ['user'], tenant = 'acme', ...rest } = claims;
    return jwt.sign({ roles, tenant, ...rest }, this.jwtSecret, { algorithm: 'HS256', subject: sub, expiresIn: 3600, ...options });
  }

  async graphql<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables> | string,
    variables?: TVariables,
    token?: string,
  ): Promise<GraphQLResponse<TData>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const query = typeof document === 'string' ? document : print(document);
    const response = await fetch(this.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as Omit<GraphQLResponse<TData>, 'status'>;
    return { status: response.status, ...body };
  }

  /** Like `graphql`, but fails the test on any error and returns `data`. */
  async ok<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    token: string,
  ): Promise<TData> {
    const result = await this.graphql(document, variables, token);
    if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data;
  }

  /** Plays the device's side of a session against the emulator, as the Face SDK would. */
  async device(kind: 'LIVENESS' | 'LIVENESS_WITH_VERIFY', authToken: string, outcome: DeviceOutcome): Promise<Response> {
    const operation = kind === 'LIVENESS' ? 'detectLiveness' : 'detectLivenessWithVerify';
    return fetch(`${this.emulatorUrl}/face/v1.2/${operation}/singleModal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(outcome),
    });
  }

  /** Queues a fault at the emulator (docs/api.md, "The Face emulator"). */
  async fault(fault: { status: number; code?: string; retryAfterSeconds?: number; count?: number; method?: string; pathPrefix?: string; latencyMs?: number }): Promise<void> {
    const response = await fetch(`${this.emulatorUrl}/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
    if (!response.ok) throw new Error(`fault injection failed: ${response.status}`);
  }

  /** A graphql-transport-ws client with the token in `connection_init`; closed by `stop()`. */
  wsClient(token?: string, onClosed?: (event: { code: number; reason: string }) => void): Client {
    const client = createClient({
      url: this.graphqlUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
      on: { closed: (event) => onClosed?.(event as { code: number; reason: string }) },
    });
    this.clients.add(client);
    return client;
  }

  /** Subscribes and collects everything the server sends until it completes or fails. */
  subscribe<TData, TVariables extends Record<string, unknown>>(
    client: Client,
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): { events: ExecutionResult<TData>[]; done: Promise<ExecutionResult<TData>[]>; cancel: () => void } {
    const events: ExecutionResult<TData>[] = [];
    let cancel = () => {};
    const done = new Promise<ExecutionResult<TData>[]>((resolve, reject) => {
      cancel = client.subscribe<TData>(
        { query: print(document), variables },
        {
          next: (value) => events.push(value as ExecutionResult<TData>),
          error: (error) => reject(error),
          complete: () => resolve(events),
        },
      );
    });
    return { events, done, cancel };
  }

  /** Stops and boots again on the same data directory, as after a process restart. */
  async restart(): Promise<void> {
    await this.stopGateway();
    await this.boot();
  }

  /** Boots again after `stopGateway()`, on the same data directory (e.g. once a test edited the SQLite file). */
  async startAgain(): Promise<void> {
    if (this.gateway) throw new Error('the gateway is still running');
    await this.boot();
  }

  async stopGateway(): Promise<void> {
    for (const client of this.clients) await client.dispose();
    this.clients.clear();
    await this.gateway?.stop();
    this.gateway = undefined;
  }

  async stop(): Promise<void> {
    await this.stopGateway();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Parsed log lines. */
  logEntries(): Record<string, unknown>[] {
    return this.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  private get running(): Gateway {
    if (!this.gateway) throw new Error('the gateway is not running');
    return this.gateway;
  }

  private async boot(): Promise<void> {
    const config = loadConfig(this.env);
    const now = () => Date.now() + this.clockOffsetMillis;
    this.gateway = await createGateway({
      config,
      now,
      resolveHost: this.resolveHost,
      logSink: (line) => this.logs.push(line),
      // As main.ts wires it, with the gateway's clock so that advanceClock moves the emulator too.
      faceEmulator: config.face.mode === 'emulator' ? createFaceEmulator({
              apiKey: config.face.emulatorKey,
              maxSessions: config.face.emulatorMaxSessions,
              transactionsPerSecond: config.face.emulatorTransactionsPerSecond,
              maxAttempts: config.face.emulatorMaxAttempts,
              now,
              faults: !config.production,
            }) : undefined,
    });
  }
}

/** Waits until `check` returns a value (not undefined), polling; for effects that happen in the background. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMillis = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMillis} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
