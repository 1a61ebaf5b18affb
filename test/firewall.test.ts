// Firewall stage: address and spec checks, the nftables backend against a real kernel inside
// network namespaces this file creates (never the host's), the batcher, dry-run, banaction names.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { F2bError } from '../src/errors';
import type { FirewallChanges } from '../src/types';
import {
  createFirewall,
  DryRunBackend,
  FirewallBatcher,
  jailSpecForBanaction,
  mapBanaction,
  NftablesBackend,
  nftJailId,
  parseTerseTable,
  parseBanTarget,
  spawnRunner,
  type CommandRunner,
  type FirewallBackend,
  type FirewallJailSpec,
} from '../src/firewall';
import type { BackendKind } from '../src/firewall/backend';
import { compileJail } from '../src/firewall/jailspec';
import { iptablesTarget } from '../src/firewall/ipset';
import { createLinkedPair, createNetns, netnsAvailable, startTcpServer, tryConnect, type LinkedPair, type Netns } from './helpers/netns';
import { entry, rejectsWith, services, spec } from './helpers/firewall';
import { JailActions } from '../src/action/jail-actions';
import type { Ban } from '../src/jail/jail';
import { silentLogger } from '../src/log/logger';

const T = 1_700_000_000;


/** A runner that records scripts and answers from a list (default: success). */
function fakeRunner(answers: { code: number; stderr?: string }[] = []) {
  const scripts: string[] = [];
  const run: CommandRunner = async (_argv, input) => {
    scripts.push(input);
    const a = answers.shift() ?? { code: 0 };
    return { code: a.code, stdout: '', stderr: a.stderr ?? '' };
  };
  return { run, scripts };
}

describe('ban targets', () => {
  // parsing itself is src/net/ip's (test/ip.test.ts); here: what the firewall adds to it
  test('canonical text, subnet or not, /0 and non-addresses refused', () => {
    const cases: [string, string | null, boolean?][] = [
      ['192.0.2.10', '192.0.2.10', false],
      ['192.0.2.10/32', '192.0.2.10', false],
      ['192.0.2.77/24', '192.0.2.0/24', true],
      ['2001:DB8:0:0::1', '2001:db8::1', false],
      ['2001:db8::1/48', '2001:db8::/48', true],
      ['::ffff:192.0.2.1', '192.0.2.1', false],
      ['0.0.0.0/0', null],
      ['::/0', null],
      ['1.2.3.4 } ; flush ruleset', null],
      ['1.2.3.4\ndelete table inet f2b-fast', null],
      ['host.example.com', null],
      ['', null],
    ];
    for (const [input, text, subnet] of cases) {
      const a = parseBanTarget(input);
      assert.equal(a?.text ?? null, text, JSON.stringify(input));
      if (a) assert.equal(a.subnet, subnet, input);
    }
    assert.equal(parseBanTarget('::ffff:192.0.2.1')?.family, 4);
  });
});

