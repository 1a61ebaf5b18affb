// The daemon as the control socket sees it (src/control/target.ts): reads of its state and the
// changes an operator makes at run time. Changes to a jail's filter, ignore list or files build
// the jail's parts again from an edited copy of its configuration (src/jail/running.ts) and hand
// them to the running jail, which keeps its bans and failures.

import type { JailDef } from '../config/types';
import type { Daemon, RunningJail } from '../daemon';
import { F2bError } from '../errors';
import { parseFailRegex } from '../filter/filter';
import { parseJournalMatch } from '../tailer/journal';
import { MEMORY_DB } from '../state/location';
import { CommandError, unknownJail } from './protocol';
import type { BanEntry, ControlTarget, JailChanges, JailStatusData, JailValues, ReloadOptions, ServerChanges, ServerValues } from './target';

import type { FleetStatus } from '../fleet/link';

export class DaemonTarget implements ControlTarget {
  constructor(private readonly d: Daemon) {}

  private jail(name: string): RunningJail {
    const rj = this.d.jails.get(name);
    if (!rj) throw unknownJail(name);
    return rj;
  }

  version(): string {
    return this.d.version;
  }

  fleetStatus(): Promise<FleetStatus | null> {
    return this.d.fleetStatus();
  }

  jails(): string[] {
    return [...this.d.jails.keys()];
  }

  stop(): void {
    this.d.requestShutdown();
  }

  async stopJail(jail: string): Promise<void> {
    await this.d.stopJail(this.jail(jail));
  }

  async reload(opts: ReloadOptions): Promise<void> {
    await this.d.reload(opts);
  }

  flushLogs(): string {
    return this.d.reopenLog();
  }

  serverGet<K extends keyof ServerValues>(key: K): ServerValues[K] {
    const sink = this.d.logSink;
    const db = this.d.dbFile === MEMORY_DB ? null : this.d.dbFile;
    const values: ServerValues = {
      loglevel: sink?.levelText ?? 'INFO',
      logtarget: sink?.target ?? 'STDERR',
      syslogsocket: sink?.syslogsocket ?? 'auto',
      dbfile: db,
      dbpurgeage: db === null ? null : this.d.dbpurgeage,
      dbmaxmatches: db === null ? null : (this.d.config.server.dbmaxmatches ?? 10),
    };
    return values[key];
  }

  serverSet<K extends keyof ServerChanges>(key: K, value: ServerChanges[K]): void {
    const sink = this.d.logSink;
    try {
      switch (key) {
        case 'loglevel':
          sink?.setLevel(value as string);
          return;
        case 'logtarget':
          sink?.setTarget(value as string);
          return;
        case 'syslogsocket':
          sink?.setSyslogSocket(value as string);
          return;
        case 'dbpurgeage':
          this.d.dbpurgeage = value as number;
          return;
      }
    } catch (e) {
      throw new CommandError('INVALID_VALUE', (e as Error).message);
    }
    throw new CommandError('UNSUPPORTED', `set ${key}: f2b-fast reads it at start only (change fail2ban.local and restart)`);
  }

  jailStatus(jail: string): JailStatusData {
    const rj = this.jail(jail);
    const s = rj.jail.status();
    const source = rj.journal ? { journalMatches: journalMatches(rj.def) } : { files: files(rj.def) };
    return { ...s, ...source };
  }

  jailGet<K extends keyof JailValues>(jail: string, key: K): JailValues[K] {
    const rj = this.jail(jail);
    const { def } = rj;
    const f = def.filter;
    const s = rj.jail.settings;
    switch (key) {
      case 'logpath':
        return files(def) as JailValues[K];
      case 'logencoding':
        return def.logencoding as JailValues[K];
      case 'journalmatch':
        return journalMatches(def) as JailValues[K];
      case 'ignoreself':
        return rj.ignores.ignoreself as JailValues[K];
      case 'ignoreip':
        return rj.ignores.entries() as JailValues[K];
      case 'ignorecommand':
        return def.ignorecommand as JailValues[K];
      case 'prefregex':
        return (f.prefregex ? expand(f.prefregex, f.usedns, false) : '') as JailValues[K];
      case 'failregex':
        return f.failregex.map((r) => expand(r, f.usedns, f.maxlines > 1)) as JailValues[K];
      case 'ignoreregex':
        return f.ignoreregex.map((r) => expand(r, f.usedns, false)) as JailValues[K];
      case 'usedns':
        return f.usedns as JailValues[K];
      case 'findtime':
        return s.findtime as JailValues[K];
      case 'datepattern':
        return (f.datepattern ? [f.datepattern, f.datepattern] : [null, 'Default Detectors']) as JailValues[K];
      case 'logtimezone':
        return (def.logtimezone ?? null) as JailValues[K];
      case 'maxmatches':
        return s.maxmatches as JailValues[K];
      case 'maxretry':
        return s.maxretry as JailValues[K];
      case 'maxlines':
        return f.maxlines as JailValues[K];
      case 'bantime':
        return s.bantime as JailValues[K];
      case 'actions':
        return rj.actions.names() as JailValues[K];
      case 'idle':
        return rj.idle as JailValues[K];
    }
    if (typeof key === 'string' && key.startsWith('bantime.')) {
      const v = def.options[key];
      return (v === undefined ? null : v) as JailValues[K];
    }
    throw new CommandError('INVALID_COMMAND', `Invalid command: get ${jail} ${String(key)}`);
  }

