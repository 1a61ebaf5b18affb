// What the config reader hands the rest of f2b-fast: fully resolved jails, with the place in the
// config tree each one came from, and the problems found on the way.

import type { Overlay } from './overlay';

export interface SourceRef {
  file: string;
  line: number;
}

/** A filter, resolved: config interpolation (%(x)s) and config tags (<x>, <known/x>, <sec/x>) done.
 *  fail2ban's regex tags (<HOST>, <ADDR>, <F-USER>...</F-USER>, <SKIPLINES>, ...) are left in
 *  place: the matcher expands them. */
export interface FilterDef {
  /** filter name as referenced by the jail, e.g. "sshd" */
  name: string;
  /** path of the filter's main file (filter.d/NAME.conf), or '' for an inline/jail-only filter */
  file: string;
  /** options given in the jail's `filter = name[k=v, ...]` */
  options: Record<string, string>;
  failregex: string[];
  ignoreregex: string[];
  prefregex?: string;
  /** raw datepattern value (may hold several lines); undefined = default templates */
  datepattern?: string;
  maxlines: number;
  usedns: 'yes' | 'warn' | 'no' | 'raw';
  journalmatch?: string;
}

export interface ActionDef {
  /** action.d name, e.g. "iptables-multiport" */
  name: string;
  /** options given in `action = name[k=v, ...]` */
  options: Record<string, string>;
  /** instance name, unique within the jail (fail2ban's `actname`: the action name, suffixed
   *  when `name=` differs from the jail) */
  actname?: string;
  /** the action's main file: action.d/NAME.conf (or .local), or action.d/NAME.py */
  file?: string;
  /** what fail2ban's client hands the server for this action: its hooks (actionstart,
   *  actionban, ...) with config tags substituted, then its [Init] values overridden by the
   *  jail's options as written (`key?family=inet6` variants included; `name` and `actname`
   *  too). Ticket tags (<ip>, <matches>, ...) and tags with a ?family variant stay in place.
   *  Undefined for Python (.py) actions. */
  properties?: Record<string, string>;
}

export interface LogPathDef {
  /** the pattern as written (after interpolation) */
  pattern: string;
  /** files it matched when the config was read (globs expand once, like fail2ban) */
  files: string[];
  start: 'head' | 'tail';
}

export interface JailDef {
  name: string;
  /** where the jail's section header is (the last file that defines the section) */
  source: SourceRef;
  enabled: boolean;
  filter: FilterDef;
  logpaths: LogPathDef[];
  backend: string;
  maxretry: number;
  maxmatches: number;
  /** seconds */
  findtime: number;
  /** seconds; -1 = permanent */
  bantime: number;
  /** addresses, CIDR, dotted masks or DNS names, as written */
  ignoreip: string[];
  ignoreself: boolean;
  ignorecommand: string;
  port: string;
  protocol: string;
  chain?: string;
  /** resolved banaction name (e.g. "iptables-multiport") */
  banaction: string;
  actions: ActionDef[];
  logtimezone?: string;
  logencoding: string;
  /** every option of the jail section after interpolation, for later stages */
  options: Record<string, string>;
}

export interface ConfigIssue {
  severity: 'error' | 'warning';
  message: string;
  file?: string;
  line?: number;
  jail?: string;
}

export interface ServerDef {
  loglevel: string;
  logtarget: string;
  socket: string;
  pidfile: string;
  dbfile: string;
  dbpurgeage: number;
  /** syslog socket for logtarget SYSLOG (`auto` = the platform's) */
  syslogsocket?: string;
  /** `auto`, `yes` or `no` */
  allowipv6?: string;
  /** matches kept per ban in the database */
  dbmaxmatches?: number;
  /** fleet mode, when [fleet] names a Redis */
  fleet?: FleetSettings;
  /** the HTTP listener, when [metrics] has listen */
  metrics?: MetricsSettings;
  /** [firewall]: the periodic check and the ipset size (defaults when the section is absent) */
  firewall: FirewallSettings;
}

/** fail2ban.conf's [firewall] section (config/firewall.ts) */
export interface FirewallSettings {
  /** how often the daemon checks that its tables, chains, sets and rules are still there (0: never) */
  checkMs: number;
  /** ipset backend: most elements of a set (default IPSET_DEFAULT_MAXELEM) */
  ipsetMaxelem?: number;
}

/** fail2ban.conf's [metrics] section (config/metrics.ts): metrics, JSON API and dashboard */
export interface MetricsSettings {
  host: string;
  port: number;
  /** bearer token every request but the page must carry; unban over HTTP needs one */
  token?: string;
}

/** fail2ban.conf's [fleet] section (config/fleet.ts): bans shared through Redis (fleet/link.ts) */
export interface FleetSettings {
  /** redis:// or rediss:// (TLS) URL */
  url: string;
  /** Sentinel: the master's name and the sentinels (host:port); the URL's password and db apply */
  sentinelName?: string;
  sentinels?: { host: string; port: number }[];
  /** TLS files (PEM): the CA that signed the server's certificate, and a client certificate and
   *  key where Redis asks for one; any of them (or a rediss:// URL) turns TLS on */
  tls?: { ca?: string; cert?: string; key?: string };
  /** key prefix, default "f2b-fast:" */
  prefix: string;
  /** this host's name in the fleet, default os.hostname() */
  host: string;
  /** jails whose bans are published / applied ('*' = every jail) */
  publish: string[] | '*';
  apply: string[] | '*';
  /** jails whose failures count fleet-wide ('*' = every jail) */
  count: string[] | '*';
  /** about how many events the stream keeps */
  streamLength: number;
  /** how many events wait for Redis at most */
  queueLimit: number;
}

export interface ConfigTree {
  /** the directory (or jail.local file) given */
  dir: string;
  /** the root the tree's paths are built from: `dir`, or the bundled tree it is laid over */
  root: string;
  /** set when the files are read through an overlay (overlay.ts) */
  overlay?: Overlay;
  /** for messages: what was read, e.g. "/etc/f2b-fast over the bundled tree ... (paths from paths-debian.conf)" */
  source: string;
  server: ServerDef;
  /** enabled jails that resolved without error, in section order */
  jails: JailDef[];
  /** bad jails are reported here (file, line, jail) and left out of `jails` */
  issues: ConfigIssue[];
}
