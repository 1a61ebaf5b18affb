// Differential: the same logs and the same config tree (a copy of Debian's /etc/fail2ban, made at
// run time) through the installed fail2ban-server and through `f2b-fast run`, side by side, each
// in its own network namespace. Both record what they do with one action.d command action
// (echo "ban <name> <ip> <time> <failures> <bantime> user=<F-USER>" >> file, the same for unban),
// and the two records must be equal: the same addresses banned by the same jails at the same log
// times (whole seconds), with the same failure counts and users, and the same bans lifted with
// the same ban times.
//
// The logs are written in a zone that is not UTC (TZ for both daemons and for the dates we write)
// and hold, per jail:
// - content that exists before the daemons start, dated minutes in the past: failures older than
//   findtime (ignored at start), maxretry crossed or not, IPv6 (also spelled long and in
//   capitals), IPv4-mapped IPv6, several sshd failure forms, multi-line sshd sessions (pam lines
//   that only name the address, a login gained after failures, a failure that waits for its
//   address), the host's own address, benign lines, RFC 3339 dates with zone offsets;
// - lines appended while both run, dated at the moment they are written: a jail with a 15 s
//   findtime and a 6 s bantime sees failures spread wider than findtime (fail2ban rescales the
//   count), failures while an address is banned (fail2ban still counts them, and extends a ban
//   whose address crosses maxretry again), and addresses that come back after their ban expired.
// A log without a saved position is read from its start, but at start fail2ban seeks to
// now - findtime and drops older lines; in operation it takes a date more than 60 s from now as
// now. So the content at start stays inside findtime and 60 s clear of its edge, and appended
// lines carry the time they are written.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createNetns, netnsAvailable, type Netns } from './helpers/netns';
import { tmpDir } from './helpers/tmp';
import { waitFor } from './helpers/logs';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const PYTHON = '/usr/bin/python3';
const FAIL2BAN_SERVER = '/usr/bin/fail2ban-server';
const ETC = '/etc/fail2ban';

/** The zone both daemons run in: +05:30 all year, so a date read in the wrong zone is 5.5 h off. */
const ZONE = 'Asia/Kolkata';
const ZONE_OFFSET = 5.5 * 3600;

// ---- dates as the logs write them -----------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** The wall clock at `epoch` (seconds) in a zone `offset` seconds east of UTC, as UTC fields. */
const wall = (epoch: number, offset = ZONE_OFFSET) => new Date((epoch + offset) * 1000);

/** rsyslog's traditional format, local time, no year: `Dec  3 20:05:14`. */
function syslogDate(epoch: number): string {
  const d = wall(epoch);
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

/** RFC 3339 with microseconds and the given offset (rsyslog's high-precision format). */
function rfc3339(epoch: number, offset: number): string {
  const d = wall(epoch, offset);
  const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(offset) / 3600))}:${p2((Math.abs(offset) % 3600) / 60)}`;
  return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String((epoch * 7919) % 1_000_000).padStart(6, '0')}${zone}`;
}

