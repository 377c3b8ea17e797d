/**
 * The portal's small DOM helpers: finding elements, showing errors, click handlers that cannot run
 * twice at once, and one table row per audit event (shared by the history and the live feed).
 */
import type { AuditEventFieldsFragment } from '../../client/generated/graphql.js';
import { GatewayError } from '../gateway-client.js';

export function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

export function show(id: string, text: string): void {
  element(id).textContent = text;
}

export function showError(error: unknown): void {
  const box = element('error');
  box.textContent = error instanceof GatewayError || error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

export function clearError(): void {
  element('error').hidden = true;
}

/**
 * Runs a handler with the button disabled meanwhile, and shows what went wrong, if anything; then
 * `settle` (when given) decides which buttons may act now.
 */
export function onClick(button: HTMLButtonElement, handler: () => Promise<void>, settle?: () => void): void {
  button.addEventListener('click', () => {
    clearError();
    button.disabled = true;
    handler()
      .catch(showError)
      .finally(() => {
        button.disabled = false;
        settle?.();
      });
  });
}

/** Where a click on a session id goes: the session's detail card. */
export type OpenSession = (sessionId: string) => void;

const NOT_ABOUT_A_SESSION = /^(WEBHOOK_|DEVICE_CORRELATION_ID_)/;

/** One audit event as a table row: sequence, time, action, actor, session (a button), verdict, hash. */
export function eventRow(event: AuditEventFieldsFragment, openSession: OpenSession): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.sequence = String(event.sequence);
  row.dataset.action = event.action;
  const cells: (string | HTMLElement)[] = [
    String(event.sequence),
    new Date(event.at).toLocaleString(),
    event.action,
    event.actor,
    // Webhook and correlation-id events carry no session (their id field holds the endpoint's or is empty).
    event.sessionId && !NOT_ABOUT_A_SESSION.test(event.action) ? sessionButton(event.sessionId, openSession) : event.sessionId,
    event.verdict ?? '',
    `${event.hash.slice(0, 12)}…`,
  ];
  for (const [index, content] of cells.entries()) {
    const cell = document.createElement('td');
    cell.append(content);
    if (index === cells.length - 1) cell.className = 'hash';
    row.append(cell);
  }
  return row;
}

function sessionButton(sessionId: string, openSession: OpenSession): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'link';
  button.dataset.session = sessionId;
  button.textContent = sessionId;
  button.title = 'show this session';
  button.addEventListener('click', () => openSession(sessionId));
  return button;
}
