// Fault tests of the state database (issue 11): `f2b-fast run` as a real process with real
// nftables in a network namespace, its dbfile on a real file system. The database fills up
// (a small tmpfs the test mounts), is locked by another process longer than the busy timeout,
// is corrupted, replaced and removed under the running daemon, and is garbage at a start after
// a SIGKILL. Each time: every ban still reaches the kernel set, the daemon reports the fault in
// a line an operator can grep (once per episode), does not exit, and the database ends up with
// every ban, failure ticket and log position the daemon holds.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { createNetns, netnsAvailable, type Netns } from './helpers/netns';
import { tmpDir } from './helpers/tmp';
import { BIN, nftHas, ROOT, startDaemon, stopDaemon, type Running } from './helpers/daemon-proc';
import { syslog, waitFor } from './helpers/logs';
import { openState, replaceLost } from '../src/state/recover';
import { StateStore } from '../src/state/store';
import { NftablesBackend } from '../src/firewall/nftables';
import { entry, services, spec } from './helpers/firewall';

const T = 60_000;

async function skipUnlessNetns(t: TestContext): Promise<boolean> {
  const ok = await netnsAvailable();
  if (!ok.ok) t.skip(`network namespaces unavailable: ${ok.reason}`);
  return ok.ok;
}

interface Setup {
  ns: Netns;
  dir: string;
  log: string;
  /** appends `times` failures of `ip` in one write */
  fail: (ip: string, times?: number) => void;
  start: (db: string) => Running;
}

/** A namespace, a log file and an sshd jail (maxretry 2, bantime 1h) reading it; more(log) is
 *  added to jail.local. */
