// Date templates: fail2ban's 17 default formats (+ 14 line-anchored copies), and the datepattern
// language that builds templates from a filter's `datepattern` lines ({^LN-BEG}, {DEFAULT},
// {NONE}, {DATE}, {UNB}, `**`, EPOCH, LEPOCH, TAI64N, %-directives in Python regex syntax).
//
// A template is immutable and cached by pattern; everything that changes while lines are read
// (hits, order, last position) belongs to the DateDetector.

import type { PyMatch, PyRegExp } from '../filter/pyregex';
import { PyRegexError } from '../filter/pyregex/error';
import { parsePython } from '../filter/pyregex/parser';
import { DIRECTIVES, Directive, directiveAt, directiveRegex, FieldIndexes, fieldIndexes, fieldsToTime, TimeContext } from './strptime';
import { toAsciiDigits } from './timezone';

// Template flags, as fail2ban uses them to pick a template.
export const WORD_END = 1;
export const WORD_BEGIN = 2;
export const LINE_END = 4;
export const LINE_BEGIN = 8;
/** a template anchored at the line start or end: its first match wins */
export const ANCHORED = LINE_BEGIN | LINE_END;

const LN_BEG = '{^LN-BEG}';
const UNB = '{UNB}';

// Placeholder characters: a %-directive, or one of fail2ban's boundary pieces, stands for its
// regex in the text while fail2ban's rules below read the text as written; expandPlaceholders
// writes them out just before the translation.
const DIRECTIVE_LIST: Directive[] = [...DIRECTIVES.values()];
const DIRECTIVE_INDEX = new Map(DIRECTIVE_LIST.map((d, i) => [d.key, i]));
const PH_GUARD_BEGIN = '\ue100';
const PH_GUARD_END = '\ue101';
const PH_LINE_BEGIN = '\ue102';
const phDirective = (d: Directive) => String.fromCharCode(0xe000 + DIRECTIVE_INDEX.get(d.key)!);
const HOUR_WITH_SPACE = new Set(['k', 'l', 'Exk', 'Exl'].map((k) => phDirective(DIRECTIVES.get(k)!)));
const isPlaceholder = (ch: string) => ch >= '\ue000' && ch <= '\ue1ff';

// fail2ban's boundary pieces. The two guards are written as equivalent lookarounds over the word
// class (they accept the same positions; on undated lines, where every template is tried, they
// measured up to 7% faster than fail2ban's alternations):
/** the word-begin guard `(?=^|\b|\W)`: false only between two word characters, or at the end
 *  after a non-word character */
const GUARD_BEGIN = '(?:^|(?<=\\w)(?!\\w)|(?<!\\w)(?=[\\s\\S]))';
/** the word-end guard `(?=\b|\W|$)`: false only between two word characters */
const GUARD_END = '(?!(?<=\\w)\\w)';
/** the line-begin prefix */
const LINE_BEGIN_RE = '^(?:\\W{0,2})?';

// Python's str.strip() whitespace
const PY_SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');

