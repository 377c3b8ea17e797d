/**
 * The session state rules as a table: what the store holds × what happens → what changes, which
 * audit events are appended (in order), and whether a decision is reached. No database: the
 * adapters execute these plans as they are (test/e2e/store-adapters.test.ts runs them on both).
 */
import { describe, expect, it } from 'vitest';
import type { AuditAction } from '../../src/domain/audit/audit.model';
import type { FaceAttempt, FaceStatus } from '../../src/domain/ports/face.port';
import type { Progress } from '../../src/domain/ports/store';
import type { SessionRecord, SessionStatus } from '../../src/domain/sessions/session.model';
import { planCompletion, planDeletion, planProgress, planStart, type TransitionPlan } from '../../src/domain/sessions/transitions';

const at = new Date('2026-03-01T12:00:00.000Z');
const earlier = new Date('2026-03-01T11:00:00.000Z');

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'session-1',
    kind: 'LIVENESS',
    status: 'NOT_STARTED',
    operationMode: 'PASSIVE',
    userId: 'alice',
    tenant: 'acme',
    deviceCorrelationId: 'device-1',
    createdAt: new Date('2026-03-01T10:00:00.000Z'),
    expiresAt: new Date('2026-03-01T10:10:00.000Z'),
    enableSessionImage: false,
    ...overrides,
  };
}

const succeeded = (attemptId: number): FaceAttempt => ({ attemptId, status: 'SUCCEEDED', livenessDecision: 'REAL_FACE', digest: `digest-${attemptId}` });
const failed = (attemptId: number): FaceAttempt => ({ attemptId, status: 'FAILED', error: { code: 'FaceNotFound', message: 'No face.' } });
const running = (attemptId: number): FaceAttempt => ({ attemptId, status: 'RUNNING' });

const pass = { status: 'SUCCEEDED' as const, decision: { verdict: 'PASS' as const, livenessDecision: 'REAL_FACE' as const, attemptId: 2 } };
const expired = { status: 'EXPIRED' as const, decision: { verdict: 'EXPIRED' as const } };

function progress(faceStatus: FaceStatus, attempts: FaceAttempt[], outcome?: Progress['outcome'], modelVersion?: string): Progress {
  return { faceStatus, attempts, outcome, modelVersion };
}

/** What a row of the table checks of a plan: events as [action, attemptId?], the stored attempts' ids. */
function summary(plan: TransitionPlan) {
  return {
    events: plan.auditEvents.map((event) => (event.attemptId === undefined ? [event.action] : [event.action, event.attemptId])),
    attempts: plan.attempts.map((attempt) => attempt.attemptId),
    verdict: plan.decision?.verdict,
    status: plan.session.status,
    decided: plan.changes?.decided === true,
    dropLease: plan.dropLease,
    changed: plan.changes !== undefined,
  };
}

type Events = ([AuditAction] | [AuditAction, number])[];

