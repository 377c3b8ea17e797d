/** Reading a `/metrics` scrape (Prometheus text format) in tests: its samples, one series, what moved. */
import { expect } from 'vitest';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text-format scrape (`name{label="value",…} number`). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export const keyOf = (labels: Record<string, string>) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`)
    .join(',');

/** The value of the series with exactly these labels; undefined when it does not exist. */
export function seriesValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && keyOf(sample.labels) === keyOf(labels))?.value;
}

/** How much each series of `name` grew between two scrapes, leaving out those that did not move. */
export function deltas(before: Sample[], after: Sample[], name: string): Record<string, number> {
  const moved: Record<string, number> = {};
  for (const sample of after.filter((s) => s.name === name)) {
    const delta = sample.value - (seriesValue(before, name, sample.labels) ?? 0);
    if (delta !== 0) moved[keyOf(sample.labels)] = delta;
  }
  return moved;
}

/** One scrape of `baseUrl`/metrics: its text and samples. */
export async function scrapeMetrics(baseUrl: string): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parseMetrics(text) };
}
