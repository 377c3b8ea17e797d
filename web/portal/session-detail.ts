/**
 * A session's detail, opened from any row of the history or the feed: its status, decision and
 * attempts, and its evidence (the session image through a one-time link, as the app page shows it).
 */
import { request } from '../gateway-client.js';
import { operations } from '../operations.js';
import { resetEvidence, showEvidence } from '../evidence-panel.js';
import { element, show } from './dom.js';

let shown: string | undefined;

export async function showSession(sessionId: string, token: string): Promise<void> {
  shown = sessionId;
  resetEvidence();
  show('detail-summary', 'Loading…');
  const { session } = await request(operations.Session, { id: sessionId }, token);
  if (shown !== sessionId) return;
  if (!session) {
    element('detail').hidden = true;
    element('detail-attempts').replaceChildren();
    show('detail-summary', `No session ${sessionId} you may see.`);
    return;
  }
  show('detail-summary', session.kind === 'LIVENESS' ? 'A liveness session.' : 'A liveness session with verify.');
  show('detail-id', session.id);
  show('detail-user', `${session.userId} · tenant ${session.tenant}`);
  show('detail-status', session.status);
  show('detail-verdict', session.decision?.verdict ?? 'not decided');
  show('detail-decided', session.decision ? new Date(session.decision.decidedAt).toLocaleString() : '—');
  element('detail').hidden = false;
  const attempts = session.attempts.map((attempt) => {
    const item = document.createElement('li');
    const outcome = attempt.error ? attempt.error.code : (attempt.livenessDecision ?? attempt.status);
    const verify = attempt.verifyResult ? `, ${attempt.verifyResult.isIdentical ? 'same person' : 'different person'}` : '';
    item.textContent = `attempt ${attempt.attemptId}: ${attempt.status.toLowerCase()}, ${outcome}${verify}`;
    return item;
  });
  element('detail-attempts').replaceChildren(...attempts);
  await showEvidence(sessionId, token, () => shown === sessionId);
}
