// bantime.increment: the formula evaluator against Python's own eval (in fail2ban's jail.py
// namespace), nextBanTime against fail2ban's observer (incrBanTime), restoreBanTime against
// fail2ban's restoreCurrentBans on a real fail2ban database, and the option parsing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JailDef } from '../src/config/types';
import { F2bError } from '../src/errors';
import { compileExpression, PyError, type PyNum } from '../src/jail/expression';
import { DEFAULT_FORMULA, FORMULA_VARIABLES, banTimeFor, seconds2str, failureWeight, nextBanTime, parseIncrement, restoreBanTime, type BanHistory } from '../src/jail/increment';

const F2B = '/usr/lib/python3/dist-packages';

function fail2banAvailable(): boolean {
  if (!fs.existsSync(path.join(F2B, 'fail2ban/server/observer.py'))) return false;
  return spawnSync('python3', ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import fail2ban.server.observer', F2B]).status === 0;
}
const skip = fail2banAvailable() ? false : 'python3 or fail2ban (python3-fail2ban) is not installed';

/** Runs a Python script (fail2ban importable, its logging silenced) on JSON input. */
function python<T>(script: string, input: unknown): T {
  const prelude = `import sys, json, logging\nsys.path.insert(0, ${JSON.stringify(F2B)})\nlogging.disable(logging.CRITICAL)\n`;
  const r = spawnSync('python3', ['-c', prelude + script], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const T0 = 1_700_000_000;

function jailDef(options: Record<string, string>): JailDef {
  return {
    name: 'sshd',
    source: { file: '/etc/f2b/jail.local', line: 12 },
    enabled: true,
    filter: { name: 'sshd', file: '', options: {}, failregex: [], ignoreregex: [], maxlines: 1, usedns: 'warn' },
    logpaths: [],
    backend: 'auto',
    maxretry: 5,
    maxmatches: 5,
    findtime: 600,
    bantime: 600,
    ignoreip: [],
    ignoreself: true,
    ignorecommand: '',
    port: 'ssh',
    protocol: 'tcp',
    banaction: 'nftables',
    actions: [],
    logencoding: 'auto',
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// the expression evaluator vs Python

type Encoded = { t: 'int' | 'float' | 'error' | 'other'; v: string };

interface ExprCase {
  expr: string;
  time: number;
  count: number;
  factor: string;
}

const EVAL_PY = `
import fail2ban.server.jail as J
from fail2ban.server.observer import ObserverThread
G = vars(J)  # the module fail2ban evaluates bantime.formula in
def enc(v):
    if isinstance(v, bool): v = int(v)
    if isinstance(v, int): return {'t': 'int', 'v': str(v)}
    if isinstance(v, float): return {'t': 'float', 'v': repr(v)}
    return {'t': 'other', 'v': repr(v)}
out = []
for c in json.load(sys.stdin):
    ns = {'ban': ObserverThread.BanTimeIncr(c['time'], c['count']), 'banFactor': eval(c['factor'], G)}
    try:
        out.append(enc(eval(c['expr'], G, ns)))
    except Exception as e:
        out.append({'t': 'error', 'v': type(e).__name__})
print(json.dumps(out))
`;

function ours(c: ExprCase): Encoded {
  try {
    const factor = compileExpression(c.factor).evaluate();
    const v = compileExpression(c.expr, { variables: FORMULA_VARIABLES }).evaluate({ 'ban.Time': BigInt(c.time), 'ban.Count': BigInt(c.count), banFactor: factor });
    return typeof v === 'bigint' ? { t: 'int', v: String(v) } : { t: 'float', v: String(v) };
  } catch (e) {
    if (e instanceof PyError) return { t: 'error', v: e.pyType };
    throw e;
  }
}

const pyFloat = (s: string): number => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : s === 'nan' ? NaN : Number(s));

function sameResult(a: Encoded, b: Encoded): boolean {
  if (a.t !== b.t) return false;
  if (a.t !== 'float') return a.v === b.v;
  const x = pyFloat(a.v);
  const y = pyFloat(b.v);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  // Python's libm and V8's Math may differ in the last bit of exp/log
  return x === y || Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y));
}

const EXP_FORMULA = 'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)';

const EXPRESSIONS = [
  // arithmetic and its Python specifics
  '-2**2', '2**-1', '(-2)**2', '2**3**2', '-2**-2', '7//-2', '-7//2', '7//2', '7.5//-2', '-7.5//2', '-7%3', '7%-3', '-7.5%2', '7.5%-2', '1/3', '6/3',
  '1<<70', '(1<<70)//3', '(1<<70)/3', '(1<<70)>>69', '-5>>1', '~5', '5 & 3 | 8 ^ 1', '0x10 + 0o10 + 0b10', '1_000 * 2', '.5 + 1.', '1e-3 * 2', '1E3', '10 ** 20', '10 ** 20 * 1.0',
  '2 ** 0.5', '2.0 ** 1024', '(-8) ** 2.0', '0 ** 0', '0.0 ** 0', '1/0', '1.0 % 0', '5 // 0.0', '0 ** -1', '1 << -1', '1.5 << 1', '~1.5', 'float(1<<1100)', '(1<<1100) * 1.0',
  // comparisons, boolean operators and the conditional
  '1 < 2 < 3', '1 < 2 > 3', '1 == 1.0', '1 != 1.0', '2 >= 2.0 <= 2', 'not 0', 'not 0.0', 'not 3', '0 or 0.0', '0.0 or 5', '3 and 4', '0 and 4', '1 and 0.0 or 7',
  '1 if 0 else 2 if 1 else 3', '(1 if 0 else 2) if 1 else 3', 'True + True', 'False * 3', '5 if not ban.Count else 6', 'ban.Count<20 and 5 or 6',
  // builtins and math
  'max(3, 3.0)', 'min(3, 3.0)', 'max(1, 2.5, 2)', 'min(-1, -1.5)', 'abs(-3)', 'abs(-3.5)', 'int(-2.5)', 'int(2.9)', 'float(3)', 'round(2.5)', 'round(3.5)', 'round(-0.5)', 'round(-1.5)', 'round(2.4999)',
  'round(1250, -2)', 'round(1350, -2)', 'round(-1250, -2)', 'round(1234, 1)', 'pow(2, 10)', 'pow(2, -2)', 'pow(2.0, 3)', 'bool(0.0)', 'bool(-1)',
  'math.log(8, 2)', 'math.log(100, 10)', 'math.log(1<<2000)', 'math.log(0)', 'math.log(-1)', 'math.log(2, 1)', 'math.log2(1024)', 'math.log10(1000)', 'math.log1p(0.5)', 'math.log1p(-1)',
  'math.sqrt(2)', 'math.sqrt(-1)', 'math.floor(-1.5)', 'math.ceil(1.2)', 'math.trunc(-1.7)', 'math.floor(7)', 'math.fabs(-2)', 'math.pow(2, 0.5)', 'math.pow(0, -1)', 'math.pow(-8, 1/3)',
  'math.exp(1)', 'math.exp(710)', 'math.exp(-1000)', 'math.expm1(1e-10)', 'math.pi * 2', 'math.e', 'math.tau', 'math.inf > 1 << 1000', 'math.floor(math.inf)', 'int(math.nan)',
  // the formula's variables
  'ban.Time', 'ban.Count', 'banFactor', 'ban.Time * banFactor', 'ban.Time / (ban.Count - 2)', 'ban.Time * 2 ** ban.Count', 'ban.Time * (ban.Count + 1) ** 2 // 3',
  'max(ban.Time, ban.Time * math.exp(ban.Count) / 10)', 'min(ban.Time << ban.Count, 86400)', 'ban.Time + 60 * (ban.Count if ban.Count < 5 else 5)',
  '(ban.Time # comment\n * 2)', 'ban.Time \\\n + 1',
];

test('expressions evaluate as Python evaluates them in fail2ban\'s formula namespace', { skip }, () => {
  const cases: ExprCase[] = [];
  for (const expr of EXPRESSIONS) cases.push({ expr, time: 600, count: 3, factor: '1' });
  // the stock formula and jail.conf's alternative over counts, times and factors
  for (const count of [0, 1, 2, 5, 19, 20, 21, 40]) {
    for (const [time, factor] of [
      [600, '1'],
      [60, '2'],
      [3600, '1.5'],
      [1, '2.0 / 2.885385'],
    ] as const) {
      cases.push({ expr: DEFAULT_FORMULA, time, count, factor });
      cases.push({ expr: EXP_FORMULA, time, count, factor });
    }
  }
  cases.push({ expr: EXP_FORMULA, time: 600, count: 800, factor: '1' }); // OverflowError in math.exp
  const expected = python<Encoded[]>(EVAL_PY, cases);
  const wrong: string[] = [];
  cases.forEach((c, i) => {
    const got = ours(c);
    if (!sameResult(got, expected[i])) wrong.push(`${JSON.stringify(c)}: python ${JSON.stringify(expected[i])}, ours ${JSON.stringify(got)}`);
  });
  assert.deepEqual(wrong, []);
});

test('formula syntax and names are checked when the config is read, naming the option', () => {
  const compile = (text: string) => compileExpression(text, { variables: FORMULA_VARIABLES, option: 'bantime.formula', where: { file: 'jail.local', line: 3, jail: 'sshd' } });
  for (const [text, why] of [
    ['ban.Time *', /column 11: unexpected end of expression/],
    ['ban.Tim * 2', /unknown name ban\.Tim/],
    ['__import__(os)', /unknown name __import__/],
    ['ban.Time.__class__', /unknown name ban\.Time\.__class__/],
    ['math.system(1)', /unknown name math\.system/],
    ['math.exp', /is a function: call it/],
    ['math.exp(1, 2)', /takes 1 arguments, 2 given/],
    ['ban.Time if 1', /expected "else"/],
    ['(1, 2)', /tuples are not supported/],
    ['"600"', /strings are not supported/],
    ['010', /leading zeros/],
    ['1j', /complex/],
    ['1 in 2', /"in" is not supported/],
    ['ban.Time\n* 2', /unexpected new line/],
    ['', /empty expression/],
  ] as const) {
    assert.throws(
      () => compile(text),
      (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && e.message.startsWith('bantime.formula: ') && why.test(e.message) && e.file === 'jail.local' && e.line === 3 && e.jail === 'sshd',
      text,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// nextBanTime vs fail2ban's observer

interface BanCase {
  opts: Record<string, string>;
  base: number;
  /** [bancount, timeofban, bantime] as the database returns it */
  history?: [number, number, number];
  ticketTime: number;
}

const INCR_PY = `
import fail2ban.server.jail as J
from fail2ban.server.jail import Jail
from fail2ban.server.observer import ObserverThread
from fail2ban.server.ticket import BanTicket
J.random.random = lambda: 0.375  # bantime.rndtime's randomness, fixed
ob = ObserverThread()
jail = Jail('t', backend='polling')
out = []
for c in json.load(sys.stdin):
    jail._banExtra = {}
    for k in ('increment', 'factor', 'formula', 'multipliers', 'maxtime', 'rndtime', 'overalljails'):
        if k in c['opts']:
            jail.setBanTimeExtra(k, c['opts'][k])
    hist = c.get('history')
    class Db:
        def getBan(self, ip, jail, overalljails=False):
            return [tuple(hist)] if hist else []
    class FakeJail:
        name = 't'
        database = Db()
        def isAlive(self): return True
        def getBanTimeExtra(self, opt=None): return jail.getBanTimeExtra(opt)
    # what banFound sees: a new ticket, counted once by the ban manager
    t = BanTicket('192.0.2.1', c['ticketTime'])
    t.incrBanCount()
    btime = c['base']
    if btime != -1 and t.getBanTime() is None:
        btime = ob.incrBanTime(FakeJail(), btime, t)
    out.append({'bantime': btime, 'bancount': t.getBanCount(), 'known': bool(t.restored), 'float': isinstance(btime, float)})
print(json.dumps(out))
`;

test('nextBanTime computes what fail2ban\'s observer computes', { skip }, () => {
  const on = { increment: 'true' };
  const hist = (bancount: number, ago = 100): [number, number, number] => [bancount, T0 - ago, 600];
  const cases: BanCase[] = [];
  const add = (opts: Record<string, string>, base: number, history?: [number, number, number], ticketTime = T0) => cases.push({ opts, base, history, ticketTime });
  for (const n of [0, 1, 2, 3, 10, 19, 20, 21, 30]) {
    add(on, 600, hist(n));
    add({ ...on, factor: '2' }, 600, hist(n));
    add({ ...on, factor: '0.5' }, 600, hist(n));
    add({ ...on, maxtime: '1d' }, 600, hist(n));
    add({ ...on, multipliers: '1 2 4 8 16 32 64' }, 600, hist(n));
    add({ ...on, multipliers: '1 5 30 60 300 720 1440 2880', factor: '1.5' }, 60, hist(n));
    add({ ...on, multipliers: '0 1 2', maxtime: '90m' }, 600, hist(n));
    add({ ...on, formula: EXP_FORMULA, factor: '2.0 / 2.885385' }, 600, hist(n));
    add({ ...on, formula: 'ban.Time * ban.Count / 4' }, 600, hist(n)); // below ban.Time: max() keeps ban.Time
    add({ ...on, rndtime: '5m', maxtime: '2h' }, 600, hist(n));
  }
  add(on, 600); // never banned
  add({ ...on, maxtime: '1h' }, 600); // never banned: no cap, no formula
  add(on, -1, hist(3)); // permanent jail: no increment
  add(on, 0, hist(3));
  add({ increment: 'false' }, 600, hist(3)); // increment off
  add(on, 600, hist(2, 100), T0 - 100); // ticket not newer than the recorded ban
  add(on, 600, hist(2, 100), T0 - 200);
  add({ ...on, formula: 'ban.Time / (ban.Count - 2)' }, 600, hist(2)); // ZeroDivisionError: jail bantime, count still grows
  add({ ...on, formula: EXP_FORMULA }, 600, hist(800)); // OverflowError
  add({ ...on, maxtime: '-1' }, 600, hist(2));

  const expected = python<{ bantime: number; bancount: number; known: boolean; float: boolean }[]>(INCR_PY, cases);
  const wrong: string[] = [];
  cases.forEach((c, i) => {
    const settings = parseIncrement(jailDef(Object.fromEntries(Object.entries(c.opts).map(([k, v]) => [`bantime.${k}`, v]))));
    const history: BanHistory | undefined = c.history && { bancount: c.history[0], timeofban: c.history[1], bantime: c.history[2] };
    const got = nextBanTime(settings, c.base, history, () => 0.375, c.ticketTime);
    const exp = expected[i];
    const same = got.bancount === exp.bancount && got.known === exp.known && got.float === exp.float && Math.abs(got.bantime - exp.bantime) <= 1e-9 * Math.max(1, Math.abs(exp.bantime));
    if (!same) wrong.push(`${JSON.stringify(c)}: fail2ban ${JSON.stringify(exp)}, ours ${JSON.stringify(got)}`);
  });
  assert.deepEqual(wrong, []);
});

test('a failing formula leaves the jail\'s bantime and says why; randomness is the caller\'s', () => {
  const s = parseIncrement(jailDef({ 'bantime.increment': 'true', 'bantime.formula': 'ban.Time / (ban.Count - 2)' }))!;
  const r = nextBanTime(s, 600, { bancount: 2, timeofban: T0 - 10, bantime: 600 }, () => 0, T0);
  assert.deepEqual(r, { bantime: 600, bancount: 3, known: false, float: false, error: 'ZeroDivisionError: division by zero' });
  const rnd = parseIncrement(jailDef({ 'bantime.increment': 'true', 'bantime.rndtime': '100', 'bantime.maxtime': '1000' }))!;
  // rndtime is added after the maxtime cap, as in fail2ban
  assert.equal(banTimeFor(rnd, 600, 5, () => 0.5), 1050);
  assert.equal(banTimeFor(rnd, 600, 5, () => 0), 1000);
  assert.equal(banTimeFor(rnd, 600, 0, () => 0.25), 625);
});

// ---------------------------------------------------------------------------------------------
// restoreBanTime vs fail2ban's restoreCurrentBans on its own database

const RESTORE_PY = `
from fail2ban.server.jail import Jail
from fail2ban.server.database import Fail2BanDb
from fail2ban.server.mytime import MyTime
req = json.load(sys.stdin)
MyTime.setTime(req['now'])
out = []
for s in req['settings']:
    db = Fail2BanDb(':memory:')
    jail = Jail('t', backend='polling', db=db)
    db.addJail(jail)
    jail.actions.setBanTime(s['bantime'])
    for k, v in s['opts'].items():
        jail.setBanTimeExtra(k, v)
    for i, (timeofban, bantime) in enumerate(req['rows']):
        db._db.execute('INSERT INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES(?,?,?,?,?,?)',
            ('192.0.2.%d' % (i + 1), 't', timeofban, bantime, 1, '{}'))
    jail.restoreCurrentBans()
    got = {}
    while True:
        t = jail.getFailTicket()
        if not t: break
        got[t.getID()] = t.getBanTime()
    out.append([got.get('192.0.2.%d' % (i + 1)) for i in range(len(req['rows']))])
print(json.dumps(out))
`;

test('restoreBanTime caps restored bans as fail2ban\'s restore does', { skip }, () => {
  const rows: [number, number][] = [
    [T0 - 100, 300],
    [T0 - 100, 600],
    [T0 - 100, 5000],
    [T0 - 100, -1],
    [T0 - 100, -2],
    [T0 - 2000, 5000],
    [T0 - 2000, 1000],
    [T0 - 700, 800],
    [T0 - 10, 20],
    [T0 - 599, 1200],
  ];
  const settings = [
    { bantime: 600, opts: {} },
    { bantime: 3600, opts: {} },
    { bantime: -1, opts: {} },
    { bantime: 600, opts: { increment: 'true' } },
    { bantime: 600, opts: { increment: 'true', maxtime: '1000' } },
    { bantime: 600, opts: { increment: 'true', maxtime: '3000' } },
    { bantime: -1, opts: { increment: 'true', maxtime: '2h' } },
  ];
  const expected = python<(number | null)[][]>(RESTORE_PY, { now: T0, rows, settings });
  settings.forEach((s, i) => {
    const inc = parseIncrement(jailDef(Object.fromEntries(Object.entries(s.opts).map(([k, v]) => [`bantime.${k}`, v]))));
    const got = rows.map(([timeofban, bantime]) => restoreBanTime(inc, s.bantime, { timeofban, bantime }, T0) ?? null);
    assert.deepEqual(got, expected[i], JSON.stringify(s));
  });
});

// ---------------------------------------------------------------------------------------------
// failure weight of a known address (observer.failureFound); values from its rule
// ((1 << n) / 2 + 1, at most maxretry), computed by hand

test('a failure of an address banned before weighs 2, 3, 5, 9 ... up to maxretry', () => {
  const s = parseIncrement(jailDef({ 'bantime.increment': 'true' }));
  const h = (bancount: number): BanHistory => ({ bancount, timeofban: T0 - 100, bantime: 600 });
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => failureWeight(s, h(n), T0, 20)), [2, 3, 5, 9, 17]);
  assert.equal(failureWeight(s, h(4), T0, 5), 5);
  assert.equal(failureWeight(s, h(0), T0, 5), 1.5);
  assert.equal(failureWeight(s, undefined, T0, 5), 1);
  assert.equal(failureWeight(null, h(3), T0, 5), 1);
  // a failure older than the recorded ban is one read again: it counts once
  assert.equal(failureWeight(s, h(3), T0 - 100, 5), 1);
});

// ---------------------------------------------------------------------------------------------
// parseIncrement

test('parseIncrement reads the options, defaults and empty values as fail2ban does', () => {
  assert.equal(parseIncrement(jailDef({})), null);
  assert.equal(parseIncrement(jailDef({ 'bantime.increment': 'false', 'bantime.formula': 'broken (' })), null);
  const d = parseIncrement(jailDef({ 'bantime.increment': 'true', 'bantime.maxtime': '', 'bantime.factor': '' }))!;
  assert.equal(d.factor, 1n);
  assert.equal(d.formula.text, DEFAULT_FORMULA);
  assert.deepEqual(d.multipliers, []);
  assert.equal(d.maxtime, undefined);
  assert.equal(d.rndtime, undefined);
  assert.equal(d.overalljails, false);
  const s = parseIncrement(
    jailDef({
      'bantime.increment': 'yes',
      'bantime.factor': '2.0 / 2.885385',
      'bantime.multipliers': '1 5  30\n60',
      'bantime.maxtime': '1w',
      'bantime.rndtime': '10m',
      'bantime.overalljails': 'on',
    }),
  )!;
  assert.equal(s.factor, 2.0 / 2.885385);
  assert.deepEqual(s.multipliers, [1n, 5n, 30n, 60n]);
  assert.equal(s.maxtime, 7 * 86400);
  assert.equal(s.rndtime, 600);
  assert.equal(s.overalljails, true);
});

test('bad bantime.* values are config errors with the jail and where the option is', () => {
  const where = (key: string) => (key === 'bantime.maxtime' ? { file: '/etc/f2b/jail.d/x.conf', line: 4 } : undefined);
  for (const [opts, re, file, line] of [
    [{ 'bantime.formula': 'ban.Time **' }, /^bantime\.formula: invalid expression/, '/etc/f2b/jail.local', 12],
    [{ 'bantime.factor': 'two' }, /^bantime\.factor: invalid expression .* unknown name two/, '/etc/f2b/jail.local', 12],
    [{ 'bantime.factor': '1/0' }, /^bantime\.factor: ZeroDivisionError/, '/etc/f2b/jail.local', 12],
    [{ 'bantime.multipliers': '1 2 x' }, /^bantime\.multipliers: "x" is not an integer/, '/etc/f2b/jail.local', 12],
    [{ 'bantime.multipliers': '1 2.5' }, /^bantime\.multipliers: "2\.5" is not an integer/, '/etc/f2b/jail.local', 12],
    [{ 'bantime.maxtime': '1 fortnight' }, /^bantime\.maxtime: not a time value/, '/etc/f2b/jail.d/x.conf', 4],
    [{ 'bantime.rndtime': 'soon' }, /^bantime\.rndtime: not a time value/, '/etc/f2b/jail.local', 12],
  ] as const) {
    assert.throws(
      () => parseIncrement(jailDef({ 'bantime.increment': 'true', ...opts }), where),
      (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && re.test(e.message) && e.jail === 'sshd' && e.file === file && e.line === line,
      JSON.stringify(opts),
    );
  }
});

test('ints stay exact beyond 2**53 and floats follow IEEE as in Python', () => {
  const big = compileExpression('(1 << 64) + 1').evaluate();
  assert.equal(big, 18446744073709551617n);
  const v: PyNum = compileExpression('(1 << 64) + 1.0').evaluate();
  assert.equal(v, 18446744073709551616);
  assert.throws(() => compileExpression('1 << (1 << 20)').evaluate(), (e: unknown) => e instanceof PyError && e.pyType === 'OverflowError');
});

test('seconds2str writes ban times as fail2ban\'s log lines do', { skip }, () => {
  const values: [number, boolean][] = [];
  for (const v of [0, 1, 59, 60, 61, 90, 599, 600, 3594, 3595, 3599, 3600, 3605, 3614, 3615, 5400, 86399, 86400, 86430, 86460, 90061, 604799, 604800, 612000, 1209600, 31535999, 31536000, 32000000, 86400 * 390, 86400 * 368, 86400 * 365.5, 86400 * 2 + 3600 * 7 + 60 * 15, 86400 * 2 + 3599]) {
    values.push([v, false]);
  }
  for (const v of [0, 0.5, 59.5, 60, 90.5, 900, 1800.25, 3594.9, 3600, 7000.5, 100000.5, 1e-5]) values.push([v, true]);
  const expected = python<string[]>(
    'from fail2ban.server.mytime import MyTime\nprint(json.dumps([str(MyTime.seconds2str(float(v) if f else int(v))) for v, f in json.load(sys.stdin)]))',
    values,
  );
  assert.deepEqual(
    values.map(([v, f]) => seconds2str(v, f)),
    expected,
  );
});
