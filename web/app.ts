/**
 * The reference web client (served at /demo outside production): one whole liveness flow as an app
 * runs it. Sign in with a JWT, start a session (with a reference image for verify), hand the device
 * token to the "device" (the emulator, with buttons for each outcome), report completion (or delete
 * the session), and receive the decision over graphql-ws; then read the session's attempts and audit
 * trail. Once decided, the controls that can no longer act are off, and "New session" starts afresh.
 * Every call uses the typed operations of client/operations.
 */
import type { SessionDecisionSubscription, SessionFieldsFragment } from '../client/generated/graphql.js';
import { resetEvidence, showEvidence } from './evidence-panel.js';
import { connect, GatewayError, playDevice, request, subscribe, type DeviceOutcome, type SessionKind } from './gateway-client.js';
import { operations } from './operations.js';
import { showAttempts, showTrail } from './session-panels.js';
import type { Client } from './vendor/graphql-ws.js';

/** Face's own limit on a verify image (CONTRACT.md section 5); the gateway checks it too. */
const MAX_VERIFY_IMAGE_BYTES = 6 * 1024 * 1024;

interface OutcomeButton {
  label: string;
  outcome: (kind: SessionKind) => DeviceOutcome;
  verifyOnly?: boolean;
}

/** The device buttons: what each sends to the emulator's `singleModal` endpoint. */
const OUTCOMES: Record<string, OutcomeButton> = {
  realface: {
    label: 'real face',
    outcome: (kind) => (kind === 'LIVENESS' ? { livenessDecision: 'realface' } : { livenessDecision: 'realface', isIdentical: true, matchConfidence: 0.93 }),
  },
  spoofface: { label: 'spoof', outcome: () => ({ livenessDecision: 'spoofface' }) },
  uncertain: { label: 'uncertain', outcome: () => ({ livenessDecision: 'uncertain' }) },
  'different-person': {
    label: 'different person',
    outcome: () => ({ livenessDecision: 'realface', isIdentical: false, matchConfidence: 0.08 }),
    verifyOnly: true,
  },
  failed: { label: 'failed attempt', outcome: () => ({ error: { code: 'FaceWithMaskDetected', message: 'A mask covers the face.' } }) },
};

interface CurrentSession {
  id: string;
  kind: SessionKind;
  /** The device token: shown for the Face SDK, sent to the emulator, never logged. */
  authToken: string;
  token: string;
  client: Client;
  /** The decision arrived: the device, completion and delete can no longer change anything. */
  decided: boolean;
}

let current: CurrentSession | undefined;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function show(id: string, text: string): void {
  element(id).textContent = text;
}

function showError(error: unknown): void {
  const box = element('error');
  box.textContent = error instanceof GatewayError || error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError(): void {
  element('error').hidden = true;
}

/** Runs a click handler with the button disabled meanwhile, and shows what went wrong, if anything. */
function onClick(button: HTMLButtonElement, handler: () => Promise<void>): void {
  button.addEventListener('click', () => {
    clearError();
    button.disabled = true;
    handler()
      .catch(showError)
      .finally(() => {
        button.disabled = false;
        refreshButtons();
      });
  });
}

function token(): string {
  const value = element<HTMLInputElement>('token').value.trim();
  if (!value) throw new Error('Paste an app-user JWT first (npm run token prints one).');
  return value;
}

function selectedKind(): SessionKind {
  const checked = document.querySelector<HTMLInputElement>('input[name="kind"]:checked');
  return checked?.value === 'LIVENESS_WITH_VERIFY' ? 'LIVENESS_WITH_VERIFY' : 'LIVENESS';
}

/** Each control is on exactly when it can act: the start form before a session, the device until the decision. */
function refreshButtons(): void {
  element('reference').hidden = selectedKind() !== 'LIVENESS_WITH_VERIFY';
  const live = current !== undefined && !current.decided;
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-outcome]')) {
    const verifyOnly = OUTCOMES[button.dataset.outcome ?? '']?.verifyOnly ?? false;
    button.disabled = !live || (verifyOnly && current?.kind !== 'LIVENESS_WITH_VERIFY');
  }
  element<HTMLButtonElement>('complete').disabled = !live;
  element<HTMLButtonElement>('delete-session').disabled = !live;
  for (const control of document.querySelectorAll<HTMLInputElement | HTMLButtonElement>('#start input, #start-session')) {
    control.disabled = current !== undefined;
  }
  element<HTMLButtonElement>('new-session').disabled = current === undefined;
}

async function checkToken(): Promise<void> {
  const { viewer } = await request(operations.Viewer, {}, token());
  show('viewer', `${viewer.userId} · tenant ${viewer.tenant} · ${viewer.roles.join(', ').toLowerCase()}`);
}

async function base64Of(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let offset = 0; offset < bytes.length; offset += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  }
  return btoa(binary);
}

async function startSession(): Promise<void> {
  const jwt = token();
  const kind = selectedKind();
  let started: { authToken: string; session: SessionFieldsFragment };
  const enableSessionImage = element<HTMLInputElement>('session-image').checked;
  if (kind === 'LIVENESS') {
    started = (await request(operations.StartLivenessSession, { input: { enableSessionImage } }, jwt)).startLivenessSession;
  } else {
    const file = element<HTMLInputElement>('reference-image').files?.[0];
    if (!file) throw new Error('Choose a reference face image for a liveness-with-verify session.');
    if (file.size > MAX_VERIFY_IMAGE_BYTES) throw new Error('The reference image is larger than 6 MB.');
    const input = { verifyImage: await base64Of(file), enableSessionImage };
    started = (await request(operations.StartLivenessWithVerifySession, { input }, jwt)).startLivenessWithVerifySession;
  }

  current?.client.dispose();
  const { session } = started;
  current = { id: session.id, kind, authToken: started.authToken, token: jwt, client: connect(jwt), decided: false };
  resetPanels();
  element('session').hidden = false;
  show('session-id', session.id);
  show('session-kind', session.kind === 'LIVENESS' ? 'liveness' : 'liveness with verify');
  show('session-status', session.status);
  show('session-expires', new Date(session.expiresAt).toLocaleString());
  show('device-token', started.authToken);
  listenForDecision(current);
  refreshButtons();
  // Keyboard users land where the flow goes on: the device's first button.
  element('device').querySelector<HTMLButtonElement>('button[data-outcome]:not(:disabled)')?.focus();
}

