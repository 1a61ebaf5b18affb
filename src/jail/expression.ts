// The Python expressions fail2ban evaluates for `bantime.formula` and `bantime.factor`, without
// eval: a tokenizer, a recursive-descent parser for Python's expression grammar (numbers, names,
// attribute access, calls, unary and binary arithmetic, shifts, bit operations, chained
// comparisons, `not`/`and`/`or`, `x if c else y`) and an interpreter with Python's number
// semantics. Python ints are bigints here, floats are numbers (True/False are the ints 1 and 0,
// as in Python), so `1 << 40`, `7 // -2` and `2 ** -1` come out as Python computes them.
//
// fail2ban evaluates the formula inside jail.py, whose namespace holds the formula's own
// variables (`ban.Time`, `ban.Count`, `banFactor`), the `math` module and Python's builtins. We
// offer those variables, math's numeric functions and constants, and the numeric builtins
// abs/min/max/int/float/round/pow/bool. Names are checked when the expression is compiled, so an
// unknown name is a config error rather than (in fail2ban) an error at the first ban.

import { F2bError } from '../errors';
import { roundHalfEven } from './failures';

/** A Python number: bigint = int (and bool), number = float. */
export type PyNum = bigint | number;

/** A Python exception raised while evaluating (ZeroDivisionError, OverflowError, ...). */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(`${pyType}: ${message}`);
    this.name = 'PyError';
  }
}

const err = (type: string, message: string) => new PyError(type, message);

// ---------------------------------------------------------------------------------------------
// numbers

/** Beyond this many bits an int result is refused (Python would compute it, slowly). */
const MAX_INT_BITS = 1 << 16;

const bitLength = (n: bigint): number => (n === 0n ? 0 : (n < 0n ? -n : n).toString(16).length * 4);

export function toFloat(x: PyNum): number {
  if (typeof x === 'number') return x;
  const f = Number(x);
  if (!Number.isFinite(f)) throw err('OverflowError', 'int too large to convert to float');
  return f;
}

export function truthy(x: PyNum): boolean {
  return typeof x === 'bigint' ? x !== 0n : x !== 0; // NaN is true in Python
}

const pyBool = (b: boolean): bigint => (b ? 1n : 0n);

function floatToInt(x: number): bigint {
  if (Number.isNaN(x)) throw err('ValueError', 'cannot convert float NaN to integer');
  if (!Number.isFinite(x)) throw err('OverflowError', 'cannot convert float infinity to integer');
  return BigInt(Math.trunc(x));
}

/** CPython's float divmod: floor quotient and a remainder with the divisor's sign. */
function floatDivMod(a: number, b: number, what: string): [number, number] {
  if (b === 0) throw err('ZeroDivisionError', `float ${what} by zero`);
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  } else {
    mod = b < 0 ? -0 : 0;
  }
  let floordiv: number;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
  } else {
    floordiv = a / b < 0 || Object.is(a / b, -0) ? -0 : 0;
  }
  return [floordiv, mod];
}

