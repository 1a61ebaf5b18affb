// The control socket end to end: a real ControlServer on a unix socket in a temporary directory,
// the real client (`f2b-fast client`'s clientCommand) and protocol code, and an in-memory daemon
// (test/helpers/fake-target.ts) behind the Transmitter. The human output is checked byte for byte
// against fail2ban's own Beautifier, run in python3 on the same result values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { clientCommand } from '../src/cli/client';
import { ControlServer, type ControlServerOptions } from '../src/control/server';
import { Transmitter } from '../src/control/transmitter';
import { pyRepr } from '../src/control/format';
import { MAX_REQUEST_BYTES } from '../src/control/protocol';
import { F2bError } from '../src/errors';
import { silentLogger } from '../src/log/logger';
import { FakeTarget, fakeJail } from './helpers/fake-target';
import { tmpDir } from './helpers/tmp';
import { waitFor } from './helpers/logs';

type TestContext = import('node:test').TestContext;

const PYTHON = '/usr/bin/python3';
const F2B = '/usr/lib/python3/dist-packages';
const haveFail2ban = fs.existsSync(PYTHON) && fs.existsSync(`${F2B}/fail2ban/client/beautifier.py`);
const noFail2ban = !haveFail2ban && 'fail2ban 1.0.2 (python3) not installed';

// ---- helpers ---------------------------------------------------------------------------------

function sshdTarget(): FakeTarget {
  return new FakeTarget({
    sshd: fakeJail(
      {
        logpath: ['/var/log/auth.log', '/var/log/auth.log.extra'],
        ignoreip: ['127.0.0.0/8', '10.0.0.0/8', '::1'],
        failregex: ['^Failed \\S+ for .* from (?:(?P<ip4>\\d+\\.\\d+\\.\\d+\\.\\d+))', "^it's \"quoted\" \\t from <HOST>$"],
        actions: ['nftables-multiport', 'sendmail'],
        ignorecommand: '/usr/bin/check <ip>',
        'bantime.increment': true,
        'bantime.factor': '2',
      },
      { currentlyFailed: 3, totalFailed: 17 },
    ),
    web: fakeJail({ journalmatch: [['_SYSTEMD_UNIT=nginx.service', '+', '_COMM=nginx'], ['_COMM=other']], bantime: -1 }, { totalFailed: 1 }),
  });
}

async function serve(t: TestContext, target: FakeTarget = sshdTarget(), opts: ControlServerOptions = {}) {
  const dir = tmpDir(t, 'f2b-ctl-');
  const sock = path.join(dir, 'run/sub/f2b.sock');
  const server = await ControlServer.listen(sock, new Transmitter(target), silentLogger, opts);
  t.after(() => server.close());
  return { dir, sock, server, target };
}

async function client(args: string[]) {
  let out = '';
  let err = '';
  const code = await clientCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

/** Every reply line the server sends for `payload` until it has sent `count` lines or closed. */
function raw(sock: string, payload: string | Buffer, count: number, ms = 5000): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      c.destroy();
      // complete lines only
      const lines = buf.split('\n').slice(0, -1);
      resolve({ lines: lines.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), closed });
    };
    const timer = setTimeout(() => reject(new Error(`no ${count} replies within ${ms} ms: ${buf}`)), ms);
    c.on('data', (d) => {
      buf += d.toString();
      if (buf.split('\n').length - 1 >= count) done();
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      closed = true;
      done();
    });
    c.write(payload);
  });
}

type PyCase =
  | { kind: 'result'; cmd: string[]; result: unknown }
  | { kind: 'error'; cmd: string[]; type: 'jail' | 'index' | 'value' | 'plain'; arg: string }
  | { kind: 'repr'; value: unknown }
  | { kind: 'notbanned'; value: string[] }
  | { kind: 'time2str'; value: number };

