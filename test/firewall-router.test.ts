// The firewall router: each jail's entries go to the backend its banaction names, one update per
// backend per tick, backends nobody needs any more closed, every backend's errors reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirewallRouter } from '../src/firewall/router';
import type { BackendKind, FirewallBackend, FirewallJailSpec } from '../src/firewall/backend';
import type { FirewallChanges } from '../src/types';
import { F2bError } from '../src/errors';

class Recorder implements FirewallBackend {
  readonly calls: string[] = [];
  fail?: string;
  constructor(readonly name: string) {}
  async init(jails: FirewallJailSpec[]): Promise<void> {
    this.calls.push(`init ${jails.map((j) => j.jail).join(',')}`);
  }
  async update(c: FirewallChanges): Promise<void> {
    this.calls.push(`update +${c.block.map((e) => `${e.jail}:${e.ip}`).join(',')} -${c.release.map((e) => `${e.jail}:${e.ip}`).join(',')}`);
    if (this.fail) throw new F2bError('FIREWALL_COMMAND', this.fail);
  }
  async flush(jail?: string): Promise<void> {
    this.calls.push(`flush ${jail ?? '*'}`);
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

function router() {
  const made = new Map<BackendKind, Recorder>();
  const r = new FirewallRouter((kind) => {
    const b = new Recorder(kind);
    made.set(kind, b);
    return b;
  });
  return { r, made };
}

const spec = (jail: string, backend?: BackendKind): FirewallJailSpec => ({ jail, port: 'ssh', protocol: 'tcp', allports: false, backend });

test('jails go to their backends; one update per backend per tick; unknown kinds default to nftables', async () => {
  const { r, made } = router();
  await r.init([spec('sshd'), spec('web', 'ipset'), spec('mail', 'pf'), spec('ftp', 'ipset')]);
  assert.deepEqual([...made.keys()].sort(), ['ipset', 'nftables', 'pf']);
  assert.deepEqual(made.get('ipset')!.calls, ['init web,ftp']);
  await r.update({
    block: [
      { jail: 'sshd', ip: '192.0.2.1', timeout: 60 },
      { jail: 'web', ip: '192.0.2.2', timeout: 60 },
      { jail: 'ftp', ip: '192.0.2.3', timeout: null },
    ],
    release: [{ jail: 'mail', ip: '192.0.2.4', timeout: null }],
  });
  assert.deepEqual(made.get('nftables')!.calls, ['init sshd', 'update +sshd:192.0.2.1 -']);
  assert.deepEqual(made.get('ipset')!.calls, ['init web,ftp', 'update +web:192.0.2.2,ftp:192.0.2.3 -']);
  assert.deepEqual(made.get('pf')!.calls, ['init mail', 'update + -mail:192.0.2.4']);
  await r.flush('web');
  assert.equal(made.get('ipset')!.calls.at(-1), 'flush web');
});

test('a backend no jail needs after a reload is closed; errors of every backend are reported', async () => {
  const { r, made } = router();
  await r.init([spec('sshd'), spec('web', 'ipset')]);
  await r.init([spec('sshd')]);
  assert.deepEqual(made.get('ipset')!.calls, ['init web', 'close']);
  await r.init([spec('sshd'), spec('web', 'pf')]);
  made.get('nftables')!.fail = 'nft said no';
  made.get('pf')!.fail = 'pfctl said no';
  await assert.rejects(
    r.update({ block: [{ jail: 'sshd', ip: '192.0.2.1', timeout: 1 }, { jail: 'web', ip: '192.0.2.2', timeout: 1 }], release: [] }),
    (e: F2bError) => e.code === 'FIREWALL_COMMAND' && /nft said no; pfctl said no/.test(e.message),
  );
  // both were tried, whichever failed
  assert.match(made.get('pf')!.calls.at(-1)!, /^update \+web:192\.0\.2\.2/);
  await r.close();
  assert.equal(made.get('nftables')!.calls.at(-1), 'close');
  assert.equal(made.get('pf')!.calls.at(-1), 'close');
  assert.equal(made.get('ipset')!.calls.filter((c) => c === 'close').length, 1, 'closed once, when it was let go');
});
