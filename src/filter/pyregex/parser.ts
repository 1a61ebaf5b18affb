// Python `re` pattern syntax (CPython 3.11, str patterns) → AST. Accepts what CPython accepts and
// rejects what it rejects, with CPython's messages and (UTF-16) positions, so a filter that
// fail2ban refuses is refused here too. Two deliberate departures:
//  - fail2ban's flag rewrite: `((?i)X)` and `(?:(?i)X)` are read as the scoped `(?i:X)` (CPython
//    rejects them as misplaced global flags; fail2ban rewrites them before compiling);
//  - `\N{...}` and the obsolete TEMPLATE flag are refused as untranslatable.

import { Cat, ClassItem, Node, ParsedPattern } from './ast';
import { PyRegexError } from './error';
import { Source } from './source';
import { checkLookbehindWidths, MAXREPEAT, Width, width } from './width';

const MAXGROUPS = 1073741823;
const DIGITS = '0123456789';
const OCTDIGITS = '01234567';
const HEXDIGITS = '0123456789abcdefABCDEF';
const WHITESPACE = ' \t\n\r\v\f';
const SPECIAL = '.\\[{()*+?^$|';
const FLAG_LETTERS = 'iLmsxatu';
/** the `(?flags)` of fail2ban's ((?flags)X) → (?flags:X) rewrite */
const FLAG_GROUP = /\(\?[a-z]+\)/y;

const isAsciiLetter = (c: string) => /^[A-Za-z]$/.test(c);
const isIdentifier = (s: string) => /^[\p{XID_Start}_][\p{XID_Continue}]*$/u.test(s);

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  a: boolean; // ASCII (?a); Unicode otherwise
}

export interface ParseOptions {
  ignoreCase?: boolean;
  multiline?: boolean;
  dotAll?: boolean;
}

class Parser {
  private readonly src: Source;
  private groupCount = 0;
  private readonly names = new Map<string, number>();
  private readonly nameOf: Array<string | undefined> = [undefined];
  /** width of each closed group; undefined while open */
  private readonly widths: Array<Width | undefined> = [undefined];
  /** group count when the outermost enclosing lookbehind opened, or null */
  private lookbehindGroups: number | null = null;
  /** forward references from numbered conditionals: group → position */
  private readonly condRefPos = new Map<number, number>();
  private readonly globalFlags: Flags;
  private sawIgnoreCase = false;
  private sawCaseSensitive = false;
  private typeFlagsSeen = { a: false, u: false };

  constructor(private readonly pattern: string, opts: ParseOptions) {
    this.src = new Source(pattern);
    this.globalFlags = { i: !!opts.ignoreCase, m: !!opts.multiline, s: !!opts.dotAll, x: false, a: false };
  }

  parse(): ParsedPattern {
    const root = this.parseAlternation(this.globalFlags, 0);
    if (this.src.next !== null) throw this.src.error('unbalanced parenthesis');
    if (this.typeFlagsSeen.a && this.typeFlagsSeen.u) {
      throw new PyRegexError('ASCII and UNICODE flags are incompatible', this.pattern);
    }
    for (const [g, pos] of this.condRefPos) {
      if (g > this.groupCount) throw new PyRegexError(`invalid group reference ${g}`, this.pattern, pos);
    }
    checkLookbehindWidths(root, this.widths, this.pattern);
    return {
      root,
      groupCount: this.groupCount,
      nameOf: this.nameOf,
      mixedIgnoreCase: this.sawIgnoreCase && this.sawCaseSensitive,
    };
  }

  // a|b|c. `flags` is shared (and mutated by global flags) only at the top level.
  private parseAlternation(flags: Flags, depth: number): Node {
    const alts: Node[] = [];
    for (;;) {
      alts.push(this.parseSequence(flags, depth + 1, depth === 0 && alts.length === 0));
      if (!this.src.match('|')) break;
    }
    return alts.length === 1 ? alts[0] : { t: 'alt', alts };
  }

