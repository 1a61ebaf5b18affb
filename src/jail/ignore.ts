// ignoreip and ignoreself: addresses a jail never bans.

import * as dns from 'node:dns/promises';
import * as os from 'node:os';
import { parseSubnet, subnetContains, type Subnet } from '../net/ip';

export interface IgnoreDecision {
  ignored: boolean;
  /** 'ip' | 'dns' | 'ignoreself', as fail2ban logs "Ignore IP by <rule>" */
  rule?: string;
}

export class IgnoreList {
  private readonly nets: { net: Subnet; rule: string }[] = [];
  /** host names from ignoreip, resolved by resolve() */
  readonly names: string[] = [];

  constructor(entries: string[]) {
    for (const e of entries) {
      const net = parseSubnet(e);
      if (net) this.nets.push({ net, rule: 'ip' });
      else if (e.trim()) this.names.push(e.trim());
    }
  }

  /** Resolve DNS names of ignoreip (and, with ignoreself, the host's own names) once. */
  async resolve(ignoreself: boolean): Promise<string[]> {
    const failed: string[] = [];
    const add = async (name: string, rule: string) => {
      try {
        for (const a of await dns.lookup(name, { all: true })) {
          const net = parseSubnet(a.address);
          if (net) this.nets.push({ net, rule });
        }
      } catch {
        failed.push(name);
      }
    };
    for (const n of this.names) await add(n, 'dns');
    if (ignoreself) {
      for (const a of ['127.0.0.1', '::1']) this.nets.push({ net: parseSubnet(a)!, rule: 'ignoreself' });
      const host = os.hostname();
      await add(host, 'ignoreself');
    }
    return failed;
  }

  check(address: string): IgnoreDecision {
    for (const { net, rule } of this.nets) if (subnetContains(net, address)) return { ignored: true, rule };
    return { ignored: false };
  }
}
