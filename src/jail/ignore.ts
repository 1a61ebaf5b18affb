// ignoreip, ignoreself and ignorecommand: addresses a jail never bans (fail2ban's
// Filter.inIgnoreIPList, server/filter.py).
//
// The static rules answer at once (check): the host's own addresses (ignoreself), single
// addresses, subnets (CIDR or dotted masks) and DNS names, in fail2ban's order. Names are
// resolved through the shared DnsCache when checked, not once at start, so a name whose addresses
// change is followed (within the cache's 5 minutes plus one lookup: a check never waits for DNS,
// it uses the last answer while a fresh one is looked up; prepare() fetches the first ones).
//
// ignorecommand runs asynchronously (checkCommand), with `/bin/sh -c`: exit 0 = ignore, 1 = do
// not, anything else (or no end within the time limit) is an error, logged, and not ignored.
// Ticket values are never pasted into the shell text: each tag becomes a reference to an
// environment variable (`<ip>` -> "${f2bV_ip}", quoted to suit where the tag stands), so a
// captured field such as `$(touch /tmp/x)` reaches the command as plain text. ignorecache keeps
// the command's answers per key (`key="<ip>", max-count=100, max-time=5m`).

import { spawn } from 'node:child_process';
import { systemClock, type Clock } from '../clock';
import { parseFilterSpec } from '../config/spec';
import { str2seconds } from '../config/timespec';
import { F2bError } from '../errors';
import { silentLogger, type Logger } from '../log/logger';
import { TtlCache, type DnsCache } from '../net/dns';
import { fieldKey, pyFloat, reversePointer, TAG } from '../action/tags';
import { addressFamily, normalizeAddress, parseAddress, parseSubnet, subnetContains, type Subnet } from '../net/ip';

/** What fail2ban logs in "Ignore <ip> by <rule>". */
export type IgnoreRule = 'ip' | 'dns' | 'command' | 'ignoreself rule';

export interface IgnoreDecision {
  ignored: boolean;
  rule?: IgnoreRule;
  /** the answer came from ignorecache (fail2ban logs no "Ignore ... by" line then) */
  cached?: boolean;
}

/** The failure an ignorecommand may refer to, besides `<ip>`; tags whose value is not given
 *  stay in the command as written (as fail2ban leaves unknown tags). */
export interface IgnoreTicket {
  /** <fid>: the failure id (default: the address) */
  fid?: string;
  /** <time>: epoch seconds */
  time?: number;
  /** <matches>: the matched lines */
  matches?: string[];
  /** <failures> */
  failures?: number;
  /** <bantime>, <bancount> */
  bantime?: number;
  bancount?: number;
  /** <restored> (1 for a ban restored from the database) */
  restored?: boolean;
  /** the filter's captures: <F-USER> is fields.user (<F-ID> fid, <F-PORT> fport) */
  fields?: Record<string, string | undefined>;
}

export interface IgnoreCacheSpec {
  /** tags allowed, as in the command: `<ip>`, `<F-USER>`, ... */
  key: string;
  maxCount: number;
  /** seconds */
  maxTime: number;
}

export interface IgnoreOptions {
  ignoreip: readonly string[];
  ignoreself: boolean;
  ignorecommand?: string;
  /** raw `ignorecache` value */
  ignorecache?: string;
}

export interface IgnoreContext {
  dns: DnsCache;
  clock?: Clock;
  log?: Logger;
  /** jail name, for log lines and errors */
  jail?: string;
  /** where the jail is defined, for config errors */
  where?: { file?: string; line?: number };
  /** ignorecommand time limit; fail2ban's is 60 s */
  timeoutMs?: number;
}

/** fail2ban runs an ignorecommand with its default command time limit. */
export const IGNORECOMMAND_TIMEOUT_MS = 60_000;

type Entry = { text: string; net: Subnet } | { text: string; name: string };

const WIDTH = { 4: 32, 6: 128 } as const;

