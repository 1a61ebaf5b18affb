// AST → JS source for a `u`-flag RegExp that matches exactly what CPython's `re` matches.
//
// Most patterns take the direct path (`plain`). Patterns with conditionals or backreferences take
// the state path (`gen`): JS has no conditionals and its backreference to a group that did not
// participate matches "" where Python's fails, so the emitter tracks, along every path of the
// pattern, which referenced groups have participated (the `State`) and under which JS name. It
// writes the pattern in continuation-passing style: where participation is decided (an
// alternation, a `?`, a group), the rest of the pattern is copied into each branch, so every
// conditional and backreference is resolved statically — a conditional becomes its yes or no
// branch, a backreference to a group that has not participated becomes a failure. Groups that
// end up in several copies get distinct JS names (`user__d1`) and are merged back by name.
//
// Copying the continuation preserves Python's backtracking order except across a capture group
// or lookahead whose inside decides participation, where the continuation cannot be moved inside
// (JS groups must nest). There the group body is split into runs of paths that end in the same
// state; that too is exact unless a backtracking choice precedes the decision inside the group,
// which `checkExact` detects and refuses rather than translate approximately.

import { Cat, ClassItem, Node, ParsedPattern } from './ast';
import { PyRegexError } from './error';
import {
  IR, EMPTY, FAIL, atom, text, seq, alt, cap, look, rep, print, holes, captureNames, fillHoles, boundCaptures,
} from './ir';
import {
  ASCII_DIGIT, ASCII_SPACE, ASCII_WORD, Ranges, UNICODE_DIGIT_BODY, UNICODE_NOT_DIGIT_BODY,
  UNICODE_SPACE, UNICODE_WORD_BODY, UNICODE_WORD_CLASS, caseClass, caseClose, complement,
  escapeCp, normalise, rangesBody,
} from './unicode';
import { width } from './width';

export interface Translation {
  source: string;
  flags: string;
  /** Python group names in group order */
  groupNames: string[];
  /** JS group name → Python name, for every named JS group that stands for a Python one */
  aliases: Record<string, string>;
  /** per entry of groupNames, its JS copies in source order (empty if none survived) */
  copies: string[][];
  /** true when the JS groups are exactly the Python named groups, same names, same order */
  identityGroups: boolean;
  /** number of Python capturing groups (Python's pattern.groups) */
  groupCount: number;
  /** Python group number of each named group */
  groupIndex: Map<string, number>;
  /** Python group number of each JS capture, in exec-array order (index 0 unused; 0 for helpers) */
  captureGroups: number[];
  /** AT_START / AT_END bits of each JS capture, in exec-array order (see boundCaptures) */
  captureBounds: number[];
}

/** which referenced groups have participated on this path, and as which JS group */
interface State {
  readonly key: string;
  readonly map: ReadonlyMap<number, string>;
}
type Cont = (s: State) => IR;

const START: State = { key: '', map: new Map() };
const END: Cont = () => EMPTY;
const STEP_LIMIT = 200_000;
const SOURCE_LIMIT = 1_000_000;
const ASCII_WORD_CLASS = '[0-9A-Z_a-z]';
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Exploration {
  template: IR;
  /** out-state of each run (maximal stretch of same-state continuations, in source order) */
  states: State[];
  /** run of each continuation call, in call order; -1 when the call was pruned */
  runOfCall: number[];
  snapshot: NameSnapshot;
}

interface NameSnapshot {
  counters: Map<number, number>;
  allocated: Set<string>;
  aux: number;
}

class Emitter {
  private readonly tracked = new Set<number>();
  private readonly pyNames: Set<string>;
  private readonly useJsI: boolean;
  private counters = new Map<number, number>();
  private allocated = new Set<string>();
  private aux = 0;
  /** JS name → Python group number (-1 for helper groups) */
  private readonly owner = new Map<string, number>();
  private readonly holeStates: State[] = [];
  private canonical = false;
  /** pattern positions of the explorations under way (placeholders exist only inside one) */
  private readonly exploring: number[] = [];
  private behind = 0;
  private steps = 0;
  private readonly statefulMemo = new Map<Node, boolean>();
  private readonly writesMemo = new Map<Node, boolean>();
  private readonly choicesMemo = new Map<Node, boolean>();

