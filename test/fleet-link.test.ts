// The fleet link (src/fleet/link.ts) against a real redis-server on loopback: bans and unbans
// between hosts, the snapshot for a host that starts late or whose connection was cut, fleet-wide
// failures, and Redis killed and restarted with events queued meanwhile.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FleetLink, FLEET_DEFAULTS, redactUrl, type FleetAddress, type FleetBan, type FleetSettings } from '../src/fleet/link';
import { Logger, LogSink } from '../src/log/logger';
import { freePort, haveRedis, makeCertificates, startRedis } from './helpers/redis';
import { tmpDir } from './helpers/tmp';

/** What one host's link handed its daemon. */
class Host {
  readonly bans: FleetBan[] = [];
  readonly unbans: FleetAddress[] = [];
  readonly failures: FleetAddress[] = [];
  readonly link: FleetLink;
  private readonly logFile: string;

  constructor(t: TestContext, name: string, url: string, extra: Partial<FleetSettings> = {}) {
    this.logFile = path.join(tmpDir(t), 'log');
    const settings: FleetSettings = { ...FLEET_DEFAULTS, url, host: name, prefix: 'test:', ...extra };
    this.link = new FleetLink(
      settings,
      {
        bans: (b) => this.bans.push(...b),
        unbans: (u) => this.unbans.push(...u),
        failure: (f) => this.failures.push(f),
      },
      new Logger(new LogSink(this.logFile), 'fail2ban.fleet'),
    );
  }

  /** its log lines so far */
  get lines(): string[] {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8').split('\n') : [];
  }

  banned(jail: string, ip: string): boolean {
    return this.bans.some((b) => b.jail === jail && b.ip === ip);
  }

  unbanned(jail: string, ip: string): boolean {
    return this.unbans.some((b) => b.jail === jail && b.ip === ip);
  }
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

async function connected(...hosts: Host[]): Promise<void> {
  for (const h of hosts) await until(`${h.link.settings.host} connected`, () => h.lines.some((l) => /Fleet: connected/.test(l)));
}

/** Starts the hosts' links (stopped when the test ends) and waits until they are connected. */
async function join(t: TestContext, ...hosts: Host[]): Promise<void> {
  t.after(() => Promise.all(hosts.map((h) => h.link.stop())));
  for (const h of hosts) await h.link.start();
  await connected(...hosts);
}

/** A TCP relay in front of Redis whose connections can be cut and restored. */
class Relay {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly port: number,
    readonly target: number,
  ) {}

