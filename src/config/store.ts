// The options of one layered config set (jail.*, fail2ban.*, filter.d/X.*, action.d/X.*), merged
// file by file the way fail2ban merges them, with the place each value came from.

import type { SourceRef } from './types';
import { DEFAULT_SECTION, type IniEntry, type IniFile, type IniProblem } from './ini';

/** Sections fail2ban keeps for the value an option had before a later file redefined it. */
export const KNOWN_PREFIX = 'KNOWN/';

/** `[Init?family=inet6]`-style section names: the base name and the `?...` condition. */
const CONDITIONAL_SECTION = /^(\w+)(\?.+)$/u;

export class ConfigStore {
  readonly defaults = new Map<string, IniEntry>();
  /** sections in the order they first appeared, KNOWN/ ones included */
  readonly sections = new Map<string, Map<string, IniEntry>>();
  /** the last file that opened each section */
  readonly headers = new Map<string, SourceRef>();
  /** files merged, in order */
  readonly files: string[] = [];
  readonly problems: IniProblem[] = [];
  /** files left out, with the reason */
  readonly skipped: { file: string; reason: string }[] = [];

  /** Section names as fail2ban lists them: KNOWN/ sections left out. */
  sectionNames(): string[] {
    return [...this.sections.keys()].filter((n) => !n.startsWith(KNOWN_PREFIX));
  }

  /** The entry for `key` in `section` itself or, unless `own`, in [DEFAULT]. */
  entry(section: string, key: string, own = false): IniEntry | undefined {
    const s = section === DEFAULT_SECTION ? undefined : this.sections.get(section);
    return s?.get(key) ?? (own ? undefined : this.defaults.get(key));
  }

  /** Merges one parsed file over what is there: [DEFAULT] key by key, sections key by key, the
   *  replaced values saved in KNOWN/<section>; `[X?cond]` sections become `key?cond` keys of X. */
  merge(ini: IniFile): void {
    if (ini.skipped) {
      this.skipped.push({ file: ini.file, reason: ini.skipped });
      return;
    }
    this.files.push(ini.file);
    this.problems.push(...ini.problems);
    for (const [k, v] of ini.defaults) this.defaults.set(k, v);
    for (const sec of ini.sections.values()) {
      let name = sec.name;
      let options = sec.options;
      const cond = CONDITIONAL_SECTION.exec(name);
      if (cond) {
        name = cond[1];
        options = new Map([...options].map(([k, v]) => [k + cond[2], v]));
      }
      this.headers.set(name, { file: ini.file, line: sec.line });
      const old = this.sections.get(name);
      if (!old) {
        this.sections.set(name, new Map(options));
        continue;
      }
      const known = this.section(KNOWN_PREFIX + name);
      for (const [k, v] of options) {
        const prev = old.get(k);
        if (prev) known.set(k, prev);
        old.set(k, v);
      }
    }
  }

  /** Throws the first syntax problem of the set's files (for the jail that uses the set). */
  assertClean(): void {
    const p = this.problems[0];
    if (p) throw p.error;
  }

  /** The section's option map, created empty if missing. */
  section(name: string): Map<string, IniEntry> {
    let s = this.sections.get(name);
    if (!s) this.sections.set(name, (s = new Map()));
    return s;
  }
}
