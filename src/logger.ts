/**
 * Structured JSON logs, one object a line, with pino's call shape (`logger.info({ ... }, 'message')`).
 * Redaction is by construction: no caller passes a token, key or image, and `child` bindings carry
 * only ids. `sink` is injectable so tests can read every line a flow wrote.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createLogger(
  level: LogLevel | 'silent',
  sink: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  bindings: Record<string, unknown> = {},
): Logger {
  const write = (at: LogLevel) => (details: Record<string, unknown>, message: string) => {
    if (ORDER[at] < ORDER[level]) return;
    sink(JSON.stringify({ level: at, time: new Date().toISOString(), ...bindings, ...details, msg: message }));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => createLogger(level, sink, { ...bindings, ...more }),
  };
}
