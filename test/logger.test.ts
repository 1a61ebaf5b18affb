// Our own log, target by target, for real: files (0600, rotation by rename + reopen), STDOUT /
// STDERR / SYSOUT in a child process (a closed stdout too), SYSLOG and SYSTEMD-JOURNAL to unix
// datagram sockets a python3 listener binds (Node cannot), run-time changes of target and level,
// write errors. The line format is checked against fail2ban's own formatter and syslog handler
// (the installed package), and against recidive: f2b-fast regex and fail2ban-regex both read a
// log this logger wrote with /etc/fail2ban/filter.d/recidive.conf.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F2bError } from '../src/errors';
import { compileLogFormat, defaultFormatter, LogSink, Logger, LEVELS, levelName, parseLevel, type LogRecord } from '../src/log/logger';
import { waitFor } from './helpers/logs';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const LOGGER = path.join(ROOT, 'dist/src/log/logger.js');
const PY = '/usr/bin/python3';
const F2B_PY = '/usr/lib/python3/dist-packages';
const RECIDIVE = '/etc/fail2ban/filter.d/recidive.conf';
const haveFail2ban = fs.existsSync(PY) && fs.existsSync(path.join(F2B_PY, 'fail2ban/helpers.py'));

/** Binds a unix datagram socket at `sock` and prints each datagram it receives as hex, until
 *  `count` arrived or `secs` passed. With `wait`, it reads nothing before a line on stdin. */
const LISTENER = `
import socket, sys, time
path, count, secs, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == '1'
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print('ready', flush=True)
if wait:
    sys.stdin.readline()
end = time.time() + secs
got = 0
while got < count and time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        data = s.recv(1 << 20)
    except socket.timeout:
        break
    print(data.hex(), flush=True)
    got += 1
`;

interface Listener {
  /** the datagrams, once the listener has exited */
  done: Promise<Buffer[]>;
  /** lets a `wait` listener start reading */
  go(): void;
}

