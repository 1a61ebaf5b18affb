// ignoreip / ignoreself / ignorecommand / ignorecache and the DNS cache behind them: the static
// rules with an injected resolver and clock, the cache against fail2ban's own Utils.Cache, and
// ignorecommand for real (/bin/sh, scripts in a temporary folder, hostile captured values).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ManualClock } from '../src/clock';
import { F2bError } from '../src/errors';
import { IgnoreList, parseIgnoreCache, shellCommand, type IgnoreOptions } from '../src/jail/ignore';
import { Logger } from '../src/log/logger';
import { DnsCache, TtlCache, type Resolver } from '../src/net/dns';
import { tmpDir } from './helpers/tmp';

const T0 = 1_700_000_000;
const F2B = '/usr/lib/python3/dist-packages';

class CapturedLog extends Logger {
  readonly lines: string[] = [];
  constructor() {
    super(null, 'test');
  }
  override log(level: Parameters<Logger['log']>[0], message: string): void {
    this.lines.push(`${level} ${message}`);
  }
}

/** A resolver over fixed tables that counts its questions. */
function tableResolver(names: Record<string, string[]>, ptr: Record<string, string> = {}, host = 'web1', interfaces: string[] = []) {
  const asked = { lookup: [] as string[], reverse: [] as string[] };
  const resolver: Resolver = {
    lookup: async (n) => {
      asked.lookup.push(n);
      if (!names[n]) throw new Error(`getaddrinfo ENOTFOUND ${n}`);
      return names[n];
    },
    reverse: async (a) => {
      asked.reverse.push(a);
      if (!ptr[a]) throw new Error(`getnameinfo ENOTFOUND ${a}`);
      return ptr[a];
    },
    hostname: () => host,
    interfaceAddresses: () => interfaces,
  };
  return { resolver, asked };
}

/** Lets pending promise callbacks (a background lookup) run. */
const settle = () => new Promise((r) => setImmediate(r));