  async jailSet<K extends keyof JailChanges>(jail: string, key: K, value: JailChanges[K]): Promise<void> {
    const rj = this.jail(jail);
    const v = value as unknown;
    switch (key) {
      case 'bantime':
      case 'findtime':
      case 'maxretry':
      case 'maxmatches': {
        const n = v as number;
        if (key !== 'bantime' && !(n >= 0)) throw new CommandError('INVALID_VALUE', `${key} must not be negative: ${n}`);
        rj.jail.configure({ [key]: n });
        rj.def[key as 'bantime' | 'findtime' | 'maxretry' | 'maxmatches'] = n;
        return;
      }
      case 'idle':
        rj.idle = v as boolean;
        return;
      case 'ignoreself':
        rj.ignores.ignoreself = v as boolean;
        rj.def.ignoreself = v as boolean;
        return;
      case 'addignoreip':
        if (rj.ignores.add(v as string)) rj.def.ignoreip = rj.ignores.entries();
        // a name added is looked up now; a failed lookup is logged by the DNS cache
        rj.ignores.prepare().catch(() => undefined);
        return;
      case 'delignoreip':
        if (rj.ignores.remove(v as string)) rj.def.ignoreip = rj.ignores.entries();
        return;
      case 'logencoding':
        throw new CommandError('UNSUPPORTED', 'logencoding: f2b-fast reads every log as UTF-8 (invalid bytes become U+FFFD)');
    }
    if (typeof key === 'string' && key.startsWith('bantime.')) {
      await this.rebuild(rj, (def) => {
        def.options[key] = String(v);
      });
      return;
    }
    await this.rebuild(rj, (def) => edit(def, key, v));
  }

  /** Apply a change to a copy of the jail's configuration and hand the jail its new parts. */
  private async rebuild(rj: RunningJail, change: (def: JailDef) => void): Promise<void> {
    const def = structuredClone(rj.def);
    change(def);
    let parts;
    try {
      parts = this.d.buildParts(def);
    } catch (e) {
      throw new CommandError('INVALID_VALUE', e instanceof F2bError ? e.message : (e as Error).message);
    }
    await this.d.update(rj, parts);
    this.d.syncFiles();
  }

  bans(jail: string): BanEntry[] {
    return this.jail(jail)
      .jail.activeBans()
      .map((b) => ({ ip: b.ip, time: b.time, bantime: b.end === Infinity ? -1 : b.bantime, end: b.end }));
  }

  banIp(jail: string, ip: string): boolean {
    const rj = this.jail(jail);
    if (rj.jail.isBanned(ip)) return false;
    return this.d.banIp(rj, ip);
  }

  unbanIp(jail: string, ip: string): number {
    return this.d.unbanIp(this.jail(jail), ip);
  }

  unbanAll(jail: string): number {
    return this.d.unbanAll(this.jail(jail));
  }
}

/** A regex as fail2ban's `get` shows it: tags (<HOST>, <F-USER>...) expanded. */
function expand(regex: string, usedns: string, multiline: boolean): string {
  return parseFailRegex(regex, usedns, multiline, 'regex').expanded;
}

/** The files a jail follows, in the order they were configured. */
function files(def: JailDef): string[] {
  return [...new Set(def.logpaths.flatMap((lp) => lp.files))];
}

/** journalmatch as fail2ban lists it: one list of FIELD=value terms per `+`-separated group. */
function journalMatches(def: JailDef): string[][] {
  const out: string[][] = [[]];
  for (const term of parseJournalMatch(def.filter.journalmatch)) {
    if (term === '+') out.push([]);
    else out[out.length - 1].push(term);
  }
  return out.filter((m) => m.length);
}

/** The filter and file changes of `set <JAIL> ...`, on a copy of the jail's configuration. */
function edit(def: JailDef, key: string, v: unknown): void {
  const f = def.filter;
  switch (key) {
    case 'usedns':
      f.usedns = v as JailDef['filter']['usedns'];
      return;
    case 'maxlines':
      f.maxlines = v as number;
      return;
    case 'prefregex':
      f.prefregex = (v as string) || undefined;
      return;
    case 'datepattern':
      f.datepattern = (v as string) || undefined;
      return;
    case 'logtimezone':
      def.logtimezone = (v as string) || undefined;
      return;
    case 'ignorecommand':
      def.ignorecommand = v as string;
      return;
    case 'addfailregex':
      f.failregex.push(v as string);
      return;
    case 'addignoreregex':
      f.ignoreregex.push(v as string);
      return;
    case 'delfailregex':
    case 'delignoreregex': {
      const list = key === 'delfailregex' ? f.failregex : f.ignoreregex;
      const i = v as number;
      if (!(i >= 0 && i < list.length)) throw new CommandError('INVALID_VALUE', `${key}: no regex number ${i} (there are ${list.length})`);
      list.splice(i, 1);
      return;
    }
    case 'addlogpath': {
      const { path, tail } = v as { path: string; tail: boolean };
      if (!files(def).includes(path)) def.logpaths.push({ pattern: path, files: [path], start: tail ? 'tail' : 'head' });
      return;
    }
    case 'dellogpath':
      def.logpaths = def.logpaths.map((lp) => ({ ...lp, files: lp.files.filter((x) => x !== v) })).filter((lp) => lp.files.length);
      return;
    case 'addjournalmatch':
    case 'deljournalmatch': {
      const terms = (v as string[]).join(' ');
      const groups = journalMatches(def).map((m) => m.join(' '));
      const next = key === 'addjournalmatch' ? [...groups, terms] : groups.filter((g) => g !== terms);
      f.journalmatch = next.join(' + ') || undefined;
      return;
    }
  }
  throw new CommandError('UNSUPPORTED', `set <JAIL> ${key} is not supported by f2b-fast`);
}

