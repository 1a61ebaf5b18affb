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