describe('jail specs', () => {
  test('ports: service names, lists, ranges, merged', () => {
    const ports = (port: string, protocol = 'tcp') => compileJail(spec('j', { port, protocol }), services).ports;
    assert.deepEqual(ports('ssh'), [{ from: 22, to: 22 }]);
    assert.deepEqual(ports('22'), [{ from: 22, to: 22 }]);
    assert.deepEqual(ports('http,https'), [{ from: 80, to: 80 }, { from: 443, to: 443 }]);
    assert.deepEqual(ports(' 80, 443,8080 '), [{ from: 80, to: 80 }, { from: 443, to: 443 }, { from: 8080, to: 8080 }]);
    assert.deepEqual(ports('0:65535'), [{ from: 0, to: 65535 }]);
    assert.deepEqual(ports('1000:2000,1500:2500,ssh,22'), [{ from: 22, to: 22 }, { from: 1000, to: 2500 }]);
    assert.deepEqual(ports('ftp-data'), [{ from: 20, to: 20 }]);
    assert.deepEqual(ports('ssh', 'udp'), [{ from: 22, to: 22 }]); // listed for tcp only: same number
    assert.deepEqual(ports('domain', 'tcp,udp'), [{ from: 53, to: 53 }]);
    assert.equal(compileJail(spec('j', { allports: true, port: 'whatever' }), services).ports, null);
  });

  test('bad values are CONFIG_VALUE errors naming the jail', () => {
    const bad: [Partial<FirewallJailSpec>, RegExp][] = [
      [{ port: 'nosuchservice' }, /unknown service name 'nosuchservice'/],
      [{ port: '70000' }, /above 65535/],
      [{ port: '2000:1000' }, /backwards/],
      [{ port: '' }, /no port/],
      [{ port: '22; flush ruleset' }, /unknown service name/],
      [{ protocol: 'icmp' }, /protocol 'icmp'/],
      [{ protocol: 'all' }, /allports/],
      [{ blocktype: 'counter redirect to 2222' }, /blocktype/],
      [{ blocktype: 'reject with tcp reset', protocol: 'tcp,udp' }, /tcp alone/],
    ];
    for (const [more, re] of bad) {
      assert.throws(
        () => compileJail(spec('web', more), services),
        (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && e.jail === 'web' && re.test(e.message),
        JSON.stringify(more),
      );
    }
  });

  test('blocktypes, nft and iptables spellings', () => {
    const bt = (blocktype?: string) => compileJail(spec('j', { blocktype }), services).blocktype;
    assert.equal(bt(undefined), 'reject');
    assert.equal(bt('DROP'), 'drop');
    assert.equal(bt('REJECT --reject-with tcp-reset'), 'reject with tcp reset');
    assert.equal(bt('reject with icmpx type admin-prohibited'), 'reject with icmpx type admin-prohibited');
    assert.equal(compileJail(spec('j', { allports: true, protocol: 'all' }), services).protocols, null);
  });

  test("iptables' REJECT types keep their ICMP answer, per family (the IPv6 rule gets the nearest ICMPv6 type)", () => {
    const both = (blocktype?: string, blocktype6?: string) => {
      const c = compileJail(spec('j', { blocktype, blocktype6 }), services);
      return [c.blocktype, c.blocktype6];
    };
    assert.deepEqual(both(undefined), ['reject', 'reject']);
    assert.deepEqual(both('REJECT --reject-with icmp-port-unreachable', 'REJECT --reject-with icmp6-port-unreachable'), [
      'reject with icmp type port-unreachable',
      'reject with icmpv6 type port-unreachable',
    ]);
    assert.deepEqual(both('REJECT --reject-with icmp-host-prohibited'), ['reject with icmp type host-prohibited', 'reject with icmpv6 type admin-prohibited']);
    assert.deepEqual(both('REJECT --reject-with icmp-net-unreachable', 'REJECT --reject-with icmp6-addr-unreachable'), [
      'reject with icmp type net-unreachable',
      'reject with icmpv6 type addr-unreachable',
    ]);
    assert.deepEqual(both('reject --reject-with icmp-admin-prohibited'), ['reject with icmp type admin-prohibited', 'reject with icmpv6 type admin-prohibited']);
    assert.deepEqual(both('reject with icmp type host-unreachable'), ['reject with icmp type host-unreachable', 'reject with icmpv6 type addr-unreachable']);
    assert.deepEqual(both('reject with icmpv6 type no-route'), ['reject with icmp type net-unreachable', 'reject with icmpv6 type no-route']);
    assert.deepEqual(both('DROP', 'REJECT --reject-with tcp-reset'), ['drop', 'reject with tcp reset']);
    for (const badType of ['REJECT --reject-with icmp-bogus', 'reject with icmp type nonsense', 'REJECT --reject-with tcp-reset; rm -rf /']) {
      assert.throws(() => both(badType), (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && /is not supported/.test(e.message), badType);
    }
    // per family, as iptablesTarget prints them for the ipset backend's rules
    assert.equal(iptablesTarget('reject with icmp type host-prohibited', 4), 'REJECT --reject-with icmp-host-prohibited');
    assert.equal(iptablesTarget('reject with icmpv6 type admin-prohibited', 6), 'REJECT --reject-with icmp6-adm-prohibited');
    assert.equal(iptablesTarget('reject with icmp type net-unreachable', 4), 'REJECT --reject-with icmp-net-unreachable');
  });

  test('chain: INPUT, or FORWARD / DOCKER-USER (the forward hook); nothing else', () => {
    const c = (chain?: string) => compileJail(spec('j', { chain }), services);
    assert.deepEqual([c(undefined).hook, c(undefined).chain], ['input', 'INPUT']);
    assert.deepEqual([c('input').hook, c('INPUT').chain], ['input', 'INPUT']);
    assert.deepEqual([c('DOCKER-USER').hook, c('DOCKER-USER').chain], ['forward', 'DOCKER-USER']);
    assert.deepEqual([c('FORWARD').hook, c('forward').chain], ['forward', 'FORWARD']);
    assert.throws(() => c('f2b-mine'), /chain 'f2b-mine' is not supported by the batched firewall/);
  });

  test('parseTerseTable: sets, chains and their rule counts of `nft -t list table`', () => {
    const text = [
      'table inet f2b-fast {',
      '\tset addr-set-sshd {',
      '\t\ttype ipv4_addr',
      '\t\tflags timeout',
      '\t}',
      '\tset net-set-sshd {',
      '\t\ttype ipv4_addr',
      '\t\tflags interval,timeout',
      '\t}',
      '\tchain input {',
      '\t\ttype filter hook input priority filter - 1; policy accept;',
      '\t\ttcp dport 22 ip saddr @addr-set-sshd reject',
      '\t\ttcp dport 22 ip saddr @net-set-sshd reject',
      '\t}',
      '\tchain forward {',
      '\t\ttype filter hook forward priority filter - 1; policy accept;',
      '\t}',
      '}',
      '',
    ].join('\n');
    const t = parseTerseTable(text);
    assert.deepEqual([...t.sets], ['addr-set-sshd', 'net-set-sshd']);
    assert.deepEqual([...t.chains], [['input', 2], ['forward', 0]]);
  });

  test('jail names become safe, distinct nft identifiers', () => {
    assert.equal(nftJailId('sshd'), 'sshd');
    assert.equal(nftJailId('nginx-http-auth'), 'nginx-http-auth');
    const odd = ['my jail', 'my_jail', 'a}; flush ruleset', 'jail.d', 'ü', 'x'.repeat(100)];
    const ids = odd.map(nftJailId);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.notEqual(nftJailId('my jail'), nftJailId('my_jail'));
  });
});

describe('nftables backend scripts (fake runner)', () => {
  test('init: one atomic script replacing the old table, priority -1, four sets and rules per jail', async () => {
    const { run, scripts } = fakeRunner();
    const b = new NftablesBackend({ run, services, table: 't1' });
    await b.init([spec('sshd'), spec('web', { port: 'http,https', blocktype: 'drop' }), spec('all', { allports: true, protocol: 'all' })]);
    assert.equal(scripts.length, 1);
    const s = scripts[0];
    assert.match(s, /^table inet t1 \{\}\ndelete table inet t1\ntable inet t1 \{\n/);
    assert.match(s, /type filter hook input priority -1; policy accept;/);
    assert.match(s, /set addr-set-sshd \{ type ipv4_addr; flags timeout; \}/);
    assert.match(s, /set addr6-set-sshd \{ type ipv6_addr; flags timeout; \}/);
    assert.match(s, /set net-set-sshd \{ type ipv4_addr; flags interval, timeout; \}/);
    assert.match(s, /set net6-set-sshd \{ type ipv6_addr; flags interval, timeout; \}/);
    assert.match(s, /meta l4proto tcp th dport \{ 22 \} ip saddr @addr-set-sshd reject\n/);
    assert.match(s, /meta l4proto tcp th dport \{ 22 \} ip6 saddr @addr6-set-sshd reject\n/);
    assert.match(s, /meta l4proto tcp th dport \{ 80, 443 \} ip saddr @net-set-web drop\n/);
    assert.match(s, /\t\tip saddr @addr-set-all reject\n/);
  });

  test('init: a forward chain for jails of chain DOCKER-USER / FORWARD; per-family reject types', async () => {
    const { run, scripts } = fakeRunner();
    const b = new NftablesBackend({ run, services, table: 't1' });
    await b.init([
      spec('sshd', { blocktype: 'REJECT --reject-with icmp-host-prohibited' }),
      spec('web', { port: 'http,https', chain: 'DOCKER-USER', blocktype: 'REJECT --reject-with icmp-port-unreachable', blocktype6: 'REJECT --reject-with icmp6-adm-prohibited' }),
    ]);
    const s = scripts[0];
    const input = /chain input \{\n([^}]*(?:\{[^}]*\}[^}]*)*)\t\}/.exec(s)?.[1] ?? '';
    const forward = /chain forward \{\n([^}]*(?:\{[^}]*\}[^}]*)*)\t\}/.exec(s)?.[1] ?? '';
    assert.match(forward, /type filter hook forward priority -1; policy accept;/);
    assert.match(input, /th dport \{ 22 \} ip saddr @addr-set-sshd reject with icmp type host-prohibited\n/);
    assert.match(input, /th dport \{ 22 \} ip6 saddr @addr6-set-sshd reject with icmpv6 type admin-prohibited\n/);
    assert.doesNotMatch(input, /-web/);
    assert.match(forward, /th dport \{ 80, 443 \} ip saddr @addr-set-web reject with icmp type port-unreachable\n/);
    assert.match(forward, /th dport \{ 80, 443 \} ip6 saddr @net6-set-web reject with icmpv6 type admin-prohibited\n/);
    assert.doesNotMatch(forward, /-sshd/);
    // no forward jail, no forward chain
    await b.init([spec('sshd')]);
    assert.doesNotMatch(scripts[1], /chain forward/);
  });

  test('the ipset backend refuses a jail whose rule would not hang from INPUT', async () => {
    const { run, scripts } = fakeRunner();
    const b = createFirewall('ipset', { run, services });
    await rejectsWith(b.init([spec('web', { chain: 'DOCKER-USER', backend: 'ipset' })]), 'CONFIG_VALUE', /chain DOCKER-USER: the ipset backend .* hooks INPUT only/);
    assert.equal(scripts.length, 0);
  });

  test('init rejects a bad jail before running anything', async () => {
    const { run, scripts } = fakeRunner();
    const b = new NftablesBackend({ run, services });
    await rejectsWith(b.init([spec('ok'), spec('bad', { port: 'nope' })]), 'CONFIG_VALUE', /nope/);
    await rejectsWith(b.init([spec('a'), spec('a')]), 'CONFIG_VALUE', /twice/);
    assert.equal(scripts.length, 0);
    assert.throws(() => new NftablesBackend({ table: 'x; flush ruleset' }), /table name/);
  });

  test('update: one command; fresh blocks plain, re-blocks replaced, releases add+delete', async () => {
    const { run, scripts } = fakeRunner();
    const b = new NftablesBackend({ run, services });
    await b.init([spec('sshd')]);
    await b.update({ block: [entry('192.0.2.10', 600), entry('2001:db8::10', null), entry('192.0.2.0/28', 59.2)], release: [] });
    assert.equal(scripts.length, 2);
    assert.equal(
      scripts[1],
      [
        'add element inet f2b-fast addr-set-sshd { 192.0.2.10 timeout 600s }',
        'add element inet f2b-fast addr6-set-sshd { 2001:db8::10 }',
        'add element inet f2b-fast net-set-sshd { 192.0.2.0/28 timeout 60s }',
        '',
      ].join('\n'),
    );
    await b.update({ block: [entry('192.0.2.10', null)], release: [entry('192.0.2.99')] });
    assert.equal(scripts.length, 3);
    assert.equal(
      scripts[2],
      [
        'add element inet f2b-fast addr-set-sshd { 192.0.2.99, 192.0.2.10 }',
        'delete element inet f2b-fast addr-set-sshd { 192.0.2.99, 192.0.2.10 }',
        'add element inet f2b-fast addr-set-sshd { 192.0.2.10 }',
        '',
      ].join('\n'),
    );
    // in both lists: released first, so it ends blocked (one op, not two)
    await b.update({ block: [entry('::ffff:192.0.2.30', 10)], release: [entry('192.0.2.30')] });
    assert.equal(scripts[3], 'add element inet f2b-fast addr-set-sshd { 192.0.2.30 timeout 10s }\n');
    // longer than nft can hold: permanent (the jail's unban still releases it)
    await b.update({ block: [entry('192.0.2.31', 200_000_000)], release: [] });
    assert.equal(scripts[4], 'add element inet f2b-fast addr-set-sshd { 192.0.2.31 }\n');
  });

  test('update: entries that are not addresses, or of unknown jails, never reach nft and are reported', async () => {
    const { run, scripts } = fakeRunner();
    const b = new NftablesBackend({ run, services });
    await b.init([spec('sshd')]);
    await rejectsWith(
      b.update({ block: [entry('1.2.3.4 } ; flush ruleset'), entry('192.0.2.10'), entry('192.0.2.11', 600, 'nojail')], release: [] }),
      'FIREWALL_COMMAND',
      /2 of 3 firewall changes were not applied \(the others were\).*flush ruleset.*not an IPv4\/IPv6.*nojail 192\.0\.2\.11: jail has no firewall sets/,
    );
    assert.equal(scripts.length, 2);
    assert.equal(scripts[1], 'add element inet f2b-fast addr-set-sshd { 192.0.2.10 timeout 600s }\n');
  });

  test('update: nft rejecting some entries drops only those and retries once', async () => {
    const { run, scripts } = fakeRunner([
      { code: 0 },
      { code: 1, stderr: '/dev/stdin:2:30-42: Error: interval overlaps with an existing one\nadd element ...\n    ^^^^\n' },
    ]);
    const b = new NftablesBackend({ run, services });
    await b.init([spec('sshd')]);
    await rejectsWith(
      b.update({ block: [entry('192.0.2.10'), entry('10.0.0.0/8'), entry('192.0.2.11')], release: [] }),
      'FIREWALL_COMMAND',
      /1 of 3 .*sshd 10\.0\.0\.0\/8: interval overlaps/,
    );
    assert.equal(scripts.length, 3);
    assert.doesNotMatch(scripts[2], /10\.0\.0\.0/);
    assert.match(scripts[2], /\{ 192\.0\.2\.10 timeout 600s, 192\.0\.2\.11 timeout 600s \}/);
  });

  test('update: an error at one element of a grouped statement drops that element only', async () => {
    const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    const line2 = `delete element inet f2b-fast addr-set-sshd { ${ips.join(', ')} }`;
    const col = line2.indexOf(ips[1]) + 1;
    const stderr = `/dev/stdin:2:${col}-${col + ips[1].length - 1}: Error: Could not process rule: No such file or directory\n`;
    // init, the blocks, the releases (rejected at the second element), the retry
    const { run, scripts } = fakeRunner([{ code: 0 }, { code: 0 }, { code: 1, stderr }, { code: 0 }]);
    const b = new NftablesBackend({ run, services });
    await b.init([spec('sshd')]);
    await b.update({ block: ips.map((ip) => entry(ip)), release: [] });
    await rejectsWith(b.update({ block: [], release: ips.map((ip) => entry(ip)) }), 'FIREWALL_COMMAND', /1 of 3 .*198\.51\.100\.2: Could not process/);
    assert.equal(scripts.length, 4);
    assert.equal(scripts[2].split('\n')[1], line2);
    assert.equal(scripts[3].split('\n')[1], 'delete element inet f2b-fast addr-set-sshd { 198.51.100.1, 198.51.100.3 }');
  });

  test('update: an error nft does not locate fails the batch, reported with its stderr', async () => {
    const { run } = fakeRunner([{ code: 0 }, { code: 1, stderr: 'Error: Could not process rule: No such file or directory\n' }]);
    const b = new NftablesBackend({ run, services });
    await b.init([spec('sshd')]);
    await rejectsWith(b.update({ block: [entry('192.0.2.10')], release: [] }), 'FIREWALL_COMMAND', /none of its 1 remaining changes.*No such file/);
  });

  test('a missing nft is FIREWALL_UNAVAILABLE with advice', async () => {
    await rejectsWith(NftablesBackend.available({ nft: '/nonexistent/nft' }), 'FIREWALL_UNAVAILABLE', /apt-get install nftables.*--dry-run/);
    const b = new NftablesBackend({ nft: '/nonexistent/nft', services });
    await rejectsWith(b.init([spec('sshd')]), 'FIREWALL_UNAVAILABLE', /apt-get install nftables/);
  });
});

