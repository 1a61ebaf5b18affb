// nftables backend: one table of our own, one input chain, per jail a set of banned addresses
// per family; a tick of bans and unbans is one `nft -f -` transaction.
//
// Layout (table `inet f2b-fast`; chain `input` hooked at input, priority -1 like fail2ban's):
//   addr-set-<jail>   ipv4_addr, flags timeout            single IPv4 addresses
//   addr6-set-<jail>  ipv6_addr, flags timeout            single IPv6 addresses
//   net-set-<jail>    ipv4_addr, flags interval, timeout  IPv4 subnets (CIDR)
//   net6-set-<jail>   ipv6_addr, flags interval, timeout  IPv6 subnets
// and per set one rule `meta l4proto <proto> th dport { <ports> } ip saddr @<set> <blocktype>`.
//
// Why addresses and subnets live in different sets: nft (1.0.6 measured) reads the whole set
// back from the kernel for every change to an interval set and deletes from one in quadratic
// time. With 100,000 addresses in an interval set, adding 1,000 took 1.4 s and 1,000
// add+delete pairs did not finish in 60 s; in a hash set the same took 0.04 s. Subnet bans are
// few (manual `banip`), so their interval sets stay small. Separate sets also mean an address
// inside a banned subnet is not an "interval overlaps" error.

import { createHash } from 'node:crypto';
import { F2bError } from '../errors';
import type { FirewallChanges } from '../types';
import type { FirewallBackend, FirewallJailSpec, LeftoverBan } from './backend';
import type { BanTarget } from './address';
import { compileJail, loadServices, type CompiledJail, type ServiceTable } from './jailspec';
import { firstLines, probeTool, Serial, spawnRunner, summary, type CommandResult, type CommandRunner } from './command';
import { gatherChanges, jailsToFlush } from './changes';

export interface NftablesOptions {
  /** table name in family inet; default 'f2b-fast' */
  table?: string;
  /** command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] */
  exec?: readonly string[];
  /** the nft program; default 'nft' (found in PATH) */
  nft?: string;
  /** how commands are run; default spawnRunner(timeoutMs) */
  run?: CommandRunner;
  /** time limit of one nft command; default 60 s (fail2ban's action timeout) */
  timeoutMs?: number;
  /** service names for ports: a table, or the path of a services file; default /etc/services */
  services?: ServiceTable | string;
}

const SETS = [
  { prefix: 'addr-set-', type: 'ipv4_addr', flags: 'timeout', match: 'ip saddr' },
  { prefix: 'addr6-set-', type: 'ipv6_addr', flags: 'timeout', match: 'ip6 saddr' },
  { prefix: 'net-set-', type: 'ipv4_addr', flags: 'interval, timeout', match: 'ip saddr' },
  { prefix: 'net6-set-', type: 'ipv6_addr', flags: 'interval, timeout', match: 'ip6 saddr' },
] as const;
const setIndex = (a: BanTarget): number => (a.family === 6 ? 1 : 0) + (a.subnet ? 2 : 0);

/** The longest element timeout nft accepts (seconds); a longer ban goes in without one. */
export const NFT_MAX_TIMEOUT = 99_999_999;
/** Attempts of one update when nft rejects some of its entries (each attempt drops those). */
const MAX_ATTEMPTS = 8;

const UNAVAILABLE = 'nftables (nft) is not installed or cannot run: apt-get install nftables, or run with --dry-run';

/**
 * The name a jail has inside nft identifiers. Jail names are config section names and may hold
 * anything; nft identifiers may not. Safe names are kept (fail2ban's set names stay the same);
 * others are mapped to their safe characters plus a hash of the original, so two jails never
 * share a set and nothing unquoted reaches the nft parser.
 */
export function nftJailId(jail: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(jail)) return jail;
  const hash = createHash('sha256').update(jail).digest('hex').slice(0, 10);
  return `${jail.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48)}-${hash}`;
}

