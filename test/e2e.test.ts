// End to end: `f2b-fast run` as a real process inside a network namespace, a real log file, real
// nftables, real TCP connections from an attacker and a bystander address. Nothing here touches
// the host's own namespace: the daemon, nft, the listener and the clients all run under
// `ip netns exec` in namespaces the test creates and removes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLinkedPair, createNetns, netnsAvailable, startTcpServer, tryConnect } from './helpers/netns';
import { tmpDir } from './helpers/tmp';
import { BIN, isolated, nftHas, ROOT, startDaemon, startDaemonHost, stopDaemon } from './helpers/daemon-proc';
import { syslog, waitFor } from './helpers/logs';

const PORT = 2222;

async function skipUnlessNetns(t: import('node:test').TestContext): Promise<boolean> {
  const ok = await netnsAvailable();
  if (!ok.ok) t.skip(`network namespaces unavailable: ${ok.reason}`);
  return ok.ok;
}

/** The firewall fault tests' tree: sshd on an empty auth.log, banned at the first failure for an
 *  hour (`jail`: more of jail.local's [sshd]); `fail` writes a failed login of `ip`. */
function faultTree(t: import('node:test').TestContext, jail = '', fail2banLocal?: string): { dir: string; fail(ip: string): void } {
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\nport = ${PORT}\nmaxretry = 1\nbantime = 1h\n${jail}`);
  if (fail2banLocal) fs.writeFileSync(path.join(dir, 'fail2ban.local'), fail2banLocal);
  return { dir, fail: (ip) => fs.appendFileSync(log, syslog(`Failed password for root from ${ip} port 4000 ssh2`, { pid: 7 })) };
}

/** `run --config dir` in `ns`, stopped after the test, once it is ready. */
async function readyDaemon(t: import('node:test').TestContext, ns: Parameters<typeof startDaemon>[0], dir: string, env?: Record<string, string>) {
  const daemon = startDaemon(ns, ['--config', dir, '--logtarget', 'STDOUT'], env);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes('Server ready'), 20_000), daemon.output());
  return daemon;
}

test('an attacker crossing maxretry is dropped by nftables, the bystander is not, and the ban expires', async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const pair = await createLinkedPair('f2be');
  t.after(() => pair.destroy());
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, syslog('Server listening on 0.0.0.0 port 22.', { pid: 1 }));
  fs.cpSync(path.join(ROOT, 'filters'), path.join(dir, 'conf'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'conf/jail.local'),
    `[sshd]\nenabled = true\nport = ${PORT}\nlogpath = ${log}\nmaxretry = 3\nfindtime = 10m\nbantime = 4\n`,
  );
  await startTcpServer(pair.srv, PORT);
  const { attacker, bystander, srv } = pair.addr;
  assert.equal(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: attacker }), 'connected');

  const daemon = startDaemon(pair.srv, ['--config', path.join(dir, 'conf'), '--logtarget', 'STDOUT', '--table', 'f2be']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes("Jail 'sshd' started"), 20_000), daemon.output());

  fs.appendFileSync(log, syslog(`Accepted password for alice from ${bystander} port 50000 ssh2`, { pid: 10 }));
  for (let i = 0; i < 3; i++) fs.appendFileSync(log, syslog(`Failed password for root from ${attacker} port ${40000 + i} ssh2`, { pid: 11 + i }));
  assert.ok(await waitFor(() => nftHas(pair.srv, 'f2be', attacker), 10_000), `attacker not in the set:\n${daemon.output()}`);
  assert.match(daemon.output(), new RegExp(`fail2ban\\.actions +\\[\\d+\\]: NOTICE  \\[sshd\\] Ban ${attacker.replace(/\./g, '\\.')}\\n`));
  assert.ok(!(await nftHas(pair.srv, 'f2be', bystander)));

  assert.notEqual(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: attacker }), 'connected');
  assert.equal(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: bystander }), 'connected');

  // bantime = 4 s from the last failure: the address is released and connects again
  assert.ok(await waitFor(async () => !(await nftHas(pair.srv, 'f2be', attacker)), 15_000), daemon.output());
  assert.match(daemon.output(), new RegExp(`NOTICE  \\[sshd\\] Unban ${attacker.replace(/\./g, '\\.')}`));
  assert.equal(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: attacker }), 'connected');

  assert.equal(await stopDaemon(daemon), 0);
  const after = await pair.srv.exec(['nft', 'list', 'table', 'inet', 'f2be']);
  assert.notEqual(after.code, 0, 'the table is removed on shutdown');
});

test("an unchanged copy of Debian's /etc/fail2ban with a jail.local enabling sshd starts and bans", async (t) => {
  if (!fs.existsSync('/etc/fail2ban/jail.conf')) {
    t.skip('fail2ban is not installed (apt-get install fail2ban)');
    return;
  }
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2bd');
  t.after(() => ns.destroy());
  const dir = tmpDir(t);
  const conf = path.join(dir, 'fail2ban');
  fs.cpSync('/etc/fail2ban', conf, { recursive: true });
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nenabled = true\nlogpath = ${log}\n`);

  const daemon = startDaemon(ns, ['--config', conf, '--logtarget', 'STDOUT', '--table', 'f2bd']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes("Jail 'sshd' started"), 20_000), daemon.output());
  // the stock jail.conf says banaction = iptables-multiport: served by the nftables backend
  for (let i = 0; i < 5; i++) fs.appendFileSync(log, syslog(`Failed password for invalid user admin from 198.51.100.9 port ${50000 + i} ssh2`, { pid: 20 + i }));
  assert.ok(await waitFor(() => nftHas(ns, 'f2bd', '198.51.100.9'), 10_000), daemon.output());
  assert.match(daemon.output(), /NOTICE  \[sshd\] Ban 198\.51\.100\.9/);
  assert.equal(await stopDaemon(daemon), 0);
});