// The rules fail2ban applies to a template's regex text (Python syntax), in words:
/** starts at the line start (^, possibly inside leading groups) or with `**`: no word-begin guard */
const NO_BOUND_BEGIN = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/;
/** ends with an unescaped `$`, `\b`, `\s` or `**`: no word-end guard */
const NO_BOUND_END = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/;
/** has a capturing group written `(` (named groups `(?P<` do not count) */
const PLAIN_GROUP = /(?<!\(\?)(?<!\\)\((?!\?)/;
/** without a plain group, group 1 wraps all but the leading flags/`^` and a trailing `$` */
const WRAP_GROUP = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/su;
/** anchored at the line start / end */
const ANCHOR_BEGIN = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/;
const ANCHOR_END = /(?<![\\|])\$\)?$/;
/** the `**` markers that switched the guards off */
const STARS_BEGIN = /^\(*(?:\(\?\w+\))?\(*\*\*/;
const STARS_END = /(?<!\\)\*\*\)*$/;
/** the first inline flag group, e.g. the (?iu) added for month and day names */
const FLAGS = /\(\?[a-z]+\)/;
/** names of months/days or am/pm: match case-insensitively */
const ALPHA_DIRECTIVE = /(?<!%)%[aAbBpc]/;
const EPOCH_PLACEHOLDER = /(?<!\\)\{L?EPOCH\}/gi;
const DATE_PLACEHOLDER = /(?<!\\)\{DATE\}/gi;
/** the placeholder range, refused in user patterns */
const RESERVED = /[\ue000-\ue1ff]/;

type WordBegin = boolean | 'start';

interface Built {
  /** the Python pattern to compile (compileTemplate) */
  source: string;
  flags: number;
  /** the begin guard was the line-begin prefix: the name gets {^LN-BEG} */
  lineBegin: boolean;
}

/** The Python regex text of a template: placeholders written out. */
function expandPlaceholders(t: string, year: number): string {
  let out = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '\\') {
      if (isPlaceholder(t[i + 1] ?? '')) throw new Error('an escaped %-directive');
      out += t.slice(i, i + 2);
      i++;
    } else if (c === '[') {
      // a class: ']' right after '[' or '[^' is a literal
      const start = i++;
      if (t[i] === '^') i++;
      if (t[i] === ']') i++;
      while (i < t.length && t[i] !== ']') {
        if (isPlaceholder(t[i])) throw new Error('a %-directive inside a character class');
        i += t[i] === '\\' ? 2 : 1;
      }
      out += t.slice(start, i + 1);
    } else if (c === PH_GUARD_BEGIN) {
      out += GUARD_BEGIN;
    } else if (c === PH_GUARD_END) {
      out += GUARD_END;
    } else if (c === PH_LINE_BEGIN) {
      out += LINE_BEGIN_RE;
    } else if (isPlaceholder(c)) {
      out += directiveRegex(DIRECTIVE_LIST[c.charCodeAt(0) - 0xe000], year);
    } else {
      out += c;
    }
  }
  return out;
}

/** Runs f; a PyRegexError becomes an Error that reads as Python's, placed in the text. */
function pythonErrors<T>(py: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof PyRegexError)) throw e;
    // V8 quotes the whole generated source; keep its reason only
    let msg = e.message.replace(/Invalid regular expression: \/.*\/[a-z]*: /s, '');
    if (e.position !== undefined) {
      msg = `${msg.replace(/ at position \d+$/, '')} near ${JSON.stringify(py.slice(e.position, e.position + 16))}`;
    }
    throw new Error(msg);
  }
}

/** Compile a template's regex; errors read as Python's, placed in the expanded text. */
function compile(py: string): PyRegExp {
  // indices: group 1 is the span to cut and EPOCH/TAI64N read numbered groups
  // (loaded when a template is first compiled: most runs of `regex` never do)
  return pythonErrors(py, () => new (require('../filter/pyregex') as typeof import('../filter/pyregex')).PyRegExp(py, { indices: true }));
}

/**
 * fail2ban's DateTemplate.setRegex: add the word or line boundaries, make sure there is a group 1
 * (the text that gets cut out of the line), then compile.
 */