/** nginx's error log: `2026/12/03 20:05:14`, local time. */
function nginxDate(epoch: number): string {
  const d = wall(epoch);
  return `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

const sshd = (t: number, pid: number, msg: string) => `${syslogDate(t)} web1 sshd[${pid}]: ${msg}\n`;
const mail = (t: number, offset: number, msg: string, ident = 'dovecot') => `${rfc3339(t, offset)} web1 ${ident}: ${msg}\n`;
const nginx = (t: number, msg: string) => `${nginxDate(t)} ${msg}\n`;

// ---- the scenario ---------------------------------------------------------------------------

/** Addresses, named after what happens to them. */
const IP = {
  old: '192.0.2.12', // three failures older than findtime: ignored at start
  straddle: '192.0.2.13', // one failure older than findtime, two inside: 2 < maxretry
  plain: '192.0.2.10', // three "Failed password": banned
  below: '192.0.2.11', // two failures
  forms: '192.0.2.14', // Invalid user / not allowed / maximum attempts / Disconnecting
  v6: '2001:db8::7', // also written 2001:DB8:0:0:0:0:0:7
  mapped: '192.0.2.16', // written ::ffff:192.0.2.16 twice
  session: '192.0.2.15', // pam line (address only) + Failed password, per session
  pamOnly: '192.0.2.17', // pam lines alone: no failure
  gained: '192.0.2.23', // two failures, then a login in the same session, then one more failure
  self: '127.0.0.1', // ignoreself
  pending: '192.0.2.30', // "Too many authentication failures" before the session names the address
  extra: '192.0.2.31', // four failures: the fourth comes while banned
  sentinel: '192.0.2.99', // the last lines of the content at start
  // appended while running
  back: '192.0.2.40', // banned, fails twice while banned, once after: fail2ban counts all three
  again: '2001:db8::40', // banned, expires, comes back with three new failures
  slow: '192.0.2.42', // one failure at t0, t0+~8, t0+17: wider than the 15 s findtime
  closed: '192.0.2.43', // "Connection closed ... [preauth]": a failure in aggressive mode only
  end: '192.0.2.98', // the last appended lines
  // dovecot
  mailA: '198.51.100.5',
  mailB: '198.51.100.6',
  mailZone: '198.51.100.7', // dates whose offset puts them 4.5 h back: ignored
  mailV6: '2001:db8:2::9',
  mailSentinel: '198.51.100.99',
  // nginx
  webA: '203.0.113.5',
  webV6: '2001:db8:1::5',
  webOnce: '203.0.113.6',
  webSentinel: '203.0.113.99',
};

/** auth.log as it is when the daemons start; T is "now" when it is written. */
function authLogAtStart(T: number): string {
  const failed = (t: number, pid: number, ip: string, user = 'root', port = 40000 + pid) => sshd(t, pid, `Failed password for ${user} from ${ip} port ${port} ssh2`);
  const pam = (t: number, pid: number, ip: string) =>
    sshd(t, pid, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}  user=root`);
  return [
    failed(T - 840, 500, IP.old),
    failed(T - 780, 501, IP.old),
    failed(T - 720, 502, IP.old),
    failed(T - 660, 503, IP.straddle),
    sshd(T - 540, 1, 'Server listening on 0.0.0.0 port 22.'),
    failed(T - 500, 510, IP.plain),
    failed(T - 480, 511, IP.plain, 'admin'),
    sshd(T - 470, 512, 'Accepted publickey for alice from 192.0.2.20 port 40100 ssh2: ED25519 SHA256:Yz1mJ3fGc2d'),
    failed(T - 460, 513, IP.plain),
    sshd(T - 450, 520, `Invalid user test from ${IP.below} port 40200`),
    sshd(T - 449, 520, `Failed password for invalid user test from ${IP.below} port 40200 ssh2`),
    failed(T - 420, 521, IP.straddle),
    sshd(T - 400, 530, `Invalid user admin from ${IP.forms} port 40400`),
    sshd(T - 395, 531, `User root from ${IP.forms} not allowed because not listed in AllowUsers`),
    sshd(T - 390, 532, `error: maximum authentication attempts exceeded for root from ${IP.forms} port 40402 ssh2 [preauth]`),
    sshd(T - 390, 532, 'Disconnecting: Too many authentication failures for root [preauth]'),
    failed(T - 350, 540, IP.v6),
    failed(T - 340, 541, '2001:DB8:0:0:0:0:0:7'),
    sshd(T - 330, 542, `error: PAM: Authentication failure for root from ${IP.v6}`),
    failed(T - 320, 550, `::ffff:${IP.mapped}`),
    failed(T - 310, 551, `::ffff:${IP.mapped}`),
    failed(T - 300, 552, IP.mapped),
    pam(T - 290, 560, IP.session),
    failed(T - 289, 560, IP.session),
    pam(T - 280, 561, IP.session),
    failed(T - 279, 561, IP.session),
    pam(T - 270, 562, IP.session),
    failed(T - 269, 562, IP.session),
    pam(T - 265, 563, IP.pamOnly),
    pam(T - 265, 564, IP.pamOnly),
    pam(T - 264, 565, IP.pamOnly),
    failed(T - 260, 570, IP.gained, 'bob', 40800),
    failed(T - 259, 570, IP.gained, 'bob', 40800),
    sshd(T - 258, 570, `Accepted password for bob from ${IP.gained} port 40800 ssh2`),
    failed(T - 240, 522, IP.straddle),
    failed(T - 230, 580, IP.self),
    failed(T - 229, 581, IP.self),
    failed(T - 228, 582, IP.self),
    failed(T - 200, 571, IP.gained, 'bob', 40801),
    ...[590, 591, 592].flatMap((pid, i) => [
      sshd(T - 190 + i * 5, pid, 'Disconnecting: Too many authentication failures for admin [preauth]'),
      sshd(T - 190 + i * 5, pid, `Connection closed by authenticating user admin ${IP.pending} port ${40900 + i} [preauth]`),
    ]),
    sshd(T - 150, 600, 'Connection closed by 192.0.2.21 port 41000 [preauth]'),
    sshd(T - 120, 601, 'Received disconnect from 192.0.2.22 port 41001:11: Bye Bye [preauth]'),
    sshd(T - 120, 601, 'Disconnected from 192.0.2.22 port 41001 [preauth]'),
    failed(T - 100, 610, IP.extra),
    failed(T - 99, 611, IP.extra),
    failed(T - 98, 612, IP.extra),
    failed(T - 97, 613, IP.extra),
    failed(T - 63, 620, IP.sentinel),
    failed(T - 62, 621, IP.sentinel),
    failed(T - 61, 622, IP.sentinel),
  ].join('');
}

