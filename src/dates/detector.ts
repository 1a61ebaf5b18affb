// The date detector: finds the date in a log line with fail2ban's templates and its rules for
// choosing one (retry the last template at the same place, first anchored match wins, else the
// match nearest the line start), and converts it to epoch seconds.
//
// It is stateful like fail2ban's: the template that won last is tried first and winners move
// towards the front. Feed it the lines of one log in order.

import type { PyMatch } from '../filter/pyregex';
import { NowInfo, nowInfo } from './strptime';
import { ANCHORED, DateTemplate, parseDatePattern, type TemplateEntry } from './templates';
import { localNaive, logTimezoneOffset } from './timezone';

export interface DateMatch {
  /**
   * Epoch seconds (fractional for EPOCH/LEPOCH). NaN when there is no date to read: the span is
   * empty (`{NONE}`, or a pattern such as `^WARNING:()**`), or the winning template matched text
   * that is not a valid date (Feb 30, an unknown zone name...). fail2ban then still cuts the span
   * and uses the last date if under 60 s old, else now.
   */
  time: number;
  /** the span cut out of the line: group 1 of the winning template (UTF-16 indices) */
  start: number;
  end: number;
  /** the template's name, as fail2ban-regex prints it in "Date template hits" */
  template: string;
}

export interface DateDetectorOptions {
  /** raw filter/jail datepattern value: undefined or '{DEFAULT}' = the 31 default templates;
   *  may hold several lines */
  datepattern?: string;
  /** e.g. 'UTC', 'UTC+0200', 'Z', 'CEST'; undefined = local zone of the process (process.env.TZ) */
  logtimezone?: string;
  /** epoch seconds that fix the `%ExY` year range (fail2ban: the clock at start-up); default: now */
  now?: number;
  /** check configured patterns' syntax only, compiling them for JavaScript when first used (a
   *  detector that reads few dates: the native matcher's) */
  checkSyntaxOnly?: boolean;
}

interface Slot {
  tpl: DateTemplate;
  weight: number;
  /** lines this template won */
  hits: number;
  /** when it last won (the `now` of that line) */
  lastUsed: number;
  /** where its last winning match started (code points) */
  distance: number;
  /** successful searches, winning or not (fail2ban's template.hits) */
  matched: number;
}

interface Found {
  m: PyMatch;
  distance: number;
  endpos: number;
  i: number;
}

const FAR = 0x7fffffff;
/** after this many seconds unused, a template may be overtaken regardless of weight */
const UNUSED_TIME = 300;
const ALNUM = /^[\p{L}\p{N}]$/u;

const SURROGATE = /[\ud800-\udfff]/;

const isAlnum = (ch: string) => ch !== '' && ALNUM.test(ch);
const slotWeight = (s: Slot) => (s.hits * s.weight) / Math.max(1, s.distance);

/**
 * A line indexed by code points, as Python indexes it: fail2ban's heuristics compare positions
 * across lines, so they must not count an emoji as two. Lines without surrogates (nearly all)
 * take the identity path.
 */
class CodePoints {
  private readonly cps: string[] | null;

  constructor(private readonly line: string) {
    this.cps = SURROGATE.test(line) ? Array.from(line) : null;
  }

  /** Python's line[k:k+1] */
  at(k: number): string {
    const a = this.cps ?? this.line;
    return k >= 0 && k < a.length ? a[k] : '';
  }

  /** Python's line[-1] */
  last(): string {
    const a = this.cps ?? this.line;
    return a.length ? a[a.length - 1] : '';
  }

  /** code-point index of a UTF-16 index */
  fromUnits(i: number): number {
    return this.cps ? Array.from(this.line.slice(0, i)).length : i;
  }

  /** UTF-16 index of a code-point index */
  toUnits(k: number): number {
    return this.cps ? this.cps.slice(0, Math.max(0, k)).join('').length : k;
  }
}

export class DateDetector {
  readonly isNone: boolean;
  /** the templates in their starting order (the native matcher's template indexes) */
  readonly entries: readonly TemplateEntry[];
  private readonly slots: Slot[];
  private readonly defaultTz: number | undefined;
  // where the last date was found: position (code points) and the characters around its edges
  private lastPos: [number, string, string] = [1, '', ''];
  private lastEndPos: [number, string, string] = [FAR, '', ''];
  private lastIdx = FAR;
  private firstUnused = 0;
  /** the local wall clock of the last `now` (lines of a batch share one) */
  private nowLocal: NowInfo | undefined;

  constructor(opts: DateDetectorOptions = {}) {
    // the local year (localNaive also honours a POSIX rule in TZ)
    const year = new Date(localNaive(opts.now ?? Date.now() / 1000)).getUTCFullYear();
    try {
      this.defaultTz = logTimezoneOffset(opts.logtimezone);
    } catch (e) {
      throw new Error(`invalid logtimezone ${JSON.stringify(opts.logtimezone)}: ${(e as Error).message}`);
    }
    this.entries = parseDatePattern(opts.datepattern, year, opts.checkSyntaxOnly ? 'syntax' : 'compile');
    this.slots = this.entries.map(({ tpl, weight }) => ({
      tpl,
      weight,
      hits: 0,
      lastUsed: 0,
      distance: FAR,
      matched: 0,
    }));
    this.isNone = (opts.datepattern ?? '').trim().toUpperCase() === '{NONE}';
  }

  /** Hits per template name, in the current order of the templates (fail2ban-regex's summary). */
  get templateHits(): ReadonlyMap<string, number> {
    return new Map(this.slots.map((s) => [s.tpl.name, s.hits]));
  }