  private parseSequence(flags: Flags, depth: number, first: boolean): Node {
    const src = this.src;
    const items: Node[] = [];
    // what the last item was, for "nothing to repeat" / "multiple repeat"
    let lastKind: 'none' | 'at' | 'repeat' | 'other' = 'none';

    for (;;) {
      const tok = src.next;
      if (tok === null || tok === '|' || tok === ')') break;
      src.get();

      if (flags.x) {
        if (WHITESPACE.includes(tok)) continue;
        if (tok === '#') {
          for (;;) {
            const c = src.get();
            if (c === null || c === '\n') break;
          }
          continue;
        }
      }

      if (tok[0] === '\\') {
        const n = this.parseEscape(tok, flags);
        items.push(n);
        lastKind = n.t === 'at' ? 'at' : 'other';
      } else if (!SPECIAL.includes(tok)) {
        items.push(this.char(tok.codePointAt(0)!, flags));
        lastKind = 'other';
      } else if (tok === '[') {
        items.push(this.parseClass(flags));
        lastKind = 'other';
      } else if ('*+?{'.includes(tok)) {
        const here = src.tell();
        let min: number, max: number;
        if (tok === '?') [min, max] = [0, 1];
        else if (tok === '*') [min, max] = [0, Infinity];
        else if (tok === '+') [min, max] = [1, Infinity];
        else {
          if (src.next === '}') {
            items.push(this.char(0x7b, flags));
            lastKind = 'other';
            continue;
          }
          let lo = '', hi = '';
          while (src.next !== null && DIGITS.includes(src.next)) lo += src.get();
          if (src.match(',')) {
            while (src.next !== null && DIGITS.includes(src.next)) hi += src.get();
          } else hi = lo;
          if (!src.match('}')) {
            items.push(this.char(0x7b, flags));
            lastKind = 'other';
            src.seek(here);
            continue;
          }
          min = 0;
          max = Infinity;
          if (lo) {
            min = parseInt(lo, 10);
            if (min >= MAXREPEAT) throw new PyRegexError('the repetition number is too large', this.pattern, here);
          }
          if (hi) {
            max = parseInt(hi, 10);
            if (max >= MAXREPEAT) throw new PyRegexError('the repetition number is too large', this.pattern, here);
            if (max < min) throw src.error('min repeat greater than max repeat', src.tell() - here);
          }
        }
        if (lastKind === 'none' || lastKind === 'at') {
          throw src.error('nothing to repeat', src.tell() - here + tok.length);
        }
        if (lastKind === 'repeat') throw src.error('multiple repeat', src.tell() - here + tok.length);
        const body = items.pop()!;
        const lazy = src.match('?');
        const possessive = !lazy && src.match('+');
        items.push({ t: 'repeat', body, min, max, lazy, possessive, pos: here - tok.length });
        lastKind = 'repeat';
      } else if (tok === '.') {
        items.push({ t: 'any', s: flags.s });
        lastKind = 'other';
      } else if (tok === '(') {
        const r = this.parseParen(flags, depth, first && items.length === 0);
        if (r === 'global') {
          continue; // global flags: flags were updated in place
        }
        if (r === null) continue; // comment
        items.push(r);
        lastKind = 'other';
      } else if (tok === '^') {
        items.push({ t: 'at', at: 'bol', m: flags.m, a: flags.a });
        lastKind = 'at';
      } else if (tok === '$') {
        items.push({ t: 'at', at: 'eol', m: flags.m, a: flags.a });
        lastKind = 'at';
      }
    }
    return items.length === 1 ? items[0] : { t: 'seq', items };
  }

  private char(cp: number, flags: Flags): Node {
    this.noteCase(flags);
    return { t: 'char', cp, i: flags.i, a: flags.a };
  }

  private noteCase(flags: Flags): void {
    if (flags.i) this.sawIgnoreCase = true;
    else this.sawCaseSensitive = true;
  }

