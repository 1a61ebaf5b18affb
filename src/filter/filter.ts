// A compiled fail2ban filter, in two halves:
//
//  - FilterScanner (stateless for maxlines = 1): finds the date, cuts it out, and runs prefregex,
//    failregex and ignoreregex on the remaining text. This is the part the matcher workers run.
//  - FailureTracker (stateful, one per jail): turns scans into failures in log order: the "last
//    date" fallback, multi-line session merging (F-MLFID, F-NOFAIL, F-MLFFORGET, F-MLFGAINED) and
//    the choice of failure id.
//
// The order of checks follows fail2ban's (see ../shared/fail2ban-reference.md, "Matching
// pipeline"): ignoreregex early only when there are fewer ignoreregexes than failregexes - 2,
// then prefregex (whose F-CONTENT replaces the text), then each failregex in order.

import type { PyRegExp } from './pyregex';
import { parsePython } from './pyregex/parser';
import type { ParsedPattern } from './pyregex/ast';
import { expandRegexTags, globalToScopedFlags, FAILURE_ID_GROUPS } from './tags';
import { DateDetector } from '../dates/detector';
import { F2bError } from '../errors';
import { normalizeAddress } from '../net/ip';
import type { FilterSpecMessage } from '../types';
import type { FilterDef } from '../config/types';

/** The matcher's view of a resolved filter; `over` sets the key, usedns, logtimezone, ... */
export function filterSpecOf(def: FilterDef, over: Partial<FilterSpecMessage> & { key: string }): FilterSpecMessage {
  return {
    failregex: def.failregex,
    ignoreregex: def.ignoreregex,
    prefregex: def.prefregex,
    datepattern: def.datepattern,
    maxlines: def.maxlines,
    usedns: def.usedns,
    ...over,
  };
}

/** A line split around its date: [before, date, after]. */
export type TupleLine = [string, string, string];

export interface RegexHit {
  /** index of the failregex */
  regex: number;
  /** named groups (prefregex groups merged under the failregex's), undefined values dropped */
  groups: Record<string, string>;
  /** the original lines the match covered (date included) */
  lines: string[];
}

export interface LineScan {
  /** epoch seconds from the line's own date; null when the line had none */
  time: number | null;
  /** a template matched but captured nothing ({NONE}, optional patterns) */
  emptyDate: boolean;
  /** the date text that was cut out */
  dateText: string;
  /** which date template matched */
  template?: string;
  /** the failregex matches (the first one only unless checkAll) */
  hits: RegexHit[];
  /** an ignoreregex dropped the line (index of the ignoreregex) */
  ignoredBy?: number;
}

export interface ScanOptions {
  /** try every failregex, not only the first that matches (fail2ban-regex, tests) */
  checkAll?: boolean;
  /** bit i clear = failregex i cannot match this line (the native prefilter said so: a sound
   *  answer), so it is not tried; failregexes from #33 on are always tried */
  only?: number;
}

const ALT_TUPLE_RE = /^(alt_|tuple_)(.*?)(?:_\d+)?$/;

/** A tag left after expansion that names a config option (lower case: `<mdre-extra>`), i.e. an
 *  option the filter does not define, often a `mode` it does not have. Upper-case ones
 *  (`<NOSRV>`) are literal log text, as in fail2ban. */