describe('recording what a poll of Face saw', () => {
  const undecided = (status: SessionStatus = 'RUNNING', attemptIds: number[] = []) => ({ session: session({ status }), decided: false, attemptIds: new Set(attemptIds) });

  it.each<[string, ReturnType<typeof undecided>, Progress, { events: Events; attempts: number[]; verdict?: string; status: SessionStatus; decided: boolean }]>([
    [
      'undecided RUNNING, 2 finished attempts and 1 running: the 2 finished are stored and audited',
      undecided(),
      progress('RUNNING', [failed(1), succeeded(2), running(3)]),
      { events: [['ATTEMPT_RECORDED', 1], ['ATTEMPT_RECORDED', 2]], attempts: [1, 2], status: 'RUNNING', decided: false },
    ],
    [
      'undecided, an attempt already stored: only the new one is stored and audited',
      undecided('RUNNING', [1]),
      progress('RUNNING', [failed(1), succeeded(2)]),
      { events: [['ATTEMPT_RECORDED', 2]], attempts: [2], status: 'RUNNING', decided: false },
    ],
    [
      'undecided, the same attempt reported twice in one poll: stored and audited once',
      undecided(),
      progress('RUNNING', [failed(1), failed(1)]),
      { events: [['ATTEMPT_RECORDED', 1]], attempts: [1], status: 'RUNNING', decided: false },
    ],
    [
      'undecided, only a running attempt: nothing audited, the status follows Face',
      undecided('NOT_STARTED'),
      progress('RUNNING', [running(1)]),
      { events: [], attempts: [], status: 'RUNNING', decided: false },
    ],
    [
      'undecided, an outcome: attempts, then the decision; decided',
      undecided(),
      progress('SUCCEEDED', [failed(1), succeeded(2)], pass),
      { events: [['ATTEMPT_RECORDED', 1], ['ATTEMPT_RECORDED', 2], ['DECISION_REACHED', 2]], attempts: [1, 2], verdict: 'PASS', status: 'SUCCEEDED', decided: true },
    ],
    [
      'undecided, an EXPIRED outcome: SESSION_EXPIRED then DECISION_REACHED',
      undecided('NOT_STARTED'),
      progress('NOT_STARTED', [], expired),
      { events: [['SESSION_EXPIRED'], ['DECISION_REACHED']], attempts: [], verdict: 'EXPIRED', status: 'EXPIRED', decided: true },
    ],
    [
      'decided but not ended (a decision already stored): nothing',
      { session: session({ status: 'RUNNING' }), decided: true, attemptIds: new Set([1, 2]) },
      progress('SUCCEEDED', [failed(1), succeeded(2), succeeded(3)], pass),
      { events: [], attempts: [], status: 'RUNNING', decided: false },
    ],
    ...(['SUCCEEDED', 'FAILED', 'CANCELED', 'EXPIRED', 'DELETED'] as const).map(
      (status): [string, ReturnType<typeof undecided>, Progress, { events: Events; attempts: number[]; status: SessionStatus; decided: boolean }] => [
        `ended ${status}: nothing, not even a status`,
        undecided(status),
        progress('SUCCEEDED', [succeeded(1)], pass),
        { events: [], attempts: [], status, decided: false },
      ],
    ),
  ])('%s', (_what, before, seen, expected) => {
    const plan = planProgress(before, seen, at);
    const { events, attempts, verdict, status, decided } = summary(plan);
    expect({ events, attempts, verdict, status, decided }).toEqual(expected);
  });

  it.each([
    ['is reached', progress('SUCCEEDED', [succeeded(2)], pass), true],
    ['is not reached', progress('RUNNING', [succeeded(2)]), false],
    ['is reached by expiry', progress('NOT_STARTED', [], expired), true],
  ])('the poll lease goes exactly when a decision %s', (_what, seen, dropped) => {
    expect(planProgress(undecided(), seen, at).dropLease).toBe(dropped);
  });

  it.each([
    ['no model version', undefined, { status: 'RUNNING', updatedAt: at }, undefined],
    ['a model version', '2024-11-15', { status: 'RUNNING', modelVersion: '2024-11-15', updatedAt: at }, '2024-11-15'],
  ])('writes the status Face reports and the time, with %s', (_what, modelVersion, changes, sessionModel) => {
    const plan = planProgress(undecided('NOT_STARTED'), progress('RUNNING', [], undefined, modelVersion), at);
    expect(plan.changes).toEqual(changes);
    expect(plan.session.modelVersion).toBe(sessionModel);
  });

  it('a decision is stamped with the session and the time of the transition, and the row marked decided', () => {
    const plan = planProgress(undecided(), progress('SUCCEEDED', [succeeded(2)], pass), at);
    expect(plan.decision).toEqual({ sessionId: 'session-1', verdict: 'PASS', livenessDecision: 'REAL_FACE', attemptId: 2, decidedAt: at });
    expect(plan.changes).toEqual({ status: 'SUCCEEDED', decided: true, updatedAt: at });
    expect(plan.auditEvents.every((event) => event.actor === 'system' && event.sessionId === 'session-1' && event.userId === 'alice')).toBe(true);
    expect(plan.auditEvents.at(-1)).toMatchObject({ action: 'DECISION_REACHED', verdict: 'PASS', attemptId: 2 });
  });

  it("an erased owner's session (a start that raced the erasure) records no verify image hash and fetches no image", () => {
    const before = {
      session: session({ kind: 'LIVENESS_WITH_VERIFY', status: 'RUNNING', userId: 'erased:0123456789ab', enableSessionImage: true, verifyReference: { faceRectangle: { top: 1, left: 2, width: 3, height: 4 }, qualityForRecognition: 'HIGH' } }),
      decided: false,
      attemptIds: new Set<number>(),
    };
    const reported: FaceAttempt = { ...succeeded(1), verifyImageHash: 'face-hash-of-the-reference', sessionImageId: 'image-1' };
    const plan = planProgress(before, { ...progress('SUCCEEDED', [reported], { ...pass, decision: { ...pass.decision, attemptId: 1 } }), followUp: { deleteAtFace: true } }, at);
    expect(plan.attempts).toEqual([{ attemptId: 1, status: 'SUCCEEDED', livenessDecision: 'REAL_FACE', digest: 'digest-1' }]);
    expect(plan.auditEvents.map((event) => event.faceVerifyImageHash)).toEqual([undefined, undefined]);
    expect(plan.followUp).toEqual({ fetchImages: false, deleteAtFace: true });
    // The same session of a user not erased records both.
    const own = planProgress({ ...before, session: { ...before.session, userId: 'alice' } }, { ...progress('SUCCEEDED', [reported], { ...pass, decision: { ...pass.decision, attemptId: 1 } }), followUp: { deleteAtFace: true } }, at);
    expect(own.attempts[0]).toMatchObject({ verifyImageHash: 'face-hash-of-the-reference', sessionImageId: 'image-1' });
    expect(own.followUp).toEqual({ fetchImages: true, deleteAtFace: true });
    expect(own.session.verifyReference?.faceVerifyImageHash).toBe('face-hash-of-the-reference');
    expect(plan.session.verifyReference?.faceVerifyImageHash).toBeUndefined();
  });
});

