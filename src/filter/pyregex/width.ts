// CPython's pattern widths (SubPattern.getwidth), for its rule that a lookbehind must match a
// fixed number of characters: `(?<=a|bc)` is an error in Python, so it is one here, although
// V8 would accept it.

import { Node } from './ast';
import { PyRegexError } from './error';

export const MAXREPEAT = 4294967295;

/** [min, max] characters matched */
export type Width = [number, number];

/** groupWidths: the width of each closed group, by number (for backreferences) */
export function width(n: Node, groupWidths: ReadonlyArray<Width | undefined>): Width {
  const w = (x: Node) => width(x, groupWidths);
  const cap = (lo: number, hi: number): Width => [Math.min(lo, MAXREPEAT - 1), Math.min(hi, MAXREPEAT)];
  switch (n.t) {
    case 'char': case 'class': case 'cat': case 'any': return [1, 1];
    case 'at': case 'look': return [0, 0];
    case 'group': case 'atomic': return w(n.body);
    case 'seq': {
      let lo = 0, hi = 0;
      for (const x of n.items) {
        const [a, b] = w(x);
        lo += a;
        hi += b;
      }
      return cap(lo, hi);
    }
    case 'alt': {
      let lo = MAXREPEAT - 1, hi = 0;
      for (const x of n.alts) {
        const [a, b] = w(x);
        lo = Math.min(lo, a);
        hi = Math.max(hi, b);
      }
      return [lo, hi];
    }
    case 'repeat': {
      const [a, b] = w(n.body);
      return cap(a * n.min, b * (n.max === Infinity ? MAXREPEAT : n.max));
    }
    case 'backref': return groupWidths[n.group] ?? [0, 0];
    case 'cond': {
      const [a, b] = w(n.yes);
      if (!n.no) return [0, b];
      const [c, d] = w(n.no);
      return [Math.min(a, c), Math.max(b, d)];
    }
  }
}

/** throws CPython's error for the first lookbehind that is not fixed-width */
export function checkLookbehindWidths(n: Node, groupWidths: ReadonlyArray<Width | undefined>, pattern: string): void {
  const check = (x: Node) => checkLookbehindWidths(x, groupWidths, pattern);
  switch (n.t) {
    case 'seq': n.items.forEach(check); return;
    case 'alt': n.alts.forEach(check); return;
    case 'group': case 'atomic': case 'repeat': check(n.body); return;
    case 'cond':
      check(n.yes);
      if (n.no) check(n.no);
      return;
    case 'look':
      if (n.behind) {
        const [lo, hi] = width(n.body, groupWidths);
        if (lo !== hi) throw new PyRegexError('look-behind requires fixed-width pattern', pattern, n.pos);
      }
      check(n.body);
      return;
    default:
      return;
  }
}