function intFloorDiv(a: bigint, b: bigint): bigint {
  if (b === 0n) throw err('ZeroDivisionError', 'integer division or modulo by zero');
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function intMod(a: bigint, b: bigint): bigint {
  if (b === 0n) throw err('ZeroDivisionError', 'integer division or modulo by zero');
  const r = a % b;
  return r !== 0n && r < 0n !== b < 0n ? r + b : r;
}

/** float ** float with CPython's special cases (1 ** nan, 0 ** -1, negative ** fraction...). */
function floatPow(a: number, b: number): number {
  if (b === 0) return 1;
  if (Number.isNaN(a)) return a;
  if (Number.isNaN(b)) return a === 1 ? 1 : b;
  if (a === 1) return 1;
  if (!Number.isFinite(b) && Math.abs(a) === 1) return 1;
  if (a === 0 && b < 0) throw err('ZeroDivisionError', '0.0 cannot be raised to a negative power');
  if (a < 0 && Number.isFinite(a) && Number.isFinite(b) && !Number.isInteger(b)) {
    throw err('ValueError', 'a negative number raised to a fractional power is complex, which is not supported');
  }
  const r = a ** b;
  if (!Number.isFinite(r) && Number.isFinite(a) && Number.isFinite(b)) throw err('OverflowError', 'Numerical result out of range');
  return r;
}

function requireInts(op: string, a: PyNum, b?: PyNum): void {
  if (typeof a !== 'bigint' || (b !== undefined && typeof b !== 'bigint')) {
    const t = (x: PyNum) => (typeof x === 'bigint' ? 'int' : 'float');
    throw err('TypeError', b === undefined ? `bad operand type for unary ${op}: '${t(a)}'` : `unsupported operand type(s) for ${op}: '${t(a)}' and '${t(b)}'`);
  }
}

/** A binary operator with Python's semantics. */
export function binary(op: string, a: PyNum, b: PyNum): PyNum {
  const ints = typeof a === 'bigint' && typeof b === 'bigint';
  switch (op) {
    case '+':
      return ints ? (a as bigint) + (b as bigint) : toFloat(a) + toFloat(b);
    case '-':
      return ints ? (a as bigint) - (b as bigint) : toFloat(a) - toFloat(b);
    case '*':
      return ints ? (a as bigint) * (b as bigint) : toFloat(a) * toFloat(b);
    case '/': {
      const x = toFloat(a);
      const y = toFloat(b);
      if (y === 0) throw err('ZeroDivisionError', ints ? 'division by zero' : 'float division by zero');
      return x / y;
    }
    case '//':
      return ints ? intFloorDiv(a as bigint, b as bigint) : floatDivMod(toFloat(a), toFloat(b), 'floor division')[0];
    case '%':
      return ints ? intMod(a as bigint, b as bigint) : floatDivMod(toFloat(a), toFloat(b), 'modulo')[1];
    case '**':
      if (ints) {
        const x = a as bigint;
        const y = b as bigint;
        if (y < 0n) {
          if (x === 0n) throw err('ZeroDivisionError', '0.0 cannot be raised to a negative power');
          return floatPow(toFloat(x), toFloat(y));
        }
        if (x === 0n || x === 1n || y === 0n) return x ** y;
        if (x === -1n) return y % 2n === 0n ? 1n : -1n;
        if (bitLength(x) * Number(y) > MAX_INT_BITS) throw err('OverflowError', 'integer result too large');
        return x ** y;
      }
      return floatPow(toFloat(a), toFloat(b));
    case '<<':
    case '>>': {
      requireInts(op, a, b);
      const x = a as bigint;
      const n = b as bigint;
      if (n < 0n) throw err('ValueError', 'negative shift count');
      if (op === '>>') return n > 1_000_000n ? (x < 0n ? -1n : 0n) : x >> n;
      if (x === 0n) return 0n;
      if (n > BigInt(MAX_INT_BITS) || bitLength(x) + Number(n) > MAX_INT_BITS) throw err('OverflowError', 'integer result too large');
      return x << n;
    }
    case '&':
      requireInts(op, a, b);
      return (a as bigint) & (b as bigint);
    case '|':
      requireInts(op, a, b);
      return (a as bigint) | (b as bigint);
    case '^':
      requireInts(op, a, b);
      return (a as bigint) ^ (b as bigint);
  }
  throw new Error(`unknown operator ${op}`);
}

/** A comparison; bigint and number compare exactly in JavaScript, as ints and floats do in Python. */
export function compare(op: string, a: PyNum, b: PyNum): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      // loose equality is the exact mathematical one between bigint and number (1n == 1.0)
      return a == b; // eslint-disable-line eqeqeq
    case '!=':
      return a != b; // eslint-disable-line eqeqeq
  }
  throw new Error(`unknown comparison ${op}`);
}

/** Python's max(a, b) and min(a, b): the first argument unless the second is strictly beyond. */
export const pyMax = (a: PyNum, b: PyNum): PyNum => (b > a ? b : a);
export const pyMin = (a: PyNum, b: PyNum): PyNum => (b < a ? b : a);

/** A Python number as a JavaScript number (ints beyond a double's range become ±Infinity). */
export const toNumber = (x: PyNum): number => (typeof x === 'bigint' ? Number(x) : x);

// ---------------------------------------------------------------------------------------------
// the namespace: builtins and math

interface Fn {
  min: number;
  max: number;
  call: (args: PyNum[]) => PyNum;
}

