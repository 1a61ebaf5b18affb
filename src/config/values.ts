// How fail2ban turns option text into booleans, integers and lists.

import { F2bError } from '../errors';

/** `1`, `on`, `true`, `yes` (any case) are true; anything else is false. */
export const asBool = (v: string): boolean => ['1', 'on', 'true', 'yes'].includes(v.toLowerCase());

/** Python's int(): optional sign, digits (underscores between them), blanks around. */
export function asInt(v: string, what: string, where: { file?: string; line?: number; jail?: string } = {}): number {
  const t = v.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(t)) throw new F2bError('CONFIG_VALUE', `${what} must be an integer, not ${JSON.stringify(v)}`, where);
  return parseInt(t.replace(/_/g, ''), 10);
}

/** Words separated by blanks, commas or new lines (ignoreip). */
export const splitWords = (v: string): string[] =>
  v
    .split(/[ ,\n]+/)
    .map((w) => w.trim())
    .filter(Boolean);

/** One entry per line, empty lines dropped (failregex, ignoreregex, journalmatch). */
export const splitLines = (v: string | undefined): string[] => (v ? v.split('\n').filter((l) => l !== '') : []);
