// fail2ban's server-side command forms (fail2ban's server/transmitter.py; fail2ban-reference §1)
// in, ControlTarget calls out, results shaped as fail2ban shapes them. The forms are the lists
// fail2ban-client sends fail2ban-server, with one difference: `reload` is flat,
//   ["reload", JAIL | "--all", "--restart"?, "--unban"?, "--if-exists"?]
// since the daemon reads the configuration itself (fail2ban's client streams it over).
//
// Errors follow fail2ban's: an unknown verb is "Invalid command", a missing argument "Sorry but
// the command is invalid", an unknown jail "Sorry but the jail 'x' does not exist". A fail2ban
// command f2b-fast does not implement (actions from Python, `add`, cymru, ...) is an UNSUPPORTED
// error naming it, never a silent success.

import { str2seconds } from '../config/timespec';
import { formatLogTime } from '../log/logger';
import { toFirewallAddress } from '../jail/jail';
import { pyRepr } from './format';
import { CommandError, unknownJail } from './protocol';
import type { BanEntry, ControlTarget, JailChanges, JailStatusData, JailValues, ServerChanges, ServerValues, StatusData } from './target';

const invalidCommand = (message = 'Invalid command') => new CommandError('INVALID_COMMAND', message);
const unsupported = (form: string, hint = '') => new CommandError('UNSUPPORTED', `f2b-fast does not support '${form}'${hint ? `: ${hint}` : ''}`);

/** cmd[i], or fail2ban's answer to a command that is too short. */
function arg(cmd: string[], i: number): string {
  if (i >= cmd.length) throw new CommandError('INVALID_ARGS', 'Sorry but the command is invalid');
  return cmd[i];
}

/** Python's int(): optional blanks and sign, decimal digits (with single _ between them). */
function int(v: string): number {
  if (!/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(v)) throw new CommandError('INVALID_VALUE', `invalid literal for int() with base 10: ${pyRepr(v)}`);
  return Number(v.replace(/_/g, ''));
}

function seconds(v: string): number {
  try {
    return str2seconds(v);
  } catch (e) {
    throw new CommandError('INVALID_VALUE', (e as Error).message);
  }
}

/** fail2ban's _as_bool */
const bool = (v: string) => ['1', 'on', 'true', 'yes'].includes(v.toLowerCase());

/** Python's datetime.fromtimestamp(t).strftime('%Y-%m-%d %H:%M:%S'), capped at year 9999 as
 *  fail2ban caps it (a permanent ban ends there). */
function timeText(epoch: number): string {
  if (!(epoch < 253402214400)) return '9999-12-31 23:59:59';
  return formatLogTime(Math.floor(epoch) * 1000).slice(0, 19);
}

const canonical = (ip: string) => toFirewallAddress(ip) ?? ip;

/** `get <JAIL> <key>` keys read straight from the target. */
const PLAIN_GETS = new Set<string>([
  'logpath', 'logencoding', 'journalmatch', 'ignoreself', 'ignoreip', 'ignorecommand', 'prefregex', 'failregex',
  'ignoreregex', 'usedns', 'findtime', 'datepattern', 'logtimezone', 'maxmatches', 'maxretry', 'maxlines', 'bantime', 'actions',
]);

/** `get <JAIL> <key>` forms f2b-fast does not implement, with why. */
const UNSUPPORTED_GETS: Record<string, string> = {
  ignorecache: 'the ignorecommand cache is not configurable',
  action: 'actions are not Python objects in f2b-fast; see the jail\'s action.d file',
  actionproperties: 'actions are not Python objects in f2b-fast; see the jail\'s action.d file',
  actionmethods: 'actions are not Python objects in f2b-fast; see the jail\'s action.d file',
};

/** `set <JAIL> <key> ...` forms f2b-fast does not implement, with why. */
const UNSUPPORTED_SETS: Record<string, string> = {
  ignorecache: 'the ignorecommand cache is not configurable',
  attempt: 'report failures through the log file',
  addaction: 'actions come from the jail\'s config: change it and run reload',
  delaction: 'actions come from the jail\'s config: change it and run reload',
  action: 'actions come from the jail\'s config: change it and run reload',
};