const fn = (min: number, max: number, call: (args: PyNum[]) => PyNum): Fn => ({ min, max, call });

/** natural log of a positive int or float, ints beyond a double's range included */
function ln(x: PyNum, name: string): number {
  if (typeof x === 'bigint') {
    if (x <= 0n) throw err('ValueError', 'math domain error');
    const bits = bitLength(x);
    if (bits <= 1000) return Math.log(Number(x));
    const shift = BigInt(bits - 64);
    return Math.log(Number(x >> shift)) + Number(shift) * Math.LN2;
  }
  if (x <= 0 || Number.isNaN(x)) {
    if (Number.isNaN(x)) return x;
    throw err('ValueError', `math domain error (${name})`);
  }
  return Math.log(x);
}

/** f(x) for a math function whose result overflows to OverflowError, as in CPython's math module. */
const mathFloat = (f: (x: number) => number, domain?: (x: number) => boolean): Fn =>
  fn(1, 1, ([x]) => {
    const v = toFloat(x);
    if (domain && !Number.isNaN(v) && !domain(v)) throw err('ValueError', 'math domain error');
    const r = f(v);
    if (!Number.isFinite(r) && Number.isFinite(v)) throw err('OverflowError', 'math range error');
    return r;
  });

const toIntBy = (f: (x: number) => number): Fn => fn(1, 1, ([x]) => (typeof x === 'bigint' ? x : floatToInt(f(x))));

function extreme(pick: (a: PyNum, b: PyNum) => PyNum, name: string): Fn {
  return fn(2, Infinity, (args) => {
    if (args.length < 2) throw err('TypeError', `${name} expected at least 2 numbers here (iterables are not supported)`);
    return args.reduce(pick);
  });
}

const BUILTINS: Record<string, Fn> = {
  abs: fn(1, 1, ([x]) => (typeof x === 'bigint' ? (x < 0n ? -x : x) : Math.abs(x))),
  min: extreme(pyMin, 'min'),
  max: extreme(pyMax, 'max'),
  int: fn(1, 1, ([x]) => (typeof x === 'bigint' ? x : floatToInt(x))),
  float: fn(1, 1, ([x]) => toFloat(x)),
  bool: fn(1, 1, ([x]) => pyBool(truthy(x))),
  pow: fn(2, 2, ([x, y]) => binary('**', x, y)),
  round: fn(1, 2, ([x, n]) => {
    if (n === undefined) return typeof x === 'bigint' ? x : floatToInt(roundHalfEven(x));
    if (typeof n !== 'bigint') throw err('TypeError', "'float' object cannot be interpreted as an integer");
    if (typeof x !== 'bigint') throw err('NotImplementedError', 'round() of a float to a number of digits is not supported');
    if (n >= 0n) return x;
    // ints round half to even at 10**-n
    const unit = 10n ** -n;
    const q = intFloorDiv(x, unit);
    const r = x - q * unit;
    const twice = 2n * r;
    return (twice > unit || (twice === unit && q % 2n !== 0n) ? q + 1n : q) * unit;
  }),
};

const MATH: Record<string, Fn | number> = {
  pi: Math.PI,
  e: Math.E,
  tau: 2 * Math.PI,
  inf: Infinity,
  nan: NaN,
  exp: mathFloat(Math.exp),
  expm1: mathFloat(Math.expm1),
  sqrt: mathFloat(Math.sqrt, (x) => x >= 0),
  fabs: mathFloat(Math.abs),
  log1p: mathFloat(Math.log1p, (x) => x > -1),
  log: fn(1, 2, ([x, base]) => {
    const num = ln(x, 'log');
    if (base === undefined) return num;
    const den = ln(base, 'log');
    if (den === 0) throw err('ZeroDivisionError', 'float division by zero');
    return num / den;
  }),
  log2: fn(1, 1, ([x]) => ln(x, 'log2') / Math.LN2),
  log10: fn(1, 1, ([x]) => (typeof x === 'number' && x > 0 ? Math.log10(x) : ln(x, 'log10') / Math.LN10)),
  pow: fn(2, 2, ([x, y]) => {
    const a = toFloat(x);
    const b = toFloat(y);
    if ((a === 0 && b < 0) || (a < 0 && Number.isFinite(a) && Number.isFinite(b) && !Number.isInteger(b))) throw err('ValueError', 'math domain error');
    const r = floatPow(a, b);
    return r;
  }),
  floor: toIntBy(Math.floor),
  ceil: toIntBy(Math.ceil),
  trunc: toIntBy(Math.trunc),
};

