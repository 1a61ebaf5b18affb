// Fleet mode end to end: f2b-fast daemons as real processes, each in its own network namespace
// with real nftables, sharing one real redis-server in a third ("hub") namespace that each
// reaches over its own veth link. Nothing runs in the host's namespace but the control client,
// which talks to a daemon's unix socket (a file, not the network).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, nftHas, startDaemon, stopDaemon, type Running } from './helpers/daemon-proc';
import { syslog, waitFor } from './helpers/logs';
import { createNetns, netnsAvailable, type Netns } from './helpers/netns';
import { freePort, haveRedis, RedisServer } from './helpers/redis';
import { tmpDir } from './helpers/tmp';

const TABLE = 'f2b-fast';

interface Member {
  name: string;
  ns: Netns;
  /** the hub's address on this member's link (where it finds Redis) */
  hubAddr: string;
  /** the hub-side device of the link */
  hubDev: string;
}

async function must(ns: Netns, argv: string[]): Promise<void> {
  const r = await ns.exec(argv);
  if (r.code !== 0) throw new Error(`${ns.name}: ${argv.join(' ')} failed: ${r.stderr.trim()}`);
}

/** A hub namespace and `names.length` members, each linked to the hub by a veth pair:
 *  hub 198.51.100.(4i+1)/30 <-> member 198.51.100.(4i+2)/30. */