describe('nftables backend in a network namespace pair', () => {
  let pair: LinkedPair | null = null;
  let skip: string | false = false;
  let nftRuns = 0;
  let backend: NftablesBackend;
  const PORT = 22;

  before(async () => {
    const avail = await netnsAvailable();
    if (!avail.ok) return void (skip = avail.reason ?? 'network namespaces unavailable');
    pair = await createLinkedPair('f2bt');
    const exec = ['ip', 'netns', 'exec', pair.srv.name];
    try {
      await NftablesBackend.available({ exec });
    } catch (e) {
      return void (skip = (e as Error).message);
    }
    const real = spawnRunner(20_000);
    const run: CommandRunner = (argv, input) => {
      nftRuns++;
      return real(argv, input);
    };
    backend = new NftablesBackend({ exec, run });
    await startTcpServer(pair.srv, PORT);
  });

  after(async () => {
    await pair?.destroy();
  });

  const nft = async (...args: string[]) => {
    const r = await pair!.srv.exec(['nft', ...args]);
    return r;
  };
  /** elements of one of our sets as 'addr' or 'addr timeout N' (nft does not list expired ones) */
  const elements = async (set: string): Promise<string[]> => {
    const r = await nft('-j', 'list', 'set', 'inet', 'f2b-fast', set);
    assert.equal(r.code, 0, r.stderr);
    type Val = string | { prefix: { addr: string; len: number } };
    type Elem = Val | { elem: { val: Val; timeout?: number } };
    const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: Elem[] } }[] };
    const text = (v: Val) => (typeof v === 'string' ? v : `${v.prefix.addr}/${v.prefix.len}`);
    return (doc.nftables.find((x) => x.set)?.set?.elem ?? []).map((e) =>
      typeof e === 'object' && 'elem' in e
        ? `${text(e.elem.val)}${e.elem.timeout === undefined ? '' : ` timeout ${e.elem.timeout}`}`
        : text(e),
    );
  };
  const connect = (localAddress: string, host = pair!.addr.srv, timeoutMs = 1500) =>
    tryConnect(pair!.cli, { host, port: PORT, localAddress, timeoutMs });
  /** polls (bounded) until the set has `n` elements */
  const waitForCount = async (set: string, n: number, withinMs: number) => {
    const end = Date.now() + withinMs;
    for (let i = 0; i < 200 && Date.now() < end; i++) {
      if ((await elements(set)).length === n) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return (await elements(set)).length === n;
  };

  const jails: FirewallJailSpec[] = [
    spec('sshd'),
    spec('web', { port: 'http,https' }),
    spec('dropper', { blocktype: 'drop' }),
    spec('every thing', { allports: true, protocol: 'all' }),
  ];

  test('init creates our table only: input chain at priority -1, sets per jail', async (t) => {
    if (skip) return t.skip(skip);
    await backend.init(jails);
    const r = await nft('list', 'table', 'inet', 'f2b-fast');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /type filter hook input priority filter - 1; policy accept;/);
    assert.match(r.stdout, /tcp dport 22 ip saddr @addr-set-sshd reject/);
    assert.match(r.stdout, /tcp dport \{ 80, 443 \} ip saddr @addr-set-web reject/);
    assert.match(r.stdout, /ip saddr @addr-set-dropper drop/);
    assert.match(r.stdout, new RegExp(`set addr-set-${nftJailId('every thing')} `));
    for (const s of ['addr-set-sshd', 'addr6-set-sshd', 'net-set-sshd', 'net6-set-sshd']) assert.deepEqual(await elements(s), []);
    // init again replaces the table (no "exists" error, no duplicate rules)
    await backend.init(jails);
    const again = await nft('list', 'table', 'inet', 'f2b-fast');
    assert.equal(again.stdout.match(/@addr-set-sshd/g)?.length, 1);
  });

  test('a banned address is refused, the bystander still connects; release lets it back', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander } = pair!.addr;
    assert.equal(await connect(attacker), 'connected');
    await backend.update({ block: [entry(attacker)], release: [] });
    assert.equal(await connect(attacker), 'refused');
    assert.equal(await connect(bystander), 'connected');
    // a ban in a jail for other ports does not touch port 22
    await backend.update({ block: [entry(bystander, 600, 'web')], release: [] });
    assert.equal(await connect(bystander), 'connected');
    await backend.update({ block: [], release: [entry(attacker), entry(bystander, 600, 'web')] });
    assert.equal(await connect(attacker), 'connected');
    assert.deepEqual(await elements('addr-set-sshd'), []);
  });

  test('blocktype drop: the connection times out', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander } = pair!.addr;
    await backend.update({ block: [entry(attacker, 600, 'dropper')], release: [] });
    const started = Date.now();
    assert.equal(await connect(attacker, pair!.addr.srv, 1000), 'timeout');
    assert.ok(Date.now() - started < 8000);
    assert.equal(await connect(bystander), 'connected');
    await backend.update({ block: [], release: [entry(attacker, 600, 'dropper')] });
    assert.equal(await connect(attacker), 'connected');
  });

  test('allports jail with protocol all blocks every port', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker } = pair!.addr;
    await backend.update({ block: [entry(attacker, 600, 'every thing')], release: [] });
    assert.equal(await connect(attacker), 'refused');
    await backend.flush('every thing');
    assert.equal(await connect(attacker), 'connected');
  });

  test('IPv6 address and IPv4 subnet bans', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander, srv6, attacker6, bystander6 } = pair!.addr;
    assert.equal(await connect(attacker6, srv6), 'connected');
    await backend.update({ block: [entry(attacker6), entry('192.0.2.8/29')], release: [] });
    assert.equal(await connect(attacker6, srv6), 'refused');
    assert.equal(await connect(bystander6, srv6), 'connected');
    assert.equal(await connect(attacker), 'refused'); // .10 is in .8/29
    assert.equal(await connect(bystander), 'connected'); // .20 is not
    assert.deepEqual(await elements('addr6-set-sshd'), ['2001:db8::10 timeout 600']);
    assert.deepEqual(await elements('net-set-sshd'), ['192.0.2.8/29 timeout 600']);
    // an address inside a banned subnet is no conflict: it lives in the address set
    await backend.update({ block: [entry(attacker)], release: [] });
    await backend.update({ block: [], release: [entry(attacker6), entry('192.0.2.8/29'), entry(attacker)] });
    assert.equal(await connect(attacker6, srv6), 'connected');
    assert.equal(await connect(attacker), 'connected');
  });

  test('the kernel expires a ban with a timeout by itself', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker } = pair!.addr;
    await backend.update({ block: [entry(attacker, 1)], release: [] });
    assert.equal(await connect(attacker), 'refused');
    assert.ok(await waitForCount('addr-set-sshd', 0, 5000), 'element did not expire within 5 s');
    assert.equal(await connect(attacker), 'connected');
  });

  test('releasing an element the kernel already expired does not fail the batch', async (t) => {
    if (skip) return t.skip(skip);
    await backend.update({ block: [entry('198.18.0.1', 1), entry('198.18.0.0/24', 1)], release: [] });
    assert.ok(await waitForCount('addr-set-sshd', 0, 5000));
    assert.ok(await waitForCount('net-set-sshd', 0, 5000));
    await backend.update({ block: [entry('198.18.0.2')], release: [entry('198.18.0.1'), entry('198.18.0.0/24'), entry('198.18.9.9')] });
    assert.deepEqual(await elements('addr-set-sshd'), ['198.18.0.2 timeout 600']);
    await backend.flush('sshd');
  });

  test('a re-ban replaces the timeout; a permanent ban has none', async (t) => {
    if (skip) return t.skip(skip);
    await backend.update({ block: [entry('198.18.1.1', 100)], release: [] });
    await backend.update({ block: [entry('198.18.1.1', 5000)], release: [] });
    assert.deepEqual(await elements('addr-set-sshd'), ['198.18.1.1 timeout 5000']);
    await backend.update({ block: [entry('198.18.1.1', null)], release: [] });
    assert.deepEqual(await elements('addr-set-sshd'), ['198.18.1.1']);
    await backend.flush();
    assert.deepEqual(await elements('addr-set-sshd'), []);
  });

  test('1000 addresses in one update: one nft process, 1000 elements; 1000 releases likewise', async (t) => {
    if (skip) return t.skip(skip);
    const ips = Array.from({ length: 1000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    const before = nftRuns;
    await backend.update({ block: ips.map((ip, i) => entry(ip, i % 2 ? 600 : null)), release: [] });
    assert.equal(nftRuns - before, 1);
    assert.equal((await elements('addr-set-sshd')).length, 1000);
    const mid = nftRuns;
    await backend.update({ block: [], release: ips.map((ip) => entry(ip)) });
    assert.equal(nftRuns - mid, 1);
    assert.equal((await elements('addr-set-sshd')).length, 0);
  });

  test('one bad entry does not sink the others of its batch', async (t) => {
    if (skip) return t.skip(skip);
    await backend.update({ block: [entry('198.18.0.0/16')], release: [] });
    await rejectsWith(
      backend.update({ block: [entry('198.18.5.0/24'), entry('198.19.0.1'), entry('not-an-ip')], release: [] }),
      'FIREWALL_COMMAND',
      /2 of 3 .*198\.18\.5\.0\/24: interval overlaps/,
    );
    assert.deepEqual(await elements('addr-set-sshd'), ['198.19.0.1 timeout 600']);
    assert.deepEqual(await elements('net-set-sshd'), ['198.18.0.0/16 timeout 600']);
    await backend.flush();
  });

  test('through the batcher: a burst becomes one nft run', async (t) => {
    if (skip) return t.skip(skip);
    const errors: Error[] = [];
    const batcher = new FirewallBatcher(backend, { onError: (e) => errors.push(e), log: () => {} });
    const before = nftRuns;
    for (let i = 0; i < 300; i++) batcher.block(entry(`198.18.2.${i & 255}`, 600));
    for (let i = 256; i < 300; i++) batcher.release(entry(`198.18.2.${i & 255}`));
    await batcher.flushNow();
    assert.equal(nftRuns - before, 1);
    assert.equal((await elements('addr-set-sshd')).length, 256 - 44);
    assert.deepEqual(errors, []);
    await backend.flush();
  });

  test('check: [] when whole (without listing elements); rules flushed, a forward chain or the table deleted by hand are named', async (t) => {
    if (skip) return t.skip(skip);
    const fwd = [spec('sshd'), spec('docker', { chain: 'DOCKER-USER' })];
    await backend.init(fwd);
    await backend.update({ block: Array.from({ length: 300 }, (_, i) => entry(`198.18.7.${i % 250}`)).slice(0, 250), release: [] });
    assert.deepEqual(await backend.check(), []);
    assert.equal((await nft('flush', 'chain', 'inet', 'f2b-fast', 'input')).code, 0);
    assert.deepEqual(await backend.check(), ['nftables chain input has 0 of its 4 rules']);
    assert.equal((await nft('delete', 'chain', 'inet', 'f2b-fast', 'forward')).code, 0);
    assert.deepEqual(await backend.check(), ['nftables chain input has 0 of its 4 rules', 'nftables chain forward is missing']);
    assert.equal((await nft('delete', 'table', 'inet', 'f2b-fast')).code, 0);
    assert.deepEqual(await backend.check(), ['nftables table inet f2b-fast is missing']);
    await backend.init(jails);
    assert.deepEqual(await backend.check(), []);
  });

  test('close() removes the table, and again is harmless', async (t) => {
    if (skip) return t.skip(skip);
    await backend.update({ block: [entry(pair!.addr.attacker)], release: [] });
    assert.equal(await connect(pair!.addr.attacker), 'refused');
    await backend.close();
    await backend.close();
    const r = await nft('list', 'tables');
    assert.doesNotMatch(r.stdout, /f2b-fast/);
    assert.equal(await connect(pair!.addr.attacker), 'connected');
  });
});

