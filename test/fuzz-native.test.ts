// Fuzzing the native addon's entry points (fast-check, fixed seed, bounded runs and time), each
// against a model written in JavaScript where one exists. native/test-sanitized.sh runs this file
// under ASan + UBSan too. Inputs are bytes: NUL, invalid UTF-8, CR, '#', empty lines, lines of
// more than a megabyte, no trailing newline, random chunk and read boundaries; patterns and
// specs are inputs too, hostile ones included.
//   - Prefilter: a compiled pattern set keeps exactly the lines some group's pattern matches on
//     the line alone (the `re2` package over the same bytes), with those groups as the mask;
//     with a literal gate in front, the same lines, and literal masks (the groups of the
//     literals in the line); a pattern RE2 refuses is an Error naming its group;
//   - sampleTables counts byte pairs and hashed triples as a JavaScript loop does;
//   - scanFile (1 to 4 threads: chunk boundaries anywhere) finds the candidates Prefilter.scan
//     finds in the whole file, with their line numbers, offsets and the skipped-line counts;
//   - the native matcher (matchFile + RegexTally, through `regex --json`) prints what the
//     JavaScript matcher prints, for random failregexes over random logs, 1 to 4 threads;
//     NativeFilter takes any spec (random PCRE2 sources, group names, templates) or throws;
//   - the tailer delivers exactly the complete lines of random appends (inotify and poll), and
//     through a prefilter exactly the candidates Prefilter.scan finds, with every line counted;
//     a line over tailLimits().maxLineBytes arrives truncated with an 'error' event;
//   - sendUnixDatagram returns 0 or an errno for any path and payload, and a live socket (bound by
//     python3) receives each payload sent to it whole.
// F2B_FAST_FUZZ_RUNS multiplies the runs (e.g. 10 for a longer session); the seed is printed.

import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import fc from 'fast-check';
import RE2 from 're2';
import { loadNative, type NativePrefilter } from '../src/native';
import { scanFile } from '../src/scan/filescan';
import { regexOutput } from '../src/cli/regex';
import { nativeMatcherMissing } from '../src/match/native';
import { Tailer, tailLimits } from '../src/tailer';
import type { TailBatch, TailEvent } from '../src/types';
import { tmpDir } from './helpers/tmp';

const SCALE = Math.max(1, Number(process.env.F2B_FAST_FUZZ_RUNS ?? '1') || 1);
const SEED = 20261204;
const native = loadNative();

function params(numRuns: number, t: { diagnostic(s: string): void }): fc.Parameters<unknown> {
  t.diagnostic(`seed ${SEED}, ${numRuns * SCALE} runs`);
  return { seed: SEED, numRuns: numRuns * SCALE, interruptAfterTimeLimit: 90_000 * SCALE, markInterruptAsFailure: false };
}

// ---- inputs

/** Words the patterns are made of, so that random text matches them now and then. */
const WORDS = ['ab', 'ba', 'Fail', 'fail', 'FAIL', 'xy', '12', '0', ' ', 'from', 'user', 'é', '\u00ff', 'Ã'];

/** Log bytes: random bytes, the patterns' words, line ends, NUL, CR, '#', invalid UTF-8. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) },
  { weight: 4, arbitrary: fc.constantFrom(...WORDS).map((w) => Buffer.from(w, 'latin1')) },
  { weight: 3, arbitrary: fc.constantFrom('\n', '\r\n', '\r', '\x00', '#', '\n\n', ' from 1.2.3.4\n').map((s) => Buffer.from(s, 'latin1')) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xc3]), Buffer.from([0xff, 0xfe]), Buffer.from([0xe2, 0x82]), Buffer.from('é\n')) },
);
const bytes = (maxPieces: number) => fc.array(piece, { maxLength: maxPieces }).map((ps) => Buffer.concat(ps));

/** A line of `n` bytes of text without '\n' (for the huge-line cases). */
const longLine = (n: number, seed: number) => Buffer.alloc(n, `long ${seed} Fail ab xy `);

