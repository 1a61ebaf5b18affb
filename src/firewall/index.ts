// The firewall stage: pick a backend, map fail2ban's banaction names onto it, batch its updates.

import { parseFilterSpec } from '../config/spec';
import type { BackendKind, FirewallBackend, FirewallJailSpec } from './backend';
import { DryRunBackend } from './dryrun';
import { IpsetBackend, type IpsetOptions } from './ipset';
import { NftablesBackend, type NftablesOptions } from './nftables';
import { PfBackend, type PfOptions } from './pf';

export type { BackendKind, FirewallBackend, FirewallJailSpec } from './backend';
export { FirewallBatcher, type FirewallBatcherOptions } from './batcher';
export { DryRunBackend, type DryRunCall } from './dryrun';
export { NftablesBackend, nftJailId, type NftablesOptions } from './nftables';
export { IpsetBackend, type IpsetOptions } from './ipset';
export { PfBackend, pfTableName, type PfOptions } from './pf';
export { FirewallRouter } from './router';
export { parseBanTarget, type BanTarget } from './address';
export { spawnRunner, type CommandResult, type CommandRunner } from './command';

export type FirewallKind = BackendKind | 'dry-run';

/** Every backend's options (they share exec, run, timeoutMs and services). */
export interface FirewallOptions extends NftablesOptions, IpsetOptions, PfOptions {
  /** where the dry-run backend writes what it would do; default console.log */
  log?: (msg: string) => void;
}

export function createFirewall(kind: FirewallKind, opts: FirewallOptions = {}): FirewallBackend {
  switch (kind) {
    case 'nftables':
      return new NftablesBackend(opts);
    case 'ipset':
      return new IpsetBackend(opts);
    case 'pf':
      return new PfBackend(opts);
    case 'dry-run':
      return new DryRunBackend(opts.log ?? ((msg) => console.log(msg)));
  }
}

/** Whether a backend's programs run here: their version line, or an F2bError saying what to
 *  install. */
export function firewallAvailable(kind: BackendKind, opts: FirewallOptions = {}): Promise<string> {
  switch (kind) {
    case 'nftables':
      return NftablesBackend.available(opts);
    case 'ipset':
      return IpsetBackend.available(opts);
    case 'pf':
      return PfBackend.available(opts);
  }
}

/**
 * fail2ban's stock firewall actions and the batched backend each stands for. The iptables
 * family blocks with nftables sets (same ports, protocol and blocktype: the same effect, one
 * command per tick), except the ipset actions, which get ipset sets and iptables rules as
 * fail2ban's do; pf gets pf tables.
 */
const STOCK_ACTIONS = new Map<string, BackendKind>([
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
  ['pf', 'pf'],
]);

/**
 * The backend that stands in for a fail2ban banaction ('iptables-multiport',
 * 'nftables-allports[blocktype=drop]', ...), or null when we have none (the caller runs the
 * action.d file).
 */
export function mapBanaction(banaction: string): BackendKind | null {
  return STOCK_ACTIONS.get(parseAction(banaction).name) ?? null;
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
  const backend = mapBanaction(name);
  if (!backend) return null;
  return {
    jail,
    port: options.port ?? values.port,
    protocol: options.protocol ?? values.protocol,
    // pf's action says actiontype=<allports>
    allports: name.endsWith('-allports') || options.type === 'allports' || options.actiontype === '<allports>',
    blocktype: options.blocktype ?? values.blocktype,
    backend,
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
