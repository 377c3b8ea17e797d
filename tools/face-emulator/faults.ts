import { STATUS_CODES } from 'node:http';
import { EmulatorHttpError } from './errors';

/**
 * One queued fault: the next `count` management requests (matching `method`, when given) fail with
 * `status` and an Azure-style error body, or, with `status` 200, answer normally after `latencyMs`.
 */
export interface FaultRule {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
  count: number;
  method?: 'GET' | 'POST' | 'DELETE';
  /** Only requests whose path under `/face/v1.2` starts with this (case-insensitive), e.g. `/sessionImages`. */
  pathPrefix?: string;
  latencyMs: number;
}

/** The queue of fault rules, consumed in order. */
export interface FaultQueue {
  add(rules: FaultRule[]): void;
  clear(): void;
  /** Consumes one use of the first rule matching `method` and `path` (under `/face/v1.2`). */
  take(method: string | undefined, path?: string): FaultRule | undefined;
  readonly pending: number;
}

const MAX_LATENCY_MS = 120_000;

export function createFaultQueue(): FaultQueue {
  let rules: FaultRule[] = [];
  return {
    add(added) {
      rules.push(...added.map((rule) => ({ ...rule })));
    },
    clear() {
      rules = [];
    },
    take(method, path = '') {
      const index = rules.findIndex(
        (rule) =>
          (rule.method === undefined || rule.method === method?.toUpperCase()) &&
          (rule.pathPrefix === undefined || path.toLowerCase().startsWith(rule.pathPrefix.toLowerCase())),
      );
      const rule = rules[index];
      if (!rule) return undefined;
      rule.count -= 1;
      if (rule.count <= 0) rules.splice(index, 1);
      return { ...rule };
    },
    get pending() {
      return rules.length;
    },
  };
}

/** Reads the `POST /_faults` body: one rule or an array of rules. */
export function parseFaultRules(body: Buffer): FaultRule[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('the body is not JSON');
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) throw invalid('no fault rule given');
  return items.map(parseRule);
}

/** The error answer a failing fault produces. */
export function faultError(rule: FaultRule): EmulatorHttpError {
  const headers: Record<string, string> =
    rule.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(rule.retryAfterSeconds) };
  return new EmulatorHttpError(rule.status, rule.code, rule.message, headers);
}

function parseRule(item: unknown): FaultRule {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid('a fault rule must be an object');
  const { status, code, message, retryAfterSeconds, count = 1, method, pathPrefix, latencyMs = 0 } = item as Record<string, unknown>;

  if (!Number.isInteger(status) || !(status === 200 || (Number(status) >= 400 && Number(status) <= 599))) {
    throw invalid('status must be 200 or an integer from 400 to 599');
  }
  if (!Number.isInteger(count) || Number(count) < 1) throw invalid('count must be a positive integer');
  if (typeof latencyMs !== 'number' || !(latencyMs >= 0 && latencyMs <= MAX_LATENCY_MS)) {
    throw invalid(`latencyMs must be a number from 0 to ${MAX_LATENCY_MS}`);
  }
  if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && Number(retryAfterSeconds) >= 0)) {
    throw invalid('retryAfterSeconds must be a non-negative integer');
  }
  const methodFilter = method === undefined ? undefined : asMethod(method);
  if (method !== undefined && methodFilter === undefined) throw invalid('method must be GET, POST or DELETE');
  if (code !== undefined && (typeof code !== 'string' || code === '')) throw invalid('code must be a non-empty string');
  if (message !== undefined && typeof message !== 'string') throw invalid('message must be a string');
  if (pathPrefix !== undefined && (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/'))) throw invalid('pathPrefix must be a path starting with /');

  const statusCode = Number(status);
  return {
    status: statusCode,
    code: code ?? defaultCode(statusCode),
    message: message ?? defaultMessage(statusCode),
    ...(retryAfterSeconds !== undefined && { retryAfterSeconds: Number(retryAfterSeconds) }),
    count: Number(count),
    ...(methodFilter !== undefined && { method: methodFilter }),
    ...(typeof pathPrefix === 'string' && { pathPrefix }),
    latencyMs,
  };
}

function asMethod(value: unknown): FaultRule['method'] {
  const upper = typeof value === 'string' ? value.toUpperCase() : undefined;
  return upper === 'GET' || upper === 'POST' || upper === 'DELETE' ? upper : undefined;
}

// Azure's common table answers throttling as code "429", "Rate limit is exceeded.".
function defaultCode(status: number): string {
  return status === 429 ? '429' : (STATUS_CODES[status] ?? String(status)).replace(/[^A-Za-z]/g, '');
}

function defaultMessage(status: number): string {
  return status === 429 ? 'Rate limit is exceeded.' : `${STATUS_CODES[status] ?? 'Error'}.`;
}

function invalid(reason: string): EmulatorHttpError {
  return new EmulatorHttpError(400, 'InvalidFaultRule', `Invalid fault rule: ${reason}.`);
}