function mailLogAtStart(T: number): string {
  const disconnected = (ip: string, user: string, session: string) =>
    `imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<${user}>, method=PLAIN, rip=${ip}, lip=10.0.0.1, TLS, session=<${session}>`;
  return [
    // read in the local zone these would be 200 s old; at +10:00 they are 4.5 h old
    `${rfc3339(T - 200 + ZONE_OFFSET - 10 * 3600, 10 * 3600)} web1 dovecot: ${disconnected(IP.mailZone, 'zed', 'z1')}\n`,
    `${rfc3339(T - 199 + ZONE_OFFSET - 10 * 3600, 10 * 3600)} web1 dovecot: ${disconnected(IP.mailZone, 'zed', 'z2')}\n`,
    mail(T - 400, 3600, disconnected(IP.mailA, 'bob', 'a1')),
    mail(T - 380, 0, 'imap-login: Login: user=<dave>, method=PLAIN, rip=198.51.100.20, lip=10.0.0.1, mpid=4242, TLS, session=<b1>'),
    mail(T - 300, -5 * 3600, `pop3-login: Aborted login (auth failed, 1 attempts in 3 secs): user=<bob>, method=PLAIN, rip=${IP.mailA}, lip=10.0.0.1, session=<a2>`),
    mail(T - 250, 0, `pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=carol rhost=${IP.mailB}  user=carol`, 'auth'),
    mail(T - 240, ZONE_OFFSET, `auth-worker(1234): pam(carol,${IP.mailB},<Xy7a>): pam_authenticate() failed: Authentication failure (password mismatch?)`),
    mail(T - 200, 0, disconnected(IP.mailV6, 'eve', 'c1')),
    mail(T - 70, 3600, disconnected(IP.mailSentinel, 'mallory', 's1')),
    mail(T - 65, 3600, disconnected(IP.mailSentinel, 'mallory', 's2')),
  ].join('');
}

