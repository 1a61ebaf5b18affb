// The daemon in-process with the dry-run firewall: what reaches a jail from a real file being
// appended, rotated and read from the start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../src/daemon';
import { tmpDir } from './helpers/tmp';
import { StateStore } from '../src/state/store';
import type { DryRunBackend } from '../src/firewall/dryrun';
import { syslog, waitFor } from './helpers/logs';

const ROOT = path.resolve(__dirname, '../..');

const failed = (ip: string, ago = 0) => syslog(`Failed password for root from ${ip} port 2222 ssh2`, { pid: 7, secondsAgo: ago });

async function start(t: import('node:test').TestContext, jailLocal: string) {
  const dir = tmpDir(t);
  fs.cpSync(path.join(ROOT, 'filters'), path.join(dir, 'conf'), { recursive: true });
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(path.join(dir, 'conf/jail.local'), `[sshd]\nlogpath = ${log}\n${jailLocal}`);
  return { dir, log, conf: path.join(dir, 'conf') };
}

test('failures before and after a rename+create rotation add up to one ban', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 3\n');
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 1 });
  t.after(() => d.stop());
  const jail = d.jails.get('sshd')!.jail;
  fs.appendFileSync(log, failed('192.0.2.33') + failed('192.0.2.33'));
  assert.ok(await waitFor(() => jail.status().totalFailed === 2, 5000), `failures: ${jail.status().totalFailed}`);
  // the last line is written to the old file after the rename: still read before switching
  fs.renameSync(log, `${log}.1`);
  fs.appendFileSync(`${log}.1`, syslog('Accepted publickey for deploy from 192.0.2.1 port 1 ssh2'));
  fs.writeFileSync(log, failed('192.0.2.33'));
  assert.ok(await waitFor(() => jail.isBanned('192.0.2.33'), 5000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  assert.match(fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'), /NOTICE  \[sshd\] Ban 192\.0\.2\.33/);
});

test('at start, old content older than findtime is history; recent content counts', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 2\nfindtime = 60\n');
  fs.writeFileSync(log, failed('192.0.2.40', 3600) + failed('192.0.2.40', 3500) + failed('192.0.2.41', 20) + failed('192.0.2.41', 10));
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 0 });
  t.after(() => d.stop());
  const jail = d.jails.get('sshd')!.jail;
  assert.ok(await waitFor(() => jail.isBanned('192.0.2.41'), 5000));
  await d.drain();
  assert.equal(jail.isBanned('192.0.2.40'), false);
  assert.equal(jail.status().totalFailed, 2);
});

test('ignoreip is honoured end to end and the jail keeps counting others', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 1\nignoreip = 192.0.2.0/28 2001:db8::/64\n');
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 1 });
  t.after(() => d.stop());
  const jail = d.jails.get('sshd')!.jail;
  fs.appendFileSync(log, failed('192.0.2.5') + failed('2001:db8::5') + failed('192.0.2.99'));
  assert.ok(await waitFor(() => jail.isBanned('192.0.2.99'), 5000));
  await d.drain();
  assert.deepEqual(jail.status().bannedList, ['192.0.2.99']);
  // as fail2ban: Found and Ignore are the filter's lines, Ban the actions'
  const text = fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8');
  assert.match(text, /fail2ban\.filter +\[\d+\]: INFO +\[sshd\] Ignore 192\.0\.2\.5 by ip/);
  assert.match(text, /fail2ban\.filter +\[\d+\]: INFO +\[sshd\] Found 192\.0\.2\.99 - \d{4}-/);
  assert.match(text, /fail2ban\.actions +\[\d+\]: NOTICE +\[sshd\] Ban 192\.0\.2\.99/);
});

