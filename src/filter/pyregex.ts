// Python `re` patterns (what fail2ban filters and date templates are written in) run on V8's
// RegExp, with Python's meaning: `$` before a final newline, Unicode \d \w \s \b, `.` stopping only
// at \n, conditionals, scoped flags, fail2ban's `((?i)X)` rewrite, backreferences that fail on
// absent groups, Python's group numbers. Rules and measurements: /work/shared/regex-compat.md §4.
// Parser: pyregex/parser.ts; emitter: pyregex/emit.ts.

import { emitJs, Translation } from './pyregex/emit';
import { PyRegexError } from './pyregex/error';
import { AT_END, AT_START } from './pyregex/ir';
import { parsePython } from './pyregex/parser';
import type { ParsedPattern } from './pyregex/ast';

export { PyRegexError };

export interface PyRegexOptions {
  /** Python re.MULTILINE */
  multiline?: boolean;
  /** Python re.IGNORECASE */
  ignoreCase?: boolean;
  /** Python re.DOTALL */
  dotAll?: boolean;
  /**
   * Capture every group in the JS regex, so that `group(n)` and `groupSpan(n)` read unnamed
   * groups from the match itself. Without it only named groups capture (the fast path, for
   * groupdict users), and asking for an unnamed group re-runs a numbered copy of the regex at
   * the match. Either way the search regex never carries the JS `d` flag: a span that does not
   * follow from the match bounds comes from one re-run with `d`, when it is asked for.
   */
  indices?: boolean;
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
  /**
   * Python's `m.group(g)`: g is a group number (0 = the whole match; every capturing group,
   * named or not, numbered by its opening parenthesis) or a group name. undefined when the group
   * did not participate. Throws a RangeError for a group the pattern does not have.
   */
  group(g: number | string): string | undefined;
  /**
   * Python's `m.span(g)` as UTF-16 [start, end]; undefined when the group did not participate
   * (Python's (-1, -1)). Throws a RangeError for a group the pattern does not have.
   */
  groupSpan(g: number | string): [number, number] | undefined;
}

export interface PyRegexTranslation {
  source: string;
  flags: string;
  groupNames: string[];
  /** JS group name → Python group name */
  aliases: Record<string, string>;
}

export function translatePyRegex(pattern: string, options: PyRegexOptions = {}): PyRegexTranslation {
  const t = emitJs(parsePython(pattern, options), pattern, !!options.indices);
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
  /** number of capturing groups, named or not (Python's pattern.groups) */
  readonly groupCount: number;
  /** group number of each named group (Python's pattern.groupindex) */
  readonly groupIndex: ReadonlyMap<string, number>;

  private readonly searchRe: RegExp;
  private readonly matchRe: RegExp;
  private readonly table: GroupTable;

  /** `parsed`: the pattern already parsed with these options (saves parsing it again) */
  constructor(pattern: string, options: PyRegexOptions = {}, parsed?: ParsedPattern) {
    const numbered = !!options.indices;
    const t = emitJs(parsed ?? parsePython(pattern, options), pattern, numbered);
    this.source = pattern;
    this.jsSource = t.source;
    this.jsFlags = t.flags;
    this.groupNames = t.groupNames;
    this.groupCount = t.groupCount;
    this.groupIndex = t.groupIndex;
    this.table = new GroupTable(pattern, options, t, numbered);
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
    return m === null ? null : this.result(m, s);
  }

  /** Python's pattern.match(s, pos): a match starting exactly at pos */
  match(s: string, pos = 0): PyMatch | null {
    const re = this.matchRe;
    re.lastIndex = pos > 0 ? (pos < s.length ? pos : s.length) : 0;
    const m = re.exec(s);
    return m === null ? null : this.result(m, s);
  }

  private result(m: RegExpExecArray, s: string): PyMatch {
    const t = this.table;
    return t.layout !== null ? new IndexedMatch(t, m) : new NamedMatch(t, m, s, t.groupsOf(m.groups));
  }
}

/** Where the Python groups sit in the exec array of a regex translated with every group kept. */
interface Layout {
  /** per Python group number (index 0 unused): exec-array indices of its copies, in source order */
  copies: number[][];
  /** per Python group number: the exec-array index of its only copy, else 0 (the fast path) */
  only: number[];
  /** AT_START / AT_END per exec-array index: the span follows from the match bounds */
  bounds: number[];
}

function layoutOf(t: Translation): Layout {
  const copies: number[][] = [];
  for (let g = 0; g <= t.groupCount; g++) copies.push([]);
  t.captureGroups.forEach((g, j) => g > 0 && copies[g].push(j));
  const only = copies.map((c, g) => (g > 0 && c.length === 1 ? c[0] : 0));
  return { copies, only, bounds: t.captureBounds };
}

/** The group bookkeeping of one PyRegExp, shared by its matches. */
class GroupTable {
  /** the layout of the search regex, when it keeps every group (`indices`) */
  readonly layout: Layout | null;
  /** Python group name per group number (index 0 unused) */
  readonly nameOf: Array<string | undefined>;
  private readonly groupCount: number;
  private readonly groupIndex: ReadonlyMap<string, number>;
  private readonly groupNames: string[];
  /** per entry of groupNames, its JS names; null: exec's own `groups` already is the groupdict */
  private readonly copies: string[][] | null;
  private twinRe: RegExp | null = null;
  private twinLayout: Layout | null = null;
  /** the twin's last run: a match asks for several groups in a row */
  private last: { input: string; index: number; exec: RegExpExecArray } | null = null;