describe('deleting a session', () => {
  it.each<[string, SessionStatus, boolean, { events: Events; verdict?: string; changed: boolean; decided: boolean; dropLease: boolean; status: SessionStatus }]>([
    ['undecided: SESSION_DELETED, then the given decision', 'RUNNING', false, { events: [['SESSION_DELETED'], ['DECISION_REACHED']], verdict: 'EXPIRED', changed: true, decided: true, dropLease: true, status: 'DELETED' }],
    ['decided: SESSION_DELETED only', 'SUCCEEDED', true, { events: [['SESSION_DELETED']], changed: true, decided: true, dropLease: true, status: 'DELETED' }],
    ['expired (decided): SESSION_DELETED only', 'EXPIRED', true, { events: [['SESSION_DELETED']], changed: true, decided: true, dropLease: true, status: 'DELETED' }],
    ['already deleted: nothing', 'DELETED', true, { events: [], changed: false, decided: false, dropLease: false, status: 'DELETED' }],
  ])('%s', (_what, status, decided, expected) => {
    const plan = planDeletion({ session: session({ status }), decided }, 'alice', at, { verdict: 'EXPIRED' });
    const { events, verdict, changed, decided: marked, dropLease, status: after } = summary(plan);
    expect({ events, verdict, changed, decided: marked, dropLease, status: after }).toEqual(expected);
  });

  it('the deletion is audited as the caller did it, the decision it brings as the system did', () => {
    const plan = planDeletion({ session: session(), decided: false }, 'bob', at, { verdict: 'EXPIRED' });
    expect(plan.auditEvents.map((event) => [event.action, event.actor])).toEqual([
      ['SESSION_DELETED', 'bob'],
      ['DECISION_REACHED', 'system'],
    ]);
    expect(plan.decision).toEqual({ sessionId: 'session-1', verdict: 'EXPIRED', decidedAt: at });
  });
});

describe('reporting completion', () => {
  it.each<[string, SessionStatus, Date | undefined, { events: Events; changed: boolean; reportedAt: Date | undefined }]>([
    ['first report: COMPLETION_REPORTED, and the time kept', 'RUNNING', undefined, { events: [['COMPLETION_REPORTED']], changed: true, reportedAt: at }],
    ['reported before: nothing, the first time stays', 'RUNNING', earlier, { events: [], changed: false, reportedAt: earlier }],
    ['first report after the poller decided (SUCCEEDED): still audited', 'SUCCEEDED', undefined, { events: [['COMPLETION_REPORTED']], changed: true, reportedAt: at }],
    ['first report after the poller decided (FAILED): still audited', 'FAILED', undefined, { events: [['COMPLETION_REPORTED']], changed: true, reportedAt: at }],
    ['first report after Face canceled: still audited', 'CANCELED', undefined, { events: [['COMPLETION_REPORTED']], changed: true, reportedAt: at }],
    ['reported before the decision, again after it: nothing', 'SUCCEEDED', earlier, { events: [], changed: false, reportedAt: earlier }],
    ['deleted: nothing (the command refuses it)', 'DELETED', undefined, { events: [], changed: false, reportedAt: undefined }],
    ['expired: nothing (the command refuses it)', 'EXPIRED', undefined, { events: [], changed: false, reportedAt: undefined }],
  ])('%s', (_what, status, reportedBefore, expected) => {
    const plan = planCompletion(session({ status, completionReportedAt: reportedBefore }), 'alice', at);
    const { events, changed } = summary(plan);
    expect({ events, changed, reportedAt: plan.session.completionReportedAt }).toEqual(expected);
  });

  it('a report after the decision changes nothing but the report: status, decision and lease stay', () => {
    const plan = planCompletion(session({ status: 'SUCCEEDED' }), 'alice', at);
    expect(plan).toMatchObject({ session: { status: 'SUCCEEDED', completionReportedAt: at }, changes: { completionReportedAt: at, updatedAt: at }, attempts: [], dropLease: false });
    expect(plan.changes).not.toHaveProperty('status');
    expect(plan.changes).not.toHaveProperty('decided');
    expect(plan.decision).toBeUndefined();
    expect(plan.auditEvents).toEqual([{ action: 'COMPLETION_REPORTED', actor: 'alice', sessionId: 'session-1', userId: 'alice' }]);
  });

  it('completion reported twice yields one COMPLETION_REPORTED', () => {
    const first = planCompletion(session(), 'alice', at);
    const second = planCompletion(first.session, 'alice', new Date(at.getTime() + 1000));
    expect([...first.auditEvents, ...second.auditEvents].map((event) => event.action)).toEqual(['COMPLETION_REPORTED']);
  });
});

