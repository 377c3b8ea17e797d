/**
 * Apollo Sandbox, as the gateway opens it outside production: every public operation in its document,
 * their variables pre-filled, and the dev token in the Authorization header. Each operation is run
 * here as Sandbox runs it (the whole document, the operation's name, the shared variables, the
 * header), with only the session's id pasted in.
 */
import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { landingPageDocument, landingPageVariables, SESSION_ID_PLACEHOLDER } from '../../src/transport/landing-page';
import { SessionEvidenceDocument } from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';
import { operationsCalled, publicOperations } from '../helpers/root-fields';

interface SandboxConfig {
  initialState: { document: string; variables: Record<string, unknown>; headers: Record<string, string> };
}

let gateway: TestGateway;

beforeAll(async () => {
  // The generated development secret: the only case with a dev token for Sandbox to pre-fill.
  gateway = await TestGateway.start({ devSecret: true });
});

afterAll(async () => {
  await gateway?.stop();
});

/** The configuration the landing page hands to Apollo's embeddable Sandbox. */
async function sandboxConfig(): Promise<SandboxConfig> {
  const page = await fetch(gateway.graphqlUrl, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  const match = (await page.text()).match(/var embeddedSandboxConfig = (\{.*\});\n/);
  expect(match, 'the Sandbox configuration in the landing page').not.toBeNull();
  return JSON.parse(match![1]) as SandboxConfig;
}

/** The Sandbox document's admin operations: its dev token (user and auditor) is refused them. */
const ADMIN_ONLY = ['RotateDeviceCorrelationId', 'CreateWebhookEndpoint', 'UpdateWebhookEndpoint', 'RotateWebhookSecret', 'RedeliverWebhook', 'DeleteWebhookEndpoint', 'SetTenantPolicy', 'ClearTenantPolicy', 'EraseUserData'];

describe('the Sandbox collection', () => {
  it('Sandbox opens with the document of every operation, their variables and the dev token header', async () => {
    const { initialState } = await sandboxConfig();
    expect(initialState.document).toBe(landingPageDocument);
    expect(initialState.variables).toEqual(landingPageVariables);
    expect(initialState.headers).toEqual({ Authorization: `Bearer ${gateway.devToken}` });
  });

  it('the document calls every public operation of the schema', () => {
    const schema = buildSchema(fs.readFileSync(path.resolve(__dirname, '../../schema.graphql'), 'utf8'));
    expect(operationsCalled(parse(landingPageDocument))).toEqual(publicOperations(schema));
  });

  it('every variable the operations take has a pre-filled value, and every pre-filled value is used', () => {
    const used = new Set<string>();
    for (const definition of parse(landingPageDocument).definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const variable of definition.variableDefinitions ?? []) used.add(variable.variable.name.value);
    }
    expect([...used].sort()).toEqual(Object.keys(landingPageVariables).sort());
  });

  it('each operation runs in order as Sandbox sends it, with the pre-filled variables and header, once the id is pasted', async () => {
    const { initialState } = await sandboxConfig();
    const operations = parse(initialState.document).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const variables: Record<string, unknown> = { ...initialState.variables };
    const authorization = initialState.headers.Authorization;
    let deviceToken = '';
    let decision: Promise<unknown> | undefined;
    const ws = gateway.wsClient(authorization.replace(/^Bearer /, ''));

    for (const operation of operations) {
      const operationName = operation.name!.value;
      if (operationName === 'AuditEvents') {
        // From afterSequence 0: the tenant's chain from its first event, the session started above.
        const first = await new Promise((resolve, reject) => {
          const cancel = ws.subscribe({ query: initialState.document, operationName, variables }, {
            next: (value) => {
              cancel();
              resolve(value);
            },
            error: reject,
            complete: () => undefined,
          });
        });
        expect(first).toMatchObject({ data: { auditEvents: { sequence: 1, action: 'SESSION_STARTED' } } });
        continue;
      }
      if (operation.operation === 'subscription') {
        decision = new Promise((resolve, reject) => {
          ws.subscribe({ query: initialState.document, operationName, variables }, { next: resolve, error: reject, complete: () => undefined });
        });
        // The device plays while Sandbox waits for the decision in its other tab.
        expect((await gateway.device('LIVENESS', deviceToken, { livenessDecision: 'realface' })).status).toBe(200);
        continue;
      }
      if (operationName === 'CreateEvidenceImageLink') {
        // The image is fetched from Face just after the decision: a Sandbox user would wait for it too.
        await eventually(async () => {
          const { data } = await gateway.graphql(SessionEvidenceDocument, { id: variables.id as string }, authorization.replace(/^Bearer /, ''));
          return data?.session?.evidence?.images.length ? true : undefined;
        });
      }
      const response = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: initialState.document, operationName, variables }),
      });
      const body = (await response.json()) as { data?: Record<string, any>; errors?: { extensions?: { code?: string } }[] };
      if (ADMIN_ONLY.includes(operationName)) {
        // An admin's operation: the dev token (user and auditor) is refused, as the comment above it says.
        expect(body.errors?.map((error) => error.extensions?.code), operationName).toEqual(['FORBIDDEN']);
        continue;
      }
      if (operationName === 'WebhookEndpoint') {
        // No endpoint to paste: the dev token cannot register one, and the placeholder names none.
        expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
        continue;
      }
      expect(body.errors, operationName).toBeUndefined();
      if (operationName === 'StartLivenessSession') {
        // What a Sandbox user does next: paste the id into the "id" variable.
        expect(variables.id).toBe(SESSION_ID_PLACEHOLDER);
        variables.id = body.data!.startLivenessSession.session.id;
        deviceToken = body.data!.startLivenessSession.authToken;
      }
      if (operationName === 'CompleteLivenessSession') {
        expect(await decision).toMatchObject({ data: { sessionDecision: { sessionId: variables.id, verdict: 'PASS' } } });
      }
      if (operationName === 'CreateEvidenceImageLink') {
        const shown = await fetch(`${gateway.url}${body.data!.createEvidenceImageLink.url as string}`);
        expect(shown.status).toBe(200);
        expect(shown.headers.get('content-type')).toBe('image/jpeg');
      }
      if (operationName === 'Session') {
        expect(body.data!.session.auditTrail.edges.map(({ node }: { node: { action: string } }) => node.action)).toContain('DECISION_REACHED');
      }
    }
    expect(operations.map((operation) => operation.name!.value)).toEqual([
      'Viewer',
      'StartLivenessSession',
      'StartLivenessWithVerifySession',
      'SessionDecision',
      'CompleteLivenessSession',
      'Session',
      'CreateEvidenceImageLink',
      'Sessions',
      'AuditHistory',
      'VerifyAuditChain',
      'AuditCheckpointKey',
      'AuditEvents',
      'DeleteLivenessSession',
      'RotateDeviceCorrelationId',
      'WebhookEndpoints',
      'WebhookEndpoint',
      'CreateWebhookEndpoint',
      'UpdateWebhookEndpoint',
      'RotateWebhookSecret',
      'RedeliverWebhook',
      'DeleteWebhookEndpoint',
      'TenantPolicy',
      'SetTenantPolicy',
      'ClearTenantPolicy',
      'EraseUserData',
    ]);
  });
});
