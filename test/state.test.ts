// The state database on real SQLite files: round trips, atomic transactions, a child process
// killed with SIGKILL mid-commit, fail2ban's purge / getBan / getBansMerged semantics (checked
// against the installed fail2ban's own Fail2BanDb where python3 has it), and import-db from a
// database fail2ban itself wrote.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { F2bError } from '../src/errors';
import { StateStore, SCHEMA_VERSION, type BanRecord, type StoredTicket } from '../src/state/store';
import { FAIL2BAN_SCHEMA, importFail2banDb, tailerFirstLineHash } from '../src/state/fail2ban-db';
import { Tailer } from '../src/tailer';
import type { TailBatch, TailEvent } from '../src/types';
import { tmpDir } from './helpers/tmp';

const T0 = 1_700_000_000;
const DIST = path.resolve(__dirname, '..');

// ---- fail2ban's own Fail2BanDb, through python3 ----

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const F2B_SITE = '/usr/lib/python3/dist-packages';
const fail2banMissing =
  spawnSync(PYTHON, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import fail2ban.server.database', F2B_SITE], { timeout: 30_000 }).status === 0
    ? false
    : 'python3 with the fail2ban package (Debian: apt-get install fail2ban) is not installed';

/** Runs ops against fail2ban's Fail2BanDb on `db`; returns one result per op that has one. */
const PY_DRIVER = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from fail2ban.server.database import Fail2BanDb
from fail2ban.server.ticket import BanTicket
from fail2ban.server.mytime import MyTime
req = json.load(sys.stdin)
class Actions:
    def getBanTime(self): return 600
class Jail:
    def __init__(self, name): self.name = name; self.actions = Actions()
class Log:
    def __init__(self, op): self.op = op
    def getFileName(self): return self.op['path']
    def getPos(self): return self.op['pos']
    def getHash(self): return self.op['hash']
db = Fail2BanDb(req['db'], purgeAge=req.get('purgeage', 86400))
if 'maxmatches' in req: db.maxMatches = req['maxmatches']
jails = {}
def jail(name):
    if name is None: return None
    if name not in jails:
        jails[name] = Jail(name)
        db.addJail(jails[name])
    return jails[name]
out = []
for op in req['ops']:
    k = op['op']
    if k == 'ban':
        t = BanTicket(op['ip'], op['time'], op.get('matches'))
        t.setBanTime(op['bantime'])
        t.setBanCount(op['bancount'])
        t.setAttempt(op['failures'])
        for key, v in op.get('data', {}).items():
            t.setData(key, set(v) if isinstance(v, list) else v)
        db.addBan(jail(op['jail']), t)
    elif k == 'log':
        db.addLog(jail(op['jail']), Log(op))
    elif k == 'journal':
        db.updateJournal(jail(op['jail']), 'systemd-journal', op['time'], op['iso'])
    elif k == 'getBan':
        rows = db.getBan(op['ip'], jail(op.get('jail')), overalljails=op.get('overall'), fromtime=op.get('since'))
        out.append([list(r) for r in rows])
    elif k == 'merged':
        t = db.getBansMerged(ip=op['ip'], jail=jail(op.get('jail')))
        out.append(None if t is None else {'time': t.getTime(), 'failures': t.getAttempt(), 'matches': t.getMatches()})
    elif k == 'current':
        out.append(sorted([[str(t.getID()), t.getTime(), t.getBanTime(), t.getBanCount(), t.getMatches()]
                           for t in db.getCurrentBans(jail=jail(op.get('jail')), fromtime=op['now'], correctBanTime=False)]))
    elif k == 'purge':
        MyTime.setTime(op['now'])
        db.purge()
        MyTime.setTime(None)
db.close()
print(json.dumps(out))
`;

function fail2ban(db: string, ops: object[], extra: Record<string, unknown> = {}): unknown[] {
  const r = spawnSync(PYTHON, ['-c', PY_DRIVER, F2B_SITE], { input: JSON.stringify({ db, ops, ...extra }), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `fail2ban driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown[];
}

// ---- helpers ----

function openStore(t: { after(fn: () => void): void }, file: string, maxMatches?: number): StateStore {
  const store = StateStore.open(file, { maxMatches });
  t.after(() => store.close());
  return store;
}

const ticket = (id: string, last: number, over: Partial<StoredTicket> = {}): StoredTicket => ({
  id,
  first: last - 30,
  last,
  retry: 2,
  failures: 3,
  matches: [`failure line of ${id}`],
  fields: { user: 'root' },
  ...over,
});

function rows(file: string, sql: string): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

function throwsStateDb(fn: () => unknown, file: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof F2bError, String(e));
    assert.equal(e.code, 'STATE_DB');
    assert.equal(e.file, file);
    assert.match(e.describe(), message);
    assert.ok(e.describe().includes(file));
    return true;
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---- the store ----

test('open creates the directory (0700) and the file (0600), in WAL mode, with fail2ban-compatible ban tables', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'lib', 'f2b', 'state.sqlite3');
  openStore(t, file).close();
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const db = new Database(file);
  t.after(() => db.close());
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.prepare('SELECT version FROM f2b_schema').pluck().get(), SCHEMA_VERSION);
  const cols = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  assert.deepEqual(cols('bans'), ['jail', 'ip', 'timeofban', 'bantime', 'bancount', 'data']);
  assert.deepEqual(cols('bips'), ['ip', 'jail', 'timeofban', 'bantime', 'bancount', 'data']);
  assert.deepEqual(cols('f2b_tickets'), ['jail', 'id', 'first', 'last', 'retry', 'failures', 'matches', 'fields']);
});

