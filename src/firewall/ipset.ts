// ipset + iptables backend: per jail and family an ipset of banned addresses and one of banned
// subnets, each matched by one iptables/ip6tables rule in a chain of our own that INPUT jumps to
// (fail2ban's iptables-ipset actions, batched); a tick of bans and unbans is one `ipset restore`.
//
// Layout (prefix 'f2b-fast'; sets are per network namespace, like the rules):
//   <prefix>-<jail>-ip4   hash:ip  family inet   timeout 0 maxelem N   single IPv4 addresses
//   <prefix>-<jail>-ip6   hash:ip  family inet6  ...                   single IPv6 addresses
//   <prefix>-<jail>-net4  hash:net family inet   ...                   IPv4 subnets (CIDR)
//   <prefix>-<jail>-net6  hash:net family inet6  ...                   IPv6 subnets
// chain <prefix> in table filter, `-I INPUT 1 -j <prefix>`, and per set (and protocol)
//   -A <prefix> -p tcp -m multiport --dports 22 -m set --match-set <set> src -j REJECT ...
//
// `timeout 0` on a set enables per-entry timeouts with "permanent" as the default; each ban
// carries its own `timeout N`, a permanent one `timeout 0`. Under `ipset restore -exist`, adding
// an element that is there replaces its timeout (permanent <-> timed both ways) and deleting one
// that is not there (already expired by the kernel) is no error: a release needs no care.
//
// iptables is touched only by init and close; an update is ipset alone.

import { createHash } from 'node:crypto';
import { F2bError } from '../errors';
import type { FirewallChanges } from '../types';
import type { FirewallBackend, FirewallJailSpec, LeftoverBan } from './backend';
import type { BanTarget } from './address';
import { compileJail, loadServices, type CompiledJail, type ServiceTable } from './jailspec';
import { firstLines, probeTool, Serial, spawnRunner, summary, type CommandResult, type CommandRunner } from './command';
import { gatherChanges, jailsToFlush } from './changes';

export interface IpsetOptions {
  /**
   * prefix of set names and the name of our iptables chain; default 'f2b-fast'. init and close
   * remove every set named `<prefix>-*-{ip4,ip6,net4,net6}`: two instances in one namespace need
   * prefixes where neither is the other plus '-...'.
   */
  prefix?: string;
  /** command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] */
  exec?: readonly string[];
  /** the ipset program; default 'ipset' (found in PATH) */
  ipset?: string;
  /** the iptables program; default 'iptables'. Its restore tool is this name + '-restore'. */
  iptables?: string;
  /** the ip6tables program; default 'ip6tables'. When it cannot run, IPv6 bans are reported, not applied. */
  ip6tables?: string;
  /**
   * Most elements one set holds; default 1,048,576. fail2ban creates its sets with ipset's
   * default of 65,536, and its users hit "Hash is full" in botnet waves or with long recidive
   * bans. The hash grows on demand, so a high limit costs no memory until it is used.
   */
  maxelem?: number;
  /** how commands are run; default spawnRunner(timeoutMs) */
  run?: CommandRunner;
  /** time limit of one command; default 60 s (fail2ban's action timeout) */
  timeoutMs?: number;
  /** service names for ports: a table, or the path of a services file; default /etc/services */
  services?: ServiceTable | string;
}

type Fam = 4 | 6;

const SETS = [
  { suffix: 'ip4', type: 'hash:ip', family: 4 },
  { suffix: 'ip6', type: 'hash:ip', family: 6 },
  { suffix: 'net4', type: 'hash:net', family: 4 },
  { suffix: 'net6', type: 'hash:net', family: 6 },
] as const;
const setIndex = (a: BanTarget): number => (a.family === 6 ? 1 : 0) + (a.subnet ? 2 : 0);