/** Polls `cond` every 20 ms for at most `ms`. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}

// ---------------------------------------------------------------------------------------------
// TtlCache vs fail2ban's Utils.Cache

test('TtlCache keeps and evicts entries as fail2ban\'s Utils.Cache does', { skip: fs.existsSync(path.join(F2B, 'fail2ban/server/utils.py')) ? false : 'fail2ban is not installed' }, () => {
  // a seeded sequence of set/get over few keys, a small cache and a moving clock
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ops: [string, string, number, number][] = [];
  let now = T0;
  for (let i = 0; i < 300; i++) {
    now += Math.floor(rnd() * 4);
    ops.push([rnd() < 0.55 ? 'set' : 'get', `k${Math.floor(rnd() * 8)}`, i, now]);
  }
  const py = `
import sys, json, time
sys.path.insert(0, sys.argv[1])
from fail2ban.server.utils import Utils
NOW = [0]
time.time = lambda: NOW[0]
c = Utils.Cache(maxCount=4, maxTime=10)
out = []
for op, k, v, t in json.load(sys.stdin):
    NOW[0] = t
    if op == 'set':
        c.set(k, v); out.append([None, len(c)])
    else:
        out.append([c.get(k), len(c)])
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', py, F2B], { input: JSON.stringify(ops), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as [number | null, number][];
  const clock = new ManualClock(T0);
  const c = new TtlCache<string, number>(4, 10, clock);
  const got = ops.map(([op, k, v, t]): [number | null, number] => {
    clock.set(t);
    if (op === 'set') {
      c.set(k, v);
      return [null, c.size];
    }
    return [c.get(k) ?? null, c.size];
  });
  assert.deepEqual(got, expected);
  assert.ok(expected.some(([v]) => v !== null) && expected.some(([, n]) => n === 4), 'the sequence exercises hits and a full cache');
});

// ---------------------------------------------------------------------------------------------
// DnsCache

test('DnsCache answers from its cache for 5 minutes, failures included, then asks again', async () => {
  const clock = new ManualClock(T0);
  const { resolver, asked } = tableResolver({ 'a.example': ['192.0.2.1', '192.0.2.1', '2001:DB8::1', '::ffff:192.0.2.9'] }, { '192.0.2.1': 'a.example' });
  const log = new CapturedLog();
  const dns = new DnsCache({ resolver, clock, log });
  assert.deepEqual(await dns.addresses('a.example'), ['192.0.2.1', '2001:db8::1', '192.0.2.9']);
  assert.deepEqual(await dns.addresses('a.example'), ['192.0.2.1', '2001:db8::1', '192.0.2.9']);
  assert.deepEqual(await dns.addresses('nowhere.example'), []);
  assert.deepEqual(await dns.addresses('nowhere.example'), []);
  assert.deepEqual(asked.lookup, ['a.example', 'nowhere.example']);
  assert.deepEqual(log.lines, ['WARNING Unable to find a corresponding IP address for nowhere.example: getaddrinfo ENOTFOUND nowhere.example']);

  assert.equal(await dns.hostName('192.0.2.1'), 'a.example');
  assert.equal(await dns.hostName('192.0.2.2'), null);
  assert.equal(await dns.hostName('192.0.2.2'), null);
  assert.deepEqual(asked.reverse, ['192.0.2.1', '192.0.2.2']);

  clock.advance(299);
  await dns.addresses('a.example');
  await dns.hostName('192.0.2.2');
  assert.equal(asked.lookup.length + asked.reverse.length, 4);
  clock.advance(1);
  await dns.addresses('a.example');
  await dns.addresses('nowhere.example');
  await dns.hostName('192.0.2.2');
  assert.deepEqual(asked.lookup, ['a.example', 'nowhere.example', 'a.example', 'nowhere.example']);
  assert.deepEqual(asked.reverse, ['192.0.2.1', '192.0.2.2', '192.0.2.2']);

  dns.clear();
  await dns.addresses('a.example');
  assert.equal(asked.lookup.length, 5);
});

test('DnsCache asks once for concurrent questions and keeps no answer across a clear', async () => {
  let release!: (v: string[]) => void;
  let calls = 0;
  const dns = new DnsCache({
    resolver: {
      lookup: () => {
        calls++;
        return new Promise<string[]>((r) => (release = r));
      },
    },
  });
  const all = Promise.all([dns.addresses('slow.example'), dns.addresses('slow.example'), dns.addresses('slow.example')]);
  await settle();
  assert.equal(calls, 1);
  release(['198.51.100.1']);
  assert.deepEqual(await all, [['198.51.100.1'], ['198.51.100.1'], ['198.51.100.1']]);

  // an answer that arrives after a reload cleared the cache is not stored
  const late = dns.addresses('late.example');
  await settle();
  dns.clear();
  release(['198.51.100.2']);
  assert.deepEqual(await late, ['198.51.100.2']);
  assert.equal(dns.cachedAddresses('late.example'), undefined);
  await settle();
  assert.equal(calls, 3);
});

test('cachedAddresses answers at once with the last answer and refreshes an expired one', async () => {
  const clock = new ManualClock(T0);
  const table: Record<string, string[]> = { 'dyn.example': ['203.0.113.1'] };
  const { resolver, asked } = tableResolver(table);
  const dns = new DnsCache({ resolver, clock });
  assert.equal(dns.cachedAddresses('dyn.example'), undefined);
  await settle();
  assert.deepEqual(dns.cachedAddresses('dyn.example'), ['203.0.113.1']);
  table['dyn.example'] = ['203.0.113.2'];
  clock.advance(301);
  // expired: the old answer still, while the new one is fetched
  assert.deepEqual(dns.cachedAddresses('dyn.example'), ['203.0.113.1']);
  await settle();
  assert.deepEqual(dns.cachedAddresses('dyn.example'), ['203.0.113.2']);
  assert.equal(asked.lookup.length, 2);
});

test('ownAddresses are those of localhost, the host name and the fully qualified name', async () => {
  const { resolver } = tableResolver(
    { localhost: ['127.0.0.1', '::1'], web1: ['192.0.2.7'], 'web1.example.org': ['192.0.2.7', '2001:db8::7'] },
    { '192.0.2.7': 'web1.example.org' },
  );
  const dns = new DnsCache({ resolver });
  assert.equal(await dns.hostname(false), 'web1');
  assert.equal(await dns.hostname(true), 'web1.example.org');
  assert.deepEqual((await dns.ownAddresses()).sort(), ['127.0.0.1', '192.0.2.7', '2001:db8::7', '::1'].sort());
  // a host whose address has no name: the fully qualified name is the short one
  const bare = new DnsCache({ resolver: tableResolver({ localhost: ['127.0.0.1'], box: ['10.0.0.5'] }, {}, 'box').resolver });
  assert.equal(await bare.hostname(true), 'box');
  // the loopback addresses are always the host's own, even where localhost resolves to IPv4 only
  assert.deepEqual(await bare.ownAddresses(), ['127.0.0.1', '::1', '10.0.0.5']);
  // and so are the interfaces' addresses (fail2ban adds them too)
  const withIf = new DnsCache({ resolver: tableResolver({}, {}, 'box', ['198.51.100.4', 'fe80::1']).resolver });
  assert.deepEqual(await withIf.ownAddresses(), ['127.0.0.1', '::1', '198.51.100.4', 'fe80::1']);
});

test('the system resolver finds localhost', async () => {
  const dns = new DnsCache();
  const addrs = await dns.addresses('localhost');
  assert.ok(addrs.includes('127.0.0.1') || addrs.includes('::1'), JSON.stringify(addrs));
  assert.ok((await dns.ownAddresses()).some((a) => addrs.includes(a)));
});

// ---------------------------------------------------------------------------------------------
// the static rules

function list(opts: Partial<IgnoreOptions>, dns = new DnsCache({ resolver: tableResolver({}).resolver })) {
  return new IgnoreList({ ignoreip: [], ignoreself: false, ...opts }, { dns, jail: 'sshd', where: { file: 'jail.local', line: 7 } });
}

test('ignoreip: addresses, CIDR, dotted and IPv6 masks, brackets', () => {
  const l = list({ ignoreip: ['192.0.2.10', '198.51.100.0/24', '203.0.113.0/255.255.255.128', '2001:db8::/ffff:ffff::', '[2001:db8:1::5]', '10.1.2.3/33', '127.0.0.1/8'] });
  const ignored = ['192.0.2.10', '198.51.100.77', '203.0.113.5', '2001:db8:ffff::1', '2001:db8:1::5', '10.1.2.3', '127.9.9.9', '::ffff:192.0.2.10'];
  const kept = ['192.0.2.11', '203.0.113.200', '2001:db9::1', '10.1.2.4', 'not-an-ip', ''];
  for (const ip of ignored) assert.deepEqual(l.check(ip), { ignored: true, rule: 'ip' }, ip);
  for (const ip of kept) assert.deepEqual(l.check(ip), { ignored: false }, ip);
});

test('ignoreip entries fail2ban refuses are config errors with the jail', () => {
  for (const bad of ['192.0.2.0/255.0.255.0', '192.0.2.0/abc', '1.2.3.4/8/8']) {
    assert.throws(
      () => list({ ignoreip: [bad] }),
      (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && e.message.includes(bad) && e.jail === 'sshd' && e.file === 'jail.local' && e.line === 7,
      bad,
    );
  }
});

test('ignoreip names are resolved when checked, so a moving name is followed', async () => {
  const clock = new ManualClock(T0);
  const table: Record<string, string[]> = { 'office.example': ['192.0.2.50', '2001:db8::50'] };
  const { resolver, asked } = tableResolver(table);
  const dns = new DnsCache({ resolver, clock });
  const l = list({ ignoreip: ['office.example', 'gone.example', '198.51.100.0/24'] }, dns);
  assert.deepEqual(l.names, ['office.example', 'gone.example']);
  assert.deepEqual(await l.prepare(), ['gone.example']);
  assert.deepEqual(l.check('192.0.2.50'), { ignored: true, rule: 'dns' });
  assert.deepEqual(l.check('2001:db8::50'), { ignored: true, rule: 'dns' });
  assert.deepEqual(l.check('192.0.2.51'), { ignored: false });
  const before = asked.lookup.length;
  table['office.example'] = ['192.0.2.51'];
  clock.advance(60);
  assert.deepEqual(l.check('192.0.2.51'), { ignored: false }, 'within the cache time the old answer holds');
  clock.advance(241);
  l.check('192.0.2.51');
  await settle();
  assert.deepEqual(l.check('192.0.2.51'), { ignored: true, rule: 'dns' });
  assert.deepEqual(l.check('192.0.2.50'), { ignored: false });
  assert.equal(asked.lookup.length, before + 2, 'both names asked again, once');
});

test('ignoreself comes first and is logged as fail2ban logs it', async () => {
  const { resolver } = tableResolver({ localhost: ['127.0.0.1'], web1: ['192.0.2.7'] });
  const dns = new DnsCache({ resolver });
  const l = list({ ignoreself: true, ignoreip: ['192.0.2.0/24'] }, dns);
  // before the first answer, loopback stands for the host's own addresses
  assert.deepEqual(l.check('127.0.0.1'), { ignored: true, rule: 'ignoreself rule' });
  await l.prepare();
  assert.deepEqual(l.check('192.0.2.7'), { ignored: true, rule: 'ignoreself rule' });
  assert.deepEqual(l.check('192.0.2.8'), { ignored: true, rule: 'ip' });
  assert.deepEqual(l.check('::1'), { ignored: true, rule: 'ignoreself rule' });
  assert.deepEqual(l.check('192.0.2.9'), { ignored: true, rule: 'ip' });
  l.ignoreself = false;
  assert.deepEqual(l.check('192.0.2.7'), { ignored: true, rule: 'ip' });
});

test('addignoreip / delignoreip / get ignoreip', () => {
  const l = list({ ignoreip: ['192.0.2.1'] });
  assert.equal(l.add('192.0.2.1'), false);
  assert.equal(l.add('198.51.100.0/24'), true);
  assert.equal(l.add('198.51.100.9/24'), false, 'the same network');
  assert.equal(l.add('host.example'), true);
  assert.deepEqual(l.entries(), ['198.51.100.0/24', 'host.example', '192.0.2.1']);
  assert.equal(l.remove('198.51.100.0/255.255.255.0'), true);
  assert.equal(l.remove('192.0.2.1'), true);
  assert.equal(l.remove('192.0.2.1'), false);
  assert.deepEqual(l.entries(), ['host.example']);
  assert.deepEqual(l.check('198.51.100.9'), { ignored: false });
});

test('ignorecache syntax', () => {
  assert.deepEqual(parseIgnoreCache('key="<ip>", max-count=100, max-time=5m'), { key: '<ip>', maxCount: 100, maxTime: 300 });
  assert.deepEqual(parseIgnoreCache("key='<ip>:<F-USER>'"), { key: '<ip>:<F-USER>', maxCount: 100, maxTime: 300 });
  assert.equal(parseIgnoreCache(''), null);
  assert.equal(parseIgnoreCache(undefined), null);
  for (const bad of ['max-count=5', 'key="<ip>", max-count=lots', 'key="<ip>", max-time=soon', 'key="<ip>" junk']) {
    assert.throws(() => parseIgnoreCache(bad, { jail: 'sshd' }), (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && e.jail === 'sshd' && /^ignorecache: /.test(e.message), bad);
  }
});

// ---------------------------------------------------------------------------------------------
// ignorecommand, for real

function commandList(t: TestContext, command: string, extra: Partial<IgnoreOptions> = {}, ctx: { clock?: ManualClock; timeoutMs?: number; dns?: DnsCache } = {}) {
  const log = new CapturedLog();
  const dns = ctx.dns ?? new DnsCache({ resolver: tableResolver({ localhost: ['127.0.0.1'] }, { '192.0.2.1': 'one.example' }).resolver });
  const l = new IgnoreList({ ignoreip: [], ignoreself: false, ignorecommand: command, ...extra }, { dns, log, jail: 'sshd', clock: ctx.clock, timeoutMs: ctx.timeoutMs });
  void t;
  return { l, log };
}

/** A script answering 0 for 192.0.2.1, 1 for 192.0.2.2, 2 otherwise, counting its runs. */
function verdictScript(dir: string): string {
  const script = path.join(dir, 'verdict.sh');
  fs.writeFileSync(script, `echo "$1" >> '${dir}/runs'\ncase "$1" in\n  192.0.2.1) exit 0 ;;\n  192.0.2.2) exit 1 ;;\n  *) echo "no verdict for $1" >&2; exit 2 ;;\nesac\n`);
  return script;
}

