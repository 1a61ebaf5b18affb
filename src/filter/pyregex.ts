// Python `re` patterns (what fail2ban filters are written in) run on V8's RegExp, with Python's
// meaning: `$` before a final newline, Unicode \d \w \s \b, `.` stopping only at \n, conditionals,
// scoped flags, fail2ban's `((?i)X)` rewrite, backreferences that fail on absent groups.
// Rules and measurements: /work/shared/regex-compat.md §4. Parser: pyregex/parser.ts; emitter:
// pyregex/emit.ts.

import { emitJs } from './pyregex/emit';
import { PyRegexError } from './pyregex/error';
import { parsePython } from './pyregex/parser';

export { PyRegexError };

export interface PyRegexOptions {
  /** Python re.MULTILINE */
  multiline?: boolean;
  /** Python re.IGNORECASE */
  ignoreCase?: boolean;
  /** Python re.DOTALL */
  dotAll?: boolean;
}

export interface PyMatch {
  /** start of the match (UTF-16 index into the searched string) */
  index: number;
  /** end of the match (UTF-16 index) */
  end: number;
  text: string;
  /**
   * Named groups by their Python names (a null-prototype object). A group the conditional
   * rewrite duplicated reads from its first participating copy.
   */
  groups: Record<string, string | undefined>;
}

export interface PyRegexTranslation {
  source: string;
  flags: string;
  groupNames: string[];
  /** JS group name → Python group name */
  aliases: Record<string, string>;
}

export function translatePyRegex(pattern: string, options: PyRegexOptions = {}): PyRegexTranslation {
  const t = emitJs(parsePython(pattern, options), pattern);
  return { source: t.source, flags: t.flags, groupNames: t.groupNames, aliases: t.aliases };
}

export class PyRegExp {
  /** the original Python pattern */
  readonly source: string;
  /** the translated JS source */
  readonly jsSource: string;
  /** flags for jsSource ('u', or 'iu' for a case-insensitive backreference); no g/y */
  readonly jsFlags: string;
  /** Python group names, in order of appearance */
  readonly groupNames: string[];

  private readonly searchRe: RegExp;
  private readonly matchRe: RegExp;
  /** null: exec's own `groups` already is the Python groupdict */
  private readonly copies: string[][] | null;

  constructor(pattern: string, options: PyRegexOptions = {}) {
    const t = emitJs(parsePython(pattern, options), pattern);
    this.source = pattern;
    this.jsSource = t.source;
    this.jsFlags = t.flags;
    this.groupNames = t.groupNames;
    this.copies = t.identityGroups ? null : t.copies;
    try {
      this.searchRe = new RegExp(t.source, t.flags + 'g');
      this.matchRe = new RegExp(t.source, t.flags + 'y');
    } catch (e) {
      throw new PyRegexError(`translation rejected by the JS engine: ${(e as Error).message}`, pattern);
    }
  }

  /** Python's pattern.search(s, pos): the first match at or after pos */
  search(s: string, pos = 0): PyMatch | null {
    const re = this.searchRe;
    re.lastIndex = pos > 0 ? (pos < s.length ? pos : s.length) : 0;
    const m = re.exec(s);
    return m === null ? null : this.result(m);
  }

  /** Python's pattern.match(s, pos): a match starting exactly at pos */
  match(s: string, pos = 0): PyMatch | null {
    const re = this.matchRe;
    re.lastIndex = pos > 0 ? (pos < s.length ? pos : s.length) : 0;
    const m = re.exec(s);
    return m === null ? null : this.result(m);
  }

  private result(m: RegExpExecArray): PyMatch {
    const text = m[0];
    return { index: m.index, end: m.index + text.length, text, groups: this.groupsOf(m.groups) };
  }

  private groupsOf(js: Record<string, string> | undefined): Record<string, string | undefined> {
    const copies = this.copies;
    if (copies === null) return js ?? Object.create(null);
    const out: Record<string, string | undefined> = Object.create(null);
    const names = this.groupNames;
    for (let i = 0; i < names.length; i++) {
      const c = copies[i];
      let v: string | undefined;
      for (let j = 0; j < c.length && v === undefined; j++) v = js![c[j]];
      out[names[i]] = v;
    }
    return out;
  }
}
