// What a configured jail becomes before it can run: its filter compiled, its actions built (the
// stock firewall actions as an entry of the batched firewall, every other action.d action as a
// CommandAction), its ignore list, its bantime.increment settings and, for backend = systemd,
// its journal. Anything wrong throws an F2bError naming the jail, so the daemon reports it and
// skips the jail while the others run. Reload builds the parts again and compares their keys to
// tell what changed.

import type { Clock } from '../clock';
import type { ActionDef, JailDef } from '../config/types';
import { FailureTracker, FilterScanner, filterSpecOf } from '../filter/filter';
import { checkJailSpec, jailSpecForBanaction } from '../firewall';
import type { FirewallJailSpec } from '../firewall/backend';
import type { Logger } from '../log/logger';
import type { DnsCache } from '../net/dns';
import { isSystemdBackend } from '../tailer';
import { parseSystemdBackend, type JournalOptions } from '../tailer/journal';
import type { FilterSpecMessage } from '../types';
import { F2bError } from '../errors';
import { CommandAction, type ActionTagSource } from '../action/command-action';
import { IgnoreList } from './ignore';
import { parseIncrement, type IncrementSettings } from './increment';

export interface JailParts {
  def: JailDef;
  /** the filter as the matcher workers build it; `key` identifies it (same key = same filter) */
  spec: FilterSpecMessage;
  tracker: FailureTracker;
  ignores: IgnoreList;
  increment: IncrementSettings | null;
  /** this jail's entry in the batched firewall (its first stock firewall action), if any */
  fw: FirewallJailSpec | null;
  /** the names of the stock firewall actions the entry stands for */
  fwNames: string[];
  /** the other action.d actions, in the jail's order */
  commands: CommandAction[];
  /** backend = systemd: where its journal is; null for the file backends */
  journal: JournalOptions | null;
  /** what the actions were built from: another key means other actions */
  actionKey: string;
  /** what the journal reader was started with */
  journalKey: string;
  /** `banprefix6 = N`: IPv6 failures count, and are banned, per /N prefix; null = per address */
  banprefix6: number | null;
}

export interface PartsContext {
  dns: DnsCache;
  log: Logger;
  clock: Clock;
  /** fail2ban.conf's allowipv6 */
  allowIpv6: boolean;
  /** the database's and the jail's values for action tags (<ipmatches>, <jail.banned>, ...) */
  tags(jail: string): ActionTagSource;
}

/** The actions a jail runs: `action = ...` as configured, or its banaction when none is set. */
export function jailActionDefs(def: JailDef): ActionDef[] {
  return def.actions.length ? def.actions : [{ name: def.banaction, options: {} }];
}

/** Builds everything a jail needs except the Jail itself; throws an F2bError naming the jail. */
export function buildJailParts(def: JailDef, ctx: PartsContext): JailParts {
  const spec = filterSpecOf(def.filter, { key: '', logtimezone: def.logtimezone });
  spec.key = `${def.name}:${JSON.stringify(spec)}`;
  // compiled here (and dropped: the matcher threads compile their own) so that a bad regex is
  // reported against its jail and the jail skipped
  new FilterScanner(spec);
  const increment = parseIncrement(def);
  const journal = isSystemdBackend(def.backend) ? parseSystemdBackend(def.backend) : null;

  const actionsLog = ctx.log.child('fail2ban.actions');
  let fw: FirewallJailSpec | null = null;
  const fwNames: string[] = [];
  const commands: CommandAction[] = [];
  const defs = jailActionDefs(def);
  for (const a of defs) {
    const s = jailSpecForBanaction(def.name, a, { port: def.port, protocol: def.protocol, blocktype: def.options.blocktype, chain: def.options.chain, chain_hook: def.options.chain_hook });
    if (s) {
      if (fw && JSON.stringify(fw) !== JSON.stringify(s)) {
        actionsLog.warn(`[${def.name}] a second firewall action '${a.actname ?? a.name}' with other ports is ignored: the jail blocks ${fw.allports ? 'every port' : `port ${fw.port}`} of ${fw.protocol}`);
        continue;
      }
      fw ??= s;
      fwNames.push(a.actname ?? a.name);
      continue;
    }
    commands.push(
      new CommandAction(a, def.name, actionsLog, {
        bantime: def.bantime,
        allowIpv6: ctx.allowIpv6,
        tags: ctx.tags(def.name),
        clock: ctx.clock,
      }),
    );
  }

  // a port, blocktype or chain the firewall cannot take: this jail is skipped, not the firewall
  if (fw) checkJailSpec(fw);

  const ignores = new IgnoreList(
    { ignoreip: def.ignoreip, ignoreself: def.ignoreself, ignorecommand: def.ignorecommand || undefined, ignorecache: def.options.ignorecache },
    { dns: ctx.dns, clock: ctx.clock, log: ctx.log.child('fail2ban.filter'), jail: def.name, where: def.source },
  );
  return {
    def,
    spec,
    tracker: new FailureTracker({ usedns: def.filter.usedns }),
    ignores,
    increment,
    fw,
    fwNames,
    commands,
    journal,
    banprefix6: prefixOption(def, 'banprefix6', 128),
    actionKey: JSON.stringify([defs, def.port, def.protocol, def.bantime]),
    journalKey: JSON.stringify([journal, def.filter.journalmatch ?? '']),
  };
}

/** A prefix length option (`banprefix6 = 64`): null when unset or the full width. */
function prefixOption(def: JailDef, key: string, width: number): number | null {
  const text = def.options[key]?.trim();
  if (!text) return null;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= width)) {
    throw new F2bError('CONFIG_VALUE', `${key} = ${text}: expected a prefix length from 1 to ${width} (e.g. 64: ban the attacker's /64)`, { jail: def.name, file: def.source.file, line: def.source.line });
  }
  return n === width ? null : n;
}