async function setup(t: TestContext, prefix: string, more: (log: string) => string = () => ''): Promise<Setup> {
  const ns = await createNetns(prefix);
  t.after(() => ns.destroy());
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\nport = 2222\nmaxretry = 2\nfindtime = 1h\nbantime = 1h\n${more(log)}`);
  let port = 40_000;
  const line = (ip: string) => syslog(`Failed password for root from ${ip} port ${port++} ssh2`, { pid: port });
  const fail = (ip: string, times = 1) => fs.appendFileSync(log, Array.from({ length: times }, () => line(ip)).join(''));
  const start = (db: string) => {
    const d = startDaemon(ns, ['--config', dir, '--logtarget', 'STDOUT', '--loglevel', 'DEBUG', '--db', db, '--threads', '1']);
    t.after(() => stopDaemon(d));
    return d;
  };
  return { ns, dir, log, fail, start };
}

/** Two failures: a ban (maxretry 2). They usually come in one batch, not always: a fault may
 *  be noticed between them. */
function attack(s: Setup, ip: string): void {
  s.fail(ip, 2);
}

async function ready(d: Running): Promise<void> {
  assert.ok(await waitFor(() => d.output().includes('Server ready'), 30_000), d.output());
}

async function banned(s: Setup, d: Running, ips: string[]): Promise<void> {
  for (const ip of ips) assert.ok(await waitFor(() => nftHas(s.ns, 'f2b-fast', ip), 20_000), `${ip} not in the kernel set:\n${d.output()}`);
}

/** A read-only look at the database beside the running daemon (WAL allows it); null when it
 *  cannot be read (not there, not a database yet). */
function readDb<T>(file: string, fn: (db: Database.Database) => T): T | null {
  if (!fs.existsSync(file)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return fn(db);
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

/** The daemon on `db`, once it has made and saved a first ban, of `ip`. */
async function startWithBan(s: Setup, db: string, ip: string): Promise<Running> {
  const d = s.start(db);
  await firstBan(s, d, db, ip);
  return d;
}

async function firstBan(s: Setup, d: Running, db: string, ip: string): Promise<void> {
  await ready(d);
  attack(s, ip);
  await banned(s, d, [ip]);
  await dbHas(db, [ip], d);
}

const bansIn = (file: string): string[] => readDb(file, (db) => db.prepare("SELECT ip FROM bips WHERE jail = 'sshd' ORDER BY ip").pluck().all() as string[]) ?? [];

async function dbHas(file: string, ips: string[], d: Running, ms = 20_000): Promise<void> {
  const ok = await waitFor(() => {
    const have = new Set(bansIn(file));
    return ips.every((ip) => have.has(ip));
  }, ms);
  assert.ok(ok, `the database ${file} lacks some of ${ips.join(', ')} (has ${bansIn(file).join(', ')}):\n${d.output()}`);
}

async function nftSetHas(ns: Netns, set: string, ip: string): Promise<boolean> {
  const r = await ns.exec(['nft', 'list', 'set', 'inet', 'f2b-fast', set]);
  return r.code === 0 && new RegExp(`[{ ,]${ip.replace(/\./g, '\\.')}[ ,}]`).test(r.stdout);
}

/** Bytes no SQLite page starts with (0xa5 is no page type): the same finding every run. */
const badPages = (n: number): Buffer => Buffer.alloc(n, 0xa5);

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

/** Still running, then stopped cleanly. */
async function stopsCleanly(d: Running): Promise<void> {
  if (process.env.F2B_SHOW_OUTPUT) process.stdout.write(d.output());
  assert.equal(d.child.exitCode, null, `the daemon exited:\n${d.output()}`);
  assert.equal(d.child.signalCode, null);
  assert.equal(await stopDaemon(d), 0, d.output());
  assert.doesNotMatch(d.output(), /Uncaught|TypeError|RangeError|unhandled/i);
}

test('disk full: bans and an unban go on from memory, the error is reported once, the queued writes land once space is free', { timeout: 3 * T }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const s = await setup(t, 'f2bdf');
  const mnt = fs.mkdtempSync(path.join(s.dir, 'tmpfs-'));
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mount.status !== 0) {
    t.skip(`cannot mount a tmpfs: ${mount.stderr}`);
    return;
  }
  let d: Running | undefined;
  try {
    const db = path.join(mnt, 'state.db');
    // (d is stopped in finally: the tmpfs cannot be unmounted while it has the file open)
    d = s.start(db);
    await firstBan(s, d, db, '192.0.2.1');

    // fill the file system to the last byte
    const filler = path.join(mnt, 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(16 * 1024, 0x55);
    let full = false;
    for (let i = 0; i < 1000 && !full; i++) {
      try {
        fs.writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        full = true;
      }
    }
    // the last bytes a page-sized write left over
    for (let i = 0; i < 4096 && full; i++) {
      try {
        fs.writeSync(fd, Buffer.alloc(1));
      } catch {
        break;
      }
    }
    fs.closeSync(fd);
    assert.ok(full, 'the tmpfs did not fill up');

    for (const ip of ['192.0.2.2', '192.0.2.3']) attack(s, ip);
    await banned(s, d, ['192.0.2.2', '192.0.2.3']);
    const fault = /ERROR   state database \S+: database or disk is full \(SQLITE_FULL\); banning goes on from memory, \d+ changes? kept in memory/;
    assert.ok(await waitFor(() => fault.test(d!.output()), 20_000), d.output());
    // more bans meanwhile, and at least one retry that failed too: still one error line
    attack(s, '192.0.2.4');
    await banned(s, d, ['192.0.2.4']);
    assert.ok(await waitFor(() => /DEBUG   state database \S+: still failing: database or disk is full/.test(d!.output()), 20_000), d.output());
    // an operator's unban meanwhile: lifted now, and forgotten in the database once it writes
    const sock = /Control socket (\S+) \(mode 0600\)/.exec(d.output())![1];
    const unban = spawnSync(process.execPath, [BIN, 'client', '-s', sock, 'set', 'sshd', 'unbanip', '192.0.2.2'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(unban.status, 0, unban.stderr);
    assert.ok(await waitFor(async () => !(await nftHas(s.ns, 'f2b-fast', '192.0.2.2')), 10_000), d.output());
    assert.equal(count(d.output(), /ERROR   state database/), 1, d.output());
    assert.deepEqual(bansIn(db), ['192.0.2.1'], 'nothing reached the full database');

    fs.rmSync(filler);
    assert.ok(await waitFor(() => /NOTICE  state database \S+: writable again after \d+ s \(\d+ failed writes?\): \d+ queued changes? written/.test(d!.output()), 20_000), d.output());
    await dbHas(db, ['192.0.2.1', '192.0.2.3', '192.0.2.4'], d, 5000);
    assert.deepEqual(bansIn(db), ['192.0.2.1', '192.0.2.3', '192.0.2.4'], 'the unbanned address is not in the database');
    const pos = readDb(db, (h) => h.prepare('SELECT position FROM f2b_positions WHERE path = ?').pluck().get(s.log));
    assert.equal(pos, fs.statSync(s.log).size, 'the log position after the last line');
    await stopsCleanly(d);

    // a restart restores the four bans from the database
    d = s.start(db);
    await ready(d);
    assert.match(d.output(), /\[sshd\] 3 bans restored from the state database/);
    await banned(s, d, ['192.0.2.1', '192.0.2.3', '192.0.2.4']);
    assert.equal(await nftHas(s.ns, 'f2b-fast', '192.0.2.2'), false);
    await stopsCleanly(d);
  } finally {
    if (d && d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
    const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
    assert.equal(u.status, 0, `umount ${mnt}: ${u.stderr}`);
  }
});

test('database locked by another process past the busy timeout (250 ms): bans go on, the error is reported once, the writes land after the release', { timeout: 3 * T }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  // a second jail on the same log reads the ban history for each failure (bantime.increment):
  // a read that must not stop it while the database refuses writes
  const s = await setup(t, 'f2bdl', (log) => `[sshd-inc]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nport = 2222\nmaxretry = 2\nbantime = 1h\nbantime.increment = true\n`);
  const db = path.join(s.dir, 'state.db');
  const d = await startWithBan(s, db, '192.0.2.11');

  // another process holds the write lock until its stdin closes
  const script = `
    const Database = require(${JSON.stringify(path.join(ROOT, 'node_modules/better-sqlite3'))});
    const db = new Database(process.argv[1], { timeout: 10000 });
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.resume();
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });`;
  const holder = spawn(process.execPath, ['-e', script, db], { stdio: ['pipe', 'pipe', 'inherit'] });
  const holderExit = new Promise<number | null>((resolve) => holder.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (holder.exitCode === null) holder.kill('SIGKILL');
  });
  let said = '';
  holder.stdout.setEncoding('utf8').on('data', (x: string) => (said += x));
  assert.ok(await waitFor(() => said.includes('locked'), 10_000), 'the lock holder did not start');

  for (const ip of ['192.0.2.12', '192.0.2.13']) attack(s, ip);
  await banned(s, d, ['192.0.2.12', '192.0.2.13']);
  for (const ip of ['192.0.2.11', '192.0.2.12', '192.0.2.13']) {
    assert.ok(await waitFor(() => nftSetHas(s.ns, 'addr-set-sshd-inc', ip), 20_000), `${ip} not banned by sshd-inc:\n${d.output()}`);
  }
  assert.ok(await waitFor(() => /ERROR   state database \S+: database is locked \(SQLITE_BUSY\); banning goes on from memory/.test(d.output()), 20_000), d.output());
  attack(s, '192.0.2.14');
  await banned(s, d, ['192.0.2.14']);
  assert.ok(await waitFor(() => /DEBUG   state database \S+: still failing: database is locked/.test(d.output()), 20_000), d.output());
  assert.equal(count(d.output(), /ERROR   state database/), 1, d.output());
  assert.deepEqual(bansIn(db), ['192.0.2.11']);

  holder.stdin.end();
  assert.equal(await holderExit, 0);
  assert.ok(await waitFor(() => /NOTICE  state database \S+: writable again/.test(d.output()), 20_000), d.output());
  await dbHas(db, ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14'], d, 5000);
  const inc = readDb(db, (h) => h.prepare("SELECT ip FROM bips WHERE jail = 'sshd-inc' ORDER BY ip").pluck().all());
  assert.deepEqual(inc, ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14']);
  await stopsCleanly(d);
});

/** The database as the daemon rebuilt it: bans with their times, tickets, the log position. */
function snapshot(file: string) {
  return readDb(file, (db) => ({
    check: db.pragma('quick_check', { simple: true }),
    bans: db.prepare("SELECT ip, timeofban, bantime FROM bips WHERE jail = 'sshd' ORDER BY ip").all() as { ip: string; timeofban: number; bantime: number }[],
    tickets: db.prepare("SELECT id, retry FROM f2b_tickets WHERE jail = 'sshd' ORDER BY id").all() as { id: string; retry: number }[],
    positions: db.prepare('SELECT path, position FROM f2b_positions').all() as { path: string; position: number }[],
  }));
}

test('database corrupted, replaced and removed under the running daemon: moved aside, a new one holds every ban, ticket and position', { timeout: 4 * T }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const s = await setup(t, 'f2bdc');
  const db = path.join(s.dir, 'state.db');
  const d = await startWithBan(s, db, '192.0.2.21');
  s.fail('198.51.100.9'); // one failure of two: an open ticket
  assert.ok(await waitFor(() => (snapshot(db)?.tickets.length ?? 0) === 1, 10_000), d.output());
  const before = snapshot(db)!;

  const expectRebuilt = async (ips: string[], moved: RegExp, nth: number) => {
    assert.ok(await waitFor(() => count(d.output(), /a new database holds the daemon's state/) >= nth, 20_000), d.output());
    const lines = d.output().split('\n').filter((l) => /a new database holds the daemon's state/.test(l));
    const line = lines[nth - 1];
    assert.match(line, moved);
    assert.match(line, new RegExp(`ERROR   state database ${db.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    await dbHas(db, ips, d);
    const now = snapshot(db)!;
    assert.equal(now.check, 'ok');
    // the first ban keeps its time and length; the open ticket and the position are there
    assert.deepEqual(now.bans.find((b) => b.ip === '192.0.2.21'), before.bans.find((b) => b.ip === '192.0.2.21'));
    assert.deepEqual(now.tickets, before.tickets);
    assert.ok(await waitFor(() => snapshot(db)?.positions.some((p) => p.path === s.log && p.position === fs.statSync(s.log).size) ?? false, 10_000), JSON.stringify(snapshot(db)));
    return line;
  };

  // 1. pages overwritten in place: what SQLite still has cached is dropped first (a checkpoint
  // by another connection makes the daemon read the file again), then every page after the
  // header page becomes garbage
  const other = new Database(db);
  other.pragma('wal_checkpoint(TRUNCATE)');
  other.close();
  const size = fs.statSync(db).size;
  assert.ok(size > 8192, `the database is only ${size} bytes`);
  const fd = fs.openSync(db, 'r+');
  fs.writeSync(fd, badPages(size - 4096), 0, size - 4096, 4096);
  fs.closeSync(fd);
  attack(s, '192.0.2.22');
  await banned(s, d, ['192.0.2.22']);
  const line1 = await expectRebuilt(['192.0.2.21', '192.0.2.22'], /database disk image is malformed \(SQLITE_CORRUPT\w*\): moved to \S+\.corrupt-\d{8}T\d{6}Z; .*\d+ active bans, \d+ failure tickets, 1 log positions, 0 journal cursors/, 1);
  const aside = /moved to (\S+);/.exec(line1)![1];
  assert.ok(fs.existsSync(aside), `${aside} is not there`);
  assert.equal(path.dirname(aside), s.dir);

  // 2. replaced by another file (garbage renamed over it)
  const garbage = path.join(s.dir, 'garbage');
  fs.writeFileSync(garbage, 'not a database\n'.repeat(1000));
  fs.renameSync(garbage, db);
  attack(s, '192.0.2.23');
  await banned(s, d, ['192.0.2.23']);
  const line2 = await expectRebuilt(['192.0.2.21', '192.0.2.22', '192.0.2.23'], /the file was replaced by another one while open: moved to \S+\.corrupt-\S+; .*\d+ active bans/, 2);
  const aside2 = /moved to (\S+);/.exec(line2)![1];
  assert.equal(fs.readFileSync(aside2, 'utf8'), 'not a database\n'.repeat(1000));

  // 3. removed, with its journal files
  for (const ext of ['', '-wal', '-shm']) fs.rmSync(db + ext, { force: true });
  attack(s, '192.0.2.24');
  await banned(s, d, ['192.0.2.24']);
  await expectRebuilt(['192.0.2.21', '192.0.2.22', '192.0.2.23', '192.0.2.24'], /the file was removed while open: gone; .*\d+ active bans/, 3);

  assert.equal(count(d.output(), /ERROR   state database/), 3, d.output());
  await stopsCleanly(d);
});