async function listen(t: TestContext, sock: string, count: number, opts: { secs?: number; wait?: boolean } = {}): Promise<Listener> {
  const child = spawn(PY, ['-c', LISTENER, sock, String(count), String(opts.secs ?? 10), opts.wait ? '1' : '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Buffer[]>((resolve) =>
    child.on('close', () =>
      resolve(
        out
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((h) => Buffer.from(h, 'hex')),
      ),
    ),
  );
  assert.ok(await waitFor(() => out.startsWith('ready\n') || child.exitCode !== null, 10_000), 'listener did not start');
  assert.ok(out.startsWith('ready\n'), `listener failed: ${err}`);
  return { done, go: () => child.stdin.end('go\n') };
}

/** fail2ban's formatter (getVerbosityFormat) and syslog handler on the same records. */
const FAIL2BAN_FORMAT = `
import json, logging, logging.handlers, os, socket, sys
sys.path.insert(0, sys.argv[1])
import fail2ban  # registers NOTICE, MSG, TRACE, HEAVY and NOTICE's syslog priority
from fail2ban.helpers import getVerbosityFormat
req = json.load(sys.stdin)
def record(r):
    x = logging.LogRecord(r['name'], r['level'], 'x.py', 1, r['msg'], None, None)
    x.created = r['ms'] / 1000.0
    x.msecs = r['ms'] % 1000
    x.process = req['pid']
    return x
out = {}
for key, addtime, padding in (('file', True, True), ('sysout', False, True), ('syslog', False, False)):
    f = logging.Formatter(getVerbosityFormat(0, addtime=addtime, padding=padding))
    out[key] = [f.format(record(r)) for r in req['records']]
f = logging.Formatter(req['format'])
out['custom'] = [f.format(record(r)) for r in req['records']]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(req['sock'])
s.settimeout(5)
h = logging.handlers.SysLogHandler(req['sock'], facility=logging.handlers.SysLogHandler.LOG_LOCAL1)
h.setFormatter(logging.Formatter(getVerbosityFormat(0, addtime=False, padding=False)))
out['datagrams'] = []
for r in req['records']:
    h.emit(record(r))
    out['datagrams'].append(s.recv(65536).hex())
h.close()
print(json.dumps(out))
`;

// times whose milliseconds are exact binary fractions, so Python's float msecs cannot round
const T = Date.UTC(2026, 10, 24, 21, 43, 49) + 500;
const RECORDS = [
  { name: 'fail2ban.actions', level: 25, msg: '[sshd] Ban 192.0.2.10', ms: T },
  { name: 'fail2ban.filter', level: 20, msg: '[sshd] Found 192.0.2.10 - 2026-11-24 22:43:49', ms: T + 250 },
  { name: 'fail2ban.server', level: 30, msg: 'tab\there, unicode é→', ms: T + 125 },
  { name: 'fail2ban.a.name.longer.than.24', level: 40, msg: 'long name', ms: T + 1000 },
  { name: 'fail2ban.jail', level: 50, msg: 'critical', ms: T + 2000 },
  { name: 'fail2ban.filter', level: 10, msg: 'debug', ms: T + 3000 },
  { name: 'fail2ban.filter', level: 7, msg: 'trace', ms: T + 4000 },
  { name: 'fail2ban.filter', level: 5, msg: 'heavy', ms: T + 5000 },
  { name: 'fail2ban.filter', level: 18, msg: 'msg', ms: T + 6000 },
  { name: 'fail2ban.filter', level: 3, msg: 'unnamed low', ms: T + 7000 },
  { name: 'fail2ban.filter', level: 55, msg: 'unnamed high', ms: T + 8000 },
];
const CUSTOM = '%(asctime)s %(levelno)03d %(name)-10.5s|%(levelname)8s|%(message)s %% %(process)d';

test("lines and syslog datagrams are byte for byte what fail2ban's own formatter and handler make", { skip: !haveFail2ban && 'fail2ban (python3) is not installed' }, async (t) => {
  const dir = tmpDir(t);
  const py = spawnSync(PY, ['-c', FAIL2BAN_FORMAT, F2B_PY], {
    input: JSON.stringify({ pid: process.pid, records: RECORDS, format: CUSTOM, sock: path.join(dir, 'py.sock') }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(py.status, 0, py.stderr);
  const want = JSON.parse(py.stdout) as { file: string[]; sysout: string[]; syslog: string[]; custom: string[]; datagrams: string[] };

  // file target, through the sink
  const file = path.join(dir, 'f2b.log');
  const sink = new LogSink(file, { level: 'NOTSET' });
  for (const r of RECORDS) sink.write(r.name, r.level, r.msg, r.ms);
  sink.close();
  assert.deepEqual(fs.readFileSync(file, 'utf8').split('\n').slice(0, -1), want.file);

  const rec = (r: (typeof RECORDS)[number]): LogRecord => ({ time: r.ms, name: r.name, level: r.level, message: r.msg });
  assert.deepEqual(RECORDS.map((r) => defaultFormatter({ datetime: false, padding: true })(rec(r))), want.sysout);
  assert.deepEqual(RECORDS.map((r) => compileLogFormat(CUSTOM)(rec(r))), want.custom);

  // SYSLOG[facility=local1] to a real socket: fail2ban's bytes for its named levels (for the
  // unnamed ones, TRACE/HEAVY/MSG/numbers, fail2ban's handler says "warning"; we keep their rank)
  const sock = path.join(dir, 'ours.sock');
  const l = await listen(t, sock, RECORDS.length);
  const syslog = new LogSink('SYSLOG[facility=local1]', { level: 'NOTSET', syslogsocket: sock });
  for (const r of RECORDS) syslog.write(r.name, r.level, r.msg, r.ms);
  syslog.close();
  const got = await l.done;
  assert.equal(got.length, RECORDS.length);
  RECORDS.forEach((r, i) => {
    const text = got[i].toString('utf8');
    const body = text.replace(/^<\d+>/, '');
    assert.equal(body, `${want.syslog[i]}\0`, `record ${i}`);
    if ([10, 20, 25, 30, 40, 50].includes(r.level)) assert.equal(got[i].toString('hex'), want.datagrams[i], `record ${i}`);
  });
  assert.equal(got[6].toString('latin1').slice(0, 5), '<143>'); // local1.debug for TRACEDEBUG
});

test('file target: created 0600, appended to, reopened after logrotate renames it', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'fail2ban.log');
  const sink = new LogSink(file);
  const log = new Logger(sink, 'fail2ban.actions');
  log.notice('[sshd] Ban 192.0.2.1');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  // logrotate: rename, (create), then postrotate's flushlogs
  fs.renameSync(file, `${file}.1`);
  log.notice('[sshd] Ban 192.0.2.2'); // still the old file: nothing told us yet
  assert.equal(sink.reopen(), 'rolled over');
  log.notice('[sshd] Ban 192.0.2.3');
  const old = fs.readFileSync(`${file}.1`, 'utf8');
  const now = fs.readFileSync(file, 'utf8');
  assert.match(old, /Ban 192\.0\.2\.1\n.*Ban 192\.0\.2\.2\n$/);
  assert.match(now, /^.* fail2ban\.server {9}\[\d+\]: INFO {4}rollover performed on .*fail2ban\.log\n.*Ban 192\.0\.2\.3\n$/);
  assert.doesNotMatch(now, /192\.0\.2\.[12]\b/);

  // an existing file (logrotate's `create 640 root adm`) keeps its mode and is appended to
  sink.close();
  fs.chmodSync(file, 0o640);
  const again = new LogSink(file);
  new Logger(again, 'fail2ban.server').info('appended');
  again.close();
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  assert.match(fs.readFileSync(file, 'utf8'), /Ban 192\.0\.2\.3\n.*appended\n$/);
});

test('a target that cannot be written (disk full) is reported once; logging never throws', { skip: !fs.existsSync('/dev/full') && 'no /dev/full' }, (t) => {
  const reports: string[] = [];
  const sink = new LogSink('/dev/full', { report: (m) => reports.push(m) });
  const log = new Logger(sink, 'fail2ban.actions');
  for (let i = 0; i < 5; i++) log.notice(`[sshd] Ban 192.0.2.${i}`);
  assert.equal(reports.length, 1);
  assert.match(reports[0], /cannot write the log to \/dev\/full: ENOSPC/);
  // a working target takes over, and nothing more is reported on stderr
  const file = path.join(tmpDir(t), 'ok.log');
  sink.setTarget(file);
  log.notice('[sshd] Ban 192.0.2.9');
  sink.close();
  assert.equal(reports.length, 1);
  // the new target says what the old one lost
  assert.match(fs.readFileSync(file, 'utf8'), /^.*WARNING 5 log lines were lost at \/dev\/full \(ENOSPC.*\)\n.*Changed logging target to .*ok\.log\n.*Ban 192\.0\.2\.9\n$/);
});

test('set logtarget at run time: every line lands in exactly one target, in order; a refused target keeps the old one', (t) => {
  const dir = tmpDir(t);
  const a = path.join(dir, 'a.log');
  const b = path.join(dir, 'b.log');
  const sink = new LogSink(a);
  const log = new Logger(sink, 'fail2ban.actions');
  for (let i = 0; i < 200; i++) {
    if (i % 7 === 0) sink.setTarget(i % 14 === 0 ? b : a);
    log.notice(`[sshd] Ban 10.0.${i >> 8}.${i & 255}`);
  }
  // refused: a missing directory, a bad format, bad syntax, a syslog socket that is not there
  const before = sink.target;
  for (const bad of [path.join(dir, 'no/such/dir.log'), 'STDOUT[format="%(nope)s"]', 'STDOUT[format=x', '']) {
    assert.throws(() => sink.setTarget(bad), F2bError, bad);
    assert.equal(sink.target, before);
  }
  sink.setSyslogSocket(path.join(dir, 'missing.sock')); // not logging to syslog: only remembered
  assert.equal(sink.syslogsocket, path.join(dir, 'missing.sock'));
  assert.throws(() => sink.setTarget('SYSLOG'), /missing\.sock does not exist or is not a socket/);
  assert.equal(sink.target, before);
  log.notice('[sshd] Ban 10.0.9.9');
  sink.close();
  const ban = (f: string) => [...fs.readFileSync(f, 'utf8').matchAll(/Ban (\S+)/g)].map((m) => m[1]);
  const all = [...ban(a), ...ban(b)];
  assert.equal(all.length, 201);
  assert.equal(new Set(all).size, 201);
  // each file holds its own stretches in order
  for (const f of [a, b]) {
    const idx = ban(f).map((ip) => ip.split('.').map(Number)).map(([, , hi, lo]) => hi * 256 + lo);
    assert.deepEqual(
      idx,
      [...idx].sort((x, y) => x - y),
    );
  }
  assert.equal(sink.target, 'STDERR'); // close() leaves stderr for late lines
});

test('set loglevel at run time reaches every logger; names, numbers and what get loglevel reads back', (t) => {
  const file = path.join(tmpDir(t), 'f.log');
  const sink = new LogSink(file, { level: 'INFO' });
  const actions = new Logger(sink, 'fail2ban.actions');
  const filter = actions.child('fail2ban.filter');
  filter.debug('hidden 1');
  assert.equal(filter.isEnabledFor('DEBUG'), false);
  sink.setLevel('debug');
  filter.debug('shown 1');
  actions.log(LEVELS.TRACEDEBUG, 'hidden 2');
  sink.setLevel('HEAVYDEBUG');
  actions.log(LEVELS.TRACEDEBUG, 'shown 2');
  actions.log(LEVELS.HEAVYDEBUG, 'shown 3');
  sink.setLevel('25');
  assert.equal(sink.levelText, '25');
  actions.info('hidden 3');
  actions.notice('shown 4');
  assert.throws(() => sink.setLevel('LOUD'), F2bError);
  assert.equal(sink.level, 25);
  new Logger(sink, 'fail2ban.server', parseLevel('warning'));
  assert.equal(sink.levelText, 'WARNING');
  actions.notice('hidden 4');
  actions.warn('shown 5');
  sink.close();
  const text = fs.readFileSync(file, 'utf8');
  assert.deepEqual([...text.matchAll(/(hidden|shown) \d/g)].map((m) => m[0]), ['shown 1', 'shown 2', 'shown 3', 'shown 4', 'shown 5']);
  assert.match(text, /: TRACE {3}shown 2\n/);
  assert.match(text, /: HEAVY {3}shown 3\n/);
  assert.deepEqual(['WARN', 'FATAL', 'MSG', 'NOTSET', '7', 'TRACEDEBUG'].map(parseLevel), [30, 50, 18, 0, 7, 7]);
  assert.deepEqual([3, 49, 55].map(levelName), ['#03-Lev.', '#49-Lev.', 'Level 55']);
});

/** Runs a logger in a child process: `target`, options, then `lines` NOTICE lines over `rounds`
 *  turns of the event loop, a DEBUG line, and an exit. */
function child(target: string, opts: object, extra: { closeStdout?: boolean; lines?: number; rounds?: number } = {}) {
  const script = `
    const { LogSink, Logger } = require(${JSON.stringify(LOGGER)});
    const sink = new LogSink(process.argv[1], JSON.parse(process.argv[2]));
    const log = new Logger(sink, 'fail2ban.actions');
    let round = 0;
    const step = () => {
      for (let i = 0; i < ${extra.lines ?? 2}; i++) log.notice('[sshd] Ban 192.0.2.' + i);
      if (++round < ${extra.rounds ?? 1}) return setTimeout(step, 5);
      log.debug('a debug line');
      process.stderr.write('done\\n');
    };
    step();`;
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['-e', script, target, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => p.kill(), 30_000);
    let out = '';
    let err = '';
    if (extra.closeStdout) p.stdout.destroy();
    else p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

test('STDOUT, STDERR and SYSOUT from a child process; a closed stdout is reported once and the process goes on', async () => {
  const line = (withTime: boolean) => new RegExp(`^${withTime ? '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} ' : ''}fail2ban\\.actions {8}\\[\\d+\\]: NOTICE  \\[sshd\\] Ban 192\\.0\\.2\\.0$`);
  const stdout = await child('STDOUT', { level: 'DEBUG' });
  assert.equal(stdout.code, 0, stdout.err);
  const outLines = stdout.out.split('\n');
  assert.match(outLines[0], line(true));
  assert.match(outLines[2], /\]: DEBUG {3}a debug line$/);
  assert.equal(stdout.err, 'done\n');

  const stderr = await child('STDERR', {});
  assert.equal(stderr.out, '');
  assert.match(stderr.err.split('\n')[0], line(true));
  assert.doesNotMatch(stderr.err, /debug line/);

  const sysout = await child('SYSOUT', {});
  assert.match(sysout.out.split('\n')[0], line(false));

  // the reader went away: EPIPE, reported once on stderr, the lines after it dropped quietly
  const closed = await child('STDOUT', {}, { closeStdout: true, lines: 50, rounds: 20 });
  assert.equal(closed.code, 0, closed.err);
  assert.equal(closed.err.match(/cannot write the log to STDOUT/g)?.length, 1, closed.err);
  assert.match(closed.err, /EPIPE|closed/);
  assert.match(closed.err, /done\n$/);

  // no journald here (a socket path that is not one): STDERR, with a warning saying so
  const nojournal = await child('SYSTEMD-JOURNAL', { journalSocket: '/nonexistent/journal.sock' });
  assert.equal(nojournal.code, 0);
  assert.match(nojournal.err, /fail2ban\.server {9}\[\d+\]: WARNING journald's socket \/nonexistent\/journal\.sock does not exist or is not a socket; logging to STDERR instead\n/);
  assert.match(nojournal.err, /NOTICE  \[sshd\] Ban 192\.0\.2\.0\n/);
});

test('SYSLOG: the exact datagram; a socket that goes away is reported once, and the lost lines are counted when it is back', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'log.sock');
  const reports: string[] = [];
  const first = await listen(t, sock, 2);
  const sink = new LogSink('SYSLOG', { syslogsocket: sock, report: (m) => reports.push(m) });
  const log = new Logger(sink, 'fail2ban.actions');
  log.notice('[sshd] Ban 192.0.2.10');
  log.child('fail2ban.filter').info('[sshd] Found 192.0.2.10 - 2026-11-24 22:43:49');
  assert.deepEqual(
    (await first.done).map((d) => d.toString('utf8')),
    [`<29>fail2ban.actions[${process.pid}]: NOTICE [sshd] Ban 192.0.2.10\0`, `<30>fail2ban.filter[${process.pid}]: INFO [sshd] Found 192.0.2.10 - 2026-11-24 22:43:49\0`],
  );

  // the listener is gone (its socket file stays: ECONNREFUSED, as while rsyslog restarts)
  for (let i = 0; i < 3; i++) log.notice(`[sshd] Ban 192.0.2.${20 + i}`);
  assert.equal(reports.length, 1);
  assert.match(reports[0], /cannot write the log to SYSLOG \(.*log\.sock\): ECONNREFUSED/);

  fs.unlinkSync(sock);
  const second = await listen(t, sock, 2);
  log.notice('[sshd] Ban 192.0.2.30');
  const back = (await second.done).map((d) => d.toString('utf8'));
  assert.deepEqual(back, [
    `<29>fail2ban.actions[${process.pid}]: NOTICE [sshd] Ban 192.0.2.30\0`,
    `<28>fail2ban.server[${process.pid}]: WARNING 3 log lines were lost (ECONNREFUSED: cannot send to ${sock})\0`,
  ]);
  assert.equal(reports.length, 2);
  assert.match(reports[1], /works again .*\(3 lines lost\)/);
  sink.close();
});

test('SYSLOG: lines a busy syslog daemon cannot take yet are held back and arrive in order', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'slow.sock');
  const n = 500; // far more than the receive queue (net.unix.max_dgram_qlen, 10 to 512)
  const l = await listen(t, sock, n, { wait: true });
  const reports: string[] = [];
  const sink = new LogSink('SYSLOG[facility=auth]', { syslogsocket: sock, report: (m) => reports.push(m) });
  const log = new Logger(sink, 'fail2ban.actions');
  for (let i = 0; i < n; i++) log.notice(`[sshd] Ban 10.1.${i >> 8}.${i & 255}`);
  l.go();
  const got = await l.done;
  assert.deepEqual(reports, []);
  assert.equal(got.length, n);
  got.forEach((d, i) => assert.equal(d.toString('utf8'), `<37>fail2ban.actions[${process.pid}]: NOTICE [sshd] Ban 10.1.${i >> 8}.${i & 255}\0`));
  sink.close();
});

