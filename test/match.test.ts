// The native matcher (native/match, PCRE2) finds exactly what the JavaScript matcher finds:
// `regex` with --matcher native and --matcher js must print the same records and the same
// counters, on crafted lines that probe where Python's `re`, PCRE2 and V8 differ (Unicode
// classes, case folding, `$`, conditionals, byte junk), on random bytes, on generated logs and,
// in test/corpus.test.ts, on fail2ban's whole sample corpus (its `regex --json` replay runs
// natively). Also: the match limit gives up a line with a warning instead of hanging.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { regexOutput, type RegexOptions } from '../src/cli/regex';
import { nativeMatcherMissing } from '../src/match/native';
import { generate, mulberry32 } from '../bench/generate';
import { STOCK_FILTER_DIR } from './helpers/corpus';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const NOW = '2026-03-01T00:00:00Z';
const missing = nativeMatcherMissing();

/** Lines no filter matches. A summary with fewer than 20 missed lines makes `regex` read the
 *  file again in JS to list them: test files get these, so that the summary compared is the
 *  native matcher's. */
const PADDING = Array.from({ length: 25 }, (_, k) => `f2b-fast test padding ${k}`);

/** `regex` output with each engine; the summary's timing line (and, where the engines read
 *  different lines by design, the date template hits) left out. */
async function both(log: string, filter: string, opts: RegexOptions = {}) {
  const strip = (s: string) => s.replace(/\[processed in [\d.]+ sec\]\n/, '');
  const run = async (matcher: string) => strip(await regexOutput(log, filter, undefined, { now: NOW, timezone: 'UTC', ...opts, matcher }));
  return { native: await run('native'), js: await run('js') };
}

const dateHits = (s: string) => s.replace(/(Date template hits:\n\|- .*\n)(\|  .*\n)*/, '$1…\n');

test('the native matcher is built (PCRE2 development files were found at build time)', () => {
  assert.equal(missing, null, `${missing}: the tests below need it (apt-get install libpcre2-dev && npm rebuild)`);
});

test('crafted lines: Python semantics where the engines differ', { skip: missing ?? false }, async (t) => {
  const dir = tmpDir(t);
  const cases: Array<{ regex: string; lines: string[] }> = [
    // Python's \s has \x1c-\x1f and not U+180E; PCRE2's UCP \s the other way round
    { regex: '^user (?P<user>\\S+)\\s+from <HOST>$', lines: ['user a\x1cfrom 192.0.2.1', 'user b\u180efrom 192.0.2.2', 'user c\u00a0from 192.0.2.3', 'user d\u2003from 192.0.2.4', 'user e from 192.0.2.5'] },
    // Unicode \w, \d and \b
    { regex: '^(?P<user>\\w+)\\b x\\d+ from <HOST>', lines: ['José x12 from 192.0.2.6', 'naïve x٣ from 192.0.2.7', 'Zoë-x1 from 192.0.2.8', 'ab x1 from 2001:db8::9'] },
    // Python's IGNORECASE: K (Kelvin), ſ (long s), İ and ı are partners of k, s and i
    { regex: '(?i)^kiss (?P<user>\\S+) from <HOST>', lines: ['KISS a from 192.0.2.10', '\u212aiss b from 192.0.2.11', 'ki\u017fs c from 192.0.2.12', 'k\u0131ss d from 192.0.2.13', 'k\u0130ss e from 192.0.2.14', 'kass f from 192.0.2.15'] },
    // conditionals and a backreference
    { regex: '^(?P<q>")?(?P<user>[^" ]+)(?(q)"|) from <HOST> as (?P=user)$', lines: ['"bob" from 192.0.2.16 as bob', 'bob from 192.0.2.17 as bob', '"bob from 192.0.2.18 as bob', 'bob from 192.0.2.19 as alice'] },
    // {,n} is {0,n} in Python, ]-first classes, a lookbehind
    { regex: '^x{,2}y [^]]+ (?<=y )?from <HOST>', lines: ['xxy a] from 192.0.2.20', 'xxxy b from 192.0.2.21', 'y c from 192.0.2.22', 'xy ] from 192.0.2.23'] },
    // alt_ and tuple_ groups
    { regex: '^(?:u=<F-USER>\\S*</F-USER> )?(?:a=<F-ALT_USER>\\S+</F-ALT_USER> )?t=<F-TUPLE_USER>\\S+</F-TUPLE_USER> from <HOST>', lines: ['u= a=x t=y from 192.0.2.24', 'u=w t=z from 192.0.2.25', 'a=q t=r from 192.0.2.26'] },
  ];
  for (const [i, c] of cases.entries()) {
    // ASCII and non-ASCII lines, junk bytes, a '\r\n' ending, an undated and a dated copy
    const file = path.join(dir, `case${i}.log`);
    const dated = c.lines.map((l, k) => `2026-02-0${1 + (k % 9)} 10:0${k % 10}:00 ${l}`);
    const body = Buffer.concat([
      Buffer.from([...c.lines, ...dated, ...PADDING].join('\n') + '\n'),
      Buffer.from([0x75, 0x73, 0x65, 0x72, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x20, 0x66, 0x72, 0x6f, 0x6d, 0x20, 0x31, 0x2e, 0x32, 0x2e, 0x33, 0x2e, 0x34, 0x0d, 0x0a]),
      Buffer.from('user \u0000nul from 192.0.2.99\n'),
    ]);
    fs.writeFileSync(file, body);
    for (const json of [true, false]) {
      const r = await both(file, c.regex, { json });
      assert.equal(dateHits(r.native), dateHits(r.js), `case ${i} (${c.regex}), json ${json}`);
    }
    const records = (await both(file, c.regex, { json: true })).native.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(records.some((x) => x.match), `case ${i}: something matches (else the case tests nothing)`);
  }
});

