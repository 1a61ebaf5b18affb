// `f2b-fast test-config` (fail2ban-client -t / -d) on config trees written here: a good tree
// passes with the OK line (warnings alone do not fail it), every kind of bad jail is reported as
// `file:line: [jail] message` with exit 255 while the good jail still counts as starting, and
// --dump prints the resolved jails as text or as the JailDef array.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JailDef } from '../src/config/types';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const MODULE = path.join(ROOT, 'dist/src/cli/test-config.js');

/** A small tree of our own: one filter, one command action, one good jail (jail.conf line 9).
 *  In `local` (jail.local), LOG is the good jail's log file and LOGDIR the tree's directory. */
function tree(t: TestContext, local = '', server = 'loglevel = INFO\nlogtarget = STDERR\n'): { dir: string; log: string } {
  const dir = tmpDir(t);
  const log = path.join(dir, 'web.txt');
  fs.writeFileSync(log, '');
  fs.mkdirSync(path.join(dir, 'filter.d'));
  fs.mkdirSync(path.join(dir, 'action.d'));
  fs.writeFileSync(path.join(dir, 'fail2ban.conf'), `[Definition]\n${server}`);
  fs.writeFileSync(path.join(dir, 'filter.d/webapp.conf'), '[Definition]\nfailregex = ^login failed for user \\S+ from <HOST>$\n');
  fs.writeFileSync(path.join(dir, 'filter.d/unbalanced.conf'), '[Definition]\n\nfailregex = ^ok from <HOST>$\n            ^(never closed <HOST>\n');
  fs.writeFileSync(path.join(dir, 'action.d/notify.conf'), '[Definition]\nactionban = true\nactionunban = true\n');
  fs.writeFileSync(path.join(dir, 'action.d/pyact.py'), 'class Action:\n    pass\n');
  fs.writeFileSync(
    path.join(dir, 'jail.conf'),
    [
      '[DEFAULT]',
      'filter = %(__name__)s',
      'banaction = nftables-multiport',
      'action = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]',
      'port = 0:65535',
      'protocol = tcp',
      'enabled = false',
      '',
      '[webapp]',
      'enabled = true',
      'port = http,https',
      `logpath = ${log}`,
      '',
    ].join('\n'),
  );
  // one pass: the directory's random name may itself hold "LOG"
  if (local) fs.writeFileSync(path.join(dir, 'jail.local'), local.replace(/LOGDIR|LOG/g, (m) => (m === 'LOGDIR' ? dir : log)));
  return { dir, log };
}

function testConfig(opts: { config: string; dump?: boolean; json?: boolean }) {
  const script = `require(${JSON.stringify(MODULE)}).testConfigCommand(JSON.parse(process.argv[1])).then((c) => { process.exitCode = c; });`;
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(opts)], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('a good tree: exit 0 and the OK line; warnings alone do not fail it', (t) => {
  const { dir } = tree(
    t,
    // a log file that is not there yet (watched) and an action we do not run: warnings
    ['[later]', 'enabled = true', 'filter = webapp', 'logpath = /nonexistent/f2b-fast/later.txt', '', '[mailing]', 'enabled = true', 'filter = webapp', 'logpath = LOG', 'action = %(banaction)s[port="ssh"]', '         notify', ''].join('\n'),
  );
  const r = testConfig({ config: dir });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'OK: configuration test is successful\n');
  const local = path.join(dir, 'jail.local');
  assert.match(r.err, new RegExp(`^WARNING: ${local}:4: \\[later\\] /nonexistent/f2b-fast/later\\.txt does not exist yet: watching for it$`, 'm'));
  // notify is an action.d file: it runs its commands, nothing to warn about
  assert.doesNotMatch(r.err, /notify/);
  assert.doesNotMatch(r.err, /^ERROR/m);
});

