// pf backend (OpenBSD, FreeBSD, macOS): one anchor of our own holding, per jail, a table of banned
// addresses and one block rule; a tick of bans and unbans is at most one `pfctl -T delete` and
// one `pfctl -T add` per jail touched, with the addresses on stdin.
//
// The operator hooks the anchor into the main ruleset once, in the filter rules of /etc/pf.conf
// and before any `pass ... quick` rule for the jails' ports (fail2ban's pf action asks the same
// for its `anchor "f2b/*"`), then reloads it with `pfctl -f /etc/pf.conf` (and enables pf with
// `pfctl -e` if it is off). Without that line our rules load but pf never evaluates them:
//
//     anchor "f2b-fast"
//
// Layout, loaded by init() as ONE `pfctl -a f2b-fast -f -` (one transaction):
//
//     table <f2b-fast-sshd> { }
//     table <f2b-fast-web> { }
//     block in quick proto tcp from <f2b-fast-sshd> to any port 22
//     block drop in quick proto { tcp, udp } from <f2b-fast-web> to any port { 80, 443 }
//
// One anchor for every jail, not fail2ban's anchor per jail (`f2b/<jail>`): loading an anchor
// replaces its whole ruleset atomically, so init replaces all an earlier run left behind in one
// command, jails since removed included (their tables are not `persist`, so pf drops them with
// their last rule), and close() is one `-F all`. With an anchor per jail, init would have to list
// the anchors (`-s Anchors`, whose output differs between the BSDs) to find stale ones and flush
// them one by one. The `{ }` empties a table that survived from an earlier run: a table
// definition without an address list leaves the kernel's entries in place.
//
// pf tables hold IPv4 and IPv6 addresses and subnets side by side, so one table per jail does
// what four nft sets do, and an address inside a banned subnet is simply a second entry.
//
// pf tables have no per-entry timeout: a ban lasts until the daemon's own unban releases it, and
// FirewallChanges timeouts are ignored here. (`pfctl -T expire N` removes every entry whose
// counters were cleared N seconds ago, one age for the whole table: no use for bans of their
// own lengths.) Bans therefore do not expire while the daemon is down; init() empties the tables.
//
// pf is stateful and matches states before rules: a ban stops new connections, while one already
// established before it keeps its state, as with fail2ban's pf action (killing states takes
// one `pfctl -k host` per address).

import { createHash } from 'node:crypto';
import { F2bError } from '../errors';
import type { FirewallChanges } from '../types';
import type { FirewallBackend, FirewallJailSpec } from './backend';
import { compileJail, loadServices, type CompiledJail, type ServiceTable } from './jailspec';
import { firstLines, probeTool, Serial, spawnRunner, summary, type CommandResult, type CommandRunner } from './command';
import { gatherChanges, jailsToFlush } from './changes';

export interface PfOptions {
  /** the anchor of our tables and rules, 'name' or 'parent/name'; default 'f2b-fast' */
  anchor?: string;
  /** table names are this plus the jail; default 'f2b-fast-' (table <f2b-fast-sshd>) */
  tablePrefix?: string;
  /** command prefix, e.g. ['doas'] */
  exec?: readonly string[];
  /** the pfctl program; default 'pfctl' (found in PATH) */
  pfctl?: string;
  /** how commands are run; default spawnRunner(timeoutMs) */
  run?: CommandRunner;
  /** time limit of one pfctl command; default 60 s (fail2ban's action timeout) */
  timeoutMs?: number;
  /** service names for ports: a table, or the path of a services file; default /etc/services */
  services?: ServiceTable | string;
}

/** PF_TABLE_NAME_SIZE is 32 with the terminating NUL. */
export const PF_TABLE_NAME_MAX = 31;

const UNAVAILABLE = 'pf (pfctl) is not available: it needs a BSD or macOS kernel with pf, and root; or run with --dry-run';

/** One anchor path component: PF_ANCHOR_NAME_SIZE is 64; pfctl refuses to modify names starting with '_'. */
const ANCHOR_PART = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Protocols pf matches ports of (sctp on FreeBSD only; pfctl itself reports it elsewhere). */
const PF_PORT_PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** pf's own words for a blocktype, as jail.local files written for fail2ban's pf action may carry. */
const PF_BLOCKTYPE_WORDS = new Map([
  ['return-rst', 'reject with tcp reset'],
  ['return-icmp', 'reject'],
  ['return-icmp6', 'reject'],
]);

