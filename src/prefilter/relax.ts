// Prefilter relaxation: from a filter's failregexes (and prefregex), the literal strings every
// match must contain, so that a cheap test on the RAW log line can drop lines that cannot match.
// The test must be SOUND: it may pass lines that do not match, never drop one that does.
//
// Soundness rules (each one conservative; see also ../../test/prefilter.test.ts):
//
//  R1 required literals. Walk the parsed Python AST (pyregex/parser.ts, imported, never changed).
//     Adjacent literal characters (through groups, atomic groups and zero-width ^ $ \b \A \Z)
//     form a run; anything else breaks the run: classes (except a single char or an ASCII case
//     pair like [aA]), \d \w \s, `.`, lookarounds, backreferences, conditionals, repeats. A repeat
//     with min >= 1 contributes its body's own literals; min = 0 contributes nothing. An
//     alternation contributes only literals that every branch requires (same text, same case
//     mode); failing that (R1b) an any-of atom made of one atom of each branch (the match takes
//     some branch, so it contains one of them). A `\n` character breaks the run: the raw line has no newline, the buffer does.
//  R2 case. A run containing any IGNORECASE char is tested case-insensitively with fold(): ASCII
//     A-Z lowered, and the four non-ASCII characters Python's Unicode IGNORECASE lets match an
//     ASCII letter mapped to it (U+0130 İ and U+0131 ı -> i, U+017F ſ -> s, U+212A K -> k). A
//     non-ASCII IGNORECASE char breaks the run (Unicode folding is not relaxed). fold() is
//     applied char by char to both the literal and the line, so a case-sensitive occurrence is
//     always also a folded one.
//  R3 the date cut. The scanner searches `before + after + "\n"` where the raw line is
//     `before + date + after`; the date is anywhere, not only at the start. A literal lying
//     inside `before` or inside `after` is in the raw line; ONE literal of a match may straddle
//     the single cut point: then L[:k] ends `before` and L[k:] starts `after` for some k, so with
//     m = floor(|L|/2) either L[:m] or L[m:] is in the raw line. Test: all literals of a regex
//     occur, or all but one do and that one has a half in the line. (The cut is one point, so at
//     most one literal of one regex can straddle it.)
//  R4 prefregex. Its F-CONTENT is a substring of the same buffer, so failregex literals obey R3
//     unchanged; the prefregex must match too, so its own literals are a second, independent
//     condition (its straddling literal may be another one than the failregex's).
//  R5 maxlines > 1 (a window of several lines; <SKIPLINES>) -> always pass. Also when a failregex
//     has no required literal, or the patterns do not parse.
//  R6 ignoreregex is not looked at: it only removes hits, and a dropped line has none. (A dropped
//     line is not reported as "ignored" either: that only matters to fail2ban-regex counters.)
//
// Only literals of length >= MIN_LEN are kept (shorter ones select little), at most MAX_PER_REGEX
// of them per regex, longest first; dropping a literal only weakens the test (still sound).

import { parsePython } from '../filter/pyregex/parser';
import type { Node } from '../filter/pyregex/ast';
import { expandRegexTags, globalToScopedFlags } from '../filter/tags';
import type { FilterSpecMessage } from '../types';

export const MIN_LEN = 3;
export const MAX_PER_REGEX = 4;
/** at most this many literals in one any-of atom */
export const MAX_ANY_OF = 16;

export interface Lit {
  /** the literal; fold()ed when ci */
  text: string;
  /** test on fold(line) */
  ci: boolean;
}

/** One of these literals (a plain literal when there is one). */
export type Atom = Lit[];

/** What one pattern requires: every atom (one may be split by the date cut, rule R3). */
export type Requirement = Atom[];

export interface Relaxation {
  /** no line can be dropped */
  alwaysPass: boolean;
  /** why alwaysPass (for reports) */
  reason?: string;
  /** prefregex requirement ([] = none) */
  pref: Requirement;
  /** one requirement per failregex (each non-empty unless alwaysPass) */
  fail: Requirement[];
}

const FOLD_RE = /[A-Z\u0130\u0131\u017f\u212a]/g;
const NON_ASCII_OR_UPPER = /[A-Z\u0130\u0131\u017f\u212a]/;
function foldChar(c: string): string {
  switch (c) {
    case '\u0130':
    case '\u0131':
      return 'i';
    case '\u017f':
      return 's';
    case '\u212a':
      return 'k';
    default:
      return String.fromCharCode(c.charCodeAt(0) | 0x20);
  }
}

