// Datepattern text is Python `re` syntax (with %-directives, expanded elsewhere into placeholder
// characters). This turns it into a JS RegExp source for the `u` flag with Python's meaning:
// Unicode `\d \w \s \b`, `.` stopping only at `\n`, `$` also before a final `\n`, `(?P<n>`,
// `(?P=n)`, `{,n}`, leading global flags. Only what datepatterns need; conditionals, scoped flags
// and negated shorthands inside classes are refused with a clear message.
// TODO(pyregex): merge with src/filter/pyregex.ts (PyRegExp) once it can keep unnamed capturing
// groups (today it emits them as non-capturing: only named groups survive). The date detector
// cuts fail2ban's numbered group 1 and expands %-directive placeholders inside the text.

/** Python's Unicode whitespace (str.isspace()). */
const SPACE_SET = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

interface Classes {
  word: string; // class body, without brackets
  digit: string;
  space: string;
}
const UNICODE: Classes = { word: '\\p{L}\\p{N}_', digit: '\\p{Nd}', space: SPACE_SET };
const ASCII: Classes = { word: 'A-Za-z0-9_', digit: '0-9', space: '\\t-\\r ' };

/** Python's `\d` and `\s` as JS atoms, Unicode or (under `(?a)`) ASCII. */
export function classAtoms(ascii: boolean): { digit: string; space: string } {
  return ascii ? { digit: '[0-9]', space: `[${ASCII.space}]` } : { digit: '\\p{Nd}', space: `[${UNICODE.space}]` };
}

/** Zero-width pieces written in terms of the word class in use. */
export interface Boundaries {
  /** Python `\b` */
  wordBoundary: string;
  /** fail2ban's word-begin guard `(?=^|\b|\W)` */
  guardBegin: string;
  /** fail2ban's word-end guard `(?=\b|\W|$)` */
  guardEnd: string;
  /** fail2ban's line-begin prefix `^(?:\W{0,2})?` */
  lineBegin: string;
}

export function boundaries(ascii: boolean): Boundaries {
  const w = `[${(ascii ? ASCII : UNICODE).word}]`;
  const nw = `[^${(ascii ? ASCII : UNICODE).word}]`;
  return {
    wordBoundary: `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`,
    // true at the line start, after a word char unless a word char follows, and before any char
    // when no word char precedes
    guardBegin: `(?:^|(?<=${w})(?!${w})|(?<!${w})(?=[^]))`,
    // false only between two word chars
    guardEnd: `(?!(?<=${w})${w})`,
    lineBegin: `^(?:${nw}{0,2})?`,
  };
}

export interface Translation {
  source: string;
  ignoreCase: boolean;
  /** number of capturing groups */
  groups: number;
  /** named groups with their numbers, in pattern order (as Python's groupdict) */
  named: Array<[string, number]>;
}

/** Expansion of a placeholder character (U+E000..U+E1FF), given the class flavour in use. */
export type PlaceholderExpander = (ch: string, ascii: boolean) => string | undefined;

export function isPlaceholder(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c >= 0xe000 && c <= 0xe1ff;
}

const SYNTAX = new Set('^$\\.*+?()[]{}|/');

function fail(src: string, at: number, what: string): never {
  // placeholders (directives, guards) are shown as '…'
  const near = src.slice(at, at + 12).replace(/[\ue000-\ue1ff]/g, '…');
  throw new Error(`${what} near ${JSON.stringify(near)}`);
}

/** Escape one literal character for use outside a class. */
function lit(ch: string): string {
  return SYNTAX.has(ch) ? '\\' + ch : ch;
}

/** Escape one literal character for use inside a class. */
function classLit(ch: string): string {
  return ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-' ? '\\' + ch : ch;
}