/** A jail as pf takes it: its spec compiled (pf's own blocktype words too) and what follows
 *  `block` in its rule; throws F2bError('CONFIG_VALUE') naming the jail. */
export function compilePfJail(spec: FirewallJailSpec, services: ServiceTable): { compiled: CompiledJail; block: string } {
  const bad = (msg: string) => new F2bError('CONFIG_VALUE', msg, { jail: spec.jail });
  const blocktype = spec.blocktype?.trim().toLowerCase();
  const compiled = compileJail({ ...spec, blocktype: PF_BLOCKTYPE_WORDS.get(blocktype ?? '') ?? spec.blocktype }, services);
  const noPorts = compiled.ports && compiled.protocols?.find((p) => !PF_PORT_PROTOCOLS.includes(p));
  if (noPorts) throw bad(`pf matches no ports of protocol '${noPorts}' (use ${PF_PORT_PROTOCOLS.join(', ')}, or an allports action)`);
  return { compiled, block: blockSpec(blocktype, compiled.blocktype, bad) };
}

/** nft's icmpx reject types as pf `return-icmp (icmp code, icmp6 code)` */
const ICMPX = new Map([
  ['port-unreachable', 'port-unr, port-unr'],
  ['admin-prohibited', 'filter-prohib, admin-unr'],
  ['host-unreachable', 'host-unr, addr-unr'],
  ['no-route', 'net-unr, noroute-unr'],
]);

/** nft's icmp/icmpv6 reject types as the icmpx type pf's rule uses. */
const NEAREST_ICMPX = new Map([
  ['addr-unreachable', 'host-unreachable'],
  ['net-unreachable', 'no-route'],
  ['prot-unreachable', 'port-unreachable'],
  ['net-prohibited', 'admin-prohibited'],
  ['host-prohibited', 'admin-prohibited'],
]);

/**
 * The table name of a jail. Jail names are config section names and may hold anything, and a pf
 * table name holds at most 31 characters. Safe names that fit are kept; others become their safe
 * characters, cut to fit, plus a hash of the original, so two jails never share a table.
 */
export function pfTableName(jail: string, prefix = 'f2b-fast-'): string {
  const room = PF_TABLE_NAME_MAX - prefix.length;
  if (/^[A-Za-z0-9_-]+$/.test(jail) && jail.length <= room) return prefix + jail;
  const hash = createHash('sha256').update(jail).digest('hex').slice(0, 8);
  return `${prefix}${jail.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, room - 9)}-${hash}`;
}

interface PfJail {
  compiled: CompiledJail;
  table: string;
}

export class PfBackend implements FirewallBackend {
  readonly name = 'pf';
  readonly anchor: string;
  readonly tablePrefix: string;
  private readonly argv: readonly string[];
  private readonly run: CommandRunner;
  private readonly servicesOpt: ServiceTable | string | undefined;
  private jails = new Map<string, PfJail>();
  private readonly serial = new Serial();