const UNRESOLVED_TAG_RE = /(?<!\(\?P)<(?=[\w-]*[a-z])([A-Za-z][\w-]*)>/;

/** One fail2ban regex with its tags expanded and flags rewritten, parsed (so validated) as Python. */
export interface ParsedFailRegex {
  /** the Python pattern the engines compile */
  expanded: string;
  parsed: ParsedPattern;
}

/** Expand and parse one fail2ban regex, or throw FILTER_REGEX naming `what` and the reason. */
export function parseFailRegex(regex: string, usedns: string, multiline: boolean, what: string): ParsedFailRegex {
  const expanded = globalToScopedFlags(expandRegexTags(regex, usedns));
  if (expanded.trim() === '') throw new F2bError('FILTER_REGEX', `${what}: empty regex`);
  const tag = UNRESOLVED_TAG_RE.exec(expanded);
  if (tag) throw new F2bError('FILTER_REGEX', `${what}: unknown tag <${tag[1]}>: the filter defines no option of that name (a mode or option value it does not have?)`);
  try {
    return { expanded, parsed: parsePython(expanded, { multiline }) };
  } catch (e) {
    throw new F2bError('FILTER_REGEX', `${what}: cannot compile ${JSON.stringify(regex)}: ${(e as Error).message}`);
  }
}

/** The JavaScript matcher's regex class, loaded when first needed: `regex` with the native
 *  matcher never compiles a filter for JavaScript, and loading it is part of every start. */
let pyregexModule: typeof import('./pyregex') | undefined;
export const pyregex = (): typeof import('./pyregex') => (pyregexModule ??= require('./pyregex') as typeof import('./pyregex'));

/** Compile one fail2ban regex (tags expanded, flags rewritten) or throw FILTER_REGEX. */
export function compileFailRegex(regex: string, usedns: string, multiline: boolean, what: string): PyRegExp {
  const { expanded, parsed } = parseFailRegex(regex, usedns, multiline, what);
  try {
    return new (pyregex().PyRegExp)(expanded, { multiline }, parsed);
  } catch (e) {
    throw new F2bError('FILTER_REGEX', `${what}: cannot compile ${JSON.stringify(regex)}: ${(e as Error).message}`);
  }
}

/** The date detector of a filter spec, or FILTER_REGEX for a bad datepattern (checkSyntaxOnly:
 *  see DateDetectorOptions). */
export function filterDateDetector(spec: FilterSpecMessage, checkSyntaxOnly = false): DateDetector {
  try {
    return new DateDetector({ datepattern: spec.datepattern, logtimezone: spec.logtimezone, checkSyntaxOnly });
  } catch (e) {
    throw new F2bError('FILTER_REGEX', `datepattern: ${JSON.stringify(spec.datepattern)}: ${(e as Error).message}`);
  }
}

/** fail2ban's checks of a whole filter: a failregex, and an id group in each failregex (or in
 *  the prefregex). Group names per regex, as Python names them. */
export function checkFilterGroups(spec: FilterSpecMessage, pref: readonly string[] | undefined, fail: readonly (readonly string[])[]): void {
  const hasId = (names: readonly string[]) => names.some((g) => (FAILURE_ID_GROUPS as readonly string[]).includes(g) || g === 'mlfid');
  const prefIds = pref ? hasId(pref) : false;
  fail.forEach((names, i) => {
    if (!prefIds && !hasId(names)) {
      throw new F2bError('FILTER_REGEX', `failregex #${i + 1}: no host group (<HOST>, <ADDR>, <IP4>, <IP6>, <F-ID>, <F-MLFID>) in ${JSON.stringify(spec.failregex[i])}`);
    }
  });
  if (fail.length === 0) throw new F2bError('FILTER_REGEX', 'failregex: the filter has no failregex');
}

/** Python group names of a parsed pattern, in group order. */
export function groupNamesOf(p: ParsedPattern): string[] {
  return p.nameOf.filter((n): n is string => n !== undefined);
}

interface CompiledRegex {
  re: PyRegExp;
  /** alt_* group -> base name; tuple_* group -> base name */
  alt: [string, string][];
  tuple: [string, string][];
}

function prepare(re: PyRegExp): CompiledRegex {
  const alt: [string, string][] = [];
  const tuple: [string, string][] = [];
  for (const name of re.groupNames) {
    const m = ALT_TUPLE_RE.exec(name);
    if (!m || name.length <= 4) continue;
    const base = m[2] === 'id' ? 'fid' : m[2] === 'port' ? 'fport' : m[2];
    (m[1] === 'alt_' ? alt : tuple).push([name, base]);
  }
  alt.sort();
  tuple.sort();
  return { re, alt, tuple };
}

/** Named groups of a match with alt_/tuple_ merging, undefined values left out. */
function collectGroups(c: CompiledRegex, groups: Record<string, string | undefined>, omit?: string): Record<string, string> {
  const out: Record<string, string> = {};
  // for-in, not Object.entries: this runs for every hit of every line
  for (const k in groups) {
    const v = groups[k];
    if (v !== undefined && k !== omit) out[k] = v;
  }
  for (let i = 0; i < c.alt.length; i++) {
    const [k, base] = c.alt[i];
    const v = out[k];
    if (v && !out[base]) out[base] = v;
  }
  for (let i = 0; i < c.tuple.length; i++) {
    // fail2ban makes a Python tuple; we join its parts with a space
    const [k, base] = c.tuple[i];
    const a = out[base];
    const b = out[k];
    out[base] = a === undefined ? (b === undefined ? '' : b) : b === undefined ? a : `${a} ${b}`;
  }
  return out;
}

/** `{ ...a, ...b }` (an object spread costs several times more on this path: a quarter of a
 *  worker's time went to it) */
function merged(a: Record<string, string>, b: Record<string, string>): Record<string, string> {
  let empty = true;
  for (const _ in a) {
    empty = false;
    break;
  }
  if (empty) return b;
  const out: Record<string, string> = {};
  for (const k in a) out[k] = a[k];
  for (const k in b) out[k] = b[k];
  return out;
}

function joinTuples(lines: TupleLine[]): string {
  let s = '';
  for (const l of lines) s += l[0] + l[2] + '\n';
  return s;
}

export class FilterScanner {
  readonly spec: FilterSpecMessage;
  readonly maxlines: number;
  readonly dates: DateDetector;
  private readonly pref?: CompiledRegex;
  private readonly fail: CompiledRegex[];
  private readonly ignore: CompiledRegex[];
  /** the multi-line window (maxlines > 1 only) */
  private window: TupleLine[] = [];

  constructor(spec: FilterSpecMessage) {
    this.spec = spec;
    this.maxlines = Math.max(1, spec.maxlines || 1);
    const multi = this.maxlines > 1;
    this.dates = filterDateDetector(spec);
    if (spec.prefregex && spec.prefregex.trim()) this.pref = prepare(compileFailRegex(spec.prefregex, spec.usedns, false, 'prefregex'));
    this.fail = spec.failregex.map((r, i) => prepare(compileFailRegex(r, spec.usedns, multi, `failregex #${i + 1}`)));
    this.ignore = spec.ignoreregex.map((r, i) => prepare(compileFailRegex(r, spec.usedns, false, `ignoreregex #${i + 1}`)));
    checkFilterGroups(spec, this.pref?.re.groupNames, this.fail.map((f) => f.re.groupNames));
  }

  get failregexCount(): number {
    return this.fail.length;
  }

  /** Split the date off a line. */
  splitDate(line: string, now: number): { tuple: TupleLine; time: number | null; empty: boolean; template?: string } {
    const m = this.dates.match(line, now);
    if (!m) return { tuple: ['', '', line], time: null, empty: false };
    const tuple: TupleLine = [line.slice(0, m.start), line.slice(m.start, m.end), line.slice(m.end)];
    if (m.start === m.end) return { tuple, time: null, empty: true, template: m.template };
    return { tuple, time: m.time, empty: false, template: m.template };
  }

  /** Scan one log line (without its newline). */
  scan(line: string, now: number, opts: ScanOptions = {}): LineScan {
    const d = this.splitDate(line, now);
    return this.scanTuple(d.tuple, { time: d.time, emptyDate: d.empty, dateText: d.tuple[1], template: d.template, hits: [] }, opts);
  }

  /** Scan an entry whose time is already known (a journal entry): no date is searched or cut. */
  scanDated(text: string, time: number, opts: ScanOptions = {}): LineScan {
    return this.scanTuple(['', '', text], { time, emptyDate: false, dateText: '', hits: [] }, opts);
  }

  private scanTuple(tuple: TupleLine, result: LineScan, opts: ScanOptions): LineScan {
    let lines: TupleLine[];
    if (this.maxlines > 1) {
      this.window.push(tuple);
      if (this.window.length > this.maxlines) this.window.splice(0, this.window.length - this.maxlines);
      lines = this.window;
    } else {
      lines = [tuple];
    }
    let buf: string | null = joinTuples(lines);

    if (this.ignore.length && this.ignore.length < this.fail.length - 2) {
      const i = this.firstIgnore(buf);
      if (i !== undefined) {
        result.ignoredBy = i;
        return result;
      }
    }

    let pre: Record<string, string> = {};
    if (this.pref) {
      const m = this.pref.re.search(buf);
      if (!m) return result;
      // F-CONTENT is not a field of the failure (left out, not deleted: a delete would make
      // every later spread of these fields slow)
      pre = collectGroups(this.pref, m.groups, 'content');
      const content = m.groups.content;
      if (content) {
        lines = [['', '', content]];
        buf = null;
      }
    }

    const only = opts.only;
    for (let i = 0; i < this.fail.length; i++) {
      if (only !== undefined && i < 32 && !(only & (1 << i))) continue;
      const f = this.fail[i];
      if (buf === null) buf = joinTuples(lines);
      const m = f.re.search(buf);
      if (!m) continue;
      const matched = this.maxlines > 1 ? matchedLines(buf, m.index, m.end, lines, m.groups) : { matched: lines, unmatched: [] };
      const ign = this.ignore.length ? this.firstIgnore(this.maxlines > 1 ? joinTuples(matched.matched) : buf) : undefined;
      if (ign !== undefined) {
        result.ignoredBy = ign;
        if (this.maxlines > 1 || !opts.checkAll) this.window = lines = matched.unmatched;
        buf = null;
        if (!opts.checkAll) break;
        continue;
      }
      const groups = merged(pre, collectGroups(f, m.groups));
      result.hits.push({ regex: i, groups, lines: matched.matched.map((t) => t.join('')) });
      if (this.maxlines > 1 || !opts.checkAll) {
        this.window = lines = matched.unmatched;
        buf = null;
      }
      if (!opts.checkAll) break;
    }
    return result;
  }

  private firstIgnore(buf: string): number | undefined {
    for (let i = 0; i < this.ignore.length; i++) if (this.ignore[i].re.search(buf)) return i;
    return undefined;
  }
}

/** For a multi-line buffer: the lines a match covered (minus <SKIPLINES>) and the rest. */
function matchedLines(
  buf: string,
  start: number,
  end: number,
  lines: TupleLine[],
  groups: Record<string, string | undefined>,
): { matched: TupleLine[]; unmatched: TupleLine[] } {
  const lineStart = buf.lastIndexOf('\n', start) + 1;
  let lineEnd = buf.indexOf('\n', Math.max(end - 1, 0));
  lineEnd = lineEnd < 0 ? buf.length : lineEnd + 1;
  const count = (to: number) => {
    let n = 0;
    for (let i = buf.indexOf('\n'); i >= 0 && i < to; i = buf.indexOf('\n', i + 1)) n++;
    return n;
  };
  const first = count(lineStart);
  const last = count(lineEnd);
  const matched = lines.slice(first, last);
  const unmatched = lines.slice(0, first);
  const skipped: string[] = [];
  for (let n = 0; groups[`skiplines${n}`] !== undefined || `skiplines${n}` in groups; n++) {
    const s = groups[`skiplines${n}`];
    if (s) skipped.push(...s.split('\n').filter((x, i, a) => i < a.length - 1 || x !== ''));
  }
  for (const s of skipped) {
    const k = matched.findIndex((t) => t[0] + t[2] === s);
    if (k >= 0) unmatched.push(...matched.splice(k, 1));
  }
  unmatched.push(...lines.slice(last));
  return { matched, unmatched };
}

/** A line's date as one number: epoch seconds, NaN = no date, -Infinity = empty date match. */
export function timeCode(scan: Pick<LineScan, 'time' | 'emptyDate'>): number {
  return scan.time !== null ? scan.time : scan.emptyDate ? -Infinity : NaN;
}

/** A failure ready for the jail: id chosen, time resolved. */
export interface FoundFailure {
  regex: number;
  /** failure id: a canonical address, a DNS name (see `dns`), or an F-ID */
  id: string;
  /** true when id is a host name still to be resolved (usedns yes/warn) */
  dns: boolean;
  /** epoch seconds; null only in checkAll mode, for a line without a date */
  time: number | null;
  fields: Record<string, string>;
  /** the matched lines of this failure (and of its session, for F-MLFID) */
  matches: string[];
  /** every user name of an F-MLFID session */
  users?: string[];
}

export interface TrackerOptions {
  usedns: string;
  /** fail2ban-regex mode: keep failures that carry F-NOFAIL and those without a date */
  checkAll?: boolean;
}

interface Session {
  at: number;
  fields: Record<string, string>;
  users: Set<string>;
  matches: string[];
  nofailMatches: string[];
  pending: boolean;
}

/** A copy of `o` without the keys a and b (the same key order as `delete` leaves). */
function omit(o: Record<string, string>, a: string, b?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in o) if (k !== a && k !== b) out[k] = o[k];
  return out;
}

