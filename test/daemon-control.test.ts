// A real daemon (`f2b-fast run`, the dry-run firewall) driven through its control socket with the
// real client (`f2b-fast client`): status trees, banip/unbanip, get/set, reload of a changed
// jail.local that keeps the bans, a bad jail reported and skipped, bans kept across a restart by
// the state database, and a socket no other user can connect to.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './helpers/tmp';
import { syslog, waitFor } from './helpers/logs';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');

const failed = (ip: string) => syslog(`Failed password for root from ${ip} port 2222 ssh2`, { pid: 7 });

interface Setup {
  dir: string;
  conf: string;
  log: string;
  sock: string;
  db: string;
  daemonLog: string;
}

function setup(t: TestContext, jailLocal: (s: Setup) => string): Setup {
  const dir = tmpDir(t);
  // the socket's directory may be entered by anyone: only the socket's own mode keeps others out
  fs.chmodSync(dir, 0o755);
  const s: Setup = {
    dir,
    conf: path.join(dir, 'conf'),
    log: path.join(dir, 'auth.log'),
    sock: path.join(dir, 'f2b.sock'),
    db: path.join(dir, 'state.sqlite3'),
    daemonLog: path.join(dir, 'daemon.log'),
  };
  fs.cpSync(path.join(ROOT, 'filters'), s.conf, { recursive: true });
  fs.writeFileSync(s.log, '');
  fs.writeFileSync(path.join(s.conf, 'jail.local'), jailLocal(s));
  return s;
}

interface Running {
  child: ChildProcess;
  exit: Promise<number | null>;
}

async function startDaemon(t: TestContext, s: Setup): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'run', '--config', s.conf, '--dry-run', '--db', s.db, '--socket', s.sock, '--logtarget', s.daemonLog, '--threads', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const r = { child, exit };
  t.after(() => stopDaemon(r));
  const up = await waitFor(() => client(s, 'ping').code === 0, 20_000);
  assert.ok(up, `daemon did not answer: ${err}\n${readLog(s)}`);
  return r;
}

async function stopDaemon(d: Running): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  const code = await d.exit;
  clearTimeout(timer);
  return code;
}

function readLog(s: Setup): string {
  try {
    return fs.readFileSync(s.daemonLog, 'utf8');
  } catch {
    return '';
  }
}