  constructor(private readonly p: ParsedPattern, private readonly pattern: string, private readonly numbered: boolean) {
    this.pyNames = new Set(p.nameOf.filter((n): n is string => n !== undefined));
    let backrefI: { pos: number } | null = null;
    const walk = (n: Node): void => {
      switch (n.t) {
        case 'backref':
          this.tracked.add(n.group);
          if (n.i && !backrefI) backrefI = { pos: n.pos };
          return;
        case 'cond':
          this.tracked.add(n.group);
          walk(n.yes);
          if (n.no) walk(n.no);
          return;
        case 'seq': n.items.forEach(walk); return;
        case 'alt': n.alts.forEach(walk); return;
        case 'group': case 'look': case 'atomic': case 'repeat': walk(n.body); return;
        default: return;
      }
    };
    walk(p.root);
    // A case-insensitive backreference has no emulation: it needs the JS `i` flag, which is only
    // right when the whole pattern is case-insensitive.
    if (backrefI !== null && p.mixedIgnoreCase) {
      throw new PyRegexError(
        'cannot translate a case-insensitive backreference in a pattern that is only partly case-insensitive',
        pattern, (backrefI as { pos: number }).pos);
    }
    this.useJsI = backrefI !== null;
  }

  translate(): Translation {
    const root = this.p.root;
    const ir = this.tracked.size === 0 ? this.plain(root) : this.gen(root, START, END);
    const source = print(ir);
    if (source.length > SOURCE_LIMIT) throw this.tooComplex(undefined);

    const groupNames: string[] = [];
    const indexOfGroup = new Map<number, number>();
    this.p.nameOf.forEach((name, g) => {
      if (name !== undefined) {
        indexOfGroup.set(g, groupNames.length);
        groupNames.push(name);
      }
    });
    const copies: string[][] = groupNames.map(() => []);
    const aliases: Record<string, string> = {};
    const jsNames = captureNames(ir);
    for (const js of jsNames) {
      const at = indexOfGroup.get(this.owner.get(js)!);
      if (at === undefined) continue; // a helper group or an unnamed referenced group
      aliases[js] = groupNames[at];
      copies[at].push(js);
    }
    // exec's own `groups` will do when it has exactly the Python names, in Python's order
    const identityGroups = jsNames.length === groupNames.length && jsNames.every((js, i) => js === groupNames[i]);
    const groupIndex = new Map<string, number>();
    this.p.nameOf.forEach((name, g) => name !== undefined && groupIndex.set(name, g));
    const bounds = boundCaptures(ir);
    const captureGroups = [0, ...jsNames.map((js) => Math.max(0, this.owner.get(js)!))];
    const captureBounds = [0, ...jsNames.map((js) => bounds.get(js)!)];
    return {
      source, flags: this.useJsI ? 'iu' : 'u', groupNames, aliases, copies, identityGroups,
      groupCount: this.p.groupCount, groupIndex, captureGroups, captureBounds,
    };
  }

  // ---- names ----

  /** a fresh JS name for a copy of group g, or null when g need not capture in JS */
  private alloc(g: number): string | null {
    const py = this.p.nameOf[g];
    if (py === undefined && !this.tracked.has(g) && !this.numbered) return null;
    if (this.canonical) return `c${g}`;
    const base = py !== undefined && SAFE_NAME.test(py) ? py : `__g${g}`;
    let n = this.counters.get(g) ?? 0;
    for (;;) {
      const name = n === 0 ? base : `${base}__d${n}`;
      n++;
      if (!this.allocated.has(name) && (name === py || !this.pyNames.has(name))) {
        this.counters.set(g, n);
        this.allocated.add(name);
        this.owner.set(name, g);
        return name;
      }
    }
  }

  /** a helper group for the atomic-group emulation */
  private allocAux(): string {
    if (this.canonical) return 'ca';
    for (;;) {
      const name = `__a${++this.aux}`;
      if (!this.allocated.has(name) && !this.pyNames.has(name)) {
        this.allocated.add(name);
        this.owner.set(name, -1);
        return name;
      }
    }
  }

  private snapshot(): NameSnapshot {
    return { counters: new Map(this.counters), allocated: new Set(this.allocated), aux: this.aux };
  }

  private restore(s: NameSnapshot): void {
    this.counters = new Map(s.counters);
    this.allocated = new Set(s.allocated);
    this.aux = s.aux;
  }

  private withGroup(st: State, g: number, name: string | null): State {
    if (!this.tracked.has(g) || name === null) return st;
    const map = new Map(st.map);
    map.set(g, name);
    const key = [...map].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(',');
    return { key, map };
  }

  // ---- node properties ----

  private memo(m: Map<Node, boolean>, n: Node, f: () => boolean): boolean {
    let v = m.get(n);
    if (v === undefined) m.set(n, (v = f()));
    return v;
  }

