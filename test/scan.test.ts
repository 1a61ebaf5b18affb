// The native scanner (native/scan): the RE2 prefilter on buffers, and whole-file scans in
// parallel chunks. This suite also runs against the ASan/UBSan build (native/test-sanitized.sh),
// so it sticks to the addon's own behaviour; soundness against the real filters is in
// scan-sound.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadNative } from '../src/native';
import { scanFile, type CandidateBatch } from '../src/scan/filescan';
import { regexPattern, sequencePattern, orderedAtoms } from '../src/prefilter/native';
import { tmpDir } from './helpers/tmp';
import { mulberry32 } from '../bench/generate';

const native = loadNative();
const P = (patterns: string[]) => new native.Prefilter(patterns);

/** candidate lines of a buffer as [text, mask] */
function candidates(patterns: string[], text: string | Buffer): [string, number][] {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const r = P(patterns).scan(buf);
  return [...r.begins].map((b, i) => [buf.toString('latin1', b, r.ends[i]), r.masks[i]]);
}

/** every line of a scanFile run, as [lineNo, text, mask] */
async function scanAll(file: string, patterns: string[], threads: number, skipComments = false) {
  const got: [number, string, number][] = [];
  const res = await scanFile(file, P(patterns), { threads, skipComments }, (b: CandidateBatch) => {
    let start = 0;
    b.ends.forEach((end, i) => {
      got.push([b.lineNos[i], b.buf.toString('latin1', start, end), b.masks[i]]);
      // the offset points at the line in the file
      const fromFile = Buffer.alloc(end - start);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, fromFile, 0, fromFile.length, b.offsets[i]);
      fs.closeSync(fd);
      assert.equal(fromFile.toString('latin1'), b.buf.toString('latin1', start, end));
      start = end + 1;
    });
  });
  return { got, res };
}

test('prefilter: groups, masks, and lines with nothing to match are not reported', () => {
  const text = 'a Failed password for x\nb nothing here\nc Invalid user y from z\nd Failed none and Invalid user\n';
  assert.deepEqual(candidates(['Failed .* for', 'Invalid user.*from'], text), [
    ['a Failed password for x', 1],
    ['c Invalid user y from z', 2],
  ]);
  // one group: its gate hit is the answer
  assert.deepEqual(candidates(['Failed'], text), [['a Failed password for x', 1], ['d Failed none and Invalid user', 1]]);
  // an empty pattern takes every line for its group
  const all = candidates(['', 'Invalid'], text);
  assert.equal(all.length, 4);
  assert.deepEqual(all.map(([, m]) => m), [1, 1, 3, 3]);
  assert.equal(P(['', 'x']).passesAll, true);
  assert.equal(P(['x']).passesAll, false);
  assert.equal(P(['a', 'b', 'c']).groups, 3);
});

test('prefilter: an unterminated last line, empty lines, CRLF, and a match at either end of the buffer', () => {
  assert.deepEqual(candidates(['end'], 'x\n\nthe end'), [['the end', 1]]);
  assert.deepEqual(candidates(['start'], 'start\r\nx\r\n'), [['start\r', 1]]);
  // an empty line is a candidate only for a group that takes every line
  assert.deepEqual(candidates(['', 'x'], '\n'), [['', 1]]);
  assert.deepEqual(candidates(['q'], ''), []);
  // `.` never crosses a line: a pattern cannot join two lines
  assert.deepEqual(candidates(['a.*b'], 'a\nb\n'), []);
});

test('prefilter: bytes are data: NUL, invalid UTF-8 and long lines', () => {
  const bad = Buffer.concat([Buffer.from('x\0y Failed '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' for 1.2.3.4\n')]);
  const got = candidates(['Failed .* for'], bad);
  assert.equal(got.length, 1);
  assert.equal(got[0][0], bad.subarray(0, bad.length - 1).toString('latin1'));
  // Latin-1 mode: a case-insensitive s also takes the UTF-8 of the long s (Python folds it)
  const pat = sequencePattern(orderedAtoms('(?i)user <HOST>', 'raw'));
  const whole = pat.split('|')[0];
  assert.equal(whole, '[uU](?:[sS]');
  const plain = '[uU](?:[sS]|\\xc5\\xbf)[eE][rR] ';
  assert.ok(pat.startsWith(plain), pat);
  assert.equal(candidates([plain], Buffer.from('u\u017fer x\n', 'utf8')).length, 1);
  assert.equal(candidates([plain], Buffer.from('USER x\n', 'utf8')).length, 1);
  assert.equal(candidates([plain], Buffer.from('usar x\n', 'utf8')).length, 0);
  assert.match(sequencePattern(orderedAtoms('(?i)kill <HOST>', 'raw')), /^\(\?:\[kK\]\|\\xe2\\x84\\xaa\)\(\?:\[iI\]\|\\xc4\\xb0\|\\xc4\\xb1\)/);
  const long = Buffer.alloc(10 * 1024 * 1024 + 3, 'a');
  long.write('needle', 5 * 1024 * 1024);
  long[long.length - 1] = 10;
  const hit = candidates(['needle'], long);
  assert.equal(hit.length, 1);
  assert.equal(hit[0][0].length, long.length - 1);
});