test('bans, tickets, positions and cursors survive a reopen', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  let store = StateStore.open(file);
  store.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0 + 0.5, bantime: 600, bancount: 1, data: { matches: ['a', 'b'], failures: 3, user: 'root' } });
  store.addBan({ jail: 'sshd', ip: '192.0.2.2', timeofban: T0 - 1000, bantime: 600, bancount: 1 });
  store.addBan({ jail: 'recidive', ip: '192.0.2.1', timeofban: T0 - 100, bantime: -1, bancount: 4, data: { failures: 5 } });
  store.saveTickets('sshd', [ticket('198.51.100.1', T0), ticket('198.51.100.2', T0 - 5), ticket('198.51.100.3', T0 - 1)], []);
  store.saveTickets('sshd', [ticket('198.51.100.1', T0 + 1, { retry: 3, matches: ['x', 'y'] })], ['198.51.100.3']);
  store.saveTickets('nginx', [ticket('203.0.113.9', T0)], []);
  store.savePosition('/var/log/auth.log', { position: 4096, firstLineHash: '0123456789abcdef', linesRead: 40 }, T0);
  store.saveCursor('sshd', 's=abc;i=1', T0 - 3);
  store.close();

  store = openStore(t, file);
  const current = store.currentBans(T0 + 1);
  assert.deepEqual(current, [
    { jail: 'recidive', ip: '192.0.2.1', timeofban: T0 - 100, bantime: -1, bancount: 4, data: { matches: [], failures: 5 } },
    // T0 + 0.5 rounds half to even, as Python's round() does
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0, bantime: 600, bancount: 1, data: { matches: ['a', 'b'], failures: 3, user: 'root' } },
  ] satisfies BanRecord[]);
  assert.deepEqual(store.currentBans(T0 + 1, 'sshd').map((b) => b.ip), ['192.0.2.1']);
  assert.deepEqual(store.currentBans(T0 + 600).map((b) => `${b.jail}/${b.ip}`), ['recidive/192.0.2.1']);
  assert.deepEqual(store.loadTickets('sshd'), [ticket('198.51.100.2', T0 - 5), ticket('198.51.100.1', T0 + 1, { retry: 3, matches: ['x', 'y'] })]);
  assert.deepEqual(store.loadTickets('nginx'), [ticket('203.0.113.9', T0)]);
  assert.deepEqual(store.loadPosition('/var/log/auth.log'), { position: 4096, firstLineHash: '0123456789abcdef', linesRead: 40 });
  assert.equal(store.loadPosition('/var/log/other.log'), undefined);
  assert.deepEqual(store.loadCursor('sshd'), { cursor: 's=abc;i=1', time: T0 - 3 });
  assert.equal(store.loadCursor('nginx'), undefined);
  assert.equal(store.clearTickets('sshd'), 2);
  assert.deepEqual(store.loadTickets('sshd'), []);
  assert.equal(store.clearTickets(), 1);
  assert.deepEqual(store.loadTickets('nginx'), []);
});

test('currentBansPage and currentBanTimesPage read a jail\'s current bans a page at a time, in currentBans\' order', (t) => {
  const store = openStore(t, path.join(tmpDir(t), 'state.db'));
  store.transaction(() => {
    // three bans at each of 7 times (the pages split ties by address), a permanent one, one
    // over, and another jail's
    for (let i = 0; i < 21; i++) store.addBan({ jail: 'sshd', ip: `192.0.2.${(i * 37) % 250}`, timeofban: T0 - 100 + Math.floor(i / 3), bantime: 600, bancount: 1, data: { failures: i } });
    store.addBan({ jail: 'sshd', ip: '2001:db8::1', timeofban: T0 - 50, bantime: -1, bancount: 2 });
    store.addBan({ jail: 'sshd', ip: '198.51.100.1', timeofban: T0 - 1000, bantime: 600, bancount: 1 });
    store.addBan({ jail: 'nginx', ip: '192.0.2.5', timeofban: T0 - 99, bantime: 600, bancount: 1 });
  });
  const all = store.currentBans(T0, 'sshd');
  assert.equal(all.length, 22);
  for (const limit of [1, 2, 3, 4, 22, 100]) {
    const pages: BanRecord[] = [];
    const times: [string, number, number][] = [];
    for (let after: BanRecord | null = null; ; ) {
      const page = store.currentBansPage(T0, 'sshd', after, limit);
      assert.ok(page.length <= limit);
      pages.push(...page);
      if (page.length < limit) break;
      after = page[page.length - 1];
    }
    for (let after: [string, number, number] | null = null; ; ) {
      const page = store.currentBanTimesPage(T0, 'sshd', after, limit);
      times.push(...page);
      if (page.length < limit) break;
      after = page[page.length - 1];
    }
    assert.deepEqual(pages, all, `limit ${limit}`);
    assert.deepEqual(times, all.map((b) => [b.ip, b.timeofban, b.bantime]), `limit ${limit}`);
  }
});

test('a transaction commits everything or, when fn throws, nothing', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const store = openStore(t, file);
  store.savePosition('/log', { position: 10, firstLineHash: 'h', linesRead: 1 }, T0);
  const boom = new Error('boom');
  assert.throws(
    () =>
      store.transaction(() => {
        store.saveTickets('sshd', [ticket('192.0.2.1', T0)], []);
        store.addBan({ jail: 'sshd', ip: '192.0.2.2', timeofban: T0, bantime: 600, bancount: 1 });
        store.savePosition('/log', { position: 20, firstLineHash: 'h', linesRead: 2 }, T0);
        store.saveCursor('j', 'c', T0);
        throw boom;
      }),
    (e) => e === boom,
  );
  assert.deepEqual(store.loadTickets('sshd'), []);
  assert.deepEqual(store.currentBans(T0), []);
  assert.equal(rows(file, 'SELECT count(*) AS n FROM bans')[0].n, 0);
  assert.equal(store.loadPosition('/log')?.position, 10);
  assert.equal(store.loadCursor('j'), undefined);

  // a nested transaction is a savepoint: its failure undoes only its own part
  const n = store.transaction(() => {
    store.saveTickets('sshd', [ticket('192.0.2.1', T0)], []);
    assert.throws(() =>
      store.transaction(() => {
        store.saveTickets('sshd', [ticket('192.0.2.9', T0)], []);
        throw boom;
      }),
    );
    return 42;
  });
  assert.equal(n, 42);
  assert.deepEqual(store.loadTickets('sshd').map((x) => x.id), ['192.0.2.1']);

  // an async fn would be committed before its work is done: refused, and rolled back
  assert.throws(
    () =>
      store.transaction(() => {
        store.saveCursor('async', 'c', T0);
        return Promise.resolve();
      }),
    /must be synchronous/,
  );
  assert.equal(store.loadCursor('async'), undefined);
});

