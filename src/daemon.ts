// The daemon: wires the stages together, top to bottom.
//   config (src/config) -> tailer (native/tailer via src/tailer) -> matcher pool (src/pipeline)
//   -> failure tracker + jail (src/filter, src/jail) -> firewall batcher (src/firewall)

import * as dns from 'node:dns/promises';
import * as fs from 'node:fs';
import { systemClock, type Clock } from './clock';
import { readConfigTree } from './config';
import type { ConfigTree, JailDef } from './config/types';
import { F2bError } from './errors';
import { FailureTracker, FilterScanner, filterSpecOf, type FoundFailure } from './filter/filter';
import { createFirewall, jailSpecForBanaction, NftablesBackend } from './firewall';
import type { FirewallJailSpec } from './firewall/backend';
import { FirewallBatcher } from './firewall/batcher';
import { Jail } from './jail/jail';
import { LogSink, Logger, parseLevel } from './log/logger';
import { DEFAULT_LINE_BUDGET_MS, MatcherPool } from './pipeline/pool';
import { Tailer, splitLines, mapBackend } from './tailer';
import { loadNative, type NativePrefilter } from './native';
import { filterLiterals, nativePattern, type GateLiteral } from './prefilter/native';
import { MAX_GROUPS } from './scan/filescan';
import type { FilterSpecMessage, FilterScanMessage, TailBatch, TailEvent } from './types';

export interface DaemonOptions {
  configDir: string;
  /** log what would be banned instead of touching the firewall */
  dryRun?: boolean;
  /** overrides fail2ban.conf's logtarget (a path, STDOUT, STDERR) */
  logtarget?: string;
  loglevel?: string;
  /** matcher worker threads (0 = main thread) */
  threads?: number;
  /** how long one line may run in a filter before it is skipped (default 1000 ms) */
  lineBudgetMs?: number;
  /** nftables table name (default f2b-fast) */
  table?: string;
  clock?: Clock;
}

interface RunningJail {
  def: JailDef;
  jail: Jail;
  tracker: FailureTracker;
  spec: FilterSpecMessage;
  /** the jail's usedns mode: yes/warn resolve host names, no/raw do not */
  usedns: string;
}

interface WatchedFile {
  path: string;
  /** the jails reading it; jail i is prefilter group i */
  jails: RunningJail[];
  /** lines read (the prefilter's drops included), and the offset after the last one */
  linesRead: number;
  position: number;
  /** hash of the first line, from the last opened/rotated event */
  firstLineHash?: string;
  /** size when first opened: lines before it are old content (fail2ban's "initialisation") */
  initialSize: number;
  /** batches of one file are matched concurrently but applied in order */
  chain: Promise<void>;
}

export class Daemon {
  readonly jails = new Map<string, RunningJail>();
  private readonly files = new Map<number, WatchedFile>();
  private tailer?: Tailer;
  private pool?: MatcherPool;
  private batcher?: FirewallBatcher;
  private expiryTimer?: NodeJS.Timeout;
  private sink?: LogSink;
  private log: Logger;
  private stopped = false;
  readonly clock: Clock;

  private constructor(
    private readonly opts: DaemonOptions,
    readonly config: ConfigTree,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = new Logger(null, 'fail2ban');
  }

