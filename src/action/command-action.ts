// One action.d shell action of one jail, with fail2ban's lifecycle (server/action.py
// CommandAction; see fail2ban-reference.md §6):
//
// - start(): actionstart, per family in `families`; an action with `?family=` keys (or
//   actionstart_on_demand = true) starts on demand instead: per family, at that family's first
//   ban. A family whose command text equals one already run for another family is not run again.
// - ban(): actionban; the family is then "started and holding bans". Restored tickets are not
//   passed to an action with `norestored`. unban(): actionunban, only for a family holding bans.
// - flush(): actionflush per family holding bans; false when the action has none (the caller
//   unbans each ticket then). stop(): actionstop per started family.
// - A failed ban/unban is tried once more; when the action has an actioncheck, it runs first and,
//   when it fails, actionrepair (or actionstop + actionstart) restores the action before the
//   retry. actioncheck never runs before a command that has not failed.
//
// Execution differs from fail2ban in one way: fail2ban runs every command of every jail under one
// global lock. Here each CommandAction has its own queue (its commands run one at a time, in the
// order asked, a whole operation such as an on-demand start + ban + retry at once), while
// different actions and jails run in parallel: one slow mail action no longer holds up every
// firewall ban of the host.

import { str2seconds } from '../config/timespec';
import { asBool } from '../config/values';
import type { ActionDef } from '../config/types';
import { F2bError } from '../errors';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../log/logger';
import { runShell } from './shell';
import {
  builtinTags,
  familyOf,
  StaticTags,
  substituteDynamic,
  ticketTags,
  type ActionTagSource,
  type ActionTicket,
  type ShellCommand,
} from './tags';

export type { ActionTagSource, ActionTicket } from './tags';

export interface CommandActionOptions {
  /** seconds per command; default: the action's `timeout` property, else 60 */
  timeout?: number;
  /** `<time>` of start/stop/flush commands (default: the system clock) */
  clock?: Clock;
  /** the jail's bantime: `<bantime>` of start/stop/flush commands (default 600) */
  bantime?: number;
  /** the database's and the jail's tags (ipmatches, jail.banned, ...) */
  tags?: ActionTagSource;
  /** between SIGTERM and SIGKILL after a timeout (default 200 ms) */
  killGraceMs?: number;
  /** fail2ban.conf's allowipv6: false leaves inet6 out of an eager start of an action with
   *  ?family= keys (default true) */
  allowIpv6?: boolean;
}

/** The hooks and flags of a command action: every one is a property, '' when not set. */
const HOOKS = [
  'actionstart',
  'actionstop',
  'actioncheck',
  'actionban',
  'actionreban',
  'actionunban',
  'actionflush',
  'actionrepair',
  'actionprolong',
  'actionreload',
] as const;
type Hook = (typeof HOOKS)[number];

const CONDITIONAL_KEY = /^\w+\?family=/;
const STARTED = 1;
const HOLDS_BANS = 2;

/** A hint logged after a failed command's exit code (fail2ban gives one for 127 too). */
const EXIT_HINTS: Record<number, string> = {
  127: 'command not found: is it installed, and in the PATH of f2b-fast?',
};

let commandSeq = 0;

