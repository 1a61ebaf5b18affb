// The native prefilter is SOUND: what `regex` reports through the native scanner (only the
// candidate lines are processed, with the failregexes the prefilter names and a lookback for
// undated lines) is exactly what reading every line in JS reports. Checked on fail2ban's whole
// sample corpus (every stock filter and option variant), on every corpus line against every
// variant, and on generated sshd and nginx logs.

import * as helpers from './helpers/corpus';

process.env.TZ = process.env.F2B_CORPUS_TZ ?? helpers.TEST_TZ;

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { RegexRunner, scanCandidates, type RegexRecord } from '../src/cli/regex';
import { readFilter } from '../src/config';
import { filterSpecOf } from '../src/filter/filter';
import { filterPrefilter } from '../src/scan/filescan';
import { LiteralSample } from '../src/prefilter/native';
import { generate } from '../bench/generate';
import type { FilterSpecMessage } from '../src/types';

const installed = fs.existsSync(helpers.CORPUS_DIR);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-scan-sound-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** `regex --json`'s records for `lines`, through the native scanner (null: nothing to drop). */
async function nativeRecords(spec: FilterSpecMessage, file: string, lineCount: number, now: number, entryTime?: number, threads = 2): Promise<{ records: RegexRecord[]; read: number; literalGate: boolean } | null> {
  const native = filterPrefilter(spec);
  if (!native) return null;
  const runner = new RegexRunner(spec);
  const byLine = new Map<number, RegexRecord[]>();
  const res = await scanCandidates(runner, file, native, { now, entryTime, threads, skipComments: false }, (lineNo, _line, r) => {
    byLine.set(lineNo, RegexRunner.records(lineNo, r.found));
  });
  assert.equal(res.lines, lineCount);
  const records: RegexRecord[] = [];
  for (let n = 1; n <= lineCount; n++) records.push(...(byLine.get(n) ?? RegexRunner.records(n, [])));
  return { records, read: res.read, literalGate: native.prefilter.literalGate };
}

