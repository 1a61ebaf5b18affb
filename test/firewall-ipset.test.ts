// The ipset + iptables backend: its exact scripts (recording runner), then a real kernel inside
// network namespaces this file creates (never the host's): traffic refused and let through for
// IPv4 and IPv6, kernel expiry, restart over leftovers (and reading them: leftover), a full set,
// 10,000 bans in one command.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F2bError } from '../src/errors';
import type { FirewallJailSpec } from '../src/firewall/backend';
import { spawnRunner, type CommandResult, type CommandRunner } from '../src/firewall/command';
import { IpsetBackend } from '../src/firewall/ipset';
import { createLinkedPair, netnsAvailable, startTcpServer, tryConnect, type LinkedPair } from './helpers/netns';
import { entry, rejectsWith, services, spec } from './helpers/firewall';


const EMPTY_TABLE = '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n';

interface Call {
  argv: readonly string[];
  input: string;
}

/**
 * A runner that records every command. `answer` may return a result (default: success with
 * empty output) or throw; `iptables -S` answers an empty table and `ipset list -n` no sets.
 */
function recorder(answer: (argv: readonly string[], input: string) => Partial<CommandResult> | undefined = () => undefined) {
  const calls: Call[] = [];
  const run: CommandRunner = async (argv, input) => {
    calls.push({ argv, input });
    const a = answer(argv, input);
    const dflt = argv.includes('-S') ? EMPTY_TABLE : '';
    return { code: a?.code ?? 0, stdout: a?.stdout ?? dflt, stderr: a?.stderr ?? '' };
  };
  return { run, calls };
}

const script = (...lines: string[]) => lines.join('\n') + '\n';
const ipt = (...lines: string[]) => script('*filter', ...lines, 'COMMIT');
const RESTORE = ['ipset', 'restore', '-exist'];

