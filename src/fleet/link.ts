// Fleet mode: bans (and, for chosen jails, failures) shared between hosts through Redis.
//
// Keys (all under the prefix, default "f2b-fast:"):
//   events   a stream of events, trimmed to about `streamLength` entries. Fields: o (origin
//            host), s (the origin's sequence number), k (ban | unban | fail), j (jail), a
//            (address), t (time, epoch s), u (ban end, epoch s, or "inf"), p (when the origin
//            queued it)
//   bans     a sorted set of the active bans, member "jail|address", score = end (+inf for a
//            permanent ban): the snapshot a host reads when it starts or reconnects
//   bandata  a hash of the same members: origin, time and end of each ban
//   peers    a hash: host -> when it was last seen, its last sequence number, its queue
// Never pub/sub: a host that (re)connects reads the snapshot, hands it to the daemon as one
// batch, then follows the stream from the entry that was last before the snapshot was read
// (what came in between arrives twice; applying is idempotent). Bans it had from the fleet that
// are no longer in the snapshot were lifted meanwhile, and are lifted here too.
//
// Events are idempotent: each carries its origin and a sequence number that only grows (seeded
// from the clock, so across restarts too); a host skips its own and any it has seen. What is
// published while Redis is away waits in a queue (bounded; the oldest failure events go first)
// and is sent, in order, once the link is back. The daemon never re-publishes what it received.

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { FleetSettings } from '../config/types';
import type { Logger } from '../log/logger';

export type { FleetSettings };

export const FLEET_DEFAULTS: Omit<FleetSettings, 'url'> = {
  prefix: 'f2b-fast:',
  host: os.hostname(),
  publish: '*',
  apply: '*',
  count: [],
  streamLength: 100_000,
  queueLimit: 100_000,
};

export interface FleetBan {
  jail: string;
  ip: string;
  time: number;
  /** epoch s; Infinity = permanent */
  end: number;
  origin: string;
}

export interface FleetAddress {
  jail: string;
  ip: string;
  origin: string;
  time: number;
}

/** What the link hands the daemon: only events from other hosts, for jails this host applies
 *  (failures: for jails counted fleet-wide). */
export interface FleetHandlers {
  bans(bans: FleetBan[]): void;
  unbans(unbans: FleetAddress[]): void;
  failure(f: FleetAddress): void;
}

export interface FleetPeer {
  host: string;
  lastSeen: number;
  seq: number;
}

export interface FleetStatus {
  url: string;
  host: string;
  connected: boolean;
  /** events waiting for Redis */
  queued: number;
  published: number;
  received: number;
  /** the last event received from another host */
  lastEvent?: { origin: string; kind: string; jail: string; ip: string; time: number; sentAt: number; receivedAt: number };
  /** seconds from the origin's queuing of the last event to its arrival here (the two hosts'
   *  clocks included) */
  lag?: number;
  peers: FleetPeer[];
  /** the last connection error, if the link is down */
  error?: string;
}

type Kind = 'ban' | 'unban' | 'fail';

interface Event {
  origin: string;
  seq: number;
  kind: Kind;
  jail: string;
  ip: string;
  time: number;
  end: number;
  /** when the origin queued it (its clock) */
  sent: number;
}

// the part of ioredis this file uses (loaded only when fleet mode is on)
type Redis = import('ioredis').default;

const HEARTBEAT_MS = 5000;

function endText(end: number): string {
  return end === Infinity ? 'inf' : String(end);
}

function parseEnd(s: string | undefined): number {
  return s === 'inf' || s === '+inf' ? Infinity : Number(s);
}

function matches(list: string[] | '*', jail: string): boolean {
  return list === '*' || list.includes(jail);
}