function build(text: string, wordBegin: WordBegin, wordEnd: boolean, year: number): Built {
  let t = text.replace(STRIP, '');
  if (HOUR_WITH_SPACE.has(t[0])) {
    // fail2ban strips the leading space of the expansion and cannot compile the rest
    throw new Error('a datepattern cannot start with %k, %l, %Exk or %Exl');
  }
  let gf = '';
  const fm = FLAGS.exec(t);
  if (fm) {
    gf = fm[0];
    t = t.slice(0, fm.index) + t.slice(fm.index + gf.length);
  }
  const boundBegin = wordBegin !== false && !NO_BOUND_BEGIN.test(t);
  const boundEnd = wordEnd && !NO_BOUND_END.test(t);
  if (!PLAIN_GROUP.test(t)) t = t.replace(WRAP_GROUP, '$1($2)$3');
  let flags = 0;
  let lineBegin = false;
  if (boundBegin) {
    if (wordBegin !== 'start') {
      flags |= WORD_BEGIN;
      t = PH_GUARD_BEGIN + t;
    } else {
      flags |= LINE_BEGIN;
      t = PH_LINE_BEGIN + t;
      lineBegin = true;
    }
  }
  if (boundEnd) {
    flags |= WORD_END;
    t += PH_GUARD_END;
  }
  if (!(flags & LINE_BEGIN) && ANCHOR_BEGIN.test(t)) flags |= LINE_BEGIN;
  if (!(flags & LINE_END) && ANCHOR_END.test(t)) flags |= LINE_END;
  t = t.replace(STARS_BEGIN, (s) => s.replace('**', '')).replace(STARS_END, (s) => s.replace('**', ''));
  return { source: expandPlaceholders(gf + t, year), flags, lineBegin };
}

function compileTemplate(source: string): PyRegExp {
  const re = compile(source);
  if (re.groupCount < 1) throw new Error('the pattern has no group 1 to cut out of the line');
  return re;
}

export abstract class DateTemplate {
  /** the name fail2ban prints (fail2ban-regex "Date template hits") */
  abstract readonly name: string;
  abstract readonly flags: number;
  /** the Python pattern; compiled on first use (most of the 31 default templates never are:
   *  compiling them all cost a `regex` run some 150 ms of start-up here) */
  protected abstract readonly source: string;
  private compiled?: PyRegExp;

  protected get re(): PyRegExp {
    return (this.compiled ??= compileTemplate(this.source));
  }

  /** Compile now: a datepattern from the configuration reports its errors at start-up. */
  compileNow(): this {
    void this.re;
    return this;
  }

  /** Check the pattern's Python syntax now, compiling it for JavaScript only when first used
   *  (the native matcher compiles its own form; JavaScript then reads only a few dates). */
  checkNow(): this {
    if (!this.compiled) {
      pythonErrors(this.source, () => {
        const p = parsePython(this.source, {});
        if (p.groupCount < 1) throw new Error('the pattern has no group 1 to cut out of the line');
      });
    }
    return this;
  }

  /** The Python pattern (the native matcher compiles it too). */
  get pythonSource(): string {
    return this.source;
  }

  /**
   * Where the text this template cuts out of a line (group 1) begins: at the line start
   * ('start'), after at most two non-word characters ('nonword2', the {^LN-BEG} prefix), or
   * anywhere ('any'). The prefilter uses it: with the cut at the start, a literal that begins
   * with a word character is never split by it.
   */
  get cutPlace(): 'start' | 'nonword2' | 'any' {
    const t = this.source.replace(/^\(\?[a-zA-Z]+\)/, '');
    if (t.startsWith('^(') && t[2] !== '?') return 'start';
    const lb = `${LINE_BEGIN_RE}(`;
    if (t.startsWith(lb) && t[lb.length] !== '?') return 'nonword2';
    return 'any';
  }

  /** Python's `regex.search(line, pos, endpos)`. */
  search(line: string, pos = 0, endpos = line.length): PyMatch | null {
    return this.re.search(endpos < line.length ? line.slice(0, endpos) : line, pos);
  }

  /** UTF-16 span of group 1 (the text fail2ban cuts out); empty at the match start if unset. */
  span(m: PyMatch): [number, number] {
    return m.groupSpan(1) ?? [m.index, m.index];
  }

  /** Epoch seconds of a match, NaN when the text is not a valid date. */
  abstract toTime(m: PyMatch, ctx: TimeContext): number;
}

/** A datepattern with %-directives (fail2ban's DatePatternRegex). */
export class PatternTemplate extends DateTemplate {
  readonly name: string;
  readonly flags: number;
  protected readonly source: string;
  private fieldIndexes?: FieldIndexes;