interface JailSets {
  compiled: CompiledJail;
  /** set names, indexed like SETS */
  sets: string[];
  /**
   * Addresses we added since init and that may still be in the kernel: a superset (added before
   * nft runs, dropped only after a release succeeded; kernel expiry leaves them in).
   */
  present: Set<string>;
}

interface Op {
  jail: JailSets;
  /** index into SETS / jail.sets */
  set: number;
  /** canonical address text */
  addr: string;
  block: boolean;
  timeout: number | null;
  /** a block of an address that cannot be in the kernel yet: a plain add will do */
  fresh: boolean;
}

/** One statement line of an update script and the entries it carries. */
interface Line {
  text: string;
  /** ops[] index of each element */
  owners: number[];
  /** 1-based column where each element starts */
  cols: number[];
}

export class NftablesBackend implements FirewallBackend {
  readonly name = 'nftables';
  readonly table: string;
  private readonly argv: readonly string[];
  private readonly run: CommandRunner;
  private readonly servicesOpt: ServiceTable | string | undefined;
  private jails = new Map<string, JailSets>();
  private readonly serial = new Serial();

  constructor(opts: NftablesOptions = {}) {
    this.table = opts.table ?? 'f2b-fast';
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(this.table)) {
      throw new F2bError('CONFIG_VALUE', `nftables table name '${this.table}' must be letters, digits, '_' or '-'`);
    }
    this.argv = [...(opts.exec ?? []), opts.nft ?? 'nft'];
    this.run = opts.run ?? spawnRunner(opts.timeoutMs);
    this.servicesOpt = opts.services;
  }

  /** Resolves to nft's version line; throws FIREWALL_UNAVAILABLE when nft cannot run. */
  static async available(opts: Pick<NftablesOptions, 'exec' | 'nft' | 'run' | 'timeoutMs'> = {}): Promise<string> {
    return probeTool(opts.run ?? spawnRunner(opts.timeoutMs ?? 10_000), [...(opts.exec ?? []), opts.nft ?? 'nft', '--version'], UNAVAILABLE);
  }

  init(specs: FirewallJailSpec[]): Promise<void> {
    return this.serial.run(async () => {
      const services = typeof this.servicesOpt === 'object' ? this.servicesOpt : loadServices(this.servicesOpt);
      const jails = new Map<string, JailSets>();
      const ids = new Map<string, string>();
      for (const spec of specs) {
        if (jails.has(spec.jail)) throw new F2bError('CONFIG_VALUE', 'jail given twice', { jail: spec.jail });
        const id = nftJailId(spec.jail);
        const other = ids.get(id);
        if (other !== undefined) throw new F2bError('CONFIG_VALUE', `nft set names collide with jail '${other}'`, { jail: spec.jail });
        ids.set(id, spec.jail);
        jails.set(spec.jail, { compiled: compileJail(spec, services), sets: SETS.map((s) => s.prefix + id), present: new Set() });
      }

      const t = `inet ${this.table}`;
      const lines = [
        // "create if missing, then delete" makes the delete valid on a first start too; the
        // whole script is one transaction, so the old table is replaced atomically
        `table ${t} {}`,
        `delete table ${t}`,
        `table ${t} {`,
      ];
      for (const j of jails.values()) {
        SETS.forEach((s, i) => lines.push(`\tset ${j.sets[i]} { type ${s.type}; flags ${s.flags}; }`));
      }
      // a chain per hook the jails use: input (traffic to this host) and forward (to containers
      // behind published ports, fail2ban's chain = DOCKER-USER; before Docker's own at priority 0)
      for (const hook of ['input', 'forward'] as const) {
        const here = [...jails.values()].filter((j) => j.compiled.hook === hook);
        if (!here.length && hook !== 'input') continue;
        lines.push(`\tchain ${hook} {`, `\t\ttype filter hook ${hook} priority -1; policy accept;`);
        for (const j of here) {
          SETS.forEach((s, i) => lines.push(`\t\t${ruleMatch(j.compiled)}${s.match} @${j.sets[i]} ${s.type === 'ipv4_addr' ? j.compiled.blocktype : j.compiled.blocktype6}`));
        }
        lines.push('\t}');
      }
      lines.push('}');
      this.jails = new Map();
      await this.nftOrThrow(lines, 'cannot create the nftables table');
      this.jails = jails;
    });
  }

  update(changes: FirewallChanges): Promise<void> {
    return this.serial.run(() => this.apply(changes));
  }

  /**
   * What is gone of what init set up (the table deleted, a chain or its rules flushed by hand),
   * one line each; [] when all is there. `nft -t` leaves the elements out: a large set costs
   * nothing to check, and its contents are not compared (the kernel expires entries).
   */
  check(): Promise<string[]> {
    return this.serial.run(async () => {
      if (!this.jails.size) return [];
      const r = await this.nft([], ['-t', 'list', 'table', 'inet', this.table]);
      if (r.code !== 0) {
        if (/No such file or directory/i.test(r.stderr)) return [`nftables table inet ${this.table} is missing`];
        throw new F2bError('FIREWALL_COMMAND', `cannot list the nftables table: nft exited with ${r.code}: ${firstLines(r)}`);
      }
      const listed = parseTerseTable(r.stdout);
      const problems: string[] = [];
      for (const j of this.jails.values()) {
        for (const set of j.sets) if (!listed.sets.has(set)) problems.push(`nftables set ${set} is missing`);
      }
      for (const hook of ['input', 'forward'] as const) {
        const want = [...this.jails.values()].filter((j) => j.compiled.hook === hook).length * SETS.length;
        const have = listed.chains.get(hook);
        if (have === undefined) {
          if (want || hook === 'input') problems.push(`nftables chain ${hook} is missing`);
        } else if (have < want) problems.push(`nftables chain ${hook} has ${have} of its ${want} rules`);
      }
      return problems;
    });
  }

  flush(jail?: string): Promise<void> {
    return this.serial.run(async () => {
      const list = jailsToFlush(this.jails, jail);
      if (!list.length) return;
      await this.nftOrThrow(list.flatMap((j) => j.sets.map((s) => `flush set inet ${this.table} ${s}`)), 'cannot flush');
      for (const j of list) j.present.clear();
    });
  }

  close(): Promise<void> {
    return this.serial.run(async () => {
      this.jails = new Map();
      await this.nftOrThrow([`table inet ${this.table} {}`, `delete table inet ${this.table}`], 'cannot remove the nftables table');
    });
  }

  /** The elements of the jails' sets in the table as an earlier run left it (none when there is
   *  no such table), with the seconds each has left. */
  leftover(specs: FirewallJailSpec[]): Promise<LeftoverBan[]> {
    return this.serial.run(async () => {
      const bySet = new Map<string, string>();
      for (const spec of specs) for (const s of SETS) bySet.set(s.prefix + nftJailId(spec.jail), spec.jail);
      const r = await this.run([...this.argv, '-j', 'list', 'table', 'inet', this.table], '');
      if (r.code !== 0) return [];
      const out: LeftoverBan[] = [];
      for (const item of (JSON.parse(r.stdout) as { nftables?: { set?: NftJsonSet }[] }).nftables ?? []) {
        const jail = item.set && bySet.get(item.set.name);
        if (jail === undefined) continue;
        for (const e of item.set!.elem ?? []) {
          const el = typeof e === 'object' && e !== null && 'elem' in e ? e.elem : { val: e };
          const ip = elementText(el.val);
          if (ip !== null) out.push({ jail, ip, expires: el.expires ?? null, timeout: el.timeout ?? null });
        }
      }
      return out;
    });
  }

  private async apply(changes: FirewallChanges): Promise<void> {
    const { changes: gathered, rejected, total } = gatherChanges(changes, (j) => this.jails.get(j));
    const ops = gathered.map((c): Op => ({ jail: c.jail, set: setIndex(c.addr), addr: c.addr.text, block: c.block, timeout: c.timeout, fresh: false }));

    let live = ops;
    for (const op of live) {
      if (!op.block) continue;
      op.fresh = !op.jail.present.has(op.addr);
      op.jail.present.add(op.addr);
    }

    for (let attempt = 1; live.length; attempt++) {
      const lines = this.render(live);
      const r = await this.nft(lines.map((l) => l.text));
      if (r.code === 0) break;
      const culprits = locateErrors(r.stderr, lines);
      if (!culprits.size || attempt >= MAX_ATTEMPTS) {
        const before = rejected.length ? ` (and before that: ${summary(rejected)})` : '';
        throw new F2bError(
          'FIREWALL_COMMAND',
          `nft rejected the update; none of its ${live.length} remaining changes was applied: ${firstLines(r)}${before}`,
        );
      }
      for (const [i, msg] of culprits) rejected.push(`${live[i].jail.compiled.jail} ${live[i].addr}: ${msg}`);
      live = live.filter((_, i) => !culprits.has(i));
    }
    for (const op of live) if (!op.block) op.jail.present.delete(op.addr);

    if (rejected.length) {
      throw new F2bError(
        'FIREWALL_COMMAND',
        `${rejected.length} of ${total} firewall changes were not applied (the others were): ${summary(rejected)}`,
      );
    }
  }

  /**
   * The script of one update, in three steps, each element once per step:
   *   1. `add element S { X, ... }`     releases, and blocks of addresses that may be there
   *   2. `delete element S { X, ... }`  the same
   *   3. `add element S { Y timeout T, ... }`  every block
   *
   * Releases are add+delete: a ban with a timeout may already be gone, expired by the kernel,
   * and deleting a missing element aborts the whole transaction. Adding it first makes the
   * delete always valid, in the same single command: cheaper and simpler than a second round
   * trip to find out which elements are missing.
   *
   * Blocks of an address we added before are add+delete+add: `add` of an existing element
   * keeps its old timeout on older kernels (6.18 here updates it), and a permanent ban must
   * drop the timeout, so the element is replaced. A block of an address we never added is a plain add.
   *
   * Elements of an address set go 1000 to a statement (half the time of one per line at
   * 100,000 bans). Subnet sets get one element per statement: an "interval overlaps" error
   * there is a real possibility, and nft reports only the first bad element of a statement.
   */
  private render(ops: Op[]): Line[] {
    const lines: Line[] = [];
    const step = (verb: string, pick: (op: Op) => boolean, withTimeout: boolean) => {
      const bySet = new Map<string, number[]>();
      ops.forEach((op, i) => {
        if (!pick(op)) return;
        const name = op.jail.sets[op.set];
        const list = bySet.get(name);
        if (list) list.push(i);
        else bySet.set(name, [i]);
      });
      for (const [name, idx] of bySet) {
        const chunk = ops[idx[0]].set >= 2 ? 1 : 1000;
        for (let c = 0; c < idx.length; c += chunk) {
          let text = `${verb} element inet ${this.table} ${name} { `;
          const owners = idx.slice(c, c + chunk);
          const cols: number[] = [];
          owners.forEach((i, k) => {
            if (k) text += ', ';
            cols.push(text.length + 1);
            text += withTimeout ? ops[i].addr + timeoutText(ops[i].timeout) : ops[i].addr;
          });
          lines.push({ text: `${text} }`, owners, cols });
        }
      }
    };
    const clear = (op: Op) => !op.block || !op.fresh;
    step('add', clear, false);
    step('delete', clear, false);
    step('add', (op) => op.block, true);
    return lines;
  }

  /** `nft -f -` with `lines` as its script, or `nft ARGS` when args are given. */
  private async nft(lines: string[], args?: string[]): Promise<CommandResult> {
    try {
      return args ? await this.run([...this.argv, ...args], '') : await this.run([...this.argv, '-f', '-'], lines.join('\n') + '\n');
    } catch (e) {
      if (e instanceof F2bError && e.code === 'FIREWALL_UNAVAILABLE') throw new F2bError('FIREWALL_UNAVAILABLE', `${UNAVAILABLE} (${e.message})`);
      throw e;
    }
  }

  private async nftOrThrow(lines: string[], what: string): Promise<void> {
    const r = await this.nft(lines);
    if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `${what}: nft exited with ${r.code}: ${firstLines(r)}`);
  }

  /** One nft command at a time: flush or close may come while an update runs. */
}