test('prefilter: bad patterns and too many groups are errors, not crashes', () => {
  assert.throws(() => P(['(unclosed']), /prefilter group 0: missing \)/);
  assert.throws(() => P([]), /at least one group/);
  assert.throws(() => P(new Array(33).fill('x')), /at most 32 groups/);
  assert.throws(() => new (native.Prefilter as unknown as new (x: unknown) => unknown)('x'), /array of strings/);
  assert.throws(() => P([1 as unknown as string]), /array of strings/);
});

test('regexPattern: ordered literals, and each literal may be split by the date cut', () => {
  const pat = regexPattern('^Failed (?:password|publickey) for <F-USER>\\S+</F-USER> from <HOST>', 'raw');
  const ok = (line: string) => candidates([pat], line + '\n').length === 1;
  assert.ok(ok('Failed password for root from 1.2.3.4'));
  assert.ok(ok('Jan  1 00:00:00 h sshd[1]: Failed publickey for x from 1.2.3.4 port 22'));
  // order matters: "from" before "for" cannot match
  assert.ok(!ok('Accepted password from 1.2.3.4 for root, then Failed'));
  // the date cut out of the middle of a literal: "Failed pass" + DATE + "word for"
  assert.ok(ok('Failed pass2025-01-01 00:00:00word for root from 1.2.3.4'));
  assert.ok(ok('Fai2025-01-01 00:00:00led password for root from 1.2.3.4'));
  // no literal at all: the regex gives no pattern
  assert.equal(regexPattern('^<HOST>$', 'raw'), '');
});

test('scanFile: chunks in any number give the same lines, line numbers and counts, in order', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'mixed.log');
  const rng = { next: mulberry32(11) };
  const lines: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const r = rng.next();
    if (r < 0.02) lines.push('');
    else if (r < 0.03) lines.push('# comment Failed');
    else if (r < 0.2) lines.push(`Mar  1 00:00:${String(i % 60).padStart(2, '0')} h sshd[${i}]: Failed password for u${i} from 10.0.${i % 256}.1`);
    else if (r < 0.25) lines.push(`line ${i} ${'x'.repeat(Math.floor(rng.next() * 3000))} Invalid user`);
    else lines.push(`Mar  1 00:00:00 h cron[${i}]: nothing ${i}`);
  }
  fs.writeFileSync(file, lines.join('\n')); // no '\n' after the last line
  const expect: [number, string, number][] = [];
  lines.forEach((l, i) => {
    const m = (/Failed .* for/.test(l) ? 1 : 0) | (/Invalid user/.test(l) ? 2 : 0);
    if (m) expect.push([i + 1, l, m]);
  });
  const skipped = lines.filter((l) => l === '' || l.startsWith('#')).length;
  for (const threads of [1, 2, 3, 7]) {
    const { got, res } = await scanAll(file, ['Failed .* for', 'Invalid user'], threads);
    assert.deepEqual(got, expect, `threads=${threads}`);
    assert.equal(res.lines, lines.length);
    assert.equal(res.skipped, skipped);
    assert.equal(res.size, fs.statSync(file).size);
    const s = await scanAll(file, ['Failed .* for', 'Invalid user'], threads, true);
    assert.deepEqual(s.got, expect.filter(([, l]) => !l.startsWith('#')), `skipComments, threads=${threads}`);
  }
});

test('scanFile: empty files, a lone unterminated line, CRLF blank lines, and errors', async (t) => {
  const dir = tmpDir(t);
  const f = (name: string, body: string | Buffer) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, body);
    return p;
  };
  let r = await scanAll(f('empty', ''), ['x'], 2);
  assert.deepEqual(r.got, []);
  assert.deepEqual(r.res, { size: 0, lines: 0, skipped: 0 });
  r = await scanAll(f('one', 'just x'), ['x'], 4);
  assert.deepEqual(r.got, [[1, 'just x', 1]]);
  assert.equal(r.res.lines, 1);
  r = await scanAll(f('crlf', 'a x\r\n\r\n#c\r\nb\r\n'), ['x'], 1, true);
  assert.deepEqual(r.got, [[1, 'a x\r', 1]]);
  assert.deepEqual([r.res.lines, r.res.skipped], [4, 2]);
  await assert.rejects(scanFile(path.join(dir, 'missing'), P(['x']), {}, () => {}), /open .*missing: No such file or directory/);
  await assert.rejects(scanFile(dir, P(['x']), {}, () => {}), /read .*: Is a directory/);
  // a throwing consumer does not crash the scan threads: the scan rejects with its error
  const big = f('big', 'x\n'.repeat(100000));
  await assert.rejects(scanFile(big, P(['x']), { threads: 2 }, () => { throw new Error('consumer failed'); }), /consumer failed/);
});

