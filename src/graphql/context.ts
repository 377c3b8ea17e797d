/**
 * What every resolver gets: the viewer (null when no token was sent), the services, and DataLoaders
 * built fresh for each HTTP request and each WebSocket operation, so nothing is cached across callers.
 */
import DataLoader from 'dataloader';
import type { AuditService } from '../audit/audit.service';
import type { Viewer } from '../auth/viewer';
import type { AttemptRecord, DecisionRecord, SessionRecord } from '../sessions/session.model';
import type { SessionService } from '../sessions/session.service';
import type { Store } from '../store/store';

export interface Services {
  sessions: SessionService;
  audit: AuditService;
}

export interface Loaders {
  session: DataLoader<string, SessionRecord | undefined>;
  attempts: DataLoader<string, AttemptRecord[]>;
  decision: DataLoader<string, DecisionRecord | undefined>;
}

export interface GatewayContext {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  requestId: string;
}

export function createLoaders(store: Store): Loaders {
  return {
    session: new DataLoader((ids) => store.sessions.findByIds(ids)),
    attempts: new DataLoader((ids) => store.sessions.attemptsFor(ids)),
    decision: new DataLoader((ids) => store.sessions.decisionsFor(ids)),
  };
}