test('write-behind: units are queued and merged, written by flush in one transaction; close writes them too', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const store = openStore(t, file);
  store.deferWrites();
  const count = (sql: string) => rows(file, sql)[0].n as number;
  // the daemon's burst: one ticket created, updated, then banned and deleted, in three units
  const live = ticket('192.0.2.1', T0);
  store.unit(() => {
    store.saveTickets('sshd', [live, ticket('192.0.2.7', T0)], []);
    store.savePosition('/log', { position: 10, firstLineHash: 'h', linesRead: 1 }, T0);
  });
  store.unit(() => {
    live.retry = 2;
    live.last = T0 + 1;
    store.saveTickets('sshd', [live], []);
    store.savePosition('/log', { position: 20, firstLineHash: 'h', linesRead: 2 }, T0 + 1);
    store.saveCursor('journal', 'c1', T0);
  });
  store.unit(() => {
    store.saveTickets('sshd', [], ['192.0.2.1']);
    store.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0 + 2, bantime: 600, bancount: 1, data: { failures: 3 } });
    store.savePosition('/log', { position: 30, firstLineHash: 'h', linesRead: 3 }, T0 + 2);
    store.saveCursor('journal', 'c2', T0 + 2);
  });
  // nothing is in the file yet
  assert.equal(count('SELECT count(*) AS n FROM bans'), 0);
  assert.equal(count('SELECT count(*) AS n FROM f2b_positions'), 0);
  assert.equal(store.pendingWrites.rows, 5);
  // merged: two tickets (one of them deleted), one ban, the last position and cursor
  assert.equal(store.flush(), 5);
  assert.equal(store.pendingWrites.rows, 0);
  assert.equal(store.flush(), 0);
  assert.deepEqual(rows(file, 'SELECT id FROM f2b_tickets'), [{ id: '192.0.2.7' }]);
  assert.deepEqual(rows(file, 'SELECT ip FROM bips'), [{ ip: '192.0.2.1' }]);
  assert.deepEqual(rows(file, 'SELECT position, lines_read FROM f2b_positions'), [{ position: 30, lines_read: 3 }]);
  assert.deepEqual(rows(file, 'SELECT cursor FROM f2b_cursors'), [{ cursor: 'c2' }]);

  // a write outside a unit is queued too; close() writes what is queued
  store.saveCursor('journal', 'c3', T0 + 3);
  assert.deepEqual(rows(file, 'SELECT cursor FROM f2b_cursors'), [{ cursor: 'c2' }]);
  store.close();
  assert.deepEqual(rows(file, 'SELECT cursor FROM f2b_cursors'), [{ cursor: 'c3' }]);
});

test('write-behind: a unit that reads sees every queued write and its own, and still commits whole or not at all', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const store = openStore(t, file);
  store.deferWrites();
  const positions = () => rows(file, 'SELECT position FROM f2b_positions ORDER BY position').map((r) => r.position);
  store.unit(() => store.savePosition('/a', { position: 1, firstLineHash: 'h', linesRead: 1 }, T0));
  store.unit(() => {
    store.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0, bantime: 600, bancount: 1 });
    // the read writes what is queued, in a transaction the unit keeps open
    assert.deepEqual(store.bannedJails('192.0.2.1', T0), ['sshd']);
    assert.deepEqual(positions(), [], 'nothing committed during the unit');
    store.savePosition('/b', { position: 2, firstLineHash: 'h', linesRead: 1 }, T0);
    assert.equal(store.loadPosition('/b')?.position, 2);
    assert.equal(store.pendingWrites.rows, 0, 'inside the transaction, writes are not queued');
  });
  assert.deepEqual(positions(), [1, 2]);
  assert.deepEqual(rows(file, 'SELECT ip FROM bans'), [{ ip: '192.0.2.1' }]);

  // a unit that throws after reading: its transaction is rolled back; what was queued before
  // the read (earlier units' writes and its own) stays queued
  store.unit(() => store.savePosition('/c', { position: 3, firstLineHash: 'h', linesRead: 1 }, T0));
  const boom = new Error('boom');
  assert.throws(
    () =>
      store.unit(() => {
        store.savePosition('/d', { position: 4, firstLineHash: 'h', linesRead: 1 }, T0);
        assert.equal(store.loadPosition('/c')?.position, 3);
        store.savePosition('/e', { position: 5, firstLineHash: 'h', linesRead: 1 }, T0);
        throw boom;
      }),
    (e) => e === boom,
  );
  assert.deepEqual(positions(), [1, 2]);
  assert.ok(store.pendingWrites.rows >= 1);
  store.flush();
  assert.deepEqual(positions(), [1, 2, 3, 4]);
  assert.equal(store.loadPosition('/e'), undefined);

  // a unit that throws without reading keeps its writes: they are what memory holds
  assert.throws(() =>
    store.unit(() => {
      store.savePosition('/f', { position: 6, firstLineHash: 'h', linesRead: 1 }, T0);
      throw boom;
    }),
  );
  store.flush();
  assert.deepEqual(positions(), [1, 2, 3, 4, 6]);
});

test('write-behind: a flush that fails (database locked) keeps the writes for the next one', (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const store = StateStore.open(file, { busyTimeoutMs: 50 });
  t.after(() => store.close());
  store.deferWrites();
  store.unit(() => {
    store.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0, bantime: 600, bancount: 1 });
    store.savePosition('/a', { position: 1, firstLineHash: 'h', linesRead: 1 }, T0);
  });
  const other = new Database(file);
  other.exec('BEGIN IMMEDIATE');
  assert.throws(() => store.flush(), (e) => e instanceof F2bError && /locked|busy/i.test(e.message));
  assert.equal(store.pendingWrites.rows, 2);
  store.unit(() => store.savePosition('/a', { position: 2, firstLineHash: 'h', linesRead: 2 }, T0));
  other.exec('ROLLBACK');
  other.close();
  assert.equal(store.flush(), 2);
  assert.deepEqual(rows(file, 'SELECT ip FROM bans'), [{ ip: '192.0.2.1' }]);
  assert.deepEqual(rows(file, 'SELECT position FROM f2b_positions'), [{ position: 2 }]);
});

