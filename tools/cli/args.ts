/** Minimal `--name value` / `--name=value` argument parsing for the dev CLIs. */
export function parseArgs(argv: string[], known: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match || !known.includes(match[1])) throw new Error(`unknown argument "${arg}"; expected ${known.map((k) => `--${k}`).join(', ')}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${match[1]} needs a value`);
    values[match[1]] = value;
  }
  return values;
}
