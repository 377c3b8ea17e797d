/**
 * The evidence card: once a decision has arrived, what the gateway keeps of the session (session
 * images, whether it was deleted at Face), for auditors and admins. Images are fetched from Face just
 * after the decision, so the card asks again for a little while until they are kept; each image is
 * shown through a one-time link, whose use the gateway records as EVIDENCE_VIEWED.
 */
import type { SessionEvidenceQuery } from '../client/generated/graphql.js';
import { request } from './gateway-client.js';
import { operations } from './operations.js';

type Evidence = NonNullable<NonNullable<SessionEvidenceQuery['session']>['evidence']>;

const ASK_EVERY_MILLIS = 250;
const ASK_AT_MOST = 60;

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

export function resetEvidence(): void {
  element('evidence-images').replaceChildren();
  element('evidence-summary').textContent = 'Shown once the decision has arrived.';
}

/** Reads the session's evidence until its images are kept (or there are none to keep), then shows it. */
export async function showEvidence(sessionId: string, token: string, stillCurrent: () => boolean): Promise<void> {
  let evidence: Evidence | null | undefined;
  for (let asked = 0; asked < ASK_AT_MOST; asked += 1) {
    const { session } = await request(operations.SessionEvidence, { id: sessionId }, token);
    if (!stillCurrent()) return;
    evidence = session?.evidence;
    const awaitingImages = session?.attempts.some((attempt) => attempt.sessionImageId) && evidence && evidence.images.length === 0;
    if (!evidence || (!evidence.imagesPending && !awaitingImages)) break;
    element('evidence-summary').textContent = 'Fetching the session image from Face…';
    await new Promise((resolve) => setTimeout(resolve, ASK_EVERY_MILLIS));
  }
  if (!evidence) {
    element('evidence-summary').textContent = 'Evidence is shown to auditors and admins only.';
    return;
  }
  element('evidence-summary').textContent = summary(evidence);
  const figures = [];
  for (const image of evidence.images) {
    const { createEvidenceImageLink: link } = await request(operations.CreateEvidenceImageLink, { sessionId, attemptId: image.attemptId }, token);
    if (!stillCurrent()) return;
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = `session image of attempt ${image.attemptId}`;
    img.dataset.attempt = String(image.attemptId);
    img.src = link.url;
    const caption = document.createElement('figcaption');
    caption.textContent = `attempt ${image.attemptId}`;
    figure.append(img, caption);
    figures.push(figure);
  }
  element('evidence-images').replaceChildren(...figures);
}

function summary(evidence: Evidence): string {
  const images = evidence.sessionImageEnabled
    ? evidence.images.length === 0
      ? evidence.imagesPending
        ? 'The session image is still being fetched from Face.'
        : 'No session image was kept.'
      : evidence.images
          .map((image) => `Session image of attempt ${image.attemptId} kept encrypted (${image.contentType}, ${image.byteLength} bytes) until ${new Date(image.expiresAt).toLocaleDateString()}.`)
          .join(' ')
    : 'Session images were not enabled for this session.';
  const face = evidence.faceSessionDeleted ? 'Deleted at Face after the decision.' : 'Still at Face.';
  return `${images} ${face}`;
}
