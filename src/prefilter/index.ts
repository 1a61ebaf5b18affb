// JS prefilter: a cheap, sound test on a RAW log line (date still in it) that says whether the
// filter's regexes could match it. Rules and their reasons: ./relax.ts. The native (RE2 / literal
// atom) prefilter will use gatePieces() / re2Alternation() from the same relaxation.
//
// How callers must use it (rule chosen for the tracker's "last date" fallback): a dropped line
// skips the regex search only. Its date must still reach the date detector and the failure
// tracker in order (the detector reorders its templates by use, and an undated failure line
// takes the last date), unless the caller knows no later line can need it. See
// test/helpers/corpus.ts runFilterSamples({ prefilter }) and test/prefilter.test.ts.

import type { FilterSpecMessage } from '../types';
import { fold, halves, relax, gatePieces, re2Alternation, grepLiterals, type Atom, type Lit, type Relaxation } from './relax';

export { fold, relax, gatePieces, re2Alternation, grepLiterals };
export type { Atom, Lit, Relaxation };

interface CLit {
  text: string;
  ci: boolean;
  h0: string;
  h1: string;
  /** index into the per-line presence cache */
  id: number;
}
/** any-of */
type CAtom = CLit[];

function compile(req: Atom[], ids: Map<string, number>): CAtom[] {
  return req.map((atom) => atom.map((l) => {
    const [h0, h1] = halves(l);
    const k = (l.ci ? 'i:' : 's:') + l.text;
    let id = ids.get(k);
    if (id === undefined) ids.set(k, (id = ids.size));
    return { text: l.text, ci: l.ci, h0, h1, id };
  }));
}

/** an atom for reports: its literal, or `a | b | c` for an any-of atom */
const show = (atom: Atom) => atom.map((l) => l.text).join(' | ');

export class Prefilter {
  readonly alwaysPass: boolean;
  /** why alwaysPass */
  readonly reason?: string;
  /** per failregex, the literals it requires (empty when the failregex part never drops); an
   *  any-of atom (one of several literals, from an alternation) shows as `a | b | c` */
  readonly literals: string[][];
  /** the literals the prefregex requires */
  readonly prefLiterals: string[];
  readonly relaxation: Relaxation;
  private readonly pref: CAtom[];
  private readonly fail: CAtom[][];
  private readonly anyCi: boolean;
  /** per line: 0 = literal not looked up yet, 1 = present, -1 = absent */
  private readonly seen: Int8Array;
  /** one pass over the raw line first: a line that can pass contains one of these (or null) */
  private readonly gate: RegExp | null;

  constructor(spec: FilterSpecMessage) {
    const r = relax(spec);
    this.relaxation = r;
    this.alwaysPass = r.alwaysPass;
    this.reason = r.reason;
    const ids = new Map<string, number>();
    this.pref = compile(r.pref, ids);
    this.fail = r.fail.map((q) => compile(q, ids));
    this.seen = new Int8Array(ids.size);
    this.literals = r.fail.map((q) => q.map(show));
    this.prefLiterals = r.pref.map(show);
    this.anyCi = [...this.pref, ...this.fail.flat()].flat().some((l) => l.ci);
    this.gate = gateRegExp(r);
  }

  /** RE2 alternation for the native side (null = pass every line). */
  get re2(): string | null {
    return re2Alternation(this.relaxation);
  }

  /** false only when no failregex (after the prefregex) can match the line. */
  test(line: string): boolean {
    if (this.alwaysPass) return true;
    if (this.gate && !this.gate.test(line)) return false;
    const ln: LineState = { line, folded: this.anyCi ? null : line, seen: this.seen };
    ln.seen.fill(0);
    if (this.pref.length && !ok(this.pref, ln)) return false;
    if (this.fail.length === 0) return true;
    for (const req of this.fail) if (ok(req, ln)) return true;
    return false;
  }
}

/** The gate pieces (relax.ts gatePieces) as one JS regex on the raw line, case-insensitive
 *  for all (a relaxation for case-sensitive pieces): /iu folds K/k and ſ/s like Python, and an
 *  `i` of a piece also accepts İ and ı. */
function gateRegExp(r: Relaxation): RegExp | null {
  const pieces = gatePieces(r);
  if (!pieces) return null;
  // a piece containing another adds nothing to an alternation
  const list = [...new Set(pieces.map((l) => l.text.toLowerCase()))].sort((a, b) => a.length - b.length);
  const kept = list.filter((p, i) => !list.slice(0, i).some((q) => p.includes(q)));
  const esc = (p: string) => p.replace(/[\\^$.*+?()[\]{}|\/]/g, '\\$&').replace(/i/g, '[i\\u0130\\u0131]');
  return new RegExp(kept.map(esc).join('|'), 'iu');
}

/** every atom in the line, or all but one and that one has a half of a literal in it (relax.ts
 *  rule R3) */
interface LineState {
  line: string;
  /** fold(line), computed on first use */
  folded: string | null;
  seen: Int8Array;
}

const text = (ln: LineState, ci: boolean) => (ci ? (ln.folded ??= fold(ln.line)) : ln.line);

function ok(req: CAtom[], ln: LineState): boolean {
  let missing: CAtom | null = null;
  for (const atom of req) {
    if (has(atom, ln)) continue;
    if (missing) return false;
    missing = atom;
  }
  if (!missing) return true;
  for (const l of missing) {
    const s = text(ln, l.ci);
    if (s.includes(l.h0) || s.includes(l.h1)) return true;
  }
  return false;
}

function has(atom: CAtom, ln: LineState): boolean {
  const seen = ln.seen;
  for (const l of atom) {
    let v = seen[l.id];
    if (v === 0) seen[l.id] = v = text(ln, l.ci).includes(l.text) ? 1 : -1;
    if (v === 1) return true;
  }
  return false;
}
