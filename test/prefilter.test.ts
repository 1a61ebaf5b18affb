// The JS prefilter (src/prefilter) is sound: with it on and off, fail2ban's whole sample corpus
// (every stock filter, every filterOptions variant) and generated sshd / nginx logs give
// IDENTICAL records. A dropped line skips only the regex search (its date still goes through the
// date detector and the tracker, see test/helpers/corpus.ts SampleRunOptions).

import * as helpers from './helpers/corpus';

process.env.TZ = process.env.F2B_CORPUS_TZ ?? helpers.TEST_TZ;

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Prefilter, fold } from '../src/prefilter';
import { RegexRunner, type RegexRecord } from '../src/cli/regex';
import { readFilter } from '../src/config';
import { generate } from '../bench/generate';
import { filterSpecOf } from '../src/filter/filter';
import type { FilterSpecMessage } from '../src/types';

const spec = (failregex: string[], extra: Partial<FilterSpecMessage> = {}): FilterSpecMessage => ({
  key: 't', failregex, ignoreregex: [], maxlines: 1, usedns: 'raw', ...extra,
});

/** soundness on single lines: whenever the exact scanner finds a failure, the prefilter passes */
function assertSound(s: FilterSpecMessage, lines: string[], now = helpers.TEST_NOW): number {
  const pf = new Prefilter(s);
  let matched = 0;
  for (const line of lines) {
    const r = new RegexRunner(s);
    const hits = r.scanner.scan(line, now, { checkAll: true }).hits.length;
    if (hits) matched++;
    if (hits) assert.ok(pf.test(line), `prefilter dropped a matching line: ${JSON.stringify(line)} (literals ${JSON.stringify(pf.literals)})`);
  }
  return matched;
}

