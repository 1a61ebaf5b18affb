// Name resolution with fail2ban's caches (server/ipdns.py DNSUtils): forward (name -> every
// address, for ignoreip names, usedns and ignoreself) and reverse (address -> name, for
// <ip-host>), each up to 1000 entries kept 5 minutes, failures included (an empty answer / no
// name), so a broken or slow resolver is asked at most once per name per 5 minutes. Concurrent
// questions about one name share one lookup. A reload clears everything.
//
// The resolver is the system's (getaddrinfo / getnameinfo, so /etc/hosts counts, as it does for
// fail2ban's socket calls); tests inject their own.

import * as dns from 'node:dns/promises';
import * as os from 'node:os';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../log/logger';
import { normalizeAddress } from './ip';

/**
 * fail2ban's Utils.Cache: entries live `ttl` seconds; when full, the oldest entries go (in
 * insertion order) until one that was still alive has gone. `peek` also sees expired entries
 * (to answer with the last known value while a fresh one is looked up).
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(
    readonly maxCount: number,
    readonly ttl: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live value, or undefined (an expired entry is dropped). */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires > this.clock.now()) return e.value;
    this.entries.delete(key);
    return undefined;
  }

  /** The value even when expired, with whether it still is live. */
  peek(key: K): { value: V; live: boolean } | undefined {
    const e = this.entries.get(key);
    return e && { value: e.value, live: e.expires > this.clock.now() };
  }

  set(key: K, value: V): void {
    const now = this.clock.now();
    if (this.entries.size >= this.maxCount) {
      for (const [k, e] of this.entries) {
        this.entries.delete(k);
        if (e.expires > now && this.entries.size < this.maxCount) break;
      }
    }
    // a key set again keeps its place in the eviction order, as in fail2ban's OrderedDict
    this.entries.set(key, { value, expires: now + this.ttl });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** How names are resolved; every method may reject (no answer). */
export interface Resolver {
  /** every address of a name, IPv4 and IPv6 */
  lookup(name: string): Promise<string[]>;
  /** the name of an address */
  reverse(address: string): Promise<string>;
  /** this host's name (`gethostname`) */
  hostname(): string;
  /** the addresses of this host's network interfaces */
  interfaceAddresses(): string[];
}

export const systemResolver: Resolver = {
  lookup: async (name) => (await dns.lookup(name, { all: true })).map((a) => a.address),
  reverse: async (address) => (await dns.lookupService(address, 0)).hostname,
  hostname: () => os.hostname(),
  interfaceAddresses: () =>
    Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, ''))),
};

/** fail2ban's sizes: 1000 entries, 5 minutes, for both directions. */
export const DNS_CACHE_SIZE = 1000;
export const DNS_CACHE_TTL = 5 * 60;

export interface DnsCacheOptions {
  resolver?: Partial<Resolver>;
  clock?: Clock;
  /** `fail2ban.ipdns`-style warnings ("Unable to find a corresponding IP address for ...") */
  log?: Logger;
  maxCount?: number;
  ttl?: number;
}

// own names and addresses live in the same caches under keys no name or address can have
const SELF_ADDRESSES = '\0self-addresses';
const SELF_NAME = '\0self-name:';

export class DnsCache {
  private readonly resolver: Resolver;
  private readonly forward: TtlCache<string, string[]>;
  private readonly backward: TtlCache<string, string | null>;
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly log?: Logger;
  /** bumped by clear(): answers of lookups started before a clear are not stored */
  private generation = 0;

  constructor(opts: DnsCacheOptions = {}) {
    this.resolver = { ...systemResolver, ...opts.resolver };
    const clock = opts.clock ?? systemClock;
    this.forward = new TtlCache(opts.maxCount ?? DNS_CACHE_SIZE, opts.ttl ?? DNS_CACHE_TTL, clock);
    this.backward = new TtlCache(opts.maxCount ?? DNS_CACHE_SIZE, opts.ttl ?? DNS_CACHE_TTL, clock);
    this.log = opts.log;
  }

  /** One lookup per key at a time; the answer is stored unless the cache was cleared meanwhile. */
  private once<T>(key: string, work: () => Promise<T>, store: (v: T) => void): Promise<T> {
    const running = this.pending.get(key);
    if (running) return running as Promise<T>;
    const gen = this.generation;
    const p = work().then((v) => {
      if (gen === this.generation) store(v);
      return v;
    });
    const done = p.finally(() => {
      if (this.pending.get(key) === done) this.pending.delete(key);
    });
    this.pending.set(key, done);
    return done;
  }

