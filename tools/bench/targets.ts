/**
 * The figures the gateway is held to, in one place: the scenarios judge their measurements by these,
 * and the report lists them. Every check that a run had no failures (errors, wrong data, missing
 * events) is a target too, written where it is measured.
 */

export interface Target {
  /** The sentence the report lists under "Targets". */
  readonly text: string;
  /** The scenario that measures it. */
  readonly scenario: string;
}

/** `session(id)` on SQLite: user-space instructions per response over bare Apollo's (callgrind). */
export const SESSION_INSTRUCTIONS_MAX_RATIO = 1.15;
/** `session(id)` on SQLite: rps over bare Apollo's, in interleaved rounds. */
export const SESSION_RPS_MIN_RATIO = 0.85;
/** `session(id)` on PostgreSQL + Redis: the gateway process's instructions per response over bare Apollo's. */
export const PG_INSTRUCTIONS_MAX_RATIO = 1.25;
/** Gateway CPU per decision, completion request to decision event (Face GET and audit writes included). */
export const CPU_PER_DECISION_MAX_MILLIS = 1.0;
/** One decision to every subscriber of its session: stored -> the last frame sent to them arrives. */
export const DELIVERY_MAX_MILLIS = 10;
/** RSS of the gateway per idle `sessionDecision` subscription. */
export const IDLE_RSS_MAX_BYTES = 8 * 1024;
/** Audit pages at 1,000,000 events, at any depth and with any filter: p95. */
export const AUDIT_P95_MAX_MILLIS = 10;
/** `startLivenessSession` through the gateway beyond the Face call itself, p50. */
export const START_OVERHEAD_MAX_MILLIS = 2;
/** Completion reported -> decision event, device finished first, p50. */
export const DECISION_LATENCY_P50_MAX_MILLIS = 50;
/** `npm run token` as typed, with a current build: the freshness check, npm and the command. */
export const TOKEN_COMMAND_MAX_MILLIS = 2_000;
/** Face GETs a decision may cost when the device finished first. */
export const MAX_FACE_GETS_PER_DECISION = 2;

export const TARGETS: readonly Target[] = [
  { scenario: '1', text: `\`session(id)\` on SQLite: instructions per response <= ${SESSION_INSTRUCTIONS_MAX_RATIO.toFixed(2)}x bare Apollo's (callgrind)` },
  { scenario: '1', text: `\`session(id)\` on SQLite: rps >= ${SESSION_RPS_MIN_RATIO.toFixed(2)}x bare Apollo's, in interleaved rounds` },
  { scenario: '1', text: `\`session(id)\` on PostgreSQL + Redis: the gateway process's instructions per response <= ${PG_INSTRUCTIONS_MAX_RATIO.toFixed(2)}x bare Apollo's` },
  { scenario: '2', text: `\`startLivenessSession\`: the gateway's overhead beyond the Face call <= ${START_OVERHEAD_MAX_MILLIS} ms p50, one Face create per start` },
  { scenario: '3', text: `completion reported -> decision event <= ${DECISION_LATENCY_P50_MAX_MILLIS} ms p50; 1 Face create and at most ${MAX_FACE_GETS_PER_DECISION} GETs per decision` },
  { scenario: '4', text: `idle \`sessionDecision\` subscription <= ${IDLE_RSS_MAX_BYTES / 1024} KB of gateway RSS` },
  { scenario: '4', text: `gateway CPU per decision (completion request -> decision event, Face GET and audit writes included) <= ${CPU_PER_DECISION_MAX_MILLIS.toFixed(1)} ms` },
  { scenario: '4', text: `one decision to the 10,000 subscribers of its session: stored -> last frame <= ${DELIVERY_MAX_MILLIS} ms (p50 of the repetitions)` },
  { scenario: '5', text: `audit page at 1,000,000 events, any depth or filter: p95 <= ${AUDIT_P95_MAX_MILLIS} ms` },
  { scenario: '7', text: `\`npm run token\` with a current build <= ${TOKEN_COMMAND_MAX_MILLIS / 1000} s p50 (no rebuild)` },
  { scenario: 'all', text: 'no failed response, wrong answer, missing or duplicated event anywhere' },
];