  /** contains something whose emission depends on the state */
  private isStateful(n: Node): boolean {
    return this.memo(this.statefulMemo, n, () => {
      switch (n.t) {
        case 'backref': case 'cond': return true;
        case 'group': return this.tracked.has(n.index) || this.isStateful(n.body);
        case 'seq': return n.items.some((x) => this.isStateful(x));
        case 'alt': return n.alts.some((x) => this.isStateful(x));
        case 'look': case 'atomic': case 'repeat': return this.isStateful(n.body);
        default: return false;
      }
    });
  }

  /** may change the state (captures a referenced group that stays visible after it) */
  private isWriting(n: Node): boolean {
    return this.memo(this.writesMemo, n, () => {
      switch (n.t) {
        case 'group': return this.tracked.has(n.index) || this.isWriting(n.body);
        case 'look': return !n.neg && this.isWriting(n.body);
        case 'cond': return this.isWriting(n.yes) || (n.no !== null && this.isWriting(n.no));
        case 'seq': return n.items.some((x) => this.isWriting(x));
        case 'alt': return n.alts.some((x) => this.isWriting(x));
        case 'atomic': case 'repeat': return this.isWriting(n.body);
        default: return false;
      }
    });
  }

  /** can backtrack into itself (lookarounds and atomic groups cannot) */
  private hasChoices(n: Node): boolean {
    return this.memo(this.choicesMemo, n, () => {
      switch (n.t) {
        case 'alt': return n.alts.length > 1 || n.alts.some((x) => this.hasChoices(x));
        case 'repeat': return !n.possessive && (n.min !== n.max || this.hasChoices(n.body));
        case 'seq': return n.items.some((x) => this.hasChoices(x));
        case 'group': return this.hasChoices(n.body);
        case 'cond': return this.hasChoices(n.yes) || (n.no !== null && this.hasChoices(n.no));
        default: return false;
      }
    });
  }

  // ---- the state path ----

  private gen(n: Node, st: State, k: Cont): IR {
    if (++this.steps > STEP_LIMIT) throw this.tooComplex(undefined);
    if (!this.isStateful(n)) return this.chunk(this.plain(n), this.hasChoices(n), st, k);
    switch (n.t) {
      case 'seq':
        return this.genSeq(n.items, 0, st, k);
      case 'alt':
        if (!this.isWriting(n)) {
          return this.chunk(alt(n.alts.map((b) => this.gen(b, st, END))), this.hasChoices(n), st, k);
        }
        return alt(n.alts.map((b) => this.gen(b, st, k)));
      case 'cond': {
        const branch = st.map.has(n.group) ? n.yes : n.no;
        return branch ? this.gen(branch, st, k) : k(st);
      }
      case 'backref': {
        const name = st.map.get(n.group);
        const rest = k(st);
        // Python fails a reference to a group that has not participated; JS would match "".
        return name === undefined ? FAIL : seq([atom(`\\k<${name}>`), rest]);
      }
      case 'group':
        return this.genGroup(n, st, k);
      case 'look':
        if (n.neg || !this.isWriting(n.body)) {
          this.behind += n.behind ? 1 : 0;
          const body = this.gen(n.body, st, END);
          this.behind -= n.behind ? 1 : 0;
          return this.chunk(look(n.behind, n.neg, body), false, st, k);
        }
        return this.genAssert(n.body, st, k, n.behind, false, n.pos);
      case 'atomic':
        return this.genAssert(n.body, st, k, false, true, n.pos);
      case 'repeat':
        return this.genRepeat(n, st, k);
      default:
        throw new Error('internal: stateless leaf on the state path');
    }
  }

  /** `ir` followed by the continuation; refuses when that would reorder Python's search */
  private chunk(ir: IR, choices: boolean, out: State, k: Cont): IR {
    const rest = k(out);
    if (choices) this.checkExact(rest);
    return seq([ir, rest]);
  }

  private checkExact(rest: IR): void {
    if (this.exploring.length === 0) return;
    const ids = holes(rest);
    for (let i = 1; i < ids.length; i++) {
      if (this.holeStates[ids[i]].key !== this.holeStates[ids[0]].key) {
        throw new PyRegexError(
          'cannot translate exactly: a group referenced by a conditional or backreference gets its '
            + 'participation decided inside a group after a backtracking choice',
          this.pattern, this.exploring[this.exploring.length - 1]);
      }
    }
  }