  /** Read the config, start every jail that can start, and begin tailing. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const config = readConfigTree(opts.configDir);
    const d = new Daemon(opts, config);
    try {
      await d.init();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  private async init(): Promise<void> {
    const { config, opts } = this;
    this.sink = new LogSink(opts.logtarget ?? config.server.logtarget);
    this.log = new Logger(this.sink, 'fail2ban.server', parseLevel(opts.loglevel ?? config.server.loglevel));
    const srv = this.log;
    srv.info(`Starting f2b-fast with configuration ${config.dir}`);
    for (const issue of config.issues) {
      const where = `${issue.file ?? config.dir}${issue.line ? `:${issue.line}` : ''}`;
      const msg = `${where}: ${issue.jail ? `[${issue.jail}] ` : ''}${issue.message}`;
      if (issue.severity === 'error') srv.error(`${msg}${issue.jail ? ' - jail skipped' : ''}`);
      else srv.warn(msg);
    }

    // Which jails can run: filter compiles, action maps to a firewall backend, files readable.
    const ready: { def: JailDef; fw: FirewallJailSpec; spec: FilterSpecMessage }[] = [];
    for (const def of config.jails) {
      try {
        ready.push({ def, fw: this.firewallSpec(def), spec: this.filterSpec(def) });
      } catch (e) {
        const err = e instanceof F2bError ? e : new F2bError('CONFIG_VALUE', (e as Error).message);
        // a filter that does not compile is reported against the filter's own file
        const where = err.code === 'FILTER_REGEX' && def.filter.file ? def.filter.file : `${def.source.file}:${def.source.line}`;
        srv.error(`${where}: [${def.name}] ${err.message} - jail skipped`);
      }
    }
    if (ready.length === 0) {
      throw new F2bError('CONFIG_MISSING', `no jail could start from ${config.dir} (see the errors above, or enable a jail in jail.local)`);
    }

    if (!opts.dryRun) await NftablesBackend.available();
    const backend = opts.dryRun
      ? createFirewall('dry-run', { log: (m: string) => this.log.child('fail2ban.actions').info(`[dry-run] ${m}`) })
      : createFirewall('nftables', { table: opts.table });
    await backend.init(ready.map((r) => r.fw));
    const actionsLog = this.log.child('fail2ban.actions');
    this.batcher = new FirewallBatcher(backend, { onError: (e) => actionsLog.error(`firewall update failed: ${e.message}`) });

    const filterLog = this.log.child('fail2ban.filter');
    this.pool = new MatcherPool({
      threads: opts.threads,
      lineBudgetMs: opts.lineBudgetMs,
      onSlowLine: ({ filter, line, ms }) => {
        const jail = [...this.jails.values()].find((j) => j.spec.key === filter)?.def.name ?? '?';
        filterLog.warn(`[${jail}] a line ran ${ms} ms in the filter's regexes (budget ${opts.lineBudgetMs ?? DEFAULT_LINE_BUDGET_MS} ms) and was skipped: ${printable(line)}`);
      },
    });
    for (const { def, spec } of ready) {
      const jail = new Jail(
        def,
        this.clock,
        this.batcher,
        actionsLog,
      );
      await jail.prepare();
      this.jails.set(def.name, { def, jail, spec, usedns: def.filter.usedns, tracker: new FailureTracker({ usedns: def.filter.usedns }) });
    }

    const backends = new Set(ready.map((r) => mapBackend(r.def.backend.replace(/\[.*$/, ''))));
    this.tailer = new Tailer({
      backend: backends.has('poll') && !backends.has('inotify') ? 'poll' : 'auto',
      onBatch: (b) => this.onBatch(b),
      onEvent: (e) => this.onEvent(e),
    });
    const byPath = new Map<string, { jails: RunningJail[]; start: 'head' | 'tail' }>();
    for (const rj of this.jails.values()) {
      for (const lp of rj.def.logpaths) {
        for (const file of lp.files) {
          const entry = byPath.get(file) ?? { jails: [], start: lp.start };
          entry.jails.push(rj);
          byPath.set(file, entry);
        }
      }
    }
    for (const [file, { jails, start }] of byPath) {
      let size = 0;
      try {
        size = fs.statSync(file).size;
      } catch {
        filterLog.warn(`${file} does not exist yet: waiting for it to appear`);
      }
      const id = this.tailer.add(file, start, this.prefilterFor(file, jails));
      this.files.set(id, { path: file, jails, linesRead: 0, position: 0, initialSize: start === 'tail' ? 0 : size, chain: Promise.resolve() });
      for (const rj of jails) filterLog.info(`[${rj.def.name}] Added logfile: '${file}' (pos = ${start === 'tail' ? size : 0})`);
    }
    for (const rj of this.jails.values()) srv.info(`Jail '${rj.def.name}' started`);
    this.scheduleExpiry();
  }

  /** The firewall spec of the first action we implement; the others are reported and ignored. */
  private firewallSpec(def: JailDef): FirewallJailSpec {
    const actions = def.actions.length ? def.actions : [{ name: def.banaction, options: {} }];
    let spec: FirewallJailSpec | null = null;
    for (const a of actions) {
      const s = jailSpecForBanaction(def.name, a, { port: def.port, protocol: def.protocol });
      if (!s) this.log.warn(`[${def.name}] action '${a.name}' is not supported yet and is ignored (nftables-* and iptables-* are)`);
      spec ??= s;
    }
    if (!spec) {
      const names = actions.map((a) => a.name).join(', ');
      throw new F2bError('CONFIG_VALUE', `no supported ban action among ${names} (use banaction = nftables-multiport or iptables-multiport)`, { jail: def.name });
    }
    return spec;
  }