test('children killed with SIGKILL mid-loop lose no reported commit and leave no partial transaction', { timeout: 180_000 }, async (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  // each transaction writes 40 tickets, 40 bans and the position: a kill lands inside one often;
  // each child carries on from what the previous one committed
  const child = String.raw`
    const fs = require('node:fs');
    const { StateStore } = require(process.argv[1]);
    const store = StateStore.open(process.argv[2]);
    const start = (store.loadPosition('/crash.log')?.linesRead ?? 0) + 1;
    for (let i = start; i < start + 20000; i++) {
      store.transaction(() => {
        const tickets = [];
        for (let k = 0; k < 40; k++) tickets.push({ id: i + '-' + k, first: i, last: i, retry: 1, failures: 1, matches: ['line ' + k], fields: {} });
        store.saveTickets('crash', tickets, []);
        for (let k = 0; k < 40; k++) store.addBan({ jail: 'crash', ip: '10.' + (i % 200) + '.0.' + k, timeofban: i, bantime: 600, bancount: i, data: { matches: ['m'], failures: 1 } });
        store.savePosition('/crash.log', { position: i * 100, firstLineHash: 'h', linesRead: i }, i);
      });
      fs.writeSync(1, i + '\n');
    }
  `;
  let committed = 0;
  for (let round = 0; round < 3; round++) {
    const proc = spawn(process.execPath, ['-e', child, path.join(DIST, 'src/state/store.js'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
    let reported = 0;
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const done = out.split('\n');
      out = done.pop()!;
      for (const line of done) reported = Math.max(reported, Number(line));
    });
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    const target = committed + 15 + round * 7;
    await waitFor(`child ${round} to report commit ${target}`, () => reported >= target || proc.exitCode !== null, 60_000);
    assert.equal(proc.exitCode, null, `child ${round} ended early: ${err}`);
    proc.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    const store = StateStore.open(file);
    try {
      const n = store.loadPosition('/crash.log')?.linesRead ?? 0;
      assert.ok(n >= reported, `round ${round}: ${reported} commits reported, ${n} found`);
      assert.deepEqual(store.loadPosition('/crash.log'), { position: n * 100, firstLineHash: 'h', linesRead: n });
      assert.equal(store.loadTickets('crash').length, 40 * n, `round ${round}: tickets of ${n} transactions`);
      assert.deepEqual(rows(file, 'SELECT count(*) AS n, max(timeofban) AS last FROM bans')[0], { n: 40 * n, last: n }, `round ${round}: bans`);
      assert.equal(store.currentBans(n).filter((b) => b.timeofban === n).length, 40);
      committed = n;
    } finally {
      store.close();
    }
  }
});

test('a newer layout, a file that is not a database and old fail2ban tables are refused with the path', (t) => {
  const dir = tmpDir(t);
  const newer = path.join(dir, 'newer.db');
  StateStore.open(newer).close();
  const db = new Database(newer);
  db.prepare('UPDATE f2b_schema SET version = ?').run(SCHEMA_VERSION + 1);
  db.close();
  throwsStateDb(() => StateStore.open(newer), newer, new RegExp(`layout version ${SCHEMA_VERSION + 1} is newer`));

  const garbage = path.join(dir, 'garbage.db');
  fs.writeFileSync(garbage, 'this is a text file, not SQLite\n'.repeat(200));
  throwsStateDb(() => StateStore.open(garbage), garbage, /file is not a database/);

  const old = path.join(dir, 'fail2ban-v2.sqlite3');
  const o = new Database(old);
  o.exec('CREATE TABLE fail2banDb(version INTEGER); INSERT INTO fail2banDb VALUES (2); CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL, data JSON);');
  o.close();
  throwsStateDb(() => StateStore.open(old), old, /table bans lacks column\(s\) bantime, bancount/);

  const blocked = path.join(dir, 'file-not-dir');
  fs.writeFileSync(blocked, '');
  throwsStateDb(() => StateStore.open(path.join(blocked, 'state.db')), path.join(blocked, 'state.db'), /cannot open the state database/);
});

test('addBan keeps the last dbmaxmatches lines; dbmaxmatches 0 stores none', (t) => {
  const dir = tmpDir(t);
  const lines = Array.from({ length: 15 }, (_, i) => `line ${i}`);
  for (const [max, want] of [
    [10, lines.slice(5)],
    [3, lines.slice(12)],
    [0, undefined],
  ] as const) {
    const file = path.join(dir, `m${max}.db`);
    const store = openStore(t, file, max);
    store.addBan({ jail: 'sshd', ip: '192.0.2.1', timeofban: T0, bantime: 600, bancount: 1, data: { matches: lines, failures: 15 } });
    for (const table of ['bans', 'bips']) {
      const data = JSON.parse(rows(file, `SELECT data FROM ${table}`)[0].data as string) as { matches?: string[]; failures: number };
      assert.deepEqual(data.matches, want, `${table}, dbmaxmatches ${max}`);
      assert.equal(data.failures, 15);
    }
  }
});

test('deleteBan, deleteBans and bannedJails', (t) => {
  const store = openStore(t, path.join(tmpDir(t), 'state.db'));
  const ban = (jail: string, ip: string, timeofban: number, bantime = 600) => store.addBan({ jail, ip, timeofban, bantime, bancount: 1 });
  ban('sshd', '192.0.2.1', T0 - 5000);
  ban('sshd', '192.0.2.1', T0);
  ban('nginx', '192.0.2.1', T0, -1);
  ban('dovecot', '192.0.2.1', T0 - 5000);
  ban('sshd', '192.0.2.2', T0);
  ban('nginx', '192.0.2.3', T0);
  assert.deepEqual(store.bannedJails('192.0.2.1', T0 + 10), ['nginx', 'sshd']);
  assert.deepEqual(store.bannedJails('192.0.2.1', T0 + 700), ['nginx']);
  assert.equal(store.deleteBan('sshd', '192.0.2.1'), 1);
  assert.deepEqual(store.bannedJails('192.0.2.1', T0), ['nginx']);
  assert.equal(store.mergedBans('192.0.2.1', 'sshd'), undefined);
  assert.equal(store.deleteBan(undefined, '192.0.2.1'), 2);
  assert.equal(store.mergedBans('192.0.2.1'), undefined);
  assert.equal(store.banHistory('192.0.2.1', { overalljails: true }), undefined);
  assert.equal(store.deleteBans('nginx'), 1);
  assert.deepEqual(store.currentBans(T0).map((b) => b.ip), ['192.0.2.2']);
  assert.equal(store.deleteBans(), 1);
  assert.deepEqual(store.currentBans(T0), []);
  assert.equal(store.mergedBans('192.0.2.2'), undefined);
});

/** Bans across jails for banHistory / mergedBans, written by our store. */
function seedHistory(store: StateStore): void {
  const ban = (jail: string, ip: string, timeofban: number, bantime: number, bancount: number, matches: string[], failures: number) =>
    store.addBan({ jail, ip, timeofban, bantime, bancount, data: { matches, failures } });
  ban('sshd', '192.0.2.1', T0 - 9000, 600, 1, ['s1', 's2'], 2);
  ban('sshd', '192.0.2.1', T0 - 3000, 1200, 2, ['s3', 's4', 's5'], 3);
  ban('nginx', '192.0.2.1', T0 - 2000, 300, 1, ['n1'], 1);
  ban('recidive', '192.0.2.1', T0 - 500, 604800, 3, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'], 9);
  ban('sshd', '192.0.2.2', T0 - 100, 600, 1, ['x'], 1);
}

test('banHistory: the jail row, the latest row, the overalljails sums; since', (t) => {
  const store = openStore(t, path.join(tmpDir(t), 'state.db'));
  seedHistory(store);
  assert.deepEqual(store.banHistory('192.0.2.1', { jail: 'sshd' }), { bancount: 2, timeofban: T0 - 3000, bantime: 1200 });
  assert.deepEqual(store.banHistory('192.0.2.1', { jail: 'nginx' }), { bancount: 1, timeofban: T0 - 2000, bantime: 300 });
  assert.equal(store.banHistory('192.0.2.1', { jail: 'dovecot' }), undefined);
  assert.deepEqual(store.banHistory('192.0.2.1'), { bancount: 3, timeofban: T0 - 500, bantime: 604800 });
  // overalljails ignores the jail: sums over the latest row of every jail
  assert.deepEqual(store.banHistory('192.0.2.1', { jail: 'sshd', overalljails: true }), { bancount: 6, timeofban: T0 - 500, bantime: 606300 });
  assert.deepEqual(store.banHistory('192.0.2.1', { overalljails: true, since: T0 - 2500 }), { bancount: 4, timeofban: T0 - 500, bantime: 605100 });
  assert.equal(store.banHistory('192.0.2.1', { jail: 'sshd', since: T0 - 3000 }), undefined);
  assert.equal(store.banHistory('203.0.113.1', { overalljails: true }), undefined);
});

test('banHistory, mergedBans and currentBans answer as fail2ban\'s getBan, getBansMerged and getCurrentBans do on the same file', { skip: fail2banMissing }, (t) => {
  const file = path.join(tmpDir(t), 'state.db');
  const store = StateStore.open(file);
  seedHistory(store);
  const ours = [
    ...[
      { ip: '192.0.2.1', jail: 'sshd' },
      { ip: '192.0.2.1', jail: 'nginx' },
      { ip: '192.0.2.1', jail: 'dovecot' },
      { ip: '192.0.2.1', jail: 'sshd', overall: true },
      { ip: '192.0.2.1', overall: true, since: T0 - 2500 },
      { ip: '192.0.2.1', jail: 'recidive', since: T0 - 2500 },
      { ip: '192.0.2.2', overall: true },
    ].map((q) => {
      const h = store.banHistory(q.ip, { jail: q.jail, overalljails: q.overall, since: q.since });
      return { op: 'getBan', ...q, want: h ? [[h.bancount, h.timeofban, h.bantime]] : [] };
    }),
    ...[{ ip: '192.0.2.1' }, { ip: '192.0.2.1', jail: 'sshd' }, { ip: '192.0.2.2', jail: 'sshd' }].map((q) => {
      const m = store.mergedBans(q.ip, q.jail);
      return { op: 'merged', ...q, want: m ? { time: m.time, failures: m.failures, matches: m.matches } : null };
    }),
    ...[T0 - 1000, T0 + 1000].map((now) => ({
      op: 'current',
      now,
      want: store
        .currentBans(now)
        .map((b) => [b.ip, b.timeofban, b.bantime, b.bancount, b.data.matches])
        // fail2ban's all-jails query keeps one row per ip (its latest)
        .filter((r, _i, all) => !all.some((o) => o[0] === r[0] && (o[1] as number) > (r[1] as number)))
        .sort(),
    })),
  ];
  store.close();
  const answers = fail2ban(file, ours);
  assert.deepEqual(answers, ours.map((q) => q.want));
});

test('purge removes what fail2ban\'s purge removes, old tickets, and positions of vanished files', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'state.db');
  const store = openStore(t, file);
  const day = 86400;
  const ban = (ip: string, timeofban: number, bantime: number) => store.addBan({ jail: 'sshd', ip, timeofban, bantime, bancount: 1 });
  ban('192.0.2.1', T0 - 2 * day, 600); // history purged; bips: 2d + 1800 < now - 1d -> purged
  ban('192.0.2.2', T0 - 2 * day, -1); // permanent: bips kept
  ban('192.0.2.3', T0 - 2 * day, day); // bips: -2d + 3d > -1d -> kept for increment
  ban('192.0.2.4', T0 - 3600, 600); // recent: both kept
  store.saveTickets('sshd', [ticket('198.51.100.1', T0 - 2 * day), ticket('198.51.100.2', T0 - 3600)], []);
  store.saveTickets('recidive', [ticket('198.51.100.3', T0 - 2 * day), ticket('198.51.100.4', T0 - 8 * day)], []);
  const kept = path.join(dir, 'kept.log');
  fs.writeFileSync(kept, 'x\n');
  const pos = { position: 2, firstLineHash: 'h', linesRead: 1 };
  store.savePosition(kept, pos, T0 - 5 * day);
  store.savePosition(path.join(dir, 'gone.log'), pos, T0 - 5 * day);
  store.savePosition(path.join(dir, 'gone-recently.log'), pos, T0 - 3600);
  store.savePosition(path.join(dir, 'no-dir', 'gone.log'), pos, T0 - 5 * day);

  const counts = store.purge(T0, day, { findtimes: { recidive: 7 * day, sshd: 600 } });
  assert.deepEqual(counts, { bans: 3, bips: 1, tickets: 2, positions: 2 });
  assert.deepEqual(
    rows(file, 'SELECT ip FROM bans ORDER BY ip').map((r) => r.ip),
    ['192.0.2.4'],
  );
  assert.deepEqual(
    rows(file, 'SELECT ip FROM bips ORDER BY ip').map((r) => r.ip),
    ['192.0.2.2', '192.0.2.3', '192.0.2.4'],
  );
  assert.deepEqual(store.loadTickets('sshd').map((x) => x.id), ['198.51.100.2']);
  // recidive's findtime (1w) is longer than dbpurgeage: its 2-day-old ticket still counts
  assert.deepEqual(store.loadTickets('recidive').map((x) => x.id), ['198.51.100.3']);
  assert.deepEqual(store.loadPosition(kept), pos);
  assert.deepEqual(store.loadPosition(path.join(dir, 'gone-recently.log')), pos);
  assert.equal(store.loadPosition(path.join(dir, 'gone.log')), undefined);
  assert.equal(store.loadPosition(path.join(dir, 'no-dir', 'gone.log')), undefined);
});