test('scanFile: progress reaches the size', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'p.log');
  fs.writeFileSync(file, 'abc def\n'.repeat(5_000_000)); // 40 MB: several progress batches
  let last = 0;
  let calls = 0;
  const res = await scanFile(file, P(['zzz']), { threads: 2, onProgress: (done, size) => { calls++; last = done; assert.ok(done <= size); } }, () => assert.fail('no candidates'));
  assert.equal(res.lines, 5_000_000);
  assert.ok(calls >= 2);
  assert.equal(last, res.size);
});

test('literal gate: the same candidates as RE2 alone, at buffer edges, any case, many literals, and after it gives way to RE2', () => {
  const rng = mulberry32(5);
  const words = ['Failed', 'password', 'Invalid', 'user', 'from', 'port', 'xy', 'ab', 'Zq', 'login', 'admin', 'cgi-bin', 'pma', 'mail', 'horde', 'roundcube', 'webmail', 'signup'];
  const pick = () => words[Math.floor(rng() * words.length)];
  for (let round = 0; round < 40; round++) {
    // each group: a pattern "A.*B" and the literals that gate it (halves of A: sound)
    const groups = Array.from({ length: 1 + Math.floor(rng() * 5) }, () => [pick(), pick()] as const);
    const ci = rng() < 0.3;
    const patterns = groups.map(([a, b]) => `${ci ? '(?i)' : ''}${a}.*${b}`);
    const literals = groups.map(([a]) => (a.length >= 4 ? [{ text: a.slice(0, a.length >> 1), ci }, { text: a.slice(a.length >> 1), ci }] : [{ text: a, ci }]));
    const lines: string[] = [];
    const n = 50 + Math.floor(rng() * 3000);
    for (let i = 0; i < n; i++) {
      const parts = Array.from({ length: Math.floor(rng() * 6) }, () => (rng() < 0.2 ? pick().toUpperCase() : pick()));
      lines.push(parts.join(rng() < 0.5 ? ' ' : ''));
    }
    // no trailing newline half the time: a literal may sit in the last bytes
    const text = Buffer.from(lines.join('\n') + (rng() < 0.5 ? '\n' : ''));
    const gated = new native.Prefilter(patterns, literals);
    const plain = new native.Prefilter(patterns);
    assert.equal(plain.literalGate, false);
    if (process.arch === 'x64') assert.equal(gated.literalGate, true);
    assert.deepEqual(gated.scan(text), plain.scan(text), `round ${round}: ${JSON.stringify(patterns)}`);
  }
  // more literals than buckets, and one that only fits at the very end of the buffer
  const many = Array.from({ length: 40 }, (_, i) => `k${i}x`);
  const p = new native.Prefilter(['k\\d+x'], [many.map((text) => ({ text, ci: false }))]);
  assert.deepEqual(candidates(['k\\d+x'], 'aaa\nbbb k39x\nccc\nk7x'), [['bbb k39x', 1], ['k7x', 1]]);
  const buf = Buffer.from('aaa\nbbb k39x\nccc\nk7x');
  assert.deepEqual([...p.scan(buf).begins], [4, 17]);
  // most lines hold a literal: it gives way to RE2 and finds the same lines
  const dense = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? `from x port ${i}` : `from y ${i}`)).join('\n'));
  const d1 = new native.Prefilter(['from x port'], [[{ text: 'from', ci: false }]]);
  assert.deepEqual(d1.scan(dense), new native.Prefilter(['from x port']).scan(dense));
  assert.equal(d1.scan(dense).begins.length, Math.ceil(5000 / 97));
});

test('scanFile: many threads and a slow consumer never stall (each chunk thread has its own queue)', { timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'dense.log');
  fs.writeFileSync(file, 'x\n'.repeat(1_000_000)); // every line a candidate: 100 full batches
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let round = 0; round < 3; round++) {
    let lines = 0;
    const res = await scanFile(file, P(['x']), { threads: 8 }, (b) => {
      lines += b.ends.length;
      Atomics.wait(pause, 0, 0, 3); // a consumer slower than the scan threads: their queues fill up
    });
    assert.equal(res.lines, 1_000_000);
    assert.equal(lines, 1_000_000);
  }
});