if (!installed) {
  test('native prefilter soundness on the corpus', { skip: `fail2ban's corpus is not installed (${helpers.CORPUS_DIR})` }, () => {});
} else {
  const filterDir = helpers.makeFilterTree(tmp);
  const variants: helpers.VariantRun[] = [];

  test('corpus: every filter and variant gives identical records through the native scanner', async () => {
    let lines = 0;
    let read = 0;
    let none = 0;
    let gated = 0;
    const diffs: string[] = [];
    let n = 0;
    for (const name of helpers.corpusFilters(filterDir)) {
      const off = helpers.runFilterSamples(name, filterDir);
      for (const [k, v] of off.variants) {
        variants.push(v);
        lines += v.lines.length;
        const file = path.join(tmp, `corpus-${n++}.log`);
        fs.writeFileSync(file, v.lines.map((l) => l.text).join('\n') + '\n');
        const journal = v.lines.some((l) => l.entry);
        const got = await nativeRecords(v.runner.spec, file, v.lines.length, helpers.TEST_NOW, journal ? helpers.TEST_NOW : undefined, 1 + (n % 3));
        if (!got) {
          none++;
          read += v.lines.length;
          continue;
        }
        read += got.read;
        if (got.literalGate) gated++;
        try {
          assert.deepEqual(got.records, v.records);
        } catch {
          diffs.push(`${k} (${v.filterSpec})`);
        }
      }
    }
    console.log(`# native prefilter corpus: ${variants.length} variants (${none} with nothing to drop, ${gated} with the literal gate), ${lines} lines, ${lines - read} dropped (${((100 * (lines - read)) / lines).toFixed(1)}%)`);
    assert.ok(variants.length > 100);
    assert.deepEqual(diffs, []);
  });

  /** Every line of every corpus file, as one buffer, with each line's start in it. */
  const corpusLines = () => {
    const all: string[] = [];
    for (const f of fs.readdirSync(helpers.CORPUS_DIR)) {
      const p = path.join(helpers.CORPUS_DIR, f);
      if (!fs.statSync(p).isFile()) continue;
      for (const l of fs.readFileSync(p, 'utf8').split(/\r?\n/)) if (l.trim() && !l.startsWith('#')) all.push(l);
    }
    const starts: number[] = [];
    for (let i = 0, at = 0; i < all.length; i++) {
      starts.push(at);
      at += Buffer.byteLength(all[i]) + 1;
    }
    return { all, buf: Buffer.from(all.join('\n') + '\n'), starts };
  };

  test('cross-corpus: every line of every sample file, through every variant: a dropped line has no hit', async () => {
    assert.ok(variants.length > 100);
    const { all, buf, starts } = corpusLines();
    let tested = 0;
    let dropped = 0;
    const bad: string[] = [];
    for (const v of variants) {
      const native = filterPrefilter(v.runner.spec);
      if (!native) continue;
      const failMask = 2 ** native.failregexes - 1;
      const cand = native.prefilter.scan(buf);
      const maskAt = new Map<number, number>();
      cand.begins.forEach((b, i) => maskAt.set(b, cand.masks[i]));
      const scanner = new RegexRunner(v.runner.spec).scanner;
      all.forEach((line, i) => {
        tested++;
        const mask = maskAt.get(starts[i]) ?? 0;
        if ((mask & failMask) === failMask) return;
        if (!mask) dropped++;
        // every failregex the prefilter ruled out must indeed not match
        const hits = scanner.scan(line, helpers.TEST_NOW, { checkAll: true }).hits.filter((h) => h.regex < 32 && !(mask & (1 << h.regex)));
        if (hits.length) bad.push(`${v.variant} failregex #${hits[0].regex + 1}: ${line}`);
      });
    }
    console.log(`# native prefilter cross-corpus: ${all.length} lines x variants = ${tested} tests, ${dropped} lines dropped (${((100 * dropped) / tested).toFixed(1)}%)`);
    assert.deepEqual(bad.slice(0, 20), []);
  });

  test('cross-corpus, literal masks (the native matcher\'s), literals chosen by length and from a sample: a ruled-out failregex never matches', async () => {
    assert.ok(variants.length > 100);
    const { all, buf, starts } = corpusLines();
    const sample = new LiteralSample(buf.subarray(0, 64 << 10));
    let tested = 0;
    let ruledOut = 0;
    const bad: string[] = [];
    for (const v of variants) {
      const scanner = new RegexRunner(v.runner.spec).scanner;
      const hits = all.map((line) => scanner.scan(line, helpers.TEST_NOW, { checkAll: true }).hits.map((h) => h.regex));
      for (const s of [undefined, sample]) {
        const native = filterPrefilter(v.runner.spec, s);
        if (!native || !native.prefilter.literalGate) continue;
        const cand = native.prefilter.scan(buf, { literalMasks: true });
        const maskAt = new Map<number, number>();
        cand.begins.forEach((b, i) => maskAt.set(b, cand.masks[i]));
        all.forEach((line, i) => {
          tested++;
          const mask = maskAt.get(starts[i]) ?? 0;
          for (const r of hits[i]) {
            if (r < 32 && !(mask & (1 << r))) bad.push(`${v.variant}${s ? ' (sample)' : ''} failregex #${r + 1}: ${line}`);
          }
          for (let r = 0; r < Math.min(32, native.failregexes); r++) if (!(mask & (1 << r))) ruledOut++;
        });
      }
    }
    console.log(`# literal masks cross-corpus: ${tested} line x variant tests, ${ruledOut} failregex tries ruled out`);
    assert.ok(tested > 100_000);
    assert.deepEqual(bad.slice(0, 20), []);
  });
}

const now = Date.UTC(2025, 2, 9) / 1000;
for (const [kind, filter] of [['sshd', 'sshd'], ['nginx', 'nginx-botsearch']] as const) {
  test(`generated ${kind} log: identical records with ${filter} through the native scanner`, { skip: !installed && 'fail2ban is not installed' }, async () => {
    const filterDir = helpers.makeFilterTree(fs.mkdtempSync(path.join(tmp, 'tree-')));
    const out = path.join(tmp, `${kind}.log`);
    generate(kind, 30000, 7, out);
    const spec = filterSpecOf(readFilter(filterDir, filter), { key: filter, usedns: 'raw' });
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const off = new RegexRunner(spec);
    const expected: RegexRecord[] = [];
    lines.forEach((line, i) => expected.push(...RegexRunner.records(i + 1, off.process(line, now).found)));
    for (const threads of [1, 2]) {
      const got = await nativeRecords(spec, out, lines.length, now, undefined, threads);
      assert.ok(got, `${filter}: the native prefilter drops nothing`);
      console.log(`# native prefilter ${kind} (threads ${threads}): ${lines.length} lines, ${lines.length - got.read} dropped (${((100 * (lines.length - got.read)) / lines.length).toFixed(1)}%), ${expected.filter((r) => r.match).length} failures`);
      assert.ok(expected.some((r) => r.match));
      assert.deepEqual(got.records, expected);
    }
  });
}