test("SYSTEMD-JOURNAL: journald's native fields, a multi-line message in the binary form", async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'journal.sock');
  const l = await listen(t, sock, 2);
  const sink = new LogSink('SYSTEMD-JOURNAL[facility=local2]', { journalSocket: sock });
  const log = new Logger(sink, 'fail2ban.actions');
  log.notice('[sshd] Ban 192.0.2.10');
  log.error('first line\nsecond line');
  const [one, two] = await l.done;
  assert.equal(one.toString('utf8'), 'MESSAGE=[sshd] Ban 192.0.2.10\nPRIORITY=5\nSYSLOG_IDENTIFIER=fail2ban\nLOGGER=fail2ban.actions\nSYSLOG_FACILITY=18\n');
  const msg = Buffer.from('first line\nsecond line');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(msg.length));
  assert.deepEqual(
    two,
    Buffer.concat([Buffer.from('MESSAGE\n'), len, msg, Buffer.from('\nPRIORITY=3\nSYSLOG_IDENTIFIER=fail2ban\nLOGGER=fail2ban.actions\nSYSLOG_FACILITY=18\n')]),
  );
  sink.close();
});

test("recidive's filter finds the Ban lines of the other jails in our log, not Restore Ban, Unban or its own", { skip: !fs.existsSync(RECIDIVE) && 'fail2ban is not installed' }, (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'fail2ban.txt');
  const sink = new LogSink(file);
  const actions = new Logger(sink, 'fail2ban.actions');
  actions.notice('[sshd] Ban 192.0.2.1');
  actions.notice('[sshd] Restore Ban 192.0.2.2');
  actions.notice('[sshd] Unban 192.0.2.1');
  actions.notice('[recidive] Ban 192.0.2.3');
  actions.notice('[nginx-http-auth] Ban 2001:db8::5');
  actions.notice('[sshd] 192.0.2.6 already banned');
  actions.notice('[sshd] Increase Ban 192.0.2.7 (2 # 0:20:00 -> 2026-11-25 00:00:00)');
  actions.warn('[sshd] Ban 192.0.2.8 skipped: not an IP address or subnet the firewall can block');
  actions.child('fail2ban.filter').info('[sshd] Found 192.0.2.9 - 2026-11-24 22:43:49');
  actions.notice('[apache-auth] Ban 192.0.2.10');
  sink.close();
  const want = ['192.0.2.1', '2001:db8::5', '192.0.2.10'];

  const env = { ...process.env };
  delete env.F2B_NATIVE_ADDON;
  const ours = spawnSync(process.execPath, [BIN, 'regex', '--json', file, RECIDIVE], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(ours.status, 0, ours.stderr);
  const rows = ours.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { match: boolean; ip?: string });
  assert.deepEqual(
    rows.filter((r) => r.match).map((r) => r.ip),
    want,
  );

  // and fail2ban's own fail2ban-regex agrees
  if (fs.existsSync('/usr/bin/fail2ban-regex')) {
    const theirs = spawnSync('/usr/bin/fail2ban-regex', ['-o', 'ip', file, RECIDIVE], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.deepEqual(theirs.stdout.trim().split('\n'), want);
  }
});

test('control characters from log lines are escaped before any target: no raw escape sequence reaches a terminal', (t) => {
  const file = path.join(tmpDir(t), 'f2b.log');
  const sink = new LogSink(file);
  const log = new Logger(sink, 'fail2ban.filter');
  log.info('[sshd] Found 192.0.2.1 - user \x1b[2J\x1b[31mroot\x07\r\x00\x7f\tend');
  sink.close();
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /user \\x1b\[2J\\x1b\[31mroot\\x07\\x0d\\x00\\x7f\tend\n$/);
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f]/);
});
