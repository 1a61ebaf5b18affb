// A jail's firewall spec, checked and resolved once at start: fail2ban's port list (service
// names, 'a:b' ranges), protocols and blocktype become plain data a backend can print.
// Everything here comes from configuration; a bad value is a CONFIG_VALUE error for that jail.

import { readFileSync } from 'node:fs';
import { F2bError } from '../errors';
import type { FirewallJailSpec } from './backend';

export interface PortRange {
  from: number;
  to: number;
}

export interface CompiledJail {
  jail: string;
  /** protocols to match, or null for every protocol (allports with protocol 'all') */
  protocols: string[] | null;
  /** sorted, merged port ranges, or null for every port (allports) */
  ports: PortRange[] | null;
  /** nftables verdict for IPv4: 'reject', 'drop', 'reject with tcp reset',
   *  'reject with icmp type host-prohibited', ... */
  blocktype: string;
  /** ... and for IPv6 ('reject with icmpv6 type admin-prohibited', ...) */
  blocktype6: string;
  /** the hook of the jail's rule: input (INPUT) or forward (FORWARD, DOCKER-USER) */
  hook: 'input' | 'forward';
  /** the iptables chain its rule hangs from (ipset backend): INPUT, FORWARD or DOCKER-USER */
  chain: 'INPUT' | 'FORWARD' | 'DOCKER-USER';
}

/** name (or alias) -> protocol -> port, as in /etc/services */
export type ServiceTable = Map<string, Map<string, number>>;

const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp', 'dccp', 'udplite'];
const ALLPORTS_PROTOCOLS = [...PORT_PROTOCOLS, 'icmp', 'ipv6-icmp'];

/** Reads /etc/services (or the file given); a missing file is an empty table. */
export function loadServices(path = '/etc/services'): ServiceTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new Map();
  }
  const table: ServiceTable = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/(\w+)$/.exec(portProto ?? '');
    if (!m) continue;
    for (const n of [name, ...aliases]) {
      let byProto = table.get(n);
      if (!byProto) table.set(n, (byProto = new Map()));
      if (!byProto.has(m[2])) byProto.set(m[2], Number(m[1]));
    }
  }
  return table;
}

export function compileJail(spec: FirewallJailSpec, services: ServiceTable): CompiledJail {
  const bad = (msg: string) => new F2bError('CONFIG_VALUE', msg, { jail: spec.jail });
  if (!spec.jail) throw bad('empty jail name');

  const protoText = spec.protocol.trim().toLowerCase() || 'tcp';
  let protocols: string[] | null;
  if (protoText === 'all') {
    if (!spec.allports) throw bad(`protocol 'all' needs an allports action (ports need tcp, udp, sctp, dccp or udplite)`);
    protocols = null;
  } else {
    protocols = [...new Set(protoText.split(/[\s,]+/).filter(Boolean))];
    const allowed = spec.allports ? ALLPORTS_PROTOCOLS : PORT_PROTOCOLS;
    const unknown = protocols.filter((p) => !allowed.includes(p));
    if (unknown.length) throw bad(`protocol '${unknown[0]}' is not one of ${allowed.join(', ')}${spec.allports ? ', all' : ''}`);
  }

  const ports = spec.allports ? null : parsePorts(spec.port, protocols ?? PORT_PROTOCOLS, services, bad);
  const blocktype = parseBlocktype(spec.blocktype, bad, 4);
  const blocktype6 = parseBlocktype(spec.blocktype6 ?? spec.blocktype, bad, 6);
  for (const b of [blocktype, blocktype6]) {
    if (b === 'reject with tcp reset' && (protocols?.length !== 1 || protocols[0] !== 'tcp')) {
      throw bad(`blocktype '${spec.blocktype}' needs protocol tcp alone`);
    }
  }
  const chain = parseChain(spec.chain, bad);
  return { jail: spec.jail, protocols, ports, blocktype, blocktype6, hook: chain === 'INPUT' ? 'input' : 'forward', chain };
}

/** fail2ban's `chain` (iptables actions) as the place of the jail's rule. */
export function parseChain(value: string | undefined, bad: (msg: string) => Error): CompiledJail['chain'] {
  const v = (value ?? '').trim();
  if (v === '' || v.toUpperCase() === 'INPUT') return 'INPUT';
  if (v.toUpperCase() === 'FORWARD') return 'FORWARD';
  if (v.toUpperCase() === 'DOCKER-USER') return 'DOCKER-USER';
  throw bad(`chain '${value}' is not supported by the batched firewall (INPUT, FORWARD or DOCKER-USER; run your own action.d action for others)`);
}