/** `f2b-fast client -s SOCK args...`: exit code and output. */
function client(s: Setup, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'client', '-s', s.sock, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function json(s: Setup, ...args: string[]): unknown {
  const r = client(s, '--json', ...args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.out}${r.err}`);
  return JSON.parse(r.out);
}

/** The jail status as a map: "Currently banned" -> 1, "Banned IP list" -> [...]. */
function jailStatus(s: Setup, jail: string): Record<string, unknown> {
  const tree = json(s, 'status', jail) as [string, [string, unknown][]][];
  return Object.fromEntries(tree.flatMap(([, rows]) => rows));
}

const banned = (s: Setup, jail: string) => (jailStatus(s, jail)['Banned IP list'] as string[]).slice().sort();

test('status trees, banip/unbanip, banned, get/set and errors, through the socket of a running daemon', async (t) => {
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 3\nbantime = 1h\n`);
  const d = await startDaemon(t, s);

  assert.equal(client(s, 'ping').out, 'Server replied: pong\n');
  assert.equal(client(s, 'status').out, 'Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n');

  fs.appendFileSync(s.log, failed('192.0.2.10') + failed('192.0.2.10') + failed('192.0.2.11') + failed('192.0.2.10'));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.10'), 10_000), readLog(s));
  assert.equal(
    client(s, 'status', 'sshd').out,
    [
      'Status for the jail: sshd',
      '|- Filter',
      '|  |- Currently failed:\t1',
      '|  |- Total failed:\t4',
      `|  \`- File list:\t${s.log}`,
      '`- Actions',
      '   |- Currently banned:\t1',
      '   |- Total banned:\t1',
      '   `- Banned IP list:\t192.0.2.10',
      '',
    ].join('\n'),
  );

  // banip: the count of new bans; an address banned already is not counted
  assert.equal(client(s, 'set', 'sshd', 'banip', '198.51.100.1', '192.0.2.10').out, '1\n');
  assert.deepEqual(json(s, 'banned'), [{ sshd: ['192.0.2.10', '198.51.100.1'] }]);
  assert.deepEqual(json(s, 'banned', '198.51.100.1', '203.0.113.9'), [['sshd'], []]);
  assert.match(client(s, 'get', 'sshd', 'banip', '--with-time').out, /^192\.0\.2\.10 \t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+ 3600 = /m);

  assert.equal(client(s, 'set', 'sshd', 'unbanip', '198.51.100.1').out, '1\n');
  assert.equal(client(s, 'unban', '192.0.2.10').out, '1\n');
  assert.deepEqual(banned(s, 'sshd'), []);
  assert.match(readLog(s), /\[dry-run\] dry-run: would release 198\.51\.100\.1 in sshd/);

  // get / set of jail and server options
  assert.equal(client(s, 'get', 'sshd', 'maxretry').out, '3\n');
  assert.equal(client(s, 'set', 'sshd', 'maxretry', '2').out, '2\n');
  assert.equal(client(s, 'set', 'sshd', 'bantime', '2h').out, '7200\n');
  assert.equal(client(s, 'set', 'sshd', 'findtime', '20m').out, '1200\n');
  assert.deepEqual(json(s, 'set', 'sshd', 'addignoreip', '203.0.113.0/24'), ['203.0.113.0/24']);
  assert.deepEqual(json(s, 'get', 'sshd', 'logpath'), [s.log]);
  assert.deepEqual(json(s, 'get', 'sshd', 'actions'), ['nftables-multiport']);
  assert.equal(client(s, 'get', 'dbpurgeage').out, 'Current database purge age is:\n`- 86400seconds\n');
  assert.equal(json(s, 'set', 'dbpurgeage', '2d'), 172800);
  assert.equal(json(s, 'get', 'dbfile'), s.db);
  assert.equal(json(s, 'set', 'loglevel', 'DEBUG'), 'DEBUG');
  assert.equal(json(s, 'get', 'logtarget'), s.daemonLog);

  // the new maxretry and ignoreip apply to the next failures
  fs.appendFileSync(s.log, failed('203.0.113.5') + failed('203.0.113.5') + failed('192.0.2.20') + failed('192.0.2.20'));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.20'), 10_000), readLog(s));
  assert.ok(!banned(s, 'sshd').includes('203.0.113.5'));
  assert.match(readLog(s), /\[sshd\] Ignore 203\.0\.113\.5 by ip/);

  // a failregex added at run time matches the lines written after it
  const added = client(s, 'set', 'sshd', 'addfailregex', '^Custom auth failure from <HOST>$');
  assert.equal(added.code, 0, added.out + added.err);
  assert.equal((json(s, 'get', 'sshd', 'failregex') as string[]).length > 1, true);
  fs.appendFileSync(s.log, syslog('Custom auth failure from 192.0.2.30', { pid: 7 }).repeat(2));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.30'), 10_000), readLog(s));

  // errors: fail2ban-client's text and exit code 255
  const unknown = client(s, 'status', 'nosuch');
  assert.equal(unknown.code, 255);
  assert.match(unknown.out + unknown.err, /Sorry but the jail 'nosuch' does not exist/);
  assert.equal(client(s, 'set', 'sshd', 'maxretry', 'many').code, 255);

  // stop through the socket: the daemon exits 0 and removes its socket
  assert.equal(client(s, 'stop').out, 'Shutdown successful\n');
  assert.equal(await d.exit, 0);
  assert.equal(fs.existsSync(s.sock), false);
});

