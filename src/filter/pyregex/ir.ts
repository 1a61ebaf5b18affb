// The JS side of the translation: a small regex tree whose constructors prune dead branches (the
// conditional rewrite produces many) and whose printer adds (?:...) only where JS needs it.

export type IR =
  /** text that a quantifier can follow directly: a character, a class, an escape, a group */
  | { k: 'atom'; s: string }
  /** text that must be wrapped before a quantifier (anchors, their lookaround forms) */
  | { k: 'text'; s: string }
  | { k: 'seq'; xs: IR[] }
  | { k: 'alt'; xs: IR[] }
  /** named capturing group */
  | { k: 'cap'; name: string; x: IR }
  | { k: 'look'; behind: boolean; neg: boolean; x: IR }
  | { k: 'rep'; x: IR; min: number; max: number; lazy: boolean }
  | { k: 'fail' }
  /** a placeholder for the continuation, used while the conditional rewrite explores a group */
  | { k: 'hole'; id: number };

export const EMPTY: IR = { k: 'seq', xs: [] };
export const FAIL: IR = { k: 'fail' };

export const atom = (s: string): IR => ({ k: 'atom', s });
export const text = (s: string): IR => ({ k: 'text', s });

const isEmpty = (x: IR) => x.k === 'seq' && x.xs.length === 0;

export function seq(parts: IR[]): IR {
  const xs: IR[] = [];
  for (const p of parts) {
    if (p.k === 'fail') return FAIL;
    if (p.k === 'seq') xs.push(...p.xs);
    else xs.push(p);
  }
  return xs.length === 1 ? xs[0] : { k: 'seq', xs };
}

export function alt(parts: IR[]): IR {
  const xs: IR[] = [];
  for (const p of parts) {
    if (p.k === 'fail') continue;
    if (p.k === 'alt') xs.push(...p.xs);
    else xs.push(p);
  }
  if (xs.length === 0) return FAIL;
  return xs.length === 1 ? xs[0] : { k: 'alt', xs };
}

export function cap(name: string | null, x: IR): IR {
  if (x.k === 'fail') return FAIL;
  return name === null ? x : { k: 'cap', name, x };
}

export function look(behind: boolean, neg: boolean, x: IR): IR {
  if (x.k === 'fail') return neg ? EMPTY : FAIL;
  if (isEmpty(x)) return neg ? FAIL : EMPTY;
  return { k: 'look', behind, neg, x };
}

export function rep(x: IR, min: number, max: number, lazy: boolean): IR {
  if (max === 0 || (x.k === 'fail' && min === 0)) return EMPTY;
  if (x.k === 'fail') return FAIL;
  if (min === 1 && max === 1) return x;
  if (isEmpty(x)) return EMPTY;
  return { k: 'rep', x, min, max, lazy };
}

export function print(x: IR): string {
  switch (x.k) {
    case 'atom': case 'text': return x.s;
    case 'seq': return x.xs.map((y) => (y.k === 'alt' ? `(?:${print(y)})` : print(y))).join('');
    case 'alt': return x.xs.map(print).join('|');
    case 'cap': return `(?<${x.name}>${print(x.x)})`;
    case 'look': return `(?${x.behind ? '<' : ''}${x.neg ? '!' : '='}${print(x.x)})`;
    case 'rep': {
      const body = x.x.k === 'atom' || x.x.k === 'cap' ? print(x.x) : `(?:${print(x.x)})`;
      return body + quantifier(x.min, x.max) + (x.lazy ? '?' : '');
    }
    case 'fail': return '(?!)';
    case 'hole': throw new Error('internal: unresolved continuation placeholder');
  }
}

function quantifier(min: number, max: number): string {
  if (max === Infinity) return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
  if (min === 0 && max === 1) return '?';
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

/** hole ids in textual order */
export function holes(x: IR, out: number[] = []): number[] {
  switch (x.k) {
    case 'hole': out.push(x.id); break;
    case 'seq': case 'alt': for (const y of x.xs) holes(y, out); break;
    case 'cap': case 'look': case 'rep': holes(x.x, out); break;
    default: break;
  }
  return out;
}

/** capture names in textual order */
export function captureNames(x: IR, out: string[] = []): string[] {
  switch (x.k) {
    case 'cap': out.push(x.name); captureNames(x.x, out); break;
    case 'seq': case 'alt': for (const y of x.xs) captureNames(y, out); break;
    case 'look': case 'rep': captureNames(x.x, out); break;
    default: break;
  }
  return out;
}

/** replaces holes; the constructors re-prune what becomes dead */
export function fillHoles(x: IR, f: (id: number) => IR): IR {
  switch (x.k) {
    case 'hole': return f(x.id);
    case 'seq': return seq(x.xs.map((y) => fillHoles(y, f)));
    case 'alt': return alt(x.xs.map((y) => fillHoles(y, f)));
    case 'cap': return cap(x.name, fillHoles(x.x, f));
    case 'look': return look(x.behind, x.neg, fillHoles(x.x, f));
    case 'rep': return rep(fillHoles(x.x, f), x.min, x.max, x.lazy);
    default: return x;
  }
}

/** matches only the empty string wherever it matches (anchors and lookarounds) */
function zeroWidth(x: IR): boolean {
  switch (x.k) {
    case 'text': case 'look': case 'fail': return true;
    case 'seq': case 'alt': return x.xs.every(zeroWidth);
    case 'cap': case 'rep': return zeroWidth(x.x);
    default: return false;
  }
}

/** a capture that begins where the match begins */
export const AT_START = 1;
/** a capture that ends where the match ends */
export const AT_END = 2;

/**
 * For each capture, whether only zero-width items separate it from the start (AT_START) or end
 * (AT_END) of the match, so that its span follows from the match bounds and its text. Captures
 * inside a lookaround or a repeat (other than `?`) get 0.
 */
export function boundCaptures(x: IR, out = new Map<string, number>(), bound = AT_START | AT_END): Map<string, number> {
  switch (x.k) {
    case 'cap':
      out.set(x.name, bound);
      boundCaptures(x.x, out, bound);
      break;
    case 'seq': {
      // items before i (after i) all zero-width
      const n = x.xs.length;
      const tail: boolean[] = new Array(n);
      for (let i = n - 1, z = true; i >= 0; i--) {
        tail[i] = z;
        z = z && zeroWidth(x.xs[i]);
      }
      for (let i = 0, z = true; i < n; i++) {
        boundCaptures(x.xs[i], out, bound & ((z ? AT_START : 0) | (tail[i] ? AT_END : 0)));
        z = z && zeroWidth(x.xs[i]);
      }
      break;
    }
    case 'alt': for (const y of x.xs) boundCaptures(y, out, bound); break;
    case 'rep': boundCaptures(x.x, out, x.max === 1 ? bound : 0); break;
    case 'look': boundCaptures(x.x, out, 0); break;
    default: break;
  }
  return out;
}