  /** returns a node, null for a comment, or 'global' after global flags */
  private parseParen(flags: Flags, depth: number, canBeGlobal: boolean): Node | null | 'global' {
    const src = this.src;
    const start = src.tell() - 1;
    let capture = true;
    let atomic = false;
    let name: string | undefined;
    let scoped: Flags = flags;

    if (src.match('?')) {
      const c = src.get();
      if (c === null) throw src.error('unexpected end of pattern');
      if (c === 'P') {
        if (src.match('<')) {
          name = src.getUntil('>', 'group name');
          this.checkGroupName(name, 1);
        } else if (src.match('=')) {
          const ref = src.getUntil(')', 'group name');
          this.checkGroupName(ref, 1);
          const gid = this.names.get(ref);
          if (gid === undefined) throw src.error(`unknown group name '${ref}'`, ref.length + 1);
          if (this.widths[gid] === undefined) throw src.error('cannot refer to an open group', ref.length + 1);
          this.checkLookbehindGroup(gid);
          this.noteCase(flags);
          return { t: 'backref', group: gid, i: flags.i, pos: start };
        } else {
          const c2 = src.get();
          if (c2 === null) throw src.error('unexpected end of pattern');
          throw src.error('unknown extension ?P' + c2, c2.length + 2);
        }
      } else if (c === ':') {
        capture = false;
        const f = this.fail2banFlagRewrite(flags);
        if (f) scoped = f;
      } else if (c === '#') {
        for (;;) {
          if (src.next === null) throw src.error('missing ), unterminated comment', src.tell() - start);
          if (src.get() === ')') break;
        }
        return null;
      } else if (c === '=' || c === '!' || c === '<') {
        let behind = false;
        let kind = c;
        let outerLookbehind: number | null = null;
        if (c === '<') {
          const c2 = src.get();
          if (c2 === null) throw src.error('unexpected end of pattern');
          if (c2 !== '=' && c2 !== '!') throw src.error('unknown extension ?<' + c2, c2.length + 2);
          kind = c2;
          behind = true;
          outerLookbehind = this.lookbehindGroups;
          if (outerLookbehind === null) this.lookbehindGroups = this.groupCount + 1;
        }
        const body = this.parseAlternation(flags, depth + 1);
        if (behind && outerLookbehind === null) this.lookbehindGroups = null;
        if (!src.match(')')) throw src.error('missing ), unterminated subpattern', src.tell() - start);
        return { t: 'look', behind, neg: kind === '!', body, pos: start };
      } else if (c === '(') {
        return this.parseConditional(flags, depth, start);
      } else if (c === '>') {
        capture = false;
        atomic = true;
      } else if (FLAG_LETTERS.includes(c) || c === '-') {
        const r = this.parseFlags(c, flags);
        if (r === 'global') {
          if (!canBeGlobal) {
            throw src.error('global flags not at the start of the expression', src.tell() - start);
          }
          return 'global';
        }
        capture = false;
        scoped = r;
      } else {
        throw src.error('unknown extension ?' + c, c.length + 1);
      }
    } else {
      const f = this.fail2banFlagRewrite(flags);
      if (f) {
        capture = false;
        scoped = f;
      }
    }

    let index = 0;
    if (capture) {
      index = ++this.groupCount;
      if (index >= MAXGROUPS) throw src.error('too many groups');
      this.widths.push(undefined);
      this.nameOf.push(name);
      if (name !== undefined) {
        const old = this.names.get(name);
        if (old !== undefined) {
          throw src.error(`redefinition of group name '${name}' as group ${index}; was group ${old}`, name.length + 1);
        }
        this.names.set(name, index);
      }
    }
    const body = this.parseAlternation(scoped, depth + 1);
    if (!src.match(')')) throw src.error('missing ), unterminated subpattern', src.tell() - start);
    if (capture) {
      this.widths[index] = width(body, this.widths);
      return { t: 'group', index, name, body, pos: start };
    }
    if (atomic) return { t: 'atomic', body, pos: start };
    return body; // a non-capturing group leaves no node: its body is one item of the sequence
  }

