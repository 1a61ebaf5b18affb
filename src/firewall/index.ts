// The firewall stage: pick a backend, map fail2ban's banaction names onto it, batch its updates.

import { parseFilterSpec } from '../config/spec';
import type { BackendKind, FirewallBackend, FirewallJailSpec } from './backend';
import { DryRunBackend } from './dryrun';
import { checkIpsetJail, IpsetBackend, type IpsetOptions } from './ipset';
import { compileJail, loadServices, type ServiceTable } from './jailspec';
import { NftablesBackend, type NftablesOptions } from './nftables';
import { compilePfJail, PfBackend, type PfOptions } from './pf';

export type { BackendKind, FirewallBackend, FirewallJailSpec } from './backend';
export { FirewallBatcher, type FirewallBatcherOptions } from './batcher';
export { DryRunBackend, type DryRunCall } from './dryrun';
export { NftablesBackend, nftJailId, parseTerseTable, type NftablesOptions } from './nftables';
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
  banaction: string | { name: string; options: Record<string, string>; properties?: Record<string, string> },
  values: { port: string; protocol: string; blocktype?: string; chain?: string; chain_hook?: string },
): FirewallJailSpec | null {
  const { name, options } = typeof banaction === 'string' ? parseAction(banaction) : banaction;
  const backend = mapBanaction(name);
  if (!backend) return null;
  // the action file's own values (its [Init], with the options given with the action name, the
  // jail's and action.d/*.local overrides applied), where the config has the file
  const props = (typeof banaction === 'string' ? undefined : banaction.properties) ?? {};
  // (resolved: options may still say `<known/chain>`, which only the file's values resolve; the
  // jail's own values stand in where the config has no action file for it)
  const set = (v: string | undefined) => (v === undefined || /<[^<>]*>/.test(v) ? undefined : v);
  const opt = (key: string): string | undefined =>
    set(props[key]) ?? set(options[key]) ?? (key === 'chain' || key === 'chain_hook' ? set(values[key]) : undefined);
  const blocktype = opt('blocktype') ?? values.blocktype;
  // IPv6's own (fail2ban's iptables actions: REJECT types differ per family), unless the jail
  // gave a blocktype with the action (`iptables-multiport[blocktype=DROP]`: both families)
  const blocktype6 = set(options['blocktype?family=inet6']) ?? (set(options.blocktype) ? undefined : opt('blocktype?family=inet6'));
  // where the rule sits: iptables actions name the chain it hangs from, nftables actions its hook
  // (their `chain` is the name of fail2ban's own chain, not a place); input and forward are
  // written as the chains INPUT and FORWARD, anything else is left for checkJailSpec to refuse
  const place = (name.startsWith('iptables') ? opt('chain') : name.startsWith('nftables') ? opt('chain_hook') : undefined)?.trim();
  const known = place?.toUpperCase();
  const chain = known === 'INPUT' || known === 'FORWARD' || known === 'DOCKER-USER' ? known : place;
  return {
    jail,
    port: options.port ?? values.port,
    protocol: options.protocol ?? values.protocol,
    // pf's action says actiontype=<allports>
    allports: name.endsWith('-allports') || options.type === 'allports' || options.actiontype === '<allports>',
    ...(blocktype !== undefined ? { blocktype } : {}),
    ...(blocktype6 !== undefined && blocktype6 !== blocktype ? { blocktype6 } : {}),
    ...(chain !== undefined && chain !== 'INPUT' ? { chain } : {}),
    backend,
  };
}

let serviceTable: ServiceTable | undefined;

/**
 * Checks a jail's firewall spec as its backend will take it (ports, protocol, blocktype, chain):
 * throws F2bError('CONFIG_VALUE') naming the jail, so that the jail is reported and skipped
 * before the firewall is set up, instead of failing the setup of every jail.
 */
export function checkJailSpec(spec: FirewallJailSpec, services: ServiceTable = (serviceTable ??= loadServices())): void {
  const backend = spec.backend ?? 'nftables';
  if (backend === 'pf') compilePfJail(spec, services);
  else if (backend === 'ipset') checkIpsetJail(compileJail(spec, services));
  else compileJail(spec, services);
}

/** 'name[key=value, key="a,b"]' -> name and options, with the config reader's own parser. */
function parseAction(action: string): { name: string; options: Record<string, string> } {
  try {
    return parseFilterSpec(action.trim());
  } catch {
    return { name: action.trim(), options: {} };
  }
}
