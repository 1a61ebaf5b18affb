// The firewall stage: pick a backend, map fail2ban's banaction names onto it, batch its updates.

import { parseFilterSpec } from '../config/spec';
import type { FirewallBackend, FirewallJailSpec } from './backend';
import { DryRunBackend } from './dryrun';
import { NftablesBackend, type NftablesOptions } from './nftables';

export type { FirewallBackend, FirewallJailSpec } from './backend';
export { FirewallBatcher, type FirewallBatcherOptions } from './batcher';
export { DryRunBackend, type DryRunCall } from './dryrun';
export { NftablesBackend, nftJailId, type NftablesOptions } from './nftables';
export { parseBanTarget, type BanTarget } from './address';
export { spawnRunner, type CommandResult, type CommandRunner } from './command';

export type FirewallKind = 'nftables' | 'dry-run';

export interface FirewallOptions extends NftablesOptions {
  /** where the dry-run backend writes what it would do; default console.log */
  log?: (msg: string) => void;
}

export function createFirewall(kind: FirewallKind, opts: FirewallOptions = {}): FirewallBackend {
  switch (kind) {
    case 'nftables':
      return new NftablesBackend(opts);
    case 'dry-run':
      return new DryRunBackend(opts.log ?? ((msg) => console.log(msg)));
  }
}

/** fail2ban's stock firewall actions we implement with nftables sets. */
const NFTABLES_ACTIONS = new Set([
  'iptables',
  'iptables-multiport',
  'iptables-allports',
  'iptables-new',
  'iptables-ipset',
  'iptables-ipset-proto4',
  'iptables-ipset-proto6',
  'iptables-ipset-proto6-allports',
  'nftables',
  'nftables-multiport',
  'nftables-allports',
]);

/**
 * The backend that stands in for a fail2ban banaction ('iptables-multiport',
 * 'nftables-allports[blocktype=drop]', ...), or null when we have none (the caller reports it).
 */
export function mapBanaction(banaction: string): 'nftables' | null {
  return NFTABLES_ACTIONS.has(parseAction(banaction).name) ? 'nftables' : null;
}

/**
 * The firewall spec of a jail using `banaction`: the jail's port/protocol/blocktype, overridden
 * by the action's own options (`nftables[type=allports, blocktype=drop]`); allports when the
 * action name says so. null when mapBanaction() has no backend for it.
 */
export function jailSpecForBanaction(
  jail: string,
  banaction: string | { name: string; options: Record<string, string> },
  values: { port: string; protocol: string; blocktype?: string },
): FirewallJailSpec | null {
  const { name, options } = typeof banaction === 'string' ? parseAction(banaction) : banaction;
  if (!mapBanaction(name)) return null;
  return {
    jail,
    port: options.port ?? values.port,
    protocol: options.protocol ?? values.protocol,
    allports: name.endsWith('-allports') || options.type === 'allports',
    blocktype: options.blocktype ?? values.blocktype,
  };
}

/** 'name[key=value, key="a,b"]' -> name and options, with the config reader's own parser. */
function parseAction(action: string): { name: string; options: Record<string, string> } {
  try {
    return parseFilterSpec(action.trim());
  } catch {
    return { name: action.trim(), options: {} };
  }
}
