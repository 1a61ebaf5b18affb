// AST → PCRE2 source with the meaning CPython's `re` gives the pattern, for the native matcher
// (native/match/Regex.hh). PCRE2 is a backtracking engine with Python's own constructs (lookbehind,
// conditionals, backreferences, atomic groups, possessive repeats) and Python's `$` (end, or before
// a final newline), so most of the pattern is written as is. What is spelled out:
//
//  - every capturing group becomes a plain `(...)`: PCRE2 numbers them as Python does, and the
//    names travel beside the source (`names`), so Python names PCRE2 would not take are no issue;
//    backreferences and conditionals use the numbers;
//  - `\s` is Python's whitespace set (PCRE2's UCP `\s` lacks \x1c-\x1f and adds U+180E); `\d`,
//    `\w` and `\b` are PCRE2's UCP ones, which are Python's (\p{Nd}; \p{L}, \p{N} and `_`);
//  - IGNORECASE is Python's equivalence (./unicode.ts caseClass), written out as classes, not
//    PCRE2's caseless mode, whose folding differs for a few letters;
//  - ASCII mode (?a) writes the ASCII classes, and `\b` as lookarounds over them;
//  - `.` stops at `\n` only (the subject is compiled with PCRE2_NEWLINE_LF), `^` in MULTILINE also
//    matches after a final newline (PCRE2_ALT_CIRCUMFLEX), `\Z` is PCRE2's `\z`;
//  - `X?` over a body that can match "" is `(?:X|)`, as in the JS emitter: CPython's meaning.
//
// The flags the source needs are PCRE2_UTF | PCRE2_UCP | PCRE2_ALT_CIRCUMFLEX, newline LF; the
// native side sets them. A pattern PCRE2 cannot take (a repeat count over 65535) throws.

import { Cat, ClassItem, Node, ParsedPattern } from './ast';
import { PyRegexError } from './error';
import { ASCII_DIGIT, ASCII_SPACE, ASCII_WORD, Ranges, UNICODE_SPACE, caseClass, caseClose, complement, normalise } from './unicode';
import { width } from './width';

export interface PcreTranslation {
  /** for any line (PCRE2_UTF | PCRE2_UCP) */
  source: string;
  /**
   * the same pattern for lines of ASCII characters only, compiled without UTF (one byte, one
   * character): what it matches on such a line is what `source` matches, and PCRE2 runs it
   * several times faster; characters outside ASCII are left out of every class, a literal one
   * never matches
   */
  ascii: string;
  /** Python group name per group number of the PCRE2 forms (index 0 unused; null for an
   *  unnamed group); with `keep`, the kept groups only */
  names: Array<string | null>;
  /**
   * a group whose `.+$` tail was written as `(?=.)` (see restTail): its value runs to the end of
   * the subject before the final newline; 0 = none
   */
  rest: number;
}

export interface PcreOptions {
  /**
   * The groups the caller reads (by Python group number; groups that a backreference or a
   * conditional names are kept anyway): the others are written as non-capturing, which PCRE2
   * runs faster, and the kept ones renumbered in order (see PcreTranslation.names). Default:
   * every group.
   */
  keep?: (group: number, name: string | undefined) => boolean;
  /**
   * The subject is one line and a final newline (a fail2ban buffer with maxlines = 1): a
   * trailing `.+$` of the pattern (fail2ban's `<F-CONTENT>.+</F-CONTENT>$`) then matches exactly
   * when one character is left before the newline, and is written `(?=.)` instead of walking to
   * the end; the match's end then no longer covers that tail (the group in `rest` does, once the
   * caller extends it).
   */
  singleLine?: boolean;
}

/** PCRE2's largest repeat count */
const MAX_REPEAT = 65535;

/** one code point in PCRE2 syntax, inside a class (`inClass`) or outside */
function cpText(cp: number, inClass: boolean): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCharCode(cp);
  if (cp > 0x20 && cp < 0x7f) {
    const ch = String.fromCharCode(cp);
    // a backslash before any non-alphanumeric ASCII character is that character, in PCRE2
    return (inClass ? '\\]-[^' : '^$\\.*+?()[]{}|#').includes(ch) ? `\\${ch}` : ch;
  }
  return `\\x{${cp.toString(16)}}`;
}

function rangesText(r: Ranges): string {
  let s = '';
  for (const [lo, hi] of r) {
    s += cpText(lo, true);
    if (hi > lo) s += (hi > lo + 1 ? '-' : '') + cpText(hi, true);
  }
  return s;
}

const SPACE_BODY = rangesText(UNICODE_SPACE);
// Python's \s within ASCII (Unicode or not, it has \x1c-\x1f)
const ASCII_SPACE_BODY = '\\t-\\r\\x{1c}-\\x{20}';
const ASCII_WORD_CLASS = '[0-9A-Z_a-z]';