function nginxLogAtStart(T: number): string {
  const mismatch = (n: number, ip: string) =>
    `[error] 812#812: *${n} user "admin": password mismatch, client: ${ip}, server: example.com, request: "GET /admin HTTP/1.1", host: "example.com"`;
  const notFound = (n: number, ip: string) =>
    `[error] 812#812: *${n} user "root" was not found in "/etc/nginx/.htpasswd", client: ${ip}, server: example.com, request: "POST /login HTTP/2.0", host: "example.com", referrer: "https://example.com/"`;
  return [
    nginx(T - 500, '[notice] 811#811: signal process started'),
    nginx(T - 350, mismatch(10, IP.webA)),
    nginx(T - 345, notFound(11, IP.webV6)),
    nginx(T - 340, notFound(12, IP.webA)),
    nginx(T - 300, mismatch(13, IP.webV6)),
    nginx(T - 200, mismatch(14, IP.webOnce)),
    nginx(T - 150, '[error] 812#812: *20 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 203.0.113.7, server: example.com, request: "GET /favicon.ico HTTP/1.1", host: "example.com"'),
    nginx(T - 70, mismatch(30, IP.webSentinel)),
    nginx(T - 69, notFound(31, IP.webSentinel)),
  ].join('');
}

// ---- the two daemons ------------------------------------------------------------------------

interface Logs {
  auth: string;
  mail: string;
  nginx: string;
}

/**
 * A copy of Debian's /etc/fail2ban for one daemon: jail.d emptied (Debian's defaults-debian.conf
 * enables sshd on the system's auth log), its own socket, pid file, database and log, and the
 * recording action.
 */
function configTree(dir: string, who: string, logs: Logs): { conf: string; record: string; log: string; db: string; socket: string } {
  const conf = path.join(dir, `conf-${who}`);
  fs.cpSync(ETC, conf, { recursive: true });
  const jailD = path.join(conf, 'jail.d');
  for (const f of fs.readdirSync(jailD)) fs.rmSync(path.join(jailD, f), { recursive: true, force: true });
  const file = (name: string) => path.join(dir, `${who}.${name}`);
  const out = { conf, record: file('record.txt'), log: file('log'), db: file('sqlite3'), socket: file('sock') };
  fs.writeFileSync(
    path.join(conf, 'fail2ban.local'),
    `[DEFAULT]\nloglevel = INFO\nlogtarget = ${out.log}\nsocket = ${out.socket}\npidfile = ${file('pid')}\ndbfile = ${out.db}\nallowipv6 = auto\n`,
  );
  fs.writeFileSync(
    path.join(conf, 'action.d/record.conf'),
    [
      '[Definition]',
      'actionstart =',
      'actionstop =',
      'actioncheck =',
      'actionban = echo "ban <name> <ip> <time> <failures> <bantime> user=<F-USER>" >> <target>',
      'actionunban = echo "unban <name> <ip> <time> <failures> <bantime> user=<F-USER>" >> <target>',
      '[Init]',
      `target = ${out.record}`,
      '',
    ].join('\n'),
  );
  const jail = (name: string, lines: string[]) => [`[${name}]`, 'enabled = true', 'backend = polling', ...lines, ''].join('\n');
  fs.writeFileSync(
    path.join(conf, 'jail.local'),
    [
      '[DEFAULT]\nbackend = polling\naction = record\n',
      jail('sshd', [`logpath = ${logs.auth}`, 'maxretry = 3', 'findtime = 10m', 'bantime = 1d']),
      jail('sshd-fast', ['filter = sshd[mode=aggressive]', `logpath = ${logs.auth}`, 'maxretry = 3', 'findtime = 15s', 'bantime = 6s']),
      jail('dovecot', [`logpath = ${logs.mail}`, 'maxretry = 2', 'findtime = 10m', 'bantime = 1h']),
      jail('nginx-http-auth', [`logpath = ${logs.nginx}`, 'maxretry = 2', 'findtime = 10m', 'bantime = 2h']),
    ].join('\n'),
  );
  return out;
}

interface Daemon {
  name: string;
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
  record: string;
  log: string;
}

function start(ns: Netns, name: string, argv: string[], paths: { record: string; log: string }): Daemon {
  const child = ns.start(['env', `TZ=${ZONE}`, ...argv]);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, output: () => out, exit, ...paths };
}