  private genSeq(items: Node[], i: number, st: State, k: Cont): IR {
    if (i === items.length) return k(st);
    let j = i;
    while (j < items.length && !this.isStateful(items[j])) j++;
    if (j > i) {
      const part = items.slice(i, j);
      return this.chunk(seq(part.map((x) => this.plain(x))), part.some((x) => this.hasChoices(x)), st,
        (s) => this.genSeq(items, j, s, k));
    }
    return this.gen(items[i], st, (s) => this.genSeq(items, i + 1, s, k));
  }

  /**
   * Generates `body` with placeholder continuations and groups the placeholders, in source order,
   * into runs with the same out-state. Names allocated meanwhile stay allocated.
   */
  private explore(body: Node, st: State, pos: number): Exploration {
    const snapshot = this.snapshot();
    const calls: number[] = [];
    this.exploring.push(pos);
    let template: IR;
    try {
      template = this.gen(body, st, (s) => {
        const id = this.holeStates.length;
        this.holeStates.push(s);
        calls.push(id);
        return { k: 'hole', id };
      });
    } finally {
      this.exploring.pop();
    }
    const states: State[] = [];
    const runOfHole = new Map<number, number>();
    for (const id of holes(template)) {
      const s = this.holeStates[id];
      if (states.length === 0 || states[states.length - 1].key !== s.key) states.push(s);
      runOfHole.set(id, states.length - 1);
    }
    return { template, states, runOfCall: calls.map((id) => runOfHole.get(id) ?? -1), snapshot };
  }

  /** `body` restricted to the paths of run r, with its out-state under the names it got now */
  private regen(body: Node, st: State, ex: Exploration, r: number): { ir: IR; out: State } {
    let call = 0;
    let out: State | undefined;
    const ir = this.gen(body, st, (s) => {
      if (ex.runOfCall[call++] !== r) return FAIL;
      out ??= s;
      return EMPTY;
    });
    return { ir, out: out ?? ex.states[r] };
  }

  private genGroup(n: Extract<Node, { t: 'group' }>, st: State, k: Cont): IR {
    const g = n.index;
    const choices = this.hasChoices(n.body);
    if (!this.isWriting(n.body)) {
      const name = this.alloc(g);
      const body = this.gen(n.body, st, END);
      return this.chunk(cap(name, body), choices, this.withGroup(st, g, name), k);
    }
    const ex = this.explore(n.body, st, n.pos);
    if (ex.states.length === 0) return FAIL;
    if (ex.states.length === 1) {
      const name = this.alloc(g);
      const body = fillHoles(ex.template, () => EMPTY);
      return this.chunk(cap(name, body), choices, this.withGroup(ex.states[0], g, name), k);
    }
    this.restore(ex.snapshot);
    return alt(ex.states.map((_, r) => {
      const { ir, out } = this.regen(n.body, st, ex, r);
      const name = this.alloc(g);
      return this.chunk(cap(name, ir), choices, this.withGroup(out, g, name), k);
    }));
  }

  /**
   * Positive lookaround or atomic group whose inside decides participation. Both commit to
   * their first successful path, so run r applies only when no earlier run succeeds.
   * An atomic group X is emulated as (?=(?<a>X))\k<a>.
   */
  private genAssert(body: Node, st: State, k: Cont, behind: boolean, atomic: boolean, pos: number): IR {
    if (atomic && this.behind > 0) throw this.noAtomicBehind();
    const wrap = (ir: IR): IR => {
      if (!atomic) return look(behind, false, ir);
      const a = this.allocAux();
      return seq([look(false, false, cap(a, ir)), atom(`\\k<${a}>`)]);
    };
    this.behind += behind ? 1 : 0;
    try {
      if (!this.isWriting(body)) return this.chunk(wrap(this.gen(body, st, END)), false, st, k);
      const ex = this.explore(body, st, pos);
      if (ex.states.length === 0) return FAIL;
      if (ex.states.length === 1) return this.chunk(wrap(fillHoles(ex.template, () => EMPTY)), false, ex.states[0], k);
      this.restore(ex.snapshot);
      return alt(ex.states.map((_, r) => {
        const parts: IR[] = [];
        for (let q = 0; q < r; q++) parts.push(look(behind, true, this.regen(body, st, ex, q).ir));
        const { ir, out } = this.regen(body, st, ex, r);
        parts.push(wrap(ir));
        return this.chunk(seq(parts), false, out, k);
      }));
    } finally {
      this.behind -= behind ? 1 : 0;
    }
  }