export class CommandAction {
  readonly name: string;
  /** seconds */
  readonly timeout: number;
  readonly norestored: boolean;
  readonly startOnDemand: boolean;
  readonly families: readonly string[];
  private readonly props = new Map<string, string>();
  private readonly clock: Clock;
  private readonly jailBantime: number;
  private readonly source: ActionTagSource;
  private readonly needsHostnames: boolean;
  private statics?: StaticTags;
  private builtins: ReadonlyMap<string, string> = new Map();
  /** family -> STARTED | HOLDS_BANS bits ('' = the action has no families) */
  private started = new Map<string, number>();
  /** hook -> family -> the command text last run successfully for it */
  private readonly executed = new Map<Hook, Map<string, string>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    def: ActionDef,
    readonly jail: string,
    private readonly log: Logger,
    private readonly options: CommandActionOptions = {},
  ) {
    if (!def.properties) throw new F2bError('CONFIG_VALUE', `action '${def.name}' is not a command action (Python actions are not supported)`, { file: def.file, jail });
    this.name = def.actname ?? def.name;
    for (const h of HOOKS) this.props.set(h, '');
    for (const [k, v] of Object.entries(def.properties)) {
      // fail2ban's server ignores a `bantime` option of an action: <bantime> is the ticket's
      if (k !== 'bantime') this.props.set(k, v);
    }
    const timeoutText = def.properties.timeout;
    this.timeout = options.timeout ?? (timeoutText !== undefined ? str2seconds(timeoutText) : 60);
    this.props.set('timeout', String(this.timeout));
    this.clock = options.clock ?? systemClock;
    this.jailBantime = options.bantime ?? 600;
    this.source = options.tags ?? {};
    this.norestored = asBool(def.properties.norestored ?? '');
    const conditional = Object.keys(def.properties).some((k) => CONDITIONAL_KEY.test(k));
    const onDemand = def.properties.actionstart_on_demand;
    this.startOnDemand = onDemand !== undefined ? asBool(onDemand) : conditional;
    const families = def.properties.families?.split(/[\s,]+/).filter(Boolean);
    this.families = families?.length ? families : conditional ? (options.allowIpv6 === false ? ['inet4'] : ['inet4', 'inet6']) : [''];
    this.needsHostnames = [...this.props.values()].some((v) => v.includes('hostname>'));
  }

  /** actionstart, unless the action starts on demand (at each family's first ban). */
  start(): Promise<boolean> {
    return this.serial(async () => this.startOnDemand || (await this.startFamilies(this.families)) || this.failed('start', 'Error starting'));
  }

  /** actionban. False when the command failed (logged). */
  ban(ticket: ActionTicket): Promise<boolean> {
    return this.banWith('actionban', ticket);
  }

  /** actionreban when the action has one, else actionban (a ban the firewall lost). */
  reban(ticket: ActionTicket): Promise<boolean> {
    return this.banWith(this.props.get('actionreban') ? 'actionreban' : 'actionban', ticket);
  }

  private banWith(hook: 'actionban' | 'actionreban', ticket: ActionTicket): Promise<boolean> {
    return this.serial(async () => {
      if (ticket.restored && this.norestored) return true;
      const family = ticket.family ?? familyOf(ticket.ip);
      if (this.startOnDemand && !this.started.get(family)) {
        if (!(await this.startFamilies([family]))) return this.failed('ban', `Error starting for ${ticket.ip}`);
      }
      if (!(await this.processCmd(hook, ticket, family))) return this.failed('ban', `Error banning ${ticket.ip}`);
      this.started.set(family, (this.started.get(family) ?? 0) | STARTED | HOLDS_BANS);
      return true;
    });
  }

  /** actionprolong, for an action that has one (`prolongable`). */
  prolong(ticket: ActionTicket): Promise<boolean> {
    return this.serial(async () => {
      if (ticket.restored && this.norestored) return true;
      if (await this.processCmd('actionprolong', ticket, ticket.family ?? familyOf(ticket.ip))) return true;
      return this.failed('ban', `Error prolonging ${ticket.ip}`);
    });
  }

  get prolongable(): boolean {
    return (this.props.get('actionprolong') ?? '').trim() !== '';
  }

  /** actionunban, when the ticket's family holds bans of this action. */
  unban(ticket: ActionTicket): Promise<boolean> {
    return this.serial(async () => {
      const family = ticket.family ?? familyOf(ticket.ip);
      if (!((this.started.get(family) ?? 0) & HOLDS_BANS)) return true;
      if (await this.processCmd('actionunban', ticket, family)) return true;
      return this.failed('unban', `Error unbanning ${ticket.ip}`);
    });
  }

  /**
   * actionflush for every family holding bans. False when the action has no actionflush: the
   * caller then unbans each ticket. A failing actionflush is logged and followed by the
   * consistency check (as in fail2ban, no per-ticket unbans follow it: true is returned).
   * `stopping`: the jail is stopping, so a failed check is not repaired unless the action has
   * actionrepair_on_unban.
   */
  flush(opts: { stopping?: boolean } = {}): Promise<boolean> {
    return this.serial(async () => {
      if (!this.props.get('actionflush')) return false;
      const families = [...this.started].filter(([, v]) => (v & (STARTED | HOLDS_BANS)) === (STARTED | HOLDS_BANS)).map(([f]) => f);
      if (!families.length) return true;
      const ok = await this.executeOperation('actionflush', families, (family, ran) => {
        const v = this.started.get(family);
        if (ran && v) this.started.set(family, v & ~HOLDS_BANS);
      });
      if (!ok) {
        this.failed('flush', 'Error flushing');
        this.log.info(`[${this.jail}] No flush occurred, do consistency check`);
        await this.consistencyCheck(() => {
          if (opts.stopping && !asBool(this.props.get('actionrepair_on_unban') ?? '')) {
            this.log.error(`[${this.jail}] Invariant check failed. Flush is impossible.`);
            return false;
          }
          return true;
        });
      }
      return true;
    });
  }

  /** actionstop for every started family. */
  stop(): Promise<boolean> {
    return this.serial(async () => {
      const families = [...this.started].filter(([, v]) => v).map(([f]) => f);
      if (!families.length) return true;
      this.started = new Map();
      const ok = await this.executeOperation('actionstop', families, (family, ran) => {
        if (ran) this.forget('actionstart', family);
      });
      return ok || this.failed('stop', 'Error stopping');
    });
  }

  /** Families started so far ('' for an action without families), for status and tests. */
  startedFamilies(): string[] {
    return [...this.started].filter(([, v]) => v).map(([f]) => f);
  }

  // ---- internals -------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private failed(what: string, message: string): false {
    this.log.error(`Failed to execute ${what} jail '${this.jail}' action '${this.name}': ${message}`);
    return false;
  }

  private async tags(): Promise<StaticTags> {
    if (!this.statics) {
      this.builtins = await builtinTags(this.needsHostnames);
      this.statics = new StaticTags(this.props, this.builtins);
    }
    return this.statics;
  }

  /** `<hook>` for a family, with the family itself substituted (fail2ban's _getOperation). */
  private async operation(hook: Hook, family: string): Promise<string> {
    const cmd = (await this.tags()).command(hook, family);
    if (!family || !cmd.includes('<')) return cmd;
    return substituteDynamic(cmd, new Map([['family', family]]), {}, this.builtins).script;
  }

  /** A command with a ticket's tags: the ticket of a ban, or an empty one (ip '', time now)
   *  for start/stop/flush, as fail2ban does. */
  private async withTicket(cmd: string, ticket: ActionTicket | undefined, family: string): Promise<ShellCommand> {
    const t = ticket ?? { ip: '', time: this.clock.now(), bantime: this.jailBantime, bancount: 0, failures: 0, matches: [], fields: {}, restored: false };
    return substituteDynamic(cmd, await ticketTags(cmd, t, family, this.source), t.fields, this.builtins);
  }

  private async startFamilies(families: readonly string[]): Promise<boolean> {
    return this.executeOperation('actionstart', families, (family, ran) => {
      if (!ran) return;
      this.forget('actionstop', family);
      this.started.set(family, STARTED);
    });
  }

  private async stopFamily(family: string): Promise<boolean> {
    if (!this.started.has(family)) return true;
    this.started.set(family, 0);
    return this.executeOperation('actionstop', [family], (f, ran) => {
      if (ran) this.forget('actionstart', f);
    });
  }

  /** Runs `hook` for each family, skipping a command text already run for another family. */
  private async executeOperation(hook: Hook, families: readonly string[], after: (family: string, ok: boolean) => void): Promise<boolean> {
    let all = true;
    for (const family of families) {
      try {
        const cmd = await this.operation(hook, family);
        let ok = true;
        const others = [...(this.executed.get(hook) ?? [])].filter(([f]) => f !== family).map(([, c]) => c);
        if (cmd && !others.includes(cmd)) {
          ok = await this.exec(await this.withTicket(cmd, undefined, family));
          all &&= ok;
        }
        after(family, ok);
        if (ok) this.remember(hook, family, cmd);
        else this.forget(hook, family);
      } catch (e) {
        this.log.error(`[${this.jail}] action '${this.name}' ${hook}: ${e instanceof Error ? e.message : String(e)}`);
        all = false;
      }
    }
    return all;
  }

  private remember(hook: Hook, family: string, cmd: string): void {
    if (!cmd) return this.forget(hook, family);
    let m = this.executed.get(hook);
    if (!m) this.executed.set(hook, (m = new Map()));
    m.set(family, cmd);
  }

  /** Drops the family's record and every other family's with the same command text. */
  private forget(hook: Hook, family: string): void {
    const m = this.executed.get(hook);
    const cmd = m?.get(family);
    if (!m || cmd === undefined) return;
    for (const [f, c] of [...m]) if (f === family || c === cmd) m.delete(f);
  }

  /** A ban-time command, tried again once after a failure (after check and repair when the
   *  action has an actioncheck). */
  private async processCmd(hook: Hook, ticket: ActionTicket, family: string): Promise<boolean> {
    if (!this.props.get(hook)) return true;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt && this.props.get('actioncheck')) {
        const unban = hook === 'actionunban';
        const sane = await this.invariantCheck(
          family,
          () => {
            if (unban && !asBool(this.props.get('actionrepair_on_unban') ?? '')) {
              this.log.error(`[${this.jail}] Invariant check failed. Unban is impossible.`);
              return false;
            }
            return true;
          },
          !unban,
        );
        if (sane !== 1) return false;
      }
      try {
        const cmd = (await this.tags()).command(hook, family);
        if (await this.exec(await this.withTicket(cmd, ticket, family))) return true;
      } catch (e) {
        this.log.error(`[${this.jail}] action '${this.name}' ${hook}: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      }
    }
    return false;
  }

  /** After a failed flush: check every started family; a broken one is no longer started. */
  private async consistencyCheck(beforeRepair: () => boolean): Promise<boolean> {
    if (!this.props.get('actioncheck')) return true;
    let ok = true;
    for (const [family, v] of [...this.started]) {
      if (v && (await this.invariantCheck(family, beforeRepair, true)) !== 1) {
        this.started.set(family, 0);
        this.forget('actionstart', family);
        ok = false;
      }
    }
    return ok;
  }

  /** 1: sane (or restored); 0: could not be restored; -1: broken, repair refused. */
  private async invariantCheck(family: string, beforeRepair: () => boolean, forceStart: boolean): Promise<-1 | 0 | 1> {
    if (!forceStart && !this.started.has(family)) return 1;
    const check = await this.operation('actioncheck', family);
    if (!check || (await this.exec({ script: check, args: [] }))) return 1;
    if (!beforeRepair()) return -1;
    this.log.error(`[${this.jail}] Invariant check failed. Trying to restore a sane environment`);
    const repair = await this.operation('actionrepair', family);
    if (repair) {
      if (!(await this.exec({ script: repair, args: [] }))) {
        this.started.set(family, 0);
        this.log.log('CRITICAL', `[${this.jail}] Unable to restore environment`);
        return 0;
      }
      this.started.set(family, STARTED);
    } else {
      // No repair command: restart the action; an on-demand one is left stopped for an unban
      // (its next ban starts it). An action without families was started as family '', and
      // that is the one to restart: fail2ban 1.0.2 stops and starts the ticket's family
      // instead, which for such an action runs neither command (the stop: that family never
      // started; the start: its text was already run for '').
      const own = this.families.includes(family) ? family : '';
      await this.stopFamily(own);
      if ((forceStart || !this.startOnDemand) && !(await this.startFamilies([own]))) return 0;
      family = own;
    }
    if (this.started.get(family) && !(await this.exec({ script: check, args: [] }))) {
      this.log.log('CRITICAL', `[${this.jail}] Unable to restore environment`);
      return 0;
    }
    return 1;
  }

  /** Runs one command; logs like fail2ban: output at debug, or at error with the exit status. */
  private async exec(cmd: ShellCommand): Promise<boolean> {
    const id = (++commandSeq).toString(16);
    this.log.debug(`${id} -- exec: ${JSON.stringify([cmd.script, ...cmd.args])}`);
    const r = await runShell(cmd.script, cmd.args, { timeoutMs: this.timeout * 1000, killGraceMs: this.options.killGraceMs });
    const level = r.ok ? 'DEBUG' : 'ERROR';
    if (!r.ok) this.log.error(`${id} -- exec: ${JSON.stringify([cmd.script, ...cmd.args])}`);
    if (r.timedOut) this.log.error(`${id} -- timed out after ${this.timeout} seconds.`);
    for (const [name, text] of [
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ] as const) {
      // on failure the tail of the output is enough to tell why
      const lines = text.split('\n').filter((l) => l !== '');
      for (const l of r.ok ? lines : lines.slice(-20)) this.log.log(level, `${id} -- ${name}: ${JSON.stringify(l)}`);
    }
    if (r.ok) this.log.debug(`${id} -- returned successfully 0`);
    else if (r.error) this.log.error(`${id} -- failed with ${r.error}`);
    else if (r.signal) this.log.error(`${id} -- killed with ${r.signal}`);
    else if (!r.timedOut && r.code !== null) {
      this.log.error(`${id} -- returned ${r.code}`);
      const hint = EXIT_HINTS[r.code];
      if (hint) this.log.info(`HINT on ${r.code}: ${hint}`);
    }
    return r.ok;
  }
}