export class FleetLink {
  private pub?: Redis;
  private sub?: Redis;
  private readonly queue: Event[] = [];
  private flushing = false;
  private stopped = false;
  private seq = 0;
  /** highest sequence number seen per origin */
  private readonly seen = new Map<string, number>();
  /** bans this host holds from other hosts ("jail|ip" -> ban), for reconciling with a snapshot */
  private readonly remote = new Map<string, FleetBan>();
  private lastId = '$';
  /** counts the follower's connections: a loop of an earlier one stops */
  private generation = 0;
  private connected = false;
  private error?: string;
  private published = 0;
  private received = 0;
  private lastEvent?: FleetStatus['lastEvent'];
  private heartbeat?: NodeJS.Timeout;
  private following?: Promise<void>;
  private peersCache: FleetPeer[] = [];

  constructor(
    readonly settings: FleetSettings,
    private readonly handlers: FleetHandlers,
    private readonly log: Logger,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  private key(name: string): string {
    return `${this.settings.prefix}${name}`;
  }

  private nextSeq(): number {
    // grows across restarts: never below the clock in microseconds
    this.seq = Math.max(this.seq + 1, Math.floor(this.now() * 1e6));
    return this.seq;
  }

  /** Connects in the background: local banning never waits for Redis. */
  async start(): Promise<void> {
    const { default: IORedis } = await import('ioredis');
    const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000) + Math.floor(Math.random() * 100);
    const tls = this.tlsOptions();
    const make = (name: string, extra: { enableOfflineQueue?: boolean; maxRetriesPerRequest: number | null; autoResendUnfulfilledCommands?: boolean }): Redis => {
      const base = { retryStrategy, lazyConnect: true, connectionName: `f2b-fast:${this.settings.host.replace(/\s/g, '_')}:${name}`, ...extra, ...(tls ? { tls } : {}) };
      const r = this.settings.sentinels?.length
        ? new IORedis({ ...base, sentinels: this.settings.sentinels, name: this.settings.sentinelName ?? 'mymaster', ...urlAuth(this.settings.url) })
        : new IORedis(this.settings.url, base);
      r.on('error', (e: Error) => this.onError(name, e));
      return r;
    };
    // publisher: commands fail at once while disconnected (the queue here keeps them, in order)
    this.pub = make('pub', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.pub.on('ready', () => {
      void this.flush();
      void this.beat();
    });
    // follower: its own connection, since XREAD BLOCK holds one
    // a blocked XREAD is not sent again after a reconnect: the new connection reads the snapshot
    // and starts its own loop
    this.sub = make('sub', { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false });
    this.sub.on('ready', () => this.onReady());
    this.sub.on('close', () => {
      if (this.connected) this.log.warn(`Fleet: lost the connection to ${this.describe()}; banning goes on locally, retrying`);
      this.connected = false;
    });
    this.pub.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** TLS options from the settings' files (read now: a renewed certificate is read at start). */
  private tlsOptions(): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
    const t = this.settings.tls;
    if (!t) return this.settings.url.startsWith('rediss://') ? {} : undefined;
    const read = (f?: string) => (f ? fs.readFileSync(f) : undefined);
    const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
    if (t.ca) out.ca = read(t.ca);
    if (t.cert) out.cert = read(t.cert);
    if (t.key) out.key = read(t.key);
    return out;
  }

  /** Where the fleet is, for logs (no password). */
  describe(): string {
    return this.settings.sentinels?.length ? `Sentinel master ${this.settings.sentinelName ?? 'mymaster'}` : redactUrl(this.settings.url);
  }

  private onError(which: string, e: Error): void {
    const msg = e.message;
    if (this.error !== msg) this.log.warn(`Fleet: ${which === 'pub' ? 'publisher' : 'follower'} connection: ${msg}`);
    this.error = msg;
  }

  /** A (re)connected follower: snapshot, then the stream from before it. */
  private onReady(): void {
    if (this.stopped) return;
    const sub = this.sub!;
    this.following = this.resync().catch((e: Error) => {
      // a lost connection ends the loop quietly: the next 'ready' starts over
      if (this.stopped || sub.status !== 'ready') return;
      this.log.error(`Fleet: reading from ${this.describe()} failed: ${e.message}; reconnecting`);
      sub.disconnect(true);
    });
  }

  private async resync(): Promise<void> {
    const sub = this.sub!;
    const generation = ++this.generation;
    const last = (await sub.xrevrange(this.key('events'), '+', '-', 'COUNT', 1)) as [string, string[]][];
    const from = last.length ? last[0][0] : '0-0';
    const now = this.now();
    const members = await sub.zrangebyscore(this.key('bans'), `(${now}`, '+inf');
    const data = members.length ? await sub.hmget(this.key('bandata'), ...members) : [];
    const snapshot: FleetBan[] = [];
    const present = new Set<string>();
    members.forEach((m, i) => {
      const sep = m.indexOf('|');
      const jail = m.slice(0, sep);
      const ip = m.slice(sep + 1);
      const d = parseBanData(data[i]);
      if (!d || !WORD.test(jail) || !WORD.test(ip) || d.o === this.settings.host || !matches(this.settings.apply, jail)) return;
      present.add(m);
      snapshot.push({ jail, ip, origin: d.o, time: d.t, end: parseEnd(d.u) });
    });
    const gone: FleetAddress[] = [];
    for (const [k, b] of this.remote) {
      if (!present.has(k) && b.end > now) gone.push({ jail: b.jail, ip: b.ip, origin: b.origin, time: now });
    }
    if (generation !== this.generation) return;
    for (const g of gone) this.remote.delete(`${g.jail}|${g.ip}`);
    // only what this host does not hold yet goes to the daemon
    const fresh = snapshot.filter((b) => !this.holds(b));
    for (const b of fresh) this.remote.set(`${b.jail}|${b.ip}`, b);
    this.lastId = from;
    this.connected = true;
    this.error = undefined;
    const news = fresh.length === snapshot.length ? '' : ` (${fresh.length} new here)`;
    this.log.notice(`Fleet: connected to ${this.describe()} as ${this.settings.host}: ${snapshot.length} active ban(s) from other hosts${news}${gone.length ? `, ${gone.length} lifted meanwhile` : ''}`);
    if (gone.length) this.handlers.unbans(gone);
    if (fresh.length) this.handlers.bans(fresh);
    await this.follow(sub, generation);
  }

  /** Reads the stream until the connection is lost (a later connection runs its own loop). */
  private async follow(sub: Redis, generation: number): Promise<void> {
    while (!this.stopped && generation === this.generation) {
      let res: [string, [string, string[]][]][] | null;
      try {
        res = (await sub.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', this.key('events'), this.lastId)) as typeof res;
      } catch (e) {
        if (this.stopped || sub.status !== 'ready' || generation !== this.generation) return;
        throw e;
      }
      if (!res || generation !== this.generation) continue;
      const bans: FleetBan[] = [];
      for (const [id, fields] of res[0][1]) {
        this.lastId = id;
        const e = parseEvent(fields);
        if (!e || e.origin === this.settings.host) continue;
        if ((this.seen.get(e.origin) ?? -1) >= e.seq) continue;
        this.seen.set(e.origin, e.seq);
        this.received++;
        const now = this.now();
        this.lastEvent = { origin: e.origin, kind: e.kind, jail: e.jail, ip: e.ip, time: e.time, sentAt: e.sent, receivedAt: now };
        if (e.kind === 'ban' && matches(this.settings.apply, e.jail)) {
          const b = { jail: e.jail, ip: e.ip, time: e.time, end: e.end, origin: e.origin };
          // already handed over with the snapshot
          if (this.holds(b)) continue;
          this.remote.set(`${e.jail}|${e.ip}`, b);
          bans.push(b);
        } else if (e.kind === 'unban' && matches(this.settings.apply, e.jail)) {
          if (bans.length) this.handlers.bans(bans.splice(0));
          this.remote.delete(`${e.jail}|${e.ip}`);
          this.handlers.unbans([{ jail: e.jail, ip: e.ip, origin: e.origin, time: e.time }]);
        } else if (e.kind === 'fail' && matches(this.settings.count, e.jail)) {
          this.handlers.failure({ jail: e.jail, ip: e.ip, origin: e.origin, time: e.time });
        }
      }
      if (bans.length) this.handlers.bans(bans);
    }
  }

  /** A ban this host made (not one it received). */
  publishBan(jail: string, ip: string, time: number, end: number): void {
    if (!matches(this.settings.publish, jail) || this.isRemote(jail, ip)) return;
    this.enqueue({ kind: 'ban', jail, ip, time, end });
  }

  /** An operator's unban on this host: lifted everywhere. */
  publishUnban(jail: string, ip: string): void {
    if (!matches(this.settings.publish, jail)) return;
    this.remote.delete(`${jail}|${ip}`);
    this.enqueue({ kind: 'unban', jail, ip, time: this.now(), end: 0 });
  }

  /** A failure found here, for a jail counted fleet-wide. */
  publishFailure(jail: string, ip: string, time: number): void {
    if (!matches(this.settings.count, jail)) return;
    this.enqueue({ kind: 'fail', jail, ip, time, end: 0 });
  }

  /** Whether this ban, as it is, was handed to the daemon already. */
  private holds(b: FleetBan): boolean {
    const had = this.remote.get(`${b.jail}|${b.ip}`);
    return had !== undefined && had.origin === b.origin && had.time === b.time && had.end === b.end;
  }

  /** Whether this host holds the ban because another host made it. */
  isRemote(jail: string, ip: string): boolean {
    return this.remote.has(`${jail}|${ip}`);
  }

  /** A ban from the fleet was lifted here (expired, or refused by ignoreip): forget it. */
  forget(jail: string, ip: string): void {
    this.remote.delete(`${jail}|${ip}`);
  }

  private enqueue(e: Omit<Event, 'origin' | 'seq' | 'sent'>): void {
    if (this.stopped) return;
    if (this.queue.length >= this.settings.queueLimit) {
      // drop the oldest failure first; a ban or unban only when nothing else is left
      const i = this.queue.findIndex((q) => q.kind === 'fail');
      const [dropped] = this.queue.splice(i >= 0 ? i : 0, 1);
      this.log.warn(`Fleet: queue full (${this.settings.queueLimit}): dropped the ${dropped.kind} of ${dropped.ip} in ${dropped.jail}`);
    }
    this.queue.push({ ...e, origin: this.settings.host, seq: this.nextSeq(), sent: this.now() });
    void this.flush();
  }

  /** Sends the queue, in order; what fails stays queued for the next 'ready'. */
  private async flush(): Promise<void> {
    const pub = this.pub;
    if (this.flushing || !pub || pub.status !== 'ready') return;
    this.flushing = true;
    try {
      while (this.queue.length && pub.status === 'ready') {
        const batch = this.queue.slice(0, 500);
        const m = pub.multi();
        for (const e of batch) {
          const member = `${e.jail}|${e.ip}`;
          if (e.kind === 'ban') {
            m.zadd(this.key('bans'), 'GT', e.end === Infinity ? '+inf' : e.end, member);
            m.hset(this.key('bandata'), member, JSON.stringify({ o: e.origin, t: e.time, u: endText(e.end) }));
          } else if (e.kind === 'unban') {
            m.zrem(this.key('bans'), member);
            m.hdel(this.key('bandata'), member);
          }
          m.xadd(this.key('events'), 'MAXLEN', '~', this.settings.streamLength, '*',
            'o', e.origin, 's', String(e.seq), 'k', e.kind, 'j', e.jail, 'a', e.ip, 't', String(e.time), 'u', endText(e.end), 'p', String(e.sent));
        }
        const res = await m.exec();
        const failed = res?.find(([err]) => err);
        if (!res || failed) throw failed?.[0] ?? new Error('transaction discarded');
        this.queue.splice(0, batch.length);
        this.published += batch.length;
      }
    } catch (e) {
      this.onError('pub', e as Error);
    } finally {
      this.flushing = false;
    }
    if (this.queue.length && pub.status === 'ready') void this.flush();
  }

  /** Tells the fleet this host is alive; drops bans whose end has passed from the snapshot. */
  private async beat(): Promise<void> {
    const pub = this.pub;
    if (!pub || pub.status !== 'ready') return;
    const now = this.now();
    try {
      await pub.hset(this.key('peers'), this.settings.host, JSON.stringify({ seen: now, seq: this.seq, queued: this.queue.length }));
      const over = await pub.zrangebyscore(this.key('bans'), '-inf', now);
      if (over.length) await pub.multi().zrem(this.key('bans'), ...over).hdel(this.key('bandata'), ...over).exec();
      const peers = await pub.hgetall(this.key('peers'));
      this.peersCache = Object.entries(peers).map(([host, v]) => {
        const p = JSON.parse(v) as { seen: number; seq: number };
        return { host, lastSeen: p.seen, seq: p.seq };
      });
    } catch (e) {
      this.onError('pub', e as Error);
    }
  }

  async status(): Promise<FleetStatus> {
    await this.beat();
    const s: FleetStatus = {
      url: this.describe(),
      host: this.settings.host,
      connected: this.connected && this.pub?.status === 'ready',
      queued: this.queue.length,
      published: this.published,
      received: this.received,
      peers: this.peersCache,
    };
    if (this.lastEvent) {
      s.lastEvent = this.lastEvent;
      s.lag = Math.max(0, this.lastEvent.receivedAt - this.lastEvent.sentAt);
    }
    if (this.error && !s.connected) s.error = this.error;
    return s;
  }

  /** Sends what is queued if Redis is there (for up to `ms`), then closes both connections. */
  async stop(ms = 2000): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const until = Date.now() + ms;
    while (this.queue.length && this.pub?.status === 'ready' && Date.now() < until) {
      await this.flush();
      if (this.queue.length) await new Promise((r) => setTimeout(r, 50));
    }
    if (this.queue.length) this.log.warn(`Fleet: ${this.queue.length} event(s) not sent at stop`);
    this.sub?.disconnect();
    this.pub?.disconnect();
    await this.following?.catch(() => undefined);
  }
}

/** A host, jail or address as events carry it: printable ASCII without blanks. */
const WORD = /^[\x21-\x7e]{1,255}$/;

/** A bandata value, or undefined for one this version cannot read (left alone). */
function parseBanData(text: string | null | undefined): { o: string; t: number; u: string } | undefined {
  if (!text) return undefined;
  try {
    const d = JSON.parse(text) as { o?: unknown; t?: unknown; u?: unknown };
    return typeof d.o === 'string' && WORD.test(d.o) && typeof d.t === 'number' && typeof d.u === 'string' ? { o: d.o, t: d.t, u: d.u } : undefined;
  } catch {
    return undefined;
  }
}

function parseEvent(fields: string[]): Event | undefined {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  const kind = f.k as Kind;
  // origin, jail and address are logged and used as names: printable words only
  if (!WORD.test(f.o ?? '') || !WORD.test(f.j ?? '') || !WORD.test(f.a ?? '') || !['ban', 'unban', 'fail'].includes(kind)) return undefined;
  const seq = Number(f.s);
  const time = Number(f.t);
  const end = parseEnd(f.u);
  if (!Number.isFinite(seq) || !Number.isFinite(time) || Number.isNaN(end)) return undefined;
  const sent = f.p === undefined ? time : Number(f.p);
  return { origin: f.o, seq, kind, jail: f.j, ip: f.a, time, end, sent: Number.isFinite(sent) ? sent : time };
}

/** The URL's password, user and db, for a Sentinel connection. */
function urlAuth(url: string): { password?: string; username?: string; db?: number } {
  try {
    const u = new URL(url);
    const out: { password?: string; username?: string; db?: number } = {};
    if (u.password) out.password = decodeURIComponent(u.password);
    if (u.username) out.username = decodeURIComponent(u.username);
    const db = Number(u.pathname.slice(1));
    if (u.pathname.length > 1 && Number.isInteger(db)) out.db = db;
    return out;
  } catch {
    return {};
  }
}

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
