// The jail runtime: failures in, bans out. Everything time-dependent reads the injected Clock;
// the daemon calls expire() when the next ban ends, tests call it after advancing a ManualClock.

import type { Clock } from '../clock';
import type { JailDef } from '../config/types';
import type { FirewallEntry } from '../types';
import type { FoundFailure } from '../filter/filter';
import { formatLogTime, type Logger } from '../log/logger';
import { FailureCounter } from './failures';
import { IgnoreList } from './ignore';
import { normalizeAddress, parseSubnet, formatSubnet } from '../net/ip';

/** The jail options the runtime uses, as the config reader resolves them (bantime -1 = permanent). */
export type JailSettings = Pick<JailDef, 'name' | 'maxretry' | 'maxmatches' | 'findtime' | 'bantime' | 'ignoreip' | 'ignoreself'>;

/** Where bans go: the firewall batcher (or a test double). */
export interface BanSink {
  block(e: FirewallEntry): void;
  release(e: FirewallEntry): void;
}

export interface Ban {
  ip: string;
  /** when the ban started (the ticket time: the last failure, or now for a manual ban) */
  time: number;
  /** end of the ban in epoch seconds; Infinity = permanent */
  end: number;
  failures: number;
  matches: string[];
}

export interface JailStatus {
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
  totalBanned: number;
  bannedList: string[];
}

export class Jail {
  readonly name: string;
  readonly ignores: IgnoreList;
  private readonly failures: FailureCounter;
  private readonly bans = new Map<string, Ban>();
  private totalBanned = 0;
  private lastCleanup = -Infinity;

  constructor(
    private readonly settings: JailSettings,
    private readonly clock: Clock,
    private readonly sink: BanSink,
    private readonly log: Logger,
  ) {
    this.name = settings.name;
    this.failures = new FailureCounter(settings.findtime, settings.maxmatches);
    this.ignores = new IgnoreList(settings.ignoreip);
  }

  /** Resolve ignoreip names and the host's own addresses (ignoreself). */
  async prepare(): Promise<void> {
    const failed = await this.ignores.resolve(this.settings.ignoreself);
    for (const n of failed) this.log.warn(`[${this.name}] Unable to find a corresponding IP address for ${n}: ignoreip entry skipped`);
  }

  /** One failure from the filter. Returns the ban it caused, if any. */
  addFailure(f: FoundFailure): Ban | undefined {
    const now = this.clock.now();
    // a failure is never in the future
    const time = Math.min(f.time ?? now, now);
    const ip = f.fields.ip ?? f.id;
    const ign = this.ignores.check(ip);
    if (ign.ignored) {
      this.log.info(`[${this.name}] Ignore ${ip} by ${ign.rule}`);
      return undefined;
    }
    if (this.bans.has(f.id)) {
      this.log.notice(`[${this.name}] ${f.id} already banned`);
      return undefined;
    }
    this.log.info(`[${this.name}] Found ${f.id} - ${formatTime(time)}`);
    const t = this.failures.add(f.id, time, f.matches, f.fields);
    let ban: Ban | undefined;
    if (t.retry >= this.settings.maxretry) {
      this.failures.remove(f.id);
      ban = this.ban(f.id, t.last, t.failures, t.matches);
    }
    if (now - this.lastCleanup >= 5) {
      this.failures.cleanup(now);
      this.lastCleanup = now;
    }
    return ban;
  }

  /**
   * Ban an address from `time` for bantime. Returns undefined when the ban would already be over
   * or the address is not one the firewall can block.
   */
  ban(id: string, time: number, failures = 0, matches: string[] = []): Ban | undefined {
    const now = this.clock.now();
    const end = this.settings.bantime < 0 ? Infinity : time + this.settings.bantime;
    if (end <= now) {
      this.log.info(`[${this.name}] Ignore ${id}, expired bantime`);
      return undefined;
    }
    const ip = toFirewallAddress(id);
    if (!ip) {
      this.log.warn(`[${this.name}] Ban ${id} skipped: not an IP address or subnet the firewall can block`);
      return undefined;
    }
    const existing = this.bans.get(ip);
    if (existing) {
      if (end > existing.end) existing.end = end;
      this.log.notice(`[${this.name}] ${ip} already banned`);
      return undefined;
    }
    const ban: Ban = { ip, time, end, failures, matches };
    this.bans.set(ip, ban);
    this.totalBanned++;
    this.log.notice(`[${this.name}] Ban ${ip}`);
    this.sink.block({ jail: this.name, ip, timeout: end === Infinity ? null : Math.max(1, Math.ceil(end - now)) });
    return ban;
  }

  /** Lift one ban now; false if the address was not banned. */
  unban(address: string): boolean {
    const ip = toFirewallAddress(address) ?? address;
    const ban = this.bans.get(ip);
    if (!ban) return false;
    this.bans.delete(ip);
    this.log.notice(`[${this.name}] Unban ${ip}`);
    this.sink.release({ jail: this.name, ip, timeout: null });
    return true;
  }

  /** Lift every ban whose end has passed. */
  expire(): number {
    const now = this.clock.now();
    let n = 0;
    for (const [ip, b] of this.bans) {
      if (now >= b.end) {
        this.unban(ip);
        n++;
      }
    }
    return n;
  }

  /** End of the earliest ban, or undefined when none expires. */
  nextExpiry(): number | undefined {
    let next = Infinity;
    for (const b of this.bans.values()) next = Math.min(next, b.end);
    return next === Infinity ? undefined : next;
  }

  /** Lift every ban (shutdown). */
  unbanAll(): number {
    let n = 0;
    for (const ip of [...this.bans.keys()]) if (this.unban(ip)) n++;
    return n;
  }

  isBanned(address: string): boolean {
    return this.bans.has(toFirewallAddress(address) ?? address);
  }

  status(): JailStatus {
    return {
      currentlyFailed: this.failures.current,
      totalFailed: this.failures.totalFailed,
      currentlyBanned: this.bans.size,
      totalBanned: this.totalBanned,
      bannedList: [...this.bans.keys()],
    };
  }
}

/** Canonical address or subnet text, or undefined if the id is neither. */
export function toFirewallAddress(id: string): string | undefined {
  if (id.includes('/')) {
    const net = parseSubnet(id);
    return net ? formatSubnet(net) : undefined;
  }
  return normalizeAddress(id);
}

/** `YYYY-mm-dd HH:MM:SS` local time, as in fail2ban's "Found" lines. */
function formatTime(epoch: number): string {
  return formatLogTime(epoch * 1000).slice(0, 19);
}