test('two jails on one file: the native prefilter hands each only its lines, and counts every line', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 2\n');
  // a second jail on the same file, with a literal failregex of its own
  fs.writeFileSync(path.join(conf, 'filter.d/custom.conf'), '[Definition]\nfailregex = ^\\s*\\S+ custom\\[\\d+\\]: denied <HOST>$\n');
  fs.appendFileSync(path.join(conf, 'jail.local'), `\n[custom]\nenabled = true\nfilter = custom\nlogpath = ${log}\nmaxretry = 1\nbanaction = nftables-allports\n`);
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 1 });
  t.after(() => d.stop());
  const sshd = d.jails.get('sshd')!.jail;
  const custom = d.jails.get('custom')!.jail;
  const noise = Array.from({ length: 500 }, (_, i) => syslog(`session opened for user u${i}`, { pid: 9 })).join('');
  fs.appendFileSync(log, noise + failed('192.0.2.50') + syslog('denied 192.0.2.60', { ident: 'custom', pid: 3 }) + noise + failed('192.0.2.50'));
  assert.ok(await waitFor(() => sshd.isBanned('192.0.2.50') && custom.isBanned('192.0.2.60'), 5000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  await d.drain();
  assert.equal(sshd.status().totalFailed, 2);
  assert.equal(custom.status().totalFailed, 1);
  assert.equal(custom.isBanned('192.0.2.50'), false);
  const [stats] = d.fileStats();
  assert.equal(stats.linesRead, 1003);
  assert.equal(stats.position, fs.statSync(log).size);
  assert.match(stats.firstLineHash ?? '', /^[0-9a-f]{16}$/);
});

