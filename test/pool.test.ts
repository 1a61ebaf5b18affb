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
