/**
 * `auditEvents` (docs/api.md, "The live audit feed") on one gateway: real graphql-transport-ws
 * clients with real signed JWTs, events made by real mutations against the emulator over HTTP, a real
 * SQLite file. Two instances on PostgreSQL and Redis: audit-feed-cluster.test.ts; the feed over each
 * store adapter, a subscriber that never pulls included: audit-feed-store.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { parse, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditEventsDocument,
  AuditHistoryDocument,
  DeleteLivenessSessionDocument,
  StartLivenessSessionDocument,
  type AuditEventsSubscription,
  type AuditEventsSubscriptionVariables,
} from '../../client/generated/graphql';
import { eventually, TestGateway } from '../helpers/gateway';

/**
 * An hour between the feed's rechecks of its chains: every event these tests receive came through a
 * notice, or through a subscriber's replay; the recheck could otherwise hide a lost notice.
 */
const NO_RECHECK = { AUDIT_FEED_RECHECK_MS: '3600000' };

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await TestGateway.start({ env: { WS_MAX_SUBSCRIPTIONS: '2', ...NO_RECHECK } });
});
afterAll(async () => {
  await gateway?.stop();
});

type Feed = { events: ExecutionResult<AuditEventsSubscription>[]; done: Promise<ExecutionResult<AuditEventsSubscription>[]>; cancel: () => void };

const auditorOf = (tenant: string, on = gateway) => on.token({ sub: `auditor-${tenant}`, roles: ['auditor'], tenant });
const adminToken = (on = gateway) => on.token({ sub: 'operator', roles: ['admin'], tenant: 'operators' });

/** The last sequence of a tenant's chain, as the audit history tells it (0 for an empty chain). */
async function headOf(tenant: string, on = gateway): Promise<number> {
  const { auditHistory } = await on.ok(AuditHistoryDocument, { filter: { tenant }, first: 1 }, adminToken(on));
  return auditHistory.edges[0]?.node.sequence ?? 0;
}

/** Starts a session for a user of `tenant`: one SESSION_STARTED event in its chain. */
async function startSession(tenant: string, user = 'alice', on = gateway): Promise<{ id: string; token: string }> {
  const token = on.token({ sub: user, tenant });
  const { startLivenessSession } = await on.ok(StartLivenessSessionDocument, { input: {} }, token);
  return { id: startLivenessSession.session.id, token };
}

function feed(client: Client, variables: AuditEventsSubscriptionVariables, on = gateway): Feed {
  const subscription = on.subscribe(client, AuditEventsDocument, variables);
  subscription.done.catch(() => undefined);
  return subscription;
}

