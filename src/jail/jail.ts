// The jail runtime: failures in, bans out. Everything time-dependent reads the injected Clock;
// the daemon calls expire() when the next ban ends, tests call it after advancing a ManualClock.
// The jail decides; what a ban does (firewall, action.d commands, the state database) is the
// JailEvents the daemon hands in.

import type { Clock } from '../clock';
import type { FoundFailure } from '../filter/filter';
import { formatLogTime, type Logger } from '../log/logger';
import { FailureCounter, type FailTicket } from './failures';
import { normalizeAddress, parseSubnet, formatSubnet } from '../net/ip';
import { seconds2str } from './increment';

/** The jail options the runtime uses (bantime -1 = permanent). The control socket may change
 *  them while the jail runs. */
export interface JailSettings {
  name: string;
  maxretry: number;
  maxmatches: number;
  findtime: number;
  bantime: number;
}

/** ignoreip / ignoreself / ignorecommand, as the jail asks them (src/jail/ignore.ts). */
export interface IgnoreCheck {
  /** the static rules; `rule` is what fail2ban logs: ip, dns, ignoreself */
  check(ip: string): { ignored: boolean; rule?: string };
}

export interface Ban {
  ip: string;
  /** when the ban started (the ticket time: the last failure, or now for a manual ban) */
  time: number;
  /** seconds the ban lasts (-1 = permanent); bantime, or more with bantime.increment */
  bantime: number;
  /** end of the ban in epoch seconds; Infinity = permanent */
  end: number;
  /** how many times this address has been banned (1 = first time), for bantime.increment */
  bancount: number;
  failures: number;
  matches: string[];
  /** captured fields of the failures (user, ...) for action tags */
  fields: Record<string, string>;
  /** restored from the state database at start, not found again */
  restored: boolean;
  /** the database already holds this ban (bantime.increment saw a ticket not newer than the
   *  recorded ban: a log read again after a restart); it is not recorded twice */
  known?: boolean;
}

/** What a ban does, outside the jail. Called synchronously, in decision order. */
export interface JailEvents {
  /** enforce (and persist) a ban: a new one, one restored at start, or one whose end moved */
  banned(jail: Jail, ban: Ban, how: 'new' | 'restored' | 'extended'): void;
  /** lift a ban: its time is over, or an operator asked (gone from the database too) */
  unbanned(jail: Jail, ban: Ban, why: 'expired' | 'manual' | 'stop'): void;
}

/** The length of a new ban of `ip` (bantime.increment); default: the jail's bantime, count 1. */
export type BanTimePolicy = (ip: string, time: number, bantime: number) => { bantime: number; bancount: number; known?: boolean };

export interface JailStatus {
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
  totalBanned: number;
  bannedList: string[];
}

export interface JailOptions {
  ignores?: IgnoreCheck;
  banTime?: BanTimePolicy;
  /** where "Found" and "Ignore ... by" go (fail2ban logs them as fail2ban.filter); default: the
   *  jail's log */
  filterLog?: Logger;
}

export class Jail {
  readonly name: string;
  readonly failures: FailureCounter;
  private readonly bans = new Map<string, Ban>();
  private totalBanned = 0;
  private lastCleanup = -Infinity;
  ignores: IgnoreCheck | undefined;
  banTime: BanTimePolicy | undefined;

  constructor(
    readonly settings: JailSettings,
    private readonly clock: Clock,
    private readonly events: JailEvents,
    private readonly log: Logger,
    opts: JailOptions = {},
  ) {
    this.name = settings.name;
    this.failures = new FailureCounter(settings.findtime, settings.maxmatches);
    this.ignores = opts.ignores;
    this.banTime = opts.banTime;
    this.filterLog = opts.filterLog ?? log;
  }

  private readonly filterLog: Logger;

  /** Change findtime/maxretry/maxmatches/bantime while running (client `set`, reload). Bans
   *  already in place keep their end, as in fail2ban. */
  configure(s: Partial<Omit<JailSettings, 'name'>>): void {
    Object.assign(this.settings, s);
    this.failures.configure(this.settings.findtime, this.settings.maxmatches);
  }

  /** The static ignore rules for an address: undefined when not ignored, else the rule. */
  ignoredBy(ip: string): string | undefined {
    const ign = this.ignores?.check(ip);
    return ign?.ignored ? ign.rule ?? 'ip' : undefined;
  }

