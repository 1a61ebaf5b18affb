// The Python-`re` → JS translator (src/filter/pyregex): unit cases with expected values derived
// from Python semantics, a differential table run through CPython and PyRegExp side by side, and
// the corpus: every regex fail2ban expands from the installed filters (and its date templates),
// compiled here and replayed on fail2ban's own sample logs against CPython.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { PyMatch, PyRegexError, PyRegExp, PyRegexOptions, translatePyRegex } from '../src/filter/pyregex';
import { Node } from '../src/filter/pyregex/ast';
import { parsePython } from '../src/filter/pyregex/parser';
import { caseClass, caseClassFromTable, caseClose } from '../src/filter/pyregex/unicode';
import { width } from '../src/filter/pyregex/width';

const r = String.raw;
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const F2B_PKG = '/usr/lib/python3/dist-packages/fail2ban';
const FILTER_D = '/etc/fail2ban/filter.d';
const havePython = spawnSync(PYTHON, ['-c', 'import re'], { stdio: 'ignore' }).status === 0;
const haveFail2ban = havePython && fs.existsSync(FILTER_D) && fs.existsSync(`${F2B_PKG}/server/failregex.py`);

type Result = null | [number, number, Record<string, string | null>];

/** a match in the shape the Python side prints: [start, end, groupdict] with null for None */
function shape(m: PyMatch | null): Result {
  if (m === null) return null;
  const g: Record<string, string | null> = {};
  for (const k of Object.keys(m.groups)) g[k] = m.groups[k] ?? null;
  return [m.index, m.end, g];
}

type Spans = null | Array<[number, number] | null>;

/** numbered group spans 1..n as the Python side prints them, checking group(g) against them */
function spansOf(m: PyMatch | null, re: PyRegExp, s: string): Spans {
  if (m === null) return null;
  const out: Array<[number, number] | null> = [];
  for (let g = 1; g <= re.groupCount; g++) {
    const span: [number, number] | undefined = m.groupSpan(g);
    const text = m.group(g);
    assert.equal(text, span && s.slice(span[0], span[1]), `${re.source} on ${JSON.stringify(s)}: group(${g}) and groupSpan(${g}) disagree`);
    out.push(span ?? null);
  }
  return out;
}

function runPython(script: string, input: unknown): unknown {
  const p = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000,
  });
  if (p.status !== 0) throw new Error(`python failed (${p.status}): ${p.stderr}`);
  return JSON.parse(p.stdout);
}

function translates(pattern: string, options?: PyRegexOptions): string {
  return translatePyRegex(pattern, options).source;
}