/** The value `set <JAIL> <key>` answers with, as fail2ban reads it back after the change. */
const READ_BACK: Record<string, keyof JailValues> = {
  addignoreip: 'ignoreip',
  delignoreip: 'ignoreip',
  addfailregex: 'failregex',
  delfailregex: 'failregex',
  addignoreregex: 'ignoreregex',
  delignoreregex: 'ignoreregex',
  addlogpath: 'logpath',
  dellogpath: 'logpath',
  addjournalmatch: 'journalmatch',
  deljournalmatch: 'journalmatch',
};

/** `set <JAIL> <key> <value>` with one value, parsed. */
const SCALAR_SETS: Record<string, (v: string) => string | number | boolean> = {
  bantime: seconds,
  findtime: seconds,
  maxretry: int,
  maxmatches: int,
  maxlines: int,
  usedns: (v) => v,
  ignoreself: bool,
  ignorecommand: (v) => v,
  datepattern: (v) => v,
  logencoding: (v) => v,
  prefregex: (v) => v,
  logtimezone: (v) => v,
  delignoreip: (v) => v,
  addfailregex: (v) => v,
  delfailregex: int,
  addignoreregex: (v) => v,
  delignoreregex: int,
  dellogpath: (v) => v,
};

/** Every jail's counts and sources and the fleet link in one object (`status --json`, and the
 *  HTTP listener's /api/status). */
export async function statusData(t: ControlTarget): Promise<StatusData> {
  const jails: StatusData['jails'] = [];
  for (const name of t.jails()) {
    const { bannedList: _list, ...s } = await t.jailStatus(name);
    jails.push({ name, ...s });
  }
  return { version: t.version(), jails, fleet: await t.fleetStatus() };
}

export class Transmitter {
  constructor(private readonly target: ControlTarget) {}

  /** Run one command; the result is fail2ban's, as JSON. Throws CommandError (or what the
   *  target throws) for an error reply. */
  async handle(cmd: string[]): Promise<unknown> {
    const t = this.target;
    switch (cmd[0]) {
      case 'ping':
        return 'pong';
      case 'version':
        return t.version();
      case 'echo':
        return cmd.slice(1);
      case 'server-status':
        return 'Server ready';
      case 'status':
        return this.status(cmd.slice(1));
      case 'stop':
        if (cmd.length === 1) {
          await t.stop();
        } else if (cmd[1] === '--all') {
          for (const name of t.jails()) await t.stopJail(name);
        } else {
          await t.stopJail(this.jail(cmd[1]));
        }
        return null;
      case 'start':
        // every configured jail runs from the start; starting a running jail does nothing, as in fail2ban
        this.jail(arg(cmd, 1));
        return null;
      case 'reload':
        await t.reload(this.reloadOptions(cmd.slice(1)));
        return 'OK';
      case 'unban':
        if (cmd.length < 2) throw invalidCommand();
        return this.unban(cmd.slice(1));
      case 'banned':
        return this.banned(cmd.slice(1));
      case 'flushlogs':
        return t.flushLogs();
      case 'get':
        return this.get(cmd.slice(1));
      case 'set':
        return this.set(cmd.slice(1));
      case 'fleet': {
        if (cmd[1] !== 'status' || cmd.length > 2) throw invalidCommand('Invalid command (fleet status)');
        const st = await t.fleetStatus();
        if (!st) throw new CommandError('UNSUPPORTED', 'fleet mode is off: set redis = redis://HOST:PORT in the [fleet] section of fail2ban.local');
        return st;
      }
      case 'add':
        throw unsupported('add <JAIL>', 'add the jail to jail.local and run reload');
      case 'multi-set':
      case 'server-stream':
      case 'config-error':
      case 'sleep':
        throw unsupported(cmd[0], 'fail2ban-client uses it internally; f2b-fast reads its configuration itself');
    }
    throw invalidCommand();
  }

  /** The name of a running jail, or UNKNOWN_JAIL. */
  private jail(name: string): string {
    if (!this.target.jails().includes(name)) throw unknownJail(name);
    return name;
  }

  private reloadOptions(args: string[]) {
    const opts = { jail: null as string | null, restart: false, unban: false, ifExists: false };
    let named = false;
    for (const a of args) {
      if (a === '--restart') opts.restart = true;
      else if (a === '--unban') opts.unban = true;
      else if (a === '--if-exists') opts.ifExists = true;
      else if (a === '--all' && !named) named = true;
      else if (!a.startsWith('--') && !named) {
        opts.jail = a;
        named = true;
      } else throw new CommandError('INVALID_ARGS', `Unexpected argument(s) for reload: ${pyRepr(args)}`);
    }
    return opts;
  }

