/**
 * What a gateway child's own log says, read back from its log file (`.bench/run/logs/<name>.log`):
 * when each decision was stored. The gateway logs "decision reached" right after the transaction that
 * stores a decision commits (`DecisionBus.announce`), with the session id and its wall-clock time in
 * milliseconds: the moment the delivery clock of scenarios 4 and 6 starts from (`delivery.ts`).
 */
import fs from 'node:fs';
import type { BenchChild } from './ipc';

/** Session id -> when its decision was stored (ms since epoch), for every "decision reached" line so far. */
export function decisionsStored(child: BenchChild): Map<string, number> {
  const stored = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(child.logFile, 'utf8');
  } catch {
    return stored;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"decision reached"')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string; sessionId?: string };
      if (entry.sessionId && entry.time) stored.set(entry.sessionId, new Date(entry.time).getTime());
    } catch {
      // a line cut short while the child was still writing it
    }
  }
  return stored;
}