const runs = (dir: string): string[] => (fs.existsSync(path.join(dir, 'runs')) ? fs.readFileSync(path.join(dir, 'runs'), 'utf8').split('\n').filter(Boolean) : []);

test('ignorecommand: exit 0 ignores, 1 does not, anything else is an error that does not ignore', async (t) => {
  const dir = tmpDir(t);
  const { l, log } = commandList(t, `/bin/sh ${verdictScript(dir)} <ip>`);
  assert.equal(l.hasCommand, true);
  assert.deepEqual(await l.checkCommand('192.0.2.1'), { ignored: true, rule: 'command' });
  assert.deepEqual(await l.checkCommand('192.0.2.2'), { ignored: false });
  assert.deepEqual(log.lines.filter((x) => !x.startsWith('DEBUG')), []);
  assert.deepEqual(await l.checkCommand('192.0.2.3'), { ignored: false });
  assert.deepEqual(runs(dir), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  assert.ok(log.lines.some((x) => /^ERROR \w+ -- stderr: "no verdict for 192\.0\.2\.3"$/.test(x)), log.lines.join('\n'));
  assert.ok(log.lines.some((x) => /^ERROR \w+ -- returned 2$/.test(x)), log.lines.join('\n'));
  // without ignorecache every failure asks again
  await l.checkCommand('192.0.2.1');
  assert.equal(runs(dir).length, 4);
  // no command: nothing runs
  const none = list({});
  assert.equal(none.hasCommand, false);
  assert.deepEqual(await none.checkCommand('192.0.2.1'), { ignored: false });
});

test('ignorecommand: captured values arrive intact and are never run as shell text', async (t) => {
  const dir = tmpDir(t);
  const pwned = path.join(dir, 'pwned');
  const hostile = [`$(touch ${pwned})`, `\`touch ${pwned}\``, `'; touch ${pwned}; '`, `"; touch ${pwned}; "`, `a b\n touch ${pwned}`, '*', '$HOME', '\\'];
  const out = path.join(dir, 'out');
  // the same tag unquoted, in double quotes and in single quotes
  const { l } = commandList(t, `printf '%s|%s|%s|%s\\n' <F-USER> "<F-USER>" 'x<F-USER>y' "<ip>" >> ${out}; exit 1`);
  for (const user of hostile) assert.deepEqual(await l.checkCommand('192.0.2.9', { fields: { user } }), { ignored: false });
  const lines = fs.readFileSync(out, 'utf8');
  assert.equal(lines, hostile.map((u) => `${u}|${u}|x${u}y|192.0.2.9\n`).join(''));
  // a failure id that is no address reaches <ip> as it is, just as inert
  const { l: l2 } = commandList(t, `printf '%s\\n' <ip> > ${out}; exit 1`);
  await l2.checkCommand(`$(touch ${pwned})`);
  assert.equal(fs.readFileSync(out, 'utf8'), `$(touch ${pwned})\n`);
  assert.equal(fs.existsSync(pwned), false);
});

test('ignorecommand tags: ip, family, ip-rev, ip-host, fid, time, matches, fields, br/sp', async (t) => {
  const dir = tmpDir(t);
  const out = path.join(dir, 'out');
  const read = () => fs.readFileSync(out, 'utf8');
  const { l } = commandList(t, `printf '[%s]' <ip> <family> <ip-rev> <ip-host> <fid> <time> <matches> <F-USER> <F-ID> <F-MISSING><sp>x > ${out}; exit 1`);
  await l.checkCommand('192.0.2.1', { fid: 'sess-1', time: T0, matches: ['line one', 'line two'], fields: { user: 'bob', fid: 'id-7' } });
  // an absent capture puts nothing at all (no empty argument), as in fail2ban
  assert.equal(read(), `[192.0.2.1][inet4][1.2.0.192.][one.example][sess-1][${T0}.0][line one\nline two][bob][id-7][x]`);
  const { l: l6 } = commandList(t, `printf '[%s]' <ip> <family> <ip-rev> <ip-host> <fid> > ${out}; exit 1`);
  await l6.checkCommand('2001:DB8::1');
  const rev = `${'20010db8000000000000000000000001'.split('').reverse().join('.')}.`;
  assert.equal(read(), `[2001:db8::1][inet6][${rev}][None][2001:db8::1]`);
  // a tag without a value stays as written
  const { l: lt } = commandList(t, `printf '%s' '<time>' > ${out}<br>exit 1`);
  await lt.checkCommand('192.0.2.1');
  assert.equal(read(), '<time>');
});

test('ignorecache: answers are kept per key for max-time, one run per key at a time', async (t) => {
  const dir = tmpDir(t);
  const clock = new ManualClock(T0);
  const { l, log } = commandList(t, `/bin/sh ${verdictScript(dir)} <ip>`, { ignorecache: 'key="<ip>", max-count=100, max-time=5m' }, { clock });
  assert.deepEqual(await l.checkCommand('192.0.2.1'), { ignored: true, rule: 'command' });
  assert.deepEqual(await l.checkCommand('192.0.2.1'), { ignored: true, rule: 'command', cached: true });
  assert.deepEqual(await l.checkCommand('192.0.2.2'), { ignored: false });
  assert.deepEqual(await l.checkCommand('192.0.2.2'), { ignored: false, cached: true });
  // an error is kept as "not ignored" too, as fail2ban keeps it
  await l.checkCommand('192.0.2.3');
  assert.deepEqual(await l.checkCommand('192.0.2.3'), { ignored: false, cached: true });
  assert.deepEqual(runs(dir), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  assert.equal(log.lines.filter((x) => /returned 2/.test(x)).length, 1);

  // concurrent failures of one address: one run
  const many = await Promise.all([1, 2, 3, 4].map(() => l.checkCommand('192.0.2.4')));
  assert.ok(many.every((d) => !d.ignored));
  assert.equal(runs(dir).filter((x) => x === '192.0.2.4').length, 1);

  clock.advance(299);
  await l.checkCommand('192.0.2.1');
  assert.equal(runs(dir).length, 4);
  clock.advance(1);
  await l.checkCommand('192.0.2.1');
  assert.equal(runs(dir).length, 5);
  l.clearCache();
  await l.checkCommand('192.0.2.1');
  assert.equal(runs(dir).length, 6);
});

test('ignorecache keys may use captured fields', async (t) => {
  const dir = tmpDir(t);
  const { l } = commandList(t, `echo x >> ${dir}/runs; exit 1`, { ignorecache: 'key="<ip>/<F-USER>", max-count=2' });
  for (const user of ['bob', 'bob', 'eve', 'bob']) await l.checkCommand('192.0.2.1', { fields: { user } });
  assert.equal(runs(dir).length, 2);
  // max-count=2: a third key pushes the oldest out
  await l.checkCommand('192.0.2.1', { fields: { user: 'mallory' } });
  await l.checkCommand('192.0.2.1', { fields: { user: 'bob' } });
  assert.equal(runs(dir).length, 4);
});

test('ignorecommand: a command past the time limit is killed with its children and does not ignore', async (t) => {
  const dir = tmpDir(t);
  const pidFile = path.join(dir, 'pid');
  const { l, log } = commandList(t, `sleep 30 & echo $! > ${pidFile}; wait; exit 0`, {}, { timeoutMs: 300 });
  const started = Date.now();
  assert.deepEqual(await l.checkCommand('192.0.2.1'), { ignored: false });
  assert.ok(Date.now() - started < 5000);
  assert.ok(log.lines.some((x) => /timed out after 0\.3 seconds/.test(x)), log.lines.join('\n'));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 0);
  const gone = () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  assert.ok(await waitFor(gone, 3000), `sleep ${pid} still runs`);
});

test('shellCommand quotes each reference for where its tag stands', () => {
  const tags = new Map([
    ['ip', { value: '192.0.2.1' }],
    ['br', { inline: '\n' }],
  ]);
  assert.deepEqual(shellCommand(`a <ip> "b <ip>" 'c <ip>' \\"<ip><br><nope>`, tags), {
    script: `a "\${f2bV_ip}" "b \${f2bV_ip}" 'c '"\${f2bV_ip}"'' \\""\${f2bV_ip}"\n<nope>`,
    env: { f2bV_ip: '192.0.2.1' },
  });
});