  /**
   * fail2ban rewrites `((?i)X)` and `(?:(?i)X)` to `(?i:X)` before compiling (failregex.py);
   * called just after `(` or `(?:`, it consumes the `(?flags)` and returns the scoped flags.
   */
  private fail2banFlagRewrite(flags: Flags): Flags | null {
    if (!this.src.lookingAt(FLAG_GROUP)) return null;
    this.src.seek(this.src.tell() + 2); // at the first letter, as after "(?"
    const first = this.src.get()!;
    if (!FLAG_LETTERS.includes(first)) throw this.src.error('unknown flag', 1);
    // parse "letters)" as if it read "letters:"; the closing ')' ends it like ':' would
    const r = this.parseFlags(first, flags, true);
    if (r === 'global') throw new Error('unreachable');
    return r;
  }

  /**
   * Parses inline flags after "(?" (first letter already read). Returns 'global' for "(?flags)"
   * (after applying them to the global flags) or the scoped flags for "(?flags-flags:".
   */
  private parseFlags(first: string, flags: Flags, rewrite = false): Flags | 'global' {
    const src = this.src;
    let c: string | null = first;
    const add = new Set<string>();
    const del = new Set<string>();
    if (c !== '-') {
      for (;;) {
        if (c === 'L') throw src.error("bad inline flags: cannot use 'L' flag with a str pattern");
        if (c === 't') throw src.error('the TEMPLATE flag is not supported');
        add.add(c);
        if (c === 'a' || c === 'u') {
          const other = c === 'a' ? 'u' : 'a';
          if (add.has(other)) throw src.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
        }
        c = src.get();
        if (c === null) throw src.error('missing -, : or )');
        if (c === ')' || c === '-' || c === ':') break;
        if (!FLAG_LETTERS.includes(c)) {
          throw src.error(/^\p{L}$/u.test(c) ? 'unknown flag' : 'missing -, : or )', c.length);
        }
      }
    }
    if (c === ')' && !rewrite) {
      for (const f of add) this.applyGlobalFlag(f);
      return 'global';
    }
    if (c === '-') {
      c = src.get();
      if (c === null) throw src.error('missing flag');
      if (!FLAG_LETTERS.includes(c)) throw src.error(/^\p{L}$/u.test(c) ? 'unknown flag' : 'missing flag', c.length);
      for (;;) {
        if (c === 'a' || c === 'u' || c === 'L') {
          throw src.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        }
        if (c === 't') throw src.error('bad inline flags: cannot turn off global flag', 1);
        del.add(c);
        c = src.get();
        if (c === null) throw src.error('missing :');
        if (c === ':') break;
        if (!FLAG_LETTERS.includes(c)) throw src.error(/^\p{L}$/u.test(c) ? 'unknown flag' : 'missing :', c.length);
      }
    }
    for (const f of add) if (del.has(f)) throw src.error('bad inline flags: flag turned on and off', 1);
    const out: Flags = { ...flags };
    if (add.has('a')) out.a = true;
    if (add.has('u')) out.a = false;
    for (const f of 'imsx') {
      if (add.has(f)) out[f as 'i' | 'm' | 's' | 'x'] = true;
      if (del.has(f)) out[f as 'i' | 'm' | 's' | 'x'] = false;
    }
    return out;
  }

  private applyGlobalFlag(f: string): void {
    const g = this.globalFlags;
    if (f === 'a') {
      g.a = true;
      this.typeFlagsSeen.a = true;
    } else if (f === 'u') this.typeFlagsSeen.u = true;
    else g[f as 'i' | 'm' | 's' | 'x'] = true;
  }