  constructor(readonly pattern: string, year: number) {
    super();
    let p = pattern;
    let wordBegin: WordBegin = true;
    let wordEnd = true;
    if (p.startsWith(UNB)) {
      p = p.slice(UNB.length);
      wordBegin = wordEnd = false;
    }
    if (wordBegin && p.startsWith(LN_BEG)) {
      p = p.slice(LN_BEG.length);
      wordBegin = 'start';
    }
    let text = '';
    let name = '';
    for (let i = 0; i < p.length; i++) {
      const c = p[i];
      if (c !== '%') {
        text += c;
        name += c;
        continue;
      }
      const d = directiveAt(p, i + 1);
      if (!d) throw new Error(`invalid format or unescaped percent char at position ${i}`);
      if (d.key === '%') text += '%';
      else text += phDirective(d);
      name += d.name;
      i += d.key.length;
    }
    if (ALPHA_DIRECTIVE.test(p)) text = '(?iu)' + text;
    const b = build(text, wordBegin, wordEnd, year);
    this.source = b.source;
    this.flags = b.flags;
    this.name = b.lineBegin && !name.startsWith(LN_BEG) ? LN_BEG + name : name;
  }

  toTime(m: PyMatch, ctx: TimeContext): number {
    return fieldsToTime((this.fieldIndexes ??= fieldIndexes(this.re.groupIndex)), m, ctx);
  }
}

const EPOCH_RE = '\\d{10,11}\\b(?:\\.\\d{3,6})?';
const LONG_EPOCH_RE = '\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?';

/** Seconds since the epoch (EPOCH), or milli/microseconds (LEPOCH), alone or inside a pattern. */
export class EpochTemplate extends DateTemplate {
  readonly name: string;
  readonly flags: number;
  protected readonly source: string;
  private readonly group: number;
  private readonly long: boolean;

  constructor(opts: { lineBegin?: boolean; pattern?: string; long: boolean }, year: number) {
    super();
    const digits = opts.long ? LONG_EPOCH_RE : EPOCH_RE;
    let b: Built;
    if (opts.pattern !== undefined) {
      // {EPOCH} inside a regex: group 1 is the whole match, group 2 the number
      b = build('(' + opts.pattern.replace(EPOCH_PLACEHOLDER, () => `(${digits})`) + ')', true, true, year);
      this.group = 2;
      this.name = opts.pattern;
    } else if (!opts.lineBegin) {
      // at the line start, right after a '[' that starts the line, or in SELinux "audit(...:"
      b = build(`((?:^|(?<=^\\[)|(?<=\\baudit\\())${digits})`, false, true, year);
      this.group = 1;
      this.name = opts.long ? 'LongEpoch' : 'Epoch';
    } else {
      b = build(`(${digits})`, 'start', true, year);
      this.group = 1;
      this.name = LN_BEG + (opts.long ? 'LongEpoch' : 'Epoch');
    }
    this.source = b.source;
    this.flags = b.flags;
    this.long = opts.long;
  }

  toTime(m: PyMatch): number {
    const raw = m.group(this.group);
    if (raw === undefined) return NaN;
    const v = toAsciiDigits(raw);
    let t = Number(v);
    if (this.long && v.length >= 13) t = v.length >= 16 && !v.includes('.') ? t / 1e6 : t / 1e3;
    return t;
  }
}

/** TAI64N labels, `@` and 24 hex digits (daemontools, dovecot). */
export class Tai64nTemplate extends DateTemplate {
  readonly name: string;
  readonly flags: number;
  protected readonly source: string;

  constructor(lineBegin: boolean, year: number) {
    super();
    const b = build('@[0-9a-f]{24}', lineBegin ? 'start' : false, true, year);
    this.source = b.source;
    this.flags = b.flags;
    this.name = lineBegin ? LN_BEG + 'TAI64N' : 'TAI64N';
  }

  toTime(m: PyMatch): number {
    // fail2ban reads the 15 hex digits after "@4" as the seconds (no TAI-UTC correction)
    return Number(BigInt('0x' + m.group(1)!.slice(2, 17)));
  }
}