// What fail2ban's client prints for each case: Beautifier(cmd).beautify(result) (or
// beautifyError) as print() shows it; repr(); and fail2ban's own time formatting.
const PY = String.raw`
import sys, json
sys.path.insert(0, ${JSON.stringify(F2B)})
from fail2ban.client.beautifier import Beautifier
from fail2ban.exceptions import UnknownJailException
from fail2ban.server.mytime import MyTime
out = []
for case in json.load(sys.stdin):
    k = case['kind']
    if k == 'result':
        cmd, r = case['cmd'], case['result']
        if len(cmd) > 2 and cmd[2] == 'datepattern' and isinstance(r, list):
            r = tuple(r)
        out.append(str(Beautifier(cmd).beautify(r)))
    elif k == 'error':
        make = {'jail': UnknownJailException, 'index': IndexError, 'value': ValueError, 'plain': Exception}[case['type']]
        out.append(str(Beautifier(case['cmd']).beautifyError(make(case['arg']))))
    elif k == 'repr':
        out.append(repr(case['value']))
    elif k == 'notbanned':
        out.append("not banned: %r" % (case['value'],))
    elif k == 'time2str':
        out.append(MyTime.time2str(case['value']))
print(json.dumps(out))
`;

function python(cases: PyCase[]): string[] {
  const r = spawnSync(PYTHON, ['-c', PY], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

// ---- human output vs fail2ban's Beautifier ------------------------------------------------------

test('every command prints what fail2ban-client prints for the same result', { skip: noFail2ban, timeout: 60_000 }, async (t) => {
  const { sock, target } = await serve(t);
  // bans with distinct ends, banned in an order that differs from the end order
  target.jailMap.get('sshd')!.values.bantime = 600;
  const s = ['-s', sock];
  const steps: string[][] = [
    ['set', 'sshd', 'banip', '192.0.2.1', '192.0.2.2', '192.0.2.1'],
    ['set', 'sshd', 'banip', '192.0.2.1'],
    ['set', 'sshd', 'bantime', '1h'],
    ['set', 'sshd', 'banip', '2001:db8::7'],
    ['set', 'sshd', 'bantime', '300'],
    ['set', 'sshd', 'banip', '198.51.100.9'],
    ['set', 'web', 'banip', '203.0.113.5'],
  ];
  const commands: string[][] = [
    ...steps,
    ['status'],
    ['status', 'sshd'],
    ['status', 'sshd', 'basic'],
    ['status', 'sshd', 'short'],
    ['status', 'sshd', 'nosuchflavor'],
    ['status', 'web'],
    ['banned'],
    ['banned', '192.0.2.1', '203.0.113.5', '192.0.2.77'],
    ['get', 'sshd', 'banned'],
    ['get', 'sshd', 'banned', '192.0.2.2'],
    ['get', 'sshd', 'banned', '192.0.2.2', '192.0.2.77'],
    ['get', 'sshd', 'banip'],
    ['get', 'sshd', 'banip', ','],
    ['get', 'sshd', 'banip', '--with-time'],
    ['get', 'web', 'banip', '--with-time'],
    ['get', 'sshd', 'ignoreip'],
    ['get', 'web', 'ignoreip'],
    ['set', 'sshd', 'addignoreip', '192.0.2.0/24', '198.51.100.1'],
    ['set', 'sshd', 'delignoreip', '198.51.100.1'],
    ['get', 'sshd', 'failregex'],
    ['get', 'sshd', 'ignoreregex'],
    ['set', 'sshd', 'addignoreregex', '^ignored <HOST>'],
    ['set', 'sshd', 'delfailregex', '0'],
    ['get', 'sshd', 'logpath'],
    ['get', 'web', 'logpath'],
    ['set', 'sshd', 'addlogpath', '/var/log/secure', 'tail'],
    ['get', 'sshd', 'journalmatch'],
    ['get', 'web', 'journalmatch'],
    ['get', 'sshd', 'actions'],
    ['get', 'web', 'actions'],
    ['get', 'sshd', 'bantime'],
    ['get', 'web', 'bantime'],
    ['get', 'sshd', 'findtime'],
    ['set', 'sshd', 'findtime', '10m'],
    ['get', 'sshd', 'maxretry'],
    ['set', 'sshd', 'maxretry', '3'],
    ['get', 'sshd', 'maxmatches'],
    ['get', 'sshd', 'maxlines'],
    ['get', 'sshd', 'usedns'],
    ['get', 'sshd', 'ignoreself'],
    ['set', 'sshd', 'ignoreself', 'false'],
    ['get', 'sshd', 'ignorecommand'],
    ['get', 'sshd', 'datepattern'],
    ['set', 'sshd', 'datepattern', '%Y-%m-%d %H:%M:%S'],
    ['get', 'sshd', 'logencoding'],
    ['get', 'sshd', 'logtimezone'],
    ['get', 'sshd', 'prefregex'],
    ['get', 'sshd', 'bantime.increment'],
    ['get', 'sshd', 'bantime.factor'],
    ['get', 'sshd', 'bantime.maxtime'],
    ['set', 'sshd', 'bantime.maxtime', '1w'],
    ['set', 'sshd', 'idle', 'on'],
    ['get', 'loglevel'],
    ['set', 'loglevel', 'debug'],
    ['get', 'logtarget'],
    ['set', 'logtarget', '/var/log/other.log'],
    ['get', 'syslogsocket'],
    ['get', 'dbfile'],
    ['get', 'dbpurgeage'],
    ['set', 'dbpurgeage', '2d'],
    ['get', 'dbmaxmatches'],
    ['set', 'dbmaxmatches', '7'],
    ['echo', 'a', 'b c'],
    ['echo'],
    ['ping'],
    ['version'],
    ['flushlogs'],
    ['set', 'sshd', 'unbanip', '192.0.2.2', '192.0.2.77'],
    ['unban', '198.51.100.9', '203.0.113.5'],
    ['start', 'sshd'],
    ['reload'],
    ['unban', '--all'],
    ['stop', 'web'],
    ['status'],
  ];
  const texts: string[] = [];
  const cases: PyCase[] = [];
  for (const cmd of commands) {
    // the raw result (--json) on a twin of the state, so that the text run sees the same state
    const before = structuredClone([...target.jailMap]);
    const beforeServer = structuredClone(target.server);
    const j = await client([...s, '--json', ...cmd]);
    assert.equal(j.code, 0, `${cmd.join(' ')}: ${j.out}${j.err}`);
    target.jailMap.clear();
    for (const [k, v] of before) target.jailMap.set(k, v);
    target.server = beforeServer;
    const h = await client([...s, ...cmd]);
    assert.equal(h.code, 0, `${cmd.join(' ')}: ${h.out}${h.err}`);
    texts.push(h.out);
    cases.push({ kind: 'result', cmd, result: JSON.parse(j.out) });
  }
  const expected = python(cases);
  commands.forEach((cmd, i) => assert.equal(texts[i], `${expected[i]}\n`, `client ${cmd.join(' ')}`));

  // spot checks that the comparison compares something
  const at = (cmd: string) => texts[commands.findIndex((c) => c.join(' ') === cmd)];
  assert.equal(at('status sshd'), 'Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t3\n|  |- Total failed:\t17\n|  `- File list:\t/var/log/auth.log /var/log/auth.log.extra\n`- Actions\n   |- Currently banned:\t4\n   |- Total banned:\t4\n   `- Banned IP list:\t192.0.2.1 192.0.2.2 2001:db8::7 198.51.100.9\n');
  assert.equal(at('set sshd banip 192.0.2.1 192.0.2.2 192.0.2.1'), '2\n');
  assert.equal(at('set sshd banip 192.0.2.1'), '0\n');
  // ordered by end of ban: the 300 s ban ends first, then the two 600 s ones, then the hour
  assert.equal(at('get sshd banip'), '198.51.100.9 192.0.2.1 192.0.2.2 2001:db8::7\n');
  assert.equal(at('banned'), "[{'sshd': ['192.0.2.1', '192.0.2.2', '2001:db8::7', '198.51.100.9']}, {'web': ['203.0.113.5']}]\n");
  assert.equal(at('status web').split('\n')[4], '|  `- Journal matches:\t_SYSTEMD_UNIT=nginx.service + _COMM=nginx + _COMM=other');

  // the times of --with-time, from fail2ban's own time formatting
  const times = python([
    { kind: 'time2str', value: target.now },
    { kind: 'time2str', value: target.now + 300 },
    { kind: 'time2str', value: 0x7fffffffffff },
  ]);
  assert.equal(at('get sshd banip --with-time').split('\n')[0], `198.51.100.9 \t${times[0]} + 300 = ${times[1]}`);
  assert.equal(at('get web banip --with-time'), `203.0.113.5 \t${times[0]} + -1 = ${times[2]}\n`);
});

test('error replies print what fail2ban-client prints, exit 255, and log NOK on stderr', { skip: noFail2ban, timeout: 30_000 }, async (t) => {
  const { sock } = await serve(t);
  const cases: { cmd: string[]; py: PyCase; nok: string }[] = [
    { cmd: ['status', 'nojail'], py: { kind: 'error', cmd: ['status', 'nojail'], type: 'jail', arg: 'nojail' }, nok: "('nojail',)" },
    { cmd: ['get', 'nojail', 'bantime'], py: { kind: 'error', cmd: [], type: 'jail', arg: 'nojail' }, nok: "('nojail',)" },
    { cmd: ['bogus'], py: { kind: 'error', cmd: ['bogus'], type: 'plain', arg: 'Invalid command' }, nok: "('Invalid command',)" },
    { cmd: ['unban'], py: { kind: 'error', cmd: ['unban'], type: 'plain', arg: 'Invalid command' }, nok: "('Invalid command',)" },
    { cmd: ['get'], py: { kind: 'error', cmd: ['get'], type: 'index', arg: 'list index out of range' }, nok: "('Sorry but the command is invalid',)" },
    { cmd: ['set', 'sshd', 'bantime'], py: { kind: 'error', cmd: [], type: 'index', arg: 'x' }, nok: "('Sorry but the command is invalid',)" },
    {
      cmd: ['get', 'sshd', 'bogus'],
      py: { kind: 'error', cmd: [], type: 'plain', arg: 'Invalid command (no get action or not yet implemented)' },
      nok: "('Invalid command (no get action or not yet implemented)',)",
    },
    {
      cmd: ['set', 'sshd', 'ignoreip', '1.2.3.4'],
      py: { kind: 'error', cmd: [], type: 'plain', arg: "Invalid command 'ignoreip' (no set action or not yet implemented)" },
      nok: `("Invalid command 'ignoreip' (no set action or not yet implemented)",)`,
    },
    { cmd: ['set', 'sshd', 'maxretry', 'x'], py: { kind: 'error', cmd: [], type: 'value', arg: "invalid literal for int() with base 10: 'x'" }, nok: `("invalid literal for int() with base 10: 'x'",)` },
    { cmd: ['status', 'sshd', 'a', 'b'], py: { kind: 'error', cmd: [], type: 'plain', arg: 'Invalid command (no status)' }, nok: "('Invalid command (no status)',)" },
    { cmd: ['set', 'loglevel', 'bogus'], py: { kind: 'error', cmd: [], type: 'plain', arg: "Invalid log level 'BOGUS'" }, nok: `("Invalid log level 'BOGUS'",)` },
    { cmd: ['set', 'sshd', 'idle', 'maybe'], py: { kind: 'error', cmd: [], type: 'plain', arg: "Invalid idle option, must be 'on' or 'off'" }, nok: `("Invalid idle option, must be 'on' or 'off'",)` },
  ];
  const expected = python([...cases.map((c) => c.py), { kind: 'notbanned', value: ['192.0.2.99', "it's"] }]);
  for (const [i, c] of cases.entries()) {
    const r = await client(['-s', sock, ...c.cmd]);
    assert.equal(r.code, 255, c.cmd.join(' '));
    assert.equal(r.out, `${expected[i]}\n`, c.cmd.join(' '));
    assert.match(r.err, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} fail2ban {16}\\[\\d+\\]: ERROR   NOK: ${c.nok.replace(/[()[\]\\.*+?]/g, '\\$&')}\n$`), c.cmd.join(' '));
  }
  const r = await client(['-s', sock, 'set', 'sshd', 'unbanip', '--report-absent', '192.0.2.99', "it's"]);
  assert.equal(r.code, 255);
  assert.equal(r.out, `${expected[cases.length]}\n`);
});

test('pyRepr writes JSON values as Python repr() does', { skip: noFail2ban }, () => {
  const values: unknown[] = [
    "it's",
    'say "hi"',
    'both \' and "',
    'tab\there\nnew \\ back',
    '\x00\x1f\x7f\x85\xa0 é ☃ \u2028 \u{1F600}',
    [1, -2, 0.5, null, true, false, 'x'],
    { sshd: ['192.0.2.1'], 'we\'b': [] },
    [],
    {},
  ];
  const expected = python(values.map((value) => ({ kind: 'repr', value })));
  values.forEach((v, i) => assert.equal(pyRepr(v), expected[i], JSON.stringify(v)));
});

// ---- the command line ------------------------------------------------------------------------

test('--json prints the raw result; unsupported commands name themselves', async (t) => {
  const { sock } = await serve(t);
  const r = await client(['-s', sock, '--json', 'status', 'sshd', 'short']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), [
    ['Filter', [['Currently failed', 3], ['Total failed', 17], ['File list', ['/var/log/auth.log', '/var/log/auth.log.extra']]]],
    ['Actions', [['Currently banned', 0], ['Total banned', 0]]],
  ]);
  const e = await client(['-s', sock, '--json', 'status', 'nojail']);
  assert.equal(e.code, 255);
  assert.deepEqual(JSON.parse(e.out), { error: { code: 'UNKNOWN_JAIL', message: "Sorry but the jail 'nojail' does not exist", jail: 'nojail' } });
  for (const cmd of [['set', 'sshd', 'addaction', 'x'], ['status', 'sshd', 'cymru'], ['add', 'newjail'], ['get', 'sshd', 'action', 'a', 'actionban'], ['set', 'sshd', 'logencoding', 'latin-1']]) {
    const u = await client(['-s', sock, '--json', ...cmd]);
    assert.equal(u.code, 255, cmd.join(' '));
    const err = (JSON.parse(u.out) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'UNSUPPORTED', cmd.join(' '));
    assert.match(err.message, cmd[2] === 'logencoding' ? /the fake cannot change logencoding/ : new RegExp(`^f2b-fast does not support '${cmd[0]} `), err.message);
  }
});

test('reload, restart <JAIL> and stop reach the daemon with their options', async (t) => {
  const { sock, target } = await serve(t);
  let r = await client(['-s', sock, 'reload', '--restart', '--unban', 'sshd']);
  assert.deepEqual([r.code, r.out], [0, 'OK\n'], r.err);
  r = await client(['-s', sock, 'restart', '--if-exists', 'gone']);
  assert.deepEqual([r.code, r.out], [0, 'OK\n'], r.err);
  r = await client(['-s', sock, 'reload']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(target.reloads, [
    { jail: 'sshd', restart: true, unban: true, ifExists: false },
    { jail: 'gone', restart: true, unban: false, ifExists: true },
    { jail: null, restart: false, unban: false, ifExists: false },
  ]);
  r = await client(['-s', sock, 'reload', 'a', 'b']);
  assert.equal(r.code, 255);
  assert.match(r.err, /ERROR   Unexpected argument\(s\) for reload: \['a', 'b'\]/);
  r = await client(['-s', sock, 'reload', 'nojail']);
  assert.equal(r.code, 255);
  assert.equal(r.out, "No section: 'nojail'\n");
  r = await client(['-s', sock, 'stop']);
  assert.deepEqual([r.code, r.out, target.stopped], [0, 'Shutdown successful\n', true]);
});

test('exit codes and messages without a server: missing socket, stale socket, usage', { timeout: 30_000 }, async (t) => {
  const dir = tmpDir(t, 'f2b-ctl-');
  const missing = path.join(dir, 'none.sock');
  let r = await client(['-s', missing, 'status']);
  assert.equal(r.code, 255);
  assert.equal(r.out, '');
  assert.match(r.err, new RegExp(`ERROR   Failed to access socket path: ${missing.replace(/[.]/g, '\\.')}\\. Is f2b-fast running\\?\n$`));
  r = await client(['-s', missing, 'ping']);
  assert.equal(r.code, 255);
  assert.match(r.err, /Failed to access socket path/);

  // a socket file nobody listens on
  const stale = path.join(dir, 'stale.sock');
  makeStaleSocket(stale);
  r = await client(['-s', stale, 'status']);
  assert.equal(r.code, 255);
  assert.match(r.err, /ERROR   \[\[Errno 111\] Connection refused\] Unable to contact server\. Is it running\?\n$/);
  r = await client(['-s', stale, 'ping']);
  assert.match(r.err, /ERROR   \[Errno 111\] Connection refused\n$/);

  // usage: fail2ban-client exits 255 on a bad option or no command, 0 for -h
  r = await client(['--bogus']);
  assert.equal(r.code, 255);
  assert.match(r.out, /^Usage: f2b-fast client \[OPTIONS\] <COMMAND>/);
  assert.match(r.err, /option --bogus not recognized/);
  r = await client(['-s', missing]);
  assert.equal(r.code, 255);
  assert.match(r.out, /^Usage:/);
  r = await client(['-i']);
  assert.equal(r.code, 255);
  assert.match(r.err, /-i is not supported by f2b-fast/);
  for (const h of [['-h'], ['--help'], ['help']]) {
    r = await client(h);
    assert.equal(r.code, 0);
    assert.match(r.out, /\n {45}JAIL INFORMATION\n {4}get <JAIL> banned {24}the addresses <JAIL> bans\n/);
  }
  r = await client(['-V']);
  assert.match(r.out, /^\d+\.\d+\.\d+\S*\n$/);
  r = await client(['--version']);
  assert.match(r.out, /^f2b-fast v\d+\.\d+\.\d+/);
  // the socket from the config tree's fail2ban.conf (and .local) when -s is not given
  const conf = path.join(dir, 'conf');
  fs.mkdirSync(conf);
  fs.writeFileSync(path.join(conf, 'fail2ban.conf'), `[Definition]\nsocket = ${missing}\n`);
  fs.writeFileSync(path.join(conf, 'fail2ban.local'), `[Definition]\nsocket = ${missing}.local\n`);
  r = await client(['-c', conf, 'ping']);
  assert.equal(r.code, 255);
  assert.match(r.err, new RegExp(`Failed to access socket path: ${missing.replace(/[.]/g, '\\.')}\\.local\\.`));
});

test('start: "Server already running" when one answers; a daemon that fails to start is reported', { timeout: 60_000 }, async (t) => {
  const { sock, dir } = await serve(t);
  let r = await client(['-s', sock, 'start']);
  assert.equal(r.code, 255);
  assert.match(r.err, /ERROR   Server already running\n$/);

  // a config tree the daemon refuses (no jail.conf): start spawns it, sees it exit, says where to look
  const conf = path.join(dir, 'bad-conf');
  fs.mkdirSync(conf);
  const log = path.join(dir, 'daemon.log');
  fs.writeFileSync(path.join(conf, 'fail2ban.conf'), `[Definition]\nsocket = ${path.join(dir, 'never.sock')}\nlogtarget = ${log}\n`);
  r = await client(['-c', conf, '--timeout', '20', 'start']);
  assert.equal(r.code, 255, r.out);
  assert.match(r.err, new RegExp(`Failed to start server: f2b-fast run exited with code 255 \\(see ${log.replace(/[.]/g, '\\.')}\\)`));
  assert.match(fs.readFileSync(log, 'utf8'), /neither jail\.conf nor jail\.local/);
});

function makeStaleSocket(p: string): void {
  // bound, never listening, left behind as a crashed daemon leaves it
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`], { timeout: 10_000 });
  assert.ok(fs.statSync(p).isSocket(), `stale socket not made: ${r.stderr}`);
}

// ---- the server --------------------------------------------------------------------------------

test('socket file 0600 in a directory created 0755; close() removes it', async (t) => {
  const { sock, server } = await serve(t);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  assert.ok(fs.statSync(sock).isSocket());
  assert.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o755);
  assert.equal(fs.statSync(path.dirname(path.dirname(sock))).mode & 0o777, 0o755);
  await server.close();
  assert.equal(fs.existsSync(sock), false);
  const r = await client(['-s', sock, 'ping']);
  assert.equal(r.code, 255);
});

test('a second server on the same path is refused; a stale socket is replaced; a plain file is refused', async (t) => {
  const { sock, dir } = await serve(t);
  await assert.rejects(ControlServer.listen(sock, new Transmitter(new FakeTarget()), silentLogger), (e: unknown) => e instanceof F2bError && e.code === 'CONTROL' && /already listening/.test(e.message));
  // the first one still serves
  assert.equal((await client(['-s', sock, 'ping'])).out, 'Server replied: pong\n');

  const stale = path.join(dir, 'stale.sock');
  makeStaleSocket(stale);
  const s2 = await ControlServer.listen(stale, new Transmitter(sshdTarget()), silentLogger);
  t.after(() => s2.close());
  assert.equal((await client(['-s', stale, 'status'])).out, 'Status\n|- Number of jail:\t2\n`- Jail list:\tsshd, web\n');
  assert.equal(fs.statSync(stale).mode & 0o777, 0o600);

  const plain = path.join(dir, 'plain');
  fs.writeFileSync(plain, 'keep me');
  await assert.rejects(ControlServer.listen(plain, new Transmitter(new FakeTarget()), silentLogger), /is not a socket/);
  assert.equal(fs.readFileSync(plain, 'utf8'), 'keep me');
});

test('several requests per connection are answered in order; malformed lines get errors and the connection stays', async (t) => {
  const { sock } = await serve(t);
  const payload =
    [
      JSON.stringify({ id: 1, cmd: ['ping'] }),
      'this is not json',
      JSON.stringify({ id: 2, cmd: ['status', 'nojail'] }),
      JSON.stringify({ id: 3, cmd: [] }),
      JSON.stringify({ id: 4, cmd: ['echo', 7] }),
      JSON.stringify([1, 2]),
      '',
      JSON.stringify({ id: 5, cmd: ['get', 'sshd', 'maxretry'] }),
    ].join('\n') + '\n';
  const { lines, closed } = await raw(sock, payload, 7);
  assert.equal(closed, false);
  assert.deepEqual(lines[0], { id: 1, ok: true, result: 'pong' });
  assert.equal(lines[1].id, null);
  assert.equal((lines[1].error as { code: string }).code, 'INVALID_JSON');
  assert.deepEqual(lines[2], { id: 2, ok: false, error: { code: 'UNKNOWN_JAIL', message: "Sorry but the jail 'nojail' does not exist", jail: 'nojail' } });
  for (const i of [3, 4, 5]) assert.equal((lines[i].error as { code: string }).code, 'INVALID_REQUEST', JSON.stringify(lines[i]));
  assert.deepEqual(lines[6], { id: 5, ok: true, result: 5 });
});

test('a request over 1 MiB gets TOO_LARGE and the connection is closed', async (t) => {
  const { sock } = await serve(t);
  const big = Buffer.alloc(MAX_REQUEST_BYTES + 10, 'a');
  const { lines, closed } = await raw(sock, big, 1);
  assert.equal((lines[0].error as { code: string }).code, 'TOO_LARGE');
  assert.ok(closed || lines.length === 1);
  // just under the limit is a request (an echo of ~1 MiB)
  const arg = 'b'.repeat(MAX_REQUEST_BYTES - 100);
  const ok = await raw(sock, JSON.stringify({ id: 9, cmd: ['echo', arg] }) + '\n', 1);
  assert.deepEqual(ok.lines[0], { id: 9, ok: true, result: [arg] });
  // and the server still serves others
  assert.equal((await client(['-s', sock, 'ping'])).code, 0);
});

test('connections are bounded (BUSY) and idle ones are closed', async (t) => {
  const { sock } = await serve(t, sshdTarget(), { maxConnections: 1, idleTimeoutMs: 200 });
  const held = net.connect(sock);
  await new Promise((r) => held.once('connect', r));
  const closedHeld = new Promise((r) => held.once('close', r));
  // wait until the server has accepted it, then a second one is turned away
  await new Promise((r) => setTimeout(r, 50));
  const busy = await raw(sock, JSON.stringify({ id: 1, cmd: ['ping'] }) + '\n', 1);
  assert.equal((busy.lines[0].error as { code: string }).code, 'BUSY');
  // the idle one is closed by the server within its idle timeout, freeing the slot
  const t0 = Date.now();
  await closedHeld;
  assert.ok(Date.now() - t0 < 5000);
  // the server sees that close a moment after the client does
  assert.ok(await waitFor(async () => (await client(['-s', sock, 'ping'])).code === 0, 5000), 'the slot was not freed');
});