/** ASCII lower-casing plus Python's Unicode IGNORECASE partners of ASCII letters (rule R2). */
export function fold(s: string): string {
  return NON_ASCII_OR_UPPER.test(s) ? s.replace(FOLD_RE, foldChar) : s;
}

const isAsciiLetter = (cp: number) => (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122);

/** a node that is one literal char: [cp, caseInsensitive] or null */
function asChar(n: Node): { cp: number; ci: boolean } | null {
  if (n.t === 'char') {
    if (n.cp === 10) return null; // rule R1: \n
    if (n.i && isAsciiLetter(n.cp)) return { cp: n.cp, ci: true };
    if (n.i && n.cp > 127) return null; // rule R2: no Unicode folding
    return { cp: n.cp, ci: false };
  }
  if (n.t === 'class' && !n.neg && n.items.every((x) => x.t === 'range' && x.lo === x.hi)) {
    const cps = [...new Set(n.items.map((x) => (x as { lo: number }).lo))];
    if (cps.length === 1) return asChar({ t: 'char', cp: cps[0], i: n.i, a: n.a });
    if (cps.length === 2 && isAsciiLetter(cps[0]) && (cps[0] ^ 0x20) === cps[1]) return { cp: cps[0], ci: true };
  }
  return null;
}

type Tok = { cp: number; ci: boolean } | null; // null = a break

function flatten(n: Node, out: Tok[], req: Atom[]): void {
  switch (n.t) {
    case 'seq':
      for (const x of n.items) flatten(x, out, req);
      return;
    case 'group':
    case 'atomic':
      flatten(n.body, out, req);
      return;
    case 'at':
      return; // zero-width: the chars around it are adjacent in the match
    default: {
      const c = asChar(n);
      if (c) {
        out.push(c);
        return;
      }
      out.push(null);
      if (n.t !== 'char' && n.t !== 'class') req.push(...required(n));
    }
  }
}

function runsOf(toks: Tok[]): Lit[] {
  const lits: Lit[] = [];
  let cur: { cp: number; ci: boolean }[] = [];
  const flush = () => {
    if (cur.length) {
      const ci = cur.some((c) => c.ci);
      const text = String.fromCodePoint(...cur.map((c) => c.cp));
      lits.push({ text: ci ? fold(text) : text, ci });
    }
    cur = [];
  };
  for (const t of toks) {
    if (t) cur.push(t);
    else flush();
  }
  flush();
  return lits;
}

const key = (l: Lit) => (l.ci ? 'i:' : 's:') + l.text;
const atomKey = (a: Atom) => a.map(key).sort().join('\u0000');
/** the weakest literal of an any-of atom decides how selective it is */
const quality = (a: Atom) => Math.min(...a.map((l) => l.text.length));

/** Atoms every match of `n` contains (rule R1). */
function required(n: Node): Atom[] {
  switch (n.t) {
    case 'seq':
    case 'group':
    case 'atomic':
    case 'char':
    case 'class': {
      const toks: Tok[] = [];
      const inner: Atom[] = [];
      flatten(n, toks, inner);
      return [...runsOf(toks).map((l) => [l]), ...inner];
    }
    case 'alt': {
      const branches = n.alts.map(required);
      // atoms every branch requires
      let common: Map<string, Atom> | null = null;
      for (const br of branches) {
        const m = new Map(br.map((x) => [atomKey(x), x] as [string, Atom]));
        if (common === null) common = m;
        else for (const k of [...common.keys()]) if (!m.has(k)) common.delete(k);
      }
      if (common && common.size) return [...common.values()];
      // else one atom from each branch, as one any-of atom (rule R1b)
      const any = new Map<string, Lit>();
      for (const br of branches) {
        const best = br.filter((x) => quality(x) >= MIN_LEN).sort((x, y) => quality(y) - quality(x))[0];
        if (!best) return [];
        for (const l of best) any.set(key(l), l);
      }
      return any.size && any.size <= MAX_ANY_OF ? [[...any.values()]] : [];
    }
    case 'repeat':
      return n.min >= 1 ? required(n.body) : [];
    default:
      // look, backref, cond, any, cat, at: nothing required
      return [];
  }
}