test('no new database can be made where the lost one was (its directory immutable): the state is kept in memory and written there once it can be', { timeout: 3 * T }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const s = await setup(t, 'f2bdi');
  const dbDir = path.join(s.dir, 'state');
  fs.mkdirSync(dbDir);
  const db = path.join(dbDir, 'state.db');
  const d = await startWithBan(s, db, '192.0.2.41');
  let immutable = false;
  const chattr = (flag: '+i' | '-i') => {
    const r = spawnSync('chattr', [flag, dbDir], { encoding: 'utf8' });
    if (r.status === 0) immutable = flag === '+i';
    return r;
  };
  try {
    // the file replaced by garbage, then nothing in its directory can be renamed or created
    fs.writeFileSync(path.join(dbDir, 'other'), 'not a database\n');
    fs.renameSync(path.join(dbDir, 'other'), db);
    const r = chattr('+i');
    if (r.status !== 0) {
      t.skip(`chattr +i is not available here: ${r.stderr}`);
      return;
    }
    attack(s, '192.0.2.42');
    await banned(s, d, ['192.0.2.42']);
    assert.ok(
      await waitFor(() => /ERROR   state database \S+: the file was replaced by another one while open, and no new database can be made there \(.*\): the state is kept in memory, trying again in 5 s/.test(d.output()), 20_000),
      d.output(),
    );
    attack(s, '192.0.2.43');
    await banned(s, d, ['192.0.2.43']);
    // a retry that fails the same way is not reported again
    assert.ok(await waitFor(() => /DEBUG   state database \S+: the file was replaced by another one while open, and no new database can be made there/.test(d.output()), 20_000), d.output());
    assert.equal(count(d.output(), /ERROR   state database/), 1, d.output());
    assert.equal(chattr('-i').status, 0);
    await dbHas(db, ['192.0.2.41', '192.0.2.42', '192.0.2.43'], d);
    assert.match(d.output(), /ERROR   state database \S+: the file was replaced by another one while open: moved to \S+\.corrupt-\S+; a new database holds the daemon's state: 3 active bans/);
    const pos = readDb(db, (h) => h.prepare('SELECT position FROM f2b_positions WHERE path = ?').pluck().get(s.log));
    assert.equal(pos, fs.statSync(s.log).size);
    await stopsCleanly(d);
  } finally {
    if (immutable) chattr('-i');
  }
});