/** A shorthand. In the ASCII form (`bytes`) the subject holds ASCII only: ASCII classes. */
function catText(cat: Cat, ascii: boolean, bytes: boolean): string {
  const a = ascii || bytes;
  switch (cat) {
    case 'd': return a ? '[0-9]' : '\\d';
    case 'D': return a ? '[^0-9]' : '\\D';
    case 'w': return a ? ASCII_WORD_CLASS : '\\w';
    case 'W': return a ? '[^0-9A-Z_a-z]' : '\\W';
    case 's': return ascii ? '[\\t-\\r ]' : bytes ? `[${ASCII_SPACE_BODY}]` : `[${SPACE_BODY}]`;
    case 'S': return ascii ? '[^\\t-\\r ]' : bytes ? `[^${ASCII_SPACE_BODY}]` : `[^${SPACE_BODY}]`;
  }
}

/** `.+` (greedy, not DOTALL) */
const isDotPlus = (n: Node) => n.t === 'repeat' && n.min === 1 && n.max === Infinity && !n.lazy && !n.possessive && n.body.t === 'any' && !n.body.s;

class PcreEmitter {
  /** the group restTail rewrote */
  rest = 0;

  /** `bytes`: the ASCII form (see PcreTranslation.ascii); `number`: the PCRE2 number of each
   *  Python group, 0 for a group written as non-capturing */
  constructor(private readonly pattern: string, private readonly bytes: boolean, private readonly number: number[]) {}

  emit(n: Node): string {
    switch (n.t) {
      case 'seq': return n.items.map((x) => this.item(x)).join('');
      case 'alt': return n.alts.map((x) => this.emit(x)).join('|');
      case 'char': return this.char(n.cp, n.i, n.a);
      case 'class': return this.cls(n.items, n.neg, n.i, n.a);
      case 'cat': return catText(n.cat, n.a, this.bytes);
      case 'any': return n.s ? '(?s:.)' : '.';
      case 'at': return this.at(n.at, n.m, n.a);
      case 'group': return `(${this.number[n.index] ? '' : '?:'}${this.emit(n.body)})`;
      case 'look': return `(?${n.behind ? '<' : ''}${n.neg ? '!' : '='}${this.emit(n.body)})`;
      case 'atomic': return `(?>${this.emit(n.body)})`;
      case 'repeat': return this.repeat(n);
      case 'backref': return n.i ? `(?i:\\g{${this.number[n.group]}})` : `\\g{${this.number[n.group]}}`;
      case 'cond': {
        const g = this.number[n.group];
        const yes = `(?:${this.emit(n.yes)})`;
        return n.no === null ? `(?(${g})${yes})` : `(?(${g})${yes}|(?:${this.emit(n.no)}))`;
      }
    }
  }

  /**
   * The whole pattern; with `singleLine`, a trailing `.+$` (or a last group ending in `.+`
   * before that `$`) is written as `(?=.)` (see PcreOptions).
   */
  root(n: Node, singleLine: boolean): string {
    const items = n.t === 'seq' ? n.items : [n];
    const last = items[items.length - 1];
    if (singleLine && items.length >= 2 && last.t === 'at' && last.at === 'eol' && !last.m) {
      const tail = items[items.length - 2];
      const head = items.slice(0, -2).map((x) => this.item(x)).join('');
      if (isDotPlus(tail)) return `${head}(?=.)`;
      if (tail.t === 'group') {
        const body = tail.body.t === 'seq' ? tail.body.items : [tail.body];
        if (body.length && isDotPlus(body[body.length - 1]) && this.number[tail.index]) {
          this.rest = this.number[tail.index];
          return `${head}(${body.slice(0, -1).map((x) => this.item(x)).join('')}(?=.))`;
        }
      }
    }
    return this.emit(n);
  }

  /** one item of a sequence */
  private item(x: Node): string {
    return x.t === 'alt' ? `(?:${this.emit(x)})` : this.emit(x);
  }

  private repeat(n: Extract<Node, { t: 'repeat' }>): string {
    const body = this.emit(n.body);
    // CPython takes an empty pass of `X?` as the pass (group values set); so does `(?:X|)`
    if (n.min === 0 && n.max === 1 && !n.possessive && width(n.body, []).at(0) === 0) {
      return n.lazy ? `(?:|${body})` : `(?:${body}|)`;
    }
    if (n.min > MAX_REPEAT || (n.max !== Infinity && n.max > MAX_REPEAT)) {
      throw new PyRegexError(`a repeat count over ${MAX_REPEAT} (PCRE2's limit)`, this.pattern, n.pos);
    }
    let q: string;
    if (n.max === Infinity) q = n.min === 0 ? '*' : n.min === 1 ? '+' : `{${n.min},}`;
    else if (n.min === 0 && n.max === 1) q = '?';
    else q = n.min === n.max ? `{${n.min}}` : `{${n.min},${n.max}}`;
    // one item takes the quantifier as it is: PCRE2 optimises `\d+` better than `(?:\d)+`
    const single = ['char', 'class', 'cat', 'any', 'group', 'backref'].includes(n.body.t) && !body.startsWith('(?') && !body.startsWith('(*');
    return `${single ? body : `(?:${body})`}${q}${n.lazy ? '?' : n.possessive ? '+' : ''}`;
  }