/** A backend that records updates; each update waits for `gate` when set. */
class FakeBackend implements FirewallBackend {
  readonly name = 'fake';
  updates: FirewallChanges[] = [];
  inFlight = 0;
  maxInFlight = 0;
  fail: Error | null = null;
  gate: Promise<void> | null = null;
  closed = 0;
  async init(): Promise<void> {}
  async update(changes: FirewallChanges): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.updates.push(changes);
    try {
      if (this.gate) await this.gate;
      else await new Promise((r) => setTimeout(r, 5));
      if (this.fail) throw this.fail;
    } finally {
      this.inFlight--;
    }
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.closed++;
  }
}

describe('spawnRunner', () => {
  test('a script larger than a pipe holds reaches the command whole, through a file removed at once', async () => {
    const run = spawnRunner(20_000);
    const before = new Set(fs.readdirSync(os.tmpdir()));
    // 1 MB of lines, with multi-byte text: the command sees every byte, from the first
    const script = Array.from({ length: 20_000 }, (_, i) => `add element inet t s { 10.0.${i >> 8}.${i & 255} } # ü ${i}`).join('\n') + '\n';
    const r = await run(['sha256sum'], script);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(' ')[0], createHash('sha256').update(script, 'utf8').digest('hex'));
    const left = fs.readdirSync(os.tmpdir()).filter((f) => !before.has(f) && f.startsWith('.f2b-fast-input-'));
    assert.deepEqual(left, []);
    // the command reads a file, at its own pace; small input keeps the pipe
    assert.equal((await run(['stat', '-L', '-c', '%F', '/dev/stdin'], script)).stdout.trim(), 'regular file');
    assert.equal((await run(['stat', '-L', '-c', '%F', '/dev/stdin'], 'short\n')).stdout.trim(), 'socket'); // node's pipes are socket pairs
    assert.equal((await run(['cat'], 'short\n')).stdout, 'short\n');
    // a command that does not read it is no error
    assert.equal((await run(['true'], script)).code, 0);
  });
});