/**
 * A SIGKILL, then garbage in place of the database: the next start moves it aside, makes a new
 * one and adopts the bans the killed run left in the kernel (`inKernel` looks there), each with
 * the time it has left (`bantimeOk`: what the firewall tells of it).
 */
async function garbageAfterKill(t: TestContext, prefix: string, banaction: string, inKernel: (s: Setup, ip: string) => Promise<boolean>, bantimeOk: (bantime: number) => boolean): Promise<void> {
  if (!(await skipUnlessNetns(t))) return;
  const s = await setup(t, prefix, () => banaction);
  const db = path.join(s.dir, 'state.db');
  const ips = ['192.0.2.31', '192.0.2.32', '2001:db8::33'];
  const inAll = async (d: Running) => {
    for (const ip of ips) assert.ok(await waitFor(() => inKernel(s, ip), 20_000), `${ip} not in the kernel set:\n${d.output()}`);
  };
  const d = s.start(db);
  await ready(d);
  for (const ip of ips) attack(s, ip);
  await inAll(d);
  d.child.kill('SIGKILL');
  await d.exit;
  assert.ok(await inKernel(s, '192.0.2.31'), 'the killed run left its bans in the kernel');
  // the whole file garbage (its -wal, which SQLite would read page 1 from, gone with it)
  fs.writeFileSync(db, 'this is not SQLite\n'.repeat(500));
  for (const ext of ['-wal', '-shm']) fs.rmSync(db + ext, { force: true });

  const again = s.start(db);
  await ready(again);
  const out = again.output();
  const m = /ERROR   state database \S+: cannot open the state database: file is not a database \(SQLITE_NOTADB\)|ERROR   state database \S+: file is not a database \(SQLITE_NOTADB\)/.exec(out);
  assert.ok(m, out);
  const moved = /: moved to (\S+\.corrupt-\d{8}T\d{6}Z); starting with a new database \(read back from the bad file: nothing\)/.exec(out);
  assert.ok(moved, out);
  assert.equal(fs.readFileSync(moved[1], 'utf8'), 'this is not SQLite\n'.repeat(500));
  assert.match(out, /NOTICE  \[sshd\] 3 bans adopted from the firewall \(left by the previous run; its state database was lost\)/);
  await inAll(again);
  await dbHas(db, ips, again);
  // each with the time it has left: added for an hour, a few seconds ago
  const rows = readDb(db, (h) => h.prepare('SELECT ip, timeofban, bantime FROM bips').all() as { ip: string; timeofban: number; bantime: number }[])!;
  const now = Date.now() / 1000;
  for (const r of rows) {
    assert.ok(bantimeOk(r.bantime), JSON.stringify(r));
    // timeofban is stored in whole seconds, rounded: an ipset ban, adopted as starting at the
    // adoption, may round up past a clock read just after
    assert.ok(r.timeofban <= Math.round(now) && r.timeofban > now - 120, JSON.stringify(r));
  }
  await stopsCleanly(again);
}

