// The native prefilter's patterns: per filter, one RE2 pattern (Latin-1 mode: it runs on raw
// bytes, see native/scan/Prefilter.hh) that every raw log line the filter can match also
// matches. Sound like the JS prefilter (./relax.ts), and sharper: it keeps the ORDER of the
// literals a match contains, so that `Accepted password for x from y` does not pass for
// `^Failed password for ... from <HOST>` just because it shares " password for " and " from ".
//
// Soundness rules, on top of relax.ts R1, R2, R5 and R6:
//
//  S1 ordered atoms. Walking the parsed Python AST in order gives the atoms every match contains,
//     left to right and not overlapping: runs of literal chars (broken by anything that is not
//     one literal char, as in R1), the ordered atoms of a repeat with min >= 1 (one pass of its
//     body), and for an alternation either the atoms every branch has in the same order or one
//     any-of atom (one atom of each branch, R1b). `A1.*A2.*...An` then matches any line that
//     contains such a match, anywhere. `.` in RE2 never matches '\n', and the raw line has none.
//  S2 the date cut (R3 again). The text searched is the raw line with its date cut out at one
//     point. Atoms entirely on one side of the cut stay in order in the raw line (the date just
//     lands inside one `.*`); ONE atom may straddle the cut, and then its first half or its
//     second half is whole in the raw line, in its place. So the pattern is the alternation of
//     the plain sequence and, for each atom k, the sequence with atom k replaced by its halves.
//  S3 only ASCII: an atom char outside ASCII (or U+FFFD) breaks the run, so the pattern holds
//     whatever ASCII-compatible encoding the log is decoded with. A case-insensitive run is
//     written in (?i:...), with the non-ASCII partners Python folds to ASCII (İ ı -> i, ſ -> s,
//     K -> k) spelled out as their UTF-8 bytes.
//  S2b a cut at the line start. When every date template of the filter cuts its date at the
//     line start, or after at most two non-word characters (the {^LN-BEG} prefix), the text
//     before the cut is such characters only: an atom whose literals all begin with a word
//     character cannot straddle the cut, and needs no halves.
//  S4 a filter's pattern is the alternation of its failregexes' patterns. A failregex without
//     any atom makes the filter use its prefregex's pattern instead (the failregex part then
//     passes every line), and with no prefregex atoms either, the filter passes every line ('').
//     The ignoreregexes are added as alternatives only when asked (`regex` counts a line an
//     ignoreregex matches as "ignored" even without a failregex hit).

import { parsePython } from '../filter/pyregex/parser';
import type { Node } from '../filter/pyregex/ast';
import { expandRegexTags, globalToScopedFlags } from '../filter/tags';
import type { FilterSpecMessage } from '../types';
import { parseDatePattern } from '../dates/templates';
import { loadNative } from '../native';

/** one literal char, or a case-insensitive ASCII letter; `p`: from the IGNORECASE flag, so
 *  that i, s and k also stand for their non-ASCII partners (a class like [iI] does not) */
interface Ch {
  cp: number;
  ci: boolean;
  p?: boolean;
}
/** a literal: its chars */
type Lit = Ch[];
/** one of these literals */
export type SeqAtom = Lit[];

/** atoms shorter than this select little and are left out (dropping one only weakens S1) */
const MIN_ATOM = 2;
/** at most this many atoms per regex (the longest, kept in order) */
const MAX_ATOMS = 8;
/** at most this many literals in one any-of atom */
const MAX_ANY_OF = 16;

const isAsciiLetter = (cp: number) => (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122);

function asChar(n: Node): Ch | null {
  if (n.t === 'char') {
    if (n.cp === 10 || n.cp > 127) return null; // R1 (\n) and S3
    const ci = n.i && isAsciiLetter(n.cp);
    return { cp: ci ? n.cp | 0x20 : n.cp, ci, p: ci };
  }
  if (n.t === 'class' && !n.neg && n.items.every((x) => x.t === 'range' && x.lo === x.hi)) {
    const cps = [...new Set(n.items.map((x) => (x as { lo: number }).lo))];
    if (cps.length === 1) return asChar({ t: 'char', cp: cps[0], i: n.i, a: n.a });
    if (cps.length === 2 && isAsciiLetter(cps[0]) && (cps[0] ^ 0x20) === cps[1]) return { cp: cps[0] | 0x20, ci: true };
  }
  return null;
}

