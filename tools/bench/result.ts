/** What a scenario hands to the report: its figures (JSON), its tables, each target with its figure, and profiles. */
import type { ProfileSummary } from './cpu-profile';
import type { ScenarioName } from './options';

export interface TargetCheck {
  /** What is measured, e.g. "gateway rps / bare Apollo rps". */
  what: string;
  /** The target as a sentence, e.g. ">= 1.00x". */
  target: string;
  /** The measured figure, formatted. */
  measured: string;
  /** Undefined where no figure is set, or where it could not be measured in this run (the row says why). */
  met: boolean | undefined;
}

export interface Table {
  caption?: string;
  header: string[];
  rows: string[][];
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  /** One or two sentences: what was done, with which sizes. */
  method: string;
  seconds: number;
  tables: Table[];
  targets: TargetCheck[];
  notes: string[];
  /** CPU profiles of the gateway, taken apart from the measured window, where a target was missed (or `--cpu-prof`). */
  profiles?: ProfileSummary[];
  /** Every figure, for results.json. */
  figures: Record<string, unknown>;
}

export function check(what: string, target: string, measured: string, met: boolean | undefined): TargetCheck {
  return { what, target, measured, met };
}
