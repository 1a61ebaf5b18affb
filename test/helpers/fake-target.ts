// An in-memory ControlTarget: the test double of the daemon (not of the control code under
// test). It keeps jails, bans and options in plain objects and records what it was asked to do.

import { CommandError } from '../../src/control/protocol';
import type { BanEntry, ControlTarget, JailChanges, JailStatusData, JailValues, ReloadOptions, ServerChanges, ServerValues } from '../../src/control/target';

export interface FakeJail {
  values: JailValues;
  status: Omit<JailStatusData, 'currentlyBanned' | 'bannedList' | 'totalBanned'>;
  totalBanned: number;
  bans: BanEntry[];
}

const LEVELS = ['CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG', 'TRACEDEBUG', 'HEAVYDEBUG'];

export function fakeJail(values: Partial<JailValues> = {}, status: Partial<FakeJail['status']> = {}): FakeJail {
  return {
    values: {
      logpath: [],
      logencoding: 'UTF-8',
      journalmatch: [],
      ignoreself: true,
      ignoreip: [],
      ignorecommand: '',
      prefregex: '',
      failregex: [],
      ignoreregex: [],
      usedns: 'warn',
      findtime: 600,
      datepattern: [null, 'Default Detectors'],
      logtimezone: null,
      maxmatches: 5,
      maxretry: 5,
      maxlines: 1,
      bantime: 600,
      actions: [],
      idle: false,
      ...values,
    },
    status: { currentlyFailed: 0, totalFailed: 0, ...status },
    totalBanned: 0,
    bans: [],
  };
}

export class FakeTarget implements ControlTarget {
  readonly jailMap = new Map<string, FakeJail>();
  readonly reloads: ReloadOptions[] = [];
  stopped = false;
  flushed = 0;
  /** epoch seconds the fake's bans start at */
  now = 1_700_000_000;
  server: ServerValues = {
    loglevel: 'INFO',
    logtarget: '/var/log/f2b-fast.log',
    syslogsocket: 'auto',
    dbfile: '/var/lib/f2b-fast/f2b-fast.sqlite3',
    dbpurgeage: 86400,
    dbmaxmatches: 10,
  };

  constructor(jails: Record<string, FakeJail> = {}) {
    for (const [name, j] of Object.entries(jails)) this.jailMap.set(name, j);
  }

  private get(jail: string): FakeJail {
    const j = this.jailMap.get(jail);
    // the transmitter checks names first: reaching here with an unknown jail is its bug
    if (!j) throw new Error(`FakeTarget: unknown jail ${jail} reached the target`);
    return j;
  }

  fleetStatus(): null {
    return null;
  }

  version(): string {
    return '9.9.9-fake';
  }
  jails(): string[] {
    return [...this.jailMap.keys()];
  }
  stop(): void {
    this.stopped = true;
  }
  stopJail(jail: string): void {
    this.get(jail);
    this.jailMap.delete(jail);
  }
  reload(opts: ReloadOptions): void {
    if (opts.jail !== null && !opts.ifExists && !this.jailMap.has(opts.jail)) throw new CommandError('INVALID_VALUE', `No section: '${opts.jail}'`);
    this.reloads.push(opts);
  }
  flushLogs(): string {
    this.flushed++;
    return 'rolled over';
  }
  serverGet<K extends keyof ServerValues>(key: K): ServerValues[K] {
    return this.server[key];
  }
  serverSet<K extends keyof ServerChanges>(key: K, value: ServerChanges[K]): void {
    if (key === 'loglevel') {
      const v = String(value).toUpperCase();
      if (!LEVELS.includes(v) && !/^\d+$/.test(v)) throw new CommandError('INVALID_VALUE', `Invalid log level '${v}'`);
      this.server.loglevel = v;
      return;
    }
    (this.server as unknown as Record<string, unknown>)[key] = value;
  }
  jailStatus(jail: string): JailStatusData {
    const j = this.get(jail);
    // a jail with journal matches reads the journal, the others their files
    const source = j.values.journalmatch.length ? { journalMatches: j.values.journalmatch } : { files: j.values.logpath };
    return { ...j.status, ...source, currentlyBanned: j.bans.length, totalBanned: j.totalBanned, bannedList: j.bans.map((b) => b.ip) };
  }
  jailGet<K extends keyof JailValues>(jail: string, key: K): JailValues[K] {
    const v = this.get(jail).values[key];
    return (v === undefined ? null : v) as JailValues[K];
  }
  jailSet<K extends keyof JailChanges>(jail: string, key: K, value: JailChanges[K]): void {
    const v = this.get(jail).values;
    const list = (k: 'ignoreip' | 'failregex' | 'ignoreregex' | 'logpath') => v[k];
    switch (key) {
      case 'addignoreip':
        if (!v.ignoreip.includes(value as string)) v.ignoreip.push(value as string);
        return;
      case 'delignoreip':
        v.ignoreip = v.ignoreip.filter((x) => x !== value);
        return;
      case 'addfailregex':
      case 'addignoreregex':
        list(key === 'addfailregex' ? 'failregex' : 'ignoreregex').push(value as string);
        return;
      case 'delfailregex':
      case 'delignoreregex':
        list(key === 'delfailregex' ? 'failregex' : 'ignoreregex').splice(value as number, 1);
        return;
      case 'addlogpath':
        v.logpath.push((value as { path: string }).path);
        return;
      case 'dellogpath':
        v.logpath = v.logpath.filter((x) => x !== value);
        return;
      case 'addjournalmatch':
        v.journalmatch.push(value as string[]);
        return;
      case 'deljournalmatch':
        v.journalmatch = v.journalmatch.filter((m) => m.join(' ') !== (value as string[]).join(' '));
        return;
      case 'datepattern':
        v.datepattern = [value as string, `pattern ${value as string}`];
        return;
      case 'logencoding':
        throw new CommandError('UNSUPPORTED', 'the fake cannot change logencoding');
    }
    (v as unknown as Record<string, unknown>)[key] = value;
  }
  bans(jail: string): BanEntry[] {
    return [...this.get(jail).bans];
  }
  banIp(jail: string, ip: string): boolean {
    const j = this.get(jail);
    if (j.bans.some((b) => b.ip === ip)) return false;
    const bantime = j.values.bantime;
    j.bans.push({ ip, time: this.now, bantime, end: bantime < 0 ? Infinity : this.now + bantime });
    j.totalBanned++;
    return true;
  }
  unbanIp(jail: string, ip: string): number {
    const j = this.get(jail);
    const before = j.bans.length;
    j.bans = j.bans.filter((b) => b.ip !== ip);
    return before - j.bans.length;
  }
  unbanAll(jail: string): number {
    const j = this.get(jail);
    const n = j.bans.length;
    j.bans = [];
    return n;
  }
}