/** ipset names hold at most 31 characters (IPSET_MAXNAMELEN 32 with the NUL). */
const MAX_SET_NAME = 31;
/** The longest element timeout ipset accepts (seconds); a longer ban goes in as permanent. */
export const IPSET_MAX_TIMEOUT = 2_147_483;
export const IPSET_DEFAULT_MAXELEM = 1_048_576;
/** Attempts of one update when ipset rejects some of its entries (each attempt drops those). */
const MAX_ATTEMPTS = 8;
/** iptables' multiport match takes at most 15 ports, a range counting as two. */
const MULTIPORT_SLOTS = 15;

const UNAVAILABLE = 'ipset/iptables are not installed or cannot run: apt-get install ipset iptables, or run with --dry-run';

interface JailSets {
  compiled: CompiledJail;
  /** set names, indexed like SETS */
  sets: string[];
}

interface Op {
  jail: JailSets;
  /** index into SETS / jail.sets */
  set: number;
  /** canonical address text */
  addr: string;
  block: boolean;
  timeout: number | null;
}

/** One line of an update script and the change it carries. */
interface Line {
  text: string;
  op: Op;
}

/** What `iptables -S` shows of ours. */
interface ChainState {
  chain: boolean;
  /** INPUT rules jumping to our chain, as `-A INPUT ...` lines */
  jumps: string[];
  /** the rules of our chain, as `-A <chain> ...` lines */
  rules: string[];
}

export class IpsetBackend implements FirewallBackend {
  readonly name = 'ipset';
  readonly prefix: string;
  /** our iptables chain (in table filter of both families) */
  readonly chain: string;
  /** maxelem of the sets the next init creates: the option, doubled after each "Hash is full" */
  maxelem: number;
  private v6Reason: string | null = null;
  private readonly exec: readonly string[];
  private readonly ipsetProg: string;
  private readonly iptablesProg: Record<Fam, string>;
  private readonly run: CommandRunner;
  private readonly servicesOpt: ServiceTable | string | undefined;
  private jails = new Map<string, JailSets>();
  private readonly serial = new Serial();

  constructor(opts: IpsetOptions = {}) {
    this.prefix = opts.prefix ?? 'f2b-fast';
    // lower case: never a built-in chain or target (INPUT, DROP); 16 leaves room for jail names
    if (!/^[a-z][a-z0-9_-]{0,15}$/.test(this.prefix)) {
      throw new F2bError(
        'CONFIG_VALUE',
        `ipset prefix '${this.prefix}' must be 1-16 lower-case letters, digits, '_' or '-', starting with a letter`,
      );
    }
    this.chain = this.prefix;
    this.maxelem = opts.maxelem ?? IPSET_DEFAULT_MAXELEM;
    if (!Number.isInteger(this.maxelem) || this.maxelem < 1 || this.maxelem > 0xffffffff) {
      throw new F2bError('CONFIG_VALUE', `ipset maxelem ${opts.maxelem} must be a whole number from 1 to 4294967295`);
    }
    this.exec = opts.exec ?? [];
    this.ipsetProg = opts.ipset ?? 'ipset';
    this.iptablesProg = { 4: opts.iptables ?? 'iptables', 6: opts.ip6tables ?? 'ip6tables' };
    this.run = opts.run ?? spawnRunner(opts.timeoutMs);
    this.servicesOpt = opts.services;
  }

  /** Resolves to the ipset and iptables version lines; throws FIREWALL_UNAVAILABLE when either cannot run. */
  static async available(
    opts: Pick<IpsetOptions, 'exec' | 'ipset' | 'iptables' | 'run' | 'timeoutMs'> = {},
  ): Promise<string> {
    const run = opts.run ?? spawnRunner(opts.timeoutMs ?? 10_000);
    const versions: string[] = [];
    for (const prog of [opts.ipset ?? 'ipset', opts.iptables ?? 'iptables']) {
      versions.push(await probeTool(run, [...(opts.exec ?? []), prog, '--version'], `${UNAVAILABLE} (${prog})`));
    }
    return versions.join('; ');
  }

  /** Why IPv6 bans are not applied (ip6tables missing or failing at the last init), or null. */
  get ipv6Unavailable(): string | null {
    return this.v6Reason;
  }