test('database garbage at a start after a SIGKILL: moved aside, a new one made, the bans left in nftables adopted', { timeout: 3 * T }, (t) =>
  // nftables keeps each element's timeout: the ban's own length
  garbageAfterKill(t, 'f2bds', '', (s, ip) => nftHas(s.ns, 'f2b-fast', ip), (bantime) => Math.abs(bantime - 3600) <= 2),
);

test('the same with banaction = iptables-ipset: the bans left in the ipsets adopted', { timeout: 3 * T }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const probe = await createNetns('f2bdq');
  const tools = await probe.exec(['sh', '-c', 'ipset --version && iptables --version && ip6tables --version']);
  await probe.destroy();
  if (tools.code !== 0) return t.skip('ipset or iptables is not installed (apt-get install ipset iptables)');
  await garbageAfterKill(
    t,
    'f2bdi',
    'banaction = iptables-ipset\n',
    async (s, ip) => (await s.ns.exec(['ipset', 'test', `f2b-fast-sshd-${ip.includes(':') ? 'ip6' : 'ip4'}`, ip])).code === 0,
    // ipset keeps only what is left: a ban from the start for that long
    (bantime) => bantime > 3600 - 60 && bantime <= 3600,
  );
});

test('a file whose pages are bad behind a sound header: quick_check at open moves it aside and the rows still readable come back', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'state.db');
  const store = StateStore.open(file);
  store.transaction(() => {
    for (let i = 0; i < 2000; i++) store.addBan({ jail: 'sshd', ip: `10.0.${i >> 8}.${i & 255}`, timeofban: 1_700_000_000 + i, bantime: 600, bancount: 1, data: { matches: ['x'.repeat(200)] } });
    store.savePosition('/var/log/auth.log', { position: 1234, firstLineHash: 'h', linesRead: 10 }, 1_700_000_000);
  });
  store.close();
  const size = fs.statSync(file).size;
  // a run of pages in the middle of the file becomes garbage
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, badPages(8 * 4096), 0, 8 * 4096, Math.floor(size / 8192) * 4096);
  fs.closeSync(fd);

  const { store: fresh, moved } = openState(file, {}, new Date(Date.UTC(2026, 11, 4, 10, 0, 0)));
  t.after(() => fresh.close());
  assert.ok(moved, 'the bad file was not noticed');
  assert.equal(moved.to, `${file}.corrupt-20261204T100000Z`);
  assert.ok(fs.existsSync(moved.to!));
  assert.match(moved.why, /^state database: (quick_check: \*\*\* in database main \*\*\*; |.*malformed)/);
  assert.equal(fresh.quickCheck(), null);
  // what was readable came back, never more than there was
  const n = fresh.currentBans(0, 'sshd').length;
  assert.ok(n > 0 && n < 2000, String(n));
  assert.equal(moved.salvaged.bans ?? 0, readDb(file, (h) => h.prepare('SELECT count(*) FROM bans').pluck().get() as number));
  fresh.addBan({ jail: 'sshd', ip: '192.0.2.99', timeofban: 1_800_000_000, bantime: 600, bancount: 1 });
  assert.ok(fresh.currentBans(1_800_000_000, 'sshd').some((b) => b.ip === '192.0.2.99'));
});