describe('firewall batcher', () => {
  test('every call of one tick becomes one update', async () => {
    const fake = new FakeBackend();
    const batcher = new FirewallBatcher(fake, { log: () => {} });
    for (let i = 0; i < 500; i++) batcher.block(entry(`192.0.2.${i % 250}`, i));
    for (let i = 0; i < 5; i++) batcher.release(entry(`198.51.100.${i}`));
    assert.equal(fake.updates.length, 0); // nothing until the tick ends
    await new Promise((r) => setImmediate(r));
    await batcher.flushNow();
    assert.equal(fake.updates.length, 1);
    assert.equal(fake.updates[0].block.length, 250);
    assert.equal(fake.updates[0].release.length, 5);
    // the later block of an address wins (its timeout)
    assert.equal(fake.updates[0].block.find((e) => e.ip === '192.0.2.0')?.timeout, 250);
  });

  test('a block and a release of one address in one tick: the later one wins', async () => {
    const fake = new FakeBackend();
    const batcher = new FirewallBatcher(fake, { log: () => {} });
    batcher.block(entry('192.0.2.1'));
    batcher.release(entry('192.0.2.1'));
    batcher.release(entry('192.0.2.2'));
    batcher.block(entry('192.0.2.2', 60));
    batcher.block(entry('2001:db8::1'));
    batcher.release(entry('2001:DB8:0::1')); // same address, other spelling
    batcher.block(entry('192.0.2.3', 60, 'sshd'));
    batcher.release(entry('192.0.2.3', 60, 'other')); // other jail: both stay
    await batcher.flushNow();
    assert.equal(fake.updates.length, 1);
    assert.deepEqual(fake.updates[0], {
      block: [entry('192.0.2.2', 60), entry('192.0.2.3', 60, 'sshd')],
      release: [entry('192.0.2.1'), entry('2001:DB8:0::1'), entry('192.0.2.3', 60, 'other')],
      // each address once: the backends skip their own deduplication
      unique: true,
    });
  });

  test('never two updates at once: what comes meanwhile is the next update', async () => {
    const fake = new FakeBackend();
    let open!: () => void;
    fake.gate = new Promise<void>((r) => (open = r));
    const batcher = new FirewallBatcher(fake, { log: () => {} });
    batcher.block(entry('192.0.2.1'));
    await new Promise((r) => setImmediate(r));
    assert.equal(fake.updates.length, 1);
    for (let tick = 0; tick < 5; tick++) {
      batcher.block(entry(`192.0.2.${10 + tick}`));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(fake.updates.length, 1); // still waiting for the first
    fake.gate = null;
    open();
    await batcher.flushNow();
    assert.equal(fake.maxInFlight, 1);
    assert.equal(fake.updates.length, 2);
    assert.deepEqual(fake.updates[1].block.map((e) => e.ip), ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14']);
  });

  test('tickMs collects over a time window', async () => {
    const fake = new FakeBackend();
    const batcher = new FirewallBatcher(fake, { tickMs: 30, log: () => {} });
    batcher.block(entry('192.0.2.1'));
    await new Promise((r) => setTimeout(r, 5));
    batcher.block(entry('192.0.2.2'));
    assert.equal(fake.updates.length, 0);
    await new Promise((r) => setTimeout(r, 60));
    await batcher.flushNow();
    assert.equal(fake.updates.length, 1);
    assert.equal(fake.updates[0].block.length, 2);
  });

  test('onApplied hears each update the backend took, with its size', async () => {
    const fake = new FakeBackend();
    const applied: { blocks: number; releases: number; ms: number }[] = [];
    const batcher = new FirewallBatcher(fake, { log: () => {}, onApplied: (i) => applied.push(i) });
    batcher.block(entry('192.0.2.1'));
    batcher.block(entry('192.0.2.2'));
    batcher.release(entry('192.0.2.3'));
    await batcher.flushNow();
    assert.equal(applied.length, 1);
    assert.equal(applied[0].blocks, 2);
    assert.equal(applied[0].releases, 1);
    assert.ok(applied[0].ms >= 0);
  });

  test('primed addresses (put in at start straight from the database) are not blocked again when the jail restores them; the rest is released', async () => {
    const fake = new FakeBackend();
    const batcher = new FirewallBatcher(fake, { log: () => {} });
    const actions = new JailActions('sshd', { batcher, spec: spec('sshd'), names: ['nftables'] }, [], silentLogger, () => T);
    const ban = (ip: string, restored: boolean): Ban => ({ ip, time: T - 10, bantime: 600, end: T + 590, bancount: 1, failures: 3, matches: [], fields: {}, restored });
    actions.prime(new Set(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.5']));
    actions.ban(ban('192.0.2.1', true));
    actions.ban(ban('192.0.2.3', true));
    // a new ban (not a restore) is blocked as usual, a primed address's too: the jail owns it
    actions.ban(ban('192.0.2.2', false));
    actions.ban(ban('192.0.2.4', false));
    // 192.0.2.5 was put in, and the jail did not restore it (ignored now, or over meanwhile)
    assert.equal(actions.endPriming(), 1);
    await batcher.flushNow();
    assert.equal(fake.updates.length, 1);
    assert.deepEqual(fake.updates[0].block.map((e) => [e.ip, e.timeout]), [['192.0.2.2', 590], ['192.0.2.4', 590]]);
    assert.deepEqual(fake.updates[0].release.map((e) => e.ip), ['192.0.2.5']);
    // after the priming, a restored ban is blocked like any other
    actions.ban(ban('192.0.2.9', true));
    await batcher.flushNow();
    assert.deepEqual(fake.updates[1].block.map((e) => e.ip), ['192.0.2.9']);
  });

  test('errors go to onError and the log, never to the caller; later batches still run', async () => {
    const fake = new FakeBackend();
    fake.fail = new F2bError('FIREWALL_COMMAND', 'nft said no');
    const seen: [Error, FirewallChanges][] = [];
    const logged: string[] = [];
    const batcher = new FirewallBatcher(fake, { onError: (e, c) => seen.push([e, c]), log: (m) => logged.push(m) });
    batcher.block(entry('192.0.2.1'));
    await batcher.flushNow();
    assert.equal(seen.length, 1);
    assert.equal((seen[0][0] as F2bError).code, 'FIREWALL_COMMAND');
    assert.deepEqual(seen[0][1].block, [entry('192.0.2.1')]);
    assert.match(logged[0], /nft said no.*1 blocks, 0 releases/);
    fake.fail = null;
    batcher.block(entry('192.0.2.2'));
    await batcher.flushNow();
    assert.equal(fake.updates.length, 2);
    assert.equal(seen.length, 1);
  });

  test('a throwing onError is logged, not thrown', async () => {
    const fake = new FakeBackend();
    fake.fail = new Error('boom');
    const logged: string[] = [];
    const batcher = new FirewallBatcher(fake, {
      onError: () => {
        throw new Error('handler broke');
      },
      log: (m) => logged.push(m),
    });
    batcher.release(entry('192.0.2.1'));
    await batcher.flushNow();
    assert.equal(logged.length, 2);
    assert.match(logged[1], /handler broke/);
  });

  test('close applies what is pending, closes the backend, and reports later calls', async () => {
    const fake = new FakeBackend();
    const seen: Error[] = [];
    const batcher = new FirewallBatcher(fake, { onError: (e) => seen.push(e), log: () => {} });
    batcher.block(entry('192.0.2.1'));
    await batcher.close();
    assert.equal(fake.updates.length, 1);
    assert.equal(fake.closed, 1);
    batcher.block(entry('192.0.2.2'));
    assert.equal(seen.length, 1);
    assert.match(seen[0].message, /closed/);
    await batcher.close();
    assert.equal(fake.closed, 1);
  });
});

describe('dry-run backend', () => {
  test('logs what it would do and records the calls', async () => {
    const lines: string[] = [];
    const b = createFirewall('dry-run', { log: (m) => lines.push(m) }) as DryRunBackend;
    assert.ok(b instanceof DryRunBackend);
    await b.init([spec('sshd'), spec('web', { port: '1000:2000', allports: false })]);
    await b.update({ block: [entry('192.0.2.10', 600), entry('2001:DB8::1', null)], release: [entry('192.0.2.11')] });
    await b.update({ block: [entry('bogus')], release: [] });
    await b.flush('sshd');
    await b.close();
    assert.deepEqual(
      b.calls.map((c) => c.method),
      ['init', 'update', 'update', 'flush', 'close'],
    );
    assert.deepEqual(lines, [
      'dry-run: would set up jail sshd: tcp ports 22, reject',
      'dry-run: would set up jail web: tcp ports 1000:2000, reject',
      'dry-run: would release 192.0.2.11 in sshd',
      'dry-run: would block 192.0.2.10 in sshd for 600s',
      'dry-run: would block 2001:db8::1 in sshd permanently',
      'dry-run: would block "bogus" (not an address: a real backend rejects it) in sshd for 600s',
      'dry-run: would release every address of sshd',
      'dry-run: would remove the firewall rules',
    ]);
    await assert.rejects(b.init([spec('x', { port: 'nosuch' })]), /unknown service name/);
  });
});

describe('banaction names', () => {
  test('stock firewall actions map to their batched backend (nftables, ipset, pf), others to null', () => {
    const table: [string, BackendKind | null][] = [
      ['iptables', 'nftables'],
      ['iptables-multiport', 'nftables'],
      ['iptables-allports', 'nftables'],
      ['iptables-new', 'nftables'],
      ['iptables-ipset', 'ipset'],
      ['iptables-ipset-proto4', 'ipset'],
      ['iptables-ipset-proto6', 'ipset'],
      ['iptables-ipset-proto6-allports', 'ipset'],
      ['nftables', 'nftables'],
      ['nftables-multiport', 'nftables'],
      ['nftables-allports', 'nftables'],
      [' nftables-multiport[blocktype=drop] ', 'nftables'],
      ['iptables-multiport-log', null],
      ['iptables-xt_recent-echo', null],
      ['firewallcmd-ipset', null],
      ['shorewall', null],
      ['ufw', null],
      ['pf', 'pf'],
      ['sendmail-whois', null],
      ['', null],
    ];
    for (const [name, want] of table) assert.equal(mapBanaction(name), want, name);
  });

  test('jail spec: the jail port/protocol, allports from the name or type=allports, action options win', () => {
    const jail = { port: 'ssh', protocol: 'tcp' };
    assert.deepEqual(jailSpecForBanaction('sshd', 'iptables-multiport', jail), {
      jail: 'sshd', port: 'ssh', protocol: 'tcp', allports: false, backend: 'nftables',
    });
    // the action file's values (its [Init] as the jail overrides it): blocktype per family, the
    // chain of an iptables action, the hook of an nftables action (whose `chain` is a name)
    const ipt = { name: 'iptables-multiport', options: {}, properties: { chain: 'DOCKER-USER', blocktype: 'REJECT --reject-with icmp-port-unreachable', 'blocktype?family=inet6': 'REJECT --reject-with icmp6-port-unreachable' } };
    assert.deepEqual(jailSpecForBanaction('web', ipt, jail), {
      jail: 'web', port: 'ssh', protocol: 'tcp', allports: false, backend: 'nftables', chain: 'DOCKER-USER',
      blocktype: 'REJECT --reject-with icmp-port-unreachable', blocktype6: 'REJECT --reject-with icmp6-port-unreachable',
    });
    assert.equal(jailSpecForBanaction('web', { ...ipt, properties: { chain: 'INPUT' } }, jail)?.chain, undefined);
    // a blocktype given with the action name (the reader resolves it into the file's values
    // too) is both families'; an unresolved `<known/chain>` is no value
    const drop = jailSpecForBanaction('web', { ...ipt, options: { blocktype: 'DROP', chain: '<known/chain>' }, properties: { ...ipt.properties, blocktype: 'DROP', chain: 'INPUT' } }, jail);
    assert.deepEqual([drop?.blocktype, drop?.blocktype6, drop?.chain], ['DROP', undefined, undefined]);
    assert.equal(jailSpecForBanaction('web', { name: 'iptables-multiport', options: { chain: '<known/chain>' } }, { ...jail, chain: 'DOCKER-USER' })?.chain, 'DOCKER-USER');
    const nft = { name: 'nftables-multiport', options: {}, properties: { chain: 'f2b-chain', chain_hook: 'forward', blocktype: 'reject' } };
    assert.equal(jailSpecForBanaction('web', nft, jail)?.chain, 'FORWARD');
    assert.equal(jailSpecForBanaction('web', { ...nft, properties: { chain: 'DOCKER-USER', chain_hook: 'input' } }, jail)?.chain, undefined);
    assert.equal(jailSpecForBanaction('r', 'iptables-allports', jail)?.allports, true);
    assert.equal(jailSpecForBanaction('r', 'iptables-ipset-proto6-allports', jail)?.allports, true);
    assert.equal(jailSpecForBanaction('r', 'nftables[type=allports]', jail)?.allports, true);
    assert.deepEqual(jailSpecForBanaction('w', 'nftables-multiport[port="http,https", protocol=tcp, blocktype=drop]', jail), {
      jail: 'w', port: 'http,https', protocol: 'tcp', allports: false, blocktype: 'drop', backend: 'nftables',
    });
    assert.equal(jailSpecForBanaction('p', 'pf[actiontype=<allports>]', jail)?.allports, true);
    assert.equal(jailSpecForBanaction('p', 'pf', jail)?.backend, 'pf');
    assert.equal(jailSpecForBanaction('i', 'iptables-ipset-proto6', jail)?.backend, 'ipset');
    assert.equal(jailSpecForBanaction('x', 'ufw', jail), null);
  });
});

describe('nftables forward hook (chain = DOCKER-USER) in a routed namespace chain', () => {
  // cli (attacker, bystander) -- rtr (the firewall, forwarding) -- dst (a server on 8080): the
  // traffic of a published container port, which the input hook never sees
  let cli: Netns | null = null;
  let rtr: Netns | null = null;
  let dst: Netns | null = null;
  let skip: string | false = false;
  let backend: NftablesBackend;
  const PORT = 8080;

  before(async () => {
    const avail = await netnsAvailable();
    if (!avail.ok) return void (skip = avail.reason ?? 'network namespaces unavailable');
    [cli, rtr, dst] = [await createNetns('f2bc'), await createNetns('f2br'), await createNetns('f2bd')];
    const must = async (ns: Netns, argv: string[]) => {
      const r = await ns.exec(argv);
      if (r.code !== 0) throw new Error(`${ns.name}: ${argv.join(' ')}: ${r.stderr}`);
    };
    // made inside rtr, each peer moved straight into its namespace: nothing in the host's
    await must(rtr, ['ip', 'link', 'add', 'to-cli', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cli.name]);
    await must(rtr, ['ip', 'link', 'add', 'to-dst', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', dst.name]);
    await must(rtr, ['ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'to-cli']);
    await must(rtr, ['ip', 'addr', 'add', '203.0.113.1/24', 'dev', 'to-dst']);
    await must(cli, ['ip', 'addr', 'add', '198.51.100.10/24', 'dev', 'eth0']);
    await must(cli, ['ip', 'addr', 'add', '198.51.100.20/24', 'dev', 'eth0']);
    await must(dst, ['ip', 'addr', 'add', '203.0.113.2/24', 'dev', 'eth0']);
    for (const [ns, devs] of [[cli, ['lo', 'eth0']], [dst, ['lo', 'eth0']], [rtr, ['lo', 'to-cli', 'to-dst']]] as const) {
      for (const d of devs) await must(ns, ['ip', 'link', 'set', d, 'up']);
    }
    await must(cli, ['ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
    await must(dst, ['ip', 'route', 'add', 'default', 'via', '203.0.113.1']);
    await must(rtr, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const exec = ['ip', 'netns', 'exec', rtr.name];
    try {
      await NftablesBackend.available({ exec });
    } catch (e) {
      return void (skip = (e as Error).message);
    }
    backend = new NftablesBackend({ exec, run: spawnRunner(20_000) });
    await startTcpServer(dst, PORT);
    await startTcpServer(rtr, PORT);
  });

  after(async () => {
    await Promise.all([cli?.destroy(), rtr?.destroy(), dst?.destroy()]);
  });

  const connect = (localAddress: string, host: string) => tryConnect(cli!, { host, port: PORT, localAddress, timeoutMs: 1500 });

  test('a ban of a DOCKER-USER jail stops forwarded traffic from the attacker with its reject type; the host itself and the bystander are untouched', async (t) => {
    if (skip) return t.skip(skip);
    await backend.init([spec('web', { port: String(PORT), chain: 'DOCKER-USER', blocktype: 'REJECT --reject-with icmp-host-prohibited' })]);
    t.after(() => backend.close());
    assert.equal(await connect('198.51.100.10', '203.0.113.2'), 'connected', 'forwarded before the ban');
    await backend.update({ block: [{ jail: 'web', ip: '198.51.100.10', timeout: 600 }], release: [] });
    // icmp host-prohibited: the kernel reports EHOSTUNREACH (a plain reject would be refused)
    assert.equal(await connect('198.51.100.10', '203.0.113.2'), 'error:EHOSTUNREACH');
    assert.equal(await connect('198.51.100.20', '203.0.113.2'), 'connected', 'the bystander');
    assert.equal(await connect('198.51.100.10', '198.51.100.1'), 'connected', 'the host itself: the input hook has no rule for this jail');
    await backend.update({ block: [], release: [{ jail: 'web', ip: '198.51.100.10', timeout: null }] });
    assert.equal(await connect('198.51.100.10', '203.0.113.2'), 'connected', 'after the release');
  });
});