  /**
   * The four set names of a jail (indexed ip4, ip6, net4, net6). Safe, short jail names are kept;
   * others are cut to their safe characters plus a hash of the original, so every name fits
   * ipset's 31 characters, two jails never share a set and nothing odd reaches a script.
   */
  setNames(jail: string): string[] {
    const budget = MAX_SET_NAME - this.prefix.length - 2 - Math.max(...SETS.map((s) => s.suffix.length));
    let id = jail;
    if (!/^[A-Za-z0-9_-]+$/.test(jail) || jail.length > budget) {
      const hash = createHash('sha256').update(jail).digest('hex').slice(0, 6);
      id = `${jail.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, budget - 7)}-${hash}`;
    }
    return SETS.map((s) => `${this.prefix}-${id}-${s.suffix}`);
  }

  init(specs: FirewallJailSpec[]): Promise<void> {
    return this.serial.run(async () => {
      const services = typeof this.servicesOpt === 'object' ? this.servicesOpt : loadServices(this.servicesOpt);
      const jails = new Map<string, JailSets>();
      const owners = new Map<string, string>();
      for (const spec of specs) {
        if (jails.has(spec.jail)) throw new F2bError('CONFIG_VALUE', 'jail given twice', { jail: spec.jail });
        const sets = this.setNames(spec.jail);
        const other = owners.get(sets[0]);
        if (other !== undefined) throw new F2bError('CONFIG_VALUE', `ipset names collide with jail '${other}'`, { jail: spec.jail });
        owners.set(sets[0], spec.jail);
        jails.set(spec.jail, { compiled: checkIpsetJail(compileJail(spec, services)), sets });
      }
      this.jails = new Map();

      // 1. unhook and empty our chain (what a crashed run left refers to the old sets)
      this.v6Reason = null;
      const families: Fam[] = [];
      for (const fam of [4, 6] as const) {
        const state = await this.chainState(fam);
        if (typeof state === 'string') {
          this.v6Reason = `IPv6 is not filtered: ${state}`;
          continue;
        }
        families.push(fam);
        if (state.chain || state.jumps.length) {
          const lines = [`:${this.chain} - [0:0]`, `-F ${this.chain}`, ...state.jumps.map(unjump)];
          await this.iptablesRestore(fam, lines, 'cannot unhook the old chain');
        }
      }

      // 2. replace our sets: destroy every old one (also of jails no longer configured), create anew
      const script = (await this.ourSets()).map((s) => `destroy ${s}`);
      for (const j of jails.values()) {
        SETS.forEach((s, i) => {
          if (!families.includes(s.family)) return;
          script.push(`create ${j.sets[i]} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${this.maxelem}`);
        });
      }
      if (script.length) await this.ipsetOrThrow(script, 'cannot create the ipsets');

      // 3. one rule per set, then the jump from INPUT
      for (const fam of families) {
        const rules = [...jails.values()].flatMap((j) => this.rules(j, fam));
        await this.iptablesRestore(
          fam,
          [`:${this.chain} - [0:0]`, `-F ${this.chain}`, ...rules, `-I INPUT 1 -j ${this.chain}`],
          'cannot create the iptables rules',
        );
      }
      this.jails = jails;
    });
  }

  update(changes: FirewallChanges): Promise<void> {
    return this.serial.run(() => this.apply(changes));
  }

  /**
   * What is gone of what init set up (a set destroyed, the chain flushed or unhooked by hand),
   * one line each; [] when all is there. Contents are not compared: the kernel expires entries.
   */
  check(): Promise<string[]> {
    return this.serial.run(async () => {
      if (!this.jails.size) return [];
      const problems: string[] = [];
      const present = new Set(await this.ourSets());
      for (const j of this.jails.values()) {
        j.sets.forEach((set, i) => {
          if (this.usable(i) && !present.has(set)) problems.push(`ipset ${set} is missing`);
        });
      }
      for (const fam of [4, 6] as const) {
        if (fam === 6 && this.v6Reason !== null) continue;
        const state = await this.chainState(fam);
        const prog = this.iptablesProg[fam];
        if (typeof state === 'string') problems.push(state);
        else if (!state.chain) problems.push(`${prog} chain ${this.chain} is missing`);
        else {
          if (!state.jumps.length) problems.push(`${prog} INPUT no longer jumps to chain ${this.chain}`);
          const want = [...this.jails.values()].reduce((n, j) => n + this.rules(j, fam).length, 0);
          if (state.rules.length < want) problems.push(`${prog} chain ${this.chain} has ${state.rules.length} of its ${want} rules`);
        }
      }
      return problems;
    });
  }