  private genRepeat(n: Extract<Node, { t: 'repeat' }>, st: State, k: Cont): IR {
    if (n.possessive) return this.genAssert({ ...n, possessive: false }, st, k, false, true, n.pos);
    if (n.max === 0) return k(st);
    if (n.min === 1 && n.max === 1) return this.gen(n.body, st, k);
    if (!this.isWriting(n.body)) {
      const body = this.gen(n.body, st, END);
      return this.chunk(this.repeatIR(n, body), n.min !== n.max || this.hasChoices(n.body), st, k);
    }
    if (n.max === 1) {
      // X? is (?:X|) — the decision point itself, so the continuation goes into both branches
      if (n.lazy) {
        const skip = k(st);
        return alt([skip, this.gen(n.body, st, k)]);
      }
      const take = this.gen(n.body, st, k);
      return alt([take, k(st)]);
    }
    // A repeat that captures a referenced group: JS resets captures at each iteration and Python
    // does not, so this is only exact when every iteration ends in the same state and reads
    // nothing an earlier iteration wrote.
    const ex = this.explore(n.body, st, n.pos);
    if (ex.states.length === 0) return n.min === 0 ? k(st) : FAIL;
    const s1 = ex.states[0];
    if (ex.states.length > 1 || this.canonicalForm(n.body, st) !== this.canonicalForm(n.body, s1)) {
      throw new PyRegexError(
        'cannot translate exactly: a group referenced by a conditional or backreference is captured '
          + 'in only some iterations of a repeat, or referenced before its capture in an iteration',
        this.pattern, n.pos);
    }
    const body = fillHoles(ex.template, () => EMPTY);
    const loop = (lo: number) => this.chunk(rep(body, lo, n.max, n.lazy), true, s1, k);
    if (n.min > 0) return loop(n.min);
    if (n.lazy) {
      const skip = k(st);
      return alt([skip, loop(1)]);
    }
    const take = loop(1);
    return alt([take, k(st)]);
  }

  /** the body's emission with every JS name replaced by a canonical one */
  private canonicalForm(body: Node, st: State): string {
    const saved = this.canonical;
    this.canonical = true;
    try {
      const map = new Map<number, string>();
      for (const g of st.map.keys()) map.set(g, `c${g}`);
      const cst: State = { key: [...map].sort((a, b) => a[0] - b[0]).map(([g, v]) => `${g}:${v}`).join(','), map };
      return print(this.gen(body, cst, END));
    } finally {
      this.canonical = saved;
    }
  }

  // ---- the direct path ----

  private plain(n: Node): IR {
    switch (n.t) {
      case 'seq': return seq(n.items.map((x) => this.plain(x)));
      case 'alt': return alt(n.alts.map((x) => this.plain(x)));
      case 'char': return this.charIR(n.cp, n.i, n.a);
      case 'class': return this.classIR(n.items, n.neg, n.i, n.a);
      case 'cat': return atom(catClass(n.cat, n.a));
      case 'any': return atom(n.s ? '[\\s\\S]' : '[^\\n]');
      case 'at': return this.atIR(n.at, n.m, n.a);
      case 'group': return cap(this.alloc(n.index), this.plain(n.body));
      case 'look': {
        this.behind += n.behind ? 1 : 0;
        const body = this.plain(n.body);
        this.behind -= n.behind ? 1 : 0;
        return look(n.behind, n.neg, body);
      }
      case 'atomic': return this.atomicIR(this.plain(n.body));
      case 'repeat': {
        const r = this.repeatIR(n, this.plain(n.body));
        return n.possessive ? this.atomicIR(r) : r;
      }
      default: throw new Error('internal: stateful node on the direct path');
    }
  }

  /**
   * JS fails a quantified iteration that matches "" once the minimum is reached; CPython accepts
   * it (then stops repeating). For `?` over a body that can match "", the alternation (?:X|) is
   * CPython's meaning exactly. Longer repeats keep JS's rule (see the notes in the tests).
   */
  private repeatIR(n: Extract<Node, { t: 'repeat' }>, body: IR): IR {
    if (n.min === 0 && n.max === 1 && width(n.body, []).at(0) === 0) {
      return n.lazy ? alt([EMPTY, body]) : alt([body, EMPTY]);
    }
    return rep(body, n.min, n.max, n.lazy);
  }

  private atomicIR(inner: IR): IR {
    if (this.behind > 0) throw this.noAtomicBehind();
    const a = this.allocAux();
    return seq([look(false, false, cap(a, inner)), atom(`\\k<${a}>`)]);
  }