  private char(cp: number, i: boolean, ascii: boolean): string {
    let cls = i ? caseClass(cp, ascii) : [cp];
    if (this.bytes) cls = cls.filter((c) => c < 0x80);
    if (cls.length === 0) return '(*FAIL)';
    if (cls.length > 1) return `[${rangesText(normalise(cls.map((c): [number, number] => [c, c])))}]`;
    return cpText(cls[0], false);
  }

  private cls(items: ClassItem[], neg: boolean, i: boolean, ascii: boolean): string {
    let literal: Ranges = [];
    const sets: Ranges = [];
    const props: string[] = [];
    for (const it of items) {
      if (it.t === 'range') {
        literal.push([it.lo, it.hi]);
        continue;
      }
      switch (it.cat) {
        case 'd': if (ascii) sets.push(...ASCII_DIGIT); else props.push('\\d'); break;
        case 'D': if (ascii) sets.push(...complement(ASCII_DIGIT)); else props.push('\\D'); break;
        case 'w': if (ascii) sets.push(...ASCII_WORD); else props.push('\\w'); break;
        case 'W': if (ascii) sets.push(...complement(ASCII_WORD)); else props.push('\\W'); break;
        case 's': sets.push(...(ascii ? ASCII_SPACE : UNICODE_SPACE)); break;
        case 'S': sets.push(...complement(ascii ? ASCII_SPACE : UNICODE_SPACE)); break;
      }
    }
    if (i) literal = caseClose(literal, ascii);
    let ranges = normalise([...literal, ...sets]);
    if (this.bytes) {
      // the subject is ASCII: the rest of the class can never be tested
      ranges = ranges.filter(([lo]) => lo < 0x80).map(([lo, hi]): [number, number] => [lo, Math.min(hi, 0x7f)]);
      for (const p of props) {
        ranges.push(...(p === '\\d' ? ASCII_DIGIT : p === '\\D' ? complement(ASCII_DIGIT) : p === '\\w' ? ASCII_WORD : complement(ASCII_WORD)).filter(([lo]) => lo < 0x80).map(([lo, hi]): [number, number] => [lo, Math.min(hi, 0x7f)]));
      }
      ranges = normalise(ranges);
      props.length = 0;
    }
    const body = rangesText(ranges) + [...new Set(props)].join('');
    // an empty class: Python's [^\x00-\U0010ffff] never matches, and [] cannot be written
    if (body === '') return neg ? '(?s:.)' : '(*FAIL)';
    return neg ? `[^${body}]` : `[${body}]`;
  }

  private at(at: Extract<Node, { t: 'at' }>['at'], multiline: boolean, ascii: boolean): string {
    switch (at) {
      case 'bol': return multiline ? '(?m:^)' : '^';
      case 'eol': return multiline ? '(?m:$)' : '$';
      case 'A': return '\\A';
      case 'Z': return '\\z';
      case 'b':
        // (in the ASCII form PCRE2's own \b is ASCII's: it runs without UCP)
        if (!ascii || this.bytes) return '\\b';
        return `(?:(?<=${ASCII_WORD_CLASS})(?!${ASCII_WORD_CLASS})|(?<!${ASCII_WORD_CLASS})(?=${ASCII_WORD_CLASS}))`;
      case 'B':
        // CPython's \B never matches in an empty string
        if (!ascii || this.bytes) return '\\B(?!\\A\\z)';
        return `(?:(?<=${ASCII_WORD_CLASS})(?=${ASCII_WORD_CLASS})|(?<!${ASCII_WORD_CLASS})(?!${ASCII_WORD_CLASS})(?!\\A\\z))`;
    }
  }
}

/** Python group numbers that a backreference or a conditional names. */
function referenced(n: Node, out = new Set<number>()): Set<number> {
  switch (n.t) {
    case 'seq': for (const x of n.items) referenced(x, out); break;
    case 'alt': for (const x of n.alts) referenced(x, out); break;
    case 'group': case 'look': case 'atomic': case 'repeat': referenced(n.body, out); break;
    case 'backref': out.add(n.group); break;
    case 'cond':
      out.add(n.group);
      referenced(n.yes, out);
      if (n.no) referenced(n.no, out);
      break;
    default: break;
  }
  return out;
}

/** The PCRE2 forms of a parsed Python pattern; throws PyRegexError where PCRE2 cannot follow. */
export function emitPcre(p: ParsedPattern, pattern: string, opts: PcreOptions = {}): PcreTranslation {
  const refs = opts.keep ? referenced(p.root) : undefined;
  const number: number[] = [0];
  const names: Array<string | null> = [null];
  for (let g = 1; g <= p.groupCount; g++) {
    const keep = !opts.keep || refs!.has(g) || opts.keep(g, p.nameOf[g]);
    number.push(keep ? names.length : 0);
    if (keep) names.push(p.nameOf[g] ?? null);
  }
  const utf = new PcreEmitter(pattern, false, number);
  const source = utf.root(p.root, !!opts.singleLine);
  const ascii = new PcreEmitter(pattern, true, number).root(p.root, !!opts.singleLine);
  return { source, ascii, names, rest: utf.rest };
}