  private filterSpec(def: JailDef): FilterSpecMessage {
    const spec = filterSpecOf(def.filter, { key: '', logtimezone: def.logtimezone });
    spec.key = `${def.name}:${JSON.stringify(spec)}`;
    // compile once here so a bad regex is reported against its jail and the jail skipped
    new FilterScanner(spec);
    return spec;
  }

  /**
   * The native prefilter of one file: group i = jail i's filter (src/prefilter/native.ts), so a
   * line reaches JS only if some jail may match it, tagged with which. None when no jail's
   * filter can drop anything, or more jails read the file than the prefilter has groups.
   */
  private prefilterFor(file: string, jails: RunningJail[]): NativePrefilter | undefined {
    if (jails.length > MAX_GROUPS) {
      this.log.child('fail2ban.filter').info(`${file}: read by ${jails.length} jails: every line goes to the matchers (the native prefilter takes at most ${MAX_GROUPS})`);
      return undefined;
    }
    const patterns = jails.map((j) => nativePattern(j.spec));
    if (patterns.every((p) => p.pattern === '')) return undefined;
    patterns.forEach((p, i) => {
      if (!p.pattern) this.log.child('fail2ban.filter').debug(`[${jails[i].def.name}] ${file}: every line goes to the matchers (${p.reason})`);
    });
    const literals = jails.map((j) => filterLiterals(j.spec));
    const lits = literals.every((l) => l !== null) ? (literals as GateLiteral[][]) : undefined;
    try {
      return new (loadNative().Prefilter)(patterns.map((p) => p.pattern), lits);
    } catch (e) {
      // a pattern RE2 rejects is our bug, not the user's: match every line rather than fail
      this.log.child('fail2ban.filter').warn(`${file}: no native prefilter (${(e as Error).message}): every line goes to the matchers`);
      return undefined;
    }
  }

  private onEvent(e: TailEvent): void {
    const file = this.files.get(e.fileId);
    if (file && e.firstLineHash !== undefined) file.firstLineHash = e.firstLineHash;
    // a rotated, truncated or newly created file holds new lines only
    if (file && (e.kind === 'rotated' || e.kind === 'truncated' || e.kind === 'missing')) file.initialSize = 0;
    const log = this.log.child('fail2ban.filter');
    const msg = `${e.path}: ${e.kind}${e.message ? ` (${e.message})` : ''}`;
    if (e.kind === 'error') log.error(msg);
    else if (e.kind === 'rotated' || e.kind === 'truncated' || e.kind === 'missing') log.info(msg);
    else log.debug(msg);
  }

  private onBatch(b: TailBatch): void {
    const file = this.files.get(b.fileId);
    if (!file || this.stopped) return;
    file.linesRead += b.lines;
    file.position = b.end;
    if (b.firstLineHash !== undefined) file.firstLineHash = b.firstLineHash;
    if (b.ends.length === 0) return; // every line of it dropped by the prefilter
    const lines = splitLines(b);
    const initial = b.base < file.initialSize;
    const now = this.clock.now();
    const specs = file.jails.map((j) => j.spec);
    const masks = b.masks;
    const select = masks ? file.jails.map((_, i) => selectLines(masks, i)) : undefined;
    const scans = this.pool!.scan(specs, lines, now, select);
    file.chain = file.chain
      .then(async () => {
        const res = await scans;
        if (this.stopped) return;
        file.jails.forEach((rj, i) => this.apply(rj, res[i], initial, now));
      })
      .catch((e) => this.log.error(`${file.path}: failed to process lines: ${(e as Error).stack ?? e}`));
  }