// ---- the template cache and the datepattern language -----------------------------------------

const cache = new Map<string, DateTemplate>();

/** The template for one pattern (fail2ban's _getPatternTemplate), cached per %ExY year. */
export function makeTemplate(pattern: string, year: number): DateTemplate {
  const ck = `${year}\0${pattern}`;
  let t = cache.get(ck);
  if (t) return t;
  if (RESERVED.test(pattern)) throw new Error('characters U+E000..U+E1FF are reserved');
  const key = pattern.includes('%') ? pattern : pattern.toUpperCase();
  if (key.includes('EPOCH')) {
    EPOCH_PLACEHOLDER.lastIndex = 0;
    if (EPOCH_PLACEHOLDER.test(pattern)) t = new EpochTemplate({ pattern, long: key.includes('LEPOCH') }, year);
    else if (key === 'EPOCH' || key === LN_BEG + 'EPOCH' || key === '^EPOCH') t = new EpochTemplate({ lineBegin: key !== 'EPOCH', long: false }, year);
    else if (key === 'LEPOCH' || key === LN_BEG + 'LEPOCH' || key === '^LEPOCH') t = new EpochTemplate({ lineBegin: key !== 'LEPOCH', long: true }, year);
  }
  if (!t) {
    if (key === 'TAI64N' || key === LN_BEG + 'TAI64N' || key === '^TAI64N') t = new Tai64nTemplate(key !== 'TAI64N', year);
    else t = new PatternTemplate(pattern, year);
  }
  cache.set(ck, t);
  return t;
}

/**
 * fail2ban's 17 default formats, in its order, written as datepatterns. The comment above each
 * gives an example of the dates it reads.
 */
export const DEFAULT_PATTERNS: readonly string[] = [
  // 2026-03-04 05:06:07, 2026/03/04T05:06:07.891+01:00, 2026.03.04  5:06:07 (ISO 8601 and kin)
  '%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?',
  // Wed Mar  4 05:06:07.891 2026 (asctime; syslog without the year)
  '(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  // Wed Mar 4 2026 05:06:07
  '(?:%a )?%b %d %ExY %k:%M:%S(?:\\.%f)?',
  // 04/03/2026 05:06:07, 04-03-26 5:06:07 (day first)
  '%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S',
  // 04/Mar/2026:05:06:07 +0100 (Apache), 04-Mar-2026 05:06:07.891
  '%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\\.%f)?(?: %z)?',
  // 03/04/2026:05:06:07 (cPanel)
  '%m/%d/%ExY:%H:%M:%S',
  // 03-04-2026 05:06:07.891 (month first)
  '%m-%d-%ExY %k:%M:%S(?:\\.%f)?',
  // 1772600767.891
  'EPOCH',
  // 05:06:07 at the line start (time only: today or yesterday)
  '{^LN-BEG}%H:%M:%S',
  // <03/04/26@05:06:07>
  '^<%m/%d/%Exy@%H:%M:%S>',
  // 260304 05:06:07 (MySQL)
  '%Exy%Exm%Exd  ?%H:%M:%S',
  // Mar 04, 2026 5:06:07 AM (Tomcat)
  '%b %d, %ExY %I:%M:%S %p',
  // Mar-04-26 05:06:07 at the line start (ASSP)
  '^%b-%d-%Exy %k:%M:%S',
  // 20260304T050607.891 +0100 (compact ISO)
  '%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\\s*%z)?',
  // CET Mar 4 05:06:07 (monit: a zone name first)
  '(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  // +01:00 Mar 4 05:06:07 (a zone offset first)
  '(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  // @4000000069a7bdbf00000000 (TAI64N)
  'TAI64N',
];

export interface TemplateEntry {
  tpl: DateTemplate;
  /** fail2ban's template weight: 100 for the line-anchored copies of the defaults, else 1 */
  weight: number;
}

interface Defaults {
  base: DateTemplate[];
  /** anchored copies first, then the base templates */
  all: DateTemplate[];
  anchoredCopies: Set<DateTemplate>;
}