  /**
   * One failure from the filter. `ignoredBy` is what the caller's ignore check found (the daemon
   * asks every rule, ignorecommand included, which is asynchronous): a rule, or null when none
   * matched; undefined = check the static rules here. `weight`: how many attempts the failure counts for (bantime.increment's weight
   * for an address banned before). Returns the ban it caused, if any.
   */
  addFailure(f: FoundFailure, ignoredBy?: string | null, weight = 1): Ban | undefined {
    const now = this.clock.now();
    // a failure is never in the future
    const time = Math.min(f.time ?? now, now);
    const ip = f.fields.ip ?? f.id;
    const rule = ignoredBy === undefined ? this.ignoredBy(ip) : ignoredBy;
    if (rule) {
      this.filterLog.info(`[${this.name}] Ignore ${ip} by ${rule}`);
      return undefined;
    }
    // A banned address's failures still count, as in fail2ban (its filter does not know about
    // bans): at maxretry, ban() says "already banned" and moves the ban's end later, and the
    // failures seen during a ban count toward the next one once it has expired.
    this.filterLog.info(`[${this.name}] Found ${f.id} - ${formatTime(time)}`);
    const t = this.failures.add(f.id, time, f.matches, f.fields, weight);
    let ban: Ban | undefined;
    if (t.retry >= this.settings.maxretry) {
      this.failures.remove(f.id);
      ban = this.ban(f.id, { time: t.last, failures: t.failures, matches: t.matches, fields: t.fields });
    }
    if (now - this.lastCleanup >= 5) {
      this.failures.cleanup(now);
      this.lastCleanup = now;
    }
    return ban;
  }

  /**
   * Ban an address (a failure ticket that reached maxretry, or an operator's `banip`: time =
   * now). Returns undefined when the ban would already be over, the address is not one the
   * firewall can block, or it is banned already (its end moves later if this one ends later).
   */
  ban(
    id: string,
    ticket: { time?: number; failures?: number; matches?: string[]; fields?: Record<string, string> } = {},
    /** the end another host chose (fleet mode) instead of this jail's bantime */
    until?: number,
  ): Ban | undefined {
    const now = this.clock.now();
    const time = ticket.time ?? now;
    const ip = toFirewallAddress(id);
    if (!ip) {
      this.log.warn(`[${this.name}] Ban ${id} skipped: not an IP address or subnet the firewall can block`);
      return undefined;
    }
    const existing = this.bans.get(ip);
    if (existing) {
      this.extend(existing, time, now, until);
      return undefined;
    }
    const { bantime, bancount, known } =
      until !== undefined
        ? { bantime: until === Infinity ? -1 : until - time, bancount: 1, known: undefined }
        : (this.banTime?.(ip, time, this.settings.bantime) ?? { bantime: this.settings.bantime, bancount: 1 });
    const end = until ?? banEnd(time, bantime);
    if (end <= now) {
      this.log.info(`[${this.name}] Ignore ${id}, expired bantime`);
      return undefined;
    }
    const ban: Ban = {
      ip,
      time,
      bantime,
      end,
      bancount,
      failures: ticket.failures ?? 0,
      matches: ticket.matches ?? [],
      fields: ticket.fields ?? {},
      restored: false,
      ...(known ? { known } : {}),
    };
    this.bans.set(ip, ban);
    this.ends(end);
    this.totalBanned++;
    if (bancount > 1) {
      const until = end === Infinity ? 'permanent' : formatTime(end);
      this.log.notice(`[${this.name}] Increase Ban ${ip} (${bancount} # ${seconds2str(bantime)} -> ${until})`);
    }
    this.log.notice(`[${this.name}] Ban ${ip}`);
    this.events.banned(this, ban, 'new');
    return ban;
  }

  /**
   * A banned address crossed maxretry again (or an operator banned it again): as fail2ban's
   * BanManager, its ban ends `bantime` (the jail's, never increased) after the new ticket if that
   * is later, and "already banned" is logged at DEBUG within 3 s of the ban, NOTICE within a
   * minute, WARNING after (a firewall that does not block it?).
   */
  private extend(existing: Ban, time: number, now: number, until?: number): void {
    const base = this.settings.bantime;
    const end = until ?? banEnd(time, base);
    if (end <= now) {
      this.log.info(`[${this.name}] Ignore ${existing.ip}, expired bantime`);
      return;
    }
    const since = time - existing.time;
    const level = since < 3 ? 'DEBUG' : since < 60 ? 'NOTICE' : 'WARNING';
    this.log.log(level, `[${this.name}] ${existing.ip} already banned`);
    if (end > existing.end) {
      existing.end = end;
      this.ends(end);
      existing.bantime = end === Infinity ? -1 : end - existing.time;
      this.events.banned(this, existing, 'extended');
    }
  }

