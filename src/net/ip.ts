// Addresses and subnets: parsing, the canonical text form used as a failure id and in the
// firewall, and CIDR membership for ignoreip.

import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Subnet {
  family: Family;
  /** network address as a 32- or 128-bit integer */
  bits: bigint;
  prefix: number;
}

function v4ToBig(addr: string): bigint {
  let n = 0;
  for (const part of addr.split('.')) n = n * 256 + Number(part);
  return BigInt(n);
}

/** An IPv4 address already in canonical form (no leading zeros): its own normal form. */
const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function v6ToBig(addr: string): bigint {
  let text = addr;
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4ToBig(v4[1]);
    text = text.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

function bigToV6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function bigToV4(n: bigint): string {
  const v = Number(n);
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Strip brackets and an IPv4-mapped IPv6 prefix; undefined if the text is no address. */
export function parseAddress(text: string): { family: Family; bits: bigint } | undefined {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (isIPv4(t)) return { family: 4, bits: v4ToBig(t) };
  if (isIPv6(t)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
    if (mapped) return { family: 4, bits: v4ToBig(mapped[1]) };
    return { family: 6, bits: v6ToBig(t) };
  }
  return undefined;
}

/** The canonical text of an address (IPv6 compressed, lower case), or undefined. */
/** Recent answers of normalizeAddress: attackers repeat, and the BigInt round trip is the
 *  costliest part of handling a failure line. Cleared when full (no eviction order needed). */
const normalized = new Map<string, string | undefined>();
const NORMALIZED_MAX = 10_000;

export function normalizeAddress(text: string): string | undefined {
  if (CANONICAL_V4.test(text)) return text;
  let out = normalized.get(text);
  if (out !== undefined || normalized.has(text)) return out;
  const a = parseAddress(text);
  out = a ? (a.family === 4 ? bigToV4(a.bits) : bigToV6(a.bits)) : undefined;
  if (normalized.size >= NORMALIZED_MAX) normalized.clear();
  normalized.set(text, out);
  return out;
}

export function addressFamily(text: string): Family | undefined {
  return parseAddress(text.split('/')[0])?.family;
}

function maskBits(family: Family, prefix: number): bigint {
  const width = family === 4 ? 32 : 128;
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix);
}

/** `1.2.3.4`, `1.2.3.0/24`, `1.2.3.0/255.255.255.0`, `2001:db8::/32`; undefined if not one. */
export function parseSubnet(text: string): Subnet | undefined {
  const [addr, mask, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const a = parseAddress(addr);
  if (!a) return undefined;
  const width = a.family === 4 ? 32 : 128;
  let prefix = width;
  if (mask !== undefined) {
    if (/^\d+$/.test(mask)) prefix = Number(mask);
    else if (a.family === 4 && isIPv4(mask)) {
      const m = v4ToBig(mask);
      const ones = m.toString(2).replace(/0+$/, '');
      if (m !== 0n && (ones.includes('0') || m.toString(2).length !== 32)) return undefined;
      prefix = m === 0n ? 0 : ones.length;
    } else return undefined;
    if (prefix > width) return undefined;
  }
  return { family: a.family, bits: a.bits & maskBits(a.family, prefix), prefix };
}

export function subnetContains(net: Subnet, address: string): boolean {
  const a = parseAddress(address);
  if (!a || a.family !== net.family) return false;
  return (a.bits & maskBits(net.family, net.prefix)) === net.bits;
}

export function formatSubnet(net: Subnet): string {
  const addr = net.family === 4 ? bigToV4(net.bits) : bigToV6(net.bits);
  const width = net.family === 4 ? 32 : 128;
  return net.prefix === width ? addr : `${addr}/${net.prefix}`;
}