type Piece = Ch | null | SeqAtom[];

function walk(n: Node, out: Piece[]): void {
  switch (n.t) {
    case 'seq':
      for (const x of n.items) walk(x, out);
      return;
    case 'group':
    case 'atomic':
      walk(n.body, out);
      return;
    case 'at':
      return; // zero-width: the chars around it are adjacent in the match
    case 'alt':
      out.push(null, alternation(n.alts), null);
      return;
    case 'repeat':
      out.push(null);
      if (n.min >= 1) out.push(sequence(n.body), null);
      return;
    default: {
      const c = asChar(n);
      out.push(c); // null: a break (class, \d, ., lookaround, backreference, conditional)
    }
  }
}

const litKey = (l: Lit) => l.map((c) => (c.ci ? 'i' : 's') + c.cp).join(',');
const atomKey = (a: SeqAtom) => a.map(litKey).sort().join('|');
const quality = (a: SeqAtom) => Math.min(...a.map((l) => l.length));

/** Ordered atoms every match of `n` contains (S1). */
function sequence(n: Node): SeqAtom[] {
  const pieces: Piece[] = [];
  walk(n, pieces);
  const atoms: SeqAtom[] = [];
  let run: Ch[] = [];
  const flush = () => {
    if (run.length) atoms.push([run]);
    run = [];
  };
  for (const p of pieces) {
    if (p === null) flush();
    else if (Array.isArray(p)) {
      flush();
      atoms.push(...p);
    } else run.push(p);
  }
  flush();
  return atoms;
}

function alternation(alts: Node[]): SeqAtom[] {
  const branches = alts.map(sequence);
  const key = (s: SeqAtom[]) => s.map(atomKey).join('\u0000');
  if (branches.every((b) => key(b) === key(branches[0]))) return branches[0];
  const any = new Map<string, Lit>();
  for (const br of branches) {
    const best = br.filter((a) => quality(a) >= MIN_ATOM).sort((x, y) => quality(y) - quality(x))[0];
    if (!best) return [];
    for (const l of best) any.set(litKey(l), l);
  }
  return any.size <= MAX_ANY_OF ? [[...any.values()]] : [];
}

/** The kept atoms of one regex, in order: quality >= MIN_ATOM, at most MAX_ATOMS (longest). */
function choose(atoms: SeqAtom[]): SeqAtom[] {
  const good = atoms.map((a, i) => ({ a, i })).filter((x) => quality(x.a) >= MIN_ATOM);
  return good
    .sort((x, y) => quality(y.a) - quality(x.a) || x.i - y.i)
    .slice(0, MAX_ATOMS)
    .sort((x, y) => x.i - y.i)
    .map((x) => x.a);
}

/** The ordered atoms of one fail2ban regex, expanded exactly as compileFailRegex does. */
export function orderedAtoms(regex: string, usedns: string): SeqAtom[] {
  const parsed = parsePython(globalToScopedFlags(expandRegexTags(regex, usedns)), { multiline: false });
  return choose(sequence(parsed.root));
}

// ---- RE2 (Latin-1) spelling

const META = new Set('\\^$.|?*+()[]{}'.split('').map((c) => c.charCodeAt(0)));
const hex = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;
/** Python IGNORECASE partners of ASCII letters outside ASCII, as UTF-8 bytes (S3) */
const PARTNERS: Record<string, string[]> = { i: ['\\xc4\\xb0', '\\xc4\\xb1'], s: ['\\xc5\\xbf'], k: ['\\xe2\\x84\\xaa'] };

function re2Char(c: Ch): string {
  if (c.ci) {
    const lower = String.fromCharCode(c.cp);
    const extra = c.p ? PARTNERS[lower] : undefined;
    return extra ? `(?:[${lower}${lower.toUpperCase()}]|${extra.join('|')})` : `[${lower}${lower.toUpperCase()}]`;
  }
  if (c.cp < 0x20 || c.cp === 0x7f) return hex(c.cp);
  return META.has(c.cp) ? `\\${String.fromCharCode(c.cp)}` : String.fromCharCode(c.cp);
}