function throwsPy(pattern: string, message: RegExp, position?: number, options?: PyRegexOptions): void {
  assert.throws(() => new PyRegExp(pattern, options), (e: unknown) => {
    assert.ok(e instanceof PyRegexError, `${pattern}: not a PyRegexError: ${e}`);
    assert.match(e.message, message);
    assert.equal(e.pattern, pattern);
    if (position !== undefined) assert.equal(e.position, position, `${pattern}: position`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// unit cases: expected values written out from Python semantics

describe('translation rules', () => {
  test('named groups and backreferences', () => {
    const t = translatePyRegex(r`(?P<user>\w+)-(?P=user)`);
    assert.equal(t.source, r`(?<user>[\p{L}\p{N}_]+)-\k<user>`);
    assert.deepEqual(t.groupNames, ['user']);
    assert.deepEqual(t.aliases, { user: 'user' });
    assert.equal(t.flags, 'u');
    const m = new PyRegExp(r`(?P<user>\w+)-(?P=user)`).search('x bob-bob');
    assert.deepEqual(shape(m), [2, 9, { user: 'bob' }]);
    // unnamed groups are not captured unless something refers to them
    assert.equal(translates('(a)(b)'), 'ab');
    assert.equal(translates(r`(a)\1`), r`(?<__g1>a)\k<__g1>`);
  });

  test('$, ^, \\A and \\Z keep Python meaning around newlines', () => {
    assert.equal(translates('a$'), r`a(?=\n?$)`);
    assert.equal(translates('a$', { multiline: true }), r`a(?=\n|$)`);
    assert.equal(translates('^a', { multiline: true }), r`(?:^|(?<=\n))a`);
    assert.equal(translates(r`\Aa\Z`), '^a$');
    const dollar = new PyRegExp('failed$');
    assert.deepEqual(shape(dollar.search('login failed\n')), [6, 12, {}]); // before the final \n
    assert.equal(dollar.search('login failed\n\n'), null); // not before any other \n
    assert.equal(dollar.search('login failed\r\n'), null); // \r is no line end in Python
    const ml = new PyRegExp('^b$', { multiline: true });
    assert.deepEqual(shape(ml.search('a\nb\nc')), [2, 3, {}]);
    assert.equal(ml.search('a\rb\rc'), null);
    assert.equal(new PyRegExp(r`a\Z`).search('a\n'), null);
  });

  test('. stops only at \\n; DOTALL takes everything', () => {
    assert.equal(translates('a.b'), r`a[^\n]b`);
    assert.equal(translates('(?s)a.b'), r`a[\s\S]b`);
    assert.ok(new PyRegExp('a.b').search('a\rb'));
    assert.ok(new PyRegExp('a.b').search('a\u2028b'));
    assert.equal(new PyRegExp('a.b').search('a\nb'), null);
    assert.ok(new PyRegExp('a.b', { dotAll: true }).search('a\nb'));
    assert.ok(new PyRegExp('(?s:.)').search('\n'));
  });

  test('Unicode \\d \\w \\s \\b and their negations, inside and outside classes', () => {
    assert.equal(translates(r`\d\D`), r`\p{Nd}\P{Nd}`);
    assert.equal(translates(r`\w\W`), r`[\p{L}\p{N}_][^\p{L}\p{N}_]`);
    assert.equal(translates(r`\s`), r`[\x09-\x0d\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`);
    assert.equal(translates(r`[\w.-]`), r`[\-.\p{L}\p{N}_]`);
    assert.equal(translates(r`[^\W\d]`), r`(?![\p{Nd}])[\p{L}\p{N}_]`);
    assert.equal(translates(r`[\W\d]`), r`[\p{Nd}]|[^\p{L}\p{N}_]`);
    assert.deepEqual(shape(new PyRegExp(r`\d+`).search('x ١٢٣')), [2, 5, {}]);
    assert.deepEqual(shape(new PyRegExp(r`\w+`).search('-héllo-')), [1, 6, {}]);
    assert.deepEqual(shape(new PyRegExp(r`\s+`).search('a\x1c\x85\xa0b')), [1, 4, {}]);
    assert.equal(new PyRegExp(r`\s`).search('\ufeff'), null);
    assert.deepEqual(shape(new PyRegExp(r`\bé`).search('ab é')), [3, 4, {}]);
    assert.equal(new PyRegExp(r`a\b`).search('aé'), null);
    assert.equal(new PyRegExp(r`\B`).search(''), null); // CPython: \B never matches in ""
    assert.deepEqual(shape(new PyRegExp(r`[^\S\n]+`).search('x \t\ny')), [1, 3, {}]);
    // (?a): ASCII classes
    assert.equal(translates(r`(?a)\w\d\s`), r`[0-9A-Z_a-z][0-9][\x09-\x0d ]`);
    assert.equal(new PyRegExp(r`(?a)\w+`).search('é'), null);
  });

  test('braces: {,n}, literal { and }', () => {
    assert.equal(translates('a{,3}'), 'a{0,3}');
    assert.equal(translates('a{2,}b{3}c{,}'), 'a{2,}b{3}c*');
    assert.equal(translates('a{'), r`a\{`);
    assert.equal(translates('a{1,x}'), r`a\{1,x\}`);
    assert.equal(translates('x{}'), r`x\{\}`);
    assert.deepEqual(shape(new PyRegExp('a{,3}').search('aaaaa')), [0, 3, {}]);
  });

  test('classes keep Python meaning: []...], [^]...], escapes', () => {
    assert.equal(translates('[^]]+'), r`[^\]]+`);
    assert.equal(translates('[]a]'), r`[\]a]`);
    assert.equal(translates('[^[]'), r`[^\[]`);
    assert.equal(translates(r`[\-\"\ a-]`), r`[ "\-a]`);
    assert.equal(translates(r`[\b]`), r`[\x08]`);
    assert.deepEqual(shape(new PyRegExp('[^]]+').search(']]ab]')), [2, 4, {}]);
  });

  test('escaped punctuation outside a class is legal for the u flag', () => {
    assert.equal(translates(r`\-\"\ \'\<\>\#\%\&\=\,\;\:\!\@\~`), `-" '<>#%&=,;:!@~`);
    assert.equal(translates(r`\.\*\+\?\(\)\[\]\{\}\|\^\$\\\/`), r`\.\*\+\?\(\)\[\]\{\}\|\^\$\\\/`);
    assert.equal(translates(r`\x41\u0042\U00000043\101\0\012`), r`ABCA\x00\x0a`);
  });

  test('global inline flags at the start', () => {
    assert.equal(translates('(?i)ab'), '[Aa][Bb]');
    assert.equal(translates('(?iu)ab'), '[Aa][Bb]');
    assert.equal(translates('(?m)^a$'), r`(?:^|(?<=\n))a(?=\n|$)`);
    assert.equal(translates('(?x) a b # comment\n c'), 'abc');
    assert.equal(translates('(?i)k'), r`[Kk\u212a]`); // Kelvin sign, as Python
    assert.equal(translates('(?ai)k'), '[Kk]');
    assert.ok(new PyRegExp('(?i)i').search('İ')); // CPython folds İ and ı to i; JS /iu does not
    assert.ok(new PyRegExp('(?i)I').search('ı'));
    assert.equal(new PyRegExp('(?i)s').search('ß'), null);
    throwsPy('a(?i)b', /global flags not at the start/, 1);
    throwsPy('a|(?i)b', /global flags not at the start/, 2);
  });

  test('scoped flags are emulated (Node 20 has no (?i:...))', () => {
    assert.equal(translates('a(?i:b)c'), 'a[Bb]c');
    assert.equal(translates('(?i)a(?-i:b)c'), '[Aa]b[Cc]');
    assert.equal(translates('(?i:[a-c]x)'), '[A-Ca-c][Xx]');
    assert.equal(translates('(?i:[^k])'), r`[^Kk\u212a]`);
    // fail2ban's rewrite of ((?i)X) and (?:(?i)X) to (?i:X); the capturing group goes away
    assert.equal(translates('((?i)ab)c'), '[Aa][Bb]c');
    assert.equal(translates('(?:(?i)ab)c'), '[Aa][Bb]c');
    assert.deepEqual(translatePyRegex('((?i)a)(?P<x>b)').groupNames, ['x']);
    assert.ok(new PyRegExp('x(?:(?i)ab)c').search('xABc'));
    assert.equal(new PyRegExp('x(?:(?i)ab)c').search('xABC'), null);
  });

  test('conditionals are rewritten by splitting on participation', () => {
    const t = translatePyRegex('(?P<q>")?(?P<v>[^"]*)(?(q)")x');
    assert.equal(t.source, '(?<q>")(?<v>[^"]*)"x|(?<v__d1>[^"]*)x');
    assert.deepEqual(t.aliases, { q: 'q', v: 'v', v__d1: 'v' });
    const re = new PyRegExp('(?P<q>")?(?P<v>[^"]*)(?(q)")x');
    assert.deepEqual(shape(re.search('"ab"x')), [0, 5, { q: '"', v: 'ab' }]);
    assert.deepEqual(shape(re.search('abx')), [0, 3, { q: null, v: 'ab' }]);
    assert.deepEqual(re.groupNames, ['q', 'v']);
    // numbered, and a reference to a group defined later: not participated yet
    assert.deepEqual(shape(new PyRegExp('(a)?(?(1)b|c)').search('c')), [0, 1, {}]);
    assert.deepEqual(shape(new PyRegExp('(?(1)a|b)(x)').search('bx')), [0, 2, {}]);
  });

  test('a backreference to a group that did not participate fails, as in Python', () => {
    const re = new PyRegExp('(?P<a>x)?(?P=a)y');
    assert.equal(re.search('y'), null); // JS alone would match "" for \k<a>
    assert.deepEqual(shape(re.search('xxy')), [0, 3, { a: 'x' }]);
    assert.equal(new PyRegExp(r`(?:(a)|b)\1`).search('b'), null);
  });

  test('lookarounds pass through; lookbehind must be fixed-width like Python', () => {
    assert.equal(translates('(?<=a)b(?!c)'), '(?<=a)b(?!c)');
    assert.ok(new PyRegExp('(?<=ab|cd)x').search('cdx'));
    throwsPy('(?<=a|bc)x', /look-behind requires fixed-width pattern/);
    throwsPy('(?<=a+)x', /look-behind requires fixed-width pattern/);
    throwsPy('(?<=(?P<g>a)(?P=g))', /cannot refer to group defined in the same lookbehind subpattern/);
  });

  test('atomic groups and possessive repeats are emulated', () => {
    assert.equal(translates('(?>a+)b'), r`(?=(?<__a1>a+))\k<__a1>b`);
    assert.equal(new PyRegExp('(?>a*)a').search('aaa'), null);
    assert.equal(new PyRegExp('a*+a').search('aaa'), null);
    assert.deepEqual(shape(new PyRegExp('a++b').search('aab')), [0, 3, {}]);
    throwsPy('(?<=(?>a))b', /atomic group or possessive repeat inside a lookbehind/);
  });

  test('comments, verbose mode, empty groups, lazy quantifiers', () => {
    assert.equal(translates('a(?#comment \\) still)b'), 'ab');
    assert.equal(translates('a(?#x)*'), 'a*'); // the comment is not an item
    assert.equal(translates('(?x)[ #]a\\ b'), '[ #]a b');
    assert.equal(translates('(?:)a(?:)*'), 'a');
    assert.equal(translates('a*?b+?c??d{1,2}?'), 'a*?b+?c??d{1,2}?');
    assert.equal(translates('(?=a)*b'), '(?:(?=a))*b'); // Python may repeat a lookahead; JS-u needs a group
  });

  test('escape rules: backreference or octal, bad escapes', () => {
    assert.deepEqual(shape(new PyRegExp(r`(a)\1`).search('aa')), [0, 2, {}]);
    assert.deepEqual(shape(new PyRegExp(r`\101`).search('A')), [0, 1, {}]); // octal: three digits
    assert.deepEqual(shape(new PyRegExp(r`[\1]`).search('\x01')), [0, 1, {}]); // octal inside a class
    throwsPy(r`(a)\2`, /invalid group reference 2/, 4);
    throwsPy(r`(a)\10`, /invalid group reference 10/, 4);
    throwsPy(r`\400`, /octal escape value \\400 outside of range 0-0o377/, 0);
    throwsPy(r`\e`, /bad escape \\e/, 0);
    throwsPy(r`[\8]`, /bad escape \\8/, 1);
    throwsPy(r`\x4`, /incomplete escape \\x4/, 0);
    throwsPy(r`(?P<a>(?P=a))`, /cannot refer to an open group/, 10);
    throwsPy('abc\\', /bad escape \(end of pattern\)/, 3);
    throwsPy(r`\N{EM DASH}`, /named characters are not supported/, 0);
  });

  test('syntax errors Python reports, with its positions', () => {
    throwsPy('a)', /unbalanced parenthesis/, 1);
    throwsPy('(a', /missing \), unterminated subpattern/, 0);
    throwsPy('[a', /unterminated character set/, 0);
    throwsPy('a**', /multiple repeat/, 2);
    throwsPy('*a', /nothing to repeat/, 0);
    throwsPy('^*', /nothing to repeat/, 1);
    throwsPy('a{3,2}', /min repeat greater than max repeat/, 2);
    throwsPy('[b-a]', /bad character range b-a/, 1);
    throwsPy(r`[\d-z]`, /bad character range \\d-z/, 1);
    throwsPy('(?P<1a>x)', /bad character in group name '1a'/, 4);
    throwsPy('(?P<a>x)(?P<a>y)', /redefinition of group name 'a'/, 12);
    throwsPy('(?P=b)', /unknown group name 'b'/, 4);
    throwsPy('(?<n>x)', /unknown extension \?<n/, 1);
    throwsPy('(?z)', /unknown extension \?z/, 1);
    throwsPy('(?(x)a|b)', /unknown group name 'x'/, 3);
    throwsPy('(?(1)a|b)', /invalid group reference 1/, 3);
    throwsPy('(?P<a>)(?(a)a|b|c)', /conditional backref with more than two branches/, 15);
    throwsPy('(?-a:x)', /cannot turn off flags 'a', 'u' and 'L'/);
    throwsPy('(?a)(?u)x', /ASCII and UNICODE flags are incompatible/);
    throwsPy('a{4294967295}', /the repetition number is too large/);
  });

  test('refuses what it cannot translate exactly, with a clear error', () => {
    // participation decided in a group after a backtracking choice: the split would reorder
    throwsPy('(?P<G>(?:a|b)(?P<g>c)?)(?(g)x|y)', /cannot translate exactly/);
    // participation that varies between iterations of a repeat
    throwsPy('(?:(?P<g>a)|b)+(?(g)x|y)', /cannot translate exactly/);
    // a case-insensitive backreference in a partly case-insensitive pattern
    throwsPy('(?P<a>x)(?i:(?P=a))', /case-insensitive backreference/);
  });

  test('documented divergences: JS repeat semantics the translation keeps', () => {
    // In a repeat, CPython keeps a group's value from an earlier iteration; JS resets captures
    // at every iteration. CPython also accepts one empty iteration, JS none. Only the group
    // values differ (never whether or where it matches), and no fail2ban filter is affected.
    assert.deepEqual(shape(new PyRegExp('(?:(?P<a>a)|b)+').search('ab')), [0, 2, { a: null }]); // CPython: 'a'
    assert.deepEqual(shape(new PyRegExp('(?:a|(?P<g>))*x').search('aax')), [0, 3, { g: null }]); // CPython: ''
    // A repeated part that can match "" (a nullable body): CPython takes one empty iteration
    // and stops; JS refuses empty iterations. This changes captures, and spans when an empty
    // path comes before a non-empty one. None of the stock regexes is affected. (`X?` is
    // translated as (?:X|), which is exact.)
    assert.deepEqual(shape(new PyRegExp('(?P<g>a|)*').search('b')), [0, 0, { g: null }]); // CPython: ''
    assert.deepEqual(shape(new PyRegExp('(?:|a)*').search('aa')), [0, 2, {}]); // CPython: (0, 0)
    // Conditionals and backreferences on such groups are refused rather than mistranslated.
    throwsPy('(?:x(?P<a>a)?)+(?(a)1|2)', /cannot translate exactly/);
    throwsPy('(?:(?(1)a|b)(x))+', /cannot translate exactly/); // reads the previous iteration's group
  });

  test('search and match take pos like Python', () => {
    const re = new PyRegExp('b');
    assert.deepEqual(shape(re.search('abcb', 2)), [3, 4, {}]);
    assert.equal(re.match('ab'), null);
    assert.deepEqual(shape(re.match('ab', 1)), [1, 2, {}]);
    assert.equal(new PyRegExp('^b').search('ab', 1), null); // ^ is the real start, not pos
    assert.ok(new PyRegExp('(?<=a)b').match('ab', 1)); // lookbehind sees before pos
    assert.deepEqual(shape(new PyRegExp('$').search('abc', 10)), [3, 3, {}]); // pos is clamped
    assert.deepEqual(shape(new PyRegExp('x*').search('abc', -4)), [0, 0, {}]);
  });

  test('PyRegExp exposes its translation, and the regex is reusable', () => {
    const re = new PyRegExp('(?P<host>\\S+) x$');
    assert.equal(re.source, '(?P<host>\\S+) x$');
    assert.equal(re.jsFlags, 'u');
    assert.deepEqual(re.groupNames, ['host']);
    assert.ok(re.jsSource.startsWith('(?<host>'));
    for (let i = 0; i < 3; i++) assert.deepEqual(shape(re.search('a b x\n')), [2, 5, { host: 'b' }]);
    assert.equal(re.search('a b y\n'), null);
    assert.deepEqual(Object.keys(new PyRegExp('ab').search('ab')!.groups), []);
  });
});

// ---------------------------------------------------------------------------------------------
// numbered groups and spans: Python's m.group(n) / m.span(n), with and without `indices`

/** [group(g), groupSpan(g)] for g = 0..groupCount, then by name */
function numbered(re: PyRegExp, s: string, pos = 0): unknown {
  const m = re.search(s, pos);
  if (m === null) return null;
  const out: unknown[] = [];
  for (let g = 0; g <= re.groupCount; g++) out.push([m.group(g) ?? null, m.groupSpan(g) ?? null]);
  return out;
}

describe('numbered groups and spans', () => {
  const both = (p: string, options: PyRegexOptions = {}) => [new PyRegExp(p, options), new PyRegExp(p, { ...options, indices: true })];

  test('Python numbering: every capturing group, named or not, by its opening parenthesis', () => {
    for (const re of both('(a)(?P<n>b(c))(?:d)(?P<e>e)?')) {
      assert.equal(re.groupCount, 4);
      assert.deepEqual([...re.groupIndex], [['n', 2], ['e', 4]]);
      assert.deepEqual(numbered(re, 'xabcd'), [
        ['abcd', [1, 5]], ['a', [1, 2]], ['bc', [2, 4]], ['c', [3, 4]], [null, null],
      ]);
      const m = re.search('abcde')!;
      assert.equal(m.group('n'), 'bc');
      assert.deepEqual(m.groupSpan('e'), [4, 5]);
      assert.deepEqual({ ...m.groups }, { n: 'bc', e: 'e' });
    }
  });

  test('no such group throws a RangeError, as Python raises IndexError', () => {
    for (const re of both('(a)(?P<n>b)')) {
      const m = re.search('ab')!;
      for (const g of [3, -1, 1.5, 'x', '1']) {
        assert.throws(() => m.group(g), RangeError, `group(${JSON.stringify(g)})`);
        assert.throws(() => m.groupSpan(g), RangeError, `groupSpan(${JSON.stringify(g)})`);
      }
    }
  });

  test('indices keeps unnamed groups in the JS regex; the default translation and flags do not change', () => {
    assert.equal(translates('(a)(?P<n>b)'), 'a(?<n>b)');
    assert.equal(translates('(a)(?P<n>b)', { indices: true }), '(?<__g1>a)(?<n>b)');
    const re = new PyRegExp('(a)(?P<n>b)', { indices: true });
    assert.equal(re.jsFlags, 'u'); // never `d`: spans come from the match bounds or one re-run
    assert.deepEqual(re.groupNames, ['n']);
    // a Python name that looks like a generated one keeps its name; the unnamed group moves aside
    assert.deepEqual(numbered(new PyRegExp('(a)(?P<__g1>b)', { indices: true }), 'ab'), [['ab', [0, 2]], ['a', [0, 1]], ['b', [1, 2]]]);
  });

  test('conditional rewrite: the copies of a group map back to its Python number', () => {
    // with indices, group 2 is emitted twice: (?<__g2>...) and (?<__g2__d1>...)
    assert.match(translates('(?P<q>")?(\\w+)(?(q)(")|(;))', { indices: true }), /__g2>.*__g2__d1>/);
    for (const re of both('(?P<q>")?(\\w+)(?(q)(")|(;))')) {
      assert.deepEqual(numbered(re, '"ab" x'), [['"ab"', [0, 4]], ['"', [0, 1]], ['ab', [1, 3]], ['"', [3, 4]], [null, null]]);
      assert.deepEqual(numbered(re, 'x ab;'), [['ab;', [2, 5]], [null, null], ['ab', [2, 4]], [null, null], [';', [4, 5]]]);
    }
  });

  test('spans: at the match edges, in the middle, in lookarounds, after pos, in UTF-16 units', () => {
    for (const re of both('(?<=(x))(a)(b)(?=(cd))')) {
      assert.deepEqual(numbered(re, '_xabcd'), [['ab', [2, 4]], ['x', [1, 2]], ['a', [2, 3]], ['b', [3, 4]], ['cd', [4, 6]]]);
    }
    for (const re of both('(\\d)(\\w)-')) {
      assert.deepEqual(numbered(re, '1a-2b-', 1), [['2b-', [3, 6]], ['2', [3, 4]], ['b', [4, 5]]]);
    }
    for (const re of both('😀(é)(x)?')) assert.deepEqual(numbered(re, 'a😀é'), [['😀é', [1, 4]], ['é', [3, 4]], [null, null]]);
    // JS resets a group at each iteration of its repeat, Python keeps the last value (see above)
    for (const re of both('(?:(a)|b)+$')) assert.deepEqual(numbered(re, 'ab'), [['ab', [0, 2]], [null, null]]);
  });

  test('matches keep their own groups when the regex runs again', () => {
    for (const re of both('(\\d)(\\w)(,)?')) {
      const s = '1a,2b';
      const m1 = re.search(s)!;
      const m2 = re.search(s, 3)!;
      const m3 = re.match('9z')!;
      assert.deepEqual([m2.groupSpan(2), m1.groupSpan(2), m3.groupSpan(1), m1.group(1), m2.group(3)], [[4, 5], [1, 2], [0, 1], '1', undefined]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// differential table: each row runs through CPython's re and PyRegExp; match, span and groups
// must agree, and so must rejection (with position when Python has one)

interface Row {
  p: string;
  subjects: string[];
  opts?: { m?: boolean; i?: boolean; s?: boolean; pos?: number; match?: boolean };
  /** CPython is given the pattern after fail2ban's ((?i)X) → (?i:X) rewrite */
  f2b?: boolean;
}

function rows(p: string, subjects: string | string[], opts?: Row['opts'], f2b?: boolean): Row {
  return { p, subjects: Array.isArray(subjects) ? subjects : [subjects], opts, f2b };
}

const SSHD_LIKE = r`^Failed (?:password|publickey) for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from (?P<host>\S+)(?: port \d+)?(?: ssh\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)`;
const EPOCH_LIKE = r`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))\d{10}(?:\.\d{3,6})?)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))`;

const TABLE: Row[] = [
  // $ and ^ against fail2ban's trailing newline
  rows('abc$', ['abc\n', 'abc\n\n', 'abc', 'abc\r\n', 'xabc\ny']),
  rows('^abc$', ['x\nabc\n', 'x\nabc\r\n', 'abc\n'], { m: true }),
  rows('^$', ['\n', '', 'a\n\n'], { m: true }),
  rows('x$', ['x\ny\n', 'y\nx\n'], { m: true }),
  rows(r`\s*$`, ['abc \n', 'abc\n\n']),
  rows(r`a\s$`, ['a\n', 'a \n', 'a\n\n']),
  rows('$', ['abc\n', '']),
  rows(r`a\Z`, ['a\n', 'a']),
  rows(r`\Aa`, ['ba', 'ab']),
  rows(r`(?m)^b`, ['a\nb', 'a\rb']),
  rows(r`^(?P<host>\S+) failed$`, ['h failed\n', 'h failed \n']),
  // dot
  rows('a.b', ['a\rb', 'a\u2028b', 'a\nb', 'a😀b']),
  rows('a.b', ['a\nb'], { s: true }),
  rows('(?s)a.b', ['a\nb']),
  // Unicode shorthands
  rows(r`\d+`, ['١٢٣', 'x²', '𝟘𝟙']),
  rows(r`\w+`, ['héllo wörld', 'x²y', '𝒜b', 'a\u200cb', 'ǅ']),
  rows(r`\s+`, ['\x1c\x1d\x85\xa0', '\ufeff', '\u2028 \u3000']),
  rows(r`\S+`, ['a\ufeffb c']),
  rows(r`\bé\b`, [' é ', 'aé']),
  rows(r`\Bb`, ['ab', 'éb', ' b']),
  rows(r`\B`, ['', 'a', ' ', 'ab']),
  rows(r`\b`, ['', 'a']),
  rows(r`(?a)\w+`, ['héllo']),
  rows(r`(?a)\b\w+`, ['éa']),
  rows(r`(?a)\B`, ['', 'é']),
  rows(r`[\w-]+`, ['a-é_']),
  rows(r`[^\W\d]+`, ['ab12cd', '١x']),
  rows(r`[\W\d]+`, ['a !1b']),
  rows(r`[^\S\n]+`, [' \t\nx', '\x85']),
  rows(r`[\s\S]`, ['\n']),
  rows(r`[^\s\S]`, ['\n', 'a']),
  rows(r`\D+`, ['ab١2']),
  rows(r`[\D]+`, ['ab1']),
  rows(r`[^\D]+`, ['ab١2']),
  rows(r`[^\w]+`, ['ab, c']),
  rows(r`[^\d\s]+`, ['1 ab 2']),
  rows('.', ['😀']),
  rows('[😀-😂]+', ['x😁😂']),
  rows(r`\w`, ['𝒜']),
  // classes
  rows('[]]+', ['a]]b']),
  rows('[^]]+', [']]ab]', 'xyz']),
  rows('[]a-]+', ['x-]a']),
  rows(r`[a\]]+`, [']a']),
  rows(r`[\[]`, ['[']),
  rows('[^[]+', ['ab[c']),
  rows('[-a]+', ['-a']),
  rows(r`[\b]`, ['\b']),
  rows('[.]', ['a.']),
  rows('[$^]+', ['^$']),
  rows(r`[\-\"\ ]+`, ['- "']),
  rows(r`[\x41-\x43]+`, ['ABCD']),
  rows(r`[\101]`, ['A']),
  rows(r`[\0]`, ['\0']),
  rows('[&&]+', ['&&']),
  rows('[|]', ['|']),
  rows('[a-a]', ['a']),
  rows(r`[\d-]+`, ['1-2']),
  rows(r`[^-\d]+`, ['1-2ab']),
  // escapes
  rows(r`\-\"\ \'\<\>\#\%\&\=\,\;\:\!\@\~`, [`-" '<>#%&=,;:!@~`]),
  rows(r`\x41\u0042\U00000043`, ['ABC']),
  rows(r`\101\0\012`, ['A\0\n']),
  rows(r`\é\_`, ['é_']),
  rows(r`(a)\1`, ['aa', 'ab']),
  rows(r`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10`, ['abcdefghijj']),
  rows(r`\1`, ['']),
  rows(r`\e`, ['']),
  rows(r`\x4`, ['']),
  rows(r`\u12`, ['']),
  rows(r`\U00110000`, ['']),
  rows(r`\400`, ['']),
  rows(r`\8`, ['']),
  rows(r`[\8]`, ['']),
  rows(r`[\A]`, ['']),
  rows(r`[\400]`, ['']),
  // quantifiers and braces
  rows('a{,3}', ['aaaaa', 'b']),
  rows('a{2,}', ['aaaa', 'a']),
  rows('a{2}', ['aaa']),
  rows('a{,}', ['aa']),
  rows('a{', ['a{']),
  rows('a{1', ['a{1']),
  rows('a{1,2', ['a{1,2']),
  rows('a{x}', ['a{x}']),
  rows('x{}', ['x{}']),
  rows('{', ['{']),
  rows('}', ['}']),
  rows('{1}', ['']),
  rows('a{ 1}', ['a{ 1}']),
  rows('a{1,2}?', ['aa']),
  rows('a*?b', ['aab']),
  rows('a??b', ['ab']),
  rows('a{3,2}', ['']),
  rows('a**', ['']),
  rows('*a', ['']),
  rows('a{1}{2}', ['']),
  rows('(?:a*)*b', ['aab']),
  rows('a{0}b', ['ab']),
  rows('(?:)', ['x']),
  rows('(?:)*x', ['x']),
  rows('(?=a)*a', ['a']),
  rows('(?=a)?a', ['a']),
  rows('^*', ['']),
  rows(r`\b+`, ['']),
  rows('(?:^)*a', ['a']),
  rows('(?:a|b)*?c', ['abc']),
  rows(r`(?x)a{1, 2}`, ['a{1,2}']),
  rows('a*+a', ['aaa']),
  rows('a++b', ['aab']),
  rows('(?>a*)a', ['aaa']),
  rows('(?>a|ab)c', ['abc', 'ac']),
  rows('(?P<x>(?>a+))b', ['aab']),
  // groups and backreferences
  rows('(?P<x>a)|(?P<y>b)', ['b', 'a']),
  rows('(?P<x>a)?b', ['b', 'ab']),
  rows('(?P<x>a)(?P=x)', ['aa', 'ab']),
  rows('(?P<x>a)?(?P=x)b', ['b', 'aab', 'ab']),
  rows('(?P<x>a)?(?P=x)b|c', ['bc']),
  rows(`(?:(?P<q>["'])x(?P=q))+`, [`"x"'x'`, `"x'`]),
  rows('(?P<é>x)', ['x']),
  rows('(?P<a1>x)(?P<a1__d1>y)?(?(a1__d1)z)', ['xyz', 'x']),
  rows('(?P<d>a)(?P<d__d1>b)?(?(d__d1)c|d)', ['abc', 'ad']),
  rows('(?:(?P<q>a)(?P=q))+', ['aaaa']),
  rows(r`(?P<n>\d)(?:,(?P=n))*`, ['1,1,1,2']),
  rows('(?:(a)|b)(?(1)x|y)', ['ax', 'by', 'ay']),
  rows(r`(?P<a>a)?(?:(?P<b>b)|c)(?(a)1|2)(?(b)3|4)`, ['ab13', 'ac14', 'b23', 'c24', 'b24']),
  rows('(?P<a>x)?(?P<b>y)?(?(a)1|2)(?(b)3|4)', ['xy13', 'x14', 'y23', '24', 'xy14']),
  rows('(?P<g>a)?(?(g)b|c)', ['ab', 'c', 'ac']),
  rows('(a)?(?(1)b|c)', ['c', 'ab']),
  rows('(?(1)a|b)(x)', ['bx', 'ax']),
  rows('(?P<g>a)?(?(g)b)', ['a', 'ab', '']),
  rows(r`((?P<sq>\[)|)\d+(?(sq)\])`, ['[12] 34', '56', '[78']),
  rows('(?:(?=(?P<g>a))|)(?(g)a|b)', ['a', 'b']),
  rows('(?P<o>(?P<i>a)|b)(?(i)x|y)', ['ax', 'by', 'bx']),
  rows('(?P<o>(?:(?P<i>a)|b))c(?(i)x|y)', ['acx', 'bcy', 'acy']),
  rows('(?P<o>x(?:(?P<i>a)|b))(?(i)1|2)', ['xa1', 'xb2', 'xa2']),
  rows('(?P<o>x(?P<i>a)?)(?(i)1|2)', ['xa1', 'x2', 'xa2']),
  rows('(?P<o>x(?P<i>a)??)(?(i)1|2)', ['xa1', 'x2', 'xa2']),
  rows('(?P<o>(?P<i>a)?x)(?(i)1|2)', ['ax1', 'x2', 'ax2']),
  rows('(?=(?P<i>a)|b)\\w(?(i)1|2)', ['a1', 'b2', 'a2']),
  rows('(?P<i>a)?(?!(?P=i))\\w', ['ab', 'aa', 'b']),
  rows('(?P<u>\\w+)(?: (?P<v>\\w+))?(?(v) end| stop)', ['a b end', 'a stop', 'a b stop']),
  rows(SSHD_LIKE, [
    'Failed password for invalid user bob from 1.2.3.4 port 22 ssh2: x',
    'Failed password for root from 1.2.3.4 port 22 ssh2\n',
    'Failed password for invalid user bo b from 1.2.3.4 port 22 ssh2\n',
    'Failed password for invalid user from 1.2.3.4\n',
    'Failed publickey for a:b from 1.2.3.4 port 22\n',
    'Failed password for invalid user x from y from 1.2.3.4\n',
  ]),
  rows(EPOCH_LIKE, ['[1234567890] x', 'audit(1234567890.123:45)', '1234567890 x', 'audit(1234567890) x', '[1234567890 x']),
  // scoped flags
  rows('(?i:abc)d', ['ABCd', 'ABCD']),
  rows('a(?i:b)c', ['aBc', 'aBC']),
  rows('(?i)a(?-i:b)c', ['AbC', 'ABC']),
  rows('(?:(?i)foo)bar', ['FOObar', 'FOOBAR'], undefined, true),
  rows('((?i)foo)bar', ['FOObar'], undefined, true),
  rows('x((?i)[a-c]+)y', ['xABCy', 'xABCY'], undefined, true),
  rows('(?i:[a-c]+)x', ['ABCx']),
  rows('(?i:[^a]+)', ['Aab']),
  rows('(?i:k)', ['\u212a']),
  rows('(?i:i)', ['İ', 'ı']),
  rows('(?i:ß)', ['ẞ', 's']),
  rows('(?i:s)', ['ſ']),
  rows(r`(?i:\w+)`, ['ſK']),
  rows('(?i:[a-z]+)', ['İſK']),
  rows('(?i:[^a-z]+)', ['İſK1']),
  rows('(?i:σ)', ['Σς']),
  rows('(?i:ǅ)', ['ǆ', 'Ǆ']),
  rows('(?i:𐐀)', ['𐐨']),
  rows('(?s:.)', ['\n']),
  rows('(?m:^b)', ['a\nb']),
  rows('(?x: a b )c', ['abc']),
  rows('(?x)a b # comment\n c', ['abc']),
  rows('(?x)[ ]', [' ']),
  rows(r`(?x)a\ b`, ['a b']),
  rows('(?x)a#x\n*', ['aaa']),
  rows('(?i)(?P<x>a)(?P=x)', ['aA']),
  rows('(?a)(?i)k', ['\u212a', 'K']),
  rows('(?ai:[a-z])', ['\u212a']),
  rows(r`(?u)\w`, ['é']),
  rows('(?au)x', ['']),
  rows('(?a)(?u)x', ['']),
  rows('(?i)É', ['é']),
  rows('a(?i)b', ['']),
  rows('(?x:(?i)a)', ['']),
  rows('(?i:a(?-i:b(?i:c)))', ['ABC', 'AbC', 'Abc']),
  rows('(?i)(?s:a.b)', ['A\nB']),
  rows('(?i:a)|B', ['A', 'b', 'B']),
  rows('é+', ['ÉéÉ', 'éé']),
  rows('(?i)é+', ['ÉéÉ']),
  rows('(?i)ﬅ', ['ﬆ']),
  // lookarounds
  rows('(?<=a)b', ['ab', 'cb']),
  rows('(?<!a)b', ['ab cb']),
  rows('(?<=a|bc)x', ['']),
  rows('(?<=ab|cd)x', ['cdx']),
  rows('(?<=(?P<p>a))b(?P=p)', ['aba', 'abb']),
  rows('x(?=y)', ['xy']),
  rows('x(?!y)', ['xy xz']),
  rows(r`(?<=\b)a`, [' a', 'ba']),
  rows('(?<=^\\[)\\d+', ['[12', 'x[12']),
  rows('(?=(?P<a>\\w+))\\w', ['abc']),
  rows('(?<=(?P<c>\\d))x', ['1x']),
  // comments
  rows('a(?#comment)b', ['ab']),
  rows(r`a(?#x\)y)b`, ['ab']),
  rows('a(?#c)*', ['aaa']),
  rows('a(?#c', ['']),
  // errors
  rows('(?P<1>a)', ['']),
  rows('(?P<a>a)(?P<a>b)', ['']),
  rows('(?P=a)', ['']),
  rows('(?<n>a)', ['']),
  rows('(a', ['']),
  rows('a)', ['']),
  rows('[a', ['']),
  rows('[', ['']),
  rows('[]', ['']),
  rows('[^]', ['']),
  rows('[b-a]', ['']),
  rows(r`[\d-z]`, ['']),
  rows(r`[a-\d]`, ['']),
  rows('(?(x)a)', ['']),
  rows('(?(0)a)', ['']),
  rows('(?(1)a)', ['']),
  rows('(?(1a)a)', ['']),
  rows('(?(1)a|b|c)(x)', ['']),
  rows('(?P<a>(?P=a))', ['']),
  rows('(?z)', ['']),
  rows('(?', ['']),
  rows('(?P', ['']),
  rows('(?Px)', ['']),
  rows('(?i', ['']),
  rows('(?-', ['']),
  rows('(?i-i:a)', ['']),
  rows('(?-a:a)', ['']),
  rows('(?iL)a', ['']),
  rows('(?<=a+)b', ['']),
  rows('(?<=(?P<g>a)(?P=g))', ['']),
  rows('(?P<a>a)(?<=(?P=a))', ['aa']),
  rows('(?<=(?P<a>a))(?P=a)', ['aa']),
  rows('(?<=x(?(1)a|b))(c)', ['']),
  rows('(?P<>a)', ['']),
  rows('(?P<a', ['']),
  rows('(?P<a-b>x)', ['']),
  rows('a|*', ['']),
  rows('(*)', ['']),
  rows('(?:?)', ['']),
  rows('a{2}*', ['']),
  rows('a?+', ['a']),
  rows('a{1,2}+', ['aaa']),
  // search/match with pos
  rows('b', ['abcb'], { pos: 2 }),
  rows('b', ['ab'], { pos: 1, match: true }),
  rows('b', ['ab'], { match: true }),
  rows('^b', ['ab'], { pos: 1 }),
  rows('(?m)^b', ['a\nb'], { pos: 2 }),
  rows('(?<=a)b', ['ab'], { pos: 1, match: true }),
  rows('$', ['abc'], { pos: 10 }),
  rows(r`\bb`, ['ab'], { pos: 1 }),
  rows('x', ['😀x'], { pos: 2 }),
  rows('.', ['😀x'], { pos: 0 }),
  rows('(?i)é', ['xÉ'], { i: true }),
  rows('A', ['a'], { i: true }),
  rows('(?-i:A)', ['a'], { i: true }),
  rows('^a', ['b\na'], { m: true }),
  rows('a.b', ['a\nb'], { s: true }),
  // more case folding, loops around referenced groups, odd corners
  rows(r`(?i)[^\W]+`, ['aÉ_1 ']),
  rows(r`(?i)[\x00-\x7f]+`, ['Kk\u212aſİı']),
  rows(r`(?i:[\x00-\x7f])+`, ['Kk\u212aſİı']),
  rows(r`(?i)[^\x00-\x7f]+`, ['a\u212aſé']),
  rows('(?i)(?P<a>x)(?P=a)', ['xX', 'xy']),
  rows('(?P<a>a)??(?(a)b|c)', ['ab', 'c', 'ac']),
  rows('(?P<a>a)*(?(a)b|c)', ['aab', 'c', 'aac']),
  rows('(?P<a>a)*?(?(a)b|c)', ['aab', 'c']),
  rows('(?P<a>a){2,3}(?(a)b|c)', ['aaab', 'ab']),
  rows('(?:(?P<a>a)b)+(?P=a)', ['ababa', 'abab']),
  rows('(?:(?P<a>[ab])(?P=a))+', ['aabbab']),
  rows('(?s).*$', ['a\nb\n']),
  rows('(?m)$', ['a\r\n']),
  rows(r`a$\n`, ['a\n']),
  rows(r`\d{2,}?`, ['12345']),
  rows('(?:ab|ac|ad)+', ['abacadx']),
  rows('(a|ab)(c|bcd)(d*)', ['abcd']),
  rows(r`(?P<x>\w+)\s(?P=x)`, ['hello hello', 'héllo héllo', 'ab abc']),
  rows(r`(?P<y>\d{4})-(?P<sep>[-/.])?(?P<m>\d\d)(?(sep)(?P=sep)|-)(?P<d>\d\d)`, ['2024-/01/02', '2024-01-02', '2024-/01-02']),
  rows(r`\w+@(?P<h>[\w.]+)(?<!\.)`, ['me@host.dom.']),
  rows('[^a-z\n]+', ['ABC\ndef']),
  rows('[\u00e0-\u00ff]+', ['àÿ']),
  rows('(?i)[\u00e0-\u00ff]+', ['ÀÿŸ']),
  rows('(?P<g>a|)?x', ['x', 'ax']),
  rows('(?P<g>a|)??x', ['x', 'ax']),
  rows('(?:(?P<g>)|a)?x', ['x', 'ax']),
  rows('[😀]', ['😀', '\ud83d']),
  rows('\ud83d', ['\ud83d\ude00', 'x\ud83d']),
];

const PY_TABLE = r`
import sys, json, re
sys.path.insert(0, '/usr/lib/python3/dist-packages')
try:
    from fail2ban.server.failregex import R_GLOB2LOCFLAGS
except Exception:
    R_GLOB2LOCFLAGS = ()
def u16(s, i):
    return i + sum(1 for ch in s[:i] if ord(ch) > 0xffff)
def cpidx(s, u):
    n = i = 0
    while n < u and i < len(s):
        n += 2 if ord(s[i]) > 0xffff else 1
        i += 1
    return i + max(0, u - n)
out = []
for row in json.load(sys.stdin):
    p, o = row['p'], row.get('opts') or {}
    if row.get('f2b') and R_GLOB2LOCFLAGS:
        p = R_GLOB2LOCFLAGS[0].sub(R_GLOB2LOCFLAGS[1], p)
    flags = (re.M if o.get('m') else 0) | (re.I if o.get('i') else 0) | (re.S if o.get('s') else 0)
    try:
        c = re.compile(p, flags)
    except re.error as e:
        out.append({'error': e.msg, 'pos': None if e.pos is None else u16(p, e.pos)}); continue
    except (OverflowError, ValueError) as e:
        out.append({'error': str(e), 'pos': None}); continue
    res, spans = [], []
    for s in row['subjects']:
        pos = cpidx(s, o.get('pos', 0))
        m = c.match(s, pos) if o.get('match') else c.search(s, pos)
        res.append(None if m is None else [u16(s, m.start()), u16(s, m.end()), m.groupdict()])
        spans.append(None if m is None else [None if m.start(g) < 0 else [u16(s, m.start(g)), u16(s, m.end(g))] for g in range(1, c.groups + 1)])
    out.append({'results': res, 'spans': spans})
json.dump(out, sys.stdout)
`;

describe('differential against CPython re', { skip: havePython ? false : 'python3 not found' }, () => {
  test(`table of ${TABLE.length} patterns`, (t) => {
    const py = runPython(PY_TABLE, TABLE) as Array<{ error?: string; pos?: number | null; results?: Result[]; spans?: Spans[] }>;
    const failures: string[] = [];
    let searches = 0;
    TABLE.forEach((row, i) => {
      const o = row.opts ?? {};
      const expected = py[i];
      let re: PyRegExp | undefined;
      let indexed: PyRegExp | undefined;
      let err: unknown;
      try {
        re = new PyRegExp(row.p, { multiline: o.m, ignoreCase: o.i, dotAll: o.s });
        indexed = new PyRegExp(row.p, { multiline: o.m, ignoreCase: o.i, dotAll: o.s, indices: true });
      } catch (e) {
        err = e;
      }
      const label = JSON.stringify(row.p);
      if (expected.error !== undefined) {
        if (re) failures.push(`${label}: Python rejects (${expected.error}) but PyRegExp accepts → ${re.jsSource}`);
        else if (!(err instanceof PyRegexError)) failures.push(`${label}: threw ${err}`);
        else if (expected.pos !== null && expected.pos !== undefined && err.position !== expected.pos) {
          failures.push(`${label}: error position ${err.position} (${err.message}), Python ${expected.pos} (${expected.error})`);
        }
        return;
      }
      if (!re) {
        failures.push(`${label}: Python accepts but PyRegExp throws ${err}`);
        return;
      }
      row.subjects.forEach((s, j) => {
        searches++;
        const want = JSON.stringify([expected.results![j], expected.spans![j]]);
        // both compilations: numbered groups via the twin (default) and from the match (indices)
        for (const r of [re!, indexed!]) {
          const m = o.match ? r.match(s, o.pos) : r.search(s, o.pos);
          const got = JSON.stringify([shape(m), spansOf(m, r, s)]);
          if (got !== want) failures.push(`${label} on ${JSON.stringify(s)}: got ${got}, Python ${want}  [js ${r.jsSource}]`);
        }
      });
    });
    t.diagnostic(`differential table: ${TABLE.length} patterns, ${searches} searches`);
    assert.ok(searches > 300, `only ${searches} searches`);
    assert.deepEqual(failures, []);
  });
});

// ---------------------------------------------------------------------------------------------
// seeded random patterns: groups, conditionals, backreferences, lookarounds, scoped flags and
// quantifiers nested at random, on random short subjects, against CPython

/** Random pattern source; deterministic for a seed. */
function randomPattern(next: (n: number) => number): string {
  const pick = <T>(a: T[]) => a[next(a.length)];
  const names: string[] = [];
  const quant = () => pick(['', '', '', '?', '*', '+', '??', '*?', '+?', '{1,2}', '{,2}', '{2}']);
  const seq = (depth: number): string => {
    let s = '';
    for (let n = 1 + next(3); n > 0; n--) s += item(depth);
    return depth < 2 && next(5) === 0 ? `${s}|${seq(depth + 1)}` : s;
  };
  const item = (depth: number): string => {
    const roll = next(21);
    const deeper = depth < 3;
    if (roll < 5) return pick(['a', 'b', 'c', 'x', ' ', '-']);
    if (roll < 7) return pick(['.', r`\w`, r`\s`, r`\S`, r`\d`, '[ab]', '[^a]', r`\b`, '$', '^', r`[^\W]`, '[]a]']);
    if (roll < 10 && deeper) {
      const name = `g${names.length + 1}`;
      names.push(name);
      return `(?P<${name}>${seq(depth + 1)})${quant()}`;
    }
    if (roll < 12 && deeper) return `(?:${seq(depth + 1)})${quant()}`;
    if (roll < 14 && deeper && names.length) return `(?(${pick(names)})${seq(depth + 1)}|${seq(depth + 1)})`;
    if (roll < 15 && names.length) return `(?P=${pick(names)})`;
    if (roll < 16 && deeper) return `(?=${seq(depth + 1)})`;
    if (roll < 17 && deeper) return `(?!${seq(depth + 1)})`;
    if (roll < 18) return `(?<=${pick(['a', 'b', ' ', r`\w`])})`;
    if (roll < 19) return `(?i:${pick(['a', 'B', 'k', 's', 'i'])})`;
    return pick(['a', 'b']) + quant();
  };
  return seq(0);
}

/** has a repeat (beyond `?`) whose body can match "": CPython and JS treat empty iterations differently */
function hasNullableRepeat(n: Node): boolean {
  switch (n.t) {
    case 'repeat': return (n.max > 1 && width(n.body, []).at(0) === 0) || hasNullableRepeat(n.body);
    case 'seq': return n.items.some(hasNullableRepeat);
    case 'alt': return n.alts.some(hasNullableRepeat);
    case 'group': case 'look': case 'atomic': return hasNullableRepeat(n.body);
    case 'cond': return hasNullableRepeat(n.yes) || (n.no !== null && hasNullableRepeat(n.no));
    default: return false;
  }
}

describe('random patterns against CPython', { skip: havePython ? false : 'python3 not found' }, () => {
  test('seeded fuzz', (t) => {
    let seed = 20240601;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const alphabet = ['a', 'b', 'c', 'x', ' ', 'A', 'K', '\n', '-', 'é'];
    const cases: Row[] = [];
    for (let i = 0; i < 1500; i++) {
      const subjects: string[] = [];
      for (let j = 0; j < 6; j++) {
        let s = '';
        for (let n = next(8); n > 0; n--) s += alphabet[next(alphabet.length)];
        subjects.push(s);
      }
      cases.push({ p: randomPattern(next), subjects });
    }
    const py = runPython(PY_TABLE, cases) as Array<{ error?: string; results?: Result[]; spans?: Spans[] }>;
    const failures: string[] = [];
    let compared = 0, refused = 0, skipped = 0, rejectedByBoth = 0;
    cases.forEach((c, i) => {
      let re: PyRegExp;
      let indexed: PyRegExp;
      try {
        re = new PyRegExp(c.p);
        indexed = new PyRegExp(c.p, { indices: true });
      } catch (e) {
        if (py[i].error !== undefined) rejectedByBoth++;
        else if (e instanceof PyRegexError && /cannot translate exactly/.test(e.message)) refused++;
        else failures.push(`${JSON.stringify(c.p)}: Python accepts, PyRegExp throws ${e}`);
        return;
      }
      if (py[i].error !== undefined) {
        failures.push(`${JSON.stringify(c.p)}: Python rejects (${py[i].error}), PyRegExp accepts`);
        return;
      }
      if (hasNullableRepeat(parsePython(c.p).root)) {
        skipped++;
        return;
      }
      c.subjects.forEach((s, j) => {
        compared++;
        const want = JSON.stringify([py[i].results![j], py[i].spans![j]]);
        for (const r of [re, indexed]) {
          const m = r.search(s);
          const got = JSON.stringify([shape(m), spansOf(m, r, s)]);
          if (got !== want && failures.length < 20) failures.push(`${JSON.stringify(c.p)} on ${JSON.stringify(s)}: got ${got}, Python ${want}  [js ${r.jsSource}]`);
        }
      });
    });
    t.diagnostic(`fuzz: ${cases.length} patterns, ${compared} searches compared, ${rejectedByBoth} rejected by both, `
      + `${refused} refused as inexact, ${skipped} skipped (repeat of a nullable body)`);
    assert.deepEqual(failures, []);
    assert.ok(compared > 3000 && refused < cases.length / 20);
  });
});

// ---------------------------------------------------------------------------------------------
// Unicode tables: \w \d \s and IGNORECASE equivalence over every code point, against CPython

const PY_UNICODE = r`
import re, json, sys, unicodedata
def ranges(pred):
    out, start = [], None
    for cp in range(0x110000):
        if pred(cp):
            if start is None: start = cp
        elif start is not None:
            out.append([start, cp - 1]); start = None
    if start is not None: out.append([start, 0x10ffff])
    return out
res = {'version': unicodedata.unidata_version}
for k in 'wds':
    c = re.compile('\\' + k)
    res[k] = ranges(lambda cp: c.match(chr(cp)) is not None)
res['unassigned'] = ranges(lambda cp: unicodedata.category(chr(cp)) == 'Cn')
try:  # CPython's own case tables (private, so optional)
    import _sre
    from re._casefix import _EXTRA_CASES as fixes
    by_lower = {}
    for cp in range(0x20000):
        if _sre.unicode_iscased(cp): by_lower.setdefault(_sre.unicode_tolower(cp), []).append(cp)
    classes = {}
    for lo, members in by_lower.items():
        cls = set(members)
        for f in fixes.get(lo, ()): cls |= set(by_lower.get(f, []))
        for cp in members: classes[cp] = sorted(cls)
    res['cases'] = classes
except Exception:
    res['cases'] = None
json.dump(res, sys.stdout)
`;

describe('Unicode tables against CPython', { skip: havePython ? false : 'python3 not found' }, () => {
  test('\\w \\d \\s agree on every code point CPython has assigned, and IGNORECASE classes agree', (t) => {
    const py = runPython(PY_UNICODE, null) as Record<string, Array<[number, number]>> & {
      version: string; cases: Record<string, number[]> | null;
    };
    const inRanges = (rs: Array<[number, number]>) => {
      const set = new Uint8Array(0x110000);
      for (const [a, b] of rs) set.fill(1, a, b + 1);
      return set;
    };
    const unassigned = inRanges(py.unassigned);
    for (const k of ['w', 'd', 's']) {
      const re = new RegExp(`^(?:${translates('\\' + k)})$`, 'u');
      const want = inRanges(py[k]);
      const wrong: string[] = [];
      let drift = 0;
      for (let cp = 0; cp < 0x110000; cp++) {
        const got = re.test(String.fromCodePoint(cp));
        if (got === (want[cp] === 1)) continue;
        // characters newer than CPython's Unicode database: V8 knows them, CPython does not
        if (got && unassigned[cp]) drift++;
        else if (wrong.length < 10) wrong.push(cp.toString(16));
      }
      t.diagnostic(`\\${k}: ${drift} code points assigned after Unicode ${py.version} differ`);
      assert.deepEqual(wrong, [], `\\${k}`);
    }
    if (py.cases === null) return t.diagnostic('CPython case tables not available; case classes not compared');
    const wrong: string[] = [];
    for (const [cp, cls] of Object.entries(py.cases)) {
      const mine = caseClass(Number(cp), false).slice().sort((a, b) => a - b);
      if (JSON.stringify(mine) !== JSON.stringify(cls) && wrong.length < 10) wrong.push(`${Number(cp).toString(16)}: ${mine} vs ${cls}`);
    }
    t.diagnostic(`IGNORECASE: ${Object.keys(py.cases).length} cased code points compared`);
    assert.deepEqual(wrong, []);
  });
});

// ---------------------------------------------------------------------------------------------
// the installed fail2ban: every expanded regex (failregex, prefregex, ignoreregex in the default
// variant and each variant its sample log selects with filterOptions, plus each date template)
// must compile, and every search fail2ban's sample lines lead to must agree with CPython

const PY_CORPUS = r`
import sys, os, json, re, glob, logging
sys.path.insert(0, '/usr/lib/python3/dist-packages')
logging.disable(logging.CRITICAL)
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.filter import Filter
from fail2ban.server.failregex import Regex
from fail2ban.server.datedetector import DateDetector

PKG = '/usr/lib/python3/dist-packages/fail2ban'
LOGS = os.path.join(PKG, 'tests', 'files', 'logs')
# the stock filters (not the include-only *-common.conf), plus fail2ban's two test filters, which
# include the stock common.conf: all read from one temporary tree of symlinks
import tempfile, atexit, shutil
BASE = tempfile.mkdtemp(prefix='f2b-pyregex-')
atexit.register(shutil.rmtree, BASE, True)
os.mkdir(os.path.join(BASE, 'filter.d'))
NAMES = []
for p in sorted(glob.glob('/etc/fail2ban/filter.d/*')):
    os.symlink(p, os.path.join(BASE, 'filter.d', os.path.basename(p)))
    n = os.path.basename(p)
    if n.endswith('.conf') and n != 'common.conf' and not n.endswith('-common.conf'): NAMES.append(n[:-5])
for n in ('zzz-generic-example', 'zzz-sshd-obsolete-multiline'):
    p = os.path.join(PKG, 'tests', 'config', 'filter.d', n + '.conf')
    if os.path.isfile(p):  # their include points into fail2ban's source tree: re-point it
        with open(p) as src, open(os.path.join(BASE, 'filter.d', n + '.conf'), 'w') as dst:
            dst.write(re.sub(r'(?m)^before = .*common\.conf$', 'before = common.conf', src.read()))
        NAMES.append(n)
BASES = [(BASE, n) for n in NAMES]

def u16(s, i):
    return i + sum(1 for ch in s[:i] if ord(ch) > 0xffff)

def load(basedir, name, opts):
    flt = Filter(None)
    reader = FilterReader(name, 'jail', dict(opts), basedir=basedir)
    reader.read()
    reader.getOptions({})
    raws = []
    for opt in reader.convert():
        for v in (opt[3] if opt[0] == 'multi-set' else [opt[3]]):
            if opt[2] == 'prefregex': flt.prefRegex = v
            elif opt[2] == 'addfailregex': flt.addFailRegex(v); raws.append(v)
            elif opt[2] == 'addignoreregex': flt.addIgnoreRegex(v)
            elif opt[2] == 'maxlines': flt.setMaxLines(v)
            elif opt[2] == 'datepattern': flt.setDatePattern(v)
    return flt, raws

out = {'regexes': [], 'filters': [], 'buffers': [], 'searches': []}
index, bufindex, seen, compiled = {}, {}, set(), {}

def regex_id(kind, p, multiline, pre=None):
    key = (p, multiline)
    if key not in index:
        index[key] = len(out['regexes'])
        out['regexes'].append({'p': p, 'm': multiline, 'kind': kind, 'pre': pre})
    return index[key]

def run(rid, b):
    bid = bufindex.get(b)
    if bid is None:
        bid = bufindex[b] = len(out['buffers']); out['buffers'].append(b)
    if (rid, bid) in seen: return None
    seen.add((rid, bid))
    r = out['regexes'][rid]
    c = compiled.get(rid)
    if c is None:
        c = compiled[rid] = re.compile(r['p'], re.M if r['m'] else 0)
    m = c.search(b)
    out['searches'].append([rid, bid, None if m is None else [u16(b, m.start()), u16(b, m.end()), m.groupdict()],
        None if m is None else [None if m.start(g) < 0 else [u16(b, m.start(g)), u16(b, m.end(g))] for g in range(1, c.groups + 1)]])
    return m

for basedir, name in BASES:
    logfile = os.path.join(LOGS, name)
    lines, variants = [], [{}]
    if os.path.isfile(logfile):
        with open(logfile, encoding='utf-8', errors='replace') as f:
            for line in f:
                m = re.match(r'^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$', line)
                if m:
                    if m.group(1) == 'filterOptions':
                        try:
                            o = json.loads(m.group(2))
                        except ValueError:
                            continue
                        for v in (o if isinstance(o, list) else [o]):
                            v = {k: x for k, x in v.items() if not k.startswith('test.')}
                            if v not in variants: variants.append(v)
                    continue
                if line.startswith('#') or not line.strip(): continue
                lines.append(line.rstrip('\r\n'))
    for opts in variants:
        try:
            flt, raws = load(basedir, name, opts)
        except Exception as e:
            out['filters'].append({'name': name, 'opts': opts, 'error': str(e)}); continue
        if not flt._Filter__failRegex: continue
        pref = regex_id('prefregex', flt.prefRegex._regex, False) if flt.prefRegex else None
        fails = []
        for r, raw in zip(flt._Filter__failRegex, raws):
            pre = Regex._resolveHostTag(raw, useDns=flt.getUseDns())
            fails.append(regex_id('failregex', r._regex, bool(r._regexObj.flags & re.M), pre if pre != r._regex else None))
        ignores = [regex_id('ignoreregex', r._regex, False) for r in flt._Filter__ignoreRegex]
        dates = [regex_id('date', t.template.regex, False) for t in flt.dateDetector.templates] if flt.dateDetector else []
        out['filters'].append({'name': name, 'opts': opts, 'lines': len(lines)})
        line_regexes = ([pref] if pref is not None else []) + ignores + fails
        cuts = []
        for line in lines:
            for d in dates: run(d, line)
            cut = line
            tm = flt.dateDetector.matchTime(line) if flt.dateDetector else None
            if tm and tm[0]:
                cut = line[:tm[0].start(1)] + line[tm[0].end(1):]
            cuts.append(cut)
            for b in sorted({line + '\n', cut + '\n'}):
                for rid in line_regexes:
                    m = run(rid, b)
                    if rid == pref and m is not None and m.groupdict().get('content'):
                        for f in fails: run(f, m.group('content') + '\n')
        if flt.getMaxLines() > 1:
            for w in (2, 3):
                for i in range(len(cuts) - w + 1):
                    b = '\n'.join(cuts[i:i + w]) + '\n'
                    for f in fails: run(f, b)
json.dump(out, sys.stdout)
`;

interface Corpus {
  regexes: Array<{ p: string; m: boolean; kind: string; pre: string | null }>;
  filters: Array<{ name: string; opts: Record<string, string>; error?: string; lines?: number }>;
  buffers: string[];
  /** regex, buffer, match, numbered group spans */
  searches: Array<[number, number, Result, Spans]>;
}

describe('fail2ban corpus', { skip: haveFail2ban ? false : `no fail2ban install (${FILTER_D}, ${F2B_PKG})` }, () => {
  let corpus: Corpus;
  const compiled: Array<PyRegExp | Error> = [];
  const indexed: Array<PyRegExp | Error> = [];

  before(() => {
    corpus = runPython(PY_CORPUS, null) as Corpus;
    for (const r of corpus.regexes) {
      for (const [list, indices] of [[compiled, false], [indexed, true]] as const) {
        try {
          list.push(new PyRegExp(r.p, { multiline: r.m, indices }));
        } catch (e) {
          list.push(e as Error);
        }
      }
    }
  });

  test('every expanded regex of every filter compiles', (t) => {
    const stock = fs.readdirSync(FILTER_D).filter((f) => f.endsWith('.conf') && !/(^|-)common\.conf$/.test(f));
    const loaded = new Set(corpus.filters.filter((f) => !f.error).map((f) => f.name));
    assert.deepEqual(corpus.filters.filter((f) => f.error), []);
    assert.deepEqual(stock.filter((f) => !loaded.has(f.slice(0, -5))), []);
    const failures: string[] = [];
    corpus.regexes.forEach((r, i) => {
      const re = compiled[i];
      if (re instanceof Error) {
        failures.push(`${r.kind} ${r.p}: ${re.message}`);
        return;
      }
      // fail2ban's ((?i)X) rewrite, done by us on the unrewritten text, gives the same JS
      if (r.pre !== null && new PyRegExp(r.pre, { multiline: r.m }).jsSource !== re.jsSource) {
        failures.push(`${r.kind} before fail2ban's flag rewrite translates differently: ${r.pre}`);
      }
    });
    const kinds = (k: string) => corpus.regexes.filter((r) => r.kind === k).length;
    t.diagnostic(`corpus: ${loaded.size} filters, ${corpus.filters.length} variants, ${corpus.regexes.length} unique regexes `
      + `(failregex ${kinds('failregex')}, prefregex ${kinds('prefregex')}, ignoreregex ${kinds('ignoreregex')}, `
      + `date ${kinds('date')}), ${corpus.regexes.filter((r) => r.pre !== null).length} through the flag rewrite`);
    assert.deepEqual(failures, []);
    assert.ok(corpus.regexes.length > 300);
  });

  test('replaying the sample logs gives CPython\'s results', (t) => {
    const failures: string[] = [];
    let matches = 0;
    let spans = 0;
    for (const [rid, bid, want, wantSpans] of corpus.searches) {
      const re = compiled[rid];
      const ix = indexed[rid];
      if (re instanceof Error || ix instanceof Error) continue; // reported by the compile test
      const b = corpus.buffers[bid];
      const got = shape(re.search(b));
      if (want !== null) matches++;
      if (JSON.stringify(got) !== JSON.stringify(want) && failures.length < 20) {
        failures.push(`${corpus.regexes[rid].p}\n  on ${JSON.stringify(b)}\n  got ${JSON.stringify(got)}\n  Python ${JSON.stringify(want)}`);
      }
      // compiled with indices: the same match, and Python's numbered group spans
      const m = ix.search(b);
      const gotIx = JSON.stringify([shape(m), spansOf(m, ix, b)]);
      if (wantSpans) spans += wantSpans.length;
      if (gotIx !== JSON.stringify([want, wantSpans]) && failures.length < 20) {
        failures.push(`${corpus.regexes[rid].p} (indices)\n  on ${JSON.stringify(b)}\n  got ${gotIx}\n  Python ${JSON.stringify([want, wantSpans])}`);
      }
    }
    t.diagnostic(`corpus replay: ${corpus.searches.length} searches on ${corpus.buffers.length} buffers, ${matches} matches, `
      + `${spans} numbered group spans`);
    assert.deepEqual(failures, []);
    assert.ok(corpus.searches.length > 10_000 && matches > 1000);
  });
});

test('case classes of ASCII code points come without the full table, and equal it', () => {
  for (let cp = 0; cp < 0x80; cp++) {
    assert.deepEqual(caseClass(cp, false), caseClassFromTable(cp), `U+${cp.toString(16)}`);
    const fromTable = [...new Set([cp, ...caseClassFromTable(cp)])].sort((a, b) => a - b);
    const closed = caseClose([[cp, cp]], false).flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
    assert.deepEqual(closed, fromTable, `close U+${cp.toString(16)}`);
  }
  assert.deepEqual(caseClass(0x6b, false), [0x4b, 0x6b, 0x212a]);
});