  private charIR(cp: number, i: boolean, ascii: boolean): IR {
    if (i && !this.useJsI) {
      const cls = caseClass(cp, ascii);
      if (cls.length > 1) return atom(`[${rangesBody(normalise(cls.map((c): [number, number] => [c, c])))}]`);
    }
    return atom(escapeCp(cp, true));
  }

  private classIR(items: ClassItem[], neg: boolean, i: boolean, ascii: boolean): IR {
    let literal: Ranges = [];
    const sets: Ranges = [];
    const props: string[] = [];
    let notWord = false;
    for (const it of items) {
      if (it.t === 'range') {
        literal.push([it.lo, it.hi]);
        continue;
      }
      switch (it.cat) {
        case 'd': if (ascii) sets.push(...ASCII_DIGIT); else props.push(UNICODE_DIGIT_BODY); break;
        case 'D': if (ascii) sets.push(...complement(ASCII_DIGIT)); else props.push(UNICODE_NOT_DIGIT_BODY); break;
        case 'w': if (ascii) sets.push(...ASCII_WORD); else props.push(UNICODE_WORD_BODY); break;
        case 'W': if (ascii) sets.push(...complement(ASCII_WORD)); else notWord = true; break;
        case 's': sets.push(...(ascii ? ASCII_SPACE : UNICODE_SPACE)); break;
        case 'S': sets.push(...complement(ascii ? ASCII_SPACE : UNICODE_SPACE)); break;
      }
    }
    if (i && !this.useJsI) literal = caseClose(literal, ascii);
    const body = rangesBody(normalise([...literal, ...sets])) + [...new Set(props)].join('');
    if (!notWord) return atom(neg ? `[^${body}]` : `[${body}]`);
    // Unicode \W is no union of properties, so a class holding it becomes an alternation:
    // [x\W] is (?:[x]|[^\w]), and [^x\W] is "a word character that is not x".
    if (!neg) return body ? alt([atom(`[${body}]`), atom(`[^${UNICODE_WORD_BODY}]`)]) : atom(`[^${UNICODE_WORD_BODY}]`);
    return body ? seq([look(false, true, atom(`[${body}]`)), atom(UNICODE_WORD_CLASS)]) : atom(UNICODE_WORD_CLASS);
  }

  private atIR(at: Extract<Node, { t: 'at' }>['at'], multiline: boolean, ascii: boolean): IR {
    switch (at) {
      // JS's own multiline mode also breaks lines at \r, \u2028 and \u2029: never use it.
      case 'bol': return text(multiline ? '(?:^|(?<=\\n))' : '^');
      case 'eol': return text(multiline ? '(?=\\n|$)' : '(?=\\n?$)');
      case 'A': return text('^');
      case 'Z': return text('$');
      case 'b': case 'B': {
        // Python's \B never matches in an empty string.
        if (ascii && !this.useJsI) return text(at === 'b' ? '\\b' : '\\B(?!^$)');
        const w = ascii ? ASCII_WORD_CLASS : UNICODE_WORD_CLASS;
        return text(at === 'b'
          ? `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`
          : `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w})(?!^$))`);
      }
    }
  }

  private tooComplex(pos: number | undefined): PyRegexError {
    return new PyRegexError('pattern too complex to translate (conditional expansion too large)', this.pattern, pos);
  }

  private noAtomicBehind(): PyRegexError {
    return new PyRegexError('cannot translate an atomic group or possessive repeat inside a lookbehind', this.pattern);
  }
}

function catClass(cat: Cat, ascii: boolean): string {
  switch (cat) {
    case 'd': return ascii ? '[0-9]' : UNICODE_DIGIT_BODY;
    case 'D': return ascii ? '[^0-9]' : UNICODE_NOT_DIGIT_BODY;
    case 'w': return ascii ? ASCII_WORD_CLASS : UNICODE_WORD_CLASS;
    case 'W': return ascii ? '[^0-9A-Z_a-z]' : `[^${UNICODE_WORD_BODY}]`;
    case 's': return `[${rangesBody(ascii ? ASCII_SPACE : UNICODE_SPACE)}]`;
    case 'S': return `[^${rangesBody(ascii ? ASCII_SPACE : UNICODE_SPACE)}]`;
  }
}

/** `numbered`: every Python group captures in JS (else only named and referenced ones) */
export function emitJs(p: ParsedPattern, pattern: string, numbered = false): Translation {
  return new Emitter(p, pattern, numbered).translate();
}