const re2Lit = (l: Lit) => l.map(re2Char).join('');
const re2Atom = (a: SeqAtom) => (a.length === 1 ? re2Lit(a[0]) : `(?:${a.map(re2Lit).join('|')})`);

/** the halves of every literal of an atom (S2); null when a half would be empty */
function halves(a: SeqAtom): string | null {
  const out: string[] = [];
  for (const l of a) {
    const m = l.length >> 1;
    if (m === 0) return null;
    out.push(re2Lit(l.slice(0, m)), re2Lit(l.slice(m)));
  }
  return `(?:${[...new Set(out)].join('|')})`;
}

const isWordCp = (cp: number) => (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || cp === 95 || (cp >= 97 && cp <= 122);

/** S2b: no literal of the atom can straddle a cut made at the line start. */
const wordFirst = (a: SeqAtom) => a.every((l) => l.length > 0 && isWordCp(l[0].cp));

/** RE2 pattern of one regex's atoms with the date cut (S2, S2b with cutAtStart); '' when there
 *  are none. */
export function sequencePattern(atoms: SeqAtom[], cutAtStart = false): string {
  if (!atoms.length) return '';
  const plain = atoms.map(re2Atom);
  const variants = [plain.join('.*')];
  atoms.forEach((a, k) => {
    if (cutAtStart && wordFirst(a)) return;
    const h = halves(a);
    const seq = [...plain.slice(0, k), ...(h ? [h] : []), ...plain.slice(k + 1)];
    variants.push(seq.join('.*'));
  });
  return [...new Set(variants)].join('|');
}

// ---- literals for the native literal gate (native/scan/LiteralGate.hh)

export interface GateLiteral {
  /** ASCII, at least 2 characters */
  text: string;
  /** ASCII letters match either case */
  ci: boolean;
}

/** a literal as bytes; null if not byte-exact (an IGNORECASE i, s or k also matches non-ASCII) */
function gateLit(l: Lit): GateLiteral | null {
  if (l.some((c) => c.p && PARTNERS[String.fromCharCode(c.cp)])) return null;
  return { text: String.fromCharCode(...l.map((c) => c.cp)), ci: l.some((c) => c.ci) };
}

/**
 * How often literals occur in a sample of the log (its first 64 KiB): the gate's literal choice
 * then follows the log instead of the literals' lengths. Counts come from tables of the
 * sample's byte pairs and (hashed) triples, built once: a literal's count is the smallest count
 * of its triples, an upper bound that is exact enough to rank choices (which only ever changes
 * the speed); case-insensitive literals are looked up in tables of the sample with its ASCII
 * letters lower-cased (gate literals are ASCII).
 */
export class LiteralSample {
  private readonly pairs: [Uint32Array, Uint32Array];
  private readonly triples: [Uint32Array, Uint32Array];

  /** the tables come from the native addon (sampleTables), which counts as tripleHash does */
  constructor(readonly bytes: Buffer) {
    const [p, t, lp, lt] = loadNative().sampleTables(bytes);
    this.pairs = [p, lp];
    this.triples = [t, lt];
  }

  /** the cost of gating on these literals: lines they pass, and places they make it check */
  cost(lits: GateLiteral[]): number {
    let c = 0;
    // a line the gate passes costs some thirty times a place it checks; a short literal rare in
    // the sample may still be common later: it counts as if it occurred at random
    const random = (n: number) => this.bytes.length / 30 ** n;
    for (const l of lits) c += 30 * (this.count(l.text, l.ci) + random(l.text.length)) + this.count(l.text.slice(0, 3), l.ci);
    return c;
  }

  /** occurrences of a literal (2 characters or more) in the sample, an upper bound */
  count(text: string, ci: boolean): number {
    const t = ci ? asciiLower(text) : text;
    const k = ci ? 1 : 0;
    if (t.length < 3) return t.length === 2 ? this.pairs[k][((t.charCodeAt(0) & 0xff) << 8) | (t.charCodeAt(1) & 0xff)] : this.bytes.length;
    let n = Infinity;
    for (let i = 0; i + 3 <= t.length; i++) n = Math.min(n, this.triples[k][tripleHash(t.charCodeAt(i) & 0xff, t.charCodeAt(i + 1) & 0xff, t.charCodeAt(i + 2) & 0xff)]);
    return n;
  }
}

/** the hash of a byte triple in LiteralSample's tables (native/scan/ScanWrap.cc counts so) */
function tripleHash(a: number, b: number, c: number): number {
  return (Math.imul((a << 16) | (b << 8) | c, 0x9e3779b1) >>> 16) & 0xffff;
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));