const defaultsByYear = new Map<number, Defaults>();

function defaults(year: number): Defaults {
  let d = defaultsByYear.get(year);
  if (d) return d;
  const base = DEFAULT_PATTERNS.map((p) => makeTemplate(p, year));
  const anchored: DateTemplate[] = [];
  for (const t of base) {
    if (t.name.startsWith(LN_BEG) || t.name.startsWith('^')) continue;
    const copy = makeTemplate(LN_BEG + (t instanceof PatternTemplate ? t.pattern : t.name), year);
    if (copy.name !== t.name) anchored.push(copy);
  }
  d = { base, all: [...anchored, ...base], anchoredCopies: new Set(anchored) };
  defaultsByYear.set(year, d);
  return d;
}

/** The 31 default templates (fail2ban's `{DEFAULT}`). */
export function defaultTemplates(year: number): TemplateEntry[] {
  const d = defaults(year);
  return d.all.map((tpl) => ({ tpl, weight: d.anchoredCopies.has(tpl) ? 100 : 1 }));
}

/** fail2ban's unboundPattern: a pattern without its boundary markers, for use inside {DATE}. */
function unbound(p: string): string {
  return p
    .replace(/^\{UNB\}/, '')
    .replace(/^\{\^LN-BEG\}/, '')
    .replace(/^\((?:\?:)?\^\|\\b\|\\W\)/, '')
    .replace(/\(\?=\\b\|\\W\|\$\)$/, '');
}

/**
 * The templates of a `datepattern` value: one pattern per line (blank lines ignored); undefined,
 * empty or `{DEFAULT}` gives the 31 defaults. Throws on an invalid pattern: with `check` =
 * 'syntax', only the Python syntax of a configured pattern is checked now (the JavaScript form is
 * compiled when first used).
 */
export function parseDatePattern(datepattern: string | undefined, year: number, check: 'compile' | 'syntax' = 'compile'): TemplateEntry[] {
  const lines = (datepattern ?? '')
    .split(/\n+/)
    .map((l) => l.replace(STRIP, ''))
    .filter((l) => l !== '');
  if (lines.length === 0) return defaultTemplates(year);
  const d = defaults(year);
  const out: TemplateEntry[] = [];
  const names = new Set<string>();
  // a pattern from the configuration reports its errors now
  const now = (t: DateTemplate) => (check === 'compile' ? t.compileNow() : t.checkNow());
  const add = (tpl: DateTemplate, ignoreDup: boolean) => {
    if (names.has(tpl.name)) {
      if (ignoreDup) return;
      throw new Error(`there is already a template with name ${tpl.name}`);
    }
    names.add(tpl.name);
    out.push({ tpl, weight: d.anchoredCopies.has(tpl) ? 100 : 1 });
  };
  for (const line of lines) {
    const key = line.includes('%') ? line : line.toUpperCase();
    const ignoreDup = out.length > 0;
    try {
      if (key === LN_BEG || key === '{DEFAULT}') {
        for (const t of d.all) if (key !== LN_BEG || t.flags & LINE_BEGIN) add(t, ignoreDup);
      } else if (key.includes('{DATE}')) {
        // each base format substituted into the pattern; the first one compiled now, so that
        // an error in the text around {DATE} is reported at start-up
        d.base.forEach((t, i) => {
          const wrap = (s: string) => line.replace(DATE_PLACEHOLDER, () => unbound(s));
          const tpl = makeTemplate(wrap(t instanceof PatternTemplate ? t.pattern : t.name), year);
          add(i === 0 ? now(tpl) : tpl, ignoreDup);
        });
      } else if (key === '{NONE}') {
        add(now(makeTemplate('{UNB}^', year)), false);
      } else {
        add(now(makeTemplate(line, year)), false);
      }
    } catch (e) {
      throw new Error(`invalid datepattern ${JSON.stringify(line)}: ${(e as Error).message}`);
    }
  }
  return out;
}
