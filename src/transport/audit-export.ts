/**
 * `GET /audit/export?tenant=&from=&to=`: one tenant's audit chain as NDJSON, in chain order, so a
 * partner can archive it and recompute every hash offline (docs/audit.md).
 *
 * - The caller is authenticated as over GraphQL (`auth/authenticate.ts`): no token or a bad one is
 *   a 401, counted against the address's budget of requests without a valid token (429 with
 *   `Retry-After` past it); then a token whose roles are neither auditor nor admin is a 403.
 * - `tenant`: an auditor may export its own tenant only (another: 403); an admin any tenant. Absent,
 *   it is the caller's own tenant, for admins too, as `verifyAuditChain(tenant)` defaults: a chain
 *   is per tenant, and an admin names the one it wants.
 * - `from` (inclusive) and `to` (exclusive): ISO-8601 date-times with a zone, optional; anything else
 *   is a 400. They cut a contiguous stretch of the chain (`AuditService.openExport`), whose first
 *   event's `previousHash` is where a partner's recomputation starts.
 * - The last line, when the exported stretch contains a checkpoint, is the latest one in it
 *   (`"kind":"checkpoint"`, signed: `checkpointLine`); event lines have no `kind`.
 * - Errors are JSON in the GraphQL error shape (`{"errors":[{"message","extensions":{"code"}}]}`),
 *   with the contract's codes. Once the 200 is sent, a failure aborts the response, so a cut-off
 *   export never looks complete.
 *
 * Streaming honours back-pressure: the next event is read from the store only once the previous
 * line was accepted by the socket (waiting for 'drain' when `write` says so), in batches, and
 * reading stops as soon as the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasRole, type Viewer } from '../domain/viewer';
import { badInput, forbidden, unauthenticated } from '../domain/errors';
import { type PublicErrorCode, toPublicError } from '../errors';
import { DateTimeScalar } from '../graphql/date-time.scalar';
import { sendJson } from './graphql-http';
import { refusalOverHttp, type AuthenticateRequest } from './request-auth';
import type { AuditEventRecord } from '../domain/audit/audit.model';
import type { AuditService } from '../domain/audit/audit.service';
import type { AuditCheckpoint } from '../domain/audit/seal';

export const AUDIT_EXPORT_PATH = '/audit/export';
export const CHECKPOINT_KEY_PATH = '/audit/checkpoint-key';
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson; charset=utf-8';

export interface AuditExportOptions {
  authenticate: AuthenticateRequest;
  audit: AuditService;
}

const STATUS: Partial<Record<PublicErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, BAD_USER_INPUT: 400 };

export function createAuditExportHandler(options: AuditExportOptions) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendJson(res, 405, { errors: [{ message: 'Use GET.', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    let opened: Awaited<ReturnType<AuditService['openExport']>>;
    try {
      const viewer = auditorOrAdmin(await options.authenticate(req, req.headers.authorization));
      const tenant = url.searchParams.get('tenant');
      if (tenant === '') throw badInput('tenant must not be empty.');
      opened = await options.audit.openExport(viewer, {
        tenant,
        from: dateParam(url, 'from'),
        to: dateParam(url, 'to'),
      });
    } catch (error) {
      return refuse(res, error);
    }

    res.writeHead(200, {
      'content-type': NDJSON_CONTENT_TYPE,
      'cache-control': 'no-store',
      'content-disposition': `attachment; filename="audit-${opened.tenant.replace(/[^A-Za-z0-9._-]/g, '_')}.ndjson"`,
      'x-content-type-options': 'nosniff',
    });
    let gone = false;
    const onClose = () => (gone = true);
    res.once('close', onClose);
    const events = opened.events[Symbol.asyncIterator]();
    try {
      while (!gone) {
        const next = await events.next();
        if (next.done || gone) break;
        const line = next.value.kind === 'event' ? exportLine(next.value.event, next.value.salt) : checkpointLine(next.value.checkpoint);
        if (!res.write(line) && !(await drained(res))) break;
      }
    } finally {
      res.off('close', onClose);
      // Ends the generator, whichever way the loop left: no further batch is read.
      await events.return?.();
    }
    if (!gone) res.end();
  };
}

/**
 * One NDJSON line: every stored field the hash covers, plus the two hashes (docs/audit.md). An
 * "audit-v3" event's line also has its commitments and its user's salt (null once the user is erased).
 */