  private async status(args: string[]): Promise<unknown> {
    const t = this.target;
    if (args[args.length - 1] === '--json') {
      // f2b-fast's own: every jail's counts, files and fleet link as one object (/api/status too)
      if (args.length > 2) throw invalidCommand('Invalid command (status [JAIL] --json)');
      const data = await statusData(t);
      if (args.length === 1) return data;
      const name = this.jail(args[0]);
      return data.jails.find((j) => j.name === name);
    }
    if (args.length === 0) {
      const names = [...t.jails()].sort();
      return [
        ['Number of jail', names.length],
        ['Jail list', names.join(', ')],
      ];
    }
    if (args.length > 2) throw invalidCommand('Invalid command (no status)');
    const flavor = args[1] ?? 'basic';
    const name = this.jail(args[0]);
    if (flavor === 'cymru') throw unsupported('status <JAIL> cymru', 'no ASN/country look-ups; use basic or short');
    // fail2ban answers an unknown flavor as basic (with a warning in its log)
    return jailStatusTree(await t.jailStatus(name), flavor === 'short');
  }

  private async unban(ips: string[]): Promise<number> {
    const t = this.target;
    let n = 0;
    if (ips.length === 1 && ips[0] === '--all') {
      for (const name of t.jails()) n += await t.unbanAll(name);
      return n;
    }
    for (const name of t.jails()) for (const ip of ips) n += await t.unbanIp(name, ip);
    return n;
  }

  private async banned(ips: string[]): Promise<unknown> {
    const t = this.target;
    const lists: [string, string[]][] = [];
    for (const name of t.jails()) lists.push([name, (await t.bans(name)).map((b) => b.ip)]);
    if (ips.length === 0) return lists.map(([name, list]) => ({ [name]: list }));
    const sets = lists.map(([name, list]) => [name, new Set(list.map(canonical))] as const);
    return ips.map((ip) => sets.filter(([, set]) => set.has(canonical(ip))).map(([name]) => name));
  }

  private async get(args: string[]): Promise<unknown> {
    const t = this.target;
    const name = arg(args, 0);
    switch (name) {
      case 'loglevel':
      case 'logtarget':
      case 'syslogsocket':
      case 'dbfile':
      case 'dbmaxmatches':
      case 'dbpurgeage':
        return t.serverGet(name);
      case 'thread':
        throw unsupported('get thread', 'f2b-fast has no thread options');
    }
    const key = arg(args, 1);
    const known = PLAIN_GETS.has(key) || key.startsWith('bantime.') || key === 'banned' || key === 'banip' || key in UNSUPPORTED_GETS;
    if (!known) throw invalidCommand('Invalid command (no get action or not yet implemented)');
    const jail = this.jail(name);
    if (key in UNSUPPORTED_GETS) throw unsupported(`get <JAIL> ${key}`, UNSUPPORTED_GETS[key]);
    if (key === 'banned') {
      const list = (await t.bans(jail)).map((b) => b.ip);
      const ids = args.slice(2);
      if (ids.length === 0) return list;
      const ips = new Set(list.map(canonical));
      const flags = ids.map((ip) => (ips.has(canonical(ip)) ? 1 : 0));
      return ids.length === 1 ? flags[0] : flags;
    }
    if (key === 'banip') {
      const bans = byEnd(await t.bans(jail));
      if (args[2] !== '--with-time') return bans.map((b) => b.ip);
      return bans.map((b) => `${b.ip} \t${timeText(b.time)} + ${Math.trunc(b.bantime)} = ${timeText(b.end)}`);
    }
    return t.jailGet(jail, key as keyof JailValues);
  }

