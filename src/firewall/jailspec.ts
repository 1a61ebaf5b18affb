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
  /** nftables verdict: 'reject', 'drop', 'reject with tcp reset', ... */
  blocktype: string;
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
  const blocktype = parseBlocktype(spec.blocktype, bad);
  if (blocktype === 'reject with tcp reset' && (protocols?.length !== 1 || protocols[0] !== 'tcp')) {
    throw bad(`blocktype '${spec.blocktype}' needs protocol tcp alone`);
  }
  return { jail: spec.jail, protocols, ports, blocktype };
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
 * The verdict for banned packets, in nft words. Accepts nft's own ('reject', 'drop',
 * 'reject with tcp reset', 'reject with icmpx type admin-prohibited') and iptables-style values
 * jail.local files carry over from iptables actions ('DROP', 'REJECT --reject-with tcp-reset').
 */
export function parseBlocktype(value: string | undefined, bad: (msg: string) => Error): string {
  const v = (value ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  if (v === '' || v === 'reject') return 'reject';
  if (v === 'drop' || v === 'return' || v === 'accept') return v;
  if (v === 'reject with tcp reset' || v === 'reject --reject-with tcp-reset') return 'reject with tcp reset';
  const icmpx = /^reject with icmpx (?:type )?(port-unreachable|admin-prohibited|host-unreachable|no-route)$/.exec(v);
  if (icmpx) return `reject with icmpx type ${icmpx[1]}`;
  if (/^reject --reject-with [\w-]+$/.test(v)) return 'reject';
  throw bad(`blocktype '${value}' is not supported (use reject, drop, 'reject with tcp reset' or 'reject with icmpx type ...')`);
}
