/**
 * Decisions, and the attempts of decided sessions, kept in process once read, around any adapter's
 * sessions. Both are final once stored, on every instance, whichever wrote them: a decision is
 * inserted once and never changed or deleted, and a decided session records no more attempts
 * (`planProgress`). So a kept copy is the stored row for as long as it is kept. Only what is final
 * is kept: "no decision yet" changes, and so does the attempt list of an undecided session. This
 * spares `session(id)` of a decided session two of its three store reads (round trips on PostgreSQL).
 */
import type { Page, Progress, SessionFilter, SessionPosition, SessionRepository, Transition } from '../../domain/ports/store';
import type { AttemptRecord, DecisionDraft, DecisionRecord, SessionRecord } from '../../domain/sessions/session.model';
import type { ReadScope } from '../../domain/viewer';

export class KeptDecisionsRepository implements SessionRepository {
  private readonly decisions: KeptRows<DecisionRecord>;
  private readonly attempts: KeptRows<AttemptRecord[]>;

  constructor(
    private readonly inner: SessionRepository,
    maxEntries = 10_000,
  ) {
    this.decisions = new KeptRows(maxEntries);
    this.attempts = new KeptRows(maxEntries);
  }

  async decisionsFor(sessionIds: readonly string[]): Promise<(DecisionRecord | undefined)[]> {
    const { found, missing } = this.decisions.lookUp(sessionIds);
    if (missing.length > 0) {
      const read = await this.inner.decisionsFor(missing);
      missing.forEach((id, index) => {
        const decision = read[index];
        if (decision === undefined) return;
        const frozen = deepFreeze(decision);
        found.set(id, frozen);
        this.decisions.keep(id, frozen);
      });
    }
    return sessionIds.map((id) => found.get(id));
  }

  async attemptsFor(sessionIds: readonly string[]): Promise<AttemptRecord[][]> {
    const { found, missing } = this.attempts.lookUp(sessionIds);
    if (missing.length > 0) {
      // Known to be decided before the read began: what the read returns is all there will ever be.
      const final = new Set(missing.filter((id) => this.decisions.has(id)));
      const lists = await this.inner.attemptsFor(missing);
      missing.forEach((id, index) => {
        const list = deepFreeze(lists[index]);
        found.set(id, list);
        if (final.has(id)) this.attempts.keep(id, list);
      });
    }
    return sessionIds.map((id) => found.get(id) ?? []);
  }

  /**
   * Forgets what is kept of these sessions: an erasure rewrote their attempts (the one change to a
   * decided session's rows). Other instances keep their copies until they fall out (docs/security.md).
   */
  forget(sessionIds: readonly string[]): void {
    for (const id of sessionIds) {
      this.decisions.drop(id);
      this.attempts.drop(id);
    }
  }

  create(session: SessionRecord, actor: string): Promise<SessionRecord> {
    return this.inner.create(session, actor);
  }

  findById(id: string): Promise<SessionRecord | undefined> {
    return this.inner.findById(id);
  }

  findByIds(ids: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    return this.inner.findByIds(ids);
  }

  list(scope: ReadScope, filter: SessionFilter, first: number, after?: SessionPosition): Promise<Page<SessionRecord>> {
    return this.inner.list(scope, filter, first, after);
  }

  reportCompletion(id: string, actor: string, at: Date, reportedDigest?: string): Promise<SessionRecord> {
    return this.inner.reportCompletion(id, actor, at, reportedDigest);
  }

  recordProgress(id: string, progress: Progress, at: Date): Promise<Transition> {
    return this.inner.recordProgress(id, progress, at);
  }

  markDeleted(id: string, actor: string, at: Date, decisionIfUndecided: DecisionDraft): Promise<Transition> {
    return this.inner.markDeleted(id, actor, at, decisionIfUndecided);
  }

  awaitingResult(): Promise<SessionRecord[]> {
    return this.inner.awaitingResult();
  }

  tryLease(sessionId: string, owner: string, nowMillis: number, leaseMillis: number): Promise<boolean> {
    return this.inner.tryLease(sessionId, owner, nowMillis, leaseMillis);
  }

  releaseLeases(owner: string): Promise<void> {
    return this.inner.releaseLeases(owner);
  }

  dueForExpiry(now: Date, limit: number): Promise<SessionRecord[]> {
    return this.inner.dueForExpiry(now, limit);
  }
}

/** A least-recently-used map of values that never change once kept. */
class KeptRows<T> {
  private readonly kept = new Map<string, T>();

  constructor(private readonly maxEntries: number) {}

  has(id: string): boolean {
    return this.kept.has(id);
  }

  /** The kept values of `ids` (touching each), and the ids not kept, in order. */
  lookUp(ids: readonly string[]): { found: Map<string, T>; missing: string[] } {
    const found = new Map<string, T>();
    const missing: string[] = [];
    for (const id of ids) {
      const value = this.kept.get(id);
      if (value === undefined) {
        missing.push(id);
        continue;
      }
      this.kept.delete(id);
      this.kept.set(id, value);
      found.set(id, value);
    }
    return { found, missing };
  }

  drop(id: string): void {
    this.kept.delete(id);
  }

  keep(id: string, value: T): void {
    this.kept.delete(id);
    this.kept.set(id, value);
    if (this.kept.size > this.maxEntries) this.kept.delete(this.kept.keys().next().value as string);
  }
}

/** Kept values are shared by every reader, so nobody may change them. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