  /** Every address of `name` (canonical text, no duplicates); [] when it does not resolve
   *  (fail2ban's dnsToIp). */
  addresses(name: string): Promise<string[]> {
    // peek, not get: an expired answer stays for cachedAddresses() until the new one is in
    const hit = this.forward.peek(name);
    if (hit?.live) return Promise.resolve(hit.value);
    return this.once(
      `f:${name}`,
      async () => {
        try {
          const out = new Set<string>();
          for (const a of await this.resolver.lookup(name)) {
            const n = normalizeAddress(a);
            if (n) out.add(n);
          }
          return [...out];
        } catch (e) {
          this.log?.warn(`Unable to find a corresponding IP address for ${name}: ${(e as Error).message}`);
          return [];
        }
      },
      (v) => this.forward.set(name, v),
    );
  }

  /** The cached addresses of `name`, even expired ones, starting a fresh lookup when there are
   *  none or they expired; undefined until a first answer arrives. For checks that cannot
   *  wait (ignoreip): they follow a changing name with at most one lookup of delay. */
  cachedAddresses(name: string): string[] | undefined {
    const e = this.forward.peek(name);
    if (!e?.live) void this.addresses(name);
    return e?.value;
  }

  /** The name of `address`, or null when it has none (fail2ban's ipToName). */
  hostName(address: string): Promise<string | null> {
    const hit = this.backward.peek(address);
    if (hit?.live) return Promise.resolve(hit.value);
    return this.once(
      `r:${address}`,
      async () => {
        try {
          return (await this.resolver.reverse(address)) || null;
        } catch (e) {
          this.log?.debug(`Unable to find a name for the IP ${address}: ${(e as Error).message}`);
          return null;
        }
      },
      (v) => this.backward.set(address, v),
    );
  }

  /** This host's name: short, or fully qualified (`fqdn`); '' when neither can be found.
   *  The fully qualified one is the name an address of the host resolves back to, preferring one
   *  that starts with the short name. */
  hostname(fqdn: boolean): Promise<string> {
    const key = `${SELF_NAME}${fqdn}`;
    const hit = this.backward.get(key);
    if (typeof hit === 'string') return Promise.resolve(hit);
    return this.once(
      key,
      async () => {
        let short = '';
        try {
          short = this.resolver.hostname();
        } catch (e) {
          this.log?.warn(`Retrieving own hostnames failed: ${(e as Error).message}`);
        }
        if (!fqdn || !short) return short;
        const names: string[] = [];
        for (const a of await this.addresses(short)) {
          const n = await this.hostName(a);
          if (n) names.push(n);
        }
        return names.find((n) => n.startsWith(`${short}.`)) ?? names.find((n) => n.includes('.')) ?? short;
      },
      (v) => this.backward.set(key, v),
    );
  }

  /** The host's own addresses, for ignoreself: those of `localhost`, of the host name and of the
   *  fully qualified host name (fail2ban's getSelfIPs). */
  ownAddresses(): Promise<string[]> {
    const hit = this.forward.peek(SELF_ADDRESSES);
    if (hit?.live) return Promise.resolve(hit.value);
    return this.once(
      SELF_ADDRESSES,
      async () => {
        const names = new Set(['localhost', await this.hostname(false), await this.hostname(true)]);
        names.delete('');
        // fail2ban resolves localhost and the host's names; the loopback addresses and those of
        // the interfaces are added, so a host whose localhost resolves to IPv4 only never bans ::1
        const out = new Set<string>(['127.0.0.1', '::1']);
        for (const i of this.resolver.interfaceAddresses()) {
          const a = normalizeAddress(i);
          if (a) out.add(a);
        }
        for (const n of names) for (const a of await this.addresses(n)) out.add(a);
        return [...out];
      },
      (v) => this.forward.set(SELF_ADDRESSES, v),
    );
  }

  /** ownAddresses() without waiting (see cachedAddresses). */
  cachedOwnAddresses(): string[] | undefined {
    const e = this.forward.peek(SELF_ADDRESSES);
    if (!e?.live) void this.ownAddresses();
    return e?.value;
  }

  /** Forget every answer (reload); lookups under way finish without storing theirs. */
  clear(): void {
    this.generation++;
    this.forward.clear();
    this.backward.clear();
    this.pending.clear();
  }
}