test('replaceLost: the new file holds the jails\' bans and tickets from memory, the positions and journal cursors the lost store saw, and the bad file\'s ended bans', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'state.db');
  const T0 = 1_700_000_000;
  const old = StateStore.open(file);
  old.deferWrites();
  old.unit(() => {
    old.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 7200, bantime: 600, bancount: 1 }); // ended: history
    old.addBan({ jail: 'sshd', ip: '192.0.2.2', timeofban: T0 - 60, bantime: 600, bancount: 1 });
    old.savePosition('/var/log/auth.log', { position: 4096, firstLineHash: 'h1', linesRead: 50 }, T0 - 60);
    old.saveCursor('journal:sshd-j', 's=abc;i=1', T0 - 30);
  });
  old.flush();
  // changes since the last write: in the store's memory (and the jail's) only
  old.unit(() => old.saveCursor('journal:sshd-j', 's=abc;i=2', T0 - 5));

  const ban = { ip: '192.0.2.2', time: T0 - 60, bantime: 900, end: T0 + 840, bancount: 1, failures: 2, matches: ['m1', 'm2'], fields: { user: 'root' }, restored: false };
  const ticket = { id: '198.51.100.7', first: T0 - 100, last: T0 - 10, retry: 1, failures: 1, matches: ['f'], fields: { ip: '198.51.100.7' } };
  const r = replaceLost(old, file, {}, [{ name: 'sshd', bans: [ban], tickets: [ticket] }], T0, new Date(Date.UTC(2026, 11, 4, 11, 0, 0)));
  t.after(() => r.store.close());
  assert.deepEqual(r.counts, { bans: 1, tickets: 1, positions: 1, cursors: 1 });
  assert.equal(r.to, `${file}.corrupt-20261204T110000Z`);
  assert.ok(fs.existsSync(r.to!));
  assert.equal(r.salvaged.bans, 1, 'the ended ban of the old file');
  r.store.flush();
  assert.deepEqual(
    r.store.currentBans(T0, 'sshd').map((b) => [b.ip, b.timeofban, b.bantime, b.data.matches, b.data.user]),
    [['192.0.2.2', T0 - 60, 900, ['m1', 'm2'], 'root']],
  );
  assert.deepEqual(r.store.banHistory('192.0.2.1', { jail: 'sshd' }), { bancount: 1, timeofban: T0 - 7200, bantime: 600 });
  assert.deepEqual(r.store.loadTickets('sshd').map((x) => [x.id, x.retry, x.last]), [['198.51.100.7', 1, T0 - 10]]);
  assert.deepEqual(r.store.loadPosition('/var/log/auth.log'), { position: 4096, firstLineHash: 'h1', linesRead: 50 });
  assert.deepEqual(r.store.loadCursor('journal:sshd-j'), { cursor: 's=abc;i=2', time: T0 - 5 });
});