test('purge keeps the same ban rows as fail2ban\'s purge of the same database', { skip: fail2banMissing }, (t) => {
  const dir = tmpDir(t);
  const ours = path.join(dir, 'ours.db');
  const theirs = path.join(dir, 'theirs.sqlite3');
  // a spread of ages and ban times around the limits, written by fail2ban itself
  const ops: object[] = [];
  let n = 0;
  for (const age of [0, 3600, 86399, 86401, 2 * 86400, 4 * 86400]) {
    for (const bantime of [-1, 600, 43200, 86400, 3 * 86400]) {
      ops.push({ op: 'ban', jail: n % 2 ? 'sshd' : 'nginx', ip: `192.0.2.${++n}`, time: T0 - age, bantime, bancount: 1, failures: 1 });
    }
  }
  fail2ban(theirs, ops);
  fs.copyFileSync(theirs, ours);
  fail2ban(theirs, [{ op: 'purge', now: T0 }]);
  const store = openStore(t, ours);
  store.purge(T0, 86400);
  store.close();
  for (const table of ['bans', 'bips']) {
    const q = `SELECT jail, ip, timeofban, bantime FROM ${table} ORDER BY ip, jail`;
    assert.deepEqual(rows(ours, q), rows(theirs, q), table);
  }
  assert.ok(rows(ours, 'SELECT ip FROM bips').length > 0 && rows(ours, 'SELECT ip FROM bips').length < n);
});

