// `<tag>` substitution in action commands at the moment they run, as fail2ban's server does it
// (CommandAction.replaceTag / replaceDynamicTags), in two passes:
//
// 1. static: the action's own properties (what the config reader left: per-family variants such
//    as `<iptables>`, tags inside [Init] values such as `to_target = >> <target>`) are
//    substituted recursively, a `key?family=inet6` value winning for that family; an unknown
//    tag falls back to the built-ins `<br>`, `<sp>`, `<fq-hostname>`, `<sh-hostname>`, else it
//    stays for pass 2. A property named `matches`, `ipmatches` or `ipjailmatches` is
//    backslash-escaped (escapeTag).
// 2. dynamic: the ticket's tags (`<ip>`, `<time>`, `<matches>`, `<F-USER>` ...), NOT recursive:
//    a value is never scanned for tags again. A value holding any shell metacharacter is never
//    pasted into the script: it is handed to the shell as a positional parameter and the tag
//    becomes a variable (`f2bV_<tag>=$N` assignments head the script), so `$(reboot)` captured
//    by a failregex arrives as text. (Inside single quotes the variable is not expanded, as with
//    fail2ban: action files quote such tags with double quotes.)

import { execFile } from 'node:child_process';
import { promises as dns } from 'node:dns';
import * as os from 'node:os';
import { F2bError } from '../errors';
import { substituteTags } from '../config/tags';
import { parseAddress } from '../net/ip';

/** One ban as the actions see it. */
export interface ActionTicket {
  ip: string;
  /** derived from `ip` when left out */
  family?: 'inet4' | 'inet6';
  /** the ticket time (the last failure) in epoch seconds; `<time>` prints it as Python does */
  time: number;
  /** seconds; -1 = permanent */
  bantime: number;
  bancount: number;
  failures: number;
  matches: string[];
  /** the failregex's named groups, keys as the filter stores them (`user` for <F-USER>) */
  fields: Record<string, string>;
  /** restored from the database at start-up (actions with `norestored` skip it) */
  restored: boolean;
  /** the failure id when it is not the address (`<fid>`) */
  fid?: string;
}

type Maybe<T> = T | Promise<T>;

/** Where the tags that are not in the ticket come from: the database's merged bans of an
 *  address and the jail's counters. Without a database, fail2ban falls back to the ticket
 *  itself for the ip* tags; so do we. Jail counters without a source are 0. */
export interface ActionTagSource {
  /** matches of the address's bans in every jail */
  ipMatches?(ip: string): Maybe<string[]>;
  /** matches of the address's bans in this jail */
  ipJailMatches?(ip: string): Maybe<string[]>;
  ipFailures?(ip: string): Maybe<number>;
  ipJailFailures?(ip: string): Maybe<number>;
  jailBanned?(): Maybe<number>;
  jailBannedTotal?(): Maybe<number>;
  jailFound?(): Maybe<number>;
  jailFoundTotal?(): Maybe<number>;
  /** reverse DNS for `<ip-host>`; default: the system resolver */
  hostOf?(ip: string): Promise<string | undefined>;
}

/** A script for `/bin/sh -c` and the values of its positional parameters ($0, $1, ...). */
export interface ShellCommand {
  script: string;
  args: string[];
}

const MAX_REPLACEMENTS = 25;
/** `<tag>` as fail2ban finds tags in a command (for matchAll and replace, which copy it) */
export const TAG = /<([^ <>]+)>/g;
/** capture-group tags; upper case only, as fail2ban */
const FIELD_TAG = /<F-([A-Z0-9_-]+)>/g;
/** tags whose static value is backslash-escaped */
export const ESCAPED_TAGS: ReadonlySet<string> = new Set(['matches', 'ipmatches', 'ipjailmatches']);
const SHELL_UNSAFE = /[\\#&;`|*?~<>^()[\]{}$'"\n\r]/;
const SHELL_UNSAFE_ALL = new RegExp(SHELL_UNSAFE.source, 'g');

/** Backslash before every character a shell treats specially; new lines as `\n`, `\r`. */
export function escapeTag(value: string): string {
  return value.replace(SHELL_UNSAFE_ALL, (c) => '\\' + (c === '\n' ? 'n' : c === '\r' ? 'r' : c));
}

/** `<F-USER>` -> `user`: the field name of a capture-group tag (`ID` is `fid`, `PORT` `fport`). */
export function fieldKey(tag: string): string {
  const t = tag.toLowerCase();
  return t === 'id' ? 'fid' : t === 'port' ? 'fport' : t;
}

/** A number as Python's str() prints a float: 1700000000.0, 1700000000.25. */
export function pyFloat(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? n.toFixed(1) : String(n);
}

/** `<ip-rev>`: the PTR name without its arpa suffix, dot-terminated (`4.3.2.1.`). */
export function reversePointer(ip: string): string {
  const a = parseAddress(ip);
  if (!a) return '';
  const parts: string[] = [];
  if (a.family === 4) for (let s = 0n; s < 32n; s += 8n) parts.push(String((a.bits >> s) & 0xffn));
  else for (let s = 0n; s < 128n; s += 4n) parts.push(((a.bits >> s) & 0xfn).toString(16));
  return `${parts.join('.')}.`;
}

export function familyOf(ip: string): '' | 'inet4' | 'inet6' {
  const a = parseAddress(ip);
  return a ? (a.family === 4 ? 'inet4' : 'inet6') : '';
}

const withTimeout = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> =>
  Promise.race([p, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms).unref())]);