test('nftables leftover: a new backend reads the addresses, subnets and permanent bans an earlier one left, with the seconds they have left; init then replaces them', async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2bdn');
  t.after(() => ns.destroy());
  const exec = ['ip', 'netns', 'exec', ns.name];
  const jails = [spec('sshd'), spec('web.a b', { port: 'http' })];
  const first = new NftablesBackend({ exec, services, table: 'lo1' });
  await first.init(jails);
  await first.update({
    block: [entry('192.0.2.1', 3600), entry('2001:db8::1', 600), entry('198.51.100.0/24', 300), entry('192.0.2.2', null), entry('203.0.113.5', 120, 'web.a b')],
    release: [],
  });
  // another run (a start after SIGKILL): nothing of the first one's memory
  const second = new NftablesBackend({ exec, services, table: 'lo1' });
  const left = (await second.leftover(jails)).sort((a, b) => (a.ip < b.ip ? -1 : 1));
  assert.deepEqual(left.map((l) => [l.jail, l.ip, l.timeout]), [
    ['sshd', '192.0.2.1', 3600],
    ['sshd', '192.0.2.2', null],
    ['sshd', '198.51.100.0/24', 300],
    ['sshd', '2001:db8::1', 600],
    ['web.a b', '203.0.113.5', 120],
  ]);
  for (const l of left) {
    if (l.timeout === null) assert.equal(l.expires, null);
    else assert.ok(l.expires! > l.timeout - 30 && l.expires! <= l.timeout, JSON.stringify(l));
  }
  // a jail not asked about is not read; no table: nothing
  assert.deepEqual((await second.leftover([spec('other')])).length, 0);
  await second.init(jails);
  assert.deepEqual(await second.leftover(jails), []);
  await second.close();
  assert.deepEqual(await new NftablesBackend({ exec, services, table: 'lo1' }).leftover(jails), []);
});