test('bad jails: each reported as file:line: [jail] message, exit 255, and the good jail still starts', (t) => {
  const { dir } = tree(
    t,
    [
      '[regex]', //                                  1
      'enabled = true',
      'filter = webapp',
      `logpath = LOG`,
      'failregex = ^(unclosed <HOST>', //            5
      '',
      '[nofilter]', //                               7
      'enabled = true',
      'filter = doesnotexist',
      'logpath = LOG',
      '',
      '[unbalanced]', //                             12
      'enabled = true',
      'logpath = LOG',
      '',
      '[noban]', //                                  16
      'enabled = true',
      'filter = webapp',
      'logpath = LOG',
      'action = pyact', //                           20
      '',
      '[dir]', //                                    22
      'enabled = true',
      'filter = webapp',
      'logpath = LOGDIR', //                         25
      '',
    ].join('\n'),
    // %% because the config reader interpolates %(x)s itself, as fail2ban's does
    'loglevel = LOUD\nlogtarget = STDOUT[format="%%(nope)s"]\n',
  );
  const r = testConfig({ config: dir });
  assert.equal(r.code, 255, r.err);
  assert.equal(r.out, '');
  const local = path.join(dir, 'jail.local');
  const errors = r.err.split('\n').filter((l) => l.startsWith('ERROR: '));
  const has = (re: RegExp) => assert.ok(errors.some((l) => re.test(l)), `${re} in\n${r.err}`);
  const q = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  has(new RegExp(`^ERROR: ${q(path.join(dir, 'fail2ban.conf'))}:2: loglevel: invalid log level "LOUD"`));
  has(new RegExp(`^ERROR: ${q(path.join(dir, 'fail2ban.conf'))}:3: logtarget: logtarget format: unknown field %\\(nope\\)s`));
  has(new RegExp(`^ERROR: ${q(local)}:5: \\[regex\\] failregex #1: cannot compile "\\^\\(unclosed <HOST>"`));
  has(new RegExp(`^ERROR: ${q(local)}:\\d+: \\[nofilter\\] .*doesnotexist`));
  has(new RegExp(`^ERROR: ${q(path.join(dir, 'filter.d/unbalanced.conf'))}:3: \\[unbalanced\\] failregex #2: cannot compile`));
  // a Python action (action.d/*.py) is not read: the jail is skipped
  has(new RegExp(`^ERROR: ${q(local)}:16: \\[noban\\] action 'pyact' not found`));
  has(new RegExp(`^ERROR: ${q(local)}:25: \\[dir\\] logpath ${q(dir)} is a directory`));
  assert.match(r.err, /\nERROR: test configuration failed: 7 errors, \d+ warnings?; 1 of 6 enabled jails would start\n$/);
});

test('--dump: every jail as resolved (options, filter regexes, actions, log files), then the OK line', (t) => {
  const { dir, log } = tree(t);
  const r = testConfig({ config: dir, dump: true });
  assert.equal(r.code, 0, r.err);
  const out = r.out;
  assert.match(out, new RegExp(`^\\[server\\] ${dir}/fail2ban\\.conf\\n  loglevel +INFO\\n  logtarget +STDERR\\n`));
  assert.ok(out.includes(`\n[webapp] ${dir}/jail.conf:9\n`), out);
  assert.ok(out.includes(`\n  filter        webapp ${dir}/filter.d/webapp.conf\n`), out);
  assert.ok(out.includes('\n  failregex     ^login failed for user \\S+ from <HOST>$\n'), out);
  assert.ok(out.includes(`\n  logpath       ${log} (head)\n`), out);
  assert.ok(out.includes('\n  actions       nftables-multiport[port="http,https", protocol="tcp"] -> nftables set: port http,https, tcp\n'), out);
  assert.ok(out.includes('\n  maxretry      3\n  findtime      600 s (10m)\n  bantime       600 s (10m)\n'), out);
  assert.ok(out.endsWith('\nOK: configuration test is successful\n'), out);
});

test('--json: the JailDef array on stdout, the verdict on stderr', (t) => {
  const { dir, log } = tree(t, ['[second]', 'enabled = true', 'filter = webapp', 'logpath = LOG', 'maxretry = 2', ''].join('\n'));
  const r = testConfig({ config: dir, dump: true, json: true });
  assert.equal(r.code, 0, r.err);
  const jails = JSON.parse(r.out) as JailDef[];
  assert.deepEqual(
    jails.map((j) => j.name),
    ['webapp', 'second'],
  );
  assert.deepEqual(jails[0].logpaths, [{ pattern: log, files: [log], start: 'head' }]);
  assert.deepEqual(jails[1].filter.failregex, ['^login failed for user \\S+ from <HOST>$']);
  assert.equal(jails[1].maxretry, 2);
  assert.deepEqual(jails[0].source, { file: path.join(dir, 'jail.conf'), line: 9 });
  assert.match(r.err, /OK: configuration test is successful\n$/);
});

test('a tree that cannot be read at all: the reason and exit 255', (t) => {
  const dir = tmpDir(t);
  const r = testConfig({ config: path.join(dir, 'missing') });
  assert.equal(r.code, 255);
  assert.match(r.err, /^ERROR: .*missing: config directory .* does not exist\nERROR: test configuration failed: .* cannot be read\n$/);
});
