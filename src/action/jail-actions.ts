// One jail's actions: what a ban does once the jail has decided it. A stock firewall action
// (iptables-*, nftables-*) becomes an entry in the shared batched firewall (src/firewall: one
// command per tick for every jail); any other action.d action runs its own commands
// (src/action/command-action.ts), each action with its own queue.

import type { FirewallJailSpec } from '../firewall/backend';
import type { FirewallBatcher } from '../firewall/batcher';
import type { Ban } from '../jail/jail';
import type { Logger } from '../log/logger';
import type { CommandAction, ActionTicket } from './command-action';

export class JailActions {
  /** the ticket each ban was announced with, so its unban uses the same values */
  private readonly tickets = new Map<string, ActionTicket>();
  /** command-action work not finished yet (drain, stop) */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    readonly jail: string,
    /** the batched firewall and this jail's entry in it (and the names of the stock actions it
     *  stands for), or null when the jail has no stock firewall action */
    readonly firewall: { batcher: FirewallBatcher; spec: FirewallJailSpec; names: string[] } | null,
    readonly commands: readonly CommandAction[],
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** action names, as `get <JAIL> actions` lists them */
  names(): string[] {
    return [...(this.firewall?.names ?? []), ...this.commands.map((c) => c.name)];
  }

  /** Runs each command action's actionstart (unless on demand), in order. */
  async start(): Promise<void> {
    for (const c of this.commands) await c.start();
  }

  /**
   * At start the daemon puts the database's bans in the firewall straight from their rows
   * (Daemon.primeFirewall), before the jail restores them: their restore does not block them
   * a second time.
   */
  prime(ips: Set<string>): void {
    this.primed = ips;
  }

  /** The restore is over: a primed address the jail did not restore (ignored now, or over
   *  meanwhile) leaves the firewall. Returns how many did. */
  endPriming(): number {
    const left = this.primed;
    this.primed = null;
    for (const ip of left ?? []) this.firewall?.batcher.release({ jail: this.jail, ip, timeout: null });
    return left?.size ?? 0;
  }

  private primed: Set<string> | null = null;

  ban(ban: Ban): void {
    // a primed address is the jail's from here on: restored, it is in already; banned anew, it
    // is blocked with this ban's timeout
    const primed = this.primed?.delete(ban.ip) ?? false;
    if (!(primed && ban.restored)) this.firewall?.batcher.block({ jail: this.jail, ip: ban.ip, timeout: this.timeout(ban) });
    if (!this.commands.length) return;
    const ticket = ticketOf(ban);
    this.tickets.set(ban.ip, ticket);
    for (const c of this.commands) this.track(c.ban(ticket), `ban ${ban.ip}`);
  }

  /**
   * A ban whose end moved later (its address crossed maxretry again): the firewall set's entry
   * gets the new timeout. Command actions hear nothing, as in fail2ban, which only lifts the ban
   * later; `actionprolong` is for a ban time raised after the ban was made, which cannot happen
   * here (bantime.increment is computed before the ban).
   */
  extend(ban: Ban): void {
    if (this.commands.length) this.tickets.set(ban.ip, ticketOf(ban));
    this.firewall?.batcher.block({ jail: this.jail, ip: ban.ip, timeout: this.timeout(ban) });
  }

  unban(ban: Ban): void {
    this.primed?.delete(ban.ip);
    this.firewall?.batcher.release({ jail: this.jail, ip: ban.ip, timeout: null });
    if (!this.commands.length) return;
    const ticket = this.tickets.get(ban.ip) ?? ticketOf(ban);
    this.tickets.delete(ban.ip);
    for (const c of this.commands) this.track(c.unban(ticket), `unban ${ban.ip}`);
  }

  /**
   * The jail stops: lift what is still banned (the jail has already called unban() for each of
   * its bans, or passes them here when it wants fail2ban's flush first), then actionstop in
   * reverse order. `bans` are lifted with actionflush where the action has one. keepFirewall:
   * the batched firewall's entries stay (the jail goes on with other actions: reload).
   */
  async stop(bans: Ban[], opts: { keepFirewall?: boolean } = {}): Promise<void> {
    if (!opts.keepFirewall) for (const b of bans) this.firewall?.batcher.release({ jail: this.jail, ip: b.ip, timeout: null });
    await this.idle();
    for (const c of this.commands) {
      if (bans.length && !(await c.flush({ stopping: true }))) {
        for (const b of bans) await c.unban(this.tickets.get(b.ip) ?? ticketOf(b));
      }
    }
    for (const b of bans) this.tickets.delete(b.ip);
    for (const c of [...this.commands].reverse()) await c.stop();
  }

  /** Resolves when every command started so far has finished. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private timeout(ban: Ban): number | null {
    return firewallTimeout(ban.end, this.now());
  }

  private track(p: Promise<boolean>, what: string): void {
    const q = p.then(
      () => undefined,
      (e) => this.log.error(`[${this.jail}] ${what}: ${(e as Error).message}`),
    );
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }
}

/** The kernel's timeout of a ban's firewall entry (null: permanent), whole seconds, at least 1. */
export function firewallTimeout(end: number, now: number): number | null {
  return end === Infinity ? null : Math.max(1, Math.ceil(end - now));
}

/** The action.d view of a ban. */
export function ticketOf(ban: Ban): ActionTicket {
  return {
    ip: ban.ip,
    time: ban.time,
    bantime: ban.end === Infinity ? -1 : ban.end - ban.time,
    bancount: ban.bancount,
    failures: ban.failures,
    matches: ban.matches,
    fields: ban.fields,
    restored: ban.restored,
  };
}
