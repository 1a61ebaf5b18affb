// pf backend, without a BSD machine: a recording stand-in for pfctl (a small executable script in
// a temporary folder, passed as the `pfctl` option) appends each call's argv and stdin to a file,
// and the tests check the exact commands. Nothing here touches a real firewall.

import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F2bError } from '../src/errors';
import type { FirewallEntry } from '../src/types';
import type { FirewallJailSpec } from '../src/firewall/backend';
import { FirewallBatcher } from '../src/firewall/batcher';
import type { CommandRunner } from '../src/firewall/command';
import type { ServiceTable } from '../src/firewall/jailspec';
import { PF_TABLE_NAME_MAX, PfBackend, pfTableName, type PfOptions } from '../src/firewall/pf';
import { tmpDir } from './helpers/tmp';
import { rejectsWith } from './helpers/firewall';

const services: ServiceTable = new Map([
  ['ssh', new Map([['tcp', 22]])],
  ['http', new Map([['tcp', 80]])],
  ['https', new Map([['tcp', 443], ['udp', 443]])],
  ['smtp', new Map([['tcp', 25]])],
]);

const spec = (jail: string, more: Partial<FirewallJailSpec> = {}): FirewallJailSpec => ({
  jail,
  port: 'ssh',
  protocol: 'tcp',
  allports: false,
  ...more,
});
const entry = (ip: string, jail = 'sshd', timeout: number | null = 600): FirewallEntry => ({ jail, ip, timeout });

interface Call {
  argv: string[];
  stdin: string;
}

/**
 * Writes an executable stand-in for pfctl that records every call. With `fail`, calls whose argv
 * (joined by spaces) contains `fail.when` print `fail.stderr` and exit with `fail.code` (default 1).
 */
function standIn(t: TestContext, fail?: { when: string; stderr: string; code?: number }) {
  const dir = tmpDir(t, 'f2b-fast-pf-');
  const record = path.join(dir, 'calls.jsonl');
  const pfctl = path.join(dir, 'pfctl');
  const source = `#!${process.execPath}
const fs = require('node:fs');
const argv = process.argv.slice(2);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ argv, stdin: Buffer.concat(chunks).toString('utf8') }) + '\\n');
  const fail = ${JSON.stringify(fail ?? null)};
  if (fail && argv.join(' ').includes(fail.when)) {
    process.stderr.write(fail.stderr);
    process.exit(fail.code ?? 1);
  }
  if (argv.join(' ') === '-s info') process.stdout.write('Status: Enabled for 0 days 01:02:03           Debug: Urgent\\n\\nState Table                          Total             Rate\\n');
});
`;
  fs.writeFileSync(pfctl, source, { mode: 0o755 });
  const calls = (): Call[] =>
    fs.existsSync(record) ? fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Call) : [];
  return { pfctl, calls };
}

