// A backend = systemd jail in the daemon (in-process, dry-run firewall) reading real journal
// files: bans timed by the entries, and a restart that resumes from the saved cursor, so that
// no entry is counted twice and the open failures carry on.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../src/daemon';
import { tmpDir } from './helpers/tmp';
import { waitFor } from './helpers/logs';
import { entry, testJournal } from './helpers/journal';

const ROOT = path.resolve(__dirname, '../..');

const sshd = (time: number, ip: string) =>
  entry(time, {
    _SYSTEMD_UNIT: 'sshd.service',
    _COMM: 'sshd',
    SYSLOG_IDENTIFIER: 'sshd',
    _PID: '4242',
    _HOSTNAME: 'web1',
    MESSAGE: `Failed password for root from ${ip} port 2222 ssh2`,
  });

/** A journal of the test's own and a copy of the bundled tree; undefined (the test skipped)
 *  where journal files cannot be written here. */
function journalTree(t: TestContext): { j: NonNullable<ReturnType<typeof testJournal>>; dir: string; conf: string } | undefined {
  const j = testJournal(t);
  if (!j) return undefined;
  const dir = tmpDir(t);
  const conf = path.join(dir, 'conf');
  fs.cpSync(path.join(ROOT, 'filters'), conf, { recursive: true });
  return { j, dir, conf };
}

test('a systemd jail bans from journal entries and resumes from its cursor after a restart', async (t) => {
  const tree = journalTree(t);
  if (!tree) return;
  const { j, dir, conf } = tree;
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nbackend = systemd[journalpath=${j.dir}]\nmaxretry = 3\nfindtime = 1h\nbantime = 1h\n`);
  const opts = { configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: path.join(dir, 'state.sqlite3'), socket: null, threads: 0 };
  const log = () => fs.readFileSync(opts.logtarget, 'utf8');

  const now = Math.floor(Date.now() / 1000);
  // an old entry (older than findtime) does not count; the others do
  await j.append([sshd(now - 7200, '192.0.2.80'), sshd(now - 30, '192.0.2.80'), sshd(now - 20, '192.0.2.80'), sshd(now - 10, '192.0.2.81')]);
  let d = await Daemon.start(opts);
  let stopped = false;
  t.after(() => (stopped ? undefined : d.stop()));
  const jail = () => d.jails.get('sshd')!.jail;
  assert.ok(await waitFor(() => jail().status().totalFailed === 3, 15_000), log());
  assert.equal(jail().isBanned('192.0.2.80'), false);

  await j.append([sshd(now - 5, '192.0.2.80'), sshd(now - 4, '192.0.2.81')]);
  assert.ok(await waitFor(() => jail().isBanned('192.0.2.80'), 15_000), log());
  // the ban is measured from the entry's time, not from when it was read
  assert.equal(jail().getBan('192.0.2.80')!.time, now - 5);
  assert.equal(jail().status().currentlyFailed, 1);
  await d.drain();
  await d.stop();

  // restart: the ban comes back, nothing is read twice (.81 would reach 4 and be banned)
  d = await Daemon.start(opts);
  assert.ok(jail().isBanned('192.0.2.80'));
  await new Promise((r) => setTimeout(r, 1500));
  await d.drain();
  assert.equal(jail().isBanned('192.0.2.81'), false, log());
  assert.equal(jail().status().currentlyFailed, 1);
  await j.append([sshd(now - 1, '192.0.2.81')]);
  assert.ok(await waitFor(() => jail().isBanned('192.0.2.81'), 15_000), log());
  await d.stop();
  stopped = true;
  assert.match(log(), /\[sshd\] Restore Ban 192\.0\.2\.80/);
});

test('a journal entry that runs past the time budget is skipped with a warning; the entries after it count', async (t) => {
  const tree = journalTree(t);
  if (!tree) return;
  const { j, dir, conf } = tree;
  // (?:a+)+b backtracks exponentially in V8 on a run of a's without the b
  fs.writeFileSync(path.join(conf, 'filter.d/evil.conf'), '[Definition]\nfailregex = ^\\s*\\S+ app\\[\\d+\\]: <HOST> (?:a+)+b$\n');
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nenabled = false\n[evil]\nenabled = true\nfilter = evil\nbackend = systemd[journalpath=${j.dir}]\nmaxretry = 1\nfindtime = 1h\nbantime = 1h\n`);
  const opts = { configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 2, lineBudgetMs: 300 };
  const log = () => fs.readFileSync(opts.logtarget, 'utf8');
  const app = (time: number, message: string) => entry(time, { SYSLOG_IDENTIFIER: 'app', _PID: '1', _HOSTNAME: 'web1', MESSAGE: message });
  const now = Math.floor(Date.now() / 1000);
  const d = await Daemon.start(opts);
  t.after(() => d.stop());
  const jail = () => d.jails.get('evil')!.jail;
  await j.append([app(now - 3, `192.0.2.90 ${'a'.repeat(40)}!`), app(now - 2, '192.0.2.91 aab')]);
  assert.ok(await waitFor(() => jail().isBanned('192.0.2.91'), 15_000), log());
  assert.equal(jail().isBanned('192.0.2.90'), false);
  assert.match(log(), /WARNING \[evil\] a line ran \d+ ms in the filter's regexes \(budget 300 ms\) and was skipped: "web1 app\[1\]: 192\.0\.2\.90 a+!"/);
});
