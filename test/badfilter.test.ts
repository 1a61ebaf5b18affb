// Bad filters fail with the filter file, the option and the reason; in the daemon the jail is
// skipped and the others run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../src/daemon';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const LINE = 'Jan  2 03:04:05 host demo[1]: fail from 192.0.2.7';

const BAD: [string, string, RegExp][] = [
  ['unbalanced', '[Definition]\nfailregex = ^\\S+ demo\\[\\d+\\]: fail from (<HOST>\n', /failregex #1: cannot compile .*missing \)/],
  ['unknowntag', '[Definition]\nfailregex = ^<mdre-<mode>> from <HOST>$\nmdre-normal = fail\nmode = extra\n', /failregex #1: unknown tag <mdre-extra>/],
  ['nohost', '[Definition]\nfailregex = ^\\S+ demo\\[\\d+\\]: fail from \\S+$\n', /failregex #1: no host group/],
  ['baddate', '[Definition]\nfailregex = fail from <HOST>\ndatepattern = ^(?P<x>%%Y\n', /datepattern: /],
];

for (const [name, body, reason] of BAD) {
  test(`regex: a filter with ${name} fails naming the file, the option and the reason`, (t) => {
    const dir = tmpDir(t);
    fs.mkdirSync(path.join(dir, 'filter.d'));
    const file = path.join(dir, 'filter.d', `${name}.conf`);
    fs.writeFileSync(file, body);
    const r = spawnSync(process.execPath, [BIN, 'regex', LINE, file], { encoding: 'utf8' });
    assert.equal(r.status, 255, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}(:\\d+)?: `));
    assert.match(r.stderr, reason);
  });
}

test('daemon: a jail whose filter does not compile is skipped, naming the filter file; others run', async (t) => {
  const dir = tmpDir(t);
  fs.cpSync(path.join(ROOT, 'filters'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'filter.d/broken.conf'), BAD[0][1]);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\n\n[broken]\nenabled = true\nlogpath = ${log}\n`);
  const out = path.join(dir, 'f2b.log');
  const d = await Daemon.start({ configDir: dir, dryRun: true, logtarget: out, db: ':memory:', socket: null, threads: 0 });
  await d.stop();
  const text = fs.readFileSync(out, 'utf8');
  assert.match(text, new RegExp(`ERROR +${path.join(dir, 'filter.d/broken.conf').replace(/[.]/g, '\\.')}: \\[broken\\] failregex #1: cannot compile .* - jail skipped`));
  assert.match(text, /Jail 'sshd' started/);
  assert.deepEqual([...d.jails.keys()], ['sshd']);
});