  /** Lines read and the resume position per followed file (for status and, later, the state
   *  database). */
  fileStats(): { path: string; linesRead: number; position: number; firstLineHash?: string }[] {
    return [...this.files.values()].map((f) => ({ path: f.path, linesRead: f.linesRead, position: f.position, firstLineHash: f.firstLineHash }));
  }

  /** Feed one file's scan results to a jail, in line order. */
  private apply(rj: RunningJail, scan: FilterScanMessage, initial: boolean, now: number): void {
    let next = 0;
    const times = scan.times;
    for (const h of scan.hits) {
      // earlier lines still move the tracker's "last date"
      for (; next < h.line; next++) rj.tracker.resolveTime(times[next], now, false);
      next = h.line + 1;
      let time = rj.tracker.resolveTime(times[h.line], now, !initial);
      if (time === null || h.ignoredBy !== undefined) continue;
      if (initial) {
        // reading old content at start: failures older than findtime are history
        if (time < now - rj.def.findtime) continue;
      } else if (Math.abs(time - now) > 60) {
        // in operation, a timestamp far from now is a clock or zone problem: treat it as now
        time = now;
      }
      for (const f of rj.tracker.failures(h.hits, time, now)) this.addFailure(rj, f);
    }
    for (; next < times.length; next++) rj.tracker.resolveTime(times[next], now, false);
  }

  private addFailure(rj: RunningJail, f: FoundFailure): void {
    if (!f.dns) {
      rj.jail.addFailure(f);
      return;
    }
    // usedns yes/warn: every address the name resolves to is its own failure
    dns
      .lookup(f.id, { all: true })
      .then((addrs) => {
        if (rj.usedns === 'warn') this.log.child('fail2ban.filter').warn(`Determined IP using DNS Lookup: ${f.id} = ${addrs.map((a) => a.address).join(', ')}`);
        for (const a of addrs) rj.jail.addFailure({ ...f, id: a.address, dns: false });
      })
      .catch(() => this.log.child('fail2ban.filter').warn(`Unable to find a corresponding IP address for ${f.id}`));
  }

  /** Wake at the next ban end (at least once a second) to lift expired bans. */
  private scheduleExpiry(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const rj of this.jails.values()) {
      rj.jail.expire();
      next = Math.min(next, rj.jail.nextExpiry() ?? Infinity);
    }
    const wait = Math.max(10, Math.min(1000, (next - this.clock.now()) * 1000));
    this.expiryTimer = setTimeout(() => this.scheduleExpiry(), wait);
  }

  /** Wait until every batch read so far has reached the jails (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.chain));
    await this.batcher?.flushNow();
  }

  /** Stop tailing, lift every ban, remove the firewall table. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    await this.tailer?.close();
    await Promise.all([...this.files.values()].map((f) => f.chain.catch(() => undefined)));
    for (const rj of this.jails.values()) rj.jail.unbanAll();
    for (const rj of this.jails.values()) this.log.info(`Jail '${rj.def.name}' stopped`);
    await this.batcher?.close();
    await this.pool?.close();
    this.log.info('Exiting f2b-fast');
    this.sink?.close();
  }

  /** SIGUSR1: reopen the log file after rotation. */
  reopenLog(): void {
    this.sink?.reopen();
  }
}

/** The indexes of the lines whose mask has bit `group` (null when that is every line). */
function selectLines(masks: Uint32Array, group: number): Uint32Array | null {
  const bit = 1 << group;
  let n = 0;
  for (let i = 0; i < masks.length; i++) if (masks[i] & bit) n++;
  if (n === masks.length) return null;
  const out = new Uint32Array(n);
  for (let i = 0, k = 0; i < masks.length; i++) if (masks[i] & bit) out[k++] = i;
  return out;
}

/** A log line for our own log: control characters escaped, at most 300 characters. */
function printable(line: string): string {
  const s = line.length > 300 ? `${line.slice(0, 300)}...` : line;
  return JSON.stringify(s);
}