  constructor(opts: PfOptions = {}) {
    this.anchor = opts.anchor ?? 'f2b-fast';
    // never empty: `pfctl -F all` without an anchor would flush the whole firewall, states included
    if (!this.anchor.split('/').every((part) => ANCHOR_PART.test(part))) {
      throw new F2bError(
        'CONFIG_VALUE',
        `pf anchor '${this.anchor}' must be names of letters, digits, '_' or '-' (not starting with '_'), separated by '/'`,
      );
    }
    this.tablePrefix = opts.tablePrefix ?? 'f2b-fast-';
    if (!/^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,19})?$/.test(this.tablePrefix)) {
      throw new F2bError('CONFIG_VALUE', `pf table prefix '${this.tablePrefix}' must be at most 20 letters, digits, '_' or '-'`);
    }
    this.argv = [...(opts.exec ?? []), opts.pfctl ?? 'pfctl'];
    this.run = opts.run ?? spawnRunner(opts.timeoutMs);
    this.servicesOpt = opts.services;
  }

  /**
   * Resolves to pf's status line ('Status: Enabled for 0 days 01:02:03  Debug: Urgent'; worth a
   * warning when it says Disabled); throws FIREWALL_UNAVAILABLE when pfctl cannot run or read
   * /dev/pf.
   */
  static async available(opts: Pick<PfOptions, 'exec' | 'pfctl' | 'run' | 'timeoutMs'> = {}): Promise<string> {
    const out = await probeTool(opts.run ?? spawnRunner(opts.timeoutMs ?? 10_000), [...(opts.exec ?? []), opts.pfctl ?? 'pfctl', '-s', 'info'], UNAVAILABLE);
    return out.split('\n')[0].trim();
  }

  init(specs: FirewallJailSpec[]): Promise<void> {
    return this.serial.run(async () => {
      const services = typeof this.servicesOpt === 'object' ? this.servicesOpt : loadServices(this.servicesOpt);
      const jails = new Map<string, PfJail>();
      const tables = new Map<string, string>();
      const rules: string[] = [];
      for (const spec of specs) {
        if (jails.has(spec.jail)) throw new F2bError('CONFIG_VALUE', 'jail given twice', { jail: spec.jail });
        const table = pfTableName(spec.jail, this.tablePrefix);
        const other = tables.get(table);
        if (other !== undefined) throw new F2bError('CONFIG_VALUE', `pf table names collide with jail '${other}'`, { jail: spec.jail });
        tables.set(table, spec.jail);
        const { compiled, block } = compilePfJail(spec, services);
        jails.set(spec.jail, { compiled, table });
        rules.push(ruleText(compiled, table, block));
      }
      const script = [...[...jails.values()].map((j) => `table <${j.table}> { }`), ...rules];
      this.jails = new Map();
      await this.pfctlOrThrow(['-a', this.anchor, '-f', '-'], script, `cannot load the pf rules into anchor '${this.anchor}'`);
      this.jails = jails;
    });
  }

  update(changes: FirewallChanges): Promise<void> {
    return this.serial.run(() => this.apply(changes));
  }

  /**
   * What is gone of what init set up (the anchor's rules flushed by hand, `pfctl -a f2b-fast -F
   * rules` or `-F all`: each jail's table goes with its rule, as it is not `persist`), one line
   * per jail whose rule is missing; [] when all is there. One `pfctl -a ANCHOR -s rules`; the
   * tables' contents are not compared. Whether pf.conf still hooks the anchor in, it cannot see.
   */
  check(): Promise<string[]> {
    return this.serial.run(async () => {
      if (!this.jails.size) return [];
      const r = await this.pfctl(['-a', this.anchor, '-s', 'rules'], '');
      if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `cannot list the pf rules of anchor '${this.anchor}': pfctl exited with ${r.code}: ${firstLines(r)}`);
      // pfctl prints each rule on a line of its own, as it parsed it: 'block drop in quick proto
      // tcp from <f2b-fast-sshd> to any port = 22'
      const tables = new Set<string>();
      for (const line of r.stdout.split('\n')) {
        const m = /^block\b.*\bfrom <([A-Za-z0-9_-]+)>(?:\s|$)/.exec(line.trim());
        if (m) tables.add(m[1]);
      }
      const problems: string[] = [];
      for (const j of this.jails.values()) {
        if (!tables.has(j.table)) problems.push(`pf anchor '${this.anchor}' has no rule for table <${j.table}> (jail ${j.compiled.jail})`);
      }
      return problems;
    });
  }

  flush(jail?: string): Promise<void> {
    return this.serial.run(async () => {
      const failed: string[] = [];
      for (const j of jailsToFlush(this.jails, jail, 'pf table')) {
        const r = await this.pfctl(['-a', this.anchor, '-t', j.table, '-T', 'flush'], '');
        if (r.code !== 0) failed.push(`${j.compiled.jail}: pfctl exited with ${r.code}: ${firstLines(r)}`);
      }
      if (failed.length) throw new F2bError('FIREWALL_COMMAND', `cannot flush: ${summary(failed)}`);
    });
  }

  close(): Promise<void> {
    return this.serial.run(async () => {
      this.jails = new Map();
      // in an anchor, `-F all` flushes that anchor's rules and tables only (states and the rest
      // are flushed only without -a; the constructor makes sure the anchor is never empty)
      await this.pfctlOrThrow(['-a', this.anchor, '-F', 'all'], [], `cannot remove the pf anchor '${this.anchor}'`);
    });
  }

  private async apply(changes: FirewallChanges): Promise<void> {
    // pf tables have no per-entry timeout: the daemon's unban ends a ban
    const { changes: ops, rejected, total } = gatherChanges(changes, (j) => this.jails.get(j), 'pf table');
    let notApplied = rejected.length;

    const byJail = new Map<PfJail, { delete: string[]; add: string[] }>();
    for (const op of ops) {
      let lists = byJail.get(op.jail);
      if (!lists) byJail.set(op.jail, (lists = { delete: [], add: [] }));
      lists[op.block ? 'add' : 'delete'].push(op.addr.text);
    }
    // jails in init order, releases before blocks: the same commands for the same changes.
    // add and delete are idempotent in pf (an address already there, or already gone, is
    // counted and skipped), so no command fails for the state the kernel is in
    for (const j of this.jails.values()) {
      const lists = byJail.get(j);
      if (!lists) continue;
      for (const verb of ['delete', 'add'] as const) {
        const addrs = lists[verb];
        if (!addrs.length) continue;
        const r = await this.pfctl(['-a', this.anchor, '-t', j.table, '-T', verb, '-f', '-'], addrs.join('\n') + '\n');
        if (r.code === 0) continue;
        notApplied += addrs.length;
        const shown = addrs.slice(0, 3).join(', ') + (addrs.length > 3 ? ', ...' : '');
        rejected.push(`${j.compiled.jail}: ${verb} of ${addrs.length} (${shown}): pfctl exited with ${r.code}: ${firstLines(r)}`);
      }
    }

    if (rejected.length) {
      throw new F2bError(
        'FIREWALL_COMMAND',
        `${notApplied} of ${total} firewall changes were not applied (the others were): ${summary(rejected)}`,
      );
    }
  }

  private async pfctl(args: readonly string[], input: string): Promise<CommandResult> {
    try {
      // -q: only errors on stderr (no "1/1 addresses added.", no ALTQ notices)
      return await this.run([...this.argv, '-q', ...args], input);
    } catch (e) {
      if (e instanceof F2bError && e.code === 'FIREWALL_UNAVAILABLE') throw new F2bError('FIREWALL_UNAVAILABLE', `${UNAVAILABLE} (${e.message})`);
      throw e;
    }
  }

  private async pfctlOrThrow(args: readonly string[], lines: string[], what: string): Promise<void> {
    const r = await this.pfctl(args, lines.length ? lines.join('\n') + '\n' : '');
    if (r.code !== 0) throw new F2bError('FIREWALL_COMMAND', `${what}: pfctl exited with ${r.code}: ${firstLines(r)}`);
  }

  /** One pfctl command at a time: flush or close may come while an update runs. */
}