export function exportLine(event: AuditEventRecord, salt?: string): string {
  const v3 = event.userIdCommitment !== undefined;
  return (
    JSON.stringify({
      id: event.id,
      tenant: event.tenant,
      sequence: event.sequence,
      at: event.at.toISOString(),
      action: event.action,
      actor: event.actor,
      sessionId: event.sessionId,
      userId: event.userId,
      attemptId: event.attemptId ?? null,
      verdict: event.verdict ?? null,
      digest: event.digest ?? null,
      // An "audit-v2" event's own fields (docs/audit.md); events without them export as before.
      ...((v3 || event.reason !== undefined || event.verifyImageSha256 !== undefined || event.faceVerifyImageHash !== undefined) && {
        reason: event.reason ?? null,
        verifyImageSha256: event.verifyImageSha256 ?? null,
        faceVerifyImageHash: event.faceVerifyImageHash ?? null,
      }),
      ...(v3 && {
        actorCommitment: event.actorCommitment ?? null,
        userIdCommitment: event.userIdCommitment,
        verifyImageSha256Commitment: event.verifyImageSha256Commitment ?? null,
        faceVerifyImageHashCommitment: event.faceVerifyImageHashCommitment ?? null,
        salt: salt ?? null,
      }),
      previousHash: event.previousHash,
      hash: event.hash,
    }) + '\n'
  );
}

/**
 * The last line when the exported stretch contains a checkpoint: the latest one in it, signed with the
 * key of `GET /audit/checkpoint-key` (docs/audit.md, "Checkpoints"). `kind` tells it from the events,
 * which have no `kind`.
 */
export function checkpointLine(checkpoint: AuditCheckpoint): string {
  return (
    JSON.stringify({
      kind: 'checkpoint',
      tenant: checkpoint.tenant,
      sequence: checkpoint.sequence,
      hash: checkpoint.hash,
      at: checkpoint.at.toISOString(),
      signature: checkpoint.signature,
    }) + '\n'
  );
}

/**
 * `GET /audit/checkpoint-key`: the Ed25519 public key (SPKI PEM) that verifies checkpoints. Public by
 * nature and needed where no token is at hand (an operator's offline check), so served to anyone.
 */
export function createCheckpointKeyHandler(publicKeyPem: string) {
  return (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/x-pem-file', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' });
    res.end(publicKeyPem);
  };
}

/** What an authenticated caller may export at all: its own tenant as auditor, any as admin. */
function auditorOrAdmin(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  if (!hasRole(viewer, 'AUDITOR') && !hasRole(viewer, 'ADMIN')) throw forbidden();
  return viewer;
}

/** Answers a refusal in the GraphQL error shape; rethrows what is not one (a 500 from the server). */
function refuse(res: ServerResponse, error: unknown): void {
  const mapped = refusalOverHttp(error) ?? toPublicError(error);
  const http = mapped?.extensions.http as { status?: number; headers?: Map<string, string> } | undefined;
  const status = http?.status ?? (mapped && STATUS[mapped.code]);
  if (!mapped || !status) throw error;
  for (const [name, value] of http?.headers ?? []) res.setHeader(name, value);
  if (status === 401) res.setHeader('www-authenticate', 'Bearer');
  const { http: _head, ...extensions } = mapped.extensions;
  sendJson(res, status, { errors: [{ message: mapped.message, extensions }] });
}

/** The same ISO-8601 rule as the GraphQL `DateTime` scalar. */
function dateParam(url: URL, name: string): Date | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  try {
    return DateTimeScalar.parseValue(raw) as Date;
  } catch {
    throw badInput(`${name} must be an ISO-8601 date-time with a time zone, e.g. 2026-11-23T18:15:00Z.`);
  }
}

/** Resolves true on 'drain', false when the response closes first (the client went away). */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