test('the store opens fail2ban\'s own file in place, and fail2ban reads the bans it adds', { skip: fail2banMissing }, (t) => {
  const file = path.join(tmpDir(t), 'fail2ban.sqlite3');
  fail2ban(file, [{ op: 'ban', jail: 'sshd', ip: '192.0.2.1', time: T0 - 10, bantime: 600, bancount: 1, failures: 2, matches: [['Jan  1 ', '00:00:01', ' host sshd: fail'], 'plain line'] }]);
  const store = StateStore.open(file);
  assert.deepEqual(store.currentBans(T0), [
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 10, bantime: 600, bancount: 1, data: { matches: ['Jan  1 00:00:01 host sshd: fail', 'plain line'], failures: 2 } },
  ]);
  store.addBan({ jail: 'sshd', ip: '192.0.2.7', timeofban: T0, bantime: 1200, bancount: 2, data: { matches: ['ours'], failures: 4 } });
  store.close();
  assert.deepEqual(fail2ban(file, [{ op: 'current', now: T0, jail: 'sshd' }]), [
    [
      ['192.0.2.1', T0 - 10, 600, 1, ['Jan  1 00:00:01 host sshd: fail', 'plain line']],
      ['192.0.2.7', T0, 1200, 2, ['ours']],
    ],
  ]);
});

// ---- import ----

/** A fail2ban database written by fail2ban, the log files its positions point at, and what an
 *  import must make of them. */
function fail2banFixture(dir: string) {
  const src = path.join(dir, 'fail2ban.sqlite3');
  const logA = path.join(dir, 'a.log');
  const logB = path.join(dir, 'b.log');
  const logD = path.join(dir, 'd.log');
  fs.writeFileSync(logA, 'first line of a\nsecond line\nthird line\n');
  fs.writeFileSync(logB, 'b was rotated\nmore\n');
  fs.writeFileSync(logD, 'first line of d\nsecond\n');
  const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
  const twelve = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? [`pre ${i} `, '2023-11-14 22:13:20', ` rest ${i}`] : `line ${i}`));
  const ops = [
    { op: 'ban', jail: 'sshd', ip: '192.0.2.1', time: T0 - 7200, bantime: 600, bancount: 1, failures: 5, matches: twelve, data: { users: ['bob'] } },
    { op: 'ban', jail: 'sshd', ip: '192.0.2.1', time: T0 - 100, bantime: 1200, bancount: 2, failures: 3, matches: [['a ', 'b', ' c'], 'd'] },
    { op: 'ban', jail: 'sshd', ip: '192.0.2.2', time: T0 - 3 * 86400, bantime: -1, bancount: 1, failures: 1, matches: ['perm'] },
    { op: 'ban', jail: 'recidive', ip: '192.0.2.1', time: T0 - 50, bantime: 604800, bancount: 1, failures: 5, matches: [] },
    { op: 'ban', jail: 'apache', ip: '198.51.100.7', time: T0 - 5000, bantime: 600, bancount: 1, failures: 2, matches: ['old'] },
    { op: 'log', jail: 'sshd', path: logA, pos: 'first line of a\nsecond line\n'.length, hash: sha1('first line of a\n') },
    { op: 'log', jail: 'recidive', path: logA, pos: 'first line of a\n'.length, hash: sha1('first line of a\n') },
    { op: 'log', jail: 'sshd', path: logB, pos: 5, hash: sha1('b before rotation\n') },
    { op: 'log', jail: 'sshd', path: path.join(dir, 'missing.log'), pos: 10, hash: sha1('x\n') },
    { op: 'log', jail: 'sshd', path: logD, pos: 3, hash: sha1('first line of d\n') },
    { op: 'journal', jail: 'sshd', time: T0 - 60, iso: '2023-11-14T22:12:20' },
  ];
  fail2ban(src, ops, { maxmatches: 20 });
  const joined = (m: (string | string[])[]) => m.map((x) => (Array.isArray(x) ? x.join('') : x));
  const history = [
    // dbmaxmatches 20 in fail2ban kept all 12; ours (10) keeps the last 10
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 7200, bantime: 600, bancount: 1, data: { matches: joined(twelve).slice(2), failures: 5, users: "['bob']" } },
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 100, bantime: 1200, bancount: 2, data: { matches: ['a b c', 'd'], failures: 3 } },
    { jail: 'sshd', ip: '192.0.2.2', timeofban: T0 - 3 * 86400, bantime: -1, bancount: 1, data: { matches: ['perm'], failures: 1 } },
    { jail: 'recidive', ip: '192.0.2.1', timeofban: T0 - 50, bantime: 604800, bancount: 1, data: { matches: [], failures: 5 } },
    { jail: 'apache', ip: '198.51.100.7', timeofban: T0 - 5000, bantime: 600, bancount: 1, data: { matches: ['old'], failures: 2 } },
  ];
  return { src, logA, logB, logD, history, latest: [history[1], history[2], history[3], history[4]] };
}