/** Drop the literals that contain another one of the set: where they occur, it does. */
function minimal(lits: GateLiteral[]): GateLiteral[] {
  const norm = (l: GateLiteral) => (l.ci ? l.text.toLowerCase() : l.text);
  return lits.filter((l, i) =>
    !lits.some((o, j) => j !== i && (o.ci || !l.ci) && (o.ci ? norm(l).includes(norm(o)) : l.text.includes(o.text)) && (norm(o) !== norm(l) || j < i)),
  );
}

/**
 * Literals one of which every line the atoms' regex matches contains, for a multi-literal search
 * (S2 again): the halves of every literal of one atom (that atom is whole, or it is the one the
 * date cut split, and then a half of it is whole), every literal of two atoms (at most one of
 * them is split), or with a cut at the line start (S2b) the literals of one word-first atom. The
 * choice that costs least on the sample, else the one with the longest shortest literal; null if
 * none has literals of 2 characters or more.
 */
export function gateLiterals(atoms: SeqAtom[], cutAtStart = false, sample?: LiteralSample): GateLiteral[] | null {
  const options: GateLiteral[][] = [];
  const lits = (ls: Lit[]) => {
    const out = ls.map(gateLit);
    return out.every((x) => x && x.text.length >= 2) ? (out as GateLiteral[]) : null;
  };
  for (const a of atoms) {
    // S2b: the atom whole
    if (cutAtStart && wordFirst(a)) {
      const whole = lits(a);
      if (whole) options.push(whole);
    }
    const h = lits(a.flatMap((l) => [l.slice(0, l.length >> 1), l.slice(l.length >> 1)]));
    if (h) options.push(h);
    // With a sample, more choices (sound by S1 and S2: any part of an atom is in every match,
    // and a part cut in two anywhere has one piece whole): the atom without its leading
    // non-word characters, whole with a cut at the line start (S2b: " not allowed because" ->
    // "not allowed because"), and both forms cut at word edges (" not allowed because not
    // listed in " + "AllowUsers").
    if (sample && a.length === 1) {
      const l = a[0];
      let from = 0;
      while (from < l.length && !isWordCp(l[from].cp)) from++;
      const forms = from > 0 && l.length - from >= 2 ? [l, l.slice(from)] : [l];
      if (forms.length > 1 && cutAtStart) {
        const trimmed = lits([forms[1]]);
        if (trimmed) options.push(trimmed);
      }
      for (const f of forms) {
        for (let k = 3; k <= f.length - 3; k++) {
          const edge = f[k].cp === 32 || f[k - 1].cp === 32;
          if (!edge) continue;
          const c = lits([f.slice(0, k), f.slice(k)]);
          if (c) options.push(c);
        }
      }
    }
  }
  const best = [...atoms].sort((x, y) => quality(y) - quality(x)).slice(0, 2);
  if (best.length === 2) {
    const w = lits([...best[0], ...best[1]]);
    if (w) options.push(w);
  }
  const score = (o: GateLiteral[]) => (sample ? -sample.cost(o) : Math.min(...o.map((l) => l.text.length)) * 1000 - o.length);
  let chosen: GateLiteral[] | null = null;
  let chosenScore = -Infinity;
  for (const o of options) {
    const sc = score(o);
    if (sc > chosenScore) {
      chosen = o;
      chosenScore = sc;
    }
  }
  return chosen && minimal(chosen);
}

/** One fail2ban regex's pattern ('' = no atom: passes every line); throws if it does not parse. */
export const regexPattern = (regex: string, usedns: string, cutAtStart = false): string => sequencePattern(orderedAtoms(regex, usedns), cutAtStart);