/** fail2ban's own fully-qualified name: the canonical name getaddrinfo gives our host name
 *  (AI_CANONNAME, which Node's dns.lookup does not expose: `getent ahosts` prints it), else the
 *  name the resolver gives our address (Python's socket.getfqdn), else the host name. */
async function fqdn(name: string): Promise<string> {
  const canon = await new Promise<string>((resolve) => {
    execFile('getent', ['ahosts', name], { timeout: 5000 }, (err, stdout) => {
      // first line: ADDRESS  STREAM  CANONICAL-NAME
      resolve(err ? '' : (String(stdout).split('\n')[0].trim().split(/\s+/)[2] ?? ''));
    });
  });
  if (canon) return canon;
  try {
    const { address } = await dns.lookup(name);
    return (await dns.lookupService(address, 0)).hostname;
  } catch {
    return name;
  }
}

let hostNames: Promise<Map<string, string>> | undefined;

/** The built-in tags: `<br>`, `<sp>` and, when `withHosts`, our own host names (resolved once
 *  per process, at most 5 s). */
export async function builtinTags(withHosts: boolean): Promise<ReadonlyMap<string, string>> {
  const base = new Map([
    ['br', '\n'],
    ['sp', ' '],
  ]);
  if (!withHosts) return base;
  hostNames ??= (async () => {
    const sh = os.hostname();
    return new Map([
      ['fq-hostname', await withTimeout(fqdn(sh), 5000, sh)],
      ['sh-hostname', sh],
    ]);
  })();
  return new Map([...base, ...(await hostNames)]);
}

/** Python's repr() of a list of strings (for `<raw-ticket>`). */
function pyReprList(items: readonly string[]): string {
  const one = (s: string) => {
    const q = s.includes("'") && !s.includes('"') ? '"' : "'";
    const body = s.replace(/[\\\n\r\t]|[\x00-\x1f\x7f]/g, (c) =>
      c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
    return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
  };
  return `[${items.map(one).join(', ')}]`;
}

async function reverseName(ip: string, source: ActionTagSource): Promise<string> {
  if (!ip) return '';
  const lookup = source.hostOf ? source.hostOf(ip) : dns.lookupService(ip, 0).then((r) => r.hostname);
  // fail2ban prints Python's None when the address has no name
  return (await withTimeout(lookup.catch(() => undefined), 5000, undefined)) ?? 'None';
}

/** The value of one ticket tag, or undefined when `tag` is none. */
async function ticketValue(tag: string, t: ActionTicket, family: string, source: ActionTagSource): Promise<string | undefined> {
  const count = async (f: (() => Maybe<number>) | undefined) => String(f ? await f() : 0);
  switch (tag) {
    case 'ip':
      return t.ip;
    case 'family':
      return family;
    case 'ip-rev':
      return reversePointer(t.ip);
    case 'ip-host':
      return reverseName(t.ip, source);
    case 'fid':
      return t.fid ?? t.ip;
    case 'failures':
      return String(Math.trunc(t.failures));
    case 'time':
      return pyFloat(t.time);
    case 'bantime':
      return String(Math.trunc(t.bantime));
    case 'bancount':
      return String(t.bancount);
    case 'matches':
      return t.matches.join('\n');
    case 'restored':
      return t.restored ? '1' : '0';
    case 'ipmatches':
      return (source.ipMatches ? await source.ipMatches(t.ip) : t.matches).join('\n');
    case 'ipjailmatches':
      return (source.ipJailMatches ? await source.ipJailMatches(t.ip) : t.matches).join('\n');
    case 'ipfailures':
      return String(source.ipFailures ? await source.ipFailures(t.ip) : t.failures);
    case 'ipjailfailures':
      return String(source.ipJailFailures ? await source.ipJailFailures(t.ip) : t.failures);
    case 'raw-ticket':
      return `BanTicket: ip=${t.ip} time=${pyFloat(t.time)} bantime=${t.bantime} bancount=${t.bancount} #attempts=${t.failures} matches=${pyReprList(t.matches)}`;
    case 'jail.banned':
      return count(source.jailBanned);
    case 'jail.banned_total':
      return count(source.jailBannedTotal);
    case 'jail.found':
      return count(source.jailFound);
    case 'jail.found_total':
      return count(source.jailFoundTotal);
    default:
      return undefined;
  }
}

/** The ticket tags `cmd` refers to, with their values (only those are computed: some ask the
 *  database or the resolver). */
export async function ticketTags(cmd: string, ticket: ActionTicket, family: string, source: ActionTagSource = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of cmd.matchAll(TAG)) {
    if (out.has(m[1])) continue;
    const v = await ticketValue(m[1], ticket, family, source);
    if (v !== undefined) out.set(m[1], v);
  }
  return out;
}

