/**
 * Structured JSON logs, one object a line, written by pino (`logger.info({ ... }, 'message')`).
 *
 * Redaction is by construction: no caller passes a token, key or image, and `child` bindings carry
 * only ids. pino's `redact` paths are the second line of defence, for a field named like a secret
 * that slipped in anyway. `sink` is injectable so tests can read every line a flow wrote.
 *
 * A request's id reaches its lines through a child logger made once per request
 * (`child({ requestId })`) and handed down explicitly (the GraphQL context, the domain calls that
 * log), not through AsyncLocalStorage: on Node 20 its promise hook would run for every promise the
 * process creates, a quarter of the instructions of a simple query.
 */
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface RootLogger extends Logger {
  /**
   * A child for lines whose every field is fixed by the caller and cannot carry a secret (ids,
   * numbers, a method, a path without its query): the same lines, without walking the redaction
   * paths on each one. Anything else is logged through `child`, whose lines are redacted.
   */
  fixedFieldsChild(bindings: Record<string, unknown>): Logger;
}

const SECRET_FIELDS = ['authorization', 'token', 'authToken', 'verifyImage', 'apiKey', 'secret', 'password', 'connectionParams'];

/** Where a secret could sit in what a caller logs: at the top, one or two levels down, or in request-shaped objects. */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  ...SECRET_FIELDS.map((field) => `*.*.${field}`),
  'headers["ocp-apim-subscription-key"]',
  '*.headers.authorization',
  '*.headers["ocp-apim-subscription-key"]',
  'variables.input.verifyImage',
  '*.variables.input.verifyImage',
];

export function createLogger(level: LogLevel | 'silent', sink?: (line: string) => void): RootLogger {
  const destination = sink ? { write: (chunk: string) => sink(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) } : stdoutDestination();
  const root = pino(
    {
      level,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Our `err` fields are already plain (`describeForLog`, a message); pino's serializer is for Error objects.
      serializers: { err: (value: unknown) => (value instanceof Error ? pino.stdSerializers.err(value) : value) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  return {
    ...wrap(root),
    fixedFieldsChild: (bindings) => wrap(root.child(bindings, { redact: { paths: [], censor: '[redacted]' } })),
  };
}

/** Lines wait at most this long, or until this many bytes have gathered, before they are written. */
export const LOG_FLUSH_MILLIS = 100;
export const LOG_BUFFER_BYTES = 8 * 1024;

/**
 * Standard output, written in batches: one write per 8 KB of lines or per 100 ms, whichever comes
 * first, rather than one per line, and off the event loop (sonic-boom's asynchronous mode). pino
 * writes what is still buffered synchronously when the process exits (`process.exit`, the end of
 * the signal handlers in `main.ts`, an uncaught exception); only a SIGKILL loses the last 100 ms.
 */
function stdoutDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MILLIS });
}

/**
 * `logger` with `fields` on every line, as `logger.child(fields)` would put them, but without
 * building a pino child up front: for what is made per operation (a WebSocket subscription) and
 * mostly logs at debug, which is off in production.
 */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  return new FieldsLogger(logger, fields);
}

/** Methods on the prototype: one of these lives as long as each WebSocket subscription. */
class FieldsLogger implements Logger {
  constructor(
    private readonly logger: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  debug(details: Record<string, unknown>, message: string): void {
    this.logger.debug({ ...this.fields, ...details }, message);
  }

  info(details: Record<string, unknown>, message: string): void {
    this.logger.info({ ...this.fields, ...details }, message);
  }

  warn(details: Record<string, unknown>, message: string): void {
    this.logger.warn({ ...this.fields, ...details }, message);
  }

  error(details: Record<string, unknown>, message: string): void {
    this.logger.error({ ...this.fields, ...details }, message);
  }

  child(bindings: Record<string, unknown>): Logger {
    return this.logger.child({ ...this.fields, ...bindings });
  }
}

function wrap(logger: pino.Logger): Logger {
  return {
    debug: (details, message) => logger.debug(details, message),
    info: (details, message) => logger.info(details, message),
    warn: (details, message) => logger.warn(details, message),
    error: (details, message) => logger.error(details, message),
    child: (bindings) => wrap(logger.child(bindings)),
  };
}
