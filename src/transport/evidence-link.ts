/**
 * `GET /evidence/<secret>`: serves a session image through a one-time link made by
 * `createEvidenceImageLink` (docs/evidence.md). The link is the credential, so the request carries no
 * token (an `<img src>` could not send one); it works once and for minutes, and the access log writes
 * its path without the secret (`request-id.ts`). Whatever is wrong with a link (unknown, used,
 * expired) is the same 404, so a link cannot be probed. The answer is never cached or sniffed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EVIDENCE_PATH, type EvidenceService } from '../domain/evidence/evidence.service';
import { sendJson } from './graphql-http';

export { EVIDENCE_PATH };

export function createEvidenceLinkHandler(evidence: Pick<EvidenceService, 'openLink'>) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendJson(res, 405, { error: 'Use GET.' });
    }
    const image = await evidence.openLink(pathname.slice(EVIDENCE_PATH.length + 1));
    if (!image) return sendJson(res, 404, { error: 'Not found' });
    res.writeHead(200, {
      'content-type': image.contentType,
      'content-length': image.bytes.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'none'",
      'cross-origin-resource-policy': 'same-origin',
    });
    res.end(image.bytes);
  };
}