/** A CommandRunner that records calls in memory and answers from a list (default: success). */
function recorder(answers: { code: number; stdout?: string; stderr?: string }[] = []) {
  const calls: Call[] = [];
  const run: CommandRunner = async (argv, input) => {
    calls.push({ argv: [...argv], stdin: input });
    const a = answers.shift() ?? { code: 0 };
    return { code: a.code, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  };
  return { run, calls };
}

const LOAD = ['-q', '-a', 'f2b-fast', '-f', '-'];
const table = (name: string, verb: string, withStdin = true) =>
  ['-q', '-a', 'f2b-fast', '-t', name, '-T', verb, ...(withStdin ? ['-f', '-'] : [])];

/** Two jails as in the brief: sshd (default blocktype) and web (two protocols, a list, drop). */
const twoJails = [spec('sshd'), spec('web', { port: 'http,https,8000:8080', protocol: 'tcp,udp', blocktype: 'drop' })];

describe('pf backend through a recording pfctl stand-in', () => {
  test('init: one pfctl -f - into our anchor, a table and a rule per jail', async (t) => {
    const { pfctl, calls } = standIn(t);
    const b = new PfBackend({ pfctl, services });
    await b.init([
      ...twoJails,
      spec('recidive', { allports: true, protocol: 'all', blocktype: 'reject' }),
      spec('postfix', { allports: true, protocol: 'tcp', blocktype: 'REJECT --reject-with tcp-reset' }),
    ]);
    assert.deepEqual(calls(), [
      {
        argv: LOAD,
        stdin: [
          'table <f2b-fast-sshd> { }',
          'table <f2b-fast-web> { }',
          'table <f2b-fast-recidive> { }',
          'table <f2b-fast-postfix> { }',
          // no blocktype configured: plain `block`, pf's block-policy decides (fail2ban's pf action)
          'block in quick proto tcp from <f2b-fast-sshd> to any port 22',
          'block drop in quick proto { tcp, udp } from <f2b-fast-web> to any port { 80, 443, 8000:8080 }',
          'block return in quick from <f2b-fast-recidive> to any',
          'block return-rst in quick proto tcp from <f2b-fast-postfix> to any',
          '',
        ].join('\n'),
      },
    ]);
  });

  test('one tick: exactly one delete and one add per jail touched, IPv4 and IPv6 in one table', async (t) => {
    const { pfctl, calls } = standIn(t);
    const b = new PfBackend({ pfctl, services });
    await b.init([...twoJails, spec('idle')]);
    await b.update({
      block: [
        entry('192.0.2.10'),
        entry('2001:DB8:0::10', 'sshd', null),
        entry('198.51.100.77/24'),
        entry('::ffff:192.0.2.11', 'sshd', 1e9), // no per-entry timeouts in pf: ignored
        entry('203.0.113.5', 'web'),
        entry('2001:db8::5', 'web'),
      ],
      release: [entry('192.0.2.99'), entry('2001:db8::99'), entry('192.0.2.10')], // .10: released, then blocked
    });
    assert.deepEqual(calls().slice(1), [
      { argv: table('f2b-fast-sshd', 'delete'), stdin: '192.0.2.99\n2001:db8::99\n' },
      { argv: table('f2b-fast-sshd', 'add'), stdin: '192.0.2.10\n2001:db8::10\n198.51.100.0/24\n192.0.2.11\n' },
      { argv: table('f2b-fast-web', 'add'), stdin: '203.0.113.5\n2001:db8::5\n' },
    ]);
    await b.update({ block: [], release: [] });
    assert.equal(calls().length, 4);
  });

  test('entries that are not addresses, or of unknown jails, never reach pfctl and are reported after the rest', async (t) => {
    const { pfctl, calls } = standIn(t);
    const b = new PfBackend({ pfctl, services });
    await b.init(twoJails);
    await rejectsWith(
      b.update({ block: [entry('1.2.3.4\n0.0.0.0/0'), entry('192.0.2.10'), entry('192.0.2.11', 'nojail')], release: [entry('::/0', 'web')] }),
      'FIREWALL_COMMAND',
      /3 of 4 firewall changes were not applied \(the others were\): web "::\/0": not an IPv4\/IPv6.*sshd "1\.2\.3\.4\\n0\.0\.0\.0\/0": not an IPv4\/IPv6.*nojail 192\.0\.2\.11: jail has no pf table/,
    );
    assert.deepEqual(calls().slice(1), [{ argv: table('f2b-fast-sshd', 'add'), stdin: '192.0.2.10\n' }]);
  });

  test('flush: one -T flush per table; an unknown jail is an error', async (t) => {
    const { pfctl, calls } = standIn(t);
    const b = new PfBackend({ pfctl, services });
    await b.init(twoJails);
    await b.flush('web');
    await b.flush();
    await rejectsWith(b.flush('nojail'), 'FIREWALL_COMMAND', /no pf table/);
    assert.deepEqual(calls().slice(1), [
      { argv: table('f2b-fast-web', 'flush', false), stdin: '' },
      { argv: table('f2b-fast-sshd', 'flush', false), stdin: '' },
      { argv: table('f2b-fast-web', 'flush', false), stdin: '' },
    ]);
  });

  test('close: one -F all of our anchor (its rules and tables); again is harmless; the jails are gone', async (t) => {
    const { pfctl, calls } = standIn(t);
    const b = new PfBackend({ pfctl, services });
    await b.init(twoJails);
    await b.close();
    await b.close();
    const flushAll = { argv: ['-q', '-a', 'f2b-fast', '-F', 'all'], stdin: '' };
    assert.deepEqual(calls().slice(1), [flushAll, flushAll]);
    await rejectsWith(b.update({ block: [entry('192.0.2.1')], release: [] }), 'FIREWALL_COMMAND', /jail has no pf table/);
    assert.equal(calls().length, 3);
  });

  test("pfctl's errors are FIREWALL_COMMAND errors carrying its stderr", async (t) => {
    const stderr = 'stdin:5: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n';
    const failing = standIn(t, { when: '-f -', stderr });
    const b = new PfBackend({ pfctl: failing.pfctl, services });
    await rejectsWith(
      b.init(twoJails),
      'FIREWALL_COMMAND',
      /^cannot load the pf rules into anchor 'f2b-fast': pfctl exited with 1: stdin:5: syntax error \| pfctl: Syntax error in config file/,
    );
    // a failed init leaves no jails behind
    await rejectsWith(b.update({ block: [entry('192.0.2.1')], release: [] }), 'FIREWALL_COMMAND', /jail has no pf table/);
    assert.equal(failing.calls().length, 1);

    const closing = standIn(t, { when: '-F all', stderr: 'pfctl: /dev/pf: Permission denied\n' });
    await rejectsWith(new PfBackend({ pfctl: closing.pfctl }).close(), 'FIREWALL_COMMAND', /cannot remove the pf anchor 'f2b-fast': .*Permission denied/);
  });

  test('a table command that fails sinks only its own entries; the other jails are applied', async (t) => {
    const { pfctl, calls } = standIn(t, { when: '-t f2b-fast-sshd', stderr: 'pfctl: Table does not exist.\n' });
    const b = new PfBackend({ pfctl, services });
    await b.init(twoJails);
    await rejectsWith(
      b.update({ block: [entry('192.0.2.1'), entry('192.0.2.2'), entry('192.0.2.3', 'web')], release: [entry('192.0.2.4')] }),
      'FIREWALL_COMMAND',
      /^3 of 4 firewall changes were not applied \(the others were\): sshd: delete of 1 \(192\.0\.2\.4\): pfctl exited with 1: pfctl: Table does not exist\.; sshd: add of 2 \(192\.0\.2\.1, 192\.0\.2\.2\): pfctl exited with 1: pfctl: Table does not exist\.$/,
    );
    assert.deepEqual(calls().slice(1), [
      { argv: table('f2b-fast-sshd', 'delete'), stdin: '192.0.2.4\n' },
      { argv: table('f2b-fast-sshd', 'add'), stdin: '192.0.2.1\n192.0.2.2\n' },
      { argv: table('f2b-fast-web', 'add'), stdin: '192.0.2.3\n' },
    ]);
    // flush goes on with the other tables too, then reports
    await rejectsWith(b.flush(), 'FIREWALL_COMMAND', /^cannot flush: sshd: pfctl exited with 1: pfctl: Table does not exist\.$/);
    assert.deepEqual(calls().slice(-1), [{ argv: table('f2b-fast-web', 'flush', false), stdin: '' }]);
  });

  test("available() answers pf's status line; a missing pfctl is FIREWALL_UNAVAILABLE", async (t) => {
    const { pfctl, calls } = standIn(t);
    assert.equal(await PfBackend.available({ pfctl }), 'Status: Enabled for 0 days 01:02:03           Debug: Urgent');
    assert.deepEqual(calls(), [{ argv: ['-s', 'info'], stdin: '' }]);

    const denied = standIn(t, { when: '-s info', stderr: 'pfctl: /dev/pf: Permission denied\n' });
    await rejectsWith(PfBackend.available({ pfctl: denied.pfctl }), 'FIREWALL_UNAVAILABLE', /pf \(pfctl\) is not available.*--dry-run.*Permission denied/);
    await rejectsWith(PfBackend.available({ pfctl: '/nonexistent/pfctl' }), 'FIREWALL_UNAVAILABLE', /pf \(pfctl\) is not available/);
    const b = new PfBackend({ pfctl: '/nonexistent/pfctl', services });
    await rejectsWith(b.init(twoJails), 'FIREWALL_UNAVAILABLE', /pf \(pfctl\) is not available.*not installed/);
  });
});

describe('pf backend with a recording runner', () => {
  const rulesOf = async (specs: FirewallJailSpec[], opts: PfOptions = {}) => {
    const { run, calls } = recorder();
    await new PfBackend({ run, services, ...opts }).init(specs);
    assert.equal(calls.length, 1);
    return calls[0].stdin.split('\n').filter((l) => l.startsWith('block'));
  };

  test('exec prefix, anchor and table prefix options', async () => {
    const { run, calls } = recorder();
    const b = new PfBackend({ run, services, exec: ['doas'], anchor: 'fw/f2b', tablePrefix: 'ban-' });
    await b.init([spec('sshd')]);
    await b.update({ block: [entry('192.0.2.1')], release: [] });
    await b.close();
    assert.deepEqual(calls, [
      {
        argv: ['doas', 'pfctl', '-q', '-a', 'fw/f2b', '-f', '-'],
        stdin: 'table <ban-sshd> { }\nblock in quick proto tcp from <ban-sshd> to any port 22\n',
      },
      { argv: ['doas', 'pfctl', '-q', '-a', 'fw/f2b', '-t', 'ban-sshd', '-T', 'add', '-f', '-'], stdin: '192.0.2.1\n' },
      { argv: ['doas', 'pfctl', '-q', '-a', 'fw/f2b', '-F', 'all'], stdin: '' },
    ]);
  });

  test('anchors that are empty, reserved or not plain names are refused (-F all without one would flush everything)', () => {
    for (const anchor of ['', '/', 'f2b//x', '_f2b', 'f2b/_x', 'f2b fast', 'f2b/*', 'a"b', 'x'.repeat(64)]) {
      assert.throws(() => new PfBackend({ anchor }), /pf anchor/, JSON.stringify(anchor));
    }
    for (const tablePrefix of ['-x', 'a b', '<x>', 'x'.repeat(21)]) {
      assert.throws(() => new PfBackend({ tablePrefix }), /table prefix/, tablePrefix);
    }
    assert.equal(new PfBackend({ anchor: 'fw/f2b-fast_1' }).anchor, 'fw/f2b-fast_1');
    assert.equal(new PfBackend({ tablePrefix: '' }).tablePrefix, '');
  });

  test('table names: safe names kept, others made safe and distinct, never longer than pf allows', () => {
    assert.equal(pfTableName('sshd'), 'f2b-fast-sshd');
    assert.equal(pfTableName('nginx-http-auth'), 'f2b-fast-nginx-http-auth');
    assert.equal(pfTableName('sshd', 'f2b-'), 'f2b-sshd'); // fail2ban's own names
    const odd = ['my jail', 'my_jail', 'a> to any', 'jail.d', 'ü', 'x'.repeat(22), 'x'.repeat(23), 'x'.repeat(100), 'x'.repeat(101)];
    const names = odd.map((j) => pfTableName(j));
    for (const n of names) {
      assert.match(n, /^f2b-fast-[A-Za-z0-9_-]+$/);
      assert.ok(n.length <= PF_TABLE_NAME_MAX, n);
    }
    assert.equal(new Set(names).size, names.length);
    assert.equal(pfTableName('x'.repeat(22)), `f2b-fast-${'x'.repeat(22)}`);
    assert.ok(pfTableName('y'.repeat(40), 'p'.repeat(20)).length <= PF_TABLE_NAME_MAX);
  });

  test("blocktypes: nft's and iptables' words, and pf's own", async () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'block in quick'],
      ['', 'block in quick'],
      ['reject', 'block return in quick'],
      // iptables' ICMP types keep their ICMP answer (plain `return` sends a TCP RST)
      ['REJECT --reject-with icmp-port-unreachable', 'block return-icmp (port-unr, port-unr) in quick'],
      ['REJECT --reject-with icmp-host-prohibited', 'block return-icmp (filter-prohib, admin-unr) in quick'],
      ['return', 'block return in quick'],
      ['drop', 'block drop in quick'],
      ['DROP', 'block drop in quick'],
      ['reject with tcp reset', 'block return-rst in quick'],
      ['return-rst', 'block return-rst in quick'],
      ['return-icmp', 'block return in quick'],
      ['reject with icmpx type admin-prohibited', 'block return-icmp (filter-prohib, admin-unr) in quick'],
      ['reject with icmpx type port-unreachable', 'block return-icmp (port-unr, port-unr) in quick'],
    ];
    for (const [blocktype, want] of cases) {
      const [rule] = await rulesOf([spec('sshd', { blocktype })]);
      assert.equal(rule, `${want} proto tcp from <f2b-fast-sshd> to any port 22`, String(blocktype));
    }
  });

  test('ports, protocols and allports in pf syntax', async () => {
    assert.deepEqual(
      await rulesOf([
        spec('a', { port: '0:65535' }),
        spec('b', { port: 'smtp,465,587' }),
        spec('c', { port: 'https', protocol: 'udp' }),
        spec('d', { allports: true, protocol: 'icmp,ipv6-icmp', blocktype: 'drop' }),
        spec('e', { port: '5060', protocol: 'sctp' }),
      ]),
      [
        'block in quick proto tcp from <f2b-fast-a> to any port 0:65535',
        'block in quick proto tcp from <f2b-fast-b> to any port { 25, 465, 587 }',
        'block in quick proto udp from <f2b-fast-c> to any port 443',
        'block drop in quick proto { icmp, ipv6-icmp } from <f2b-fast-d> to any',
        'block in quick proto sctp from <f2b-fast-e> to any port 5060',
      ],
    );
  });

  test('bad jails are CONFIG_VALUE errors naming the jail, before any command runs', async () => {
    const { run, calls } = recorder();
    const b = new PfBackend({ run, services });
    const bad: [FirewallJailSpec[], RegExp][] = [
      [[spec('x', { protocol: 'dccp' })], /pf matches no ports of protocol 'dccp'/],
      [[spec('x', { protocol: 'tcp,udplite' })], /no ports of protocol 'udplite'/],
      [[spec('x', { blocktype: 'accept' })], /blocktype 'accept' does not block/],
      [[spec('x', { blocktype: 'return-rst', protocol: 'udp' })], /tcp alone/],
      [[spec('x', { port: 'nosuch' })], /unknown service name/],
      [[spec('x'), spec('x')], /jail given twice/],
      [[spec('a b'), spec(pfTableName('a b').slice('f2b-fast-'.length))], /pf table names collide with jail 'a b'/],
    ];
    for (const [specs, re] of bad) {
      await assert.rejects(
        b.init(specs),
        (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && e.jail === specs[specs.length - 1].jail && re.test(e.message),
        re.source,
      );
    }
    assert.equal(calls.length, 0);
    // allports takes any protocol
    await b.init([spec('x', { protocol: 'dccp', allports: true })]);
    assert.match(calls[0].stdin, /block in quick proto dccp from <f2b-fast-x> to any\n/);
  });

  test("check: one pfctl -s rules of the anchor; a jail whose rule is gone is named; pfctl's error is FIREWALL_COMMAND", async () => {
    // what pfctl prints for the rules init loaded (it shows them as it parsed them)
    const listed = [
      'block drop in quick proto tcp from <f2b-fast-sshd> to any port = 22',
      'block drop in quick proto tcp from <f2b-fast-web> to any port = 80',
      'block drop in quick proto udp from <f2b-fast-web> to any port 8000:8080',
      '',
    ].join('\n');
    const { run, calls } = recorder([
      { code: 0 }, // init
      { code: 0, stdout: listed },
      { code: 0, stdout: listed.split('\n').filter((l) => !l.includes('web')).join('\n') },
      // flushed by hand: nothing left (a table name that merely starts with ours does not count)
      { code: 0, stdout: 'block drop in quick from <f2b-fast-sshd2> to any\n' },
      { code: 1, stderr: 'pfctl: /dev/pf: Permission denied\n' },
    ]);
    const b = new PfBackend({ run, services });
    assert.deepEqual(await b.check(), [], 'no jails yet: nothing to check, no command');
    assert.equal(calls.length, 0);
    await b.init(twoJails);
    assert.deepEqual(await b.check(), []);
    assert.deepEqual(calls[1], { argv: ['pfctl', '-q', '-a', 'f2b-fast', '-s', 'rules'], stdin: '' });
    assert.deepEqual(await b.check(), ["pf anchor 'f2b-fast' has no rule for table <f2b-fast-web> (jail web)"]);
    assert.deepEqual(await b.check(), [
      "pf anchor 'f2b-fast' has no rule for table <f2b-fast-sshd> (jail sshd)",
      "pf anchor 'f2b-fast' has no rule for table <f2b-fast-web> (jail web)",
    ]);
    await rejectsWith(b.check(), 'FIREWALL_COMMAND', /^cannot list the pf rules of anchor 'f2b-fast': pfctl exited with 1: pfctl: \/dev\/pf: Permission denied/);
  });

  test('through the batcher: a burst is one pfctl per jail and verb', async () => {
    const { run, calls } = recorder();
    const b = new PfBackend({ run, services });
    await b.init(twoJails);
    const batcher = new FirewallBatcher(b, { log: () => {} });
    for (let i = 0; i < 300; i++) batcher.block(entry(`198.18.${i >> 8}.${i & 255}`, i % 2 ? 'sshd' : 'web'));
    for (let i = 0; i < 10; i++) batcher.release(entry(`198.19.0.${i}`));
    batcher.release(entry('198.18.0.1')); // a later release of a blocked address wins
    await batcher.flushNow();
    assert.deepEqual(
      calls.slice(1).map((c) => [c.argv[5], c.argv[7], c.stdin.split('\n').length - 1]),
      [
        ['f2b-fast-sshd', 'delete', 11],
        ['f2b-fast-sshd', 'add', 149],
        ['f2b-fast-web', 'add', 150],
      ],
    );
  });
});