/** A set as `nft -j list` prints it: an element is its value alone, or {elem: {val, timeout,
 *  expires}}; a value is an address or {prefix: {addr, len}}. */
interface NftJsonSet {
  name: string;
  elem?: (NftJsonValue | { elem: { val: NftJsonValue; timeout?: number; expires?: number } })[];
}
type NftJsonValue = string | { prefix: { addr: string; len: number } };

function elementText(v: NftJsonValue): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && 'prefix' in v) return `${v.prefix.addr}/${v.prefix.len}`;
  return null;
}

/** The sets of `nft -t list table` text, and the number of rules in each chain. */
export function parseTerseTable(text: string): { sets: Set<string>; chains: Map<string, number> } {
  const sets = new Set<string>();
  const chains = new Map<string, number>();
  let block: { kind: 'set' | 'chain' | 'other'; name: string } | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const open = /^(set|map|chain|flowtable|counter|quota|limit|ct \w+|secmark|synproxy) (\S+) \{$/.exec(line);
    if (open && !block) {
      block = { kind: open[1] === 'set' ? 'set' : open[1] === 'chain' ? 'chain' : 'other', name: open[2] };
      if (block.kind === 'set') sets.add(block.name);
      if (block.kind === 'chain') chains.set(block.name, 0);
      continue;
    }
    if (line === '}') {
      block = null;
      continue;
    }
    // a chain's lines: its `type ... hook ...; policy ...;` header, then one rule a line
    if (block?.kind === 'chain' && !/^type \w+ hook /.test(line) && !/^policy /.test(line)) chains.set(block.name, chains.get(block.name)! + 1);
  }
  return { sets, chains };
}

