// An optional section of the fail2ban.* set of f2b-fast's own ([fleet], [metrics]): its options
// (an unknown one is an error with file and line, as a typo there would silently turn a feature
// off), and where each was set.

import { F2bError } from '../errors';
import { getOption } from './interpolate';
import type { ConfigStore } from './store';

export interface OwnSection {
  /** the option's value, trimmed; undefined when not set in the section */
  get(key: string): string | undefined;
  /** where to point an error about `key`: its line, else the section's header */
  where(key: string): { file?: string; line?: number };
}

/** The section `name` of `store`, or undefined when no file has it. */
export function ownSection(store: ConfigStore | undefined, name: string, keys: readonly string[]): OwnSection | undefined {
  const section = store?.sections.get(name);
  if (!store || !section) return undefined;
  const where = (key: string) => {
    const e = store.entry(name, key, true);
    return e ? { file: e.file, line: e.line } : { ...store.headers.get(name) };
  };
  for (const key of section.keys()) {
    if (!keys.includes(key)) throw new F2bError('CONFIG_VALUE', `[${name}] has no option '${key}' (options: ${keys.join(', ')})`, where(key));
  }
  return { get: (key) => (section.has(key) ? getOption(store, name, key)?.trim() : undefined), where };
}