describe('starting a session', () => {
  it('stores it as Face created it, with SESSION_STARTED by the caller and nothing else', () => {
    const started = session();
    const plan = planStart(started, 'alice');
    expect(plan).toEqual({
      session: started,
      attempts: [],
      dropLease: false,
      auditEvents: [{ action: 'SESSION_STARTED', actor: 'alice', sessionId: 'session-1', userId: 'alice' }],
      webhookEvents: [],
    });
  });
});

describe('webhook events a transition sends', () => {
  const undecided = { session: session({ status: 'RUNNING' }), decided: false, attemptIds: new Set<number>() };
  const types = (plan: TransitionPlan) => plan.webhookEvents.map((event) => event.type);

  it.each<[string, () => TransitionPlan, string[]]>([
    ['a decision reached by a poll: session.decided', () => planProgress(undecided, progress('SUCCEEDED', [succeeded(2)], pass), at), ['session.decided']],
    ['an expiry: session.expired, not session.decided', () => planProgress(undecided, progress('RUNNING', [], expired), at), ['session.expired']],
    ['a poll that decides nothing: none', () => planProgress(undecided, progress('RUNNING', [succeeded(1)]), at), []],
    ['a poll of a decided session: none', () => planProgress({ ...undecided, decided: true }, progress('SUCCEEDED', [succeeded(2)], pass), at), []],
    ['a deletion: session.deleted', () => planDeletion({ session: session({ status: 'SUCCEEDED' }), decided: true }, 'alice', at, { verdict: 'EXPIRED' }), ['session.deleted']],
    ['a second deletion: none', () => planDeletion({ session: session({ status: 'DELETED' }), decided: true }, 'alice', at, { verdict: 'EXPIRED' }), []],
    ['a completion report: none', () => planCompletion(session({ status: 'RUNNING' }), 'alice', at), []],
    ['a start: none', () => planStart(session(), 'alice'), []],
  ])('%s', (_what, plan, expected) => {
    expect(types(plan())).toEqual(expected);
  });

  it('the payload carries the session, its status and the decision, and nothing else', () => {
    const [event] = planProgress(undecided, progress('SUCCEEDED', [succeeded(2)], pass), at).webhookEvents;
    expect(event).toEqual({
      type: 'session.decided',
      sessionId: 'session-1',
      tenant: 'acme',
      payload: {
        type: 'session.decided',
        timestamp: '2026-03-01T12:00:00.000Z',
        data: {
          sessionId: 'session-1',
          tenant: 'acme',
          status: 'SUCCEEDED',
          decision: { verdict: 'PASS', livenessDecision: 'REAL_FACE', verifyResult: null, attemptId: 2, decidedAt: '2026-03-01T12:00:00.000Z' },
        },
      },
    });
  });

  it('deleting an undecided session sends the decision the deletion reached', () => {
    const [event] = planDeletion({ session: session({ status: 'RUNNING' }), decided: false }, 'alice', at, { verdict: 'EXPIRED' }).webhookEvents;
    expect(event.payload.data).toMatchObject({ status: 'DELETED', decision: { verdict: 'EXPIRED', attemptId: null } });
  });
});