test('a bad jail is reported with file, line and jail and skipped; the others run', async (t) => {
  const dir = tmpDir(t);
  fs.cpSync(path.join(ROOT, 'filters'), dir, { recursive: true });
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  const local = path.join(dir, 'jail.local');
  fs.writeFileSync(
    local,
    [
      '[sshd]',
      `logpath = ${log}`,
      '',
      '[nofilter]',
      'enabled = true',
      'filter = does-not-exist',
      `logpath = ${log}`,
      '',
      '[badtime]',
      'enabled = true',
      'filter = sshd',
      'findtime = ten minutes please',
      `logpath = ${log}`,
      '',
    ].join('\n'),
  );
  const ns = (await netnsAvailable()).ok ? await createNetns('f2bb') : undefined;
  t.after(() => ns?.destroy());
  const daemon = ns
    ? startDaemon(ns, ['--config', dir, '--dry-run', '--logtarget', 'STDOUT'])
    : startDaemonHost(['--config', dir, '--dry-run', '--logtarget', 'STDOUT']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes("Jail 'sshd' started"), 20_000), daemon.output());
  const out = daemon.output();
  assert.match(out, new RegExp(`${local.replace(/[.]/g, '\\.')}:6: \\[nofilter\\] .*does-not-exist.* - jail skipped`));
  assert.match(out, new RegExp(`${local.replace(/[.]/g, '\\.')}:\\d+: \\[badtime\\] .*findtime.* - jail skipped`));
  assert.doesNotMatch(out, /Jail '(nofilter|badtime)' started/);
  assert.equal(await stopDaemon(daemon), 0);
});

