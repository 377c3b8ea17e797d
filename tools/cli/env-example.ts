/**
 * Writes `.env.example` from the tables of docs/configuration.md: every setting, in the order and
 * sections of the docs, commented out with its default. A test holds the committed file to what this
 * prints, and the docs to the settings src/config/ reads, so the three cannot drift apart.
 *
 *   npm run build && node dist/tools/cli/env-example.js
 */
import fs from 'node:fs';
import path from 'node:path';

const HEADER = [
  '# Every setting, with its default: docs/configuration.md says what each one does.',
  '# Copy this file to .env and uncomment what you change. The gateway, npm run token, npm run demo',
  '# and npm run face-emulator read .env from the directory they start in; a variable set in the',
  '# environment wins over the file. Never commit a .env that holds a secret.',
  '# Written from docs/configuration.md by tools/cli/env-example.ts; do not edit by hand.',
];

/** `.env.example` for the settings tables of `markdown` (docs/configuration.md). */
export function envExample(markdown: string): string {
  const lines = [...HEADER];
  const seen = new Set<string>();
  for (const section of markdown.split(/\n(?=## )/).slice(1)) {
    const heading = section.slice(3, section.indexOf('\n')).trim();
    const rows = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|(.*)\|$/gm)];
    const entries: string[] = [];
    for (const [, name, rest] of rows) {
      if (seen.has(name)) continue;
      seen.add(name);
      const cells = rest.split(' | ').map((cell) => cell.trim());
      // The tools' table has a "read by" column before the default.
      const defaultCell = cells.length >= 3 ? cells[cells.length - 2] : cells[0];
      // A literal value, unless it names another variable: .env files do not expand `$NAME`.
      const literal = /^`([^`$]*)`$/.exec(defaultCell);
      // A default that is no value (unset, derived, generated) is said on the line above, so that
      // uncommenting the setting never sets it to the description.
      const note = defaultCell.replace(/`/g, '');
      if (!literal && note !== 'unset') entries.push(`#   default: ${note}`);
      entries.push(`# ${name}=${literal ? literal[1] : ''}`);
    }
    if (entries.length > 0) lines.push('', `## ${heading}`, ...entries);
  }
  return lines.join('\n') + '\n';
}

if (require.main === module) {
  const root = path.resolve(__dirname, '../../..');
  fs.writeFileSync(path.join(root, '.env.example'), envExample(fs.readFileSync(path.join(root, 'docs/configuration.md'), 'utf8')));
  process.stdout.write('wrote .env.example\n');
}