/** Forgets the session (closing its socket) and returns the page to how it opened. */
function newSession(): Promise<void> {
  current?.client.dispose();
  current = undefined;
  resetPanels();
  element('session').hidden = true;
  for (const id of ['session-id', 'session-kind', 'session-status', 'session-expires', 'device-token']) show(id, '');
  element<HTMLInputElement>('reference-image').value = '';
  show('subscription', 'Not subscribed yet: start a session.');
  delete element('subscription').dataset.state;
  refreshButtons();
  element('start-session').focus();
  return Promise.resolve();
}

function resetPanels(): void {
  element('attempts').replaceChildren();
  show('completion', '');
  const verdict = element('verdict');
  verdict.dataset.verdict = '';
  verdict.textContent = '—';
  element('decision-details').hidden = true;
  element('audit-trail').hidden = true;
  show('audit-summary', 'Shown once the decision has arrived.');
  resetEvidence();
}

/** Subscribes at once, before the device plays: the decision is pushed the moment it is reached. */
function listenForDecision(session: CurrentSession): void {
  show('subscription', 'Subscribed to sessionDecision over graphql-ws: waiting for the decision…');
  subscribe(session.client, operations.SessionDecision, { sessionId: session.id }, {
    next: (data) => {
      if (current !== session) return;
      session.decided = true;
      showDecision(data.sessionDecision);
      refreshButtons();
      element('new-session').focus();
      show('subscription', 'Decision received over graphql-ws.');
      loadSessionAndTrail(session).catch(showError);
      showEvidence(session.id, session.token, () => current === session).catch(showError);
    },
    error: (error) => {
      if (current !== session) return;
      show('subscription', 'The subscription failed.');
      showError(error);
    },
    complete: () => {
      if (current === session) element('subscription').dataset.state = 'complete';
    },
  });
}

function showDecision(decision: SessionDecisionSubscription['sessionDecision']): void {
  const verdict = element('verdict');
  verdict.dataset.verdict = decision.verdict;
  verdict.textContent = decision.verdict;
  element('decision-details').hidden = false;
  show('decision-liveness', decision.livenessDecision ?? 'none');
  show(
    'decision-verify',
    decision.verifyResult
      ? `${decision.verifyResult.isIdentical ? 'same person' : 'different person'} (confidence ${decision.verifyResult.matchConfidence})`
      : 'not a verify session',
  );
  show('decision-attempt', decision.attemptId === null ? 'none' : `#${decision.attemptId}`);
  show('decision-at', new Date(decision.decidedAt).toLocaleString());
  show('decision-status', decision.session.status);
  show('session-status', decision.session.status);
}

async function playOutcome(name: string): Promise<void> {
  const session = current;
  const button = OUTCOMES[name];
  if (!session || !button) return;
  const result = await playDevice(session.kind, session.authToken, button.outcome(session.kind));
  const item = document.createElement('li');
  item.textContent = result.status === 200 ? `${button.label}: recorded` : `${button.label}: refused (${result.status}${result.message ? `, ${result.message}` : ''})`;
  if (result.status !== 200) item.className = 'refused';
  element('attempts').append(item);
}

async function reportCompletion(): Promise<void> {
  const session = current;
  if (!session) return;
  const { completeLivenessSession } = await request(operations.CompleteLivenessSession, { id: session.id }, session.token);
  show('session-status', completeLivenessSession.status);
  show('completion', 'Completion reported: the gateway polls Face for the result.');
}

/** Revokes the session at Face: the device token stops working, and an undecided session is decided now. */
async function deleteSession(): Promise<void> {
  const session = current;
  if (!session) return;
  const { deleteLivenessSession } = await request(operations.DeleteLivenessSession, { id: session.id }, session.token);
  show('session-status', deleteLivenessSession.status);
  show('completion', 'Session deleted: Face no longer accepts its device token.');
}

async function loadSessionAndTrail(session: CurrentSession): Promise<void> {
  const [details, trail] = await Promise.all([
    request(operations.Session, { id: session.id }, session.token),
    request(operations.SessionAuditTrail, { id: session.id, first: 50 }, session.token),
  ]);
  if (current !== session) return;
  showAttempts(details.session);
  showTrail(trail.session);
}

function main(): void {
  onClick(element<HTMLButtonElement>('check-token'), checkToken);
  onClick(element<HTMLButtonElement>('start-session'), startSession);
  onClick(element<HTMLButtonElement>('new-session'), newSession);
  onClick(element<HTMLButtonElement>('complete'), reportCompletion);
  onClick(element<HTMLButtonElement>('delete-session'), deleteSession);
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-outcome]')) {
    onClick(button, () => playOutcome(button.dataset.outcome ?? ''));
  }
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="kind"]')) {
    radio.addEventListener('change', refreshButtons);
  }
  refreshButtons();
  document.body.dataset.ready = 'true';
}

main();