/** Parses `ignorecache` (`key="<ip>", max-count=100, max-time=5m`); null when empty. */
export function parseIgnoreCache(text: string | undefined, where: { file?: string; line?: number; jail?: string } = {}): IgnoreCacheSpec | null {
  if (!text || !text.trim()) return null;
  const bad = (why: string) => new F2bError('CONFIG_VALUE', `ignorecache: ${why}`, where);
  let options: Record<string, string>;
  try {
    options = parseFilterSpec(`cache[${text}]`).options;
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (!Object.keys(options).length) return null;
  if (options.key === undefined) throw bad('the "key" option is required');
  const countText = options['max-count'] ?? '100';
  if (!/^\s*[+-]?\d+(_\d+)*\s*$/.test(countText)) throw bad(`max-count must be an integer, not ${JSON.stringify(countText)}`);
  let maxTime: number;
  try {
    maxTime = str2seconds(options['max-time'] ?? '300');
  } catch (e) {
    throw bad(`max-time: ${(e as Error).message}`);
  }
  return { key: options.key, maxCount: parseInt(countText.replace(/_/g, ''), 10), maxTime };
}

/** One ignoreip word: an address, a subnet (`/24`, `/255.255.255.0`, `/ffff:ffff::`) or a name. */
function parseEntry(text: string, where: { file?: string; line?: number; jail?: string }): Entry {
  const bad = (why: string) => new F2bError('CONFIG_VALUE', `ignoreip ${JSON.stringify(text)}: ${why}`, where);
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const mask = slash < 0 ? undefined : text.slice(slash + 1);
  if (mask?.includes('/')) throw bad('too many "/"');
  const a = parseAddress(addr);
  let prefix: number | undefined;
  if (mask !== undefined) {
    if (/^\d+$/.test(mask)) prefix = Number(mask);
    else if (mask.includes('.') || mask.includes(':')) {
      const m = parseAddress(mask);
      const bits = m?.bits.toString(2).padStart(WIDTH[m.family], '0');
      if (!m || !bits || /01/.test(bits)) throw bad(`invalid mask ${JSON.stringify(mask)}`);
      prefix = bits.indexOf('0') < 0 ? bits.length : bits.indexOf('0');
    } else throw bad(`invalid mask ${JSON.stringify(mask)}`);
  }
  // fail2ban takes anything that is not an address for a DNS name (a mask after it is ignored)
  if (!a) return { text, name: addr };
  const width = WIDTH[a.family];
  // a prefix longer than the address matches the address alone, as it does in fail2ban
  const net = parseSubnet(`${addr}/${Math.min(prefix ?? width, width)}`);
  if (!net) throw bad('not an address or subnet');
  return { text, net };
}

/** `<F-NAME>`: a filter capture (upper case only, as in fail2ban) */
const FIELD_TAG = /^F-([A-Z0-9_-]+)$/;

/** What a tag stands for: text put in the command as is (<br>, <sp>, an absent <F-*>), or a
 *  value handed over in a variable. */
type TagValue = { inline: string } | { value: string };

/**
 * The command's text with each tag replaced by a reference to a variable, and those variables.
 * The reference suits the quoting at the tag's place: "${v}" outside quotes, ${v} inside double
 * quotes, '"${v}"' inside single quotes. Whatever the quoting really is, a value only ever
 * reaches the shell as a variable's expansion, never as shell text.
 */
export function shellCommand(template: string, tags: ReadonlyMap<string, TagValue>): { script: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const names = new Map<string, string>();
  let script = '';
  // the quoting in force where the scan stopped (an object: the closure below changes it)
  const state: { quote: '' | "'" | '"' } = { quote: '' };
  let scanned = 0;
  const advance = (to: number) => {
    let quote = state.quote;
    for (let i = scanned; i < to; i++) {
      const c = template[i];
      if (quote === "'") {
        if (c === "'") quote = '';
      } else if (c === '\\') i++;
      else if (c === quote) quote = '';
      else if (!quote && (c === "'" || c === '"')) quote = c;
    }
    state.quote = quote;
    scanned = Math.max(scanned, to);
  };
  let last = 0;
  for (const m of template.matchAll(TAG)) {
    const t = tags.get(m[1]);
    if (!t) continue;
    advance(m.index);
    script += template.slice(last, m.index);
    last = m.index + m[0].length;
    if ('inline' in t) {
      script += t.inline;
      advance(last);
      continue;
    }
    let name = names.get(m[1]);
    if (!name) {
      const base = `f2bV_${m[1].replace(/\W/g, '_')}`;
      name = base;
      for (let n = 2; Object.prototype.hasOwnProperty.call(env, name); n++) name = `${base}_${n}`;
      names.set(m[1], name);
      // a NUL cannot travel in the environment (nor in a shell string)
      env[name] = t.value.replace(/\0/g, '');
    }
    const q = state.quote;
    script += q === '"' ? `\${${name}}` : q === "'" ? `'"\${${name}}"'` : `"\${${name}}"`;
    scanned = last; // the tag's own characters do not change the quoting
  }
  return { script: script + template.slice(last), env };
}

/** The cache key: the key's tags replaced by their values as text (no shell involved). */
function cacheKey(template: string, tags: ReadonlyMap<string, TagValue>): string {
  return template.replace(TAG, (whole, name: string) => {
    const t = tags.get(name);
    return t ? ('inline' in t ? t.inline : t.value) : whole;
  });
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
  stdout: string;
  spawnError?: string;
}

/** `/bin/sh -c script` in its own process group, killed (group and all) at the time limit. */
function runShell(script: string, env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 200);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => errs.push(b));
    const finish = (r: Omit<RunResult, 'stdout' | 'stderr' | 'timedOut'>) => {
      clearTimeout(timer);
      // the shell is done; what it left running in its group must not outlive the time limit
      if (timedOut) killGroup('SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      // a background process holding the pipes must not keep us waiting
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ ...r, timedOut, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8') });
    };
    child.on('error', (e) => finish({ code: null, signal: null, spawnError: e.message }));
    child.on('exit', (code, signal) => finish({ code, signal }));
  });
}