/** Session cache for F-MLFID: 100 entries, 5 minutes, like fail2ban's. */
class SessionCache {
  private readonly map = new Map<string, Session>();
  constructor(private readonly max = 100, private readonly ttl = 300) {}
  get(key: string, now: number): Session | undefined {
    const s = this.map.get(key);
    if (s && now - s.at > this.ttl) {
      this.map.delete(key);
      return undefined;
    }
    return s;
  }
  set(key: string, s: Session): void {
    this.map.delete(key);
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, s);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

/**
 * The failure id of a result's fields, fail2ban's way: the first of fid, ip4, ip6, dns that is
 * there (an address normalised; a DNS name left to resolve unless usedns is raw). With an F-ID
 * that is not the address itself, the address goes into the fields as `ip`. null: no id yet.
 */
export function failureId(fields: Record<string, string>, usedns: string): { id: string; dns: boolean; fields: Record<string, string> } | null {
  const fid = fields.fid;
  let ip = fields.ip4 ?? fields.ip6;
  let dns = false;
  if (ip === undefined && fields.dns !== undefined) {
    ip = fields.dns;
    dns = usedns !== 'raw';
  }
  if (ip === undefined) ip = fid;
  if (ip === undefined) return null;
  let id = ip;
  const canonical = dns ? undefined : normalizeAddress(ip);
  if (canonical) id = canonical;
  if (fid !== undefined && fid !== ip) return { id: fid, dns: false, fields: { ...fields, ip: id } };
  return { id, dns, fields };
}

/** Turns scans into failures, in log order (one per jail). */
export class FailureTracker {
  private lastDate: number | null = null;
  private readonly sessions = new SessionCache();