function codeUnitEscape(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * Translate Python regex text to a JS source for `new RegExp(source, 'u' + (ignoreCase ? 'i' : ''))`.
 * Placeholders are expanded by `expand`.
 */
export function translatePython(src: string, expand: PlaceholderExpander): Translation {
  let i = 0;
  let ignoreCase = false;
  let dotAll = false;
  let multiLine = false;
  let verbose = false;
  let ascii = false;
  // leading global flags, e.g. (?iu) (Python accepts several groups at the very start)
  for (;;) {
    const m = /^\(\?([aiLmsux]+)\)/.exec(src.slice(i));
    if (!m) break;
    for (const f of m[1]) {
      if (f === 'i') ignoreCase = true;
      else if (f === 's') dotAll = true;
      else if (f === 'm') multiLine = true;
      else if (f === 'x') verbose = true;
      else if (f === 'a') ascii = true;
      else if (f === 'L') fail(src, i, 'flag (?L) is not allowed with a str pattern');
    }
    i += m[0].length;
  }
  const cls = ascii ? ASCII : UNICODE;
  const b = boundaries(ascii);
  let out = '';
  let groups = 0;
  const named: Array<[string, number]> = [];
  // whether the last emitted item can take a quantifier
  let quantifiable = false;

  const escapeOutside = (): string => {
    const c = src[i + 1];
    if (c === undefined) fail(src, i, 'bad escape (end of pattern)');
    i += 2;
    switch (c) {
      case 'd': return `[${cls.digit}]`;
      case 'D': return `[^${cls.digit}]`;
      case 'w': return `[${cls.word}]`;
      case 'W': return `[^${cls.word}]`;
      case 's': return `[${cls.space}]`;
      case 'S': return `[^${cls.space}]`;
      case 'b': return b.wordBoundary;
      case 'B': return `(?!${b.wordBoundary})`;
      case 'A': return '^';
      case 'Z': return '$';
      default: return escapeCommon(c, false);
    }
  };

  // escapes that mean the same inside and outside a class (i points after the escaped char)
  const escapeCommon = (c: string, inClass: boolean): string => {
    switch (c) {
      case 'n': return '\\n';
      case 't': return '\\t';
      case 'r': return '\\r';
      case 'f': return '\\f';
      case 'v': return '\\v';
      case 'a': return '\\x07';
      case 'x': case 'u': case 'U': {
        const len = c === 'x' ? 2 : c === 'u' ? 4 : 8;
        const hex = src.slice(i, i + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) fail(src, i - 2, `bad escape \\${c}`);
        i += len;
        return codeUnitEscape(parseInt(hex, 16));
      }
      case '0': {
        let oct = '';
        while (oct.length < 2 && /[0-7]/.test(src[i] ?? '')) oct += src[i++];
        return codeUnitEscape(parseInt(oct || '0', 8));
      }
    }
    if (/[1-9]/.test(c)) {
      // three octal digits form a character, otherwise it is a group reference
      const more = src.slice(i, i + 2);
      if (/^[0-7]{2}$/.test(more) && c <= '7') {
        i += 2;
        return codeUnitEscape(parseInt(c + more, 8));
      }
      if (inClass) fail(src, i - 2, 'bad escape (group reference inside a class)');
      let num = c;
      if (/[0-9]/.test(src[i] ?? '')) num += src[i++];
      return `\\${num}`;
    }
    if (/[A-Za-z0-9]/.test(c)) fail(src, i - 2, `bad escape \\${c}`);
    if (isPlaceholder(c)) fail(src, i - 2, 'escaped directive');
    return inClass ? classLit(c) : lit(c);
  };

  const parseClass = (): string => {
    // i points at '['
    const start = i;
    i++;
    let body = '';
    let negate = false;
    if (src[i] === '^') {
      negate = true;
      i++;
    }
    let first = true;
    // one class item: a literal char, or a shorthand (returned with isSet)
    const item = (): { text: string; char?: string } => {
      const c = src[i];
      if (c === '\\') {
        const e = src[i + 1];
        if (e === undefined) fail(src, i, 'bad escape (end of pattern)');
        i += 2;
        switch (e) {
          case 'd': return { text: cls.digit };
          case 'w': return { text: cls.word };
          case 's': return { text: cls.space };
          case 'D': case 'W': case 'S':
            if (e === 'D' && !ascii) return { text: '\\P{Nd}' };
            return fail(src, i - 2, `\\${e} inside a character class is not supported in a datepattern`);
          case 'b': return { text: '\\x08', char: '\b' };
        }
        const t = escapeCommon(e, true);
        return { text: t, char: e };
      }
      if (isPlaceholder(c)) fail(src, i, 'a %-directive inside a character class');
      const cp = src.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      i += ch.length;
      return { text: classLit(ch), char: ch };
    };
    for (;;) {
      if (i >= src.length) fail(src, start, 'unterminated character class');
      if (src[i] === ']' && !first) {
        i++;
        break;
      }
      first = false;
      const a = item();
      // a range: item '-' item, where '-' is not the last char of the class
      if (a.char !== undefined && src[i] === '-' && src[i + 1] !== undefined && src[i + 1] !== ']') {
        i++;
        const z = item();
        if (z.char === undefined) fail(src, i, 'bad character range');
        body += `${a.text}-${z.text}`;
        continue;
      }
      body += a.text;
    }
    return `[${negate ? '^' : ''}${body}]`;
  };

  while (i < src.length) {
    const c = src[i];
    if (verbose) {
      if (/[\s]/.test(c)) {
        i++;
        continue;
      }
      if (c === '#') {
        while (i < src.length && src[i] !== '\n') i++;
        continue;
      }
    }
    if (c === '\\') {
      // Python refuses to repeat the zero-width escapes \b \B \A \Z
      quantifiable = !'bBAZ'.includes(src[i + 1] ?? '');
      out += escapeOutside();
      continue;
    }
    if (c === '[') {
      out += parseClass();
      quantifiable = true;
      continue;
    }
    if (c === '(') {
      if (src[i + 1] !== '?') {
        out += '(';
        groups++;
        i++;
        quantifiable = false;
        continue;
      }
      const rest = src.slice(i + 2);
      let m: RegExpExecArray | null;
      if ((m = /^P<([^>]+)>/.exec(rest))) {
        if (!/^[\p{L}_][\p{L}\p{N}_]*$/u.test(m[1])) fail(src, i, `bad group name ${JSON.stringify(m[1])}`);
        out += `(?<${m[1]}>`;
        groups++;
        named.push([m[1], groups]);
        i += 2 + m[0].length;
      } else if ((m = /^P=([^)]+)\)/.exec(rest))) {
        out += `\\k<${m[1]}>`;
        i += 2 + m[0].length;
        quantifiable = true;
        continue;
      } else if ((m = /^(?::|=|!|<=|<!)/.exec(rest))) {
        out += `(?${m[0]}`;
        i += 2 + m[0].length;
      } else if (rest.startsWith('#')) {
        const end = src.indexOf(')', i);
        if (end < 0) fail(src, i, 'missing ), unterminated comment');
        i = end + 1;
        continue;
      } else if (rest.startsWith('(')) {
        fail(src, i, 'conditional groups (?(name)...) are not supported in a datepattern');
      } else if (/^[aiLmsux]+\)/.test(rest)) {
        fail(src, i, 'global flags not at the start of the expression');
      } else if (/^[aiLmsux]*(?:-[aiLmsux]*)?:/.test(rest)) {
        fail(src, i, 'scoped flags (?i:...) are not supported in a datepattern');
      } else {
        fail(src, i, 'unknown extension (?' + (rest[0] ?? '') + '');
      }
      quantifiable = false;
      continue;
    }
    if (c === ')') {
      out += ')';
      i++;
      quantifiable = true;
      continue;
    }
    if (c === '|') {
      out += '|';
      i++;
      quantifiable = false;
      continue;
    }
    if (c === '.') {
      out += dotAll ? '[^]' : '[^\\n]';
      i++;
      quantifiable = true;
      continue;
    }
    if (c === '^') {
      out += multiLine ? '(?<![^\\n])' : '^';
      i++;
      quantifiable = false;
      continue;
    }
    if (c === '$') {
      out += multiLine ? '(?=\\n|$)' : '(?=\\n?$)';
      i++;
      quantifiable = false;
      continue;
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') {
      let q = c;
      let len = 1;
      if (c === '{') {
        const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(src.slice(i));
        if (!m || (m[1] === '' && m[2] === undefined)) {
          // not a repeat: a literal brace
          out += '\\{';
          i++;
          quantifiable = true;
          continue;
        }
        const lo = m[1] === '' ? '0' : m[1];
        q = m[2] === undefined ? `{${lo}}` : `{${lo},${m[3]}}`;
        if (m[3] !== '' && m[3] !== undefined && Number(m[3]) < Number(lo)) fail(src, i, 'min repeat greater than max repeat');
        len = m[0].length;
      }
      if (!quantifiable) fail(src, i, 'nothing to repeat');
      i += len;
      if (src[i] === '?') {
        q += '?';
        i++;
      } else if (src[i] === '+') {
        fail(src, i, 'possessive quantifiers are not supported in a datepattern');
      }
      out += q;
      quantifiable = false;
      continue;
    }
    if (isPlaceholder(c)) {
      const x = expand(c, ascii);
      if (x === undefined) fail(src, i, 'internal: unknown placeholder');
      // expansions are JS syntax; count their groups so that numbering stays Python's
      for (const g of x.matchAll(/\\.|\[(?:\\.|[^\]])*\]|\((\?<([^=!>][^>]*)>|(?!\?))/g)) {
        if (g[1] === undefined) continue;
        groups++;
        if (g[2] !== undefined) named.push([g[2], groups]);
      }
      out += x;
      i++;
      quantifiable = true;
      continue;
    }
    const cp = src.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += lit(ch);
    i += ch.length;
    quantifiable = true;
  }
  return { source: out, ignoreCase, groups, named };
}