  /**
   * A ban from the state database at start: enforced again without being counted as a new
   * ban (fail2ban logs "Restore Ban", which its recidive filter does not count). False when it
   * is over, or the address is ignored now or already banned.
   */
  restore(b: Omit<Ban, 'restored' | 'end'>): boolean {
    const end = banEnd(b.time, b.bantime);
    if (end <= this.clock.now() || this.bans.has(b.ip)) return false;
    const rule = this.ignoredBy(b.ip);
    if (rule) {
      this.log.info(`[${this.name}] Ignore ${b.ip} by ${rule}: not restored`);
      return false;
    }
    // spelled out: an object spread here cost 3 µs a ban (a third of a 100,000-ban restart)
    const ban: Ban = {
      ip: b.ip,
      time: b.time,
      bantime: b.bantime,
      end,
      bancount: b.bancount,
      failures: b.failures,
      matches: b.matches,
      fields: b.fields,
      restored: true,
    };
    if (b.known) ban.known = b.known;
    this.bans.set(b.ip, ban);
    this.ends(end);
    this.totalBanned++;
    this.log.notice(`[${this.name}] Restore Ban ${b.ip}`);
    this.events.banned(this, ban, 'restored');
    return true;
  }

  /** Lift one ban now; false if the address was not banned. */
  unban(address: string, why: 'expired' | 'manual' | 'stop' = 'manual'): boolean {
    const ip = toFirewallAddress(address) ?? address;
    const ban = this.bans.get(ip);
    if (!ban) return false;
    this.bans.delete(ip);
    this.log.notice(`[${this.name}] Unban ${ip}`);
    this.events.unbanned(this, ban, why);
    return true;
  }

  /** Lift every ban whose end has passed. Looks at the bans only once the earliest end may
   *  have come: the daemon asks every second, and a jail may hold 100,000 bans. */
  expire(): number {
    const now = this.clock.now();
    if (now < this.earliest) return 0;
    let n = 0;
    let next = Infinity;
    for (const [ip, b] of this.bans) {
      if (now >= b.end) {
        this.unban(ip, 'expired');
        n++;
      } else if (b.end < next) {
        next = b.end;
      }
    }
    this.earliest = next;
    return n;
  }

  /** When the earliest ban may end (never later than it does), or undefined when none expires. */
  nextExpiry(): number | undefined {
    return this.earliest === Infinity ? undefined : this.earliest;
  }

  /** A lower bound of every ban's end (exact after expire()). */
  private earliest = Infinity;

  private ends(end: number): void {
    if (end < this.earliest) this.earliest = end;
  }

  /** Lift every ban: 'manual' (unban --all: gone from the database too) or 'stop'. */
  unbanAll(why: 'manual' | 'stop' = 'manual'): number {
    let n = 0;
    for (const ip of [...this.bans.keys()]) if (this.unban(ip, why)) n++;
    return n;
  }

  /** The jail stops: forget every ban (logged as Unban) and hand them to the caller, which
   *  lifts them in one go (actionflush) instead of one unban event each. */
  takeBans(): Ban[] {
    const all = [...this.bans.values()];
    this.bans.clear();
    for (const b of all) this.log.notice(`[${this.name}] Unban ${b.ip}`);
    return all;
  }

  isBanned(address: string): boolean {
    return this.bans.has(toFirewallAddress(address) ?? address);
  }

  getBan(address: string): Ban | undefined {
    return this.bans.get(toFirewallAddress(address) ?? address);
  }

  /** The bans in place, in the order they were made. */
  activeBans(): Ban[] {
    return [...this.bans.values()];
  }

  /** Open failure tickets (for the state database). */
  tickets(): FailTicket[] {
    return this.failures.all();
  }

  status(): JailStatus {
    return { ...this.counts(), bannedList: [...this.bans.keys()] };
  }

  /** The status without the list of banned addresses (cheap at any number of bans). */
  counts(): Omit<JailStatus, 'bannedList'> {
    return {
      currentlyFailed: this.failures.current,
      totalFailed: this.failures.totalFailed,
      currentlyBanned: this.bans.size,
      totalBanned: this.totalBanned,
    };
  }
}

/** When a ban made at `time` for `bantime` seconds ends (bantime < 0: permanent, Infinity). */
export function banEnd(time: number, bantime: number): number {
  return bantime < 0 ? Infinity : time + bantime;
}

/** Canonical address or subnet text, or undefined if the id is neither. */
export function toFirewallAddress(id: string): string | undefined {
  if (id.includes('/')) {
    const net = parseSubnet(id);
    return net ? formatSubnet(net) : undefined;
  }
  return normalizeAddress(id);
}

/** `YYYY-mm-dd HH:MM:SS` local time, as in fail2ban's "Found" lines. Its own one-second
 *  cache: formatLogTime's (of the line's own time) changes every millisecond of a burst. */
function formatTime(epoch: number): string {
  const sec = Math.floor(epoch);
  if (sec !== lastFound.sec) {
    lastFound.sec = sec;
    lastFound.text = formatLogTime(sec * 1000).slice(0, 19);
  }
  return lastFound.text;
}

const lastFound = { sec: NaN, text: '' };