  constructor(private readonly opts: TrackerOptions) {}

  /**
   * Resolve a line's time from its date code (see timeCode()): its own date, else the last date
   * if under 60 s old, else `now` (for an empty date match, or when fallbackNow), else null.
   * Call it for every line, in order: dated lines without failures still move the last date.
   */
  resolveTime(code: number, now: number, fallbackNow: boolean): number | null {
    if (Number.isFinite(code)) {
      this.lastDate = code;
      return code;
    }
    if (this.lastDate !== null && this.lastDate > now - 60) return this.lastDate;
    if (code === -Infinity || fallbackNow) return now;
    return null;
  }

  /** The failures of one line's regex hits; `time` from resolveTime (null = no date: skipped,
   *  except in checkAll mode where the failure keeps a null time). */
  failures(hits: RegexHit[], time: number | null, now: number): FoundFailure[] {
    const out: FoundFailure[] = [];
    for (const hit of hits) {
      if (time === null && !this.opts.checkAll) continue;
      let fields = hit.groups;
      let matches = hit.lines;
      let users: string[] | undefined;
      const mlfid = fields.mlfid;
      if (mlfid !== undefined) {
        const merged = this.merge(mlfid, fields, hit.lines, now);
        fields = merged.fields;
        matches = merged.matches;
        users = merged.users;
        if (fields.nofail && !this.opts.checkAll) return out;
      }
      const found = failureId(fields, this.opts.usedns);
      if (!found) {
        // F-MLFID without an id yet: the session is pending until a line brings the address
        if (mlfid !== undefined) {
          const s = this.sessions.get(mlfid, now);
          if (s) s.pending = true;
        }
        continue;
      }
      out.push({ regex: hit.regex, id: found.id, dns: found.dns, time, fields: found.fields, matches, users });
    }
    return out;
  }