const received = (subscription: Feed) => subscription.events.map((event) => event.data!.auditEvents);
const sequencesOf = (subscription: Feed) => received(subscription).map((event) => event.sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

/** Waits until the subscription has `count` events, then returns their sequences. */
async function sequencesOnce(subscription: Feed, count: number): Promise<number[]> {
  await eventually(() => (subscription.events.length >= count ? true : undefined));
  return sequencesOf(subscription);
}

/**
 * The errors a subscription ended with, and checks how they came: as an `error` message (`'error'`:
 * refused before it ran, or ended while running), or as the one result carrying errors that a
 * refusal by its subscribe function becomes, followed by `complete` (`'result'`).
 */
async function refusal(subscription: Feed, as: 'result' | 'error'): Promise<readonly GraphQLFormattedError[]> {
  const [how, errors] = await subscription.done.then(
    (events) => {
      if (events.length !== 1 || !events[0].errors || events[0].data) throw new Error(`the subscription ended without a refusal: ${JSON.stringify(events)}`);
      return ['result', events[0].errors] as const;
    },
    (errors: GraphQLFormattedError[]) => ['error', errors] as const,
  );
  expect(how).toBe(as);
  return errors;
}

describe('the live audit feed', () => {
  it("an auditor receives its tenant's new events in chain order, and none of another tenant's", async () => {
    const acme = `acme-${randomUUID()}`;
    const globex = `globex-${randomUUID()}`;
    await startSession(acme);
    const [acmeHead, globexHead] = [await headOf(acme), await headOf(globex)];
    const acmeFeed = feed(gateway.wsClient(auditorOf(acme)), { afterSequence: acmeHead });
    const globexFeed = feed(gateway.wsClient(auditorOf(globex)), { afterSequence: globexHead });
    await startSession(acme);
    await startSession(globex);
    await startSession(acme, 'bob');
    expect(await sequencesOnce(acmeFeed, 2)).toEqual([acmeHead + 1, acmeHead + 2]);
    expect(await sequencesOnce(globexFeed, 1)).toEqual([1]);
    // One more event of each, so that anything of the other tenant's would have come before it.
    await startSession(acme);
    await startSession(globex);
    expect(await sequencesOnce(acmeFeed, 3)).toEqual(range(acmeHead + 1, acmeHead + 3));
    expect(await sequencesOnce(globexFeed, 2)).toEqual([1, 2]);
    expect(received(acmeFeed).every((event) => event.tenant === acme)).toBe(true);
    expect(received(globexFeed).every((event) => event.tenant === globex)).toBe(true);
    acmeFeed.cancel();
    globexFeed.cancel();
  });

  it('a portal that reconnects resumes with afterSequence, missing nothing and receiving nothing twice', async () => {
    const tenant = `resume-${randomUUID()}`;
    await startSession(tenant);
    const firstClient = gateway.wsClient(auditorOf(tenant));
    const first = feed(firstClient, { afterSequence: 0 });
    await startSession(tenant);
    const beforeDrop = await sequencesOnce(first, 2);
    await firstClient.dispose();
    // Events committed while the portal is away, and while it reconnects.
    await startSession(tenant);
    await startSession(tenant);
    const resumeAt = beforeDrop[beforeDrop.length - 1];
    const writing = Promise.all([startSession(tenant, 'bob'), startSession(tenant, 'carol')]);
    const second = feed(gateway.wsClient(auditorOf(tenant)), { afterSequence: resumeAt });
    await writing;
    await startSession(tenant);
    const head = await headOf(tenant);
    expect(head).toBe(7);
    const afterDrop = await sequencesOnce(second, head - resumeAt);
    expect([...beforeDrop, ...afterDrop]).toEqual(range(1, head));
    second.cancel();
  });

  it('filters by session, user and actions select what the audit history selects', async () => {
    const tenant = `filters-${randomUUID()}`;
    const client = gateway.wsClient(auditorOf(tenant));
    const filter = { userId: 'bob', actions: ['SESSION_DELETED' as const, 'DECISION_REACHED' as const] };
    const byUser = feed(client, { filter, afterSequence: 0 });
    const bobs = await startSession(tenant, 'bob');
    const carols = await startSession(tenant, 'carol');
    const bySession = feed(client, { filter: { sessionId: carols.id }, afterSequence: 0 });
    await gateway.ok(DeleteLivenessSessionDocument, { id: carols.id }, carols.token);
    await gateway.ok(DeleteLivenessSessionDocument, { id: bobs.id }, bobs.token);
    const history = await gateway.ok(AuditHistoryDocument, { filter: { ...filter, tenant } }, auditorOf(tenant));
    const expected = history.auditHistory.edges.map((edge) => edge.node.id).reverse();
    expect(expected).toHaveLength(2);
    await sequencesOnce(byUser, 2);
    expect(received(byUser).map((event) => event.id)).toEqual(expected);
    await sequencesOnce(bySession, 3);
    expect(received(bySession).map((event) => [event.sessionId, event.action])).toEqual([
      [carols.id, 'SESSION_STARTED'],
      [carols.id, 'SESSION_DELETED'],
      [carols.id, 'DECISION_REACHED'],
    ]);
    byUser.cancel();
    bySession.cancel();
  });

  it('each event reads its session as it stands when the event is sent', async () => {
    const tenant = `fresh-${randomUUID()}`;
    const withSession = parse(
      'subscription ($after: Int) { auditEvents(afterSequence: $after) { sequence action session { id status } } }',
    ) as TypedDocumentNode<{ auditEvents: { sequence: number; action: string; session: { id: string; status: string } | null } }, { after: number }>;
    const subscription = gateway.subscribe(gateway.wsClient(auditorOf(tenant)), withSession, { after: 0 });
    subscription.done.catch(() => undefined);
    const session = await startSession(tenant);
    await eventually(() => (subscription.events.length >= 1 ? true : undefined));
    await gateway.ok(DeleteLivenessSessionDocument, { id: session.id }, session.token);
    await eventually(() => (subscription.events.length >= 3 ? true : undefined));
    expect(subscription.events.map((event) => [event.data!.auditEvents.action, event.data!.auditEvents.session?.status])).toEqual([
      ['SESSION_STARTED', 'NOT_STARTED'],
      ['SESSION_DELETED', 'DELETED'],
      ['DECISION_REACHED', 'DELETED'],
    ]);
    subscription.cancel();
  });

  it("an admin without a tenant filter sees every tenant's events, each tenant in its chain order", async () => {
    const [first, second] = [`all-a-${randomUUID()}`, `all-b-${randomUUID()}`];
    await startSession(first);
    const everything = feed(gateway.wsClient(adminToken()), {});
    // Live only: keep writing until the subscription shows it is listening.
    await eventually(async () => {
      await startSession(first);
      return received(everything).some((event) => event.tenant === first) ? true : undefined;
    });
    await startSession(second);
    await startSession(first);
    await startSession(second);
    await eventually(() => (received(everything).filter((event) => event.tenant === second).length >= 2 ? true : undefined));
    const of = (tenant: string) => received(everything).filter((event) => event.tenant === tenant).map((event) => event.sequence);
    expect(of(second)).toEqual([1, 2]);
    const firstSequences = of(first);
    expect(firstSequences).toEqual(range(firstSequences[0], firstSequences[0] + firstSequences.length - 1));
    expect(firstSequences[firstSequences.length - 1]).toBe(await headOf(first));
    everything.cancel();
  });

  it('a user is refused FORBIDDEN, an auditor naming another tenant too, and a resume point needs a chain', async () => {
    const tenant = `refused-${randomUUID()}`;
    const asUser = feed(gateway.wsClient(gateway.token({ sub: 'alice', roles: ['user'], tenant })), {});
    expect((await refusal(asUser, 'result')).map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const elsewhere = feed(gateway.wsClient(auditorOf(tenant)), { filter: { tenant: 'someone-else' } });
    expect((await refusal(elsewhere, 'result')).map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const everywhere = feed(gateway.wsClient(adminToken()), { afterSequence: 0 });
    expect((await refusal(everywhere, 'result')).map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const pastTheEnd = feed(gateway.wsClient(auditorOf(tenant)), { afterSequence: 1 });
    expect((await refusal(pastTheEnd, 'result')).map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it("the socket's operation cap applies to the feed", async () => {
    const tenant = `capped-${randomUUID()}`;
    const client = gateway.wsClient(auditorOf(tenant));
    const open = [feed(client, {}), feed(client, {})];
    const third = feed(client, {});
    expect((await refusal(third, 'error')).map((error) => [error.extensions?.code, error.extensions?.reason])).toEqual([['RATE_LIMITED', 'TOO_MANY_SUBSCRIPTIONS']]);
    for (const subscription of open) subscription.cancel();
  });
});

describe('a subscriber that falls behind', () => {
  let small: TestGateway;
  beforeAll(async () => {
    // One waiting event at most: a transaction appending two (a deletion and its decision) overflows it.
    small = await TestGateway.start({ env: { AUDIT_FEED_BUFFER_EVENTS: '1', ...NO_RECHECK } });
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('is ended with RATE_LIMITED naming where to resume, and resumes there without a gap', async () => {
    const tenant = `behind-${randomUUID()}`;
    const subscription = feed(small.wsClient(auditorOf(tenant, small)), { afterSequence: 0 }, small);
    const session = await startSession(tenant, 'alice', small);
    expect(await sequencesOnce(subscription, 1)).toEqual([1]);
    await small.ok(DeleteLivenessSessionDocument, { id: session.id }, session.token);
    const [error] = await refusal(subscription, 'error');
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'AUDIT_FEED_BEHIND', afterSequence: 1 });
    expect(error.message).toMatch(/afterSequence/);

    const resumed = feed(small.wsClient(auditorOf(tenant, small)), { afterSequence: error.extensions!.afterSequence as number }, small);
    expect(await sequencesOnce(resumed, 2)).toEqual([2, 3]);
    expect(received(resumed).map((event) => event.action)).toEqual(['SESSION_DELETED', 'DECISION_REACHED']);
    resumed.cancel();
  });
});