let commandSerial = 0;

export class IgnoreList {
  ignoreself: boolean;
  private readonly singles = new Set<string>();
  private readonly list: Entry[] = [];
  private command: string;
  private cacheSpec: IgnoreCacheSpec | null;
  private cache: TtlCache<string, boolean> | null = null;
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly dns: DnsCache;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly where: { file?: string; line?: number; jail?: string };
  private readonly prefix: string;

  /** Throws F2bError(CONFIG_VALUE) for a malformed ignoreip entry or ignorecache. */
  constructor(opts: IgnoreOptions, ctx: IgnoreContext) {
    this.dns = ctx.dns;
    this.clock = ctx.clock ?? systemClock;
    this.log = ctx.log ?? silentLogger;
    this.timeoutMs = ctx.timeoutMs ?? IGNORECOMMAND_TIMEOUT_MS;
    this.where = { ...ctx.where, jail: ctx.jail };
    this.prefix = ctx.jail ? `[${ctx.jail}] ` : '';
    this.ignoreself = opts.ignoreself;
    this.command = opts.ignorecommand ?? '';
    this.cacheSpec = parseIgnoreCache(opts.ignorecache, this.where);
    this.resetCache();
    for (const e of opts.ignoreip) this.add(e);
  }

  /** An ignorecommand is set: ask checkCommand() after check() said "not ignored". */
  get hasCommand(): boolean {
    return this.command !== '';
  }

  /** Add one ignoreip entry (client `addignoreip`); false when it is there already. */
  add(text: string): boolean {
    const t = text.trim();
    if (!t) return false;
    const e = parseEntry(t, this.where);
    if ('net' in e && e.net.prefix === WIDTH[e.net.family]) {
      const ip = normalizeAddress(t.split('/')[0])!;
      if (this.singles.has(ip)) return false;
      this.singles.add(ip);
      return true;
    }
    const key = 'net' in e ? `${e.net.family}:${e.net.bits}/${e.net.prefix}` : e.name;
    if (this.list.some((x) => ('net' in x ? `${x.net.family}:${x.net.bits}/${x.net.prefix}` : x.name) === key)) return false;
    this.list.push(e);
    return true;
  }