  private parseConditional(flags: Flags, depth: number, start: number): Node {
    const src = this.src;
    const condName = src.getUntil(')', 'group name');
    let group: number;
    if (isIdentifier(condName)) {
      const g = this.names.get(condName);
      if (g === undefined) throw src.error(`unknown group name '${condName}'`, condName.length + 1);
      group = g;
    } else {
      if (!/^[0-9]+$/.test(condName)) {
        throw src.error(`bad character in group name '${condName}'`, condName.length + 1);
      }
      group = parseInt(condName, 10);
      if (!group) throw src.error('bad group number', condName.length + 1);
      if (group >= MAXGROUPS) throw src.error(`invalid group reference ${group}`, condName.length + 1);
      if (!this.condRefPos.has(group)) this.condRefPos.set(group, src.tell() - condName.length - 1);
    }
    this.checkLookbehindGroup(group);
    const yes = this.parseSequence(flags, depth + 1, false);
    let no: Node | null = null;
    if (src.match('|')) {
      no = this.parseSequence(flags, depth + 1, false);
      if (src.next === '|') throw src.error('conditional backref with more than two branches');
    }
    if (!src.match(')')) throw src.error('missing ), unterminated subpattern', src.tell() - start);
    return { t: 'cond', group, yes, no, pos: start };
  }

  private checkGroupName(name: string, offset: number): void {
    if (!isIdentifier(name)) {
      throw this.src.error(`bad character in group name '${name}'`, name.length + offset);
    }
  }

  private checkLookbehindGroup(gid: number): void {
    if (this.lookbehindGroups === null) return;
    if (!(gid <= this.groupCount && this.widths[gid] !== undefined)) {
      throw this.src.error('cannot refer to an open group');
    }
    if (gid >= this.lookbehindGroups) {
      throw this.src.error('cannot refer to group defined in the same lookbehind subpattern');
    }
  }

  // ---- escapes ----

  /** hex/unicode/octal escapes shared by both contexts; returns a code point or null */
  private numericEscape(esc: string, inClass: boolean): number | null {
    const src = this.src;
    const c = esc[1];
    const fixed = (n: number) => {
      const digits = src.getWhile(n, HEXDIGITS);
      const full = esc + digits;
      if (digits.length !== n) throw src.error(`incomplete escape ${full}`, full.length);
      return parseInt(digits, 16);
    };
    if (c === 'x') return fixed(2);
    if (c === 'u') return fixed(4);
    if (c === 'U') {
      const digits = src.getWhile(8, HEXDIGITS);
      const full = esc + digits;
      if (digits.length !== 8) throw src.error(`incomplete escape ${full}`, full.length);
      const cp = parseInt(digits, 16);
      if (cp > 0x10ffff) throw src.error(`bad escape ${full}`, full.length);
      return cp;
    }
    if (c === 'N') throw src.error('\\N{...} named characters are not supported', 2);
    if (inClass && OCTDIGITS.includes(c)) {
      const full = esc + src.getWhile(2, OCTDIGITS);
      const cp = parseInt(full.slice(1), 8);
      if (cp > 0o377) throw src.error(`octal escape value ${full} outside of range 0-0o377`, full.length);
      return cp;
    }
    return null;
  }

  private parseEscape(esc: string, flags: Flags): Node {
    const src = this.src;
    const c = esc.slice(1);
    switch (c) {
      case 'A': return { t: 'at', at: 'A', m: flags.m, a: flags.a };
      case 'Z': return { t: 'at', at: 'Z', m: flags.m, a: flags.a };
      case 'b': return { t: 'at', at: 'b', m: flags.m, a: flags.a };
      case 'B': return { t: 'at', at: 'B', m: flags.m, a: flags.a };
      case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
        return { t: 'cat', cat: c as Cat, a: flags.a };
    }
    const simple = simpleEscape(c);
    if (simple !== null) return this.char(simple, flags);
    const num = this.numericEscape(esc, false);
    if (num !== null) return this.char(num, flags);
    if (c === '0') {
      const full = esc + src.getWhile(2, OCTDIGITS);
      return this.char(parseInt(full.slice(1), 8), flags);
    }
    if (DIGITS.includes(c)) {
      let full = esc;
      if (src.next !== null && DIGITS.includes(src.next)) {
        full += src.get();
        if (OCTDIGITS.includes(full[1]) && OCTDIGITS.includes(full[2]) && src.next !== null && OCTDIGITS.includes(src.next)) {
          full += src.get();
          const cp = parseInt(full.slice(1), 8);
          if (cp > 0o377) throw src.error(`octal escape value ${full} outside of range 0-0o377`, full.length);
          return this.char(cp, flags);
        }
      }
      const group = parseInt(full.slice(1), 10);
      if (group <= this.groupCount) {
        if (this.widths[group] === undefined) throw src.error('cannot refer to an open group', full.length);
        this.checkLookbehindGroup(group);
        this.noteCase(flags);
        return { t: 'backref', group, i: flags.i, pos: src.tell() - full.length };
      }
      throw src.error(`invalid group reference ${group}`, full.length - 1);
    }
    if (isAsciiLetter(c)) throw src.error(`bad escape ${esc}`, esc.length);
    return this.char(c.codePointAt(0)!, flags);
  }

