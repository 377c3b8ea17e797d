/** What a scenario hands to the report: its figures (JSON), its tables, and each target with its figure. */
import type { ScenarioName } from './options';

export interface TargetCheck {
  /** What is measured, e.g. "gateway rps / bare Apollo rps". */
  what: string;
  /** The target as a sentence, e.g. ">= 1.00x". */
  target: string;
  /** The measured figure, formatted. */
  measured: string;
  /** Undefined where the issue set no figure to meet (the figure is reported for judgement). */
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
  /** Every figure, for results.json. */
  figures: Record<string, unknown>;
}

export function check(what: string, target: string, measured: string, met: boolean | undefined): TargetCheck {
  return { what, target, measured, met };
}