function dumpBans(file: string, table: 'bans' | 'bips'): BanRecord[] {
  return rows(file, `SELECT jail, ip, timeofban, bantime, bancount, data FROM ${table} ORDER BY timeofban`).map((r) => ({
    ...(r as unknown as BanRecord),
    data: JSON.parse(r.data as string) as BanRecord['data'],
  }));
}

test('import copies every ban of a database fail2ban wrote, and the positions that still apply; twice is once', { skip: fail2banMissing }, (t) => {
  const dir = tmpDir(t);
  const fx = fail2banFixture(dir);
  const dest = path.join(dir, 'f2b-fast', 'state.db');
  const store = openStore(t, dest);
  const counts = importFail2banDb(store, fx.src, { now: T0 });
  assert.deepEqual(
    { ...counts, notes: counts.notes.map((n) => n.replace(dir, 'DIR')).sort() },
    {
      bans: 4,
      active: 3,
      history: 5,
      positions: 1,
      skipped: 5,
      notes: [
        'DIR/b.log [sshd]: the first line changed since fail2ban saved its position (rotated); reading starts as for a new file',
        `DIR/d.log [sshd]: fail2ban's position 3 is not at a line start; reading starts as for a new file`,
        'DIR/missing.log [sshd]: the file no longer exists; reading starts as for a new file',
        'systemd-journal [sshd]: a journal position is a time, not a cursor; not carried over',
      ].sort(),
    },
  );
  assert.deepEqual(dumpBans(dest, 'bans'), [...fx.history].sort((a, b) => a.timeofban - b.timeofban));
  assert.deepEqual(dumpBans(dest, 'bips'), [...fx.latest].sort((a, b) => a.timeofban - b.timeofban));
  assert.deepEqual(
    store.currentBans(T0).map((b) => `${b.jail}/${b.ip}`),
    ['recidive/192.0.2.1', 'sshd/192.0.2.2', 'sshd/192.0.2.1'],
  );
  assert.deepEqual(store.banHistory('192.0.2.1', { jail: 'sshd' }), { bancount: 2, timeofban: T0 - 100, bantime: 1200 });
  // two jails read a.log: the smaller position wins (re-read a line rather than lose one)
  const a = fs.readFileSync(fx.logA);
  assert.deepEqual(store.loadPosition(fx.logA), { position: 'first line of a\n'.length, firstLineHash: tailerFirstLineHash(a), linesRead: 1 });
  assert.equal(store.loadPosition(fx.logB), undefined);

  const again = importFail2banDb(store, fx.src, { now: T0 });
  assert.deepEqual({ ...again, notes: [] }, { bans: 0, active: 0, history: 0, positions: 0, skipped: 5 + 4 + 2 + 3 + 1, notes: [] });
  assert.equal(dumpBans(dest, 'bans').length, 5);
  assert.equal(dumpBans(dest, 'bips').length, 4);
});

test('an imported position resumes the native tailer at fail2ban\'s offset', { skip: fail2banMissing, timeout: 30_000 }, async (t) => {
  const dir = tmpDir(t);
  const fx = fail2banFixture(dir);
  const store = openStore(t, path.join(dir, 'state.db'));
  importFail2banDb(store, fx.src, { now: T0 });
  const pos = store.loadPosition(fx.logA)!;
  const events: TailEvent[] = [];
  const batches: TailBatch[] = [];
  const tailer = new Tailer({ backend: 'poll', pollIntervalMs: 20, onBatch: (b) => batches.push(b), onEvent: (e) => events.push(e) });
  t.after(() => tailer.close());
  tailer.add(fx.logA, { offset: pos.position, firstLineHash: pos.firstLineHash });
  await waitFor('the file to be opened and read', () => batches.length > 0);
  await tailer.close();
  assert.equal(events[0].kind, 'opened');
  assert.equal(events[0].offset, pos.position);
  assert.equal(events[0].firstLineHash, pos.firstLineHash);
  assert.equal(batches[0].base, pos.position);
  assert.equal(batches[0].buf.toString(), 'second line\nthird line\n');
});

test('tailerFirstLineHash is the hash the native tailer reports', { timeout: 30_000 }, async (t) => {
  const dir = tmpDir(t);
  const files = {
    short: 'Jan  1 00:00:00 host sshd[1]: hello\nsecond\n',
    crlf: 'first\r\nsecond\r\n',
    long: `${'x'.repeat(70_000)}\nsecond\n`,
    unterminatedLong: 'y'.repeat(66_000),
    unterminatedShort: 'no newline yet',
  };
  const events = new Map<number, TailEvent>();
  const tailer = new Tailer({ backend: 'poll', pollIntervalMs: 20, onBatch: () => {}, onEvent: (e) => e.kind === 'opened' && events.set(e.fileId, e) });
  t.after(() => tailer.close());
  const ids = Object.entries(files).map(([name, text]) => {
    const file = path.join(dir, `${name}.log`);
    fs.writeFileSync(file, text);
    return { name, text, id: tailer.add(file, 'head') };
  });
  await waitFor('every file to be opened', () => events.size === ids.length);
  await tailer.close();
  for (const { name, text, id } of ids) {
    assert.equal(tailerFirstLineHash(Buffer.from(text)), events.get(id)!.firstLineHash, name);
  }
  assert.equal(tailerFirstLineHash(Buffer.from(files.unterminatedShort)), '');
});

/** fail2ban before schema 3: bans without bantime and bancount, no bips (the columns fail2ban's
 *  own upgrade code expects). */