test('forgetBan under write-behind: queued in order with the bans (a ban after the forget stays), kept while the database is locked', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const T0 = 1_700_000_000;
  const store = StateStore.open(file, { busyTimeoutMs: 50 });
  t.after(() => store.close());
  store.deferWrites();
  const ban = (ip: string, jail = 'sshd', at = T0) => store.addBan({ jail, ip, timeofban: at, bantime: 600, bancount: 1 });
  store.unit(() => {
    ban('192.0.2.1');
    ban('192.0.2.2');
    ban('192.0.2.2', 'web');
    ban('192.0.2.3');
  });
  store.flush();
  const other = new Database(file);
  other.exec('BEGIN IMMEDIATE');
  // an operator's unbans while another process holds the lock: nothing waits, nothing throws
  store.unit(() => {
    store.forgetBan('sshd', '192.0.2.1');
    store.forgetBan(undefined, '192.0.2.2');
    store.forgetBan('sshd', '192.0.2.3');
    ban('192.0.2.3', 'sshd', T0 + 10); // banned again after the unban
  });
  assert.throws(() => store.flush(), /locked/);
  assert.equal(store.failing, true);
  assert.equal(store.pendingWrites.rows, 4);
  other.exec('ROLLBACK');
  other.close();
  assert.equal(store.flush(), 4);
  assert.equal(store.failing, false);
  assert.deepEqual(
    store.currentBans(T0).map((b) => [b.jail, b.ip, b.timeofban]),
    [['sshd', '192.0.2.3', T0 + 10]],
  );
  assert.deepEqual(rows(file, 'SELECT ip, timeofban FROM bans ORDER BY ip'), [{ ip: '192.0.2.3', timeofban: T0 + 10 }]);
  // unban --all of one jail, queued too
  store.unit(() => {
    ban('192.0.2.9', 'web');
    store.forgetBan('sshd', undefined);
  });
  store.flush();
  assert.deepEqual(store.currentBans(T0).map((b) => [b.jail, b.ip]), [['web', '192.0.2.9']]);
});

function rows(file: string, sql: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}