  private classEscape(esc: string): ClassItem {
    const src = this.src;
    const c = esc.slice(1);
    if (c === 'b') return { t: 'range', lo: 8, hi: 8 };
    const simple = simpleEscape(c);
    if (simple !== null) return { t: 'range', lo: simple, hi: simple };
    if ('dDsSwW'.includes(c)) return { t: 'cat', cat: c as Cat };
    const num = this.numericEscape(esc, true);
    if (num !== null) return { t: 'range', lo: num, hi: num };
    if (DIGITS.includes(c) || isAsciiLetter(c)) throw src.error(`bad escape ${esc}`, esc.length);
    const cp = c.codePointAt(0)!;
    return { t: 'range', lo: cp, hi: cp };
  }

  private parseClass(flags: Flags): Node {
    const src = this.src;
    const here = src.tell() - 1;
    const items: ClassItem[] = [];
    const neg = src.match('^');
    for (;;) {
      const tok = src.get();
      if (tok === null) throw src.error('unterminated character set', src.tell() - here);
      if (tok === ']' && items.length > 0) break;
      const a: ClassItem = tok[0] === '\\' ? this.classEscape(tok) : lit(tok);
      if (src.match('-')) {
        const that = src.get();
        if (that === null) throw src.error('unterminated character set', src.tell() - here);
        if (that === ']') {
          items.push(a, lit('-'));
          break;
        }
        const b: ClassItem = that[0] === '\\' ? this.classEscape(that) : lit(that);
        if (a.t !== 'range' || b.t !== 'range' || b.lo < a.lo) {
          throw src.error(`bad character range ${tok}-${that}`, tok.length + 1 + that.length);
        }
        items.push({ t: 'range', lo: a.lo, hi: b.lo });
      } else items.push(a);
    }
    this.noteCase(flags);
    return { t: 'class', neg, items, i: flags.i, a: flags.a };
  }
}

function simpleEscape(c: string): number | null {
  switch (c) {
    case 'a': return 7;
    case 'f': return 12;
    case 'n': return 10;
    case 'r': return 13;
    case 't': return 9;
    case 'v': return 11;
    case '\\': return 92;
    default: return null;
  }
}

function lit(tok: string): ClassItem {
  const cp = tok.codePointAt(0)!;
  return { t: 'range', lo: cp, hi: cp };
}

/** Recent parses: a filter's regexes are parsed by the prefilter, the native matcher's emitter
 *  and the JS matcher alike. Cleared when full. */
const parsed = new Map<string, ParsedPattern>();
const PARSED_MAX = 4096;

/** The tree of a Python pattern (shared between callers: never change it). */
export function parsePython(pattern: string, opts: ParseOptions = {}): ParsedPattern {
  const key = `${opts.ignoreCase ? 'i' : ''}${opts.multiline ? 'm' : ''}${opts.dotAll ? 's' : ''}\0${pattern}`;
  let p = parsed.get(key);
  if (p) return p;
  p = new Parser(pattern, opts).parse();
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(key, p);
  return p;
}