test('run --config DIR with only a jail.local: laid over the bundled tree, it enables a bundled jail that bans', async (t) => {
  const ns = (await netnsAvailable()).ok ? await createNetns('f2bo') : undefined;
  t.after(() => ns?.destroy());
  const dir = tmpDir(t);
  const log = path.join(dir, 'error.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nenabled = false\n\n[nginx-http-auth]\nenabled = true\nlogpath = ${log}\nmaxretry = 2\n`);
  const args = ['--config', dir, '--dry-run', '--logtarget', 'STDOUT'];
  const daemon = ns ? startDaemon(ns, args) : startDaemonHost(args);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes("Jail 'nginx-http-auth' started"), 20_000), daemon.output());
  assert.match(daemon.output(), new RegExp(`with configuration ${dir.replace(/[.]/g, '\\.')} over the bundled tree`));
  assert.doesNotMatch(daemon.output(), /Jail 'sshd' started/);
  const now = new Date();
  const stamp = `${now.getFullYear()}/${String(now.getMonth() + 1).padStart(2, '0')}/${String(now.getDate()).padStart(2, '0')} ${now.toTimeString().slice(0, 8)}`;
  for (let i = 0; i < 2; i++) {
    fs.appendFileSync(log, `${stamp} [error] 811#811: *${40 + i} user "admin" was not found in "/etc/nginx/.htpasswd", client: 203.0.113.41, server: www.example.org, request: "GET /private/ HTTP/1.1", host: "www.example.org"\n`);
  }
  assert.ok(await waitFor(() => /NOTICE  \[nginx-http-auth\] Ban 203\.0\.113\.41/.test(daemon.output()), 10_000), daemon.output());
  assert.equal(await stopDaemon(daemon), 0);
});

