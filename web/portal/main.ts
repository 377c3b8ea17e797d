/**
 * The auditor's portal (served at /demo/portal.html beside the app flow): sign in with an auditor's
 * or an admin's JWT, then read the tenant's audit history with filters and pages, follow the live
 * feed, check the chain, download the NDJSON export, open a session's detail and, for admins, read
 * the webhook endpoints' delivery log. Every call is a typed operation of client/operations, or
 * `GET /audit/export`, on the page's own origin.
 */
import { request } from '../gateway-client.js';
import { operations } from '../operations.js';
import { checkChain, downloadExport } from './chain-export.js';
import { clearError, element, onClick, show, showError } from './dom.js';
import { fillActionOptions, History } from './history.js';
import { LiveFeed } from './live-feed.js';
import { showSession } from './session-detail.js';
import { showEndpoints } from './webhooks.js';

interface SignedIn {
  token: string;
  tenant: string;
}

let signedIn: SignedIn | undefined;

function current(): SignedIn {
  if (!signedIn) throw new Error('Open the portal with a token first.');
  return signedIn;
}

const openSession = (sessionId: string) => {
  clearError();
  showSession(sessionId, current().token).catch(showError);
};
const history = new History(
  () => current().token,
  () => current().tenant,
  openSession,
);
const feed = new LiveFeed(openSession);

/** The controls that need a signed-in auditor or admin. */
const GUARDED = ['check-chain', 'export', 'apply-filters', 'clear-filters', 'follow'];

async function signIn(): Promise<void> {
  const token = element<HTMLInputElement>('token').value.trim();
  if (!token) throw new Error('Paste an auditor\'s or an admin\'s JWT first (npm run token prints one).');
  feed.stop();
  signedIn = undefined;
  element('webhooks').hidden = true;
  const { viewer } = await request(operations.Viewer, {}, token);
  show('viewer', `${viewer.userId} · tenant ${viewer.tenant} · ${viewer.roles.join(', ').toLowerCase()}`);
  const auditor = viewer.roles.includes('AUDITOR') || viewer.roles.includes('ADMIN');
  for (const id of GUARDED) element<HTMLButtonElement>(id).disabled = !auditor;
  if (!auditor) throw new Error('The portal is for auditors and admins: this token has neither role.');
  signedIn = { token, tenant: viewer.tenant };
  await history.load();
  if (viewer.roles.includes('ADMIN')) await showEndpoints(token, openSession);
}

async function toggleFeed(): Promise<void> {
  const button = element<HTMLButtonElement>('follow');
  if (feed.following) {
    feed.stop();
  } else {
    const { token, tenant } = current();
    feed.start(token, tenant, history.filterInUse, history.newestSequence);
  }
  button.setAttribute('aria-pressed', String(feed.following));
  button.textContent = feed.following ? 'Stop following' : 'Follow live';
}

function main(): void {
  fillActionOptions();
  onClick(element<HTMLButtonElement>('sign-in-button'), signIn);
  onClick(element<HTMLButtonElement>('check-chain'), () => checkChain(current().token));
  onClick(element<HTMLButtonElement>('export'), () => downloadExport(current().token, current().tenant, history.filterInUse));
  onClick(element<HTMLButtonElement>('next-page'), () => history.next(), () => history.refreshPager());
  onClick(element<HTMLButtonElement>('previous-page'), () => history.previous(), () => history.refreshPager());
  onClick(element<HTMLButtonElement>('follow'), toggleFeed);
  const form = element<HTMLFormElement>('filters');
  const apply = () => {
    clearError();
    history
      .load()
      .then(() => {
        if (feed.following) feed.start(current().token, current().tenant, history.filterInUse, history.newestSequence);
      })
      .catch(showError);
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
  // The reset event comes before the fields are cleared.
  form.addEventListener('reset', () => setTimeout(apply, 0));
  if (element<HTMLInputElement>('token').value.trim()) element<HTMLButtonElement>('sign-in-button').click();
  document.body.dataset.ready = 'true';
}

main();