  flush(jail?: string): Promise<void> {
    return this.serial.run(async () => {
      const list = jailsToFlush(this.jails, jail);
      const script = list.flatMap((j) => j.sets.filter((_, i) => this.usable(i)).map((s) => `flush ${s}`));
      if (script.length) await this.ipsetOrThrow(script, 'cannot flush');
    });
  }

  /** Removes the jump, the chain and every set of ours; keeps going past a failing step and reports all. */
  close(): Promise<void> {
    return this.serial.run(async () => {
      this.jails = new Map();
      const errors: string[] = [];
      const step = async (fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (e) {
          if (!(e instanceof F2bError) || e.code !== 'FIREWALL_COMMAND') throw e;
          errors.push(e.message);
        }
      };
      for (const fam of [4, 6] as const) {
        await step(async () => {
          const state = await this.chainState(fam);
          if (typeof state === 'string') return; // no ip6tables: nothing of ours there either
          const lines = state.jumps.map(unjump);
          if (state.chain) lines.push(`-F ${this.chain}`, `-X ${this.chain}`);
          if (lines.length) await this.iptablesRestore(fam, lines, 'cannot remove the iptables chain');
        });
      }
      await step(async () => {
        const sets = await this.ourSets();
        if (sets.length) await this.ipsetOrThrow(sets.map((s) => `destroy ${s}`), 'cannot destroy the ipsets');
      });
      if (errors.length) throw new F2bError('FIREWALL_COMMAND', errors.join('; '));
    });
  }

  private async apply(changes: FirewallChanges): Promise<void> {
    const { changes: gathered, rejected, total } = gatherChanges(changes, (j) => this.jails.get(j));
    const ops = gathered.map((c): Op => ({ jail: c.jail, set: setIndex(c.addr), addr: c.addr.text, block: c.block, timeout: c.timeout }));

    let live: Op[] = [];
    for (const op of ops) {
      if (this.usable(op.set)) live.push(op);
      else rejected.push(`${op.jail.compiled.jail} ${op.addr}: ${this.v6Reason}`);
    }

    const full = new Set<string>();
    for (let attempt = 1; live.length; attempt++) {
      const lines = render(live);
      const r = await this.ipset(['restore', '-exist'], lines.map((l) => l.text));
      if (r.code === 0) break;
      // ipset stops at the first bad line; lines before it may or may not be in (a syntax error
      // discards the batch it was parsed into). Everything here is idempotent under -exist, so
      // the retry runs the whole script again without the culprits.
      const m = /Error in line (\d+): (.*)/.exec(r.stderr);
      const bad = m ? lines[Number(m[1]) - 1] : undefined;
      if (!m || !bad || attempt >= MAX_ATTEMPTS) {
        const before = rejected.length ? ` (and before that: ${summary(rejected)})` : '';
        throw new F2bError(
          'FIREWALL_COMMAND',
          `ipset rejected the update; its ${live.length} remaining changes were not all applied: ${firstLines(r)}${before}`,
        );
      }
      const msg = m[2].trim();
      const setName = bad.op.jail.sets[bad.op.set];
      const isFull = /Hash is full/i.test(msg);
      let drop: (op: Op, i: number) => boolean = (op) => op === bad.op;
      if (isFull) {
        // the elements before it went in (a kernel error), the later adds to that set would fail too
        const at = live.indexOf(bad.op);
        drop = (op, i) => op.block && op.jail === bad.op.jail && op.set === bad.op.set && i >= at;
        full.add(setName);
      } else if (/does not exist/i.test(msg)) {
        drop = (op) => op.jail === bad.op.jail && op.set === bad.op.set;
      }
      const keep: Op[] = [];
      live.forEach((op, i) => {
        if (!drop(op, i)) return void keep.push(op);
        rejected.push(`${op.jail.compiled.jail} ${op.addr}: ${isFull ? `set ${setName} is full` : `${setName}: ${msg}`}`);
      });
      live = keep;
    }

    if (rejected.length) {
      let hint = '';
      if (full.size) {
        // the repair that follows a failed update (init, then every active ban again) creates
        // the sets this large; [firewall] ipset_maxelem sets the size a start begins with
        const was = this.maxelem;
        this.maxelem = Math.min(was * 2, 0xffffffff);
        hint =
          ` (ipset ${[...full].join(', ')} ${full.size > 1 ? 'are' : 'is'} full at maxelem ${was}: ` +
          `the sets are created with maxelem ${this.maxelem} when set up again; [firewall] ipset_maxelem sets the size to start with)`;
      }
      throw new F2bError(
        'FIREWALL_COMMAND',
        `${rejected.length} of ${total} firewall changes were not applied (the others were): ${summary(rejected)}${hint}`,
      );
    }
  }