describe('ipset backend scripts (recording runner)', () => {
  test('init on a clean host: read, create sets, one rule per set and protocol, hook INPUT', async () => {
    const { run, calls } = recorder();
    const b = new IpsetBackend({ run, services, maxelem: 1000 });
    await b.init([
      spec('sshd'),
      spec('web', { port: 'http,https', protocol: 'tcp,udp', blocktype: 'drop' }),
      spec('all', { allports: true, protocol: 'all' }),
    ]);
    assert.deepEqual(
      calls.map((c) => c.argv.join(' ')),
      [
        'iptables -w -S',
        'ip6tables -w -S',
        'ipset list -n',
        'ipset restore',
        'iptables-restore -w --noflush',
        'ip6tables-restore -w --noflush',
      ],
    );
    const creates = ['sshd', 'web', 'all'].flatMap((j) => [
      `create f2b-fast-${j}-ip4 hash:ip family inet timeout 0 maxelem 1000`,
      `create f2b-fast-${j}-ip6 hash:ip family inet6 timeout 0 maxelem 1000`,
      `create f2b-fast-${j}-net4 hash:net family inet timeout 0 maxelem 1000`,
      `create f2b-fast-${j}-net6 hash:net family inet6 timeout 0 maxelem 1000`,
    ]);
    assert.equal(calls[3].input, script(...creates));
    const rules = (fam: 4 | 6, reject: string) =>
      ipt(
        ':f2b-fast - [0:0]',
        '-F f2b-fast',
        `-A f2b-fast -p tcp -m multiport --dports 22 -m set --match-set f2b-fast-sshd-ip${fam} src -j ${reject}`,
        `-A f2b-fast -p tcp -m multiport --dports 22 -m set --match-set f2b-fast-sshd-net${fam} src -j ${reject}`,
        `-A f2b-fast -p tcp -m multiport --dports 80,443 -m set --match-set f2b-fast-web-ip${fam} src -j DROP`,
        `-A f2b-fast -p udp -m multiport --dports 80,443 -m set --match-set f2b-fast-web-ip${fam} src -j DROP`,
        `-A f2b-fast -p tcp -m multiport --dports 80,443 -m set --match-set f2b-fast-web-net${fam} src -j DROP`,
        `-A f2b-fast -p udp -m multiport --dports 80,443 -m set --match-set f2b-fast-web-net${fam} src -j DROP`,
        `-A f2b-fast -m set --match-set f2b-fast-all-ip${fam} src -j ${reject}`,
        `-A f2b-fast -m set --match-set f2b-fast-all-net${fam} src -j ${reject}`,
        '-I INPUT 1 -j f2b-fast',
      );
    assert.equal(calls[4].input, rules(4, 'REJECT --reject-with icmp-port-unreachable'));
    assert.equal(calls[5].input, rules(6, 'REJECT --reject-with icmp6-port-unreachable'));
  });

  test('init over leftovers: unhook and empty the old chain, destroy only our old sets, start fresh', async () => {
    const leftovers =
      EMPTY_TABLE +
      '-N f2b-fast\n-N f2b-sshd\n' +
      '-A INPUT -j f2b-fast\n-A INPUT -p tcp -j f2b-sshd\n-A INPUT -j f2b-fast\n-A INPUT -s 192.0.2.0/24 -j f2b-fast-other\n' +
      '-A f2b-fast -p tcp -m multiport --dports 22 -m set --match-set f2b-fast-gone-ip4 src -j DROP\n';
    const sets = ['f2b-fast-sshd-ip4', 'f2b-fast-gone-ip4', 'f2b-fast-gone-net6', 'f2b-sshd', 'f2b-sshd6', 'f2b-fast-sshd-ip4x', 'other'];
    const { run, calls } = recorder((argv) => {
      if (argv.includes('-S')) return { stdout: leftovers };
      if (argv.includes('list')) return { stdout: sets.join('\n') + '\n' };
      return undefined;
    });
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    assert.deepEqual(
      calls.map((c) => c.argv.join(' ')),
      [
        'iptables -w -S',
        'iptables-restore -w --noflush',
        'ip6tables -w -S',
        'ip6tables-restore -w --noflush',
        'ipset list -n',
        'ipset restore',
        'iptables-restore -w --noflush',
        'ip6tables-restore -w --noflush',
      ],
    );
    // fail2ban's own chain and sets (f2b-sshd) and other names are not ours: left alone
    assert.equal(calls[1].input, ipt(':f2b-fast - [0:0]', '-F f2b-fast', '-D INPUT -j f2b-fast', '-D INPUT -j f2b-fast'));
    assert.match(
      calls[5].input,
      /^destroy f2b-fast-sshd-ip4\ndestroy f2b-fast-gone-ip4\ndestroy f2b-fast-gone-net6\ncreate f2b-fast-sshd-ip4 /,
    );
    assert.equal(calls[5].input.split('\n').filter((l) => l.startsWith('destroy')).length, 3);
    assert.equal(calls[5].input.split('\n').filter((l) => l.startsWith('create')).length, 4);
    // init again over its own work: the same three steps, nothing doubled
    calls.length = 0;
    await b.init([spec('sshd')]);
    assert.equal(calls.filter((c) => c.argv.join(' ') === 'iptables -w -S').length, 1);
  });

  test('a tick of blocks and releases is one ipset restore -exist', async () => {
    const { run, calls } = recorder();
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd'), spec('web', { port: 'http' })]);
    calls.length = 0;
    await b.update({
      block: [
        entry('192.0.2.10', 600),
        entry('2001:DB8:0::10', null),
        entry('192.0.2.77/28', 59.2),
        entry('2001:db8:1::/48', 0.2),
        entry('192.0.2.11', 3_000_000), // longer than ipset can hold: permanent
        entry('192.0.2.12', 600, 'web'),
        entry('192.0.2.30', 10), // also released below: ends blocked
      ],
      release: [entry('192.0.2.20'), entry('2001:db8::20'), entry('10.0.0.0/8'), entry('192.0.2.30'), entry('192.0.2.21', 600, 'web')],
    });
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].argv, RESTORE);
    assert.equal(
      calls[0].input,
      script(
        'del f2b-fast-sshd-ip4 192.0.2.20',
        'del f2b-fast-sshd-ip6 2001:db8::20',
        'del f2b-fast-sshd-net4 10.0.0.0/8',
        'del f2b-fast-web-ip4 192.0.2.21',
        'add f2b-fast-sshd-ip4 192.0.2.10 timeout 600',
        'add f2b-fast-sshd-ip4 192.0.2.11 timeout 0',
        'add f2b-fast-sshd-ip4 192.0.2.30 timeout 10',
        'add f2b-fast-sshd-ip6 2001:db8::10 timeout 0',
        'add f2b-fast-sshd-net4 192.0.2.64/28 timeout 60',
        'add f2b-fast-sshd-net6 2001:db8:1::/48 timeout 1',
        'add f2b-fast-web-ip4 192.0.2.12 timeout 600',
      ),
    );
  });

  test('entries that are not addresses, or of unknown jails, never reach ipset and are reported', async () => {
    const { run, calls } = recorder();
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    calls.length = 0;
    await rejectsWith(
      b.update({
        block: [entry('1.2.3.4\ndestroy f2b-fast-sshd-ip4'), entry('192.0.2.10'), entry('192.0.2.11', 600, 'nojail'), entry('192.0.2.12', -1)],
        release: [],
      }),
      'FIREWALL_COMMAND',
      /3 of 4 firewall changes were not applied \(the others were\).*not an IPv4\/IPv6.*nojail 192\.0\.2\.11: jail has no .*bad timeout -1/,
    );
    assert.equal(calls.length, 1);
    assert.equal(calls[0].input, 'add f2b-fast-sshd-ip4 192.0.2.10 timeout 600\n');
  });

  test('a line ipset rejects is dropped and the script run again without it', async () => {
    let n = 0;
    const { run, calls } = recorder((argv) =>
      argv.includes('-exist') && n++ === 0 ? { code: 1, stderr: 'ipset v7.17: Error in line 2: Kernel error received: Invalid argument\n' } : undefined,
    );
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    calls.length = 0;
    await rejectsWith(
      b.update({ block: [entry('192.0.2.1'), entry('192.0.2.2'), entry('192.0.2.3')], release: [] }),
      'FIREWALL_COMMAND',
      /1 of 3 .*sshd 192\.0\.2\.2: f2b-fast-sshd-ip4: Kernel error received: Invalid argument$/,
    );
    assert.equal(calls.length, 2);
    assert.equal(calls[1].input, script('add f2b-fast-sshd-ip4 192.0.2.1 timeout 600', 'add f2b-fast-sshd-ip4 192.0.2.3 timeout 600'));
  });

  test('"Hash is full": the later adds to that set are dropped, the error names the set and maxelem', async () => {
    let n = 0;
    const { run, calls } = recorder((argv) =>
      argv.includes('-exist') && n++ === 0 ? { code: 1, stderr: 'ipset v7.17: Error in line 3: Hash is full, cannot add more elements\n' } : undefined,
    );
    const b = new IpsetBackend({ run, services, maxelem: 2 });
    await b.init([spec('sshd')]);
    calls.length = 0;
    const ips = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '2001:db8::1', '192.0.2.4'];
    await rejectsWith(
      b.update({ block: ips.map((ip) => entry(ip)), release: [entry('192.0.2.9')] }),
      'FIREWALL_COMMAND',
      new RegExp(
        '3 of 6 .*sshd 192\\.0\\.2\\.2: set f2b-fast-sshd-ip4 is full; sshd 192\\.0\\.2\\.3: set f2b-fast-sshd-ip4 is full; ' +
          'sshd 192\\.0\\.2\\.4: set f2b-fast-sshd-ip4 is full \\(ipset f2b-fast-sshd-ip4 is full at maxelem 2: the sets are created with maxelem 4 when set up again',
      ),
    );
    assert.equal(calls.length, 2);
    assert.equal(b.maxelem, 4);
    // line 3 is 192.0.2.2 (after the release and .1); .1 went in and is re-added harmlessly
    assert.equal(
      calls[1].input,
      script('del f2b-fast-sshd-ip4 192.0.2.9', 'add f2b-fast-sshd-ip4 192.0.2.1 timeout 600', 'add f2b-fast-sshd-ip6 2001:db8::1 timeout 600'),
    );
  });

  test('an error ipset does not locate fails the batch with its stderr; retries are bounded', async () => {
    const eperm = { code: 1, stderr: 'ipset v7.17: Kernel error received: Operation not permitted\n' };
    const { run } = recorder((argv) => (argv.includes('-exist') ? eperm : undefined));
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    await rejectsWith(
      b.update({ block: [entry('192.0.2.1')], release: [] }),
      'FIREWALL_COMMAND',
      /ipset rejected the update.*1 remaining.*Operation not permitted/,
    );

    let runs = 0;
    const always = recorder((argv) => {
      if (!argv.includes('-exist')) return undefined;
      runs++;
      return { code: 1, stderr: 'ipset v7.17: Error in line 1: Kernel error received: Invalid argument\n' };
    });
    const c = new IpsetBackend({ run: always.run, services });
    await c.init([spec('sshd')]);
    const many = Array.from({ length: 20 }, (_, i) => entry(`192.0.2.${i + 1}`));
    await rejectsWith(
      c.update({ block: many, release: [] }),
      'FIREWALL_COMMAND',
      /ipset rejected the update; its 13 remaining changes.*and before that: sshd 192\.0\.2\.1/,
    );
    assert.equal(runs, 8);
  });

  test('a set removed behind our back: its entries are reported, the others applied', async () => {
    let n = 0;
    const { run, calls } = recorder((argv) =>
      argv.includes('-exist') && n++ === 0 ? { code: 1, stderr: 'ipset v7.17: Error in line 3: The set with the given name does not exist\n' } : undefined,
    );
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    calls.length = 0;
    await rejectsWith(
      b.update({ block: [entry('192.0.2.1'), entry('2001:db8::1'), entry('2001:db8::2')], release: [entry('2001:db8::3')] }),
      'FIREWALL_COMMAND',
      /3 of 4 .*2001:db8::3: f2b-fast-sshd-ip6: The set with the given name does not exist/,
    );
    assert.equal(calls[1].input, 'add f2b-fast-sshd-ip4 192.0.2.1 timeout 600\n');
  });

  test('without ip6tables: IPv4 only, IPv6 bans reported and the rest applied', async () => {
    const { run, calls } = recorder((argv) => {
      if (argv[0] === 'ip6tables') throw new F2bError('FIREWALL_UNAVAILABLE', 'ip6tables is not installed (spawn ip6tables ENOENT)');
      return undefined;
    });
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd')]);
    assert.match(b.ipv6Unavailable ?? '', /IPv6 is not filtered: ip6tables is not installed/);
    assert.deepEqual(
      calls.map((c) => c.argv.join(' ')),
      ['iptables -w -S', 'ip6tables -w -S', 'ipset list -n', 'ipset restore', 'iptables-restore -w --noflush'],
    );
    assert.doesNotMatch(calls[3].input, /inet6/);
    calls.length = 0;
    await rejectsWith(
      b.update({ block: [entry('192.0.2.1'), entry('2001:db8::1'), entry('2001:db8::/64')], release: [] }),
      'FIREWALL_COMMAND',
      /2 of 3 .*sshd 2001:db8::1: IPv6 is not filtered: ip6tables is not installed/,
    );
    assert.equal(calls[0].input, 'add f2b-fast-sshd-ip4 192.0.2.1 timeout 600\n');
    calls.length = 0;
    await b.flush();
    assert.equal(calls[0].input, script('flush f2b-fast-sshd-ip4', 'flush f2b-fast-sshd-net4'));
  });

  test('flush empties the sets of one jail or of all; close removes hook, chain and our sets', async () => {
    const { run, calls } = recorder((argv) => {
      if (argv.includes('-S')) {
        return { stdout: EMPTY_TABLE + '-N f2b-fast\n-A INPUT -j f2b-fast\n-A f2b-fast -m set --match-set f2b-fast-sshd-ip4 src -j DROP\n' };
      }
      if (argv.includes('list')) return { stdout: 'f2b-fast-sshd-ip4\nf2b-fast-web-ip6\nf2b-sshd\n' };
      return undefined;
    });
    const b = new IpsetBackend({ run, services });
    await b.init([spec('sshd'), spec('web')]);
    calls.length = 0;
    await b.flush('web');
    await b.flush();
    await rejectsWith(b.flush('nojail'), 'FIREWALL_COMMAND', /no firewall sets/);
    assert.deepEqual(calls.map((c) => c.argv.join(' ')), ['ipset restore', 'ipset restore']);
    assert.equal(calls[0].input, script(...['ip4', 'ip6', 'net4', 'net6'].map((s) => `flush f2b-fast-web-${s}`)));
    assert.equal(calls[1].input.split('\n').filter(Boolean).length, 8);
    calls.length = 0;
    await b.close();
    assert.deepEqual(
      calls.map((c) => c.argv.join(' ')),
      [
        'iptables -w -S',
        'iptables-restore -w --noflush',
        'ip6tables -w -S',
        'ip6tables-restore -w --noflush',
        'ipset list -n',
        'ipset restore',
      ],
    );
    assert.equal(calls[1].input, ipt('-D INPUT -j f2b-fast', '-F f2b-fast', '-X f2b-fast'));
    assert.equal(calls[5].input, script('destroy f2b-fast-sshd-ip4', 'destroy f2b-fast-web-ip6'));
    await rejectsWith(b.update({ block: [entry('192.0.2.1')], release: [] }), 'FIREWALL_COMMAND', /jail has no firewall sets/);
  });

  test('close on a clean host runs reads only; a failing step does not stop the others', async () => {
    const { run, calls } = recorder();
    await new IpsetBackend({ run, services }).close();
    assert.deepEqual(calls.map((c) => c.argv.join(' ')), ['iptables -w -S', 'ip6tables -w -S', 'ipset list -n']);

    const failing = recorder((argv) => {
      if (argv.includes('-S')) return { stdout: EMPTY_TABLE + '-N f2b-fast\n' };
      if (argv[0] === 'iptables-restore') return { code: 4, stderr: 'iptables-restore: line 3 failed: Too many links' };
      if (argv.includes('list')) return { stdout: 'f2b-fast-a-ip4\n' };
      return undefined;
    });
    await rejectsWith(
      new IpsetBackend({ run: failing.run, services }).close(),
      'FIREWALL_COMMAND',
      /cannot remove the iptables chain: iptables-restore exited with 4: .*Too many links/,
    );
    assert.equal(failing.calls.at(-1)?.input, 'destroy f2b-fast-a-ip4\n');
  });

  test('rules: blocktypes per family, ICMP of one family only, more than 15 ports split', async () => {
    const { run, calls } = recorder();
    const b = new IpsetBackend({ run, services, prefix: 'x' });
    await b.init([
      spec('r', { blocktype: 'REJECT --reject-with tcp-reset' }),
      spec('a', { blocktype: 'reject with icmpx type admin-prohibited' }),
      spec('i', { allports: true, protocol: 'icmp' }),
      spec('p', { port: Array.from({ length: 9 }, (_, i) => `${1000 + 10 * i}:${1001 + 10 * i}`).join(',') }),
    ]);
    const [v4, v6] = [calls.at(-2)!.input, calls.at(-1)!.input];
    assert.match(v4, /-A x -p tcp -m multiport --dports 22 -m set --match-set x-r-ip4 src -j REJECT --reject-with tcp-reset\n/);
    assert.match(v6, /-A x -p tcp -m multiport --dports 22 -m set --match-set x-r-ip6 src -j REJECT --reject-with tcp-reset\n/);
    assert.match(v4, /--match-set x-a-ip4 src -j REJECT --reject-with icmp-admin-prohibited\n/);
    assert.match(v6, /--match-set x-a-ip6 src -j REJECT --reject-with icmp6-adm-prohibited\n/);
    assert.match(v4, /-A x -p icmp -m set --match-set x-i-ip4 src /);
    assert.doesNotMatch(v6, /x-i-ip6/);
    assert.match(v4, /--dports 1000:1001,1010:1011,1020:1021,1030:1031,1040:1041,1050:1051,1060:1061 -m set --match-set x-p-ip4 /);
    assert.match(v4, /--dports 1070:1071,1080:1081 -m set --match-set x-p-ip4 /);
  });

  test('names: short and safe kept, others hashed within 31 characters and distinct', () => {
    const b = new IpsetBackend({ services });
    assert.deepEqual(b.setNames('sshd'), ['f2b-fast-sshd-ip4', 'f2b-fast-sshd-ip6', 'f2b-fast-sshd-net4', 'f2b-fast-sshd-net6']);
    const odd = ['my jail', 'my_jail', 'a b; destroy', 'apache-fakegooglebot', 'apache-modsecurity', 'ü', 'x'.repeat(100)];
    const names = odd.map((j) => b.setNames(j)[3]);
    for (const n of names) {
      assert.match(n, /^f2b-fast-[A-Za-z0-9_-]+-net6$/);
      assert.ok(n.length <= 31, n);
    }
    assert.equal(new Set(names).size, names.length);
    assert.equal(b.setNames('nginx-http-auth')[3], 'f2b-fast-nginx-http-auth-net6');
    const long = new IpsetBackend({ prefix: 'abcdefghijklmnop' });
    assert.ok(long.setNames('x'.repeat(40))[2].length <= 31);
  });

  test('bad options and jails are refused before anything runs', async () => {
    const { run, calls } = recorder();
    assert.throws(() => new IpsetBackend({ prefix: 'INPUT' }), /prefix/);
    assert.throws(() => new IpsetBackend({ prefix: 'a b' }), /prefix/);
    assert.throws(() => new IpsetBackend({ prefix: 'x'.repeat(17) }), /prefix/);
    assert.throws(() => new IpsetBackend({ maxelem: 0 }), /maxelem/);
    assert.throws(() => new IpsetBackend({ maxelem: 1.5 }), /maxelem/);
    const b = new IpsetBackend({ run, services });
    await rejectsWith(b.init([spec('ok'), spec('bad', { port: 'nope' })]), 'CONFIG_VALUE', /nope/);
    await rejectsWith(b.init([spec('a'), spec('a')]), 'CONFIG_VALUE', /twice/);
    assert.equal(calls.length, 0);
  });

  test('a missing ipset or iptables is FIREWALL_UNAVAILABLE with advice', async () => {
    await rejectsWith(
      IpsetBackend.available({ ipset: '/nonexistent/ipset' }),
      'FIREWALL_UNAVAILABLE',
      /apt-get install ipset iptables.*--dry-run/,
    );
    const b = new IpsetBackend({ iptables: '/nonexistent/iptables', services });
    await rejectsWith(b.init([spec('sshd')]), 'FIREWALL_UNAVAILABLE', /apt-get install ipset iptables/);
  });
});

