// The jail runtime against an injected clock: counting within findtime, ban at maxretry, unban
// after bantime, ignoreip, and fail2ban's rescaled (not sliding) window.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/clock';
import { Jail, type JailOptions, type JailSettings } from '../src/jail/jail';
import { FailureCounter, roundHalfEven } from '../src/jail/failures';
import { silentLogger } from '../src/log/logger';
import type { FoundFailure } from '../src/filter/filter';
import { IgnoreList } from '../src/jail/ignore';
import { DnsCache } from '../src/net/dns';

const T0 = 1_700_000_000;

/** What the daemon would hand the firewall: address and seconds left (null = permanent). */
interface Entry {
  jail: string;
  ip: string;
  timeout: number | null;
}

function setup(over: Partial<JailSettings> = {}, opts: JailOptions = {}) {
  const clock = new ManualClock(T0);
  const blocked: Entry[] = [];
  const released: Entry[] = [];
  const jail = new Jail(
    { name: 'sshd', maxretry: 3, maxmatches: 3, findtime: 600, bantime: 600, ...over },
    clock,
    {
      banned: (j, b) => blocked.push({ jail: j.name, ip: b.ip, timeout: b.end === Infinity ? null : Math.ceil(b.end - clock.now()) }),
      unbanned: (j, b) => released.push({ jail: j.name, ip: b.ip, timeout: null }),
    },
    silentLogger,
    opts,
  );
  return { clock, jail, blocked, released };
}

const fail = (id: string, time: number, user = 'root'): FoundFailure => ({
  regex: 0,
  id,
  dns: false,
  time,
  fields: { user },
  matches: [`line for ${id} at ${time}`],
});

test('bans at maxretry failures within findtime, from the last failure, and unbans after bantime', () => {
  const { clock, jail, blocked, released } = setup();
  assert.equal(jail.addFailure(fail('192.0.2.10', T0 - 20)), undefined);
  assert.equal(jail.addFailure(fail('192.0.2.10', T0 - 10)), undefined);
  assert.equal(jail.addFailure(fail('198.51.100.1', T0 - 5)), undefined);
  const ban = jail.addFailure(fail('192.0.2.10', T0 - 2));
  assert.ok(ban);
  assert.equal(ban.ip, '192.0.2.10');
  assert.equal(ban.end, T0 - 2 + 600);
  assert.equal(ban.failures, 3);
  assert.equal(ban.matches.length, 3);
  assert.deepEqual(blocked, [{ jail: 'sshd', ip: '192.0.2.10', timeout: 598 }]);
  assert.deepEqual(jail.status(), { currentlyFailed: 1, totalFailed: 4, currentlyBanned: 1, totalBanned: 1, bannedList: ['192.0.2.10'] });
  assert.equal(jail.nextExpiry(), T0 + 598);

  clock.advance(597);
  assert.equal(jail.expire(), 0);
  clock.advance(1);
  assert.equal(jail.expire(), 1);
  assert.deepEqual(released, [{ jail: 'sshd', ip: '192.0.2.10', timeout: null }]);
  assert.equal(jail.isBanned('192.0.2.10'), false);
});

test('failures spread wider than findtime are rescaled, not counted in full', () => {
  const { jail, blocked } = setup({ maxretry: 3, findtime: 100 });
  jail.addFailure(fail('192.0.2.20', T0 - 1000));
  jail.addFailure(fail('192.0.2.20', T0 - 500));
  // third failure: 2 attempts over 1000 s scaled to 100 s rounds to 0, +1 = 1 < 3
  assert.equal(jail.addFailure(fail('192.0.2.20', T0)), undefined);
  assert.equal(blocked.length, 0);
});

test('FailureCounter rescales with round-half-even like fail2ban', () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(2.4), 2);
  const c = new FailureCounter(10, 5);
  c.add('a', 0, [], {});
  c.add('a', 5, [], {});
  const t = c.add('a', 20, [], {});
  // 2 attempts over 20 s scaled to 10 s = 1, plus this one
  assert.equal(t.retry, 2);
  assert.equal(t.first, 10);
  c.cleanup(30);
  assert.equal(c.current, 0);
});