  /** F-MLFID session merging: fields of earlier lines of the same session fill in this one. */
  private merge(mlfid: string, fields: Record<string, string>, lines: string[], now: number): { fields: Record<string, string>; matches: string[]; users?: string[] } {
    // fail2ban tests these groups for truth: an empty capture counts as absent
    let gained = !!fields.mlfgained;
    let nofail = gained || !!fields.nofail;
    const forget = !!fields.mlfforget;
    // (copies without a key rather than `delete`: a delete turns an object into a slow
    // dictionary, and these are copied again for every line of a session)
    const cur = omit(fields, 'mlfforget');
    if (gained && cur.nofail === undefined) cur.nofail = cur.mlfgained;
    let session = this.sessions.get(mlfid, now);
    let hadNofailState = false;
    if (session) {
      if (cur.user !== undefined) session.users.add(cur.user);
      if (session.fields.nofail || session.fields.mlfgained) hadNofailState = true;
      if ('nofail' in session.fields || 'mlfgained' in session.fields) session.fields = omit(session.fields, 'nofail', 'mlfgained');
      if (gained) session.pending = false;
      if (!hadNofailState && !session.pending) session.matches = [];
      Object.assign(session.fields, cur);
      if (forget) this.sessions.delete(mlfid);
    } else {
      session = { at: now, fields: cur, users: new Set(), matches: [], nofailMatches: [], pending: false };
      if (cur.user !== undefined) session.users.add(cur.user);
      if (!forget) this.sessions.set(mlfid, session);
    }
    if (session.pending || session.users.size > 1) {
      // earlier failures, or several user names tried in one session: neither a nofail line nor a
      // successful login excuses the session
      session.pending = false;
      if ('nofail' in session.fields || 'mlfgained' in session.fields) session.fields = omit(session.fields, 'nofail', 'mlfgained');
      nofail = false;
      gained = false;
    }
    if (!nofail) {
      const m = [...session.nofailMatches, ...session.matches];
      if (!gained) m.push(...lines);
      session.nofailMatches = [];
      session.matches = m;
    } else if (!forget) {
      session.nofailMatches = [...session.nofailMatches, ...lines];
    }
    return { fields: { ...session.fields }, matches: session.matches, users: session.users.size ? [...session.users] : undefined };
  }
}