  /** Remove one ignoreip entry as written (client `delignoreip`); false when it was not there. */
  remove(text: string): boolean {
    const t = text.trim();
    const e = parseEntry(t, this.where);
    if ('net' in e && e.net.prefix === WIDTH[e.net.family]) return this.singles.delete(normalizeAddress(t.split('/')[0])!);
    const i = this.list.findIndex((x) => ('net' in x && 'net' in e ? x.net.family === e.net.family && x.net.bits === e.net.bits && x.net.prefix === e.net.prefix : 'name' in x && 'name' in e && x.name === e.name));
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  /** The ignoreip entries (client `get ignoreip`): subnets and names, then single addresses. */
  entries(): string[] {
    return [...this.list.map((e) => e.text), ...this.singles];
  }

  /** The DNS names among the entries. */
  get names(): string[] {
    return this.list.flatMap((e) => ('name' in e ? [e.name] : []));
  }

  /** Change ignorecommand / ignorecache (client `set`); the cache starts empty. */
  setCommand(command: string): void {
    this.command = command;
    this.resetCache();
  }

  setCache(text: string): void {
    this.cacheSpec = parseIgnoreCache(text, this.where);
    this.resetCache();
  }

  /** Forget cached command answers (reload). DNS answers are the DnsCache's (dns.clear()). */
  clearCache(): void {
    this.cache?.clear();
  }

  private resetCache(): void {
    this.cache = this.cacheSpec ? new TtlCache(this.cacheSpec.maxCount, this.cacheSpec.maxTime, this.clock) : null;
    this.running.clear();
  }

  /** Look up the names and the host's own addresses before the first check; returns the names
   *  that resolve to nothing (the DnsCache logs them). */
  async prepare(): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all([
      ...this.names.map(async (n) => {
        if (!(await this.dns.addresses(n)).length) failed.push(n);
      }),
      this.ignoreself ? this.dns.ownAddresses() : undefined,
    ]);
    return failed;
  }

  /** The static rules, in fail2ban's order: ignoreself, single addresses, then subnets and
   *  names as listed. Never waits: names use the DnsCache's last answer. */
  check(ip: string): IgnoreDecision {
    const addr = normalizeAddress(ip);
    if (!addr) return { ignored: false };
    if (this.ignoreself) {
      // until the first answer, the loopback addresses stand for the host's own
      const own = this.dns.cachedOwnAddresses() ?? ['127.0.0.1', '::1'];
      if (own.includes(addr)) return { ignored: true, rule: 'ignoreself rule' };
    }
    if (this.singles.has(addr)) return { ignored: true, rule: 'ip' };
    for (const e of this.list) {
      if ('net' in e) {
        if (subnetContains(e.net, addr)) return { ignored: true, rule: 'ip' };
      } else if (this.dns.cachedAddresses(e.name)?.includes(addr)) {
        return { ignored: true, rule: 'dns' };
      }
    }
    return { ignored: false };
  }

  /**
   * The ignorecommand's answer for a failure of `ip` (call it when hasCommand and check() did
   * not ignore). Answers come from ignorecache when it has the key; one key runs one command
   * at a time.
   */
  async checkCommand(ip: string, ticket: IgnoreTicket = {}): Promise<IgnoreDecision> {
    if (!this.command) return { ignored: false };
    const command = this.command;
    const spec = this.cacheSpec;
    const cache = this.cache;
    const tags = await this.tagValues(ip, ticket, spec ? `${command}${spec.key}` : command);
    const key = spec ? cacheKey(spec.key, tags) : undefined;
    if (cache && key !== undefined) {
      const hit = cache.get(key);
      if (hit !== undefined) return hit ? { ignored: true, rule: 'command', cached: true } : { ignored: false, cached: true };
      let run = this.running.get(key);
      if (!run) {
        run = this.run(command, tags).then((ignored) => {
          if (this.cache === cache) cache.set(key, ignored);
          return ignored;
        });
        const done = run.finally(() => {
          if (this.running.get(key) === done) this.running.delete(key);
        });
        this.running.set(key, done);
        run = done;
      }
      return (await run) ? { ignored: true, rule: 'command' } : { ignored: false };
    }
    return (await this.run(command, tags)) ? { ignored: true, rule: 'command' } : { ignored: false };
  }