test('required literals: concatenation, alternation, optional parts, classes', () => {
  const pf = new Prefilter(spec([String.raw`^Failed (?:password|publickey) for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>(?: port \d+)?`]));
  assert.deepEqual(pf.literals, [['password | publickey', 'Failed ', ' from ', ' for ']]);
  assert.ok(pf.test('Nov 25 01:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 22'));
  assert.ok(!pf.test('Nov 25 01:00:00 h sshd[1]: Accepted password for root from 1.2.3.4 port 22'));
  // an alternation keeps only what every branch requires
  assert.deepEqual(new Prefilter(spec(['(?:abcdef|xyzdef) <HOST>'])).literals, [['abcdef | xyzdef']]);
  assert.deepEqual(new Prefilter(spec(['(?:abc|xyz|\\d) <HOST>'])).alwaysPass, true);
  assert.deepEqual(new Prefilter(spec(['(?:abc foo|xyz foo)+ <HOST>'])).literals, [['abc foo | xyz foo']]);
  assert.ok(new Prefilter(spec(['(Connection (?:closed|reset)|Disconnected) by <HOST>'])).test('Nov 1 00:00:00 x: Disconnected by 1.2.3.4'));
  assert.deepEqual(new Prefilter(spec(['(?:(?:abc)|(?:abc)) <HOST>'])).literals, [['abc']]);
  // optional parts give nothing; [aA] is a case pair
  assert.deepEqual(new Prefilter(spec(['(?:maybe)? [aA]uthentication <HOST>'])).literals, [[' authentication ']]);
  // one failregex without literals: nothing can be dropped
  const free = new Prefilter(spec(['^Failed <HOST>', String.raw`^\S+ <HOST>`]));
  assert.equal(free.alwaysPass, true);
  assert.match(free.reason!, /failregex #2/);
  // multi-line filters always pass
  assert.equal(new Prefilter(spec(['^Failed <HOST>'], { maxlines: 2 })).alwaysPass, true);
  // \n breaks literals
  assert.deepEqual(new Prefilter(spec(['^foo bar<SKIPLINES>baz qux <HOST>'])).literals, [['baz qux ', 'foo bar']]);
  // a prefregex adds its own condition
  const pre = new Prefilter(spec(['^Failed from <HOST>'], { prefregex: '^<F-MLFID>sshd: </F-MLFID><F-CONTENT>.+</F-CONTENT>$' }));
  assert.deepEqual(pre.prefLiterals, ['sshd: ']);
  assert.ok(!pre.test('xx Failed from 1.2.3.4'));
  assert.ok(pre.test('sshd: Failed from 1.2.3.4'));
  assert.equal(pre.re2 !== null, true);
});

test('case-insensitive literals fold ASCII and Python\'s Unicode partners of i, s, k', () => {
  assert.equal(fold('FAİLED ıSſK\u212a'), 'failed issk' + 'k');
  const s = spec(['(?i)failed login from <HOST>', '(?i:skip) key <HOST>']);
  const pf = new Prefilter(s);
  assert.deepEqual(pf.relaxation.fail.map((r) => r.map((a) => a[0].ci)), [[true], [true]]);
  const lines = ['FAILED LOGIN FROM 1.2.3.4', 'fa\u0130led login from 1.2.3.4', 'fa\u0131led login from 1.2.3.4', '\u017fkip key 1.2.3.4', 'S\u212aIP key 1.2.3.4', 'Skip KEY 1.2.3.4'];
  assert.ok(assertSound(s, lines) >= 3);
  for (const l of lines.slice(0, 5)) assert.ok(pf.test(l), l);
  // a non-ASCII char under (?i) breaks the literal
  assert.deepEqual(new Prefilter(spec(['(?i)grüße aus <HOST>'])).literals, [['e aus ']]);
});

test('the date cut: a literal may straddle the cut date (half rule)', () => {
  // the date is cut out of the middle of "Failed pass: from ": the regex sees the literal, the
  // raw line does not contain it; a naive "every literal occurs" test would drop these lines
  const s = spec(['Failed pass: from <HOST>']);
  const straddling = ['Failed pass:2005-08-14 10:00:00 from 1.2.3.4', 'Failed pass:Aug 14 10:00:00 from 1.2.3.4'];
  assert.equal(assertSound(s, straddling), straddling.length);
  for (const l of straddling) assert.ok(!l.includes('Failed pass: from '));
  const pf = new Prefilter(s);
  for (const l of straddling) assert.ok(pf.test(l), l);
  assert.ok(pf.test('2005-08-14 10:00:00 Failed pass: from 1.2.3.4'));
  assert.ok(!pf.test('2005-08-14 10:00:00 Accepted pass for 1.2.3.4'));
  // only ONE literal can straddle: two missing literals drop the line
  const two = new Prefilter(spec(['Failed pass: <HOST> port: closed']));
  assert.ok(!two.test('Failed pas 1.2.3.4 port closed'));
  assert.ok(two.test('Failed pa2005-08-14 10:00:00ss: 1.2.3.4 port: closed'));
});

const installed = fs.existsSync(helpers.CORPUS_DIR) && fs.existsSync(helpers.STOCK_FILTER_DIR) && fs.existsSync(helpers.TEST_FILTER_DIR);
test('fail2ban is installed (its sample corpus is the yardstick)', () => assert.ok(installed));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-prefilter-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

if (installed) {
  const onRuns: helpers.VariantRun[] = [];
  const filterDir = helpers.makeFilterTree(tmp);

  test('corpus: every filter and variant gives identical records with the prefilter on and off', () => {
    let lines = 0;
    let dropped = 0;
    let variants = 0;
    let always = 0;
    let skipDiffs = 0;
    const diffs: string[] = [];
    const skipDiffVariants: string[] = [];
    let nomatch = 0;
    for (const name of helpers.corpusFilters(filterDir)) {
      const off = helpers.runFilterSamples(name, filterDir);
      const on = helpers.runFilterSamples(name, filterDir, { prefilter: 'gate' });
      const skip = helpers.runFilterSamples(name, filterDir, { prefilter: 'skip' });
      assert.deepEqual([...on.variants.keys()], [...off.variants.keys()]);
      for (const [k, v] of off.variants) {
        const w = on.variants.get(k)!;
        variants++;
        lines += v.lines.length;
        dropped += w.dropped!;
        nomatch += new Set(v.records.filter((r) => !r.match).map((r) => r.line)).size;
        onRuns.push(w);
        if (w.prefilter!.alwaysPass) always++;
        try {
          assert.deepEqual(w.records, v.records);
        } catch {
          diffs.push(`${k} (${w.filterSpec})`);
        }
        try {
          assert.deepEqual(skip.variants.get(k)!.records, v.records);
        } catch {
          skipDiffs++;
          skipDiffVariants.push(k);
        }
      }
    }
    console.log(`# prefilter corpus: ${variants} variants (${always} always pass), ${lines} lines (${nomatch} without a failure), ${dropped} dropped (${((100 * dropped) / lines).toFixed(1)}% of all, ${((100 * dropped) / nomatch).toFixed(1)}% of those without a failure)`);
    console.log(`# prefilter corpus, dropped lines skipping date detection too: ${skipDiffs} variants differ${skipDiffs ? ': ' + skipDiffVariants.join(', ') : ''}`);
    assert.deepEqual(diffs, []);
  });

  test('cross-corpus: every line of every sample file, through every variant: a dropped line has no hit', () => {
    assert.ok(onRuns.length > 100);
    const all: string[] = [];
    for (const f of fs.readdirSync(helpers.CORPUS_DIR)) {
      const p = path.join(helpers.CORPUS_DIR, f);
      if (!fs.statSync(p).isFile()) continue;
      for (const l of fs.readFileSync(p, 'utf8').split(/\r?\n/)) if (l.trim() && !l.startsWith('#')) all.push(l);
    }
    let tested = 0;
    let dropped = 0;
    const bad: string[] = [];
    for (const v of onRuns) {
      if (v.prefilter!.alwaysPass) continue;
      const scanner = new RegexRunner(v.runner.spec).scanner;
      for (const line of all) {
        tested++;
        if (v.prefilter!.test(line)) continue;
        dropped++;
        if (scanner.scan(line, helpers.TEST_NOW, { checkAll: true }).hits.length) bad.push(`${v.variant}: ${line}`);
      }
    }
    console.log(`# prefilter cross-corpus: ${all.length} lines x ${onRuns.filter((v) => !v.prefilter!.alwaysPass).length} variants = ${tested} tests, ${dropped} dropped (${((100 * dropped) / tested).toFixed(1)}%)`);
    assert.deepEqual(bad.slice(0, 20), []);
  });

  const now = Date.UTC(2025, 2, 9) / 1000;
  for (const [kind, filter] of [['sshd', 'sshd'], ['nginx', 'nginx-botsearch']] as const) {
    test(`generated ${kind} log: identical records with ${filter}, prefilter on and off`, () => {
      const out = path.join(tmp, `${kind}.log`);
      generate(kind, 30000, 7, out);
      const def = readFilter(filterDir, filter);
      const s = filterSpecOf(def, { key: filter, usedns: 'raw' });
      const lines = fs.readFileSync(out, 'utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const pf = new Prefilter(s);
      assert.equal(pf.alwaysPass, false, `${filter}: ${pf.reason}`);
      const offR = new RegexRunner(s);
      const onR = new RegexRunner(s);
      const off: RegexRecord[] = [];
      const on: RegexRecord[] = [];
      let dropped = 0;
      let failures = 0;
      lines.forEach((line, i) => {
        const a = offR.process(line, now).found;
        failures += a.length;
        off.push(...RegexRunner.records(i + 1, a));
        if (!pf.test(line)) {
          dropped++;
          onR.passDate(line, now);
          on.push(...RegexRunner.records(i + 1, []));
          return;
        }
        on.push(...RegexRunner.records(i + 1, onR.process(line, now).found));
      });
      const truth = JSON.parse(fs.readFileSync(out + '.truth.json', 'utf8')) as { failures: number };
      console.log(`# prefilter ${kind}: ${lines.length} lines, ${dropped} dropped (${((100 * dropped) / lines.length).toFixed(1)}%), ${failures} failures (truth ${truth.failures}); literals ${JSON.stringify(pf.literals)} pref ${JSON.stringify(pf.prefLiterals)}`);
      assert.ok(failures > 0);
      assert.deepEqual(on, off);
    });
  }
}
