// Python `re` character semantics written as JavaScript (`u` flag) class contents: the Unicode
// shorthands \d \w \s, their ASCII (?a) forms, code-point range sets, and Python's
// case-insensitive equivalence, which is not JavaScript's (/iu folds neither 'ı' nor 'İ' to 'i').

/** [lo, hi] inclusive code-point ranges, sorted and non-overlapping once normalised */
export type Ranges = Array<[number, number]>;

export const MAX_CP = 0x10ffff;

/** Python's str.isspace (bidi WS/B/S or Zs); JS \s lacks \x1c-\x1f and \x85 and adds \ufeff */
export const UNICODE_SPACE: Ranges = [
  [0x09, 0x0d], [0x1c, 0x20], [0x85, 0x85], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
export const ASCII_SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20]];
export const ASCII_DIGIT: Ranges = [[0x30, 0x39]];
export const ASCII_WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];

/** Python's Unicode \w (str.isalnum or '_') and \d (Nd) as class contents */
export const UNICODE_WORD_BODY = '\\p{L}\\p{N}_';
export const UNICODE_DIGIT_BODY = '\\p{Nd}';
export const UNICODE_NOT_DIGIT_BODY = '\\P{Nd}';
export const UNICODE_WORD_CLASS = `[${UNICODE_WORD_BODY}]`;

export function normalise(r: Ranges): Ranges {
  if (r.length < 2) return r.slice();
  const s = r.slice().sort((a, b) => a[0] - b[0]);
  const out: Ranges = [[s[0][0], s[0][1]]];
  for (let i = 1; i < s.length; i++) {
    const last = out[out.length - 1];
    if (s[i][0] <= last[1] + 1) last[1] = Math.max(last[1], s[i][1]);
    else out.push([s[i][0], s[i][1]]);
  }
  return out;
}

export function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalise(r)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

/** one code point as it may appear inside a JS `u` class (or outside, with `outside`) */
export function escapeCp(cp: number, outside: boolean): string {
  if (cp >= 0x20 && cp < 0x7f) {
    const ch = String.fromCharCode(cp);
    // Outside a class only syntax characters (and `/`) need escaping; inside, the class
    // metacharacters. Both lists are legal identity escapes under the `u` flag.
    if (outside ? '^$\\.*+?()[]{}|/'.includes(ch) : '\\]-[^'.includes(ch)) return '\\' + ch;
    return ch;
  }
  if (cp < 0x100) return '\\x' + cp.toString(16).padStart(2, '0');
  // Surrogates use the braced form: under `u`, two adjacent \uXXXX escapes form one pair.
  if (cp < 0x10000 && (cp < 0xd800 || cp > 0xdfff)) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\u{' + cp.toString(16) + '}';
}

export function rangesBody(r: Ranges): string {
  let s = '';
  for (const [lo, hi] of r) {
    s += escapeCp(lo, false);
    if (hi > lo) s += (hi > lo + 1 ? '-' : '') + escapeCp(hi, false);
  }
  return s;
}

// ---- case-insensitive equivalence ------------------------------------------------------------
//
// Python (str pattern, IGNORECASE) matches ch against c when lower(ch) == lower(c) or when the
// two lowercases share an uppercase (its _casefix table). That is one equivalence: key(ch) =
// upper(lower(ch)), lower being the first code point of the full lowercase (Python's sre takes
// the same for 'İ'). Derived here from the host's case mappings; checked against CPython 3.11
// over every cased code point with no difference.

let caseClasses: Map<number, number[]> | null = null;

function buildCaseClasses(): Map<number, number[]> {
  const byKey = new Map<string, number[]>();
  // All cased code points lie below 0x1F000 (Adlam ends at 0x1E95F).
  for (let cp = 0; cp < 0x1f000; cp++) {
    if (cp === 0xd800) cp = 0xe000;
    const ch = String.fromCodePoint(cp);
    const lower = ch.toLowerCase();
    if (lower === ch && ch.toUpperCase() === ch) continue;
    const key = String.fromCodePoint(lower.codePointAt(0)!).toUpperCase();
    const members = byKey.get(key);
    if (members) members.push(cp);
    else byKey.set(key, [cp]);
  }
  const classes = new Map<number, number[]>();
  for (const members of byKey.values()) {
    if (members.length < 2) continue;
    for (const cp of members) classes.set(cp, members);
  }
  return classes;
}

/** The non-ASCII partners of ASCII letters under that equivalence (lower-case key). */
const ASCII_PARTNERS: Record<number, number[]> = { 0x69: [0x130, 0x131], 0x6b: [0x212a], 0x73: [0x17f] };

/**
 * caseClass for an ASCII code point without building the whole table (which costs ~35 ms of
 * start-up, and most patterns only fold ASCII letters); test/pyregex.test.ts checks it against
 * the table for every ASCII code point.
 */
function asciiUnicodeClass(cp: number): number[] | undefined {
  const pair = asciiCaseClass(cp);
  if (!pair) return undefined;
  return [...pair, ...(ASCII_PARTNERS[pair[1]] ?? [])];
}

/** the full table's class (tests) */
export function caseClassFromTable(cp: number): number[] {
  caseClasses ??= buildCaseClasses();
  return caseClasses.get(cp) ?? [cp];
}

function asciiCaseClass(cp: number): number[] | undefined {
  if (cp >= 0x41 && cp <= 0x5a) return [cp, cp + 0x20];
  if (cp >= 0x61 && cp <= 0x7a) return [cp - 0x20, cp];
  return undefined;
}

/** every code point Python's IGNORECASE treats as equal to cp (cp included) */
export function caseClass(cp: number, ascii: boolean): number[] {
  if (ascii) return asciiCaseClass(cp) ?? [cp];
  if (cp < 0x80) return asciiUnicodeClass(cp) ?? [cp];
  caseClasses ??= buildCaseClasses();
  return caseClasses.get(cp) ?? [cp];
}

/** closes a range set under Python's case equivalence */
export function caseClose(r: Ranges, ascii: boolean): Ranges {
  const out: Ranges = r.slice();
  if (ascii) {
    for (const [lo, hi] of r) {
      const a = Math.max(lo, 0x41), b = Math.min(hi, 0x5a);
      if (a <= b) out.push([a + 0x20, b + 0x20]);
      const c = Math.max(lo, 0x61), d = Math.min(hi, 0x7a);
      if (c <= d) out.push([c - 0x20, d - 0x20]);
    }
    return normalise(out);
  }
  if (r.every(([, hi]) => hi < 0x80)) {
    for (const [lo, hi] of r) {
      for (let cp = lo; cp <= hi; cp++) for (const x of asciiUnicodeClass(cp) ?? []) out.push([x, x]);
    }
    return normalise(out);
  }
  caseClasses ??= buildCaseClasses();
  for (const [lo, hi] of r) {
    if (hi - lo < caseClasses.size) {
      for (let cp = lo; cp <= hi; cp++) {
        const cls = caseClasses.get(cp);
        if (cls) for (const x of cls) out.push([x, x]);
      }
    } else {
      for (const [cp, cls] of caseClasses) if (cp >= lo && cp <= hi) for (const x of cls) out.push([x, x]);
    }
  }
  return normalise(out);
}