  constructor(
    private readonly pattern: string,
    private readonly options: PyRegexOptions,
    private readonly t: Translation,
    numbered: boolean,
  ) {
    this.layout = numbered ? layoutOf(t) : null;
    this.groupCount = t.groupCount;
    this.groupIndex = t.groupIndex;
    this.groupNames = t.groupNames;
    this.copies = t.identityGroups ? null : t.copies;
    this.nameOf = [undefined];
    for (let g = 1; g <= t.groupCount; g++) this.nameOf.push(undefined);
    for (const [name, g] of t.groupIndex) this.nameOf[g] = name;
  }

  /** Python's group number of a group number or name */
  number(g: number | string): number {
    if (typeof g === 'number') {
      if (Number.isInteger(g) && g >= 0 && g <= this.groupCount) return g;
    } else {
      const n = this.groupIndex.get(g);
      if (n !== undefined) return n;
    }
    throw new RangeError(`no such group: ${JSON.stringify(g)}`);
  }

  /** Python's groupdict of an exec result */
  groupsOf(js: Record<string, string> | undefined): Record<string, string | undefined> {
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

  /**
   * Group n of the match at `index` of `input`, with its span, read from the twin: the same
   * regex with every group captured and the `d` flag, compiled on first need and run sticky at
   * the match, where it finds the same match.
   */
  fromTwin(input: string, index: number, n: number): [string, number, number] | undefined {
    if (this.twinRe === null) {
      const t = this.layout !== null ? this.t : emitJs(parsePython(this.pattern, this.options), this.pattern, true);
      this.twinRe = new RegExp(t.source, t.flags + 'dy');
      this.twinLayout = this.layout ?? layoutOf(t);
    }
    let last = this.last;
    if (last === null || last.input !== input || last.index !== index) {
      this.twinRe.lastIndex = index;
      const exec = this.twinRe.exec(input);
      if (exec === null) throw new Error('internal: the numbered regex does not match where its original did');
      this.last = last = { input, index, exec };
    }
    const j = participating(last.exec, this.twinLayout!.copies[n]);
    if (j < 0) return undefined;
    const [start, end] = last.exec.indices![j]!;
    return [last.exec[j], start, end];
  }
}

/** first participating copy, or -1 */
function participating(m: RegExpExecArray, copies: number[]): number {
  for (let i = 0; i < copies.length; i++) if (m[copies[i]] !== undefined) return copies[i];
  return -1;
}

// A match object is made per successful search, and V8 (Node 20) makes these cheapest when they
// are plain classes with few fields, assigned in the constructor: ES2022 field definitions (what
// tsc emits for this target unless the fields are `declare`d) cost about 20 ns more per object,
// a shared base class (a derived constructor) cost the filter benchmark 6%, and a sixth field 2%.
// Hence two standalone classes, and `text` as a getter.

/**
 * A match of a regex compiled without `indices` (the filters' hot path): the groupdict is made
 * at once and the exec result dropped; numbered groups come from the twin.
 */
class NamedMatch implements PyMatch {
  declare readonly index: number;
  declare readonly end: number;
  declare readonly groups: Record<string, string | undefined>;
  declare private readonly table: GroupTable;
  declare private readonly input: string;

  constructor(table: GroupTable, exec: RegExpExecArray, input: string, groups: Record<string, string | undefined>) {
    this.index = exec.index;
    this.end = exec.index + exec[0].length;
    this.groups = groups;
    this.table = table;
    this.input = input;
  }

  get text(): string {
    return this.input.slice(this.index, this.end);
  }

  group(g: number | string): string | undefined {
    const n = this.table.number(g);
    if (n === 0) return this.text;
    const name = this.table.nameOf[n];
    return name !== undefined ? this.groups[name] : this.table.fromTwin(this.input, this.index, n)?.[0];
  }

  groupSpan(g: number | string): [number, number] | undefined {
    const n = this.table.number(g);
    if (n === 0) return [this.index, this.end];
    const t = this.table.fromTwin(this.input, this.index, n);
    return t && [t[1], t[2]];
  }
}

/** A match of a regex compiled with `indices`: numbered groups are read from the exec result. */
class IndexedMatch implements PyMatch {
  declare readonly index: number;
  declare readonly end: number;
  declare private readonly table: GroupTable;
  declare private readonly exec: RegExpExecArray;
  declare private dict: Record<string, string | undefined> | null;

  constructor(table: GroupTable, exec: RegExpExecArray) {
    this.index = exec.index;
    this.end = exec.index + exec[0].length;
    this.table = table;
    this.exec = exec;
    this.dict = null;
  }

  get text(): string {
    return this.exec[0];
  }

  get groups(): Record<string, string | undefined> {
    return (this.dict ??= this.table.groupsOf(this.exec.groups));
  }

  group(g: number | string): string | undefined {
    const layout = this.table.layout!;
    let j = typeof g === 'number' ? layout.only[g] : undefined;
    if (j === undefined || j === 0) {
      const n = this.table.number(g);
      if (n === 0) return this.text;
      j = participating(this.exec, layout.copies[n]);
      if (j < 0) return undefined;
    }
    return this.exec[j];
  }

  groupSpan(g: number | string): [number, number] | undefined {
    const layout = this.table.layout!;
    let n: number;
    let j = typeof g === 'number' ? layout.only[g] : undefined;
    if (j !== undefined && j > 0) {
      n = g as number;
    } else {
      n = this.table.number(g);
      if (n === 0) return [this.index, this.end];
      j = participating(this.exec, layout.copies[n]);
      if (j < 0) return undefined;
    }
    const v = this.exec[j];
    if (v === undefined) return undefined;
    // where the match bounds give the span, the re-run with indices is saved
    const b = layout.bounds[j];
    if (b & AT_END) return [this.end - v.length, this.end];
    if (b & AT_START) return [this.index, this.index + v.length];
    const t = this.table.fromTwin(this.exec.input, this.index, n)!;
    return [t[1], t[2]];
  }
}
