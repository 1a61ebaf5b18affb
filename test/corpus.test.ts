// Drop-in matching: every annotated line of fail2ban's own sample corpus (read from the installed
// fail2ban package at run time, never copied) run through f2b-fast with the stock filter.d and
// fail2ban's test clock, compared the way fail2ban's sample test compares it.

import * as helpers from './helpers/corpus';

process.env.TZ = process.env.F2B_CORPUS_TZ ?? helpers.TEST_TZ;

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { regexOutput } from '../src/cli/regex';

const installed = fs.existsSync(helpers.CORPUS_DIR) && fs.existsSync(helpers.STOCK_FILTER_DIR) && fs.existsSync(helpers.TEST_FILTER_DIR);
const version = installed ? /version = "([^"]+)"/.exec(fs.readFileSync(path.join(helpers.F2B_PKG, 'version.py'), 'utf8'))?.[1] : undefined;

test('fail2ban is installed (its sample corpus and stock filter.d are the yardstick)', () => {
  assert.ok(installed, 'fail2ban is NOT installed: the drop-in corpus checks cannot run. apt-get install fail2ban');
});

if (installed) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-corpus-'));
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const filterDir = helpers.makeFilterTree(tmp);
  let passed = 0;
  let failed = 0;
  const variants: helpers.VariantRun[] = [];

  for (const name of helpers.corpusFilters(filterDir)) {
    test(`corpus: ${name}`, () => {
      assert.ok(fs.existsSync(path.join(helpers.CORPUS_DIR, name)), `no sample log for filter ${name}`);
      const run = helpers.runFilterSamples(name, filterDir);
      variants.push(...run.variants.values());
      const problems = run.checks.filter((c) => c.problem).map((c) => `${c.file}:${c.lineNo} ${c.variant}: ${c.problem}\n    ${c.line}`);
      passed += run.checks.length - problems.length;
      failed += problems.length;
      // every failregex of every variant has a sample (a regex string used by another variant counts)
      const usedRegex = new Set<string>();
      for (const v of run.variants.values()) for (const i of v.used) usedRegex.add(v.runner.spec.failregex[i]);
      for (const v of run.variants.values()) {
        v.runner.spec.failregex.forEach((r, i) => {
          if (!v.used.has(i) && !usedRegex.has(r)) problems.push(`${v.variant}: regex has no samples: ${i}: ${r}`);
        });
      }
      assert.deepEqual(problems, []);
    });
  }

  test('`f2b-fast regex --json` reports exactly what the corpus run saw, line for line', async () => {
    const bin = path.resolve(__dirname, '../../bin/f2b-fast');
    const mismatches: string[] = [];
    const one = async (v: helpers.VariantRun, i: number) => {
      const file = path.join(tmp, `variant-${i}.log`);
      fs.writeFileSync(file, v.lines.map((l) => `${l.text}\n`).join(''));
      const args = [bin, 'regex', '--json', '--now', String(helpers.TEST_NOW), '-r', '-c', path.dirname(filterDir), ...(v.lines[0]?.entry ? ['--journal'] : []), file, v.filterSpec];
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, args, { env: { ...process.env, TZ: process.env.TZ }, stdio: ['ignore', 'pipe', 'inherit'] });
        let s = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`${v.variant}: exit ${code}`))));
      });
      const expected = v.records.map((r) => JSON.stringify(r)).join('\n');
      if (out.trim() !== expected) mismatches.push(`${v.variant} (${v.filterSpec})`);
    };
    // two at a time: the machine has two cores
    const queue = variants.filter((v) => v.lines.length).map((v, i) => [v, i] as const);
    await Promise.all([0, 1].map(async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await one(next[0], next[1]);
    }));
    assert.deepEqual(mismatches, []);
  });

  test('`f2b-fast regex` prints the same summary with the native matcher as with the JS one, variant for variant', async () => {
    const PADDING = Array.from({ length: 25 }, (_, k) => `f2b-fast test padding ${k}\n`).join('');
    const strip = (s: string) => s.replace(/\[processed in [\d.]+ sec\]\n/, '').replace(/(Date template hits:\n\|- .*\n)(\|  .*\n)*/, '$1…\n');
    const mismatches: string[] = [];
    let compared = 0;
    for (const [i, v] of variants.entries()) {
      if (!v.lines.length || v.lines[0]?.entry) continue;
      const file = path.join(tmp, `summary-${i}.log`);
      // (and lines no filter matches: with fewer than 20 missed lines, `regex` reads the file
      // again in JS to list them, and the native summary would not be the one compared)
      fs.writeFileSync(file, v.lines.map((l) => `${l.text}\n`).join('') + PADDING);
      const run = (matcher: string) => regexOutput(file, v.filterSpec, undefined, { now: String(helpers.TEST_NOW), raw: true, config: path.dirname(filterDir), matcher });
      const [native, js] = [strip(await run('auto')), strip(await run('js'))];
      compared++;
      if (native !== js) mismatches.push(`${v.variant} (${v.filterSpec})`);
    }
    assert.ok(compared > 100, `${compared} variants compared`);
    assert.deepEqual(mismatches, []);
  });

  test('corpus totals', (t) => {
    t.diagnostic(`${passed} passed, ${failed} failed (fail2ban ${version} sample corpus checks)`);
    console.log(`fail2ban sample corpus: ${passed} passed, ${failed} failed (checks of annotated lines x filter variants)`);
    assert.equal(failed, 0);
    if (version === '1.0.2') assert.equal(passed, 1627, 'fail2ban 1.0.2 has 1627 checks');
  });
}
