// One tick's changes as every backend takes them: each entry checked (a jail the backend knows,
// an address or subnet, a sane timeout), reported when it cannot be applied, and only the last
// change of an address kept, in the order of last change (a block and a release of one address
// in one tick: the later wins).

import { F2bError } from '../errors';
import type { FirewallChanges, FirewallEntry } from '../types';
import { parseBanTarget, type BanTarget } from './address';

export interface Change<J> {
  jail: J;
  addr: BanTarget;
  block: boolean;
  timeout: number | null;
}

export interface GatheredChanges<J> {
  changes: Change<J>[];
  /** what cannot be applied, as `jail address: why` */
  rejected: string[];
  /** entries given (for "N of M were not applied") */
  total: number;
}

/** `jailOf` finds the backend's own state of a jail (undefined: it has none). */
export function gatherChanges<J>(changes: FirewallChanges, jailOf: (jail: string) => J | undefined, what = 'firewall sets'): GatheredChanges<J> {
  const rejected: string[] = [];
  // the batcher's changes hold each address once: a list does, without 100,000 map keys
  const list: Change<J>[] = [];
  const kept = new Map<string, Change<J>>();
  const take = (e: FirewallEntry, block: boolean) => {
    const jail = jailOf(e.jail);
    const addr = parseBanTarget(String(e.ip));
    const timeout = e.timeout;
    if (jail === undefined) return void rejected.push(`${e.jail} ${e.ip}: jail has no ${what}`);
    if (!addr) return void rejected.push(`${e.jail} ${JSON.stringify(e.ip)}: not an IPv4/IPv6 address or subnet`);
    if (block && timeout !== null && !(timeout >= 0 && Number.isFinite(timeout))) {
      return void rejected.push(`${e.jail} ${addr.text}: bad timeout ${timeout}`);
    }
    if (changes.unique) return void list.push({ jail, addr, block, timeout });
    const key = `${e.jail}\0${addr.text}`;
    kept.delete(key); // the last change of an address wins, and takes its place in the order
    kept.set(key, { jail, addr, block, timeout });
  };
  for (const e of changes.release) take(e, false);
  for (const e of changes.block) take(e, true);
  return { changes: changes.unique ? list : [...kept.values()], rejected, total: changes.release.length + changes.block.length };
}

/** flush(jail?): that jail's state, or every jail's; a jail the backend does not know is an error. */
export function jailsToFlush<J>(jails: Map<string, J>, jail: string | undefined, what = 'firewall sets'): J[] {
  if (jail === undefined) return [...jails.values()];
  const one = jails.get(jail);
  if (one === undefined) throw new F2bError('FIREWALL_COMMAND', `flush of a jail that has no ${what}`, { jail });
  return [one];
}
