// Time values (bantime, findtime, dbpurgeage, ...) as fail2ban reads them (MyTime.str2seconds):
// a unit word after a number becomes a multiplication, numbers separated by white space are
// summed, and the result is evaluated as arithmetic. fail2ban hands that text to Python's eval;
// we evaluate it with a small parser that knows numbers, + - * / // % ** and parentheses only.
//
//   600 = 600   10m = 600   1h 30m = 5400   1d12h30m = 131400   1h+30m = 5400
//   1year-6mo = 15778800   -1 = -1 (permanent ban)
// Units (any case): years?/yea?/yy? (365.25 days), months?/mon?/mo (a twelfth of that),
// weeks?/wee?/ww?, days?/da/dd?, hours?/hou?/hh?, minutes?/min?/mm?/m, seconds?/sec?/ss?/s.

import { F2bError } from '../errors';

const DAY = 24 * 60 * 60;
const YEAR = ((365 * 3 + 366) * DAY) / 4;

/** Applied in this order, as fail2ban does (so `m` is minutes, `mo` months). */
const UNITS: [RegExp, string][] = [
  [/(?<=[\d\s])(days?|da|dd?)\b/gi, `*${DAY}`],
  [/(?<=[\d\s])(weeks?|wee?|ww?)\b/gi, `*${7 * DAY}`],
  [/(?<=[\d\s])(months?|mon?)\b/gi, `*${(YEAR / 12).toFixed(1)}`],
  [/(?<=[\d\s])(years?|yea?|yy?)\b/gi, `*${YEAR.toFixed(1)}`],
  [/(?<=[\d\s])(seconds?|sec?|ss?)\b/gi, '*1'],
  [/(?<=[\d\s])(minutes?|min?|mm?)\b/gi, '*60'],
  [/(?<=[\d\s])(hours?|hou?|hh?)\b/gi, `*${60 * 60}`],
];

/** The arithmetic text fail2ban would evaluate for `expr`. */
export function timeExpression(expr: string): string {
  let v = expr.replace(/(?<=[a-z])(\d)/gi, ' $1'); // 1d12h -> 1d 12h
  for (const [re, repl] of UNITS) v = v.replace(re, repl);
  return v.replace(/(\d)\s+(\d)/g, '$1+$2'); // 1h 30m: groups separated by blanks are summed
}

/** Seconds in a fail2ban time value. Throws F2bError(CONFIG_VALUE) when it is not one. */
export function str2seconds(expr: string | number): number {
  if (typeof expr === 'number') return expr;
  const text = timeExpression(expr);
  try {
    return new Arithmetic(text).evaluate();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new F2bError('CONFIG_VALUE', `not a time value: ${JSON.stringify(expr)} (${why})`);
  }
}

type Token = { kind: 'num'; value: number } | { kind: 'op'; op: string };

/** Python-like arithmetic on numbers: ** binds tighter than unary minus on its left and is
 *  right-associative; / is true division, // and % floor like Python's. */
class Arithmetic {
  private readonly tokens: Token[] = [];
  private pos = 0;

  constructor(text: string) {
    const re = /\s*(?:(\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?|\.\d[\d_]*(?:[eE][+-]?\d+)?)|(\*\*|\/\/|[-+*/%()]))/y;
    let i = 0;
    for (;;) {
      re.lastIndex = i;
      const m = re.exec(text);
      if (!m) break;
      i = re.lastIndex;
      if (m[1] !== undefined) {
        if (/^0\d/.test(m[1]) && /^[\d_]+$/.test(m[1]) && /[1-9]/.test(m[1])) throw new Error(`leading zeros in ${m[1]}`);
        if (/__|_$|_\.|\._/.test(m[1])) throw new Error(`bad number ${m[1]}`);
        this.tokens.push({ kind: 'num', value: Number(m[1].replace(/_/g, '')) });
      } else {
        this.tokens.push({ kind: 'op', op: m[2] });
      }
    }
    if (text.slice(i).trim() !== '') throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 20))}`);
  }

  evaluate(): number {
    if (!this.tokens.length) throw new Error('empty');
    const v = this.sum();
    if (this.pos < this.tokens.length) throw new Error('unexpected trailing input');
    return v;
  }

  private peek(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'op' ? t.op : undefined;
  }

  private sum(): number {
    let v = this.product();
    for (let op = this.peek(); op === '+' || op === '-'; op = this.peek()) {
      this.pos++;
      const r = this.product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }

  private product(): number {
    let v = this.unary();
    for (let op = this.peek(); op === '*' || op === '/' || op === '//' || op === '%'; op = this.peek()) {
      this.pos++;
      const r = this.unary();
      if (op === '*') v *= r;
      else {
        if (r === 0) throw new Error('division by zero');
        if (op === '/') v /= r;
        else if (op === '//') v = Math.floor(v / r);
        else v -= r * Math.floor(v / r);
      }
    }
    return v;
  }

  private unary(): number {
    const op = this.peek();
    if (op === '-' || op === '+') {
      this.pos++;
      const v = this.unary();
      return op === '-' ? -v : v;
    }
    return this.power();
  }

  private power(): number {
    const base = this.atom();
    if (this.peek() === '**') {
      this.pos++;
      return base ** this.unary();
    }
    return base;
  }

  private atom(): number {
    const t = this.tokens[this.pos++];
    if (t?.kind === 'num') return t.value;
    if (t?.kind === 'op' && t.op === '(') {
      const v = this.sum();
      if (this.peek() !== ')') throw new Error('missing )');
      this.pos++;
      return v;
    }
    throw new Error('expected a number');
  }
}
