// The matcher pool's time budget: a line that runs past it in a filter is given up (and
// reported), the rest of its batch is still matched, and other batches are not held up; the
// filter then has a thread of its own, so that its next crafted lines hold up nobody else.

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
  assert.equal(slow[0].isolated, true);
  // the pool still works after a worker was stopped
  const [again] = await pool.scan([good], [line('denied 192.0.2.5')], NOW);
  assert.equal(again.hits.length, 1);
});

test('a filter that ran past the budget gets a thread of its own: its next crafted lines hold up no other batch', async (t) => {
  const events: string[] = [];
  const slow: SlowLine[] = [];
  // a tenth of it, 200 ms, on the isolated thread
  const pool = new MatcherPool({ threads: 2, lineBudgetMs: 2000, onSlowLine: (s) => (slow.push(s), events.push('slow')) });
  t.after(() => pool.close());
  const evil = spec('evil', ['^\\s*\\S+ app\\[\\d+\\]: <HOST> (?:a+)+b$']);
  const good = spec('good', ['^\\s*\\S+ app\\[\\d+\\]: denied <HOST>$']);
  const bomb = (k: number) => line(`192.0.2.${k} ${'a'.repeat(40)}!`);
  // the first crafted line stops a shared thread, and moves the filter
  await pool.scan([evil, good], [bomb(0)], NOW);
  assert.deepEqual(slow.map((s) => [s.filter, s.isolated, s.budgetMs]), [['evil', true, 2000]]);
  assert.deepEqual(pool.isolatedFilters, ['evil']);
  events.length = 0;
  // four batches with a crafted line each, queued first: on shared threads they would take both
  // for the budget, and the 40 batches after them would wait; on the isolated thread they wait
  // for each other, each given up after a tenth of the budget, and the 40 go through before the
  // first of them is
  const evilRuns = Array.from({ length: 4 }, (_, k) =>
    pool.scan([evil, good], [bomb(k + 1), line(`192.0.2.${k + 1} aab`), line(`denied 203.0.113.${k}`)], NOW).then((r) => (events.push('evil'), r)),
  );
  const goodRuns = Array.from({ length: 40 }, (_, k) => pool.scan([good], [line(`denied 198.51.100.${k}`)], NOW).then((r) => (events.push('good'), r)));
  const [evils, goods] = await Promise.all([Promise.all(evilRuns), Promise.all(goodRuns)]);
  assert.deepEqual(events.slice(0, 40), Array(40).fill('good'), events.join(' '));
  assert.equal(events.filter((e) => e === 'slow').length, 4);
  assert.deepEqual(slow.slice(1).map((s) => [s.filter, s.isolated, s.budgetMs]), Array(4).fill(['evil', false, 200]));
  assert.ok(slow.slice(1).every((s) => s.ms >= 200 && s.ms < 2000), slow.map((s) => s.ms).join(' '));
  for (const [e, g] of evils) {
    // the crafted line given up, the rest of the batch matched by both filters
    assert.deepEqual(e.hits.map((h) => h.line), [1]);
    assert.deepEqual(g.hits.map((h) => h.line), [2]);
  }
  for (const [g] of goods) assert.deepEqual(g.hits.map((h) => h.line), [0]);
});

test('journal entries (their times known) go through the same budget; their times are the entries\' own', async (t) => {
  const slow: SlowLine[] = [];
  const pool = new MatcherPool({ threads: 2, lineBudgetMs: 200, onSlowLine: (s) => slow.push(s) });
  t.after(() => pool.close());
  // a journal entry's text has no date: the filter's regex starts at the message
  const evil = spec('evil', ['^<HOST> (?:a+)+b$']);
  const texts = ['192.0.2.1 aab', `192.0.2.2 ${'a'.repeat(40)}!`, '192.0.2.3 ab'];
  const dated = Float64Array.from([NOW - 30, NOW - 20, NOW - 10]);
  const [r] = await pool.scan([evil], texts, NOW, undefined, dated);
  assert.deepEqual(r.hits.map((h) => h.line), [0, 2]);
  assert.deepEqual([r.times[0], r.times[2]], [NOW - 30, NOW - 10]);
  assert.deepEqual(slow.map((s) => s.line), [texts[1]]);
  // the same on the main thread (threads 0), without a budget
  const local = new MatcherPool({ threads: 0 });
  const [l] = await local.scan([spec('good', ['^<HOST> a+b$'])], texts, NOW, undefined, dated);
  assert.deepEqual(l.hits.map((h) => h.line), [0, 2]);
  assert.deepEqual([...l.times], [...dated]);
});