  /** The rules matching one jail's sets of one family: one per set, protocol and 15 ports. */
  private rules(j: JailSets, fam: Fam): string[] {
    const c = j.compiled;
    // an ICMP of the other family can never match: no rule (nft's rule would never match either)
    const protocols = c.protocols === null ? [null] : c.protocols.filter((p) => p !== (fam === 4 ? 'ipv6-icmp' : 'icmp'));
    const portLists = c.ports === null ? [null] : multiportLists(c.ports);
    const target = iptablesTarget(fam === 4 ? c.blocktype : c.blocktype6, fam);
    const rules: string[] = [];
    SETS.forEach((s, i) => {
      if (s.family !== fam) return;
      for (const p of protocols) {
        for (const ports of portLists) {
          const proto = p === null ? '' : `-p ${p} `;
          const dports = ports === null ? '' : `-m multiport --dports ${ports} `;
          rules.push(`-A ${this.chain} ${proto}${dports}-m set --match-set ${j.sets[i]} src -j ${target}`);
        }
      }
    });
    return rules;
  }

  /** Whether sets of SETS[i]'s family exist (IPv6 needs a working ip6tables). */
  private usable(i: number): boolean {
    return SETS[i].family === 4 || this.v6Reason === null;
  }

  /**
   * Our chain and INPUT's jumps to it, from `iptables -S`. For IPv6 a string when ip6tables
   * cannot run (the reason): IPv6 bans are then reported instead of applied.
   */
  private async chainState(fam: Fam): Promise<ChainState | string> {
    const prog = this.iptablesProg[fam];
    let r: CommandResult;
    try {
      r = await this.run([...this.exec, prog, '-w', '-S'], '');
    } catch (e) {
      if (!(e instanceof F2bError) || e.code !== 'FIREWALL_UNAVAILABLE') throw e;
      if (fam === 6) return e.message;
      throw new F2bError('FIREWALL_UNAVAILABLE', `${UNAVAILABLE} (${e.message})`);
    }
    if (r.code !== 0) {
      if (fam === 6) return `${prog} -S failed: ${firstLines(r)}`;
      throw new F2bError('FIREWALL_COMMAND', `cannot read the iptables rules: ${prog} exited with ${r.code}: ${firstLines(r)}`);
    }
    const state: ChainState = { chain: false, jumps: [], rules: [] };
    for (const line of r.stdout.split('\n')) {
      if (line === `-N ${this.chain}`) state.chain = true;
      else if (line.startsWith('-A INPUT ') && ` ${line} `.includes(` -j ${this.chain} `)) state.jumps.push(line);
      else if (line.startsWith(`-A ${this.chain} `)) state.rules.push(line);
    }
    return state;
  }

