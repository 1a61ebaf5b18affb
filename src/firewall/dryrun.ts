// dry-run backend: checks and logs what a real backend would do, touches nothing, and keeps a
// record of its calls (for tests and `--dry-run`).

import type { FirewallChanges } from '../types';
import type { FirewallBackend, FirewallJailSpec } from './backend';
import { parseBanTarget } from './address';
import { compileJail, loadServices, type ServiceTable } from './jailspec';

export type DryRunCall =
  | { method: 'init'; jails: FirewallJailSpec[] }
  | { method: 'update'; changes: FirewallChanges }
  | { method: 'flush'; jail?: string }
  | { method: 'close' };

export class DryRunBackend implements FirewallBackend {
  readonly name = 'dry-run';
  readonly calls: DryRunCall[] = [];

  constructor(
    private readonly log: (msg: string) => void,
    private readonly services?: ServiceTable,
  ) {}

  async init(jails: FirewallJailSpec[]): Promise<void> {
    this.calls.push({ method: 'init', jails: jails.map((j) => ({ ...j })) });
    // the same checks as a real backend, so --dry-run reports a bad port or blocktype too
    const services = this.services ?? loadServices();
    for (const spec of jails) {
      const j = compileJail(spec, services);
      const ports = j.ports ? j.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)).join(',') : 'all';
      this.log(`dry-run: would set up jail ${j.jail}: ${j.protocols?.join(',') ?? 'all protocols'} ports ${ports}, ${j.blocktype}`);
    }
  }

  async update(changes: FirewallChanges): Promise<void> {
    this.calls.push({ method: 'update', changes: { block: [...changes.block], release: [...changes.release] } });
    for (const e of changes.release) this.log(`dry-run: would release ${describe(e.ip)} in ${e.jail}`);
    for (const e of changes.block) {
      const until = e.timeout === null ? 'permanently' : `for ${e.timeout}s`;
      this.log(`dry-run: would block ${describe(e.ip)} in ${e.jail} ${until}`);
    }
  }

  async flush(jail?: string): Promise<void> {
    this.calls.push(jail === undefined ? { method: 'flush' } : { method: 'flush', jail });
    this.log(`dry-run: would release every address of ${jail ?? 'every jail'}`);
  }

  async close(): Promise<void> {
    this.calls.push({ method: 'close' });
    this.log('dry-run: would remove the firewall rules');
  }
}

function describe(ip: string): string {
  return parseBanTarget(ip)?.text ?? `${JSON.stringify(ip)} (not an address: a real backend rejects it)`;
}