function ignores(ignoreip: string[], ignoreself = false): IgnoreList {
  // no resolver calls: every entry here is an address, and ignoreself asks only the interfaces
  const dns = new DnsCache({ clock: new ManualClock(T0) });
  return new IgnoreList({ ignoreip, ignoreself }, { dns, jail: 'sshd' });
}

test('ignoreip addresses, CIDR and dotted masks are never banned', async () => {
  const list = ignores(['192.0.2.10', '198.51.100.0/24', '203.0.113.0/255.255.255.128', '2001:db8::/32']);
  await list.prepare();
  const { jail, blocked } = setup({ maxretry: 1 }, { ignores: list });
  for (const ip of ['192.0.2.10', '198.51.100.77', '203.0.113.5', '2001:db8::1']) assert.equal(jail.addFailure(fail(ip, T0)), undefined, ip);
  assert.ok(jail.addFailure(fail('203.0.113.200', T0)));
  assert.deepEqual(
    blocked.map((b) => b.ip),
    ['203.0.113.200'],
  );
});

test('ignoreself never bans the host itself', async () => {
  const list = ignores([], true);
  await list.prepare();
  const { jail } = setup({ maxretry: 1 }, { ignores: list });
  assert.equal(jail.addFailure(fail('127.0.0.1', T0)), undefined);
  assert.equal(jail.addFailure(fail('::1', T0)), undefined);
});

test('a ban that would already be over is not applied; bantime -1 is permanent', () => {
  const { clock, jail, blocked } = setup({ maxretry: 1 });
  assert.equal(jail.addFailure(fail('192.0.2.30', T0 - 601)), undefined);
  assert.equal(blocked.length, 0);
  const perm = setup({ maxretry: 1, bantime: -1 });
  const ban = perm.jail.addFailure(fail('192.0.2.31', T0));
  assert.ok(ban);
  assert.equal(perm.blocked[0].timeout, null);
  perm.clock.advance(10 * 365 * 86400);
  assert.equal(perm.jail.expire(), 0);
  assert.equal(perm.jail.nextExpiry(), undefined);
  void clock;
});

test('non-address failure ids are not sent to the firewall; IPv6 ids are canonical', () => {
  const { jail, blocked } = setup({ maxretry: 1 });
  assert.equal(jail.addFailure(fail('some-session-id', T0)), undefined);
  assert.ok(jail.addFailure(fail('2001:DB8:0:0:0:0:0:1', T0)));
  assert.deepEqual(blocked[0].ip, '2001:db8::1');
  assert.equal(jail.unbanAll(), 1);
});

test('a banned address crossing maxretry again: its ban ends bantime after the new ticket, never increased', () => {
  let asked = 0;
  const { clock, jail, blocked } = setup({ maxretry: 2 }, { banTime: (_ip, _t, bantime) => (asked++, { bantime: bantime * 4, bancount: 2 }) });
  jail.addFailure(fail('192.0.2.50', T0));
  const ban = jail.addFailure(fail('192.0.2.50', T0));
  assert.ok(ban);
  assert.equal(ban.end, T0 + 2400);
  clock.advance(3000);
  // failures during the ban still count; at maxretry the ban moves (jail bantime, not 4x)
  assert.equal(jail.addFailure(fail('192.0.2.50', T0 + 2990)), undefined);
  assert.equal(jail.addFailure(fail('192.0.2.50', T0 + 2995)), undefined);
  assert.equal(jail.getBan('192.0.2.50')!.end, T0 + 2995 + 600);
  assert.equal(jail.getBan('192.0.2.50')!.bantime, 2995 + 600);
  assert.equal(asked, 1);
  assert.equal(blocked.length, 2);
  assert.equal(jail.status().totalBanned, 1);
});
