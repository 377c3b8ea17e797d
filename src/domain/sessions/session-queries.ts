/**
 * What a caller may read of sessions: one session, a listing in pages, and a session's decision as
 * it is reached. Whatever the caller cannot see does not exist for it (NOT_FOUND, or absent from a
 * listing).
 */
import type { DecisionBus } from '../decisions/decision-bus';
import { badInput, notFound } from '../errors';
import { checkPageSize, connectionOf, CursorCodec, decodeSessionCursor, encodeSessionCursor, type Connection } from '../pagination';
import type { SessionFilter, SessionRepository } from '../ports/store';
import { distinctValues } from '../value-lists';
import { canRead, readScope, type Viewer } from '../viewer';
import { SESSION_STATUSES, type DecisionEvent, type SessionRecord } from './session.model';

/** A listing's filter as a caller may send it: any criterion absent or null. */
export type SessionListFilter = { [K in keyof SessionFilter]?: SessionFilter[K] | null };

export interface SessionQueriesOptions {
  sessions: SessionRepository;
  decisions: Pick<DecisionBus, 'stream'>;
  /** Signs and reads the listing's cursors; default: a key of this object's own. */
  cursors?: CursorCodec;
}

export class SessionQueries {
  private readonly cursors: CursorCodec;

  constructor(private readonly options: SessionQueriesOptions) {
    this.cursors = options.cursors ?? CursorCodec.withRandomKey();
  }

  async get(viewer: Viewer, id: string): Promise<SessionRecord> {
    const session = await this.options.sessions.findById(id);
    if (!session || !canRead(viewer, session)) throw notFound();
    return session;
  }

  /** Newest first: a user's own sessions, an auditor's tenant's, an admin's all. */
  async list(viewer: Viewer, filter: SessionListFilter | null | undefined, first: number, after?: string | null): Promise<Connection<SessionRecord>> {
    checkPageSize(first);
    const criteria = definedCriteria(filter ?? {});
    if (criteria.from && criteria.to && criteria.from >= criteria.to) throw badInput('filter.from must be before filter.to.');
    const position = after ? decodeSessionCursor(this.cursors, after) : undefined;
    const page = await this.options.sessions.list(readScope(viewer), criteria, first, position);
    return connectionOf(page, (session) => encodeSessionCursor(this.cursors, session));
  }

  /** The decision of a session the viewer may see, as a stream of exactly one event. */
  async decision(viewer: Viewer, id: string): Promise<AsyncIterableIterator<DecisionEvent>> {
    await this.get(viewer, id);
    return this.options.decisions.stream(id);
  }
}

function definedCriteria(filter: SessionListFilter): SessionFilter {
  return {
    statuses: distinctValues('filter.statuses', filter.statuses, SESSION_STATUSES),
    kind: filter.kind ?? undefined,
    userId: filter.userId ?? undefined,
    tenant: filter.tenant ?? undefined,
    from: filter.from ?? undefined,
    to: filter.to ?? undefined,
  };
}
