// The five verbs every firewall backend implements (after SSHGuard's init/block/release/flush/fin),
// with block and release folded into one batched update: one tick of bans and unbans is one command.

import type { FirewallChanges } from '../types';

/** What a jail asks of the firewall: fail2ban's port/protocol/blocktype values, as configured. */
export interface FirewallJailSpec {
  jail: string;
  /** fail2ban's port value: 'ssh', '22', 'http,https', '0:65535', '1000:2000' (ignored with allports) */
  port: string;
  /** 'tcp', 'udp', 'sctp', 'dccp', 'udplite', a comma list of them, or 'all' (allports only) */
  protocol: string;
  /** block every port of the protocol (fail2ban's *-allports actions) */
  allports: boolean;
  /** 'reject' (default, like fail2ban's nftables action), 'drop', iptables' 'REJECT
   *  --reject-with icmp-host-prohibited', ...: for both families, or IPv4's when blocktype6 is set */
  blocktype?: string;
  /** IPv6's blocktype (fail2ban's iptables actions: `blocktype?family=inet6`) */
  blocktype6?: string;
  /**
   * Where the jail's rule sits: 'INPUT' (default: traffic to this host), or 'FORWARD' /
   * 'DOCKER-USER' (traffic forwarded to containers or other hosts: fail2ban's `chain =
   * DOCKER-USER` for published container ports, `chain_hook = forward` of its nftables actions).
   */
  chain?: string;
  /** which batched backend holds the jail's entries (default nftables) */
  backend?: BackendKind;
}

/** The batched backends: nftables sets, ipset sets with iptables rules, pf tables. */
export type BackendKind = 'nftables' | 'ipset' | 'pf';

/** A ban an earlier run left in the firewall: seconds left and the timeout it was added with
 *  (both null: no timeout, permanent). */
export interface LeftoverBan {
  jail: string;
  /** an address, or a subnet as addr/len */
  ip: string;
  /** seconds it has left; null: permanent */
  expires: number | null;
  /** the length it was added with, when the firewall keeps it (nftables; not ipset) */
  timeout: number | null;
}

export interface FirewallBackend {
  readonly name: string;
  /** Creates everything the jails need, replacing what an earlier run left behind. */
  init(jails: FirewallJailSpec[]): Promise<void>;
  /**
   * Applies all blocks and releases of one tick as ONE command. An address listed in both arrays
   * ends up blocked (releases apply first). Entries it cannot apply are reported by throwing
   * F2bError('FIREWALL_COMMAND') after the rest were applied.
   */
  update(changes: FirewallChanges): Promise<void>;
  /**
   * What is gone of what init set up (a table, set, chain or rule removed by hand), one line
   * each; [] when all is there. Throws when the firewall cannot be read. Optional: a backend
   * without it is never checked.
   */
  check?(): Promise<string[]>;
  /** Releases every address of one jail, or of all jails. */
  flush(jail?: string): Promise<void>;
  /** Removes everything it created. */
  close(): Promise<void>;
  /** The bans an earlier run left in the firewall for these jails, read before init() replaces
   *  them (a start whose state database was lost adopts them). Backends without it adopt none. */
  leftover?(jails: FirewallJailSpec[]): Promise<LeftoverBan[]>;
}