  async open(): Promise<void> {
    this.server = net.createServer((c) => {
      const r = net.connect(this.target, '127.0.0.1');
      for (const s of [c, r]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      c.pipe(r).pipe(c);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async cut(): Promise<void> {
    const closed = new Promise((r) => this.server?.close(r));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

test('fleet link: a ban on A reaches B and a late C; an unban follows; nothing comes back to its origin', { skip: !haveRedis() && 'redis-server is not installed (apt-get install redis-server)' }, async (t) => {
  const redis = await startRedis(t);
  const a = new Host(t, 'host-a', redis.url);
  const b = new Host(t, 'host-b', redis.url);
  await join(t, a, b);

  const now = Date.now() / 1000;
  a.link.publishBan('sshd', '192.0.2.10', now, now + 600);
  const ms = await until('B has the ban', () => b.banned('sshd', '192.0.2.10'));
  assert.ok(ms < 1000, `B got the ban after ${ms} ms`);
  assert.deepEqual(b.bans[0], { jail: 'sshd', ip: '192.0.2.10', time: now, end: now + 600, origin: 'host-a' });
  assert.ok(b.link.isRemote('sshd', '192.0.2.10'));
  // B does not publish what it received
  b.link.publishBan('sshd', '192.0.2.10', now, now + 600);
  // a permanent ban, IPv6
  a.link.publishBan('sshd', '2001:db8::5', now, Infinity);
  await until('B has the IPv6 ban', () => b.banned('sshd', '2001:db8::5'));

  // C starts later: the snapshot has both
  const c = new Host(t, 'host-c', redis.url);
  await join(t, c);
  assert.deepEqual(c.bans.map((x) => [x.ip, x.end]).sort(), [['192.0.2.10', now + 600], ['2001:db8::5', Infinity]]);
  assert.match(c.lines.join('\n'), /Fleet: connected to redis:\/\/127\.0\.0\.1:\d+\/? as host-c: 2 active ban\(s\) from other hosts/);

  a.link.publishUnban('sshd', '192.0.2.10');
  await until('B lifts it', () => b.unbanned('sshd', '192.0.2.10'));
  await until('C lifts it', () => c.unbanned('sshd', '192.0.2.10'));
  assert.equal(redis.cli('ZSCORE', 'test:bans', 'sshd|192.0.2.10').trim(), '');
  assert.equal(redis.cli('ZSCORE', 'test:bans', 'sshd|2001:db8::5').trim(), 'inf');

  await new Promise((r) => setTimeout(r, 300));
  assert.equal(a.bans.length + a.unbans.length, 0, 'A never hears its own events');
  assert.equal(b.bans.length, 2, 'B got each ban once');
  const st = await b.link.status();
  assert.equal(st.connected, true);
  assert.equal(st.lastEvent?.origin, 'host-a');
  assert.ok(st.lag !== undefined && st.lag >= 0);
  assert.deepEqual(st.peers.map((p) => p.host).sort(), ['host-a', 'host-b', 'host-c']);
});

test('fleet link: only the jails listed publish and apply; failures of counted jails go to every other host', { skip: !haveRedis() && 'redis-server is not installed' }, async (t) => {
  const redis = await startRedis(t);
  const a = new Host(t, 'a', redis.url, { publish: ['sshd'], count: ['sshd'] });
  const b = new Host(t, 'b', redis.url, { apply: ['sshd', 'nginx'], count: ['sshd'] });
  await join(t, a, b);
  const now = Date.now() / 1000;
  a.link.publishBan('nginx', '192.0.2.1', now, now + 60); // A does not publish nginx
  b.link.publishBan('postfix', '192.0.2.2', now, now + 60); // B publishes, A applies all
  b.link.publishBan('nginx', '192.0.2.3', now, now + 60);
  a.link.publishFailure('sshd', '192.0.2.4', now);
  a.link.publishFailure('nginx', '192.0.2.5', now); // not counted fleet-wide
  await until('A has the postfix and nginx bans', () => a.banned('postfix', '192.0.2.2') && a.banned('nginx', '192.0.2.3'));
  await until('B has the failure', () => b.failures.length === 1);
  assert.deepEqual(b.failures.map((f) => [f.jail, f.ip, f.origin]), [['sshd', '192.0.2.4', 'a']]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(b.bans.length, 0, 'nothing reached B for nginx from A');
  assert.equal(a.failures.length, 0);
});

test('fleet link: a host whose connection was cut during a ban and an unban gets both when it is back', { skip: !haveRedis() && 'redis-server is not installed' }, async (t) => {
  const redis = await startRedis(t);
  const relay = new Relay(await freePort(), redis.port);
  await relay.open();
  t.after(() => relay.cut());
  const a = new Host(t, 'a', redis.url);
  const b = new Host(t, 'b', `redis://127.0.0.1:${relay.port}`);
  await join(t, a, b);
  const now = Date.now() / 1000;
  a.link.publishBan('sshd', '192.0.2.20', now, now + 600);
  await until('B has the first ban', () => b.banned('sshd', '192.0.2.20'));

  await relay.cut();
  await until('B sees the cut', () => b.lines.some((l) => /lost the connection/.test(l)));
  a.link.publishBan('sshd', '192.0.2.21', now, now + 600);
  a.link.publishUnban('sshd', '192.0.2.20');
  // B publishes meanwhile too: queued, sent on reconnect
  b.link.publishBan('sshd', '198.51.100.9', now, now + 600);
  assert.equal((await b.link.status()).queued, 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!b.banned('sshd', '192.0.2.21'));

  await relay.open();
  await until('B has the ban made while it was away', () => b.banned('sshd', '192.0.2.21'), 10_000);
  await until('B lifted the ban lifted while it was away', () => b.unbanned('sshd', '192.0.2.20'));
  await until('A has what B queued', () => a.banned('sshd', '198.51.100.9'), 10_000);
  assert.equal((await b.link.status()).queued, 0);
});

test('fleet link: Redis killed and restarted: no crash, events queued meanwhile arrive', { skip: !haveRedis() && 'redis-server is not installed' }, async (t) => {
  const redis = await startRedis(t);
  const a = new Host(t, 'a', redis.url);
  const b = new Host(t, 'b', redis.url);
  await join(t, a, b);
  await redis.kill();
  await until('A sees Redis gone', () => a.lines.some((l) => /lost the connection/.test(l)));
  const now = Date.now() / 1000;
  for (let i = 0; i < 50; i++) a.link.publishBan('sshd', `192.0.2.${100 + i}`, now, now + 600);
  assert.equal((await a.link.status()).queued, 50);
  assert.equal((await a.link.status()).connected, false);
  await redis.start();
  await until('B has all 50', () => new Set(b.bans.map((x) => x.ip)).size === 50, 15_000);
  await new Promise((r) => setTimeout(r, 300));
  // the snapshot and the stream overlap: the daemon still gets each ban once
  assert.equal(b.bans.length, 50, b.lines.join('\n'));
  assert.equal((await a.link.status()).queued, 0);
  assert.equal(redis.cli('ZCARD', 'test:bans').trim(), '50');
});

test('fleet link: TLS (rediss://) with the server\'s CA; without it the certificate is refused and nothing is sent', { skip: !haveRedis() && 'redis-server is not installed' }, async (t) => {
  const certs = makeCertificates(tmpDir(t));
  const redis = await startRedis(t, { tls: certs });
  const a = new Host(t, 'a', redis.url, { tls: { ca: certs.ca } });
  const b = new Host(t, 'b', redis.url, { tls: { ca: certs.ca } });
  const stranger = new Host(t, 'stranger', redis.url);
  await join(t, a, b);
  t.after(() => stranger.link.stop());
  await stranger.link.start();
  const now = Date.now() / 1000;
  a.link.publishBan('sshd', '192.0.2.30', now, now + 60);
  await until('B has the ban over TLS', () => b.banned('sshd', '192.0.2.30'));
  await until('the stranger says why it cannot connect', () => stranger.lines.some((l) => /certificate/i.test(l)));
  stranger.link.publishBan('sshd', '192.0.2.31', now, now + 60);
  const st = await stranger.link.status();
  assert.equal(st.connected, false);
  assert.equal(st.queued, 1);
  assert.match(st.error ?? '', /certificate/i);
  assert.ok(!stranger.banned('sshd', '192.0.2.30'));
});

test('fleet link: events and snapshot entries whose origin, jail or address is not a printable word are ignored', { skip: !haveRedis() && 'redis-server is not installed' }, async (t) => {
  const redis = await startRedis(t);
  const b = new Host(t, 'b', redis.url);
  await join(t, b);
  const now = String(Date.now() / 1000);
  const add = (origin: string, jail: string, ip: string) => redis.cli('XADD', 'test:events', '*', 'o', origin, 's', '1', 'k', 'ban', 'j', jail, 'a', ip, 't', now, 'u', 'inf');
  add('evil\n2026-01-01 fail2ban.actions NOTICE [sshd] Ban 6.6.6.6', 'sshd', '192.0.2.60');
  add('evil', 'ss hd', '192.0.2.61');
  add('\x1b[31mred', 'sshd', '192.0.2.62');
  add('good-host', 'sshd', '192.0.2.64\n2026-01-01 fail2ban.actions NOTICE [sshd] Ban 6.6.6.6');
  redis.cli('ZADD', 'test:bans', '+inf', 'sshd|192.0.2.65\nforged');
  redis.cli('HSET', 'test:bandata', 'sshd|192.0.2.65\nforged', JSON.stringify({ o: 'good-host', t: 1, u: 'inf' }));
  add('good-host', 'sshd', '192.0.2.63');
  await until('the valid event', () => b.banned('sshd', '192.0.2.63'));
  assert.deepEqual(b.bans.map((x) => x.ip), ['192.0.2.63']);
  // a host that connects now reads the snapshot: the forged member is left out there too
  const c = new Host(t, 'c', redis.url);
  await join(t, c);
  assert.deepEqual(c.bans.map((x) => x.ip), []);
});

test('fleet link: the password never reaches a log line', () => {
  assert.equal(redactUrl('redis://user:s3cret@127.0.0.1:6379/2'), 'redis://user:***@127.0.0.1:6379/2');
  assert.equal(redactUrl('rediss://127.0.0.1:6380'), 'rediss://127.0.0.1:6380');
});