/** ' meta l4proto tcp th dport { 22, 80 } ' part of a jail's rules (ends with a space). */
function ruleMatch(j: CompiledJail): string {
  let m = '';
  if (j.protocols) m += `meta l4proto ${j.protocols.length === 1 ? j.protocols[0] : `{ ${j.protocols.join(', ')} }`} `;
  if (j.ports) m += `th dport { ${j.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(', ')} } `;
  return m;
}

function timeoutText(timeout: number | null): string {
  if (timeout === null) return '';
  const s = Math.max(1, Math.ceil(timeout));
  // longer than nft can express: permanent; the jail's own unban schedule still releases it
  return s > NFT_MAX_TIMEOUT ? '' : ` timeout ${s}s`;
}

/**
 * The entries nft complained about ("/dev/stdin:12:27-33: Error: ..."): the element at that
 * line and column, or every element of the line when the column is before the first one.
 */
function locateErrors(stderr: string, lines: Line[]): Map<number, string> {
  const found = new Map<number, string>();
  for (const m of stderr.matchAll(/^[^\n:]*:(\d+):(\d+)(?:-\d+)?: Error: (.*)$/gm)) {
    const line = lines[Number(m[1]) - 1];
    if (!line) continue;
    const col = Number(m[2]);
    let k = line.cols.length - 1;
    while (k >= 0 && line.cols[k] > col) k--;
    for (const i of k < 0 ? line.owners : [line.owners[k]]) if (!found.has(i)) found.set(i, m[3].trim());
  }
  return found;
}