  private async iptablesRestore(fam: Fam, lines: string[], what: string): Promise<void> {
    const prog = `${this.iptablesProg[fam]}-restore`;
    const r = await this.runWrapped([...this.exec, prog, '-w', '--noflush'], ['*filter', ...lines, 'COMMIT', ''].join('\n'));
    if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `${what}: ${prog} exited with ${r.code}: ${firstLines(r)}`);
  }

  /**
   * The elements of the jails' sets as an earlier run left them (none when there are no such
   * sets), with the seconds each has left: `ipset save SET` prints `add SET ADDR timeout N`,
   * N = 0 for a permanent one. ipset keeps no ban's length, only what is left of it: `timeout`
   * is null.
   */
  leftover(specs: FirewallJailSpec[]): Promise<LeftoverBan[]> {
    return this.serial.run(async () => {
      const bySet = new Map<string, string>();
      for (const spec of specs) for (const set of this.setNames(spec.jail)) bySet.set(set, spec.jail);
      const out: LeftoverBan[] = [];
      for (const set of await this.ourSets()) {
        const jail = bySet.get(set);
        if (jail === undefined) continue;
        const r = await this.ipset(['save', set], []);
        if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `cannot read the ipset ${set}: ipset exited with ${r.code}: ${firstLines(r)}`);
        for (const line of r.stdout.split('\n')) {
          const m = /^add (\S+) ([0-9A-Fa-f:.]+(?:\/\d+)?)(?: .*?\btimeout (\d+))?/.exec(line);
          if (!m || m[1] !== set) continue;
          const left = m[3] === undefined ? 0 : Number(m[3]);
          out.push({ jail, ip: m[2], expires: left > 0 ? left : null, timeout: null });
        }
      }
      return out;
    });
  }

  /** Our sets present in the kernel (set names of earlier runs included). */
  private async ourSets(): Promise<string[]> {
    const r = await this.ipset(['list', '-n'], []);
    if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `cannot list the ipsets: ipset exited with ${r.code}: ${firstLines(r)}`);
    const ours = new RegExp(`^${this.prefix}-[A-Za-z0-9_-]+-(?:${SETS.map((s) => s.suffix).join('|')})$`);
    return r.stdout.split('\n').filter((n) => ours.test(n));
  }

  private ipset(args: string[], lines: string[]): Promise<CommandResult> {
    return this.runWrapped([...this.exec, this.ipsetProg, ...args], lines.length ? lines.join('\n') + '\n' : '');
  }

  private async ipsetOrThrow(lines: string[], what: string): Promise<void> {
    const r = await this.ipset(['restore'], lines);
    if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `${what}: ipset exited with ${r.code}: ${firstLines(r)}`);
  }

  private async runWrapped(argv: string[], input: string): Promise<CommandResult> {
    try {
      return await this.run(argv, input);
    } catch (e) {
      if (!(e instanceof F2bError) || e.code !== 'FIREWALL_UNAVAILABLE') throw e;
      throw new F2bError('FIREWALL_UNAVAILABLE', `${UNAVAILABLE} (${e.message})`);
    }
  }

  /** One command sequence at a time: flush or close may come while an update runs. */
}

/**
 * The `ipset restore` lines of one update: releases, then blocks, each grouped by set (ipset
 * sends consecutive commands of one set to the kernel in one message).
 */
function render(ops: Op[]): Line[] {
  const lines: Line[] = [];
  for (const block of [false, true]) {
    const bySet = new Map<string, Line[]>();
    for (const op of ops) {
      if (op.block !== block) continue;
      const set = op.jail.sets[op.set];
      const text = block ? `add ${set} ${op.addr} timeout ${ipsetTimeout(op.timeout)}` : `del ${set} ${op.addr}`;
      const list = bySet.get(set);
      if (list) list.push({ text, op });
      else bySet.set(set, [{ text, op }]);
    }
    for (const list of bySet.values()) for (const l of list) lines.push(l);
  }
  return lines;
}