  /** The values of the tags `text` uses (ip-host is looked up only when used). */
  private async tagValues(ip: string, ticket: IgnoreTicket, text: string): Promise<Map<string, TagValue>> {
    const addr = normalizeAddress(ip) ?? ip;
    const family = addressFamily(addr);
    const tags = new Map<string, TagValue>();
    for (const m of text.matchAll(TAG)) {
      const name = m[1];
      if (tags.has(name)) continue;
      let v: TagValue | undefined;
      const field = FIELD_TAG.exec(name);
      if (field) {
        const value = ticket.fields?.[fieldKey(field[1])];
        // fail2ban puts nothing at all for an absent capture
        v = value === undefined ? { inline: '' } : { value };
      } else {
        switch (name) {
          case 'ip':
            v = { value: addr };
            break;
          case 'family':
            v = { value: family === 4 ? 'inet4' : family === 6 ? 'inet6' : 'None' };
            break;
          case 'ip-rev':
            v = { value: reversePointer(addr) };
            break;
          case 'ip-host':
            v = { value: (family ? await this.dns.hostName(addr) : null) ?? 'None' };
            break;
          case 'fid':
            v = { value: ticket.fid ?? addr };
            break;
          case 'time':
            if (ticket.time !== undefined) v = { value: pyFloat(ticket.time) };
            break;
          case 'matches':
            if (ticket.matches) v = { value: ticket.matches.join('\n') };
            break;
          case 'failures':
            if (ticket.failures !== undefined) v = { value: String(ticket.failures) };
            break;
          case 'bantime':
            if (ticket.bantime !== undefined) v = { value: String(Math.trunc(ticket.bantime)) };
            break;
          case 'bancount':
            if (ticket.bancount !== undefined) v = { value: String(ticket.bancount) };
            break;
          case 'restored':
            v = { value: ticket.restored ? '1' : '0' };
            break;
          case 'br':
            v = { inline: '\n' };
            break;
          case 'sp':
            v = { inline: ' ' };
            break;
          case 'fq-hostname':
          case 'sh-hostname':
            v = { value: await this.dns.hostname(name === 'fq-hostname') };
            break;
        }
      }
      if (v) tags.set(name, v);
    }
    return tags;
  }

  /** Runs the command: true = ignore (exit 0). Errors are logged and mean "do not ignore". */
  private async run(command: string, tags: ReadonlyMap<string, TagValue>): Promise<boolean> {
    const { script, env } = shellCommand(command, tags);
    const id = (++commandSerial).toString(16);
    this.log.debug(`${this.prefix}ignore command: ${script}`);
    const r = await runShell(script, env, this.timeoutMs);
    if (r.code === 0 || r.code === 1) return r.code === 0;
    this.log.error(`${id} -- exec: ${script}`);
    for (const line of r.stderr.split('\n')) if (line) this.log.error(`${id} -- stderr: ${JSON.stringify(line)}`);
    if (r.spawnError) this.log.error(`${id} -- failed with ${r.spawnError}`);
    else if (r.timedOut) this.log.error(`${id} -- timed out after ${this.timeoutMs / 1000} seconds.`);
    else if (r.signal) this.log.error(`${id} -- killed with ${r.signal}`);
    else this.log.error(`${id} -- returned ${r.code}`);
    return false;
  }
}
