// Option parsing shared by the commands (kept apart so that `regex` loads nothing of the daemon).

import { F2bError } from '../errors';

/** An integer option: undefined when absent; a usage error (exit 2) when not an integer >= min. */
export function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new F2bError('USAGE', `--${name}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}