// ---------------------------------------------------------------------------------------------
// tokens

type Token =
  | { kind: 'num'; value: PyNum; pos: number }
  | { kind: 'name'; text: string; pos: number }
  | { kind: 'op'; text: string; pos: number }
  | { kind: 'end'; pos: number };

const KEYWORDS = new Set(['if', 'else', 'and', 'or', 'not', 'True', 'False', 'None', 'in', 'is', 'lambda']);
const OPERATORS = ['**', '//', '<<', '>>', '<=', '>=', '==', '!=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', '~', '&', '|', '^'];
const NUMBER = new RegExp(
  [
    String.raw`0[xX](?:_?[0-9a-fA-F])+`,
    String.raw`0[oO](?:_?[0-7])+`,
    String.raw`0[bB](?:_?[01])+`,
    // floats: 1.5, 1., .5, 1e3, 1.5e-3 (digit groups may hold single underscores)
    String.raw`(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?`,
    String.raw`\d(?:_?\d)*\.(?:[eE][+-]?\d(?:_?\d)*)?`,
    String.raw`\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*`,
    String.raw`\d(?:_?\d)*`,
  ]
    .map((p) => `(?:${p})`)
    .join('|'),
  'y',
);

class SyntaxProblem extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\f' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '\n') {
      // a new line ends a Python expression unless brackets are open (or only blanks follow)
      if (depth === 0 && text.slice(i).trim() !== '') throw new SyntaxProblem('unexpected new line', i);
      i++;
      continue;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m && (/\d/.test(c) || (c === '.' && /\d/.test(text[i + 1] ?? '')))) {
      const raw = m[0];
      const after = text[i + raw.length] ?? '';
      if (/[jJ]/.test(after)) throw new SyntaxProblem('complex numbers are not supported', i);
      if (/[A-Za-z_0-9]/.test(after)) {
        const word = /^[A-Za-z_]\w*/.exec(text.slice(i + raw.length))?.[0];
        if (!word || !KEYWORDS.has(word)) throw new SyntaxProblem(`invalid number ${JSON.stringify(raw + after)}`, i);
      }
      const clean = raw.replace(/_/g, '');
      let value: PyNum;
      if (/^0[xXoObB]/.test(clean)) value = BigInt(clean);
      else if (/[.eE]/.test(clean)) value = Number(clean);
      else {
        if (/^0+[1-9]/.test(clean)) throw new SyntaxProblem('leading zeros in decimal integer literals are not permitted', i);
        value = BigInt(clean);
      }
      out.push({ kind: 'num', value, pos: i });
      i += raw.length;
      continue;
    }
    const name = /^[A-Za-z_]\w*/.exec(text.slice(i, i + 256));
    if (name) {
      out.push({ kind: 'name', text: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    if (c === '"' || c === "'") throw new SyntaxProblem('strings are not supported', i);
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new SyntaxProblem(`unexpected character ${JSON.stringify(c)}`, i);
    if (op === '(') depth++;
    if (op === ')') depth--;
    out.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  out.push({ kind: 'end', pos: text.length });
  return out;
}

// ---------------------------------------------------------------------------------------------
// syntax tree and parser

type Node =
  | { k: 'num'; v: PyNum }
  | { k: 'var'; name: string }
  | { k: 'call'; fn: Fn; args: Node[] }
  | { k: 'neg' | 'pos' | 'inv' | 'not'; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'cmp'; first: Node; rest: [string, Node][] }
  | { k: 'and' | 'or'; items: Node[] }
  | { k: 'if'; cond: Node; then: Node; else: Node };

const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=']);
/** binary levels from loosest to tightest, below comparisons and above unary */
const LEVELS: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '//', '%']];