test('multi-line filters: their own thread keeps each window across batches, in the order of the calls, under the budget', async (t) => {
  const slow: SlowLine[] = [];
  const pool = new MatcherPool({ threads: 2, lineBudgetMs: 300, onSlowLine: (s) => slow.push(s) });
  const local = new MatcherPool({ threads: 0 });
  t.after(() => pool.close());
  // two lines: who began, then the address; and one that backtracks for ever on a crafted line
  const two = { ...spec('two', ['app\\[\\d+\\]: begin <F-USER>\\S+</F-USER>\\n.*app\\[\\d+\\]: denied <HOST>$']), maxlines: 2 };
  const evil = { ...spec('evil', ['app\\[\\d+\\]: x\\n.*app\\[\\d+\\]: <HOST> (?:a+)+b$']), maxlines: 2 };
  const one = spec('one', ['^\\s*\\S+ app\\[\\d+\\]: denied <HOST>$']);
  const batches = [
    [line('begin bob'), line('denied 192.0.2.1'), line('begin eve')],
    [line('denied 192.0.2.2'), line('begin ann')],
    [line('denied 192.0.2.3')],
  ];
  // all three queued at once: each window still sees the lines in order, across the batches
  const got = await Promise.all(batches.map((b) => pool.scan([two, one], b, NOW)));
  const want: Awaited<ReturnType<MatcherPool['scan']>>[] = [];
  for (const b of batches) want.push(await local.scan([two, one], b, NOW));
  assert.deepEqual(got, want);
  assert.deepEqual(got.map(([w]) => w.hits.map((h) => h.hits[0].groups.user)), [['bob'], ['eve'], ['ann']]);
  // a crafted line in a multi-line filter: that line given up, the thread goes on
  const [e] = await pool.scan([evil], [line('x'), line(`192.0.2.9 ${'a'.repeat(40)}!`), line('x'), line('192.0.2.8 aab')], NOW);
  assert.deepEqual(e.hits.map((h) => h.line), [3]);
  assert.deepEqual(slow.map((s) => [s.filter, s.isolated, s.budgetMs]), [['evil', false, 300]]);
  assert.deepEqual(pool.isolatedFilters, []);
  const [again] = await pool.scan([two], [line('begin zoe'), line('denied 192.0.2.4')], NOW);
  assert.deepEqual(again.hits.map((h) => h.hits[0].groups.user), ['zoe']);
});

test('a large batch is cut into one part per thread; the result is the one batch matched whole', async (t) => {
  const pool = new MatcherPool({ threads: 3 });
  const local = new MatcherPool({ threads: 0 });
  t.after(() => pool.close());
  const filters = [spec('a', ['^\\s*\\S+ app\\[\\d+\\]: auth failure from <HOST>$']), spec('b', ['^\\s*\\S+ app\\[\\d+\\]: bad user <F-USER>\\S+</F-USER> from <HOST>$'])];
  // 4,001 lines: parts of 1,333 and 1,334; undated lines and hits right at the cuts
  const lines = Array.from({ length: 4001 }, (_, i) =>
    i % 7 === 3 ? `no date hére ${i}` : line(i % 2 ? `auth failure from 10.0.${i >> 8}.${i & 255}` : `bad user u${i} from 10.1.${i >> 8}.${i & 255}`),
  );
  // filter a sees only its lines (the native prefilter's selection), b every line
  const selA = Uint32Array.from(lines.flatMap((l, i) => (l.includes('auth failure') ? [i] : [])));
  const whole = await local.scan(filters, lines, NOW, [selA, null]);
  const cut = await pool.scan(filters, lines, NOW, [selA, null]);
  // the same lines as the tailer hands them over: one string, each line ending in '\n', some
  // in '\r\n' (the '\r' is not part of the line)
  const text = lines.map((l, i) => `${l}${i % 5 === 0 ? '\r' : ''}\n`).join('');
  const cutText = await pool.scan(filters, { text, count: lines.length }, NOW, [selA, null]);
  assert.equal(cut.length, 2);
  for (let f = 0; f < 2; f++) {
    assert.deepEqual([...cut[f].times], [...whole[f].times], `times of filter ${f}`);
    assert.deepEqual(cut[f].hits, whole[f].hits, `hits of filter ${f}`);
    assert.deepEqual([...cutText[f].times], [...whole[f].times], `times of filter ${f}, from text`);
    assert.deepEqual(cutText[f].hits, whole[f].hits, `hits of filter ${f}, from text`);
  }
  // both filters found their lines, on both sides of every cut
  for (let f = 0; f < 2; f++) {
    assert.ok(whole[f].hits.length > 1500, `filter ${f}: ${whole[f].hits.length} hits`);
    for (const [from, to] of [[1300, 1333], [1333, 1370], [2640, 2667], [2667, 2700]]) {
      assert.ok(whole[f].hits.some((h) => h.line >= from && h.line < to), `filter ${f} between ${from} and ${to}`);
    }
  }
});
