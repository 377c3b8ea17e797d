/**
 * What the app flow shows of a decided session, as the gateway stored it: the attempts (replacing the
 * device's own log) and the session's audit trail, in chain order.
 */
import type { SessionAuditTrailQuery, SessionQuery } from '../client/generated/graphql.js';

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

/** Replaces the device's log with the attempts as the gateway stored them. */
export function showAttempts(session: SessionQuery['session']): void {
  if (!session) return;
  const items = session.attempts.map((attempt) => {
    const item = document.createElement('li');
    const outcome = attempt.error ? `${attempt.error.code}` : (attempt.livenessDecision ?? attempt.status);
    const verify = attempt.verifyResult ? `, ${attempt.verifyResult.isIdentical ? 'same person' : 'different person'}` : '';
    item.textContent = `attempt ${attempt.attemptId}: ${attempt.status.toLowerCase()}, ${outcome}${verify}`;
    return item;
  });
  element('attempts').replaceChildren(...items);
}

export function showTrail(session: SessionAuditTrailQuery['session']): void {
  if (!session) return;
  const { edges, totalCount } = session.auditTrail;
  // The API lists newest first; the page tells the story in order.
  const rows = [...edges].reverse().map(({ node }) => {
    const row = document.createElement('tr');
    row.dataset.action = node.action;
    const cells = [`${node.sequence}`, node.action, node.actor, node.attemptId === null ? '' : `${node.attemptId}`, node.verdict ?? '', `${node.hash.slice(0, 16)}…`];
    for (const [index, text] of cells.entries()) {
      const cell = document.createElement('td');
      cell.textContent = text;
      if (index === cells.length - 1) cell.className = 'hash';
      row.append(cell);
    }
    return row;
  });
  element('audit-trail').querySelector('tbody')!.replaceChildren(...rows);
  element('audit-trail').hidden = false;
  element('audit-summary').textContent = `${totalCount} events in the tenant's hash chain for this session.`;
}