test('without nftables, run says so and how to install it; --dry-run still bans', async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2bn');
  t.after(() => ns.destroy());
  const dir = tmpDir(t);
  fs.cpSync(path.join(ROOT, 'filters'), dir, { recursive: true });
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 2\n`);
  // a PATH with node but without nft
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = await ns.exec(['env', `PATH=${bin}`, process.execPath, BIN, 'run', ...isolated(['--config', dir, '--logtarget', 'STDERR'])], { timeoutMs: 20_000 });
  assert.equal(r.code, 255, r.stderr);
  assert.match(r.stderr, /nftables \(nft\) is not installed.*apt-get install nftables.*--dry-run/);

  const daemon = startDaemon(ns, ['--config', dir, '--dry-run', '--logtarget', 'STDOUT']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes("Jail 'sshd' started"), 20_000), daemon.output());
  for (let i = 0; i < 2; i++) fs.appendFileSync(log, syslog(`Invalid user guest from 203.0.113.40 port ${1000 + i}`, { pid: 30 + i }));
  assert.ok(await waitFor(() => /NOTICE  \[sshd\] Ban 203\.0\.113\.40/.test(daemon.output()), 10_000), daemon.output());
  // the firewall's (dry-run) line follows the ban's once the batch runs
  assert.ok(await waitFor(() => /dry-run.*203\.0\.113\.40/.test(daemon.output()), 5000), daemon.output());
  assert.equal(await stopDaemon(daemon), 0);
});

test('banaction = iptables-ipset-proto4: the daemon bans through ipset + iptables; the attacker is dropped, the bystander is not', async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const probe = await createNetns('f2bq');
  const tools = await probe.exec(['sh', '-c', 'ipset --version && iptables --version']);
  await probe.destroy();
  if (tools.code !== 0) return t.skip('ipset or iptables is not installed (apt-get install ipset iptables)');
  const pair = await createLinkedPair('f2bi');
  t.after(() => pair.destroy());
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.cpSync(path.join(ROOT, 'filters'), path.join(dir, 'conf'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'conf/jail.local'),
    `[sshd]\nenabled = true\nport = ${PORT}\nlogpath = ${log}\nmaxretry = 2\nbanaction = iptables-ipset-proto4\n`,
  );
  await startTcpServer(pair.srv, PORT);
  const { attacker, bystander, srv } = pair.addr;
  const daemon = startDaemon(pair.srv, ['--config', path.join(dir, 'conf'), '--logtarget', 'STDOUT']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => daemon.output().includes('Server ready'), 20_000), daemon.output());
  for (let i = 0; i < 2; i++) fs.appendFileSync(log, syslog(`Failed password for root from ${attacker} port ${40000 + i} ssh2`, { pid: 11 + i }));
  const inSet = async (ip: string) => {
    const r = await pair.srv.exec(['ipset', 'test', 'f2b-fast-sshd-ip4', ip]);
    return r.code === 0;
  };
  assert.ok(await waitFor(() => inSet(attacker), 10_000), `attacker not in the ipset:\n${daemon.output()}`);
  assert.equal(await inSet(bystander), false);
  assert.notEqual(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: attacker }), 'connected');
  assert.equal(await tryConnect(pair.cli, { host: srv, port: PORT, localAddress: bystander }), 'connected');
  assert.equal(await stopDaemon(daemon), 0);
  const left = await pair.srv.exec(['ipset', 'list', '-n']);
  assert.doesNotMatch(left.stdout, /f2b-fast/, 'the sets are removed on shutdown');
});

test('firewall faults: the table deleted by hand and nft failing for a while are repaired, every active ban blocked again', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2br');
  t.after(() => ns.destroy());
  const { dir, fail } = faultTree(t);
  // an nft that fails while the flag file exists (as if the binary were gone), the real one otherwise
  const bin = path.join(dir, 'bin');
  const flag = path.join(dir, 'nft-broken');
  fs.mkdirSync(bin);
  const real = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => fs.existsSync(p));
  assert.ok(real, 'nft is not installed');
  fs.writeFileSync(path.join(bin, 'nft'), `#!/bin/sh\nif [ -e ${flag} ]; then echo "nft: cannot run (test)" >&2; exit 127; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
  const daemon = await readyDaemon(t, ns, dir, { PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` });
  fail('192.0.2.101');
  fail('192.0.2.102');
  assert.ok(await waitFor(async () => (await nftHas(ns, 'f2b-fast', '192.0.2.101')) && (await nftHas(ns, 'f2b-fast', '192.0.2.102')), 10_000), daemon.output());

  // 1. an operator deletes the table: the next update fails, the repair puts all three back
  const del = await ns.exec(['nft', 'delete', 'table', 'inet', 'f2b-fast']);
  assert.equal(del.code, 0, del.stderr);
  fail('192.0.2.103');
  assert.ok(await waitFor(() => /NOTICE  Firewall repaired: set up again for 1 jail, 3 active bans blocked again/.test(daemon.output()), 15_000), daemon.output());
  for (const ip of ['192.0.2.101', '192.0.2.102', '192.0.2.103']) assert.ok(await nftHas(ns, 'f2b-fast', ip), `${ip} after the repair`);

  // 2. nft fails for a while: bans go on in memory, the repair retries, and once nft works
  // again every ban (the one made meanwhile too) is in the set
  fs.writeFileSync(flag, '');
  fail('192.0.2.104');
  assert.ok(await waitFor(() => /NOTICE  \[sshd\] Ban 192\.0\.2\.104/.test(daemon.output()), 10_000), daemon.output());
  assert.ok(await waitFor(() => /ERROR   Firewall repair failed: .*trying again in \d+ s/.test(daemon.output()), 15_000), daemon.output());
  fs.rmSync(flag);
  assert.ok(await waitFor(async () => (await nftHas(ns, 'f2b-fast', '192.0.2.104')) && (await nftHas(ns, 'f2b-fast', '192.0.2.101')), 30_000), daemon.output());
  assert.match(daemon.output(), /Firewall repaired: set up again for 1 jail, 4 active bans blocked again/);
  assert.equal(daemon.child.exitCode, null);
  assert.equal(await stopDaemon(daemon), 0);
});

test('firewall check ([firewall] check = 1): a chain flushed and the table deleted by hand, with no new ban, are noticed and repaired', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2bk');
  t.after(() => ns.destroy());
  const { dir, fail } = faultTree(t, '', '[firewall]\ncheck = 1\n');
  const daemon = await readyDaemon(t, ns, dir);
  for (const ip of ['192.0.2.111', '192.0.2.112']) fail(ip);
  const both = async () => (await nftHas(ns, 'f2b-fast', '192.0.2.111')) && (await nftHas(ns, 'f2b-fast', '192.0.2.112'));
  assert.ok(await waitFor(both, 10_000), daemon.output());
  const rules = async () => (await ns.exec(['nft', 'list', 'chain', 'inet', 'f2b-fast', 'input'])).stdout.split('\n').filter((l) => l.includes('@')).length;
  assert.equal(await rules(), 4);

  // 1. the rules are flushed (the sets and their addresses stay, but nothing is blocked)
  const flush = await ns.exec(['nft', 'flush', 'chain', 'inet', 'f2b-fast', 'input']);
  assert.equal(flush.code, 0, flush.stderr);
  assert.ok(await waitFor(() => /ERROR   Firewall check: nftables chain input has 0 of its 4 rules \(changed by hand\?\): setting it up again/.test(daemon.output()), 10_000), daemon.output());
  assert.ok(await waitFor(() => /NOTICE  Firewall repaired: set up again for 1 jail, 2 active bans blocked again/.test(daemon.output()), 10_000), daemon.output());
  assert.equal(await rules(), 4);
  assert.ok(await both(), 'both bans after the first repair');

  // 2. the whole table goes
  const del = await ns.exec(['nft', 'delete', 'table', 'inet', 'f2b-fast']);
  assert.equal(del.code, 0, del.stderr);
  assert.ok(await waitFor(() => /ERROR   Firewall check: nftables table inet f2b-fast is missing/.test(daemon.output()), 10_000), daemon.output());
  assert.ok(await waitFor(both, 10_000), daemon.output());
  assert.equal((daemon.output().match(/Firewall repaired: set up again for 1 jail, 2 active bans blocked again/g) ?? []).length, 2);
  // no failure was logged meanwhile: the check found both, not a failed update
  assert.doesNotMatch(daemon.output(), /firewall update failed|nft exited/i);
  assert.equal(daemon.child.exitCode, null);
  assert.equal(await stopDaemon(daemon), 0);
});

test('ipset "Hash is full" ([firewall] ipset_maxelem = 2): the sets are created again larger and every ban blocked; a flushed chain is noticed', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnlessNetns(t))) return;
  const ns = await createNetns('f2bh');
  t.after(() => ns.destroy());
  const tools = await ns.exec(['sh', '-c', 'ipset --version && iptables --version']);
  if (tools.code !== 0) return t.skip('ipset or iptables is not installed (apt-get install ipset iptables)');
  const { dir, fail } = faultTree(t, 'banaction = iptables-ipset-proto4\n', '[firewall]\ncheck = 1\nipset_maxelem = 2\n');
  const daemon = await readyDaemon(t, ns, dir);
  const ips = Array.from({ length: 7 }, (_, i) => `192.0.2.${121 + i}`);
  for (const ip of ips) fail(ip);
  const members = async () => {
    const r = await ns.exec(['ipset', 'list', 'f2b-fast-sshd-ip4']);
    return { text: r.stdout, ips: r.stdout.split('\n').flatMap((l) => /^(\d+\.\d+\.\d+\.\d+) timeout/.exec(l)?.[1] ?? []) };
  };
  assert.ok(await waitFor(async () => (await members()).ips.length === ips.length, 30_000), `${(await members()).text}\n${daemon.output()}`);
  assert.deepEqual((await members()).ips.sort(), [...ips].sort());
  assert.match(daemon.output(), /ipset f2b-fast-sshd-ip4 is full at maxelem 2: the sets are created with maxelem 4 when set up again/);
  assert.match(daemon.output(), /NOTICE  Firewall repaired: set up again for 1 jail, 7 active bans blocked again/);
  const maxelem = Number(/maxelem (\d+)/.exec((await members()).text)?.[1]);
  assert.ok(maxelem >= ips.length, `maxelem ${maxelem}`);

  // the iptables chain flushed by hand: the check notices and the rule comes back
  const flush = await ns.exec(['iptables', '-w', '-F', 'f2b-fast']);
  assert.equal(flush.code, 0, flush.stderr);
  assert.ok(await waitFor(() => /ERROR   Firewall check: iptables chain f2b-fast has 0 of its \d+ rules/.test(daemon.output()), 10_000), daemon.output());
  assert.ok(await waitFor(async () => (await ns.exec(['iptables', '-w', '-S', 'f2b-fast'])).stdout.includes('--match-set f2b-fast-sshd-ip4 src'), 10_000), daemon.output());
  assert.ok(await waitFor(async () => (await members()).ips.length === ips.length, 10_000), daemon.output());
  assert.equal(daemon.child.exitCode, null);
  assert.equal(await stopDaemon(daemon), 0);
});