test('reload picks up a changed jail.local without losing bans; a new jail starts, a bad one is reported and skipped', async (t) => {
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 3\nbantime = 1h\n`);
  await startDaemon(t, s);
  fs.appendFileSync(s.log, failed('192.0.2.40').repeat(3) + failed('192.0.2.41'));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.40'), 10_000), readLog(s));
  assert.equal(client(s, 'set', 'sshd', 'banip', '198.51.100.40').out, '1\n');

  const other = path.join(s.dir, 'other.log');
  fs.writeFileSync(other, '');
  fs.writeFileSync(
    path.join(s.conf, 'jail.local'),
    [
      '[sshd]',
      `logpath = ${s.log}`,
      'maxretry = 2',
      'bantime = 1h',
      '',
      '[sshd-other]',
      'enabled = true',
      'filter = sshd',
      `logpath = ${other}`,
      'maxretry = 1',
      '',
      '[broken]',
      'enabled = true',
      'filter = no-such-filter',
      `logpath = ${s.log}`,
      '',
    ].join('\n'),
  );
  const r = client(s, 'reload');
  assert.equal(r.code, 0, r.out + r.err);
  assert.deepEqual(json(s, 'status'), [
    ['Number of jail', 2],
    ['Jail list', 'sshd, sshd-other'],
  ]);
  // the bans survived, the failure count went on, the new maxretry applies
  assert.deepEqual(banned(s, 'sshd'), ['192.0.2.40', '198.51.100.40']);
  assert.equal(client(s, 'get', 'sshd', 'maxretry').out, '2\n');
  assert.match(readLog(s), new RegExp(`${path.join(s.conf, 'jail.local').replace(/[.]/g, '\\.')}:\\d+: \\[broken\\] .*no-such-filter.* - jail skipped`));
  fs.appendFileSync(s.log, failed('192.0.2.41'));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.41'), 10_000), readLog(s));
  fs.appendFileSync(other, failed('192.0.2.42'));
  assert.ok(await waitFor(() => banned(s, 'sshd-other').includes('192.0.2.42'), 10_000), readLog(s));

  // reload of one jail that is not configured: an error, unless --if-exists
  assert.equal(client(s, 'reload', 'nosuch').code, 255);
  assert.equal(client(s, 'reload', '--if-exists', 'nosuch').code, 0);

  // a jail removed from jail.local stops; reload --unban lifts the bans of the others
  fs.writeFileSync(path.join(s.conf, 'jail.local'), `[sshd]\nlogpath = ${s.log}\nmaxretry = 2\nbantime = 1h\n`);
  assert.equal(client(s, 'reload', '--unban').code, 0);
  assert.deepEqual(json(s, 'status'), [
    ['Number of jail', 1],
    ['Jail list', 'sshd'],
  ]);
  assert.deepEqual(banned(s, 'sshd'), []);
});

test('bans and open failures survive a restart: the state database restores them', async (t) => {
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 3\nbantime = 1h\n`);
  const d1 = await startDaemon(t, s);
  fs.appendFileSync(s.log, failed('192.0.2.50').repeat(3) + failed('192.0.2.51').repeat(2));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.50'), 10_000), readLog(s));
  assert.ok(await waitFor(() => jailStatus(s, 'sshd')['Total failed'] === 5, 10_000));
  assert.equal(client(s, 'set', 'sshd', 'banip', '198.51.100.50').out, '1\n');
  assert.equal(client(s, 'stop').code, 0);
  assert.equal(await d1.exit, 0);

  await startDaemon(t, s);
  assert.deepEqual(banned(s, 'sshd'), ['192.0.2.50', '198.51.100.50']);
  assert.match(readLog(s), /NOTICE  \[sshd\] Restore Ban 192\.0\.2\.50/);
  // the log is not read again (no line counted twice): one more failure of .51 is its third
  assert.equal(jailStatus(s, 'sshd')['Currently failed'], 1);
  fs.appendFileSync(s.log, failed('192.0.2.51'));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.51'), 10_000), readLog(s));
  // an operator's unban is forgotten by the database too: not restored at the next start
  assert.equal(client(s, 'unban', '198.51.100.50').out, '1\n');
  assert.equal(client(s, 'stop').code, 0);
  await startDaemon(t, s);
  assert.deepEqual(banned(s, 'sshd'), ['192.0.2.50', '192.0.2.51']);
});

test('the control socket is mode 0600: another user cannot connect, root can', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run a client as another user');
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\n`);
  await startDaemon(t, s);
  const st = fs.statSync(s.sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);

  const probe = `require('net').connect(${JSON.stringify(s.sock)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(3); });`;
  const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(asNobody.error, undefined, String(asNobody.error));
  // nobody can reach the path (the directory is 0755) but not the socket
  const sees = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').statSync(${JSON.stringify(s.sock)})`]);
  assert.equal(sees.status, 0, 'nobody can stat the socket path');
  assert.equal(asNobody.stdout.trim(), 'EACCES', asNobody.stdout + asNobody.stderr);
  assert.equal(asNobody.status, 3);

  // the real client, as nobody: refused with fail2ban-client's exit code
  const cli = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'client', '-s', s.sock, 'status'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(cli.status, 255, cli.stdout + cli.stderr);
  assert.match(cli.stderr, /Permission denied|EACCES/i);
  assert.equal(client(s, 'ping').code, 0);
});

test("recidive bans from the daemon's own log: an address banned twice by sshd", async (t) => {
  const stock = '/etc/fail2ban';
  if (!fs.existsSync(path.join(stock, 'filter.d/recidive.conf'))) return t.skip("fail2ban's stock filter.d is not installed");
  const s = setup(t, () => '');
  fs.rmSync(s.conf, { recursive: true });
  fs.cpSync(stock, s.conf, { recursive: true });
  // Debian's jail.d enables sshd on the journal; this test reads files
  fs.rmSync(path.join(s.conf, 'jail.d'), { recursive: true, force: true });
  fs.writeFileSync(
    path.join(s.conf, 'jail.local'),
    [
      '[DEFAULT]',
      'banaction = nftables-multiport',
      'banaction_allports = nftables-allports',
      '[sshd]',
      'enabled = true',
      'backend = auto',
      `logpath = ${s.log}`,
      'maxretry = 2',
      '[recidive]',
      'enabled = true',
      'backend = auto',
      `logpath = ${s.daemonLog}`,
      'maxretry = 2',
      '',
    ].join('\n'),
  );
  await startDaemon(t, s);
  fs.appendFileSync(s.log, failed('192.0.2.60').repeat(2));
  assert.ok(await waitFor(() => banned(s, 'sshd').includes('192.0.2.60'), 10_000), readLog(s));
  assert.equal(client(s, 'set', 'sshd', 'unbanip', '192.0.2.60').out, '1\n');
  fs.appendFileSync(s.log, failed('192.0.2.60').repeat(2));
  assert.ok(await waitFor(() => banned(s, 'recidive').includes('192.0.2.60'), 10_000), readLog(s));
  assert.match(readLog(s), /NOTICE  \[recidive\] Ban 192\.0\.2\.60/);
});