/** `regex`'s summary without the parts that differ by design (timing; date template hits count
 *  only the lines read) */
function summary(out: string): string {
  return out
    .replace(/\[processed in [\d.]+ sec\]/, '')
    .replace(/Date template hits:[\s\S]*?\n`-\n/, '');
}

test('`regex` prints the same summary and the same --json records with and without the native scanner, and lists every missed line when few', { skip: !installed && 'fail2ban is not installed' }, async () => {
  const bin = path.resolve(__dirname, '../../bin/f2b-fast');
  const run = (args: string[]) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'regex', '--now', String(now), '-c', '/etc/fail2ban', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`regex ${args.join(' ')}: exit ${code}`))));
  });
  for (const [kind, filter] of [['sshd', 'sshd'], ['nginx', 'nginx-botsearch']] as const) {
    const log = path.join(tmp, `${kind}.log`);
    if (!fs.existsSync(log)) generate(kind, 30000, 7, log);
    const fast = await run([log, filter]);
    const slow = await run(['--no-prefilter', log, filter]);
    assert.match(fast, /Lines: 30000 lines/);
    assert.equal(summary(fast), summary(slow));
    // --json: a record per line, also for the lines the scanner never handed over
    const json = await run(['--json', log, filter]);
    assert.equal(new Set(json.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { line: number }).line)).size, 30000);
    assert.equal(json, await run(['--json', '--no-prefilter', log, filter]));
  }
  // empty, comment and CRLF lines have no record; an unterminated last line has one
  const edges = path.join(tmp, 'edges.log');
  fs.writeFileSync(edges, 'Mar  8 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n\n# Failed password for root from 192.0.2.9 port 22 ssh2\r\n\r\nMar  8 10:00:01 host cron[2]: nothing\nMar  8 10:00:02 host sshd[3]: Failed password for root from 192.0.2.2 port 22 ssh2');
  const e = await run(['--json', edges, 'sshd']);
  assert.deepEqual(e.trim().split('\n').map((l) => [JSON.parse(l).line, JSON.parse(l).match]), [[1, true], [5, false], [6, true]]);
  assert.equal(e, await run(['--json', '--no-prefilter', edges, 'sshd']));
  // few missed lines: they are listed, including those the scanner never handed over
  const few = path.join(tmp, 'few.log');
  fs.writeFileSync(few, [
    'Mar  8 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2',
    'Mar  8 10:00:01 host cron[2]: nothing to see',
    'Mar  8 10:00:02 host sshd[3]: Failed password for root from 192.0.2.2 port 22 ssh2',
    'Mar  8 10:00:03 host sshd[4]: Server listening on 0.0.0.0 port 22.',
  ].join('\n') + '\n');
  const out = await run([few, 'sshd']);
  assert.match(out, /Lines: 4 lines, 0 ignored, 2 matched, 2 missed/);
  assert.match(out, /\|- Missed line\(s\): 2\n\|  Mar  8 10:00:01 host cron\[2\]: nothing to see\n\|  Mar  8 10:00:03 host sshd\[4\]: Server listening/);
  assert.equal(summary(out), summary(await run(['--no-prefilter', few, 'sshd'])));
});

test('`regex --progress` draws a progress bar on stderr and erases it; without it, nothing on a pipe', { skip: !installed && 'fail2ban is not installed' }, async () => {
  const log = path.join(tmp, 'progress.log');
  generate('sshd', 20000, 3, log);
  const bin = path.resolve(__dirname, '../../bin/f2b-fast');
  const { out, err } = await new Promise<{ out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'regex', '--progress', '--threads', '1', '--now', String(now), '-c', '/etc/fail2ban', log, 'sshd'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    let e = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (o += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (e += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve({ out: o, err: e }) : reject(new Error(`exit ${code}: ${e}`))));
  });
  assert.match(out, /Lines: 20000 lines/);
  // redrawn in place (\r), with a bar, a percentage and a rate, then erased
  assert.match(err, /\r\S+progress\.log \[[#.]{30}\] +\d+% \d+ MB\/s ETA \d+ s /);
  assert.ok(err.endsWith('\r\x1b[K'), JSON.stringify(err.slice(-20)));
  // never on a pipe unless asked
  const quiet = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'regex', '--threads', '1', '--now', String(now), '-c', '/etc/fail2ban', log, 'sshd'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let e = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (e += d));
    child.once('error', reject);
    child.once('exit', () => resolve(e));
  });
  assert.equal(quiet, '');
});