/** What the native prefilter gets from one regex: its pattern ('' = every line) and its gate
 *  literals (null = none). */
export interface RegexPart {
  pattern: string;
  literals: GateLiteral[] | null;
}

function regexPart(regex: string, usedns: string, cutAtStart: boolean, sample?: LiteralSample): RegexPart {
  const atoms = orderedAtoms(regex, usedns);
  return { pattern: sequencePattern(atoms, cutAtStart), literals: gateLiterals(atoms, cutAtStart, sample) };
}

/** S2b: every date template of the filter cuts at the line start (or after at most two
 *  non-word characters). */
export function cutsAtLineStart(datepattern: string | undefined): boolean {
  try {
    return parseDatePattern(datepattern, new Date().getFullYear(), 'syntax').every(({ tpl }) => tpl.cutPlace !== 'any');
  } catch {
    return false; // a datepattern that does not parse: the filter reports it
  }
}

/**
 * The parts of a filter's regexes, rule S4 applied: a failregex without atoms takes the
 * prefregex's part (the prefregex must match too; an empty part when there is none).
 * `free` is the index of the first such failregex, -1 if none. The ignoreregexes' parts only
 * `withIgnore` (else []). `sample`: the log's literal counts, for the gate literals' choice.
 * Throws if a regex does not parse.
 */
export function filterParts(spec: FilterSpecMessage, withIgnore = false, sample?: LiteralSample): { fail: RegexPart[]; free: number; ignore: RegexPart[] } {
  const none: RegexPart = { pattern: '', literals: null };
  const atStart = cutsAtLineStart(spec.datepattern);
  let pref: RegexPart | undefined;
  const prefPart = () => (pref ??= spec.prefregex && spec.prefregex.trim() ? regexPart(spec.prefregex, spec.usedns, atStart, sample) : none);
  let free = -1;
  const fail = spec.failregex.map((r, i) => {
    const own = regexPart(r, spec.usedns, atStart, sample);
    if (own.pattern) return own;
    if (free < 0) free = i;
    return prefPart();
  });
  return { fail, free, ignore: withIgnore ? spec.ignoreregex.map((r) => regexPart(r, spec.usedns, atStart, sample)) : [] };
}

export interface NativePattern {
  /** '' = every line passes */
  pattern: string;
  /** why every line passes */
  reason?: string;
}

/**
 * One filter's RE2 pattern (S4). `withIgnore`: ignoreregex matches pass too (for `regex`'s
 * "ignored" counter).
 */
export function nativePattern(spec: FilterSpecMessage, opts: { withIgnore?: boolean } = {}): NativePattern {
  if (Math.max(1, spec.maxlines || 1) > 1) return { pattern: '', reason: 'maxlines > 1' };
  try {
    const { fail, free, ignore } = filterParts(spec, opts.withIgnore);
    if (!fail.length) return { pattern: '', reason: 'no failregex' };
    // with a failregex that has no atom, only the prefregex's pattern gates
    const alts = free < 0 ? fail.map((p) => p.pattern) : [fail[free].pattern];
    if (!alts[0]) return { pattern: '', reason: `failregex #${free + 1} has no literal` };
    if (opts.withIgnore) {
      for (const [i, p] of ignore.entries()) {
        if (!p.pattern) return { pattern: '', reason: `ignoreregex #${i + 1} has no literal` };
        alts.push(p.pattern);
      }
    }
    return { pattern: [...new Set(alts)].map((p) => `(?:${p})`).join('|') };
  } catch (e) {
    return { pattern: '', reason: `does not parse: ${(e as Error).message}` };
  }
}

/** The gate literals of a whole filter (the group of a jail): those of its failregexes' parts
 *  (S4; ignoreregexes left out); null when some part has none. */
export function filterLiterals(spec: FilterSpecMessage): GateLiteral[] | null {
  if (Math.max(1, spec.maxlines || 1) > 1) return null;
  try {
    const out: GateLiteral[] = [];
    for (const p of filterParts(spec).fail) {
      if (!p.literals) return null;
      out.push(...p.literals);
    }
    return out.length ? out : null;
  } catch {
    return null;
  }
}