/** fail2ban's port value ('ssh', 'http,https', '1000:2000', '0:65535') as merged ranges. */
export function parsePorts(
  value: string,
  protocols: readonly string[],
  services: ServiceTable,
  bad: (msg: string) => Error,
): PortRange[] {
  const ranges: PortRange[] = [];
  const one = (item: string): number => {
    if (/^\d+$/.test(item)) {
      const n = Number(item);
      if (n > 65535) throw bad(`port ${item} is above 65535`);
      return n;
    }
    const byProto = services.get(item);
    if (!byProto) throw bad(`unknown service name '${item}' in port '${value}' (not in /etc/services; use the number)`);
    for (const p of protocols) {
      const n = byProto.get(p);
      if (n !== undefined) return n;
    }
    // /etc/services lists some services for one protocol only (ssh is tcp); the number is the same
    return byProto.values().next().value as number;
  };
  for (const item of value.split(/[\s,]+/).filter(Boolean)) {
    // fail2ban writes ranges 'a:b'; 'a-b' only between numbers, since service names hold '-'
    const m = /^([^:]+):([^:]+)$/.exec(item) ?? /^(\d+)-(\d+)$/.exec(item);
    const from = one(m ? m[1] : item);
    const to = m ? one(m[2]) : from;
    if (from > to) throw bad(`port range '${item}' runs backwards`);
    ranges.push({ from, to });
  }
  if (!ranges.length) throw bad('no port given (set port, or use an allports action)');
  ranges.sort((a, b) => a.from - b.from);
  const merged: PortRange[] = [ranges[0]];
  for (const r of ranges.slice(1)) {
    const last = merged[merged.length - 1];
    if (r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else merged.push({ ...r });
  }
  return merged;
}

/**
 * iptables' REJECT types as nft's, per family: [IPv4's, IPv6's]. A type of the other family
 * (an IPv4 type where the jail bans IPv6 too: ip6tables would refuse it) becomes its nearest
 * equivalent there.
 */
const REJECT_TYPES = new Map<string, [string, string]>([
  ['icmp-port-unreachable', ['icmp type port-unreachable', 'icmpv6 type port-unreachable']],
  ['icmp6-port-unreachable', ['icmp type port-unreachable', 'icmpv6 type port-unreachable']],
  ['port-unreach', ['icmp type port-unreachable', 'icmpv6 type port-unreachable']],
  ['icmp-host-unreachable', ['icmp type host-unreachable', 'icmpv6 type addr-unreachable']],
  ['host-unreach', ['icmp type host-unreachable', 'icmpv6 type addr-unreachable']],
  ['icmp6-addr-unreachable', ['icmp type host-unreachable', 'icmpv6 type addr-unreachable']],
  ['addr-unreach', ['icmp type host-unreachable', 'icmpv6 type addr-unreachable']],
  ['icmp-net-unreachable', ['icmp type net-unreachable', 'icmpv6 type no-route']],
  ['net-unreach', ['icmp type net-unreachable', 'icmpv6 type no-route']],
  ['icmp6-no-route', ['icmp type net-unreachable', 'icmpv6 type no-route']],
  ['no-route', ['icmp type net-unreachable', 'icmpv6 type no-route']],
  ['icmp-proto-unreachable', ['icmp type prot-unreachable', 'icmpv6 type port-unreachable']],
  ['proto-unreach', ['icmp type prot-unreachable', 'icmpv6 type port-unreachable']],
  ['icmp-net-prohibited', ['icmp type net-prohibited', 'icmpv6 type admin-prohibited']],
  ['net-prohib', ['icmp type net-prohibited', 'icmpv6 type admin-prohibited']],
  ['icmp-host-prohibited', ['icmp type host-prohibited', 'icmpv6 type admin-prohibited']],
  ['host-prohib', ['icmp type host-prohibited', 'icmpv6 type admin-prohibited']],
  ['icmp-admin-prohibited', ['icmp type admin-prohibited', 'icmpv6 type admin-prohibited']],
  ['admin-prohib', ['icmp type admin-prohibited', 'icmpv6 type admin-prohibited']],
  ['icmp6-adm-prohibited', ['icmp type admin-prohibited', 'icmpv6 type admin-prohibited']],
  ['adm-prohibited', ['icmp type admin-prohibited', 'icmpv6 type admin-prohibited']],
]);

/** nft's own icmp (IPv4) and icmpv6 reject types. */
const NFT_ICMP = new Set(['host-unreachable', 'net-unreachable', 'prot-unreachable', 'port-unreachable', 'net-prohibited', 'host-prohibited', 'admin-prohibited']);
const NFT_ICMPV6 = new Set(['no-route', 'admin-prohibited', 'addr-unreachable', 'port-unreachable', 'policy-fail', 'reject-route']);

/**
 * The verdict for banned packets of one family, in nft words. Accepts nft's own ('reject',
 * 'drop', 'reject with tcp reset', 'reject with icmpx type admin-prohibited', 'reject with icmp
 * type host-prohibited') and iptables-style values jail.local files carry over from iptables
 * actions ('DROP', 'REJECT --reject-with icmp-host-prohibited', 'REJECT --reject-with tcp-reset').
 */
export function parseBlocktype(value: string | undefined, bad: (msg: string) => Error, family: 4 | 6 = 4): string {
  const v = (value ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  if (v === '' || v === 'reject') return 'reject';
  if (v === 'drop' || v === 'return' || v === 'accept') return v;
  if (v === 'reject with tcp reset' || v === 'reject --reject-with tcp-reset' || v === 'reject --reject-with tcp-rst') return 'reject with tcp reset';
  const icmpx = /^reject with icmpx (?:type )?(port-unreachable|admin-prohibited|host-unreachable|no-route)$/.exec(v);
  if (icmpx) return `reject with icmpx type ${icmpx[1]}`;
  const nft = /^reject with (icmp|icmpv6) (?:type )?([\w-]+)$/.exec(v);
  if (nft && (nft[1] === 'icmp' ? NFT_ICMP : NFT_ICMPV6).has(nft[2])) {
    // nft's type of the other family: its nearest equivalent here
    const mine = (nft[1] === 'icmp') === (family === 4);
    if (mine) return `reject with ${nft[1]} type ${nft[2]}`;
    const same = [...REJECT_TYPES.values()].find(([v4, v6]) => (nft[1] === 'icmp' ? v4 : v6) === `${nft[1]} type ${nft[2]}`);
    if (same) return `reject with ${same[family === 4 ? 0 : 1]}`;
  }
  const ipt = /^reject --reject-with ([\w-]+)$/.exec(v);
  const types = ipt && REJECT_TYPES.get(ipt[1]);
  if (types) return `reject with ${types[family === 4 ? 0 : 1]}`;
  throw bad(`blocktype '${value}' is not supported (use reject, drop, 'reject with tcp reset', 'reject with icmpx type ...' or iptables' 'REJECT --reject-with TYPE')`);
}
