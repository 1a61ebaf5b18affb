// What the control socket asks of the daemon: the ControlTarget the daemon implements and the
// Transmitter (src/control/transmitter.ts) calls. The transmitter parses fail2ban's command forms,
// checks jail names and shapes results; the target only reads and changes state.
//
// Any method may return a promise. Errors: throw CommandError (src/control/protocol.ts) with
// UNSUPPORTED for an option the daemon cannot change at run time, INVALID_VALUE for a value it
// refuses; any other F2bError becomes an error reply with its code and message.

import type { FleetStatus } from '../fleet/link';

/** Something or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** The server options `get`/`set` read and change (fail2ban's LOGGING and DATABASE groups). */
export interface ServerValues {
  /** as set (upper case), e.g. "INFO" */
  loglevel: string;
  logtarget: string;
  syslogsocket: string;
  /** null: no database */
  dbfile: string | null;
  /** seconds; null: no database */
  dbpurgeage: number | null;
  /** null: no database */
  dbmaxmatches: number | null;
}

/** What `set <option> <value>` hands the daemon (values already parsed by the transmitter). */
export interface ServerChanges {
  /** the level as given (CRITICAL ... HEAVYDEBUG or a number); INVALID_VALUE if unknown */
  loglevel: string;
  logtarget: string;
  syslogsocket: string;
  /** seconds */
  dbpurgeage: number;
  dbmaxmatches: number;
}

/** fail2ban's datepattern answer: null (no detector), or [pattern or null, name]; the name is
 *  "Default Detectors" when the default templates (or more than two) are in use. */
export type DatePattern = null | [string | null, string];

/** The per-jail values `get <JAIL> <option>` returns, as fail2ban returns them. */
export interface JailValues {
  /** files followed, in the order they were added */
  logpath: string[];
  logencoding: string;
  /** journal matches, each a list of FIELD=value terms */
  journalmatch: string[][];
  ignoreself: boolean;
  /** the ignore list in canonical form (subnets and names first, then single addresses, as
   *  fail2ban lists them) */
  ignoreip: string[];
  ignorecommand: string;
  /** '' when none */
  prefregex: string;
  /** with fail2ban's tags (<HOST>, <F-USER>, ...) expanded to the regex they stand for */
  failregex: string[];
  ignoreregex: string[];
  usedns: string;
  /** seconds */
  findtime: number;
  datepattern: DatePattern;
  logtimezone: string | null;
  maxmatches: number;
  maxretry: number;
  maxlines: number;
  /** seconds; -1 = permanent */
  bantime: number;
  /** action names */
  actions: string[];
  /** whether the jail is idle (`set <JAIL> idle on`) */
  idle: boolean;
  /** bantime.increment, bantime.factor, ...: null when not set */
  [extra: `bantime.${string}`]: string | number | boolean | null;
}

/** What `set <JAIL> <option> <value>` hands the daemon (values already parsed). The transmitter
 *  answers with the matching JailValues entry read after the change, as fail2ban does. */
export interface JailChanges {
  bantime: number;
  findtime: number;
  maxretry: number;
  maxmatches: number;
  maxlines: number;
  usedns: string;
  ignoreself: boolean;
  ignorecommand: string;
  datepattern: string;
  logencoding: string;
  prefregex: string;
  logtimezone: string;
  idle: boolean;
  addignoreip: string;
  delignoreip: string;
  addfailregex: string;
  /** index into the failregex list */
  delfailregex: number;
  addignoreregex: string;
  delignoreregex: number;
  addlogpath: { path: string; tail: boolean };
  dellogpath: string;
  addjournalmatch: string[];
  deljournalmatch: string[];
  /** bantime.<opt> as written (the daemon converts, e.g. maxtime to seconds) */
  [extra: `bantime.${string}`]: string;
}

/** A jail's counters for `status <JAIL>`. */
export interface JailStatusData {
  currentlyFailed: number;
  totalFailed: number;
  /** files followed (file backends) */
  files?: string[];
  /** journal matches (systemd backend), each a list of FIELD=value terms */
  journalMatches?: string[][];
  currentlyBanned: number;
  totalBanned: number;
  /** the addresses banned now, in the order they were banned */
  bannedList: string[];
}

/** One current ban, for `get <JAIL> banip [--with-time]`. */
/** `status --json` and /api/status. */
export interface StatusData {
  version: string;
  jails: ({ name: string } & Omit<JailStatusData, 'bannedList'>)[];
  fleet: FleetStatus | null;
}

export interface BanEntry {
  ip: string;
  /** start of the ban, epoch seconds */
  time: number;
  /** seconds; -1 = permanent */
  bantime: number;
  /** end of the ban, epoch seconds; Infinity = permanent */
  end: number;
}

export interface ReloadOptions {
  /** null: every jail (`reload` / `reload --all`) */
  jail: string | null;
  /** stop the affected jails and start them again */
  restart: boolean;
  /** lift their bans first */
  unban: boolean;
  /** a jail that is not configured is not an error */
  ifExists: boolean;
}

export interface ControlTarget {
  /** the daemon's version (f2b-fast's package version) */
  version(): string;
  /** running jail names, in the order they were started */
  jails(): string[];
  /** Begin shutting down and resolve at once: the reply goes out before the socket closes. */
  stop(): Awaitable<void>;
  /** Stop one jail (fail2ban: `stop <JAIL>` removes it): its bans are lifted, its files let go. */
  stopJail(jail: string): Awaitable<void>;
  /** Read the config again and apply it (fail2ban's `reload` semantics, fail2ban-reference §1). */
  reload(opts: ReloadOptions): Awaitable<void>;
  /** Reopen the log file: "rolled over" for a file target, "flushed" otherwise. */
  flushLogs(): Awaitable<string>;

  serverGet<K extends keyof ServerValues>(key: K): Awaitable<ServerValues[K]>;
  serverSet<K extends keyof ServerChanges>(key: K, value: ServerChanges[K]): Awaitable<void>;

  jailStatus(jail: string): Awaitable<JailStatusData>;
  jailGet<K extends keyof JailValues>(jail: string, key: K): Awaitable<JailValues[K]>;
  jailSet<K extends keyof JailChanges>(jail: string, key: K, value: JailChanges[K]): Awaitable<void>;
  /** the jail's current bans, in the order they were banned (`banned` lists them so) */
  bans(jail: string): Awaitable<BanEntry[]>;
  /** Ban now for the jail's bantime; false when already banned. */
  banIp(jail: string, ip: string): Awaitable<boolean>;
  /** Lift the bans `ip` covers (a subnet may cover several) and forget it in the database even
   *  when not banned now; the number of bans lifted. */
  unbanIp(jail: string, ip: string): Awaitable<number>;
  /** Lift every ban of the jail and clear them from the database; the number lifted. */
  unbanAll(jail: string): Awaitable<number>;
  /** Fleet mode's link (`fleet status`); null when fleet mode is off. */
  fleetStatus(): Awaitable<FleetStatus | null>;
}