function schema2Db(file: string, version = 2): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE fail2banDb(version INTEGER); INSERT INTO fail2banDb VALUES (${version});
    CREATE TABLE jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1);
    CREATE TABLE logs(jail TEXT NOT NULL, path TEXT, firstlinemd5 TEXT, lastfilepos INTEGER DEFAULT 0);
    CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL, data JSON);`);
  const ins = db.prepare('INSERT INTO bans VALUES (?, ?, ?, ?)');
  ins.run('sshd', '192.0.2.1', T0 - 500, Buffer.from(JSON.stringify({ matches: ['one', 'two'], failures: 2 })));
  ins.run('sshd', '192.0.2.1', T0 - 100, Buffer.from(JSON.stringify({ matches: [['x ', 'y', ' z']], failures: 4 })));
  ins.run('sshd', '192.0.2.9', T0 - 50, Buffer.from('not json'));
  db.close();
}

test('import reads a schema-2 fail2ban database as fail2ban\'s upgrade would', (t) => {
  const dir = tmpDir(t);
  const src = path.join(dir, 'old.sqlite3');
  schema2Db(src);
  const dest = path.join(dir, 'state.db');
  const store = openStore(t, dest);
  const counts = importFail2banDb(store, src, { now: T0 });
  assert.deepEqual(counts, { bans: 2, active: 2, history: 3, positions: 0, skipped: 0, notes: [] });
  const unknown = { bantime: -2, bancount: 1 };
  assert.deepEqual(dumpBans(dest, 'bans'), [
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 500, ...unknown, data: { matches: ['one', 'two'], failures: 2 } },
    { jail: 'sshd', ip: '192.0.2.1', timeofban: T0 - 100, ...unknown, data: { matches: ['x y z'], failures: 4 } },
    { jail: 'sshd', ip: '192.0.2.9', timeofban: T0 - 50, ...unknown, data: { matches: [], failures: 1 } },
  ]);
  assert.deepEqual(dumpBans(dest, 'bips').map((b) => [b.ip, b.timeofban]), [
    ['192.0.2.1', T0 - 100],
    ['192.0.2.9', T0 - 50],
  ]);
  assert.deepEqual(importFail2banDb(store, src, { now: T0 }), { bans: 0, active: 0, history: 0, positions: 0, skipped: 3 + 2, notes: [] });
});

test('import refuses what is not a fail2ban database, naming the file', (t) => {
  const dir = tmpDir(t);
  const store = openStore(t, path.join(dir, 'state.db'));
  const other = path.join(dir, 'other.sqlite3');
  const db = new Database(other);
  db.exec('CREATE TABLE notes(x TEXT)');
  db.close();
  throwsStateDb(() => importFail2banDb(store, other, { now: T0 }), other, /not a fail2ban database \(no fail2banDb table\)/);
  const ours = path.join(dir, 'ours.db');
  StateStore.open(ours).close();
  throwsStateDb(() => importFail2banDb(store, ours, { now: T0 }), ours, /an f2b-fast state database, not fail2ban's/);
  const text = path.join(dir, 'text.sqlite3');
  fs.writeFileSync(text, 'hello\n'.repeat(100));
  throwsStateDb(() => importFail2banDb(store, text, { now: T0 }), text, /file is not a database/);
  const missing = path.join(dir, 'missing.sqlite3');
  throwsStateDb(() => importFail2banDb(store, missing, { now: T0 }), missing, /no such file/);
  const future = path.join(dir, 'future.sqlite3');
  schema2Db(future, FAIL2BAN_SCHEMA + 1);
  throwsStateDb(() => importFail2banDb(store, future, { now: T0 }), future, new RegExp(`fail2ban schema ${FAIL2BAN_SCHEMA + 1} is newer`));
  assert.equal(rows(path.join(dir, 'state.db'), 'SELECT count(*) AS n FROM bans')[0].n, 0);
});

// ---- the import-db command ----

function importDb(src: string, opts: Record<string, unknown>) {
  const script = `require(process.argv[1]).importDbCommand(process.argv[2], JSON.parse(process.argv[3])).then((c) => { process.exitCode = c; })`;
  const r = spawnSync(process.execPath, ['-e', script, path.join(DIST, 'src/cli/import-db.js'), src, JSON.stringify(opts)], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('import-db: --db, --json, --dry-run, the config\'s dbfile and dbmaxmatches, and its errors', (t) => {
  const dir = tmpDir(t);
  const src = path.join(dir, 'fail2ban.sqlite3');
  schema2Db(src);
  const dest = path.join(dir, 'out', 'state.db');

  let r = importDb(src, { db: dest, dryRun: true });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^Dry run: would import 2 bans \\(2 still active\\) and 3 history rows from ${src} into ${dest}\n`));
  assert.equal(fs.existsSync(dest), false);

  r = importDb(src, { db: dest });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split('\n')[0], `Imported 2 bans (2 still active) and 3 history rows from ${src} into ${dest}`);
  assert.equal(dumpBans(dest, 'bans').length, 3);

  const before = fs.readFileSync(dest);
  r = importDb(src, { db: dest, dryRun: true, json: true });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { source: src, destination: dest, dryRun: true, bans: 0, active: 0, history: 0, positions: 0, skipped: 3 + 2, notes: [] });
  assert.deepEqual(fs.readFileSync(dest), before);

  // the destination from the config tree: fail2ban.conf's dbfile and dbmaxmatches
  const conf = path.join(dir, 'etc');
  fs.mkdirSync(conf);
  fs.writeFileSync(path.join(conf, 'jail.conf'), '[DEFAULT]\n');
  const confDest = path.join(dir, 'lib', 'f2b.sqlite3');
  fs.writeFileSync(path.join(conf, 'fail2ban.conf'), `[Definition]\ndbfile = ${confDest}\ndbmaxmatches = 1\n`);
  r = importDb(src, { config: conf, json: true });
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { destination: string }).destination, confDest);
  assert.deepEqual(dumpBans(confDest, 'bans').map((b) => b.data.matches), [['two'], ['x y z'], []]);

  fs.writeFileSync(path.join(conf, 'fail2ban.conf'), '[Definition]\ndbfile = None\n');
  r = importDb(src, { config: conf });
  assert.equal(r.code, 255);
  assert.match(r.err, /^f2b-fast: import-db: fail2ban.conf's dbfile = None: there is no database to import into; give --db FILE/);

  r = importDb(path.join(dir, 'nope.sqlite3'), { db: dest });
  assert.equal(r.code, 255);
  assert.match(r.err, /nope\.sqlite3: no such file/);

  r = importDb(dest, { db: path.join(dir, 'other.db') });
  assert.equal(r.code, 255);
  assert.match(r.err, /an f2b-fast state database, not fail2ban's/);
  assert.equal(fs.existsSync(path.join(dir, 'other.db')), false);

  r = importDb(src, { db: src });
  assert.equal(r.code, 255);
  assert.match(r.err, /is the destination itself/);
});