/** Pick the atoms kept for one pattern: quality >= MIN_LEN, deduplicated, best first. */
function choose(atoms: Atom[]): Atom[] {
  const seen = new Set<string>();
  const out: Atom[] = [];
  for (const x of [...atoms].sort((p, q) => quality(q) - quality(p) || p.length - q.length)) {
    const k = atomKey(x);
    if (quality(x) < MIN_LEN || seen.has(k)) continue;
    seen.add(k);
    // a literal inside a longer kept one of the same case mode adds nothing
    if (x.length === 1 && out.some((o) => o.length === 1 && o[0].ci === x[0].ci && o[0].text.includes(x[0].text))) continue;
    out.push(x);
    if (out.length >= MAX_PER_REGEX) break;
  }
  return out;
}

/** The required atoms of one fail2ban regex, expanded exactly as compileFailRegex does. */
export function requiredLiterals(regex: string, usedns: string, multiline = false): Requirement {
  const expanded = globalToScopedFlags(expandRegexTags(regex, usedns));
  const parsed = parsePython(expanded, { multiline });
  return choose(required(parsed.root));
}

export function relax(spec: FilterSpecMessage): Relaxation {
  const none = (reason: string): Relaxation => ({ alwaysPass: true, reason, pref: [], fail: [] });
  if (Math.max(1, spec.maxlines || 1) > 1) return none('maxlines > 1');
  try {
    const pref = spec.prefregex && spec.prefregex.trim() ? requiredLiterals(spec.prefregex, spec.usedns) : [];
    const fail = spec.failregex.map((r) => requiredLiterals(r, spec.usedns));
    if (fail.length === 0) return none('no failregex');
    const free = fail.findIndex((r) => r.length === 0);
    if (free >= 0 && pref.length === 0) return none(`failregex #${free + 1} has no required literal`);
    // a failregex without literals makes the failregex part pass: only the prefregex gates
    return { alwaysPass: false, pref, fail: free >= 0 ? [] : fail };
  } catch (e) {
    return none(`does not parse: ${(e as Error).message}`);
  }
}

/** The two halves of a literal (rule R3). */
export function halves(l: Lit): [string, string] {
  const m = l.text.length >> 1;
  return [l.text.slice(0, m), l.text.slice(m)];
}

const re2Escape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * Sound gate pieces for a single-pass multi-literal search (JS gate regex, native RE2::Set /
 * Aho-Corasick): a line that can match contains one of them. Per gating requirement (each
 * failregex; or the prefregex when a failregex has no literal), the better of
 *  - the halves of every literal of its best atom (that atom is whole in the line, or it is the
 *    one split at the date, and then a half of it is whole: rule R3), or
 *  - with two or more atoms, every literal of its two best atoms (at most one atom is missing).
 * "Better" = longer shortest piece. null when nothing can be dropped.
 */
export function gatePieces(r: Relaxation): Lit[] | null {
  if (r.alwaysPass) return null;
  const reqs = r.fail.length ? r.fail : [r.pref];
  const out = new Map<string, Lit>();
  for (const req of reqs) {
    if (req.length === 0) return null;
    const halved: Lit[] = req[0].flatMap((l) => halves(l).map((h) => ({ text: h, ci: l.ci })));
    const whole: Lit[] = req.length >= 2 ? [...req[0], ...req[1]] : [];
    const q = (ls: Lit[]) => (ls.length ? Math.min(...ls.map((l) => l.text.length)) : -1);
    for (const l of q(whole) > q(halved) ? whole : halved) {
      if (l.text.length === 0) return null;
      out.set(key(l), l);
    }
  }
  return [...out.values()];
}

/** RE2-syntax alternation of the gate pieces; null = pass all. Case-insensitive pieces go in
 *  (?i:...): RE2's folding relates K/k and ſ/s like Python's, but not ı/İ to i, so an `i` of
 *  such a piece becomes [i\x{130}\x{131}]. */
export function re2Alternation(r: Relaxation): string | null {
  const p = gatePieces(r);
  if (!p) return null;
  return p.map((l) => (l.ci ? re2Ci(l.text) : re2Escape(l.text))).join('|');
}

/** case-insensitive piece in RE2: (?i:...), plus the dotted/dotless i that RE2 does not fold to i. */
function re2Ci(text: string): string {
  return `(?i:${re2Escape(text).replace(/i/g, '[i\\x{130}\\x{131}]')})`;
}

/** Every kept literal, grep -F style (the plain full literals: for grep comparisons; NOT date-cut
 *  aware on its own). */
export function grepLiterals(r: Relaxation): string[] {
  const all = [...r.pref, ...r.fail.flat()].flat();
  return [...new Set(all.map((l) => l.text))];
}