test('a line that runs past the time budget in one jail is skipped with a warning; the jails go on banning', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 1\n');
  const other = path.join(dir, 'app.log');
  // (?:a+)+b backtracks exponentially in V8 on a run of a's without the b
  fs.writeFileSync(path.join(conf, 'filter.d/evil.conf'), '[Definition]\nfailregex = ^\\s*\\S+ app\\[\\d+\\]: <HOST> (?:a+)+b$\n');
  fs.appendFileSync(path.join(conf, 'jail.local'), `\n[evil]\nenabled = true\nfilter = evil\nlogpath = ${other}\nmaxretry = 1\nbanaction = nftables-allports\n`);
  fs.writeFileSync(log, '');
  fs.writeFileSync(other, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 2, lineBudgetMs: 300 });
  t.after(() => d.stop());
  const sshd = d.jails.get('sshd')!.jail;
  const evil = d.jails.get('evil')!.jail;
  fs.appendFileSync(other, syslog(`192.0.2.70 ${'a'.repeat(40)}!`, { ident: 'app', pid: 1 }));
  fs.appendFileSync(log, failed('192.0.2.71'));
  assert.ok(await waitFor(() => sshd.isBanned('192.0.2.71'), 5000));
  fs.appendFileSync(other, syslog('192.0.2.72 aab', { ident: 'app', pid: 1 }));
  assert.ok(await waitFor(() => evil.isBanned('192.0.2.72'), 10000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  assert.equal(evil.isBanned('192.0.2.70'), false);
  const out = fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8');
  assert.match(out, /WARNING \[evil\] a line ran \d+ ms in the filter's regexes \(budget 300 ms\) and was skipped: "\w+ +\d+ [\d:]+ web1 app\[1\]: 192\.0\.2\.70 a+!"/);
  assert.match(out, /NOTICE  \[evil\] its filter is matched by a thread of its own from now on, with a tenth of the budget per line/);
});

test('a multi-line filter (maxlines = 2) bans across batches on its own thread; a crafted line in it is skipped with a warning', async (t) => {
  const { dir, conf } = await start(t, 'maxretry = 1\n');
  const other = path.join(dir, 'app.log');
  // who began, then the address, on the next line; and (?:a+)+b, which backtracks for ever in V8
  fs.writeFileSync(
    path.join(conf, 'filter.d/two.conf'),
    '[Definition]\nfailregex = app\\[\\d+\\]: begin <F-USER>\\S+</F-USER>\\n.*app\\[\\d+\\]: denied <HOST>$\n            app\\[\\d+\\]: x\\n.*app\\[\\d+\\]: <HOST> (?:a+)+b$\nmaxlines = 2\n',
  );
  fs.appendFileSync(path.join(conf, 'jail.local'), `\n[two]\nenabled = true\nfilter = two\nlogpath = ${other}\nmaxretry = 1\nbanaction = nftables-allports\n`);
  fs.writeFileSync(other, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 2, lineBudgetMs: 300 });
  t.after(() => d.stop());
  const two = d.jails.get('two')!.jail;
  const app = (msg: string) => syslog(msg, { ident: 'app', pid: 1 });
  // the two lines of a failure in two appends (two batches)
  fs.appendFileSync(other, app('begin bob'));
  await new Promise((r) => setTimeout(r, 300));
  fs.appendFileSync(other, app('denied 192.0.2.60'));
  assert.ok(await waitFor(() => two.isBanned('192.0.2.60'), 5000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  fs.appendFileSync(other, app('x') + app(`192.0.2.61 ${'a'.repeat(40)}!`) + app('x') + app('192.0.2.62 aab'));
  assert.ok(await waitFor(() => two.isBanned('192.0.2.62'), 10000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  assert.equal(two.isBanned('192.0.2.61'), false);
  assert.match(fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'), /WARNING \[two\] a line ran \d+ ms in the filter's regexes \(budget 300 ms\) and was skipped: "[^"]*192\.0\.2\.61 a+!"/);
});

test('bantime.increment: an address banned before is banned longer, and its failures weigh more', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 3\nbantime = 2\nbantime.increment = true\n');
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: path.join(dir, 'state.sqlite3'), socket: null, threads: 0 });
  t.after(() => d.stop());
  const jail = d.jails.get('sshd')!.jail;
  fs.appendFileSync(log, failed('192.0.2.90').repeat(3));
  assert.ok(await waitFor(() => jail.isBanned('192.0.2.90'), 5000));
  assert.equal(jail.getBan('192.0.2.90')!.bantime, 2);
  assert.ok(await waitFor(() => !jail.isBanned('192.0.2.90'), 5000), 'the first ban expires');
  // banned once before: each failure now counts twice (2^1/2 + 1), so two reach maxretry 3
  fs.appendFileSync(log, failed('192.0.2.90').repeat(2));
  assert.ok(await waitFor(() => jail.isBanned('192.0.2.90'), 5000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  const ban = jail.getBan('192.0.2.90')!;
  // the default formula: bantime * 2^count * factor = 2 * 2 * 1
  assert.equal(ban.bancount, 2);
  assert.equal(ban.bantime, 4);
  assert.match(fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'), /NOTICE  \[sshd\] Increase Ban 192\.0\.2\.90 \(2 # 4s -> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)/);
});

test('banprefix6: IPv6 attackers are counted and banned by their /64; IPv4 and ignoreip as before', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 3\nbanprefix6 = 64\nignoreip = 2001:db8:1:2::99\n');
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 0 });
  t.after(() => d.stop());
  const jail = d.jails.get('sshd')!.jail;
  // three addresses of one /64 (rotating), one of another /64, an ignored one inside the first
  fs.appendFileSync(log, failed('2001:db8:1:2::1') + failed('2001:db8:1:2::99') + failed('2001:db8:1:2:aaaa::2') + failed('2001:db8:1:3::1') + failed('192.0.2.5'));
  await waitFor(() => jail.status().totalFailed >= 4, 5000);
  await d.drain();
  assert.equal(jail.status().currentlyBanned, 0);
  fs.appendFileSync(log, failed('2001:db8:1:2:ffff::3'));
  assert.ok(await waitFor(() => jail.isBanned('2001:db8:1:2::/64'), 5000), fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'));
  await d.drain();
  assert.deepEqual(jail.status().bannedList, ['2001:db8:1:2::/64']);
  assert.match(fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'), /\[sshd\] Ignore 2001:db8:1:2::99 by ip/);
  assert.match(fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8'), /would block 2001:db8:1:2::\/64 in sshd/);
});

test('restart: the bans of the database reach the firewall before the jail restores them, once each, ignored and over ones not at all', async (t) => {
  const { dir, log, conf } = await start(t, 'maxretry = 3\nbantime = 1h\nignoreip = 198.51.100.0/24\n');
  fs.writeFileSync(log, '');
  const db = path.join(dir, 'state.sqlite3');
  const now = Math.floor(Date.now() / 1000);
  const N = 25_000; // more than two pages of the restore
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const store = StateStore.open(db);
  store.transaction(() => {
    for (let i = 0; i < N; i++) store.addBan({ jail: 'sshd', ip: ip(i), timeofban: now - 60 + (i % 7), bantime: 3600, bancount: 1, data: { failures: 3, user: `u${i}` } });
    // ignored now (ignoreip), over, and another jail's: none of them goes in
    store.addBan({ jail: 'sshd', ip: '198.51.100.7', timeofban: now - 60, bantime: 3600, bancount: 1 });
    store.addBan({ jail: 'sshd', ip: '203.0.113.1', timeofban: now - 7200, bantime: 3600, bancount: 1 });
    store.addBan({ jail: 'other', ip: '203.0.113.2', timeofban: now - 60, bantime: 3600, bancount: 1 });
  });
  store.close();

  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db, socket: null, threads: 0 });
  t.after(() => d.stop());
  const calls = (d as unknown as { backend: DryRunBackend }).backend.calls;
  const blocked = new Map<string, number>();
  for (const c of calls) if (c.method === 'update') for (const e of c.changes.block) blocked.set(e.ip, (blocked.get(e.ip) ?? 0) + 1);
  assert.equal(blocked.size, N);
  assert.deepEqual([...blocked.values()].filter((n) => n !== 1), [], 'every address is blocked once');
  for (let i = 0; i < N; i += 997) assert.ok(blocked.has(ip(i)), ip(i));
  for (const other of ['198.51.100.7', '203.0.113.1', '203.0.113.2']) assert.equal(blocked.has(other), false, other);
  assert.ok(calls.every((c) => c.method !== 'update' || c.changes.release.length === 0), 'nothing released');
  // the entries' timeouts are what is left of each ban
  const first = calls.find((c) => c.method === 'update' && c.changes.block.length);
  const e0 = first?.method === 'update' ? first.changes.block[0] : undefined;
  assert.ok(e0 && e0.timeout !== null && Math.abs(e0.timeout - 3540) <= 2, JSON.stringify(e0));
  // the jail holds them all, with their data, as restored bans
  const jail = d.jails.get('sshd')!.jail;
  assert.equal(jail.status().currentlyBanned, N);
  assert.equal(jail.getBan(ip(1234))?.fields.user, 'u1234');
  assert.equal(jail.getBan(ip(1234))?.restored, true);
  assert.equal(jail.isBanned('198.51.100.7'), false);
  const text = fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8');
  assert.equal(text.match(/NOTICE  \[sshd\] Restore Ban /g)?.length, N);
  assert.match(text, /\[sshd\] Ignore 198\.51\.100\.7 by ip: not restored/);
  assert.match(text, new RegExp(`\\[sshd\\] ${N} bans restored from the state database`));
});

test('a jail whose firewall values the firewall cannot take is reported with its file and line and skipped; the others run', async (t) => {
  const { dir, log, conf } = await start(
    t,
    'maxretry = 1\n' +
      '[web]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nport = nope\n' +
      `[dock]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nbanaction = iptables-ipset-proto6\nchain = DOCKER-USER\n` +
      `[fwd]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nbanaction = iptables-multiport\nchain = DOCKER-USER\nblocktype = REJECT --reject-with icmp-host-prohibited\n`,
  );
  fs.writeFileSync(log, '');
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 0 });
  t.after(() => d.stop());
  assert.deepEqual([...d.jails.keys()].sort(), ['fwd', 'sshd']);
  const text = fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8');
  const local = path.join(conf, 'jail.local');
  const lineOf = (section: string) => fs.readFileSync(local, 'utf8').split('\n').indexOf(`[${section}]`) + 1;
  assert.match(text, new RegExp(`${local.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${lineOf('web')}: \\[web\\] unknown service name 'nope'.* - jail skipped`));
  assert.match(text, /\[dock\] chain DOCKER-USER: the ipset backend \(iptables-ipset\* actions\) hooks INPUT only.* - jail skipped/);
  // the DOCKER-USER jail of an iptables action: the forward hook, its reject type per family
  const calls = (d as unknown as { backend: DryRunBackend }).backend.calls;
  const init = calls.find((c) => c.method === 'init');
  const fwd = init?.method === 'init' ? init.jails.find((j) => j.jail === 'fwd') : undefined;
  assert.equal(fwd?.chain, 'DOCKER-USER');
  assert.equal(fwd?.blocktype, 'REJECT --reject-with icmp-host-prohibited');
});
