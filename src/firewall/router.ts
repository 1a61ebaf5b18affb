// Several firewall backends behind one: each jail's entry goes to the backend its banaction
// names (nftables-* to nftables, iptables-* to ipset + iptables, pf to pf), and one tick of the
// batcher becomes at most one command per backend, the backends running side by side.

import { F2bError } from '../errors';
import type { FirewallChanges } from '../types';
import type { BackendKind, FirewallBackend, FirewallJailSpec, LeftoverBan } from './backend';

export class FirewallRouter implements FirewallBackend {
  readonly name = 'router';
  /** jail -> the backend holding its entries */
  private readonly route = new Map<string, BackendKind>();
  /** the backends set up so far (they hold tables, sets or rules to remove) */
  private readonly active = new Set<BackendKind>();

  /** `make` builds the backend of a kind the first time a jail needs it. */
  constructor(private readonly make: (kind: BackendKind) => FirewallBackend) {}

  private readonly backends = new Map<BackendKind, FirewallBackend>();

  private backend(kind: BackendKind): FirewallBackend {
    let b = this.backends.get(kind);
    if (!b) {
      b = this.make(kind);
      this.backends.set(kind, b);
    }
    return b;
  }

  /** Sets up every backend a jail needs; a backend no jail needs any more is closed. */
  async init(jails: FirewallJailSpec[]): Promise<void> {
    const byKind = new Map<BackendKind, FirewallJailSpec[]>();
    for (const j of jails) {
      const kind = j.backend ?? 'nftables';
      byKind.set(kind, [...(byKind.get(kind) ?? []), j]);
    }
    this.route.clear();
    for (const j of jails) this.route.set(j.jail, j.backend ?? 'nftables');
    for (const kind of [...this.active]) {
      if (byKind.has(kind)) continue;
      this.active.delete(kind);
      await this.backend(kind).close();
    }
    for (const [kind, specs] of byKind) {
      await this.backend(kind).init(specs);
      this.active.add(kind);
    }
  }

  /** What an earlier run left in each backend the jails use (those that can tell). */
  async leftover(jails: FirewallJailSpec[]): Promise<LeftoverBan[]> {
    const out: LeftoverBan[] = [];
    for (const kind of new Set(jails.map((j) => j.backend ?? 'nftables'))) {
      const b = this.backend(kind);
      if (b.leftover) out.push(...(await b.leftover(jails.filter((j) => (j.backend ?? 'nftables') === kind))));
    }
    return out;
  }

  /** One update per backend touched, all at once; the errors of all of them are reported. */
  async update(changes: FirewallChanges): Promise<void> {
    const parts = new Map<BackendKind, FirewallChanges>();
    const part = (jail: string): FirewallChanges => {
      const kind = this.route.get(jail) ?? 'nftables';
      let p = parts.get(kind);
      if (!p) parts.set(kind, (p = { block: [], release: [], unique: changes.unique }));
      return p;
    };
    for (const e of changes.release) part(e.jail).release.push(e);
    for (const e of changes.block) part(e.jail).block.push(e);
    const results = await Promise.allSettled([...parts].map(([kind, c]) => this.backend(kind).update(c)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (errors.length === 1) throw errors[0];
    if (errors.length) throw new F2bError('FIREWALL_COMMAND', errors.map((e) => e.message).join('; '));
  }

  /** Every active backend's check, one after another. */
  async check(): Promise<string[]> {
    const problems: string[] = [];
    for (const kind of this.active) problems.push(...((await this.backend(kind).check?.()) ?? []));
    return problems;
  }

  async flush(jail?: string): Promise<void> {
    if (jail !== undefined) {
      const kind = this.route.get(jail);
      if (kind) await this.backend(kind).flush(jail);
      return;
    }
    for (const kind of this.active) await this.backend(kind).flush();
  }

  async close(): Promise<void> {
    const errors: Error[] = [];
    for (const kind of [...this.active]) {
      try {
        await this.backend(kind).close();
      } catch (e) {
        errors.push(e as Error);
      }
      this.active.delete(kind);
    }
    if (errors.length) throw errors[0];
  }
}