describe('ipset backend in a network namespace pair', () => {
  let pair: LinkedPair | null = null;
  let skip: string | false = false;
  const runs: string[] = [];
  let exec: string[] = [];
  let run: CommandRunner;
  let backend: IpsetBackend;
  const PORT = 22;

  before(async () => {
    const avail = await netnsAvailable();
    if (!avail.ok) return void (skip = avail.reason ?? 'network namespaces unavailable');
    pair = await createLinkedPair('f2bi');
    exec = ['ip', 'netns', 'exec', pair.srv.name];
    try {
      await IpsetBackend.available({ exec });
      const v6 = await pair.srv.exec(['ip6tables', '--version']);
      if (v6.code !== 0) throw new Error(`ip6tables cannot run: ${v6.stderr.trim()}`);
    } catch (e) {
      return void (skip = (e as Error).message);
    }
    // sets must belong to the namespace: a fresh one has none. If the host's sets show here,
    // ipset is not namespaced on this kernel and nothing may run.
    const list = await pair.srv.exec(['ipset', 'list', '-n']);
    if (list.code !== 0 || list.stdout.trim() !== '') {
      const seen = `${JSON.stringify(list.stdout.slice(0, 200))} ${list.stderr.trim()}`;
      return void (skip = `ipset sets are not per network namespace here (a fresh namespace lists: ${seen}): refusing to run`);
    }
    const real = spawnRunner(30_000);
    run = (argv, input) => {
      runs.push(argv.slice(exec.length).join(' '));
      return real(argv, input);
    };
    backend = new IpsetBackend({ exec, run });
    await startTcpServer(pair.srv, PORT);
  });

  after(async () => {
    await pair?.destroy();
  });

  const sh = async (...argv: string[]) => {
    const r = await pair!.srv.exec(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** members of a set as 'addr timeout N' */
  const members = async (set: string): Promise<string[]> => {
    const out = await sh('ipset', 'list', set);
    return out.slice(out.indexOf('Members:\n') + 9).split('\n').filter(Boolean).sort();
  };
  const count = async (set: string): Promise<number> =>
    Number(/Number of entries: (\d+)/.exec(await sh('ipset', 'list', '-terse', set))?.[1]);
  const connect = (localAddress: string, host = pair!.addr.srv, timeoutMs = 1500) =>
    tryConnect(pair!.cli, { host, port: PORT, localAddress, timeoutMs });

  const jails: FirewallJailSpec[] = [
    spec('sshd'),
    spec('web', { port: 'http,https' }),
    spec('dropper', { blocktype: 'drop' }),
    spec('every thing', { allports: true, protocol: 'all' }),
  ];

  test('init creates our sets, chain and hook only; init again does not double them', async (t) => {
    if (skip) return t.skip(skip);
    await backend.init(jails);
    for (const fam of ['iptables', 'ip6tables']) {
      const rules = await sh(fam, '-w', '-S');
      assert.equal(rules.match(/^-A INPUT -j f2b-fast$/gm)?.length, 1, rules);
      const n = fam === 'iptables' ? 4 : 6;
      const reject = `REJECT --reject-with icmp${n === 4 ? '' : '6'}-port-unreachable`;
      const rule = (ports: string, set: string) =>
        new RegExp(`^-A f2b-fast -p tcp -m multiport --dports ${ports} -m set --match-set f2b-fast-${set}${n} src -j ${reject}$`, 'm');
      assert.match(rules, rule('22', 'sshd-ip'));
      assert.match(rules, rule('80,443', 'web-net'));
      assert.match(rules, new RegExp(`--match-set f2b-fast-dropper-ip${n} src -j DROP$`, 'm'));
      assert.equal(rules.match(/^-A f2b-fast /gm)?.length, 8);
    }
    const header = await sh('ipset', 'list', '-terse', 'f2b-fast-sshd-ip6');
    assert.match(header, /Type: hash:ip\n/);
    assert.match(header, /family inet6 .*maxelem 1048576 timeout 0/);
    assert.match(await sh('ipset', 'list', '-terse', 'f2b-fast-sshd-net4'), /Type: hash:net\n/);
    assert.equal((await sh('ipset', 'list', '-n')).split('\n').filter(Boolean).length, 16);
    await backend.init(jails);
    assert.equal((await sh('iptables', '-w', '-S')).match(/^-A f2b-fast /gm)?.length, 8);
    assert.equal((await sh('ipset', 'list', '-n')).split('\n').filter(Boolean).length, 16);
  });

  test('a banned IPv4 address is refused, the bystander still connects; release lets it back', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander } = pair!.addr;
    assert.equal(await connect(attacker), 'connected');
    await backend.update({ block: [entry(attacker), entry(bystander, 600, 'web')], release: [] });
    assert.equal(await connect(attacker), 'refused');
    assert.equal(await connect(bystander), 'connected'); // banned for other ports only
    await backend.update({ block: [], release: [entry(attacker), entry(bystander, 600, 'web')] });
    assert.equal(await connect(attacker), 'connected');
    assert.deepEqual(await members('f2b-fast-sshd-ip4'), []);
  });

  test('IPv6 address and subnet bans, IPv4 subnet bans', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander, srv6, attacker6, bystander6 } = pair!.addr;
    assert.equal(await connect(attacker6, srv6), 'connected');
    await backend.update({ block: [entry(attacker6), entry('192.0.2.8/29', null)], release: [] });
    assert.equal(await connect(attacker6, srv6), 'refused');
    assert.equal(await connect(bystander6, srv6), 'connected');
    assert.equal(await connect(attacker), 'refused'); // .10 is in .8/29
    assert.equal(await connect(bystander), 'connected');
    assert.deepEqual(await members('f2b-fast-sshd-net4'), ['192.0.2.8/29 timeout 0']);
    await backend.update({ block: [entry('2001:db8::/120', 600)], release: [entry(attacker6), entry('192.0.2.8/29')] });
    assert.equal(await connect(bystander6, srv6), 'refused'); // ::20 is in ::/120
    assert.equal(await connect(attacker), 'connected');
    await backend.update({ block: [], release: [entry('2001:db8::/120')] });
    assert.equal(await connect(attacker6, srv6), 'connected');
    assert.equal(await connect(bystander6, srv6), 'connected');
  });

  test('blocktype drop: the connection times out; allports with protocol all', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, bystander } = pair!.addr;
    await backend.update({ block: [entry(attacker, 600, 'dropper'), entry(bystander, 600, 'every thing')], release: [] });
    assert.equal(await connect(attacker, pair!.addr.srv, 1000), 'timeout');
    assert.equal(await connect(bystander), 'refused');
    await backend.flush('dropper');
    assert.equal(await connect(attacker), 'connected');
    assert.equal(await connect(bystander), 'refused');
    await backend.flush();
    assert.equal(await connect(bystander), 'connected');
  });

  test('the kernel expires a ban with a timeout by itself', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker, srv6, attacker6 } = pair!.addr;
    await backend.update({ block: [entry(attacker, 2), entry(attacker6, 2)], release: [] });
    assert.equal(await connect(attacker), 'refused');
    assert.equal(await connect(attacker6, srv6), 'refused');
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 200));
      gone = (await members('f2b-fast-sshd-ip4')).length === 0 && (await members('f2b-fast-sshd-ip6')).length === 0;
    }
    assert.ok(gone, 'the bans did not expire within 8 s');
    assert.equal(await connect(attacker), 'connected');
    assert.equal(await connect(attacker6, srv6), 'connected');
    // releasing what the kernel expired is no error
    await backend.update({ block: [], release: [entry(attacker), entry(attacker6)] });
  });

  test('a re-ban replaces the timeout, both ways; a permanent ban is timeout 0', async (t) => {
    if (skip) return t.skip(skip);
    await backend.update({ block: [entry('198.18.1.1', 100)], release: [] });
    await backend.update({ block: [entry('198.18.1.1', 5000)], release: [] });
    assert.match((await members('f2b-fast-sshd-ip4'))[0], /^198\.18\.1\.1 timeout (4999|5000)$/);
    await backend.update({ block: [entry('198.18.1.1', null)], release: [] });
    assert.deepEqual(await members('f2b-fast-sshd-ip4'), ['198.18.1.1 timeout 0']);
    await backend.update({ block: [entry('198.18.1.1', 30)], release: [] });
    assert.match((await members('f2b-fast-sshd-ip4'))[0], /^198\.18\.1\.1 timeout (29|30)$/);
    await backend.flush();
  });

  test('10,000 addresses in one update: one ipset restore, all in the set; 10,000 releases likewise', async (t) => {
    if (skip) return t.skip(skip);
    const ips = Array.from({ length: 10_000 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    const before = runs.length;
    let started = performance.now();
    await backend.update({ block: ips.map((ip, i) => entry(ip, i % 2 ? 600 : null)), release: [] });
    const blockMs = performance.now() - started;
    assert.deepEqual(runs.slice(before), ['ipset restore -exist']);
    assert.equal(await count('f2b-fast-sshd-ip4'), 10_000);
    started = performance.now();
    await backend.update({ block: [], release: ips.map((ip) => entry(ip)) });
    const releaseMs = performance.now() - started;
    assert.equal(runs.length - before, 2);
    assert.equal(await count('f2b-fast-sshd-ip4'), 0);
    t.diagnostic(`10,000 blocks: ${blockMs.toFixed(0)} ms; 10,000 releases: ${releaseMs.toFixed(0)} ms`);
  });

  test('restart over leftovers: a new backend replaces sets, rules and hook', async (t) => {
    if (skip) return t.skip(skip);
    const { attacker } = pair!.addr;
    await backend.update({ block: [entry(attacker, null), entry('198.18.0.1', 600, 'dropper')], release: [] });
    // what a crash may leave besides: a second jump to our chain
    await sh('iptables', '-w', '-I', 'INPUT', '1', '-j', 'f2b-fast');
    const fresh = new IpsetBackend({ exec, run, maxelem: 70_000 });
    await fresh.init([spec('sshd'), spec('web', { port: 'http,https' })]);
    const rules = await sh('iptables', '-w', '-S');
    assert.equal(rules.match(/^-A INPUT -j f2b-fast$/gm)?.length, 1, rules);
    assert.equal(rules.match(/^-A f2b-fast /gm)?.length, 4, rules);
    assert.doesNotMatch(rules, /dropper/);
    const sets = (await sh('ipset', 'list', '-n')).split('\n').filter(Boolean).sort();
    assert.deepEqual(sets, fresh.setNames('sshd').concat(fresh.setNames('web')).sort());
    assert.match(await sh('ipset', 'list', '-terse', 'f2b-fast-sshd-ip4'), /maxelem 70000 .*\n[^]*Number of entries: 0/);
    assert.equal(await connect(attacker), 'connected'); // the daemon restores its bans; the old sets are gone
    await fresh.update({ block: [entry(attacker)], release: [] });
    assert.equal(await connect(attacker), 'refused');
    backend = fresh;
  });

  test('a full set: what fits is applied, the rest reported; set up again, the sets are twice as large and take them all', async (t) => {
    if (skip) return t.skip(skip);
    const small = new IpsetBackend({ exec, run, prefix: 'f2bsmall', maxelem: 4 });
    try {
      await small.init([spec('sshd')]);
      const ips = Array.from({ length: 6 }, (_, i) => entry(`198.18.3.${i + 1}`));
      await rejectsWith(
        small.update({ block: [...ips, entry('2001:db8::99')], release: [] }),
        'FIREWALL_COMMAND',
        /2 of 7 .*198\.18\.3\.5: set f2bsmall-sshd-ip4 is full.*maxelem 4: the sets are created with maxelem 8 when set up again/,
      );
      assert.equal(await count('f2bsmall-sshd-ip4'), 4);
      assert.equal(await count('f2bsmall-sshd-ip6'), 1);
      // re-banning what is in (new timeouts) still works on the full set
      await small.update({ block: ips.slice(0, 4).map((e) => ({ ...e, timeout: null })), release: [] });
      assert.equal((await members('f2bsmall-sshd-ip4')).filter((m) => m.endsWith(' timeout 0')).length, 4);
      // the daemon's repair: set up again (maxelem 8 now), every ban in one update
      await small.init([spec('sshd')]);
      assert.match(await sh('ipset', 'list', '-terse', 'f2bsmall-sshd-ip4'), /maxelem 8 /);
      await small.update({ block: [...ips, entry('2001:db8::99')], release: [], unique: true });
      assert.equal(await count('f2bsmall-sshd-ip4'), 6);
      assert.deepEqual(await small.check(), []);
    } finally {
      await small.close();
    }
    assert.doesNotMatch(await sh('iptables', '-w', '-S'), /f2bsmall/);
  });

  test('check: [] when whole; a set destroyed, the chain flushed or unhooked by hand is named', async (t) => {
    if (skip) return t.skip(skip);
    const b = new IpsetBackend({ exec, run, prefix: 'f2bchk' });
    try {
      await b.init([spec('sshd')]);
      assert.deepEqual(await b.check(), []);
      await sh('iptables', '-w', '-F', 'f2bchk');
      assert.deepEqual(await b.check(), ['iptables chain f2bchk has 0 of its 2 rules']);
      await sh('ipset', 'destroy', 'f2bchk-sshd-ip4');
      await sh('iptables', '-w', '-D', 'INPUT', '-j', 'f2bchk');
      assert.deepEqual(await b.check(), ['ipset f2bchk-sshd-ip4 is missing', 'iptables INPUT no longer jumps to chain f2bchk', 'iptables chain f2bchk has 0 of its 2 rules']);
      await b.init([spec('sshd')]);
      assert.deepEqual(await b.check(), []);
    } finally {
      await b.close();
    }
  });

  test('leftover: a new backend reads the addresses, subnets and permanent bans an earlier one left, with the seconds they have left; init then replaces them', async (t) => {
    if (skip) return t.skip(skip);
    const jails = [spec('sshd'), spec('web.a b', { port: 'http' })];
    const first = new IpsetBackend({ exec, run, prefix: 'f2bleft' });
    const second = new IpsetBackend({ exec, run, prefix: 'f2bleft' });
    try {
      await first.init(jails);
      await first.update({
        block: [entry('192.0.2.1', 3600), entry('2001:db8::1', 600), entry('198.51.100.0/24', 300), entry('192.0.2.2', null), entry('203.0.113.5', 120, 'web.a b')],
        release: [],
      });
      // another run (a start after SIGKILL): nothing of the first one's memory
      const left = (await second.leftover(jails)).sort((a, b) => (a.ip < b.ip ? -1 : 1));
      assert.deepEqual(left.map((l) => [l.jail, l.ip, l.timeout]), [
        ['sshd', '192.0.2.1', null],
        ['sshd', '192.0.2.2', null],
        ['sshd', '198.51.100.0/24', null],
        ['sshd', '2001:db8::1', null],
        ['web.a b', '203.0.113.5', null],
      ]);
      // what is left of each (ipset keeps no more); the permanent one: null
      const want: Record<string, number | null> = { '192.0.2.1': 3600, '192.0.2.2': null, '198.51.100.0/24': 300, '2001:db8::1': 600, '203.0.113.5': 120 };
      for (const l of left) {
        const w = want[l.ip];
        if (w === null) assert.equal(l.expires, null);
        else assert.ok(l.expires! > w - 30 && l.expires! <= w, JSON.stringify(l));
      }
      // a jail not asked about is not read
      assert.deepEqual(await second.leftover([spec('other')]), []);
      await second.init(jails);
      assert.deepEqual(await second.leftover(jails), []);
    } finally {
      await second.close();
    }
    // no sets: nothing
    assert.deepEqual(await new IpsetBackend({ exec, run, prefix: 'f2bleft' }).leftover(jails), []);
  });

  test('without ip6tables: IPv4 bans work, IPv6 bans are reported', async (t) => {
    if (skip) return t.skip(skip);
    const v4only = new IpsetBackend({ exec, run, prefix: 'f2bv4', ip6tables: '/nonexistent/ip6tables' });
    const { srv6, attacker6, bystander } = pair!.addr;
    try {
      await v4only.init([spec('sshd')]);
      assert.match(v4only.ipv6Unavailable ?? '', /IPv6 is not filtered/);
      await rejectsWith(
        v4only.update({ block: [entry(bystander), entry(attacker6)], release: [] }),
        'FIREWALL_COMMAND',
        /1 of 2 .*2001:db8::10: IPv6 is not filtered/,
      );
      assert.equal(await connect(bystander), 'refused');
      assert.equal(await connect(attacker6, srv6), 'connected');
    } finally {
      await v4only.close();
    }
    assert.equal(await connect(bystander), 'connected');
    assert.doesNotMatch((await sh('ipset', 'list', '-n')), /f2bv4/);
  });

  test('close() removes hook, chain and sets, and again is harmless', async (t) => {
    if (skip) return t.skip(skip);
    assert.equal(await connect(pair!.addr.attacker), 'refused');
    await backend.close();
    await backend.close();
    for (const fam of ['iptables', 'ip6tables']) assert.doesNotMatch(await sh(fam, '-w', '-S'), /f2b/);
    assert.equal((await sh('ipset', 'list', '-n')).trim(), '');
    assert.equal(await connect(pair!.addr.attacker), 'connected');
  });
});