/**
 * What follows `block` in a jail's rule. No blocktype configured: plain `block`, as fail2ban's
 * pf action (`block quick`), so pf.conf's `set block-policy` decides (drop unless set otherwise).
 */
function blockSpec(configured: string | undefined, blocktype: string, bad: (msg: string) => Error): string {
  if (!configured) return '';
  switch (blocktype) {
    case 'reject':
    case 'return': // pf's word: `block return`
      return 'return'; // TCP RST, ICMP/ICMP6 port unreachable for the rest
    case 'drop':
      return 'drop';
    case 'reject with tcp reset':
      return 'return-rst';
  }
  // iptables' per-family reject types (jailspec: 'reject with icmp type host-prohibited'): pf's
  // rule serves both families, with the nearest of nft's family-neutral types
  const t = /^reject with (?:icmpx|icmp|icmpv6) type ([\w-]+)$/.exec(blocktype)?.[1] ?? '';
  const codes = ICMPX.get(NEAREST_ICMPX.get(t) ?? t);
  if (codes) return `return-icmp (${codes})`;
  throw bad(`blocktype '${configured}' does not block; pf takes reject (or return), drop, 'reject with tcp reset' (or return-rst)`);
}

/** 'block return in quick proto tcp from <t> to any port { 22, 80 }' */
function ruleText(j: CompiledJail, table: string, block: string): string {
  const list = (items: string[]) => (items.length === 1 ? items[0] : `{ ${items.join(', ')} }`);
  // `in` only: every packet from a banned address enters through some interface (forwarded
  // ones too); matching the outbound copies as well would only cost a second evaluation
  let rule = `block${block ? ` ${block}` : ''} in quick`;
  if (j.protocols) rule += ` proto ${list(j.protocols)}`;
  rule += ` from <${table}> to any`;
  // pf's 'a:b' is an inclusive range, as in fail2ban's port values
  if (j.ports) rule += ` port ${list(j.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)))}`;
  return rule;
}