test('SIGUSR1 and flushlogs reopen the log file after logrotate moved it', async (t) => {
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 1\n`);
  const d = await startDaemon(t, s);
  fs.renameSync(s.daemonLog, `${s.daemonLog}.1`);
  d.child.kill('SIGUSR1');
  assert.ok(await waitFor(() => fs.existsSync(s.daemonLog), 5000), 'a new log file after SIGUSR1');
  fs.appendFileSync(s.log, failed('192.0.2.70'));
  assert.ok(await waitFor(() => /\[sshd\] Ban 192\.0\.2\.70/.test(readLog(s)), 10_000), readLog(s));
  fs.renameSync(s.daemonLog, `${s.daemonLog}.2`);
  assert.equal(client(s, 'flushlogs').out, 'logs: rolled over\n');
  assert.ok(fs.existsSync(s.daemonLog));
  assert.doesNotMatch(fs.readFileSync(`${s.daemonLog}.1`, 'utf8'), /192\.0\.2\.70/);
});

test('a second daemon on the same socket refuses to start and leaves the first one alone', async (t) => {
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 1\n`);
  await startDaemon(t, s);
  assert.equal(client(s, 'set', 'sshd', 'banip', '192.0.2.77').out, '1\n');
  const second = spawnSync(process.execPath, [BIN, 'run', '--config', s.conf, '--dry-run', '--db', path.join(s.dir, 'other.sqlite3'), '--socket', s.sock, '--logtarget', 'STDERR'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(second.status, 255, second.stderr);
  assert.match(second.stderr, /a server is already listening on .*f2b\.sock/);
  assert.doesNotMatch(second.stderr, /dry-run: would set up/, 'the firewall is not touched');
  assert.deepEqual(banned(s, 'sshd'), ['192.0.2.77']);
});

test('client start runs the daemon in the background (in a namespace: real nftables), client stop ends it', async (t) => {
  const { netnsAvailable, createNetns } = await import('./helpers/netns');
  const ok = await netnsAvailable();
  if (!ok.ok) return t.skip(`network namespaces unavailable: ${ok.reason}`);
  const s = setup(t, (x) => `[sshd]\nlogpath = ${x.log}\nmaxretry = 1\n`);
  // everything the started daemon uses comes from the tree: socket, log, database ([Definition]:
  // the bundled fail2ban.conf sets them there, where [DEFAULT] would not override them)
  fs.writeFileSync(path.join(s.conf, 'fail2ban.local'), `[Definition]\nsocket = ${s.sock}\nlogtarget = ${s.daemonLog}\ndbfile = ${s.db}\n`);
  const ns = await createNetns('f2bc');
  t.after(() => ns.destroy());
  const start = await ns.exec([process.execPath, BIN, 'client', '-c', s.conf, 'start'], { timeoutMs: 40_000 });
  assert.equal(start.code, 0, start.stdout + start.stderr + readLog(s));
  assert.ok(fs.existsSync(s.sock) && fs.existsSync(s.db), 'the daemon uses the socket and database of the tree');
  assert.match(start.stdout, /Server ready/);
  assert.equal((await ns.exec([process.execPath, BIN, 'client', '-c', s.conf, 'start'])).code, 255, 'a second start: already running');
  fs.appendFileSync(s.log, failed('192.0.2.88'));
  assert.ok(await waitFor(async () => (await ns.exec(['nft', 'list', 'table', 'inet', 'f2b-fast'])).stdout.includes('192.0.2.88'), 10_000), readLog(s));
  const stop = await ns.exec([process.execPath, BIN, 'client', '-c', s.conf, 'stop'], { timeoutMs: 40_000 });
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  // the daemon shuts down after answering: the socket closes first, the table goes last
  assert.ok(await waitFor(async () => (await ns.exec(['nft', 'list', 'table', 'inet', 'f2b-fast'])).code !== 0, 10_000), 'the table is removed');
  assert.equal(fs.existsSync(s.sock), false, 'the socket is gone');
});