class Parser {
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly variables: ReadonlySet<string>,
  ) {}

  parse(): Node {
    if (this.peek().kind === 'end') throw new SyntaxProblem('empty expression', 0);
    const n = this.expr();
    const t = this.peek();
    if (t.kind !== 'end') throw new SyntaxProblem(`unexpected ${this.describe(t)}`, t.pos);
    return n;
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private describe(t: Token): string {
    return t.kind === 'end' ? 'end of expression' : t.kind === 'num' ? `number ${String(t.value)}` : JSON.stringify(t.text);
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  private isWord(text: string): boolean {
    const t = this.peek();
    return t.kind === 'name' && t.text === text;
  }

  private expect(text: string): void {
    if (!this.isOp(text)) {
      const t = this.peek();
      throw new SyntaxProblem(`expected ${JSON.stringify(text)}, found ${this.describe(t)}`, t.pos);
    }
    this.pos++;
  }

  /** conditional: or_test ['if' or_test 'else' expr] */
  private expr(): Node {
    const then = this.or();
    if (!this.isWord('if')) return then;
    this.pos++;
    const cond = this.or();
    if (!this.isWord('else')) {
      const t = this.peek();
      throw new SyntaxProblem(`expected "else", found ${this.describe(t)}`, t.pos);
    }
    this.pos++;
    return { k: 'if', cond, then, else: this.expr() };
  }

  private or(): Node {
    const items = [this.and()];
    while (this.isWord('or')) {
      this.pos++;
      items.push(this.and());
    }
    return items.length === 1 ? items[0] : { k: 'or', items };
  }

  private and(): Node {
    const items = [this.not()];
    while (this.isWord('and')) {
      this.pos++;
      items.push(this.not());
    }
    return items.length === 1 ? items[0] : { k: 'and', items };
  }

  private not(): Node {
    if (this.isWord('not')) {
      this.pos++;
      return { k: 'not', a: this.not() };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.binary(0);
    const rest: [string, Node][] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && COMPARISONS.has(t.text)) {
        this.pos++;
        rest.push([t.text, this.binary(0)]);
      } else if (t.kind === 'name' && (t.text === 'in' || t.text === 'is')) {
        throw new SyntaxProblem(`"${t.text}" is not supported`, t.pos);
      } else break;
    }
    return rest.length ? { k: 'cmp', first, rest } : first;
  }

  private binary(level: number): Node {
    if (level === LEVELS.length) return this.unary();
    let a = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !LEVELS[level].includes(t.text)) return a;
      this.pos++;
      a = { k: 'bin', op: t.text, a, b: this.binary(level + 1) };
    }
  }

  /** unary + - ~ bind looser than ** on their right: -2 ** 2 == -4 */
  private unary(): Node {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+' || t.text === '~')) {
      this.pos++;
      const a = this.unary();
      return { k: t.text === '-' ? 'neg' : t.text === '+' ? 'pos' : 'inv', a };
    }
    return this.power();
  }

  /** power: primary ['**' unary], right-associative */
  private power(): Node {
    const base = this.primary();
    if (!this.isOp('**')) return base;
    this.pos++;
    return { k: 'bin', op: '**', a: base, b: this.unary() };
  }

  private primary(): Node {
    const t = this.peek();
    this.pos++;
    if (t.kind === 'num') return { k: 'num', v: t.value };
    if (t.kind === 'op' && t.text === '(') {
      const n = this.expr();
      if (this.isOp(',')) throw new SyntaxProblem('tuples are not supported', this.peek().pos);
      this.expect(')');
      return n;
    }
    if (t.kind === 'name') return this.name(t);
    throw new SyntaxProblem(`unexpected ${this.describe(t)}`, t.pos);
  }

  /** a name, dotted names (ban.Time, math.exp) and calls of known functions */
  private name(t: Token & { kind: 'name' }): Node {
    if (t.text === 'True' || t.text === 'False') return { k: 'num', v: t.text === 'True' ? 1n : 0n };
    if (KEYWORDS.has(t.text)) throw new SyntaxProblem(`unexpected "${t.text}"`, t.pos);
    let path = t.text;
    while (this.isOp('.')) {
      this.pos++;
      const n = this.peek();
      if (n.kind !== 'name') throw new SyntaxProblem(`expected a name after ".", found ${this.describe(n)}`, n.pos);
      this.pos++;
      path += `.${n.text}`;
    }
    const target: Fn | number | undefined = this.variables.has(path)
      ? undefined
      : path.startsWith('math.')
        ? Object.prototype.hasOwnProperty.call(MATH, path.slice(5))
          ? MATH[path.slice(5)]
          : undefined
        : Object.prototype.hasOwnProperty.call(BUILTINS, path)
          ? BUILTINS[path]
          : undefined;
    const isCall = this.isOp('(');
    if (this.variables.has(path)) {
      if (isCall) throw new SyntaxProblem(`${path} is not a function`, t.pos);
      return { k: 'var', name: path };
    }
    if (target === undefined) {
      const known = [...this.variables].join(', ');
      throw new SyntaxProblem(`unknown name ${path} (known: ${known ? `${known}, ` : ''}math.*, abs, min, max, int, float, round, pow)`, t.pos);
    }
    if (typeof target === 'number') {
      if (isCall) throw new SyntaxProblem(`${path} is not a function`, t.pos);
      return { k: 'num', v: target };
    }
    if (!isCall) throw new SyntaxProblem(`${path} is a function: call it`, t.pos);
    this.pos++;
    const args: Node[] = [];
    while (!this.isOp(')')) {
      args.push(this.expr());
      if (!this.isOp(',')) break;
      this.pos++;
    }
    this.expect(')');
    if (args.length < target.min || args.length > target.max) {
      throw new SyntaxProblem(`${path}() takes ${target.min === target.max ? target.min : `${target.min} to ${target.max}`} arguments, ${args.length} given`, t.pos);
    }
    return { k: 'call', fn: target, args };
  }
}

