/**
 * The chain check (`verifyAuditChain`: every hash of the tenant's chain recomputed by the gateway)
 * and the NDJSON export (`GET /audit/export`) as a download. The export needs the bearer token, which
 * a plain link cannot send: the page fetches it and hands the browser a Blob to save.
 */
import type { AuditFilter } from '../../client/generated/graphql.js';
import { GatewayError, request } from '../gateway-client.js';
import { operations } from '../operations.js';
import { element, show } from './dom.js';

export async function checkChain(token: string): Promise<void> {
  const { verifyAuditChain: result } = await request(operations.VerifyAuditChain, {}, token);
  const line = element('chain-result');
  line.dataset.valid = String(result.valid);
  line.textContent = result.valid
    ? `The chain of ${result.tenant} holds: ${result.checked} events checked.`
    : `The chain of ${result.tenant} is broken at #${result.firstBrokenSequence} (${result.checked} events checked).`;
}

/** Downloads the tenant's chain as NDJSON, cut to the filter's time bounds when it has them. */
export async function downloadExport(token: string, tenant: string, filter: AuditFilter): Promise<void> {
  const query = new URLSearchParams({ tenant });
  if (filter.from) query.set('from', filter.from);
  if (filter.to) query.set('to', filter.to);
  const response = await fetch(`/audit/export?${query}`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { errors?: { message: string; extensions?: { code?: string } }[] };
    const [error] = body.errors ?? [];
    throw new GatewayError(error?.message ?? `the export answered ${response.status}`, error?.extensions?.code);
  }
  const blob = await response.blob();
  const text = await blob.text();
  const lines = text.split('\n').filter((line) => line.length > 0).length;
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement('a');
    link.href = url;
    link.download = `audit-${tenant}-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`;
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // The click has handed the Blob to the download: the URL can go once this task ends.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
  show('export-result', `Downloaded ${lines} lines of NDJSON (${blob.size} bytes).`);
}