test('random bytes decode as JavaScript decodes them (U+FFFD), and match alike', { skip: missing ?? false }, async (t) => {
  const dir = tmpDir(t);
  const rnd = mulberry32(7);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => {
    const r = rnd();
    // mostly ASCII text, some UTF-8 lead and continuation bytes, some invalid ones
    return r < 0.7 ? 0x20 + Math.floor(rnd() * 95) : r < 0.8 ? 0x80 + Math.floor(rnd() * 64) : r < 0.9 ? 0xc0 + Math.floor(rnd() * 64) : Math.floor(rnd() * 256);
  }).filter((b) => b !== 0x0a));
  const chunks: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    chunks.push(Buffer.from(`Mar  ${1 + (i % 9)} 10:00:0${i % 10} host svc[1]: login `), bytes(1 + Math.floor(rnd() * 40)), Buffer.from(` from 198.51.100.${i % 250}${i % 7 === 0 ? '\r' : ''}\n`));
  }
  const file = path.join(dir, 'junk.log');
  fs.writeFileSync(file, Buffer.concat(chunks));
  const r = await both(file, '^.*login <F-USER>.*</F-USER> from <HOST>$', { json: true });
  assert.equal(r.native, r.js);
  const users = r.native.trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.match).map((x) => x.fields.user as string);
  assert.ok(users.length > 2900, `${users.length} failures`);
  assert.ok(users.some((u) => u.includes('\ufffd')), 'some user names hold a replacement character');
});

test('generated sshd and nginx logs: same records and counters, one thread or four', { skip: missing ?? !fs.existsSync(STOCK_FILTER_DIR) ? 'the stock filter.d (fail2ban) is not installed' : false }, async (t) => {
  const dir = tmpDir(t);
  const config = path.dirname(STOCK_FILTER_DIR);
  for (const [kind, filter] of [['sshd', 'sshd'], ['nginx', 'nginx-botsearch']] as const) {
    const file = path.join(dir, `${kind}.log`);
    const truth = generate(kind, 30_000, 11, file);
    const json = await both(file, filter, { json: true, config });
    assert.equal(json.native, json.js, `${kind} --json`);
    const failures = json.native.split('\n').filter((l) => l.includes('"match":true')).length;
    assert.equal(failures, truth.failures, `${kind}: the ground truth's failures`);
    const summary = await both(file, filter, { config });
    assert.equal(dateHits(summary.native), dateHits(summary.js), `${kind} summary`);
    for (const threads of ['1', '4']) {
      const again = await regexOutput(file, filter, undefined, { now: NOW, timezone: 'UTC', json: true, config, matcher: 'native', threads });
      assert.equal(again, json.native, `${kind} with ${threads} thread(s)`);
    }
  }
});

test('F-MLFID sessions: two user names, a pending session, a login after failures (stock sshd)', { skip: missing ?? !fs.existsSync(STOCK_FILTER_DIR) ? 'the stock filter.d (fail2ban) is not installed' : false }, async (t) => {
  // (lines written for this test: a session that tried two users and then logged in counts the
  // login as a failure; a failure without an address makes the session pending, and its next
  // helper line a failure; a single-user session's login is not one)
  const file = path.join(tmpDir(t), 'sshd-sessions.log');
  fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, 'test/fixtures/logs/sshd-sessions.log'), 'utf8') + PADDING.join('\n') + '\n');
  const config = path.dirname(STOCK_FILTER_DIR);
  for (const json of [false, true]) {
    const r = await both(file, 'sshd', { json, config });
    assert.equal(dateHits(r.native), dateHits(r.js), `json ${json}`);
  }
  const summary = (await both(file, 'sshd', { config })).native;
  assert.match(summary, /Lines: 35 lines, 4 ignored, 5 matched, 26 missed/);
});

test('a regex that backtracks without end gives up the line (warning), the rest is matched', { skip: missing ?? false }, (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'redos.log');
  const evil = `${'a'.repeat(40)} from 192.0.2.1`;
  fs.writeFileSync(file, [`aab from 192.0.2.2`, evil, `ab from 192.0.2.3`, ...Array.from({ length: 30 }, (_, i) => `noise ${i}`)].join('\n') + '\n');
  const r = spawnSync(process.execPath, [BIN, 'regex', '--json', '--matcher', 'native', file, '^(?:a+)+b from <HOST>$'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /WARNING: line 2: failregex #1 gave up on the line/);
  const ips = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.match).map((x) => x.ip);
  assert.deepEqual(ips, ['192.0.2.2', '192.0.2.3']);
});

test('--matcher: a bad value is a usage error, native where it cannot run says why', () => {
  const bad = spawnSync(process.execPath, [BIN, 'regex', '--matcher', 'fast', 'x from 1.2.3.4', '<HOST>'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--matcher: expected auto, native or js/);
  const line = spawnSync(process.execPath, [BIN, 'regex', '--matcher', 'native', 'x from 1.2.3.4', 'from <HOST>'], { encoding: 'utf8' });
  assert.equal(line.status, 2);
  assert.match(line.stderr, /--matcher native: LOG is not a file/);
});