  private async set(args: string[]): Promise<unknown> {
    const t = this.target;
    const name = arg(args, 0);
    switch (name) {
      case 'loglevel':
      case 'logtarget':
      case 'syslogsocket':
        await t.serverSet(name, arg(args, 1));
        return t.serverGet(name);
      case 'dbmaxmatches':
      case 'dbpurgeage': {
        const raw = arg(args, 1);
        // without a database fail2ban ignores these and answers None
        if ((await t.serverGet('dbfile')) === null) return null;
        const value = name === 'dbmaxmatches' ? int(raw) : seconds(raw);
        await t.serverSet(name as keyof ServerChanges, value);
        return t.serverGet(name as keyof ServerValues);
      }
      case 'dbfile':
        throw unsupported('set dbfile', 'set dbfile in fail2ban.local and restart');
      case 'allowipv6':
      case 'thread':
        throw unsupported(`set ${name}`, 'set it in fail2ban.local and restart');
    }
    const key = arg(args, 1);
    if (key in UNSUPPORTED_SETS) throw unsupported(`set <JAIL> ${key}`, UNSUPPORTED_SETS[key]);
    switch (key) {
      case 'banip': {
        const jail = this.jail(name);
        let n = 0;
        for (const ip of args.slice(2)) if (await t.banIp(jail, ip)) n++;
        return n;
      }
      case 'unbanip': {
        const reportAbsent = arg(args, 2) === '--report-absent';
        const jail = this.jail(name);
        let n = 0;
        const missed: string[] = [];
        for (const ip of args.slice(reportAbsent ? 3 : 2)) {
          const k = await t.unbanIp(jail, ip);
          if (k === 0 && reportAbsent) missed.push(ip);
          n += k;
        }
        if (missed.length) throw new CommandError('INVALID_VALUE', `not banned: ${pyRepr(missed)}`);
        return n;
      }
      case 'idle': {
        const v = arg(args, 2);
        const jail = this.jail(name);
        if (v !== 'on' && v !== 'off') throw new CommandError('INVALID_VALUE', "Invalid idle option, must be 'on' or 'off'");
        await t.jailSet(jail, 'idle', v === 'on');
        return t.jailGet(jail, 'idle');
      }
      case 'addignoreip': {
        const jail = this.jail(name);
        for (const ip of args.slice(2)) await t.jailSet(jail, 'addignoreip', ip);
        return t.jailGet(jail, 'ignoreip');
      }
      case 'addlogpath': {
        const path = arg(args, 2);
        const jail = this.jail(name);
        if (args.length > 4) throw new CommandError('INVALID_VALUE', 'Only one file can be added at a time');
        const where = (args[3] ?? 'head').toLowerCase();
        if (where !== 'head' && where !== 'tail') throw new CommandError('INVALID_VALUE', "File option must be 'head' or 'tail'");
        await t.jailSet(jail, 'addlogpath', { path, tail: where === 'tail' });
        return t.jailGet(jail, 'logpath');
      }
      case 'addjournalmatch':
      case 'deljournalmatch': {
        const jail = this.jail(name);
        await t.jailSet(jail, key, args.slice(2));
        return t.jailGet(jail, 'journalmatch');
      }
    }
    const parse = SCALAR_SETS[key];
    if (!parse && !key.startsWith('bantime.')) throw invalidCommand(`Invalid command ${pyRepr(key)} (no set action or not yet implemented)`);
    const raw = arg(args, 2);
    const jail = this.jail(name);
    const value = parse ? parse(raw) : raw;
    await t.jailSet(jail, key as keyof JailChanges, value as never);
    return t.jailGet(jail, READ_BACK[key] ?? (key as keyof JailValues));
  }
}

/** fail2ban's jail status: [["Filter", [...]], ["Actions", [...]]]. */
function jailStatusTree(s: JailStatusData, short: boolean): unknown {
  const filter: [string, unknown][] = [
    ['Currently failed', s.currentlyFailed],
    ['Total failed', s.totalFailed],
  ];
  if (s.files) filter.push(['File list', s.files]);
  if (s.journalMatches) filter.push(['Journal matches', [s.journalMatches.map((m) => m.join(' ')).join(' + ')]]);
  const actions: [string, unknown][] = [
    ['Currently banned', s.currentlyBanned],
    ['Total banned', s.totalBanned],
  ];
  if (!short) actions.push(['Banned IP list', s.bannedList]);
  return [
    ['Filter', filter],
    ['Actions', actions],
  ];
}

/** Bans ordered by end of ban (fail2ban's `get <JAIL> banip` order); stable for equal ends. */
function byEnd(bans: BanEntry[]): BanEntry[] {
  return bans.map((b, i) => ({ b, i })).sort((x, y) => x.b.end - y.b.end || x.i - y.i).map((x) => x.b);
}