/** SIGTERM by pid (both shut down their jails and lift every ban); SIGKILL after 20 s. */
async function stop(d: Daemon): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 20_000);
  const code = await d.exit;
  clearTimeout(timer);
  return code;
}

const recorded = (d: Daemon): string[] => (fs.existsSync(d.record) ? fs.readFileSync(d.record, 'utf8').split('\n').filter(Boolean) : []);

/** Whether every line of `want` starts some recorded line. */
const hasAll = (d: Daemon, want: string[]) => {
  const got = recorded(d);
  return want.every((w) => got.some((l) => l.startsWith(w)));
};

/** One recorded line with the time as integer seconds and the numbers as numbers. */
function normalise(line: string): string {
  const m = /^(ban|unban) (\S+) (\S+) (\S+) (\S+) (\S+) (user=.*)$/.exec(line);
  if (!m) return `unparsed: ${line}`;
  const [, kind, jail, ip, time, failures, bantime, user] = m;
  return `${kind} ${jail} ${ip} ${Math.floor(Number(time))} ${Number(failures)} ${Number(bantime)} ${user}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowSec = () => Math.floor(Date.now() / 1000);

async function until(epochSec: number): Promise<void> {
  const ms = epochSec * 1000 - Date.now();
  if (ms > 0) await sleep(Math.min(ms, 30_000));
}

function tail(file: string, lines = 60): string {
  if (!fs.existsSync(file)) return `(no ${file})`;
  return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

async function skipUnlessReady(t: TestContext): Promise<boolean> {
  for (const f of [PYTHON, FAIL2BAN_SERVER, path.join(ETC, 'jail.conf'), path.join(ETC, 'filter.d/sshd.conf')]) {
    if (!fs.existsSync(f)) {
      t.skip(`fail2ban from Debian is not installed (${f} is missing: apt-get install fail2ban)`);
      return false;
    }
  }
  const ns = await netnsAvailable();
  if (!ns.ok) t.skip(`network namespaces unavailable: ${ns.reason}`);
  return ns.ok;
}

test('the same logs and config through fail2ban-server and f2b-fast: the same bans at the same log times', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnlessReady(t))) return;
  const dir = tmpDir(t, 'f2b-diff-');
  const logs: Logs = { auth: path.join(dir, 'auth.log'), mail: path.join(dir, 'mail.log'), nginx: path.join(dir, 'nginx-error.log') };
  const T = nowSec();
  fs.writeFileSync(logs.auth, authLogAtStart(T));
  fs.writeFileSync(logs.mail, mailLogAtStart(T));
  fs.writeFileSync(logs.nginx, nginxLogAtStart(T));

  const refTree = configTree(dir, 'fail2ban', logs);
  const ourTree = configTree(dir, 'f2bfast', logs);
  const [nsRef, nsOurs] = await Promise.all([createNetns('f2bdr'), createNetns('f2bdo')]);
  t.after(() => Promise.all([nsRef.destroy(), nsOurs.destroy()]));

  const fail2ban = start(nsRef, 'fail2ban', [PYTHON, FAIL2BAN_SERVER, '-c', refTree.conf, '-x', '-f'], refTree);
  const f2bfast = start(
    nsOurs,
    'f2b-fast',
    [process.execPath, BIN, 'run', '--config', ourTree.conf, '--db', ourTree.db, '--socket', ourTree.socket, '--logtarget', ourTree.log, '--dry-run'],
    ourTree,
  );
  const both = [fail2ban, f2bfast];
  t.after(() => Promise.all(both.map(stop)));
  const diagnostics = () =>
    both.map((d) => `--- ${d.name}: output\n${d.output()}\n--- ${d.name}: log (tail)\n${tail(d.log)}\n--- ${d.name}: recorded\n${recorded(d).join('\n')}`).join('\n');

  /** Bounded: waits for fail2ban first (the reference), then gives f2b-fast as long again. */
  const waitBoth = async (want: string[], ms: number) => {
    const ok = await waitFor(() => hasAll(fail2ban, want), ms);
    assert.ok(ok, `fail2ban did not record ${JSON.stringify(want)} within ${ms} ms\n${diagnostics()}`);
    await waitFor(() => hasAll(f2bfast, want), ms);
  };

  // the content at start: each jail's last lines ban the sentinel addresses
  await waitBoth([`ban sshd ${IP.sentinel} `, `ban dovecot ${IP.mailSentinel} `, `ban nginx-http-auth ${IP.webSentinel} `], 30_000);

  // appended while running, dated when written (fail2ban treats a date more than 60 s from now
  // as now once a file is in operation, so these must be current)
  const append = (lines: string[]) => fs.appendFileSync(logs.auth, lines.join(''));
  const failed = (at: number, pid: number, ip: string) => sshd(at, pid, `Failed password for root from ${ip} port ${42000 + (pid % 1000)} ssh2`);
  const t0 = nowSec();
  append([
    failed(t0, 8000, IP.back),
    failed(t0, 8001, IP.back),
    failed(t0, 8002, IP.back),
    sshd(t0, 8010, `Invalid user guest from ${IP.again} port 43000`),
    sshd(t0, 8011, `Invalid user guest from ${IP.again} port 43001`),
    sshd(t0, 8012, `Invalid user guest from ${IP.again} port 43002`),
    sshd(t0, 8020, `Failed password for invalid user oracle from ${IP.slow} port 43100 ssh2`),
    ...[0, 1, 2].map((i) => sshd(t0, 8030 + i, `Connection closed by authenticating user root ${IP.closed} port ${43200 + i} [preauth]`)),
  ]);
  await waitBoth([`ban sshd-fast ${IP.back} `, `ban sshd-fast ${IP.again} `, `ban sshd-fast ${IP.closed} `, `ban sshd ${IP.back} `, `ban sshd ${IP.again} `], 15_000);

  // while banned in both jails (sshd-fast's 6 s run to t0 + 6)
  await until(t0 + 2);
  const t1 = nowSec();
  append([failed(t1, 8040, IP.back), failed(t1, 8041, IP.back)]);

  // sshd-fast's bans expire; then the addresses come back
  await waitBoth([`unban sshd-fast ${IP.back} `, `unban sshd-fast ${IP.again} `, `unban sshd-fast ${IP.closed} `], 15_000);
  const t2 = nowSec();
  append([
    sshd(t2, 8050, `Failed password for invalid user oracle from ${IP.slow} port 43101 ssh2`),
    failed(t2, 8051, IP.back),
    sshd(t2, 8052, `Invalid user guest from ${IP.again} port 43003`),
    sshd(t2, 8053, `Invalid user guest from ${IP.again} port 43004`),
    sshd(t2, 8054, `Invalid user guest from ${IP.again} port 43005`),
  ]);
  await waitBoth([`ban sshd-fast ${IP.again} ${t2}`], 10_000);

  // the third failure of `slow`, 17 s after its first: wider than findtime (15 s)
  await until(t0 + 17);
  const t3 = nowSec();
  append([
    sshd(t3, 8060, `Failed password for invalid user oracle from ${IP.slow} port 43102 ssh2`),
    failed(t3, 8061, IP.end),
    failed(t3, 8062, IP.end),
    failed(t3, 8063, IP.end),
  ]);
  await waitBoth([`ban sshd ${IP.end} `, `ban sshd-fast ${IP.end} `], 10_000);
  await sleep(1500); // anything still on its way

  const codes = await Promise.all(both.map(stop));
  assert.deepEqual(codes, [0, 0], `exit codes\n${diagnostics()}`);

  const refLines = recorded(fail2ban);
  const ourLines = recorded(f2bfast);
  const ref = refLines.map(normalise).sort();
  const ours = ourLines.map(normalise).sort();
  const count = (list: string[], l: string) => list.filter((x) => x === l).length;
  const surplus = (a: string[], b: string[]) => [...new Set(a)].filter((l) => count(a, l) > count(b, l));
  assert.deepEqual(
    ours,
    ref,
    `f2b-fast and fail2ban recorded different bans (T = ${T}, t0..t3 = ${t0} ${t1} ${t2} ${t3})\n` +
      `only fail2ban:\n  ${surplus(ref, ours).join('\n  ') || '-'}\nonly f2b-fast:\n  ${surplus(ours, ref).join('\n  ') || '-'}\n${diagnostics()}`,
  );

  // Equal as numbers, but not always as text: fail2ban's <time> is a Python int for a date read
  // with a zone (calendar.timegm) and a float ("….0") otherwise (time.mktime); ours is always
  // a float. Reported, not failed: the brief compares times as seconds.
  const byKey = (lines: string[]) => lines.map((raw) => ({ key: normalise(raw), raw })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const textDiffers = byKey(refLines)
    .map((r, i) => [r.raw, byKey(ourLines)[i].raw])
    .filter(([a, b]) => a !== b);
  if (textDiffers.length) {
    t.diagnostic(`${textDiffers.length} recorded lines equal as numbers differ as text, e.g. fail2ban '${textDiffers[0][0]}' / f2b-fast '${textDiffers[0][1]}'`);
  }

  // fail2ban itself did what the scenario is about (else the comparison proves little)
  const expected = [
    `ban sshd ${IP.plain} ${T - 460} 3 86400 user=root`,
    `ban sshd ${IP.forms} ${T - 390} 3 86400 user=admin`, // the ticket keeps its first failure's user
    `ban sshd ${IP.v6} ${T - 330} 3 86400 user=root`,
    `ban sshd ${IP.mapped} ${T - 300} 3 86400 user=root`,
    `ban sshd ${IP.session} ${T - 269} 3 86400 user=root`,
    `ban sshd ${IP.sentinel} ${T - 61} 3 86400 user=root`,
    `ban dovecot ${IP.mailA} ${T - 300} 2 3600 user=bob`,
    `ban nginx-http-auth ${IP.webA} ${T - 340} 2 7200 user=`,
    `ban nginx-http-auth ${IP.webV6} ${T - 300} 2 7200 user=`,
    `ban sshd-fast ${IP.closed} ${t0} 3 6 user=root`,
    `ban sshd-fast ${IP.again} ${t0} 3 6 user=guest`,
    `ban sshd-fast ${IP.again} ${t2} 3 6 user=guest`,
    // two failures while banned + one after the ban expired
    `ban sshd-fast ${IP.back} ${t2} 3 6 user=root`,
    // sshd: crossing maxretry again while banned moves the ban's end to t2 + bantime
    `unban sshd ${IP.back} ${t0} 3 ${86400 + t2 - t0} user=root`,
  ];
  // failures at t0, t2, t3 with t3 - t0 in 16..20 s: rescaled to 2 of 15 s, plus one
  if (t2 - t0 < 15 && t3 - t0 <= 20) expected.push(`ban sshd-fast ${IP.slow} ${t3} 3 6 user=oracle`);
  else t.diagnostic(`slow run (t0..t3 = ${t0} ${t1} ${t2} ${t3}): the rescaling case was not checked against expectations`);
  for (const e of expected) assert.ok(ref.includes(e), `fail2ban did not record '${e}'\n${diagnostics()}`);
  for (const ip of [IP.old, IP.straddle, IP.below, IP.pamOnly, IP.self, IP.mailZone, IP.mailV6, IP.webOnce]) {
    assert.ok(!ref.some((l) => l.split(' ')[2] === ip), `fail2ban banned ${ip}\n${diagnostics()}`);
  }
  // "Connection closed ... [preauth]" is a failure in aggressive mode only
  assert.ok(!ref.some((l) => l.startsWith(`ban sshd ${IP.closed} `)), `fail2ban's sshd (normal mode) banned ${IP.closed}\n${diagnostics()}`);
});
