// The matcher pool's time budget: a line that runs past it in a filter is given up (and
// reported), the rest of its batch is still matched, and other batches are not held up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MatcherPool, type SlowLine } from '../src/pipeline/pool';
import type { FilterSpecMessage } from '../src/types';

const spec = (key: string, failregex: string[]): FilterSpecMessage => ({ key, failregex, ignoreregex: [], maxlines: 1, usedns: 'raw' });
const NOW = Date.UTC(2026, 10, 25, 12) / 1000;
const line = (msg: string) => `Nov 25 12:00:00 host app[1]: ${msg}`;

test('a line past the time budget costs that line only; other batches go on meanwhile', async (t) => {
  const slow: SlowLine[] = [];
  const pool = new MatcherPool({ threads: 2, lineBudgetMs: 200, onSlowLine: (s) => slow.push(s) });
  t.after(() => pool.close());
  // exponential backtracking in V8 on a run of a's that does not end in b
  const evil = spec('evil', ['^\\s*\\S+ app\\[\\d+\\]: <HOST> (?:a+)+b$']);
  const good = spec('good', ['^\\s*\\S+ app\\[\\d+\\]: denied <HOST>$']);
  const bomb = line(`192.0.2.9 ${'a'.repeat(40)}!`);
  const lines = [line('192.0.2.1 aaab'), bomb, line('192.0.2.2 ab'), line('denied 192.0.2.3')];
  const order: string[] = [];
  const evilRun = pool.scan([evil, good], lines, NOW).then((r) => (order.push('evil'), r));
  const goodRun = pool.scan([good], [line('denied 192.0.2.4')], NOW).then((r) => (order.push('good'), r));
  const [[e, g], [g2]] = await Promise.all([evilRun, goodRun]);
  // the batch with the bomb finishes after the budget; the other batch did not wait for it
  assert.deepEqual(order, ['good', 'evil']);
  assert.deepEqual(g2.hits.map((h) => h.line), [0]);
  assert.deepEqual(e.hits.map((h) => h.line), [0, 2]);
  assert.ok(Number.isNaN(e.times[1]), 'the given-up line has no date either');
  assert.deepEqual(g.hits.map((h) => h.line), [3]);
  assert.equal(slow.length, 1);
  assert.equal(slow[0].filter, 'evil');
  assert.equal(slow[0].line, bomb);
  assert.ok(slow[0].ms >= 200);
  // the pool still works after a worker was stopped
  const [again] = await pool.scan([good], [line('denied 192.0.2.5')], NOW);
  assert.equal(again.hits.length, 1);
});

test('a large batch is cut into one part per thread; the result is the one batch matched whole', async (t) => {
  const pool = new MatcherPool({ threads: 3 });
  const local = new MatcherPool({ threads: 0 });
  t.after(() => pool.close());
  const filters = [spec('a', ['^\\s*\\S+ app\\[\\d+\\]: auth failure from <HOST>$']), spec('b', ['^\\s*\\S+ app\\[\\d+\\]: bad user <F-USER>\\S+</F-USER> from <HOST>$'])];
  // 4,001 lines: parts of 1,333 and 1,334; undated lines and hits right at the cuts
  const lines = Array.from({ length: 4001 }, (_, i) =>
    i % 7 === 3 ? `no date here ${i}` : line(i % 2 ? `auth failure from 10.0.${i >> 8}.${i & 255}` : `bad user u${i} from 10.1.${i >> 8}.${i & 255}`),
  );
  // filter a sees only its lines (the native prefilter's selection), b every line
  const selA = Uint32Array.from(lines.flatMap((l, i) => (l.includes('auth failure') ? [i] : [])));
  const whole = await local.scan(filters, lines, NOW, [selA, null]);
  const cut = await pool.scan(filters, lines, NOW, [selA, null]);
  assert.equal(cut.length, 2);
  for (let f = 0; f < 2; f++) {
    assert.deepEqual([...cut[f].times], [...whole[f].times], `times of filter ${f}`);
    assert.deepEqual(cut[f].hits, whole[f].hits, `hits of filter ${f}`);
  }
  // both filters found their lines, on both sides of every cut
  for (let f = 0; f < 2; f++) {
    assert.ok(whole[f].hits.length > 1500, `filter ${f}: ${whole[f].hits.length} hits`);
    for (const [from, to] of [[1300, 1333], [1333, 1370], [2640, 2667], [2667, 2700]]) {
      assert.ok(whole[f].hits.some((h) => h.line >= from && h.line < to), `filter ${f} between ${from} and ${to}`);
    }
  }
});