async function fleetNet(names: string[]): Promise<{ hub: Netns; members: Member[]; destroy: () => Promise<void> }> {
  const created: Netns[] = [];
  const destroy = async () => {
    await Promise.all(created.map((n) => n.destroy()));
  };
  try {
    const hub = await createNetns('f2bfh');
    created.push(hub);
    await must(hub, ['ip', 'link', 'set', 'lo', 'up']);
    const members: Member[] = [];
    for (const [i, name] of names.entries()) {
      const ns = await createNetns(`f2bf${name}`);
      created.push(ns);
      const hubDev = `vh${i}`;
      const hubAddr = `198.51.100.${4 * i + 1}`;
      await must(hub, ['ip', 'link', 'add', hubDev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
      await must(hub, ['ip', 'addr', 'add', `${hubAddr}/30`, 'dev', hubDev]);
      await must(hub, ['ip', 'link', 'set', hubDev, 'up']);
      await must(ns, ['ip', 'addr', 'add', `198.51.100.${4 * i + 2}/30`, 'dev', 'eth0']);
      await must(ns, ['ip', 'link', 'set', 'eth0', 'up']);
      await must(ns, ['ip', 'link', 'set', 'lo', 'up']);
      members.push({ name, ns, hubAddr, hubDev });
    }
    return { hub, members, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** A config laid over the bundled tree: the sshd jail on one log (bans shared), a "counted"
 *  jail on another (failures counted fleet-wide), and [fleet] pointing at the hub. */
function config(dir: string, m: Member, port: number, sshdExtra: string[] = []): { sshdLog: string; countedLog: string; args: string[]; socket: string } {
  const sshdLog = path.join(dir, 'auth.log');
  const countedLog = path.join(dir, 'counted.log');
  fs.writeFileSync(sshdLog, '');
  fs.writeFileSync(countedLog, '');
  fs.mkdirSync(path.join(dir, 'conf'));
  fs.writeFileSync(
    path.join(dir, 'conf/jail.local'),
    [
      '[sshd]',
      'enabled = true',
      `logpath = ${sshdLog}`,
      'port = 2222',
      'maxretry = 5',
      'bantime = 1h',
      ...sshdExtra,
      '',
      '[counted]',
      'enabled = true',
      'filter = sshd',
      `logpath = ${countedLog}`,
      'port = 2223',
      'maxretry = 5',
      'bantime = 1h',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'conf/fail2ban.local'),
    ['[fleet]', `redis = redis://${m.hubAddr}:${port}`, `host = ${m.name}`, 'prefix = e2e:', 'count = counted', ''].join('\n'),
  );
  const socket = path.join(dir, 'f2b.sock');
  return { sshdLog, countedLog, socket, args: ['--config', path.join(dir, 'conf'), '--logtarget', 'STDOUT', '--socket', socket] };
}

function fail(log: string, ip: string, n: number): void {
  for (let i = 0; i < n; i++) fs.appendFileSync(log, syslog(`Failed password for root from ${ip} port ${40000 + i} ssh2`, { pid: 5000 + i }));
}

function client(socket: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, 'client', '-s', socket, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** ms until `cond` holds, or Infinity after `ms`. */
async function timeUntil(cond: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  return (await waitFor(cond, ms)) ? Date.now() - start : Infinity;
}

test('fleet: a ban on A reaches B and a late C; an unban follows; a cut link and a Redis restart lose nothing; failures count fleet-wide', { timeout: 180_000 }, async (t) => {
  const avail = await netnsAvailable();
  if (!avail.ok) return t.skip(`network namespaces unavailable: ${avail.reason}`);
  if (!haveRedis()) return t.skip('redis-server is not installed (apt-get install redis-server)');
  const net = await fleetNet(['a', 'b', 'c']);
  t.after(() => net.destroy());
  const [ma, mb, mc] = net.members;
  const port = await freePort();
  const redis = new RedisServer(port, tmpDir(t, 'f2b-fast-redis-'), '0.0.0.0', net.hub.name);
  t.after(() => redis.kill());
  await redis.start();

  const started: Running[] = [];
  t.after(() => Promise.all(started.map((d) => stopDaemon(d))));
  const launch = (m: Member, sshdExtra: string[] = []) => {
    const c = config(tmpDir(t), m, port, sshdExtra);
    const d = startDaemon(m.ns, c.args);
    started.push(d);
    return { ...c, d };
  };
  const connected = (d: Running) => waitFor(() => /Fleet: connected to/.test(d.output()), 20_000);

  const a = launch(ma);
  const b = launch(mb);
  assert.ok(await connected(a.d), a.d.output());
  assert.ok(await connected(b.d), b.d.output());

  // 1. A bans: B drops the attacker too
  fail(a.sshdLog, '192.0.2.77', 5);
  assert.ok(await waitFor(() => nftHas(ma.ns, TABLE, '192.0.2.77'), 10_000), a.d.output());
  const delay = await timeUntil(() => nftHas(mb.ns, TABLE, '192.0.2.77'), 10_000);
  assert.ok(delay < Infinity, b.d.output());
  t.diagnostic(`B had A's ban in its nftables set ${delay} ms after A's (polled every 20 ms)`);
  assert.match(b.d.output(), /\[sshd\] 192\.0\.2\.77 banned by a/);

  // 2. C starts after the ban: the snapshot gives it. C's own ignoreip wins over the fleet.
  const c = launch(mc, ['ignoreip = 192.0.2.81']);
  assert.ok(await connected(c.d), c.d.output());
  assert.ok(await waitFor(() => nftHas(mc.ns, TABLE, '192.0.2.77'), 10_000), c.d.output());
  fail(a.sshdLog, '192.0.2.81', 5);
  assert.ok(await waitFor(() => nftHas(mb.ns, TABLE, '192.0.2.81'), 10_000), b.d.output());
  assert.ok(await waitFor(() => /\[sshd\] Ignore 192\.0\.2\.81 by ip: the ban from a is not applied here/.test(c.d.output()), 10_000), c.d.output());
  assert.equal(await nftHas(mc.ns, TABLE, '192.0.2.81'), false);

  // 3. B's link is cut while A bans another attacker; B has it once the link is back
  await must(net.hub, ['ip', 'link', 'set', mb.hubDev, 'down']);
  fail(a.sshdLog, '192.0.2.78', 5);
  assert.ok(await waitFor(() => nftHas(ma.ns, TABLE, '192.0.2.78'), 10_000), a.d.output());
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await nftHas(mb.ns, TABLE, '192.0.2.78'), false, 'B cannot have it while cut off');
  await must(net.hub, ['ip', 'link', 'set', mb.hubDev, 'up']);
  assert.ok(await waitFor(() => nftHas(mb.ns, TABLE, '192.0.2.78'), 30_000), b.d.output());

  // 4. an operator's unban on A reaches B and C
  const un = client(a.socket, 'set', 'sshd', 'unbanip', '192.0.2.77');
  assert.equal(un.code, 0, un.out);
  assert.ok(await waitFor(async () => !(await nftHas(mb.ns, TABLE, '192.0.2.77')) && !(await nftHas(mc.ns, TABLE, '192.0.2.77')), 10_000), b.d.output());
  assert.ok(await nftHas(mb.ns, TABLE, '192.0.2.78'), 'the other ban stays');

  // 5. fleet-wide counting: 3 failures on A and 2 on B cross maxretry 5 on both
  fail(a.countedLog, '192.0.2.79', 3);
  assert.ok(await waitFor(() => /\[counted\] Found 192\.0\.2\.79/.test(b.d.output()), 10_000), b.d.output());
  fail(b.countedLog, '192.0.2.79', 2);
  assert.ok(await waitFor(async () => (await nftHas(ma.ns, TABLE, '192.0.2.79')) && (await nftHas(mb.ns, TABLE, '192.0.2.79')), 10_000), `${a.d.output()}\n${b.d.output()}`);

  // 6. Redis killed: A goes on banning locally; restarted (empty), what A queued reaches B
  await redis.kill();
  fail(a.sshdLog, '192.0.2.80', 5);
  assert.ok(await waitFor(() => nftHas(ma.ns, TABLE, '192.0.2.80'), 10_000), a.d.output());
  const st = client(a.socket, 'fleet', 'status');
  assert.equal(st.code, 0, st.out);
  assert.match(st.out, /as a: not connected/);
  assert.match(st.out, /queued: [1-9]/);
  await redis.start();
  assert.ok(await waitFor(() => nftHas(mb.ns, TABLE, '192.0.2.80'), 30_000), b.d.output());
  // both of A's connections come back (each on its own back-off)
  type Status = { connected: boolean; queued: number; peers: { host: string }[] };
  const status = (): Status => JSON.parse(client(a.socket, '--json', 'fleet', 'status').out) as Status;
  assert.ok(await waitFor(() => status().connected, 15_000), JSON.stringify(status()));
  assert.equal(status().queued, 0);

  // nobody crashed; each stops cleanly
  for (const d of [a.d, b.d, c.d]) assert.equal(d.child.exitCode, null, d.output());
  for (const d of started.splice(0)) assert.equal(await stopDaemon(d), 0, d.output());
});

test('fleet: a bad [fleet] section is refused with its file and line', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'jail.local'), '[sshd]\nlogpath = /nonexistent/auth.log\n');
  fs.writeFileSync(path.join(dir, 'fail2ban.local'), '[fleet]\nredis = http://example\n');
  const r = spawnSync(process.execPath, [BIN, 'test-config', '--config', dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 255);
  assert.match(r.stderr + r.stdout, /fail2ban\.local:2.*\[fleet\] redis must be a redis:\/\/ or rediss:\/\/ URL/);
  fs.writeFileSync(path.join(dir, 'fail2ban.local'), '[fleet]\nredis = redis://127.0.0.1:1\npublsh = sshd\n');
  const r2 = spawnSync(process.execPath, [BIN, 'test-config', '--config', dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r2.status, 255);
  assert.match(r2.stderr + r2.stdout, /fail2ban\.local:3.*\[fleet\] has no option 'publsh'/);
});