/**
 * Seconds for `timeout N`: 0 is permanent. Longer than ipset can hold is permanent too (as in
 * fail2ban's iptables-ipset); the jail's own unban schedule still releases it.
 */
function ipsetTimeout(timeout: number | null): number {
  if (timeout === null) return 0;
  const s = Math.max(1, Math.ceil(timeout));
  return s > IPSET_MAX_TIMEOUT ? 0 : s;
}

/** Port ranges as multiport lists of at most 15 slots: '22,80:90'. */
function multiportLists(ports: { from: number; to: number }[]): string[] {
  const lists: string[] = [];
  let items: string[] = [];
  let slots = 0;
  for (const r of ports) {
    const need = r.from === r.to ? 1 : 2;
    if (slots + need > MULTIPORT_SLOTS) {
      lists.push(items.join(','));
      items = [];
      slots = 0;
    }
    items.push(r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`);
    slots += need;
  }
  lists.push(items.join(','));
  return lists;
}

const ICMP_WORDS = new Map([
  ['port-unreachable', 'icmp-port-unreachable'],
  ['host-unreachable', 'icmp-host-unreachable'],
  ['net-unreachable', 'icmp-net-unreachable'],
  ['prot-unreachable', 'icmp-proto-unreachable'],
  ['net-prohibited', 'icmp-net-prohibited'],
  ['host-prohibited', 'icmp-host-prohibited'],
  ['admin-prohibited', 'icmp-admin-prohibited'],
]);
const ICMPV6_WORDS = new Map([
  ['port-unreachable', 'icmp6-port-unreachable'],
  ['addr-unreachable', 'icmp6-addr-unreachable'],
  ['no-route', 'icmp6-no-route'],
  ['admin-prohibited', 'icmp6-adm-prohibited'],
]);

/** A jail this backend can hold: its rule hangs from INPUT (our chain's one jump). */
export function checkIpsetJail(c: CompiledJail): CompiledJail {
  if (c.chain !== 'INPUT') {
    throw new F2bError('CONFIG_VALUE', `chain ${c.chain}: the ipset backend (iptables-ipset* actions) hooks INPUT only; iptables-multiport or nftables-multiport block forwarded traffic`, { jail: c.jail });
  }
  return c;
}

/** jailspec's verdict (nft words) as an iptables target of one family; fail2ban's defaults for reject. */
export function iptablesTarget(blocktype: string, fam: Fam): string {
  const icmp = (v4: string, v6: string) => `REJECT --reject-with ${fam === 4 ? v4 : v6}`;
  switch (blocktype) {
    case 'drop':
      return 'DROP';
    case 'accept':
      return 'ACCEPT';
    case 'return':
      return 'RETURN';
    case 'reject with tcp reset':
      return 'REJECT --reject-with tcp-reset';
    case 'reject':
    case 'reject with icmpx type port-unreachable':
      return icmp('icmp-port-unreachable', 'icmp6-port-unreachable');
    case 'reject with icmpx type admin-prohibited':
      return icmp('icmp-admin-prohibited', 'icmp6-adm-prohibited');
    case 'reject with icmpx type host-unreachable':
      return icmp('icmp-host-unreachable', 'icmp6-addr-unreachable');
    case 'reject with icmpx type no-route':
      return icmp('icmp-net-unreachable', 'icmp6-no-route');
  }
  // jailspec's per-family types: nft's names, iptables' words
  const t = /^reject with (icmp|icmpv6) type ([\w-]+)$/.exec(blocktype);
  if (t && (t[1] === 'icmp') === (fam === 4)) {
    const word = t[1] === 'icmp' ? ICMP_WORDS.get(t[2]) : ICMPV6_WORDS.get(t[2]);
    if (word) return `REJECT --reject-with ${word}`;
  }
  throw new F2bError('CONFIG_VALUE', `blocktype '${blocktype}' has no iptables equivalent`);
}

/** '-A INPUT ... -j chain' as the line that deletes it. */
function unjump(line: string): string {
  return `-D${line.slice(2)}`;
}