  /** Find the date in a line; `now` (epoch seconds) is the reference for year inference/roll-over. */
  match(line: string, now: number): DateMatch | null {
    const found = this.matchTime(line, now);
    if (!found) return null;
    const { m, slot } = found;
    const [start, end] = slot.tpl.span(m);
    let time = NaN;
    if (start !== end) {
      if (this.nowLocal?.now !== now) this.nowLocal = nowInfo(now);
      time = slot.tpl.toTime(m, { now: this.nowLocal, defaultTz: this.defaultTz });
    }
    return { time, start, end, template: slot.tpl.name };
  }

  /**
   * The time of a date another detector found (the native matcher, which finds where dates are
   * but leaves reading them to this): template `index` of `entries` matched `line` at `pos`,
   * searched up to `endpos`. NaN when the text is no valid date (or the template does not match
   * there).
   */
  timeAt(index: number, line: string, pos: number, endpos: number, now: number): number {
    const tpl = this.entries[index].tpl;
    const m = tpl.search(line, pos, endpos);
    if (!m || m.index !== pos) return NaN;
    if (this.nowLocal?.now !== now) this.nowLocal = nowInfo(now);
    return tpl.toTime(m, { now: this.nowLocal, defaultTz: this.defaultTz });
  }

  private search(slot: Slot, line: string, pos?: number, endpos?: number): PyMatch | null {
    const m = slot.tpl.search(line, pos, endpos);
    if (m) slot.matched++;
    return m;
  }

  // fail2ban's DateDetector.matchTime, step by step.
  private matchTime(line: string, now: number): { m: PyMatch; slot: Slot } | null {
    const slots = this.slots;
    const n = slots.length;
    let m: PyMatch | null = null;
    let found: Found | null = null;
    let skip = FAR;
    let i = this.lastIdx;
    let distance = 0;
    let endpos = 0;
    const cp = new CodePoints(line);

    // 1. the last winner, at the same place if the characters around that place still fit
    if (i < n) {
      const slot = slots[i];
      if (slot.tpl.flags & ANCHORED) {
        m = this.search(slot, line);
        skip = i;
      } else {
        const [d, before, first] = this.lastPos;
        const [e, last, after] = this.lastEndPos;
        const sameStart = cp.at(d - 1) === before || (cp.at(d) === first && !isAlnum(first));
        const sameEnd = cp.at(e) === after || (cp.at(e - 1) === last && !isAlnum(last));
        if (sameStart && sameEnd) {
          m = this.search(slot, line, cp.toUnits(d), e >= FAR ? FAR : cp.toUnits(e));
        } else {
          m = this.search(slot, line);
          skip = i;
        }
      }
      if (m) {
        distance = cp.fromUnits(m.index);
        endpos = cp.fromUnits(m.end);
        const accept = n === 1 || slot.tpl.flags & ANCHORED || (distance === this.lastPos[0] && endpos === this.lastEndPos[0]);
        if (!accept) {
          // moved: maybe a date-like text in the message; keep it as a candidate and search
          found = { m, distance, endpos, i };
          m = null;
        }
      }
    }

    // 2. all templates in order
    if (!m) {
      for (i = 0; i < n; i++) {
        if (i === skip) continue;
        const slot = slots[i];
        m = this.search(slot, line);
        if (!m) continue;
        distance = cp.fromUnits(m.index);
        endpos = cp.fromUnits(m.end);
        if (i + 1 >= n) break; // the last one
        if (slot.tpl.flags & ANCHORED) break; // anchored: first match wins
        if (distance === 0 && slot.hits && !slots[i + 1].matched) break; // next one never matched
        if (distance > slot.distance || distance > this.lastPos[0]) {
          // further right than before: keep the leftmost such candidate, search on
          if (distance < (found ? found.distance : FAR)) found = { m, distance, endpos, i };
          m = null;
          continue;
        }
        break;
      }
      if (!m && found) ({ m, distance, endpos, i } = found);
    }
    if (!m) return null;

    // 3. book-keeping for the next line
    const slot = slots[i];
    slot.hits++;
    slot.lastUsed = now;
    slot.distance = distance;
    if (this.firstUnused === i) this.firstUnused++;
    this.lastPos = [distance, cp.at(distance - 1), cp.at(distance)];
    // (Python's line[endpos-1] wraps to the last character when endpos is 0)
    this.lastEndPos = [endpos, endpos > 0 ? cp.at(endpos - 1) : cp.last(), cp.at(endpos)];
    if (i && i !== this.lastIdx) i = this.reorder(i);
    this.lastIdx = i;
    return { m, slot };
  }

  /** Move a winning template towards the front (fail2ban's _reorderTemplate); returns its index. */
  private reorder(num: number): number {
    const slots = this.slots;
    const slot = slots[num];
    const untime = slot.lastUsed - UNUSED_TIME;
    const weight = slotWeight(slot);
    let pos = this.firstUnused < num ? this.firstUnused : num >> 1;
    const movable = () => weight > slotWeight(slots[pos]) || untime > slots[pos].lastUsed;
    if (!movable()) {
      if (pos === num - 1) return num;
      pos = num - 1;
      if (!movable()) return num;
    }
    slots.splice(num, 1);
    slots.splice(pos, 0, slot);
    while (this.firstUnused < slots.length && slots[this.firstUnused].hits) this.firstUnused++;
    return pos;
  }
}

/** The line with the date span removed (before + after), as fail2ban builds the buffer. */
export function cutDate(line: string, m: DateMatch): string {
  return line.slice(0, m.start) + line.slice(m.end);
}
