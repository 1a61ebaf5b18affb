// Debian's own action.d files, unchanged, run by the daemon as fail2ban runs them: sendmail
// (against a stand-in sendmail that records what it is sent), hostsdeny (into a file of the
// test's) and route (real `ip route` in a network namespace the test creates), for IPv4 and
// IPv6, from ban to unban. The stock files are read from the installed fail2ban at run time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createNetns, netnsAvailable } from './helpers/netns';
import { tmpDir } from './helpers/tmp';
import { syslog, waitFor } from './helpers/logs';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const STOCK = '/etc/fail2ban';

test('stock sendmail, hostsdeny and route actions: ban and unban, IPv4 and IPv6', async (t) => {
  if (!fs.existsSync(path.join(STOCK, 'action.d/route.conf'))) return t.skip("fail2ban's stock action.d is not installed");
  const ok = await netnsAvailable();
  if (!ok.ok) return t.skip(`network namespaces unavailable: ${ok.reason}`);
  const dir = tmpDir(t);
  const conf = path.join(dir, 'conf');
  fs.cpSync(STOCK, conf, { recursive: true });
  fs.rmSync(path.join(conf, 'jail.d'), { recursive: true, force: true });
  const log = path.join(dir, 'auth.log');
  const mail = path.join(dir, 'mail.txt');
  const deny = path.join(dir, 'hosts.deny');
  fs.writeFileSync(log, '');
  fs.writeFileSync(deny, '# hosts.deny of the test\n');
  // a sendmail that records its arguments and the message
  const sendmail = path.join(dir, 'sendmail');
  fs.writeFileSync(sendmail, `#!/bin/sh\n{ echo "ARGS: $*"; cat; echo "--END--"; } >> ${mail}\n`, { mode: 0o755 });
  // the sendmail actions' own hook for another mail command (sendmail-common.conf includes it)
  fs.writeFileSync(path.join(conf, 'action.d/sendmail-common.local'), `[Init]\nmailcmd = ${sendmail} -f "<sender>" "<dest>"\n`);
  fs.writeFileSync(
    path.join(conf, 'fail2ban.local'),
    `[DEFAULT]\nlogtarget = ${path.join(dir, 'f2b.log')}\nsocket = ${path.join(dir, 'f2b.sock')}\ndbfile = ${path.join(dir, 'state.sqlite3')}\n`,
  );
  fs.writeFileSync(
    path.join(conf, 'jail.local'),
    [
      '[sshd]',
      'enabled = true',
      'backend = auto',
      `logpath = ${log}`,
      'maxretry = 2',
      'bantime = 6',
      'action = sendmail[name=sshd, dest=admin@example.org]',
      `         hostsdeny[file="${deny}"]`,
      '         route',
      '',
    ].join('\n'),
  );
  const ns = await createNetns('f2bs');
  t.after(() => ns.destroy());
  // route needs a way to the addresses' networks before it can add routes to them
  await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  const daemon = ns.start([process.execPath, BIN, 'run', '--config', conf, '--dry-run']);
  let out = '';
  daemon.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const f2bLog = () => (fs.existsSync(path.join(dir, 'f2b.log')) ? fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8') : '') + out;
  t.after(() => {
    daemon.kill('SIGTERM');
  });
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  // actionstart of the sendmail action: the jail's start is mailed
  assert.ok(await waitFor(() => read(mail).includes('has been started successfully'), 20_000), f2bLog());
  assert.match(read(mail), /^ARGS: -f fail2ban admin@example\.org$/m);

  // one sshd process per connection: the stock filter keeps a session per pid (F-MLFID)
  let pid = 50;
  for (const ip of ['192.0.2.30', '2001:db8::30']) {
    for (let i = 0; i < 2; i++) fs.appendFileSync(log, syslog(`Failed password for root from ${ip} port ${3000 + i} ssh2`, { pid: pid++ }));
  }
  const routes = async () => (await ns.exec(['ip', 'route', 'show', 'table', 'all'])).stdout + (await ns.exec(['ip', '-6', 'route', 'show', 'table', 'all'])).stdout;
  assert.ok(await waitFor(() => read(deny).includes('ALL: 192.0.2.30\n') && read(deny).includes('ALL: [2001:db8::30]\n'), 15_000), `${read(deny)}\n${f2bLog()}`);
  assert.ok(await waitFor(async () => /unreachable 192\.0\.2\.30/.test(await routes()) && /unreachable 2001:db8::30/.test(await routes()), 15_000), `${await routes()}\n${f2bLog()}`);
  assert.ok(await waitFor(() => read(mail).includes('Subject: [Fail2Ban] sshd: banned 2001:db8::30'), 15_000), read(mail));
  assert.match(read(mail), /Subject: \[Fail2Ban\] sshd: banned 192\.0\.2\.30 from /);
  assert.match(read(mail), /The IP 192\.0\.2\.30 has just been banned by Fail2Ban after\s+2 attempts against sshd\./);

  // bantime 6 s: both unbans undo what the bans did
  assert.ok(await waitFor(() => !read(deny).includes('192.0.2.30') && !read(deny).includes('2001:db8::30'), 15_000), `${read(deny)}\n${f2bLog()}`);
  assert.equal(read(deny), '# hosts.deny of the test\n');
  assert.ok(await waitFor(async () => !/unreachable (192\.0\.2\.30|2001:db8::30)/.test(await routes()), 15_000), await routes());

  daemon.kill('SIGTERM');
  assert.ok(await waitFor(() => read(mail).includes('has been stopped'), 15_000), f2bLog());
});
