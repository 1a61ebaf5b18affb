// Our bundled filters against their own annotated samples (filters/samples/NAME.log).
// One data-driven test per filter; each "# filterOptions:" block runs with those options.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFilter } from '../src/config';
import { readSamples, runSamples, type SampleLine } from './helpers/samples';

const ROOT = path.resolve(__dirname, '../..');
const FILTER_DIR = path.join(ROOT, 'filters/filter.d');
const SAMPLES = path.join(ROOT, 'filters/samples');
const NOW = Date.parse('2024-06-01T00:00:00Z') / 1000;

for (const file of fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.log'))) {
  const name = file.replace(/\.log$/, '');
  test(`bundled filter ${name} matches its annotated samples`, () => {
    const lines = readSamples(path.join(SAMPLES, file));
    assert.ok(lines.length >= 10, `${file} has ${lines.length} annotated lines, want >= 10`);
    const groups = new Map<string, SampleLine[]>();
    for (const l of lines) {
      const key = JSON.stringify(l.options);
      groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    const problems: string[] = [];
    for (const [key, group] of groups) {
      const opts = Object.entries(JSON.parse(key) as Record<string, string>).map(([k, v]) => `${k}=${v}`);
      const def = readFilter(FILTER_DIR, opts.length ? `${name}[${opts.join(', ')}]` : name);
      for (const r of runSamples(def, group, NOW, 'UTC')) {
        for (const p of r.problems) problems.push(`${file}:${r.line.lineNo} ${key}: ${p}\n    ${r.line.text}`);
      }
    }
    assert.deepEqual(problems, []);
  });
}

test('every bundled filter has its annotated samples, and every sample file its filter', () => {
  // files named common.conf or *-common.conf are shared definitions included by the others
  const filters = fs.readdirSync(FILTER_DIR)
    .filter((f) => f.endsWith('.conf') && !/(^|-)common\.conf$/.test(f))
    .map((f) => f.replace(/\.conf$/, ''));
  const samples = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.log')).map((f) => f.replace(/\.log$/, ''));
  assert.deepEqual(filters.filter((f) => !samples.includes(f)), [], 'filters without filters/samples/NAME.log');
  assert.deepEqual(samples.filter((s) => !filters.includes(s)), [], 'sample files without filters/filter.d/NAME.conf');
  assert.ok(filters.length >= 35, `${filters.length} bundled filters, want >= 35`);
});