/** The action's properties with tags among them substituted, per family condition, cached. */
export class StaticTags {
  private readonly resolved = new Map<string, Map<string, string>>();
  private readonly commands = new Map<string, string>();

  constructor(
    private readonly props: ReadonlyMap<string, string>,
    private readonly builtins: ReadonlyMap<string, string>,
  ) {}

  /** The text of `<hook>` (e.g. `actionban`) for `family` ('' = no family condition), with the
   *  action's own tags substituted and the ticket's left in place. Throws F2bError on
   *  self-referring tags. */
  command(hook: string, family: string): string {
    const cond = family ? `family=${family}` : '';
    const key = `${hook}\n${cond}`;
    let cmd = this.commands.get(key);
    if (cmd === undefined) {
      cmd = this.replace(`<${hook}>`, cond);
      this.commands.set(key, cmd);
    }
    return cmd;
  }

  private replace(query: string, cond: string): string {
    let sub = this.resolved.get(cond);
    if (!sub) {
      sub = substituteTags(this.props, { ignore: ESCAPED_TAGS, conditional: cond || undefined });
      this.resolved.set(cond, sub);
    }
    const values = sub;
    for (let left = MAX_REPLACEMENTS + 1; query.includes('<'); ) {
      const value = query.replace(TAG, (m, tag: string) => {
        const v = (cond ? values.get(`${tag}?${cond}`) : undefined) ?? values.get(tag);
        if (v === undefined) return this.builtins.get(tag) ?? m;
        return ESCAPED_TAGS.has(tag) ? escapeTag(v) : v;
      });
      if (value === query || !value.includes('<')) return value;
      query = value;
      if (--left <= 0) throw new F2bError('ACTION_COMMAND', `too many tag replacements (self-referring tags?) in: ${query.slice(0, 200)}`);
    }
    return query;
  }
}

/** Positional parameter N as the script refers to it (`${10}`: `$10` would be `$1` then 0). */
const param = (i: number) => (i < 10 ? `$${i}` : `\${${i}}`);

/** The dynamic pass: `values` (ticket tags) and `fields` (<F-*>, missing ones empty) into
 *  `cmd`, once, without recursion; unsafe values become positional parameters. */
export function substituteDynamic(
  cmd: string,
  values: ReadonlyMap<string, string>,
  fields: Readonly<Record<string, string>>,
  builtins: ReadonlyMap<string, string>,
): ShellCommand {
  const vars = new Map<string, string>();
  const use = (tag: string, value: string) => {
    if (!SHELL_UNSAFE.test(value)) return value;
    const name = `f2bV_${tag.replace(/\W/g, '_')}`;
    // a NUL cannot cross exec(); nothing else is changed
    vars.set(name, value.replace(/\0/g, ''));
    return `$${name}`;
  };
  let script = cmd.replace(TAG, (m, tag: string) => {
    const v = values.get(tag);
    return v === undefined ? (builtins.get(tag) ?? m) : use(tag, v);
  });
  if (script.includes('<')) {
    script = script.replace(FIELD_TAG, (_m, tag: string) => {
      const key = fieldKey(tag);
      return Object.hasOwn(fields, key) ? use(`F_${key}`, String(fields[key])) : '';
    });
  }
  if (!vars.size) return { script, args: [] };
  let head = '';
  let i = 0;
  for (const name of vars.keys()) head += `${name}=${param(i++)} `;
  return { script: `${head}\n${script}`, args: [...vars.values()] };
}