function evaluate(n: Node, vars: Readonly<Record<string, PyNum>>): PyNum {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'var': {
      const v = vars[n.name];
      if (v === undefined) throw err('NameError', `${n.name} has no value`);
      return v;
    }
    case 'call':
      return n.fn.call(n.args.map((a) => evaluate(a, vars)));
    case 'neg': {
      const a = evaluate(n.a, vars);
      return typeof a === 'bigint' ? -a : -a;
    }
    case 'pos':
      return evaluate(n.a, vars);
    case 'inv': {
      const a = evaluate(n.a, vars);
      requireInts('~', a);
      return ~(a as bigint);
    }
    case 'not':
      return pyBool(!truthy(evaluate(n.a, vars)));
    case 'bin':
      return binary(n.op, evaluate(n.a, vars), evaluate(n.b, vars));
    case 'cmp': {
      let left = evaluate(n.first, vars);
      for (const [op, node] of n.rest) {
        const right = evaluate(node, vars);
        if (!compare(op, left, right)) return 0n;
        left = right;
      }
      return 1n;
    }
    case 'and':
    case 'or': {
      // Python returns the deciding operand itself, not a bool
      let v: PyNum = 0n;
      for (const item of n.items) {
        v = evaluate(item, vars);
        if (truthy(v) === (n.k === 'or')) return v;
      }
      return v;
    }
    case 'if':
      return truthy(evaluate(n.cond, vars)) ? evaluate(n.then, vars) : evaluate(n.else, vars);
  }
}

// ---------------------------------------------------------------------------------------------
// API

export interface CompiledExpression {
  readonly text: string;
  /** Evaluates with the given variables; throws PyError as Python would raise. */
  evaluate(vars?: Readonly<Record<string, PyNum>>): PyNum;
}

export interface CompileOptions {
  /** the variables the expression may use, dotted names included (`ban.Time`) */
  variables?: readonly string[];
  /** the config option, for error messages (`bantime.formula`) */
  option?: string;
  where?: { file?: string; line?: number; jail?: string };
}

/** Parses a Python expression once. Throws F2bError(CONFIG_VALUE) naming the option. */
export function compileExpression(text: string, opts: CompileOptions = {}): CompiledExpression {
  let tree: Node;
  try {
    tree = new Parser(tokenize(text), new Set(opts.variables ?? [])).parse();
  } catch (e) {
    if (!(e instanceof SyntaxProblem)) throw e;
    const what = opts.option ? `${opts.option}: ` : '';
    throw new F2bError('CONFIG_VALUE', `${what}invalid expression ${JSON.stringify(text)} at column ${e.pos + 1}: ${e.message}`, opts.where);
  }
  return { text, evaluate: (vars = {}) => evaluate(tree, vars) };
}