/** RE2 syntax of a byte in a Latin-1 pattern: each byte of the text is one character. */
const byteRe = (b: number) => (/[A-Za-z0-9 ]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`);
const literalRe = (text: string) => [...Buffer.from(text, 'latin1')].map(byteRe).join('');

/**
 * Random RE2 patterns over one line: literals, classes (some of which match '\n' in a whole
 * buffer: [^a], \s, (?s).), repetition, alternation, case folding, boundaries and anchors.
 */
const pattern: fc.Arbitrary<string> = fc.letrec<{ p: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...WORDS).map(literalRe) },
    { weight: 3, arbitrary: fc.constantFrom('.', '[a-c]', '[^a]', '\\d', '\\s', '\\w', '\\S', '[\\x00-\\x1f]', '\\x00', '\\xff', '\\r', '[^\\n]', '[[:alpha:]]', '\\pL') },
    { weight: 1, arbitrary: fc.constantFrom('\\b', '\\B', '^', '$', '(?s:.)', '(?m:^)', '(?m:$)', '\\A', '\\z') },
    { weight: 2, arbitrary: fc.tuple(tie('p'), fc.constantFrom('(?:', '(', '(?i:')).map(([p, open]) => `${open}${p})`) },
  ),
  p: fc
    .array(
      fc.tuple(tie('atom'), fc.constantFrom('', '', '', '*', '+', '?', '{0,2}', '*?', '{2}')).map(([a, q]) => a + q),
      { minLength: 1, maxLength: 4 },
    )
    .chain((seq) => fc.oneof(fc.constant(seq.join('')), fc.tuple(fc.constant(seq.join('')), tie('p')).map(([a, b]) => `${a}|${b}`))),
})).p;

// ---- the model of a prefilter

interface Line {
  begin: number;
  end: number;
}

/** The lines of a buffer: [begin, end) without the '\n'; an unterminated last line counts. */
function linesOf(buf: Buffer): Line[] {
  const out: Line[] = [];
  for (let at = 0; at < buf.length; ) {
    const nl = buf.indexOf(0x0a, at);
    const end = nl < 0 ? buf.length : nl;
    out.push({ begin: at, end });
    at = end + 1;
  }
  return out;
}

/** Per group: whether its pattern matches a line ('' matches every line): RE2 (the `re2`
 *  package) over the line's bytes decoded as Latin-1, which is what the addon's Latin-1 mode
 *  sees. null when the package refuses a pattern the addon took (its memory budget is smaller). */
function lineModel(patterns: string[]): ((line: Buffer) => number) | null {
  let res: (RE2 | null)[];
  try {
    res = patterns.map((p) => (p === '' ? null : new RE2(p, '')));
  } catch {
    return null;
  }
  return (line) => {
    const text = line.toString('latin1');
    let mask = 0;
    res.forEach((re, g) => {
      if (re === null || re.test(text)) mask |= 1 << g;
    });
    return mask >>> 0;
  };
}

/** Prefilter.scan's output as [begin, end, mask] triples. */
function scanned(p: NativePrefilter, buf: Buffer, literalMasks = false): number[][] {
  const r = p.scan(buf, { literalMasks });
  assert.equal(r.begins.length, r.ends.length);
  assert.equal(r.masks.length, r.ends.length);
  return [...r.begins].map((b, i) => [b, r.ends[i], r.masks[i]]);
}

function expectedScan(buf: Buffer, model: (line: Buffer) => number): number[][] {
  return linesOf(buf)
    .map(({ begin, end }) => [begin, end, model(buf.subarray(begin, end))])
    .filter(([, , mask]) => mask !== 0);
}

const show = (buf: Buffer) => JSON.stringify(buf.toString('latin1')).slice(0, 300);

// ---- Prefilter

interface GateLit {
  text: string;
  ci: boolean;
  g: number;
}
const maskOf = (ls: GateLit[]) => ls.reduce((m, l) => (m | (1 << l.g)) >>> 0, 0);
const fold = (s: string, ci: boolean) => (ci ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s);
/** a line holds a literal: its text, ASCII letters in either case when ci */
const holds = (line: Buffer, l: GateLit) => fold(line.toString('latin1'), l.ci).includes(fold(l.text, l.ci));
/** wherever `big` occurs, `small` does (native/scan/LiteralGate.cc's rule) */
const contains = (big: GateLit, small: GateLit) => !(big.ci && !small.ci) && fold(big.text, small.ci).includes(fold(small.text, small.ci));

test('fuzz: Prefilter.scan keeps exactly the lines a group matches, with those groups (random patterns, random bytes)', (t) => {
  let compared = 0;
  let kept = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.array(fc.oneof({ weight: 9, arbitrary: pattern }, { weight: 1, arbitrary: fc.constant('') }), { minLength: 1, maxLength: 5 }), bytes(40), (patterns, buf) => {
      let p: NativePrefilter;
      try {
        p = new native.Prefilter(patterns);
      } catch (e) {
        // RE2 refused one (a repetition too large, say): the message names the group
        assert.match((e as Error).message, /^prefilter (group \d+|gate): /);
        refused++;
        return;
      }
      assert.equal(p.groups, patterns.length);
      assert.equal(p.passesAll, patterns.includes(''));
      const model = lineModel(patterns);
      const got = scanned(p, buf);
      // literal masks without a literal gate: coarser (every group), and sound: at least the
      // same lines
      const coarse = new Set(scanned(p, buf, true).map(([b]) => b));
      assert.ok(got.every(([b]) => coarse.has(b)), `${JSON.stringify(patterns)} on ${show(buf)}: a line lost with literal masks`);
      if (!model) return;
      compared++;
      kept += got.length;
      assert.deepEqual(got, expectedScan(buf, model), `${JSON.stringify(patterns)} on ${show(buf)}`);
    }),
    params(1000, t),
  );
  t.diagnostic(`${compared} compared with the model, ${kept} lines kept, ${refused} pattern sets refused`);
});

test('fuzz: Prefilter with a literal gate: the same lines as RE2 alone, literal masks = the groups of the literals in the line', (t) => {
  // Per group: literals (ASCII, 2+ bytes, some case-insensitive) and a pattern that holds one
  // of them in every match, as src/prefilter/native.ts promises the addon.
  const literal = fc.record({ text: fc.constantFrom('ab', 'ba', 'Fail', 'fail', 'xy', '12', 'from', 'user', ' f', 'ab ', 'rom', 'FAIL'), ci: fc.boolean() });
  const group = fc.tuple(fc.array(literal, { minLength: 1, maxLength: 3 }), fc.option(pattern, { nil: undefined }), fc.option(pattern, { nil: undefined }));
  let gated = 0;
  let lines = 0;
  fc.assert(
    fc.property(fc.array(group, { minLength: 1, maxLength: 6 }), bytes(60), fc.option(bytes(20), { nil: undefined }), (groups, buf, sample) => {
      const patterns = groups.map(([lits, before, after]) => {
        const alt = lits.map((l) => (l.ci ? `(?i:${literalRe(l.text)})` : literalRe(l.text))).join('|');
        return `${before ? `(?:${before})` : ''}(?:${alt})${after ? `(?:${after})` : ''}`;
      });
      const literals = groups.map(([lits]) => lits);
      let p: NativePrefilter;
      try {
        p = new native.Prefilter(patterns, literals, sample);
      } catch (e) {
        assert.match((e as Error).message, /^prefilter (group \d+|gate): /);
        return;
      }
      const plain = new native.Prefilter(patterns);
      const got = scanned(p, buf);
      assert.deepEqual(got, scanned(plain, buf), `${JSON.stringify(patterns)} on ${show(buf)}`);
      const model = lineModel(patterns);
      if (model) assert.deepEqual(got, expectedScan(buf, model));
      if (!p.literalGate) return;
      gated++;
      // literal masks: the lines holding some literal; each mask holds the groups of the
      // literals in the line, and at most those of the literals that contain one of them (a
      // literal holding another is dropped from the search and lends that one its groups)
      const all = literals.flatMap((ls, g) => ls.map((l) => ({ ...l, g })));
      const lits = scanned(p, buf, true);
      const want = expectedScan(buf, (line) => maskOf(all.filter((l) => holds(line, l))));
      lines += lits.length;
      const ctx = `literal masks: ${JSON.stringify(literals)} on ${show(buf)}`;
      assert.deepEqual(lits.map(([b, e]) => [b, e]), want.map(([b, e]) => [b, e]), ctx);
      lits.forEach(([b, e, mask], i) => {
        const found = all.filter((l) => holds(buf.subarray(b, e), l));
        const most = maskOf(all.filter((big) => found.some((small) => contains(big, small))));
        assert.ok((mask & want[i][2]) === want[i][2] && (mask & ~most) === 0, `${ctx}: mask ${mask} for line [${b}, ${e}), ${want[i][2]} to ${most}`);
      });
    }),
    params(500, t),
  );
  t.diagnostic(`${gated} runs with the literal gate on, ${lines} lines passed by literals`);
});

test('fuzz: hostile Prefilter arguments: an instance or a clean error, never a crash', (t) => {
  const hostile = fc.oneof(
    pattern,
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('(', ')', '[', '\\', 'a{1001}', '(a{999}){999}', '\\C', '\\Q', '\\Qab', '(?P<n>a)(?P<n>b)', '(?<n>a)', '\\p{Nope}', '[z-a]', 'x**', '(?i)', '\u0000', '\\x{110000}', '\uffff'),
  );
  const literal = fc.record({ text: fc.string({ unit: 'binary', maxLength: 6 }), ci: fc.boolean() });
  let built = 0;
  let errors = 0;
  fc.assert(
    fc.property(fc.array(hostile, { maxLength: 34 }), fc.option(fc.array(fc.array(literal, { maxLength: 4 }), { maxLength: 34 }), { nil: undefined }), bytes(30), (patterns, literals, buf) => {
      let p: NativePrefilter;
      try {
        p = new native.Prefilter(patterns, literals, buf);
      } catch (e) {
        assert.ok(e instanceof Error && e.message.length > 0, String(e));
        errors++;
        return;
      }
      built++;
      // whatever it keeps are whole lines of the buffer, in order, each with some group
      for (const literalMasks of [false, true]) {
        let last = -1;
        for (const [b, e, mask] of scanned(p, buf, literalMasks)) {
          assert.ok(b > last && b <= e && e <= buf.length, `line [${b}, ${e}) of ${buf.length}`);
          assert.ok(b === 0 || buf[b - 1] === 0x0a, `line start ${b}`);
          assert.ok(e === buf.length || buf[e] === 0x0a, `line end ${e}`);
          assert.ok(buf.subarray(b, e).indexOf(0x0a) < 0);
          assert.notEqual(mask, 0);
          last = e;
        }
      }
    }),
    params(2000, t),
  );
  t.diagnostic(`${built} built, ${errors} refused with an error`);
});

// ---- sampleTables

test('fuzz: sampleTables counts byte pairs and hashed triples as a JavaScript loop does', (t) => {
  const tripleHash = (a: number, b: number, c: number) => (Math.imul((a << 16) | (b << 8) | c, 0x9e3779b1) >>> 16) & 0xffff;
  let total = 0;
  fc.assert(
    fc.property(fc.oneof(bytes(50), fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a))), (buf) => {
      const got = native.sampleTables(buf);
      for (const lower of [0, 1]) {
        const pairs = new Uint32Array(1 << 16);
        const triples = new Uint32Array(1 << 16);
        const at = (i: number) => (lower && buf[i] >= 0x41 && buf[i] <= 0x5a ? buf[i] | 0x20 : buf[i]);
        for (let i = 0; i + 1 < buf.length; i++) {
          pairs[(at(i) << 8) | at(i + 1)]++;
          if (i + 2 < buf.length) triples[tripleHash(at(i), at(i + 1), at(i + 2))]++;
        }
        assert.deepEqual(got[lower * 2], pairs);
        assert.deepEqual(got[lower * 2 + 1], triples);
      }
      total += buf.length;
    }),
    params(300, t),
  );
  t.diagnostic(`${total} bytes counted`);
});

// ---- scanFile

test('fuzz: scanFile over random files, 1 to 4 threads, finds what Prefilter.scan finds in the whole file', async (t) => {
  const dir = tmpDir(t);
  let run = 0;
  let candidates = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof({ weight: 9, arbitrary: pattern }, { weight: 1, arbitrary: fc.constant('') }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.oneof({ weight: 20, arbitrary: bytes(30) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 << 20 }) }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
      async (patterns, parts, threads, skipComments) => {
        let p: NativePrefilter;
        try {
          p = new native.Prefilter(patterns);
        } catch {
          return;
        }
        // (a long line is drawn as its length, so that a counterexample prints short)
        const buf = Buffer.concat(parts.map((x) => (typeof x === 'number' ? longLine(x, x) : x)));
        const file = path.join(dir, `scan-${++run}.log`);
        fs.writeFileSync(file, buf);
        const got: number[][] = [];
        const skippedNos: number[] = [];
        const res = await scanFile(file, p, { threads, skipComments }, (b) => {
          b.ends.forEach((end, i) => {
            const begin = i === 0 ? 0 : b.ends[i - 1] + 1;
            const offset = b.offsets[i];
            // the candidate's bytes are the file's
            assert.ok(b.buf.subarray(begin, end).equals(buf.subarray(offset, offset + end - begin)), `candidate at ${offset}`);
            got.push([b.lineNos[i], offset, offset + end - begin, b.masks[i]]);
          });
          skippedNos.push(...b.skippedLineNos);
        });
        fs.rmSync(file);
        const lines = linesOf(buf);
        const isSkipped = (l: Line) => l.begin === l.end || buf[l.begin] === 0x23 || (l.end - l.begin === 1 && buf[l.begin] === 0x0d);
        const masks = new Map(scanned(p, buf).map(([b, , m]) => [b, m]));
        const want = lines
          .map((l, i) => [i + 1, l.begin, l.end, masks.get(l.begin) ?? 0, isSkipped(l) ? 1 : 0])
          .filter(([, , , m, skip]) => m !== 0 && !(skipComments && skip))
          .map(([no, b, e, m]) => [no, b, e, m]);
        const ctx = `${JSON.stringify(patterns)}, ${threads} thread(s), skipComments ${skipComments}, ${buf.length} bytes`;
        assert.equal(res.size, buf.length);
        assert.equal(res.lines, lines.length, ctx);
        assert.equal(res.skipped, lines.filter(isSkipped).length, ctx);
        assert.deepEqual(got, want, ctx);
        assert.deepEqual(skippedNos, skipComments ? lines.flatMap((l, i) => (isSkipped(l) ? [i + 1] : [])) : [], ctx);
        candidates += got.length;
      },
    ),
    params(150, t),
  );
  t.diagnostic(`${run} files scanned, ${candidates} candidates`);
});

// ---- the native matcher

/** A log line: a date in one of the common forms (or none), junk, a body a failregex may
 *  match, junk, and a line end ('' only matters for the last line). */
const logLine = fc
  .tuple(
    fc.constantFrom('', 'Mar  1 10:00:00 host sshd[1]: ', '2026-02-28 23:59:59 ', '[01/Mar/2026:00:00:01 +0000] ', '1772323200 '),
    bytes(8),
    fc.constantFrom('user bob from 192.0.2.1', 'fail é from 2001:db8::1', 'user "x" from 198.51.100.7 x', 'ab from 10.0.0.1', 'nothing'),
    bytes(4),
    fc.constantFrom('\n', '\r\n', ''),
  )
  .map(([date, a, body, b, eol]) => Buffer.concat([Buffer.from(date), a, Buffer.from(body), b, Buffer.from(eol)]));

test('fuzz: the native matcher prints what the JavaScript matcher prints (random failregexes, random logs, 1 to 4 threads)', { skip: nativeMatcherMissing() ?? false }, async (t) => {
  const dir = tmpDir(t);
  // Python regex pieces around <HOST>: what a failregex is made of, and what breaks engines
  const py = fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('user ', '(?:a|b)+', '.*', '.+?', '\\s', '\\w+', 'é', '(?i:fail)', '[^ ]*', '\\d{1,3}', '(?=x)', '(?<=user )', '\\b', ' from ', '(?:x{2,})*', '\\S*', '"?', '\\r?') },
        // rarer: what a filter uses once (a second copy is an error, refused alike)
        { weight: 1, arbitrary: fc.constantFrom('(?P<user>\\S+) ', '(?P<q>")?', '(?(q)"|)', '$', '^', '<F-USER>\\S+</F-USER>', '\\\\', '(?P=user)') },
      ),
      { maxLength: 6 },
    )
    .map((parts) => parts.join(''));
  const failregex = fc.tuple(py, py).map(([a, b]) => `${a}<HOST>${b}`);
  let run = 0;
  let records = 0;
  let refused = 0;
  const reasons = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.array(failregex, { minLength: 1, maxLength: 3 }), fc.array(logLine, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), async (regexes, lines, threads) => {
      const file = path.join(dir, `match-${++run}.log`);
      fs.writeFileSync(file, Buffer.concat(lines));
      const filter = path.join(dir, `filter-${run}.conf`);
      fs.writeFileSync(filter, `[Definition]\nfailregex = ${regexes.map((r) => r.replace(/%/g, '%%')).join('\n            ')}\n`);
      const out = async (matcher: string) => {
        try {
          return await regexOutput(file, filter, undefined, { now: '2026-03-01T00:00:00Z', timezone: 'UTC', json: true, matcher, threads: String(threads) });
        } catch (e) {
          return `error: ${(e as Error).message}`;
        }
      };
      const js = await out('js');
      const nat = await out('native');
      fs.rmSync(file);
      fs.rmSync(filter);
      if (js.startsWith('error: ')) {
        refused++;
        const why = js.replace(/#\d+|'[^']*'|"[^"]*"|at position \d+/g, '…').slice(0, 80);
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
      }
      else records += js.split('\n').filter((l) => l.includes('"match":true')).length;
      assert.equal(nat, js, `${JSON.stringify(regexes)}, ${threads} thread(s)`);
    }),
    params(100, t),
  );
  t.diagnostic(`${run} logs matched, ${records} failures found alike, ${refused} filters refused alike`);
  t.diagnostic(`most common refusals: ${JSON.stringify([...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3))}`);
});

test('fuzz: NativeFilter takes any spec or throws, and matchFile + RegexTally never crash on what it took', { skip: nativeMatcherMissing() ?? false }, async (t) => {
  const dir = tmpDir(t);
  // mostly well-formed regexes (names for every group), some hostile ones
  const wellFormed: Array<[string, Array<string | null>]> = [
    ['(?<host>\\S+)', [null, 'host']],
    ['(\\d+)-(\\d+)', [null, null, null]],
    ['a(?<x>b)?c', [null, 'x']],
    ['(?<user>.*) from (?<ip4>[\\d.]+)', [null, 'user', 'ip4']],
    ['.*', [null]],
    ['', [null]],
    ['(?(1)a|b)(x)', [null, null]],
    ['(?<fid>\\d+) ?(?<mlfforget>x)?(?<mlfid>y)?', [null, 'fid', 'mlfforget', 'mlfid']],
    ['(?<alt_user>\\w+)? (?<tuple_x>\\w)?(?<user>z)?', [null, 'alt_user', 'tuple_x', 'user']],
    ['(*LIMIT_MATCH=10)(a+)+b', [null, null]],
    ['(?<=a+)(b)', [null, null]],
    ['(?<host>[^ ]+)(?<host2>\\K.)', [null, 'host', 'host2']],
  ];
  const hostile = fc.oneof(
    fc.constantFrom('(', '(?<a>x)(?<a>y)', '\\', '(a)\\2', '(*ACCEPT)', '(?C1)', '\\x{110000}'),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );
  const names = fc.array(fc.option(fc.constantFrom('host', 'ip4', 'user', 'fid', 'x', '', 'alt_user', 'tuple_x', 'mlfid', 'mlfforget'), { nil: null }), { maxLength: 5 });
  const sourced = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...wellFormed) }, { weight: 1, arbitrary: fc.tuple(hostile, names) });
  const regex = fc
    .tuple(sourced, fc.boolean(), fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 4 }))
    .map(([[source, ns], ascii, rest]) => ({ source, names: ns, ...(ascii ? { ascii: source } : {}), ...(rest === undefined ? {} : { rest }) }));
  const template = fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom('(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d)', '(\\w{3} +\\d+ \\d\\d:\\d\\d:\\d\\d)', '\\[(\\d\\d/\\w{3}/\\d{4}:[\\d:]+ [+-]\\d{4})\\]', '^(\\d{10})', '()').map((src) => ({ source: src, names: [null, null] })) },
    { weight: 1, arbitrary: fc.tuple(hostile, names).map(([src, ns]) => ({ source: src, names: ns })) },
  );
  const spec = fc.record({
    templates: fc.array(fc.tuple(template, fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 255 }), fc.double()).map(([tp, name, flags, weight]) => ({ ...tp, name, flags, weight })), { maxLength: 4 }),
    prefregex: fc.option(regex, { nil: null }),
    failregex: fc.array(regex, { maxLength: 3 }),
    ignoreregex: fc.array(regex, { maxLength: 2 }),
  });
  let built = 0;
  let refused = 0;
  let fed = 0;
  await fc.assert(
    fc.asyncProperty(spec, fc.array(fc.oneof(logLine, bytes(6)), { maxLength: 30 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), async (s, lines, threads, skipComments, checkAll, keepText) => {
      const buf = Buffer.concat(lines);
      let filter;
      try {
        filter = new native.NativeFilter!(s);
      } catch (e) {
        assert.ok(e instanceof Error && e.message.length > 0, String(e));
        refused++;
        return;
      }
      built++;
      const file = path.join(dir, `spec-${built}.log`);
      fs.writeFileSync(file, buf);
      const tally = new native.RegexTally!(filter, { failures: true, listAllMatched: true, listMax: 5 });
      const batches: Array<{ chunk: number; records: unknown; done: boolean; lines?: number }> = [];
      await native.matchFile!(file, filter, null, { threads, now: 1772323200, skipComments, checkAll, keepText }, (b) => void batches.push(b));
      // fed in file order, each batch once
      let base = 0;
      for (let c = 0; batches.some((b) => b.chunk === c); c++) {
        for (const b of batches.filter((x) => x.chunk === c)) {
          for (const f of tally.feed(b.records as never, base)) assert.ok(f.line >= 1 && f.regex >= 0, JSON.stringify(f));
          if (b.done) base += b.lines ?? 0;
          fed++;
        }
      }
      assert.throws(() => tally.feed(batches[0].records as never, 0), /these records were fed already/);
      const summary = tally.summary();
      assert.ok(summary.matched >= 0 && summary.matched <= linesOf(buf).length);
      fs.rmSync(file);
    }),
    params(400, t),
  );
  t.diagnostic(`${built} specs built, ${refused} refused, ${fed} batches fed`);
});

// ---- the tailer

interface TailRun {
  got: Buffer[];
  candidates: number[][];
  lines: number;
  end: number;
  events: TailEvent[];
  problem: string;
}

test('fuzz: the native tailer delivers exactly the complete lines of random appends, through a prefilter exactly its candidates', { timeout: 600_000 }, async (t) => {
  const dir = tmpDir(t);
  const { maxLineBytes } = tailLimits();
  // a long line is either well under the cap or past it by more than one read (256 KiB): in
  // between, whether it is cut depends on where a read ends
  // (a long line is drawn as its length, so that a counterexample prints short)
  const long = fc.oneof(fc.integer({ min: 1000, max: maxLineBytes - 300_000 }), fc.integer({ min: maxLineBytes + 300_000, max: maxLineBytes + 600_000 }));
  const chunk = fc.oneof({ weight: 30, arbitrary: bytes(8) }, { weight: 1, arbitrary: long });
  const bytesOf = (c: Buffer | number) => (typeof c === 'number' ? Buffer.concat([longLine(c, c), Buffer.from('\n')]) : c);
  let run = 0;
  let bytesIn = 0;
  let truncated = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<'inotify' | 'poll'>('inotify', 'poll'),
      fc.option(fc.array(pattern, { minLength: 1, maxLength: 3 }), { nil: undefined }),
      fc.array(fc.array(chunk, { maxLength: 6 }), { minLength: 1, maxLength: 6 }),
      async (backend, patterns, appends) => {
        let prefilter: NativePrefilter | undefined;
        if (patterns) {
          try {
            prefilter = new native.Prefilter(patterns);
          } catch {
            prefilter = undefined;
          }
        }
        const file = path.join(dir, `tail-${++run}.log`);
        fs.writeFileSync(file, '');
        const r: TailRun = { got: [], candidates: [], lines: 0, end: 0, events: [], problem: '' };
        const tailer = new Tailer({
          backend,
          pollIntervalMs: 20,
          onBatch: (b: TailBatch) => {
            let newlines = 0;
            for (const x of b.buf) if (x === 0x0a) newlines++;
            if (newlines !== b.ends.length) r.problem = `${newlines} newlines for ${b.ends.length} ends`;
            if (b.lines < b.ends.length) r.problem = `lines ${b.lines} < ${b.ends.length} delivered`;
            r.got.push(Buffer.from(b.buf));
            b.ends.forEach((end, i) => r.candidates.push([i === 0 ? b.base : -1, end - (i === 0 ? 0 : b.ends[i - 1] + 1), b.masks?.[i] ?? 0]));
            r.lines += b.lines;
            r.end = b.end;
          },
          onEvent: (e) => void r.events.push(e),
        });
        try {
          tailer.add(file, 'head', prefilter);
          for (const group of appends) {
            const data = Buffer.concat(group.map(bytesOf));
            fs.appendFileSync(file, data);
            bytesIn += data.length;
          }
          const all = fs.readFileSync(file);
          const complete = all.subarray(0, all.lastIndexOf(0x0a) + 1);
          const lines = linesOf(complete);
          // what arrives: each complete line, cut to maxLineBytes - 1 bytes and a '\n' if longer
          const cut = lines.map(({ begin, end }) => (end - begin >= maxLineBytes ? Buffer.concat([complete.subarray(begin, begin + maxLineBytes - 1), Buffer.from('\n')]) : complete.subarray(begin, end + 1)));
          const long = lines.filter(({ begin, end }) => end - begin >= maxLineBytes).length;
          truncated += long;
          const deadline = Date.now() + 20_000;
          while ((r.end < complete.length || r.events.filter((e) => e.kind === 'error').length < long) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
          const ctx = `${backend}, ${patterns ? JSON.stringify(patterns) : 'no prefilter'}, ${complete.length} bytes in complete lines`;
          assert.equal(r.problem, '', ctx);
          assert.equal(r.end, complete.length, ctx);
          assert.equal(r.lines, lines.length, ctx);
          assert.equal(r.events.filter((e) => e.kind === 'error').length, long, ctx);
          if (!prefilter) {
            assert.ok(Buffer.concat(r.got).equals(Buffer.concat(cut)), `${ctx}: delivered ${Buffer.concat(r.got).length} bytes`);
            return;
          }
          const model = lineModel(patterns!);
          if (!model) return;
          // the candidates: the (cut) lines some group matches, with their masks
          const want = cut.map((l, i) => [lines[i].begin, l.length - 1, model(l.subarray(0, l.length - 1))]).filter(([, , m]) => m !== 0);
          assert.deepEqual(
            r.candidates.map(([, len, m]) => [len, m]),
            want.map(([, len, m]) => [len, m]),
            ctx,
          );
          assert.ok(Buffer.concat(r.got).equals(Buffer.concat(cut.filter((_, i) => want.some(([b]) => b === lines[i].begin)))), ctx);
        } finally {
          await tailer.close();
          fs.rmSync(file);
        }
      },
    ),
    params(80, t),
  );
  t.diagnostic(`${run} files, ${bytesIn} bytes appended, ${truncated} lines over the cap`);
});

// ---- sendUnixDatagram

/** A unix datagram socket bound at `sock` by python3 (Node has none), printing the length and
 *  SHA-256 of each datagram it receives. */
function datagramReceiver(t: { after(fn: () => void): void }, sock: string): { got: string[]; ready: Promise<void> } {
  const script = [
    'import hashlib, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)',
    's.bind(sys.argv[1])',
    'print("ready", flush=True)',
    'while True:',
    '    d = s.recv(1 << 20)',
    '    print(len(d), hashlib.sha256(d).hexdigest(), flush=True)',
  ].join('\n');
  const child = spawn('python3', ['-c', script, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill());
  const got: string[] = [];
  let resolveReady: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => (line === 'ready' ? resolveReady() : got.push(line)));
  return { got, ready };
}

const noPython = spawnSync('python3', ['-c', '']).status === 0 ? false : 'python3 (the datagram receiver) is not installed';

test('fuzz: sendUnixDatagram returns 0 or an errno for any path and payload; a live socket gets every payload sent, byte for byte', { skip: noPython }, async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'live.sock');
  const receiver = datagramReceiver(t, sock);
  await receiver.ready;
  const counts = new Map<number, number>();
  const sent: string[] = [];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constant(sock),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((s) => !s.includes('\0')),
        fc.integer({ min: 90, max: 300 }).map((n) => path.join(dir, 'x'.repeat(n))),
        fc.constantFrom(dir, '/dev/null', path.join(dir, 'missing.sock'), '/', '@abstract'),
      ),
      fc.oneof(fc.uint8Array({ maxLength: 70_000 }), bytes(20)),
      (p, data) => {
        let status: number;
        try {
          status = native.sendUnixDatagram(p, Buffer.from(data));
        } catch (e) {
          // arguments JavaScript cannot pass (checked in the addon)
          assert.ok(e instanceof TypeError, String(e));
          return;
        }
        assert.ok(Number.isInteger(status) && status >= 0 && status < 4096, `status ${status}`);
        counts.set(status, (counts.get(status) ?? 0) + 1);
        if (p === sock) assert.ok(status === 0 || status === 11, `status ${status} for the live socket`); // 11: EAGAIN, its queue full
        if (p === sock && status === 0) sent.push(`${data.length} ${createHash('sha256').update(data).digest('hex')}`);
      },
    ),
    params(500, t),
  );
  const deadline = Date.now() + 10_000;
  while (receiver.got.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(receiver.got, sent);
  t.diagnostic(`results by errno: ${JSON.stringify(Object.fromEntries(counts))}; ${sent.length} datagrams received whole`);
});
