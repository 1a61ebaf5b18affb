// The daemon: wires the stages together, top to bottom.
//   config (src/config) -> tailer (native/tailer via src/tailer) or journal (src/tailer/journal)
//   -> matcher pool (src/pipeline) -> failure tracker + jail (src/filter, src/jail)
//   -> actions (src/action: the batched firewall in src/firewall, action.d commands)
// with the state database (src/state) under every step and the control socket (src/control)
// beside it.
//
// Crash safety: the failures of one batch of lines, the bans they cause and the file position
// after the batch are saved as ONE unit (StateStore.unit): whole or not at all. Units are
// written behind (StateStore.deferWrites): the firewall gets a batch's bans at once, and the
// database gets the queued units in one transaction when the pipeline is idle (at most every
// MIN_IDLE_WRITE_GAP_MS), or at least every MAX_WRITE_DELAY_MS. A `kill -9` at any moment
// therefore leaves the database at the end of some batch: what came after it is read again at
// restart and counted once. A ban the firewall had but the database had not yet is made again
// from those lines, so none is lost.

import * as fs from 'node:fs';
import { systemClock, type Clock } from './clock';
import { readConfigTree } from './config';
import type { ConfigTree, FleetSettings, JailDef } from './config/types';
import { ControlServer, probeSocket } from './control/server';
import { statusData, Transmitter } from './control/transmitter';
import { F2bError } from './errors';
import type { FoundFailure } from './filter/filter';
import { createFirewall, firewallAvailable, FirewallRouter, type BackendKind } from './firewall';
import type { FirewallBackend, FirewallJailSpec, LeftoverBan } from './firewall/backend';
import { FirewallBatcher } from './firewall/batcher';
import { JailActions, firewallTimeout } from './action/jail-actions';
import type { ActionTagSource } from './action/command-action';
import { banEnd, Jail, toFirewallAddress, type Ban } from './jail/jail';
import { failureWeight, nextBanTime, restoreBanTime } from './jail/increment';
import { buildJailParts, type JailParts } from './jail/running';
import { LogSink, Logger, parseLevel } from './log/logger';
import { DnsCache } from './net/dns';
import { addressFamily, formatSubnet, parseSubnet } from './net/ip';
import { MatcherPool } from './pipeline/pool';
import { Tailer, isSystemdBackend, mapBackend, type TailStart } from './tailer';
import { JournalReader, type JournalBatch } from './tailer/journal';
import { loadNative, type NativePrefilter } from './native';
import { filterLiterals, nativePattern, type GateLiteral } from './prefilter/native';
import { MAX_GROUPS } from './scan/filescan';
import { MEMORY_DB, resolveDbFile } from './state/location';
import { StateDbError, StateStore } from './state/store';
import { describeSalvaged, openState, replaceLost } from './state/recover';
import type { FilterScanMessage, FirewallChanges, TailBatch, TailEvent } from './types';
import { DaemonTarget } from './control/daemon-target';
import { packageVersion } from './cli/paths';
import { FleetLink, type FleetBan, type FleetStatus } from './fleet/link';
import { HttpError, HttpListener } from './metrics/http';
import { Activity, subnetOf } from './metrics/activity';
import { Metrics } from './metrics/metrics';
import { dashboardPage } from './metrics/page';
import type { MetricsSettings } from './config/types';

export interface DaemonOptions {
  configDir: string;
  /** log what would be banned instead of touching the firewall */
  dryRun?: boolean;
  /** overrides fail2ban.conf's logtarget (a path, STDOUT, STDERR, SYSLOG) */
  logtarget?: string;
  loglevel?: string;
  /** matcher worker threads (0 = main thread) */
  threads?: number;
  /** how long one line may run in a filter before it is skipped (default 1000 ms) */
  lineBudgetMs?: number;
  /** nftables table name (default f2b-fast) */
  table?: string;
  /** the state database instead of fail2ban.conf's dbfile (':memory:' or None: none kept) */
  db?: string;
  /** the control socket instead of fail2ban.conf's socket; null: no control socket */
  socket?: string | null;
  clock?: Clock;
}

export interface RunningJail extends JailParts {
  jail: Jail;
  actions: JailActions;
  /** backend = systemd: the journal reader, and its batches applied in order */
  reader?: JournalReader;
  chain: Promise<void>;
  /** `set <JAIL> idle on`: failures are not counted */
  idle: boolean;
}

/** a row of the dashboard's top offenders */
interface TopRow {
  key: string;
  failures: number;
  banned: number;
}

interface WatchedFile {
  path: string;
  /** the jails reading it; jail i is prefilter group i */
  jails: RunningJail[];
  /** what the tailer entry was built from (jails and their filters): another key = re-add */
  key: string;
  /** lines read (the prefilter's drops included), and the offset after the last one */
  linesRead: number;
  position: number;
  /** hash of the first line, from the last opened/rotated event */
  firstLineHash?: string;
  /** size when first opened: lines before it are old content (fail2ban's "initialisation") */
  initialSize: number;
  /** batches of one file are matched concurrently but applied in order */
  chain: Promise<void>;
  removed: boolean;
}

/** Bans read from the database between two turns of the event loop (primeFirewall, restore). */
const RESTORE_CHUNK = 10_000;

/** How often old rows leave the database (fail2ban purges once an hour too). */
const PURGE_INTERVAL_MS = 3600_000;
/** a failed firewall update is repaired after this; while repairs fail, the wait doubles up to REPAIR_MAX_MS */
const REPAIR_FIRST_MS = 1000;
const REPAIR_MAX_MS = 300_000;
/** The longest a saved change waits in memory while batches keep coming (write-behind). */
const MAX_WRITE_DELAY_MS = 1000;
/** idle moments come many times a second under live load: a write waits this long after the
 *  last (each costs a transaction; at 200,000 lines/s they were 60 a second and a tenth of the
 *  main thread) */
const MIN_IDLE_WRITE_GAP_MS = 250;
/** After a failed database write, when to try again if nothing else writes first. */
const WRITE_RETRY_MS = 5000;
/** How long a database write waits for another process's lock: the main thread waits with it,
 *  and a write that gives up costs nothing (it stays queued). */
const DB_BUSY_TIMEOUT_MS = 250;

export class Daemon {
  readonly jails = new Map<string, RunningJail>();
  private readonly files = new Map<number, WatchedFile>();
  private tailer?: Tailer;
  private pool?: MatcherPool;
  private backend?: FirewallBackend;
  private batcher?: FirewallBatcher;
  /** the firewall entries the backend was initialised with (JSON), to tell when reload changes them */
  private fwKey = '';
  private expiryTimer?: NodeJS.Timeout;
  private purgeTimer?: NodeJS.Timeout;
  private control?: ControlServer;
  /** fleet mode ([fleet] in fail2ban.local): bans shared through Redis */
  private fleet?: FleetLink;
  /** set while an unban from the fleet is applied: it is not published again */
  private fromFleet = false;
  /** [metrics]: Prometheus counters and the HTTP listener */
  private metrics?: Metrics;
  private activity?: Activity;
  private http?: HttpListener;
  /** while a log batch is applied: when it was read (performance.now()), for ban latency */
  private batchReadAt?: number;
  private sink?: LogSink;
  log: Logger;
  store!: StateStore;
  dbFile = MEMORY_DB;
  dbpurgeage: number;
  /** made in init(), with the log */
  dns!: DnsCache;
  private stopped = false;
  private stopping?: Promise<void>;
  /** actions of the transaction under way, run once it commits */
  private deferred: (() => void)[] | null = null;
  /** log batches read and not yet applied: the database is written behind when this is 0 */
  private inFlight = 0;
  private flushTimer?: NodeJS.Timeout;
  private flushSoon?: NodeJS.Immediate;
  /** an idle write held back by MIN_IDLE_WRITE_GAP_MS, and when the last write was */
  private flushIdle?: NodeJS.Timeout;
  private lastWriteAt = -Infinity;
  private waitingFirewall = false;
  /** the control socket asked to stop: run.ts waits on this */
  readonly stopRequested: Promise<void>;
  private requestStop!: () => void;
  readonly clock: Clock;

  private constructor(
    private readonly opts: DaemonOptions,
    public config: ConfigTree,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = new Logger(null, 'fail2ban');
    this.dbpurgeage = config.server.dbpurgeage;
    this.stopRequested = new Promise((resolve) => (this.requestStop = resolve));
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

  get logSink(): LogSink | undefined {
    return this.sink;
  }

  private async init(): Promise<void> {
    const { config, opts } = this;
    this.sink = new LogSink(opts.logtarget ?? config.server.logtarget, { syslogsocket: config.server.syslogsocket });
    this.log = new Logger(this.sink, 'fail2ban.server', parseLevel(opts.loglevel ?? config.server.loglevel));
    const srv = this.log;
    srv.info('-'.repeat(50));
    srv.info(`Starting f2b-fast v${packageVersion()} with configuration ${config.source}`);
    this.dns = new DnsCache({ clock: this.clock, log: this.log.child('fail2ban.ipdns') });
    this.reportIssues(config);

    // another daemon answering on the socket owns the firewall table too: stop before touching it
    const socket = opts.socket === undefined ? config.server.socket : opts.socket;
    if (socket !== null && (await probeSocket(socket)) === 'live') {
      throw new F2bError('CONTROL', `a server is already listening on ${socket} (is f2b-fast or fail2ban running?)`);
    }

    const db = resolveDbFile(config.server.dbfile, opts.db);
    if (db.note) srv.notice(db.note);
    this.dbFile = db.file;
    const lost = this.openStore(db.file);
    srv.info(db.file === MEMORY_DB ? 'No state database (dbfile = None): bans are kept in memory only' : `Connected to the state database ${db.file}`);

    const ready = this.buildAll(config.jails);
    if (ready.length === 0) {
      throw new F2bError('CONFIG_MISSING', `no jail could start from ${config.dir} (see the errors above, or enable a jail in jail.local)`);
    }

    this.backend = this.opts.dryRun
      ? createFirewall('dry-run', { log: (m: string) => this.log.child('fail2ban.actions').info(`[dry-run] ${m}`) })
      : new FirewallRouter((kind) => createFirewall(kind, { table: opts.table, maxelem: config.server.firewall.ipsetMaxelem }));
    const specs = ready.flatMap((p) => (p.fw ? [p.fw] : []));
    // the key is taken before checkFirewall may move ipset jails to nftables, as syncFirewall does
    this.fwKey = JSON.stringify(specs);
    await this.checkFirewall(specs);
    // the state database was lost: the bans a killed run left in the kernel are adopted
    const leftover = lost && this.backend.leftover ? await this.backend.leftover(specs).catch((e: Error) => this.noLeftover(e)) : [];
    await this.backend.init(specs);
    const actionsLog = this.log.child('fail2ban.actions');
    this.batcher = new FirewallBatcher(this.backend, {
      log: (m) => actionsLog.error(m),
      onApplied: ({ blocks, releases, ms }) => {
        actionsLog.debug(`firewall updated: ${blocks} blocks, ${releases} releases in ${Math.round(ms)} ms`);
        this.metrics?.firewallUpdate(blocks + releases, ms);
      },
      // a failed update (nft gone, the table or a set deleted by hand, ...): set the firewall up
      // again and block every active ban, in one batch
      onError: () => this.scheduleRepair(),
    });

    // Bans first: every ban of the database goes to the firewall before the matcher threads
    // and the tailer start and compete for the CPU
    const primed = await this.primeFirewall(ready);
    // the jails' restore (the heavier part) waits for the firewall: it would slow it down
    await this.batcher.flushNow();
    for (const parts of ready) await this.startJail(parts, primed.get(parts.def.name));
    if (leftover.length) this.adopt(leftover);
    await this.batcher.flushNow();

    const filterLog = this.log.child('fail2ban.filter');
    this.pool = new MatcherPool({
      threads: opts.threads,
      lineBudgetMs: opts.lineBudgetMs,
      onSlowLine: ({ filter, line, ms, budgetMs, isolated }) => {
        const jail = [...this.jails.values()].find((j) => j.spec.key === filter)?.def.name ?? '?';
        filterLog.warn(`[${jail}] a line ran ${ms} ms in the filter's regexes (budget ${budgetMs} ms) and was skipped: ${printable(line)}`);
        if (isolated) filterLog.notice(`[${jail}] its filter is matched by a thread of its own from now on, with a tenth of the budget per line: lines that run long in it no longer hold up the other jails`);
      },
    });
    // the workers compile the filters now, not when the first burst comes
    await this.pool.warm(ready.map((p) => p.spec));
    const backends = new Set(ready.filter((p) => !p.journal).map((p) => mapBackend(p.def.backend)));
    this.tailer = new Tailer({
      backend: backends.has('poll') && !backends.has('inotify') ? 'poll' : 'auto',
      onBatch: (b) => this.onBatch(b),
      onEvent: (e) => this.onEvent(e),
    });
    this.syncFiles();
    for (const rj of this.jails.values()) if (rj.journal) this.startJournal(rj);

    if (socket !== null) {
      this.control = await ControlServer.listen(socket, new Transmitter(new DaemonTarget(this)), this.log.child('fail2ban.server'));
      srv.info(`Control socket ${socket} (mode 0600)`);
    }
    if (config.server.fleet) await this.startFleet(config.server.fleet);
    if (config.server.metrics) await this.startHttp(config.server.metrics);
    this.scheduleExpiry();
    this.purgeTimer = setInterval(() => this.purge(), PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
    if (!this.opts.dryRun && config.server.firewall.checkMs > 0) {
      this.auditTimer = setInterval(() => void this.auditFirewall(), config.server.firewall.checkMs);
      this.auditTimer.unref();
    }
    srv.info(`Server ready: ${this.jails.size} jail${this.jails.size === 1 ? '' : 's'} running`);
  }

  private reportIssues(config: ConfigTree): void {
    for (const issue of config.issues) {
      const where = `${issue.file ?? config.dir}${issue.line ? `:${issue.line}` : ''}`;
      const msg = `${where}: ${issue.jail ? `[${issue.jail}] ` : ''}${issue.message}`;
      if (issue.severity === 'error') this.log.error(`${msg}${issue.jail ? ' - jail skipped' : ''}`);
      else this.log.warn(msg);
    }
  }

  /** The parts of every jail that can run; the others are reported (file and line) and skipped. */
  private buildAll(defs: JailDef[]): JailParts[] {
    const out: JailParts[] = [];
    for (const def of defs) {
      const parts = this.build(def);
      if (parts) out.push(parts);
    }
    return out;
  }

  /** A jail's parts; throws an F2bError naming what is wrong. */
  buildParts(def: JailDef): JailParts {
    if (!isSystemdBackend(def.backend)) mapBackend(def.backend);
    return buildJailParts(def, {
      dns: this.dns,
      log: this.log,
      clock: this.clock,
      allowIpv6: (this.config.server.allowipv6 ?? 'auto') !== 'no',
      tags: (jail) => this.tagSource(jail),
    });
  }

  /** A jail's parts, or undefined after reporting what is wrong (file, line, jail). */
  build(def: JailDef): JailParts | undefined {
    try {
      return this.buildParts(def);
    } catch (e) {
      const err = e instanceof F2bError ? e : new F2bError('CONFIG_VALUE', (e as Error).message);
      // a filter that does not compile is reported against the filter's own file
      const where = err.code === 'FILTER_REGEX' && def.filter.file ? def.filter.file : err.file ? `${err.file}${err.line ? `:${err.line}` : ''}` : `${def.source.file}:${def.source.line}`;
      this.log.error(`${where}: [${def.name}] ${err.message} - jail skipped`);
      return undefined;
    }
  }

  /** Values of action tags that come from the database and the jail. */
  private tagSource(jail: string): ActionTagSource {
    return {
      ipMatches: (ip) => this.store.mergedBans(ip)?.matches ?? [],
      ipJailMatches: (ip) => this.store.mergedBans(ip, jail)?.matches ?? [],
      ipFailures: (ip) => this.store.mergedBans(ip)?.failures ?? 0,
      ipJailFailures: (ip) => this.store.mergedBans(ip, jail)?.failures ?? 0,
      jailBanned: () => this.jails.get(jail)?.jail.status().currentlyBanned ?? 0,
      jailBannedTotal: () => this.jails.get(jail)?.jail.status().totalBanned ?? 0,
      jailFound: () => this.jails.get(jail)?.jail.status().currentlyFailed ?? 0,
      jailFoundTotal: () => this.jails.get(jail)?.jail.status().totalFailed ?? 0,
      hostOf: async (ip) => (await this.dns.hostName(ip)) ?? undefined,
    };
  }

  /**
   * Start one jail: its actions, its open failures and its bans from the database (every ban
   * that is not over goes back to the firewall; at start, `primed` holds those primeFirewall
   * put in already). Its files are added by syncFiles(), its journal by startJournal().
   */
  async startJail(parts: JailParts, primed?: Set<string>): Promise<RunningJail> {
    const { def } = parts;
    const actionsLog = this.log.child('fail2ban.actions');
    const rj = { ...parts, chain: Promise.resolve(), idle: false } as RunningJail;
    rj.actions = new JailActions(
      def.name,
      parts.fw && this.batcher ? { batcher: this.batcher, spec: parts.fw, names: parts.fwNames } : null,
      parts.commands,
      actionsLog,
      () => this.clock.now(),
    );
    rj.jail = new Jail(
      { name: def.name, maxretry: def.maxretry, maxmatches: def.maxmatches, findtime: def.findtime, bantime: def.bantime },
      this.clock,
      { banned: (_j, ban, how) => this.onBanned(rj, ban, how), unbanned: (_j, ban, why) => this.onUnbanned(rj, ban, why) },
      this.log.child('fail2ban.actions'),
      { ignores: parts.ignores, banTime: (ip, time, bantime) => this.banTime(rj, ip, time, bantime), filterLog: this.log.child('fail2ban.filter') },
    );
    this.jails.set(def.name, rj);
    await parts.ignores.prepare();
    await rj.actions.start();
    if (primed) rj.actions.prime(primed);
    try {
      await this.restore(rj);
    } finally {
      // (a daemon stopping meanwhile takes the whole table down: nothing to release one by one)
      if (!this.stopped) rj.actions.endPriming();
    }
    this.log.info(`Jail '${def.name}' started`);
    return rj;
  }

  /**
   * At start, before any jail restores its bans: the bans of the database go to the firewall
   * straight from their rows (the address and times only), a page at a time, each page handed
   * to the batcher, which sends it (nft on another core) while the next is read. The jails
   * restore them afterwards (restore(): the data of each ban, the Restore Ban lines, the
   * action.d commands) without blocking them again. A row goes in exactly when the jail's
   * restore will take it (the same restoreBanTime, ignore rules and end); what it does not
   * take after all is released when its restore ends (JailActions.endPriming).
   * Returns per jail the addresses put in.
   */
  private async primeFirewall(ready: JailParts[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const batcher = this.batcher;
    if (!batcher) return out;
    const now = this.clock.now();
    for (const parts of ready) {
      const name = parts.def.name;
      if (!parts.fw) continue;
      await parts.ignores.prepare();
      const ips = new Set<string>();
      out.set(name, ips);
      let after: [string, number, number] | null = null;
      for (;;) {
        const rows = this.store.currentBanTimesPage(now, name, after, RESTORE_CHUNK);
        if (!rows.length) break;
        after = rows[rows.length - 1];
        for (const [ip, timeofban, stored] of rows) {
          const bantime = restoreBanTime(parts.increment, parts.def.bantime, { timeofban, bantime: stored }, now);
          if (bantime === undefined || parts.ignores.check(ip).ignored) continue;
          const end = banEnd(timeofban, bantime);
          if (end <= now) continue;
          ips.add(ip);
          batcher.block({ jail: name, ip, timeout: firewallTimeout(end, now) });
        }
        if (rows.length < RESTORE_CHUNK) break;
        // the batcher sends this page while the next is read
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return out;
  }

  /** bantime.increment: the next ban's length from the address's history in the database. */
  private banTime(rj: RunningJail, ip: string, time: number, bantime: number): { bantime: number; bancount: number; known?: boolean } {
    if (!rj.increment) return { bantime, bancount: 1 };
    const history = this.history(ip, { jail: rj.def.name, overalljails: rj.increment.overalljails });
    const next = nextBanTime(rj.increment, bantime, history, Math.random, time);
    if (next.error) this.log.child('fail2ban.actions').error(`[${rj.def.name}] bantime.formula failed for ${ip}: ${next.error}; banned for bantime`);
    return { bantime: next.bantime, bancount: next.bancount, known: next.known };
  }

  /**
   * Open failures and current bans of a jail, back from the database: each ban with its data
   * through the jail (the Restore Ban line, the action.d commands, the firewall unless
   * primeFirewall put it in already), a page at a time with a turn of the event loop after each,
   * so that 100,000 bans do not hold everything else up for a second (a reload restores while
   * the other jails run).
   */
  private async restore(rj: RunningJail): Promise<void> {
    const name = rj.def.name;
    const now = this.clock.now();
    rj.jail.failures.load(this.store.loadTickets(name).filter((t) => t.last > now - rj.def.findtime));
    let restored = 0;
    let after: { timeofban: number; ip: string } | null = null;
    for (let page = 0; ; page++) {
      if (page > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        // the jail stopped meanwhile (reload, stop)
        if (this.stopped || this.jails.get(name) !== rj) return;
      }
      const rows = this.store.currentBansPage(now, name, after, RESTORE_CHUNK);
      if (!rows.length) break;
      after = rows[rows.length - 1];
      this.commit(() => {
        for (const rec of rows) {
          const bantime = restoreBanTime(rj.increment, rj.def.bantime, rec, now);
          if (bantime === undefined) continue;
          const { matches, failures } = rec.data;
          const fields: Record<string, string> = {};
          for (const k in rec.data) {
            if (k === 'matches' || k === 'failures') continue;
            const v = rec.data[k];
            fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
          }
          if (rj.jail.restore({ ip: rec.ip, time: rec.timeofban, bantime, bancount: rec.bancount, failures, matches, fields })) restored++;
        }
      });
      if (rows.length < RESTORE_CHUNK) break;
    }
    if (restored) this.log.child('fail2ban.actions').info(`[${name}] ${restored} ban${restored === 1 ? '' : 's'} restored from the state database`);
  }

  // ---- bans: database first, then the actions -----------------------------------------------

  private onBanned(rj: RunningJail, ban: Ban, how: 'new' | 'restored' | 'extended'): void {
    // an extended ban is not recorded again (fail2ban writes a ban once, when it is made)
    if (how === 'new' && !ban.known) {
      this.store.addBan({
        jail: rj.def.name,
        ip: ban.ip,
        timeofban: ban.time,
        bantime: ban.end === Infinity ? -1 : ban.bantime,
        bancount: ban.bancount,
        data: { matches: ban.matches, failures: ban.failures, ...ban.fields },
      });
    }
    // a ban of this host's own goes to the fleet (one received from it is not sent back)
    const remote = this.fleet?.isRemote(rj.def.name, ban.ip) ?? false;
    if (this.fleet && how !== 'restored' && !remote) this.fleet.publishBan(rj.def.name, ban.ip, ban.time, ban.end);
    if (this.metrics && how === 'new') {
      const latency = !remote && this.batchReadAt !== undefined ? (performance.now() - this.batchReadAt) / 1000 : undefined;
      this.metrics.ban(rj.def.name, remote ? 'fleet' : 'local', latency);
      this.activity?.ban(rj.def.name, ban.ip, remote ? 'fleet' : 'local');
    }
    this.afterCommit(() => (how === 'extended' ? rj.actions.extend(ban) : rj.actions.ban(ban)));
  }

  private onUnbanned(rj: RunningJail, ban: Ban, why: 'expired' | 'manual' | 'stop'): void {
    // an expired ban stays in the history (bantime.increment reads it); an operator's unban
    // removes it, as fail2ban's delBan does
    if (why === 'manual') this.store.forgetBan(rj.def.name, ban.ip);
    this.metrics?.unban(rj.def.name, why);
    this.activity?.unban(rj.def.name, ban.ip, why);
    // an operator's unban here is lifted everywhere
    if (this.fleet && why === 'manual' && !this.fromFleet) this.fleet.publishUnban(rj.def.name, ban.ip);
    else if (this.fleet && why === 'expired') this.fleet.forget(rj.def.name, ban.ip);
    this.afterCommit(() => rj.actions.unban(ban));
  }

  /**
   * When the queued database writes go out: once no batch is in flight and the firewall has
   * applied what they banned (but not sooner than MIN_IDLE_WRITE_GAP_MS after the last write),
   * else when the oldest has waited MAX_WRITE_DELAY_MS. A burst of batches is thus one
   * transaction, and it does not compete with nft for the CPU.
   */
  private scheduleWrite(): void {
    const { rows, ageMs } = this.store.pendingWrites;
    // while the database fails, the retry timer alone writes (not every batch)
    if (!rows || this.stopped || this.dbFault || this.dbLost) return;
    if (ageMs >= MAX_WRITE_DELAY_MS) {
      this.writeNow();
      return;
    }
    this.flushTimer ??= setTimeout(() => this.writeNow(), MAX_WRITE_DELAY_MS - ageMs);
    if (this.inFlight > 0 || this.flushSoon || this.flushIdle || this.waitingFirewall) return;
    this.waitingFirewall = true;
    void (this.batcher?.idle() ?? Promise.resolve()).then(() => {
      this.waitingFirewall = false;
      if (this.inFlight > 0 || this.stopped || !this.store.pendingWrites.rows || this.flushSoon || this.flushIdle) return;
      const wait = this.lastWriteAt + MIN_IDLE_WRITE_GAP_MS - performance.now();
      if (wait > 0) this.flushIdle = setTimeout(() => this.writeNow(), wait);
      else this.flushSoon = setImmediate(() => this.writeNow());
    });
  }

  /** Writes the queued database changes now; a failure is reported and retried later. */
  writeNow(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.flushIdle);
    if (this.flushSoon) clearImmediate(this.flushSoon);
    this.flushTimer = this.flushSoon = this.flushIdle = undefined;
    this.lastWriteAt = performance.now();
    if (this.dbLost) {
      this.recoverDb(this.dbLost);
      return;
    }
    try {
      const rows = this.store.flush();
      if (this.dbFault && rows > 0) {
        const f = this.dbFault;
        this.dbFault = null;
        this.log.notice(`state database ${this.dbFile}: writable again after ${Math.round((Date.now() - f.since) / 1000)} s (${f.tries} failed write${f.tries === 1 ? '' : 's'}): ${rows} queued change${rows === 1 ? '' : 's'} written`);
      }
    } catch (e) {
      this.dbFailed(e);
    }
  }

  // ---- state database faults (src/state/recover.ts) ----------------------------------------

  /** the database's current failure (full, locked, ...): reported once, retried by a timer */
  private dbFault: { message: string; since: number; tries: number } | null = null;
  /** the file can no longer be used (corrupt, removed): rebuilt at the next write */
  private dbLost: StateDbError | null = null;
  /** the cause and error of the rebuild that last failed (reported again only if they change) */
  private dbLostReported: string | null = null;

  /** The store's settings: a write waits DB_BUSY_TIMEOUT_MS for another process's lock (the
   *  main thread waits with it; a write that gives up stays queued and is retried). */
  private storeOptions() {
    return { maxMatches: this.config.server.dbmaxmatches, busyTimeoutMs: DB_BUSY_TIMEOUT_MS };
  }

  /** Opens the state database at start; a corrupt file is moved aside and a new one started
   *  (what the bad file still yields read back). Returns whether that happened. */
  private openStore(file: string): boolean {
    const { store, moved } = openState(file, this.storeOptions());
    this.store = store;
    store.deferWrites();
    if (moved) {
      const where = moved.to ? `moved to ${moved.to}` : 'gone';
      this.log.error(`state database ${file}: ${dbReason(moved.why)}: ${where}; starting with a new database (read back from the bad file: ${describeSalvaged(moved.salvaged)})`);
    }
    return moved !== undefined;
  }

  /** At a start whose database was lost: the bans the previous run left in the firewall are the
   *  jails' again (Restore Ban) and recorded, with the time they have left. */
  private adopt(leftover: LeftoverBan[]): void {
    const now = this.clock.now();
    const counts = new Map<string, number>();
    this.commit(() => {
      for (const l of leftover) {
        const rj = this.jails.get(l.jail);
        if (!rj || (l.expires !== null && l.expires <= 0)) continue;
        // added `timeout` seconds before its end: the ban's time and length as far as they show
        // (a firewall that keeps only what is left, ipset: a ban from now for that long)
        const bantime = l.expires === null ? -1 : (l.timeout ?? l.expires);
        const time = l.expires === null ? now : now + l.expires - bantime;
        if (!rj.jail.restore({ ip: l.ip, time, bantime, bancount: 1, failures: 0, matches: [], fields: {} })) continue;
        this.store.addBan({ jail: l.jail, ip: l.ip, timeofban: time, bantime, bancount: 1, data: { matches: [], failures: 0 } });
        counts.set(l.jail, (counts.get(l.jail) ?? 0) + 1);
      }
    });
    for (const [jail, n] of counts) this.log.child('fail2ban.actions').notice(`[${jail}] ${n} ban${n === 1 ? '' : 's'} adopted from the firewall (left by the previous run; its state database was lost)`);
  }

  private noLeftover(e: Error): LeftoverBan[] {
    this.log.child('fail2ban.actions').warn(`cannot read the bans a previous run left in the firewall: ${e instanceof F2bError ? e.describe() : e.message}`);
    return [];
  }

  /** banHistory, or none when the database cannot answer (reported; a lost file is rebuilt). A
   *  read fails when writing the queue before it fails (full, locked): it is asked again, and
   *  the store, failing now, answers from the database without the queue. */
  private history(ip: string, q: { jail: string; overalljails?: boolean }): ReturnType<StateStore['banHistory']> {
    for (let tries = 0; ; tries++) {
      try {
        return this.store.banHistory(ip, q);
      } catch (e) {
        this.dbFailed(e);
        if (tries > 0 || !this.store.failing || (e instanceof StateDbError && e.lost)) return undefined;
      }
    }
  }

  /**
   * A database operation failed. A file SQLite finds corrupt, or one removed or replaced, is
   * rebuilt (recoverDb). Any other error starts an episode: reported once (again only if the
   * error changes), the changes kept in memory and written by a retry every WRITE_RETRY_MS,
   * whose success ends the episode.
   */
  private dbFailed(e: unknown, consequence?: string): void {
    if (e instanceof StateDbError && e.lost) {
      this.dbLost ??= e;
      if (!this.stopped) this.flushSoon ??= setImmediate(() => this.writeNow());
      return;
    }
    const message = dbReason((e as Error).message);
    const { rows } = this.store.pendingWrites;
    if (this.dbFault?.message === message) {
      this.dbFault.tries++;
      this.log.debug(`state database ${this.dbFile}: still failing: ${message} (${rows} changes kept in memory)`);
    } else {
      this.dbFault = { message, since: this.dbFault?.since ?? Date.now(), tries: (this.dbFault?.tries ?? 0) + 1 };
      this.log.error(`state database ${this.dbFile}: ${message}${consequence ? ` (${consequence})` : ''}; banning goes on from memory, ${rows} change${rows === 1 ? '' : 's'} kept in memory and written when the database takes them (retried every ${WRITE_RETRY_MS / 1000} s)`);
    }
    if (!this.stopped && !this.flushTimer) this.flushTimer = setTimeout(() => this.writeNow(), WRITE_RETRY_MS);
  }

  /**
   * The file can no longer be used: it is moved aside and a new database at its path gets the
   * daemon's whole state from memory (replaceLost). If even that fails, the state goes to an
   * in-memory database and the rebuild is tried again at the next retry.
   */
  private recoverDb(cause: StateDbError): void {
    const now = this.clock.now();
    const jails = [...this.jails.values()].map((rj) => ({ name: rj.def.name, bans: rj.jail.activeBans(), tickets: rj.jail.tickets() }));
    const opts = this.storeOptions();
    try {
      const r = replaceLost(this.store, this.dbFile, opts, jails, now);
      this.store = r.store;
      this.dbLost = this.dbFault = this.dbLostReported = null;
      const c = r.counts;
      this.log.error(
        `state database ${this.dbFile}: ${dbReason(cause.message)}: ${r.to ? `moved to ${r.to}` : 'gone'}; a new database holds the daemon's state: ` +
          `${c.bans} active bans, ${c.tickets} failure tickets, ${c.positions} log positions, ${c.cursors} journal cursors (ban history read back from the bad file: ${describeSalvaged(r.salvaged)})`,
      );
    } catch (e) {
      const mem = replaceLost(this.store, ':memory:', opts, jails, now);
      this.store = mem.store;
      const msg = `state database ${this.dbFile}: ${dbReason(cause.message)}, and no new database can be made there (${dbReason((e as Error).message)}): the state is kept in memory, trying again in ${WRITE_RETRY_MS / 1000} s`;
      // once per cause and kind of error (its text names a new aside file each time)
      const key = `${cause.message}|${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      if (key === this.dbLostReported) this.log.debug(msg);
      else this.log.error(msg);
      this.dbLostReported = key;
      if (!this.stopped) this.flushTimer ??= setTimeout(() => this.writeNow(), WRITE_RETRY_MS);
      return;
    }
    this.writeNow();
  }

  private afterCommit(fn: () => void): void {
    if (this.deferred) this.deferred.push(fn);
    else fn();
  }

  /**
   * Run `fn` (which changes jails) in one database transaction, and the actions it causes after
   * the commit. A database that fails is reported; the jails and the firewall go on from
   * memory.
   */
  commit<T>(fn: () => T): T | undefined {
    // the log lines of a transaction and of its actions go out in one write
    return this.sink ? this.sink.corked(() => this.commitNow(fn)) : this.commitNow(fn);
  }

  private commitNow<T>(fn: () => T): T | undefined {
    const outer = this.deferred === null;
    if (outer) this.deferred = [];
    try {
      return this.store.unit(fn);
    } catch (e) {
      if (e instanceof StateDbError) this.dbFailed(e, 'the change is applied in memory; not saved');
      else this.log.error(`applying a change failed: ${(e as Error).stack ?? e}`);
      return undefined;
    } finally {
      if (outer) {
        const run = this.deferred ?? [];
        this.deferred = null;
        for (const f of run) {
          try {
            f();
          } catch (e) {
            this.log.error(`action failed: ${(e as Error).stack ?? e}`);
          }
        }
        this.scheduleWrite();
      }
    }
  }

  // ---- files -------------------------------------------------------------------------------

  /**
   * Make the tailer follow exactly the files the running jails read: new files are added at
   * their saved position (or head/tail), files whose readers or filters changed are added again
   * at the position applied so far, files no jail reads are let go.
   */
  syncFiles(): void {
    const want = new Map<string, { jails: RunningJail[]; start: 'head' | 'tail' }>();
    for (const rj of this.jails.values()) {
      if (rj.journal) continue;
      for (const lp of rj.def.logpaths) {
        for (const file of lp.files) {
          const entry = want.get(file) ?? { jails: [], start: lp.start };
          entry.jails.push(rj);
          want.set(file, entry);
        }
      }
    }
    const filterLog = this.log.child('fail2ban.filter');
    const current = new Map([...this.files].map(([id, f]) => [f.path, { id, f }]));
    for (const [path, { id, f }] of current) {
      const w = want.get(path);
      if (w && fileKey(w.jails) === f.key) continue;
      this.tailer!.remove(id);
      f.removed = true;
      this.files.delete(id);
      if (!w) for (const rj of f.jails) if (this.jails.get(rj.def.name) === rj) filterLog.info(`[${rj.def.name}] Removed logfile: '${path}'`);
    }
    for (const [file, { jails, start }] of want) {
      if ([...this.files.values()].some((f) => f.path === file)) continue;
      const old = current.get(file)?.f;
      const saved = old ? { position: old.position, firstLineHash: old.firstLineHash, linesRead: old.linesRead } : this.store.loadPosition(file);
      let size = 0;
      let exists = true;
      try {
        size = fs.statSync(file).size;
      } catch {
        exists = false;
      }
      const from: TailStart = saved ? { offset: saved.position, ...(saved.firstLineHash ? { firstLineHash: saved.firstLineHash } : {}) } : start;
      const id = this.tailer!.add(file, from, this.prefilterFor(file, jails));
      this.files.set(id, {
        path: file,
        jails,
        key: fileKey(jails),
        linesRead: saved?.linesRead ?? 0,
        position: saved?.position ?? 0,
        firstLineHash: saved?.firstLineHash || undefined,
        // content that was there before we started is "initialisation": old failures do not count
        initialSize: old ? 0 : start === 'tail' && !saved ? 0 : size,
        chain: Promise.resolve(),
        removed: false,
      });
      if (!old) {
        if (!exists) filterLog.warn(`${file} does not exist yet: waiting for it to appear`);
        const pos = saved ? saved.position : start === 'tail' ? size : 0;
        for (const rj of jails) filterLog.info(`[${rj.def.name}] Added logfile: '${file}' (pos = ${pos})`);
      }
    }
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
    else if (e.kind === 'rotated' || e.kind === 'truncated' || e.kind === 'missing' || e.kind === 'recovered') log.info(msg);
    else log.debug(msg);
  }

  /** Sends a batch to the matchers; the promise (the file's chain) settles once it is applied,
   *  and until then its bytes count against the tailer's limit (back-pressure). */
  private onBatch(b: TailBatch): Promise<void> | undefined {
    const file = this.files.get(b.fileId);
    if (!file || this.stopped) return undefined;
    const pos = { position: b.end, linesRead: file.linesRead + b.lines, firstLineHash: b.firstLineHash };
    file.linesRead = pos.linesRead;
    if (b.firstLineHash !== undefined) file.firstLineHash = b.firstLineHash;
    const now = this.clock.now();
    const readAt = performance.now();
    this.metrics?.linesOf(file.path, b.lines, b.ends.length);
    const initial = b.base < file.initialSize;
    let scans: Promise<FilterScanMessage[]> | undefined;
    if (b.ends.length) {
      const masks = b.masks;
      const select = masks ? file.jails.map((_, i) => selectLines(masks, i)) : undefined;
      scans = this.pool!.scan(
        file.jails.map((j) => j.spec),
        // one string to the workers, who split it (an array of strings costs far more to send)
        { text: b.buf.toString('utf8'), count: b.ends.length },
        now,
        select,
      );
    }
    this.inFlight++;
    file.chain = file.chain
      .then(async () => {
        const res = scans ? await scans : [];
        const found = res.length ? file.jails.map((rj, i) => (rj.idle ? [] : this.collect(rj, res[i], initial, now))) : [];
        const resolved = await this.resolve(file.jails, found);
        if (file.removed || this.stopped) return;
        this.commit(() => {
          this.batchReadAt = readAt;
          this.addFailures(resolved);
          this.batchReadAt = undefined;
          this.saveTickets(file.jails);
          this.store.savePosition(file.path, { position: pos.position, firstLineHash: file.firstLineHash ?? '', linesRead: pos.linesRead }, now);
        });
        file.position = pos.position;
      })
      .catch((e) => this.log.error(`${file.path}: failed to process lines: ${(e as Error).stack ?? e}`))
      .finally(() => this.landed());
    return file.chain;
  }

  /** One file's scan results for a jail, in line order: the failures to count. */
  private collect(rj: RunningJail, scan: FilterScanMessage, initial: boolean, now: number): FoundFailure[] {
    const out: FoundFailure[] = [];
    let next = 0;
    const times = scan.times;
    for (const h of scan.hits) {
      // earlier lines still move the tracker's "last date"
      for (; next < h.line; next++) rj.tracker.resolveTime(times[next], now, false);
      next = h.line + 1;
      const time = rj.tracker.resolveTime(times[h.line], now, !initial);
      if (time === null || h.ignoredBy !== undefined) continue;
      const t = this.failureTime(rj, time, initial, now);
      if (t === null) continue;
      out.push(...rj.tracker.failures(h.hits, t, now));
    }
    for (; next < times.length; next++) rj.tracker.resolveTime(times[next], now, false);
    return out;
  }

  /** A failure's time: null for old content older than findtime at start; in operation, a time
   *  far from now is a clock or zone problem and counts as now. */
  private failureTime(rj: RunningJail, time: number, initial: boolean, now: number): number | null {
    if (initial) return time < now - rj.def.findtime ? null : time;
    return Math.abs(time - now) > 60 ? now : time;
  }

  /**
   * What needs waiting for before failures are counted: host names resolved (usedns yes/warn)
   * and the ignore rules asked, the ignorecommand included. Returns per failure its jail and the
   * rule that ignores it (null: none).
   */
  private async resolve(jails: RunningJail[], found: FoundFailure[][]): Promise<Resolved[]> {
    const out: Resolved[] = [];
    for (let i = 0; i < found.length; i++) {
      const rj = jails[i];
      for (const f of found[i]) {
        let list: FoundFailure[] = [f];
        if (f.dns) {
          // usedns yes/warn: every address the name resolves to is its own failure
          const addrs = await this.dns.addresses(f.id);
          if (addrs.length && rj.def.filter.usedns === 'warn') this.log.child('fail2ban.filter').warn(`Determined IP using DNS Lookup: ${f.id} = ${JSON.stringify(addrs)}`);
          list = addrs.map((a) => ({ ...f, id: a, dns: false }));
        }
        for (let g of list) {
          const ip = g.fields.ip ?? g.id;
          // banprefix6: an IPv6 attacker is counted and banned by its prefix (it rotates inside it)
          if (rj.banprefix6 !== null && addressFamily(g.id) === 6) g = { ...g, id: prefixOf(g.id, rj.banprefix6), fields: { ...g.fields, ip } };
          let ignoredBy = rj.jail.ignoredBy(ip) ?? null;
          if (!ignoredBy && rj.ignores.hasCommand) {
            const d = await rj.ignores.checkCommand(ip, { fid: g.id, time: g.time ?? undefined, matches: g.matches, fields: g.fields });
            // an answer from ignorecache is not logged again, as in fail2ban
            if (d.ignored && d.cached) continue;
            if (d.ignored) ignoredBy = d.rule ?? 'command';
          }
          out.push({ rj, f: g, ignoredBy });
        }
      }
    }
    return out;
  }

  /** A batch was applied (or dropped): the last one lets the database be written. */
  private landed(): void {
    this.inFlight--;
    this.scheduleWrite();
  }

  /** Count resolved failures (inside a commit). */
  private addFailures(list: Resolved[]): void {
    for (const { rj, f, ignoredBy } of list) {
      if (this.jails.get(rj.def.name) !== rj) continue; // stopped meanwhile
      let weight = 1;
      if (rj.increment && !ignoredBy) {
        const history = this.history(f.fields.ip ?? f.id, { jail: rj.def.name });
        weight = failureWeight(rj.increment, history, f.time ?? this.clock.now(), rj.jail.settings.maxretry);
      }
      rj.jail.addFailure(f, ignoredBy, weight);
      if (!ignoredBy) {
        this.metrics?.failure(rj.def.name, 'local');
        this.activity?.failure();
      }
      if (this.fleet && !ignoredBy) this.fleet.publishFailure(rj.def.name, f.fields.ip ?? f.id, f.time ?? this.clock.now());
    }
  }

  // ---- fleet mode ---------------------------------------------------------------------------

  /** Connects to the fleet's Redis in the background: local banning never waits for it. */
  private async startFleet(settings: FleetSettings): Promise<void> {
    const log = this.log.child('fail2ban.fleet');
    this.fleet = new FleetLink(
      settings,
      {
        bans: (bans) => this.applyFleet(() => bans.forEach((b) => this.fleetBan(b, log))),
        unbans: (list) =>
          this.applyFleet(() => {
            for (const u of list) {
              if (!this.jails.get(u.jail)?.jail.unban(u.ip, 'manual')) continue;
              this.store.forgetBan(u.jail, u.ip);
              log.info(`[${u.jail}] ${u.ip} unbanned by ${u.origin}`);
            }
          }),
        failure: (f) =>
          this.applyFleet(() => {
            this.jails.get(f.jail)?.jail.addFailure({ regex: -1, id: f.ip, dns: false, time: f.time, fields: { ip: f.ip }, matches: [`(fleet: a failure on ${f.origin})`] });
            this.metrics?.failure(f.jail, 'fleet');
            this.activity?.failure();
          }),
      },
      log,
      () => this.clock.now(),
    );
    await this.fleet.start();
    log.info(`Fleet mode: ${this.fleet.describe()} as ${settings.host}`);
  }

  private applyFleet(fn: () => void): void {
    if (this.stopped) return;
    this.commit(() => {
      this.fromFleet = true;
      try {
        fn();
      } finally {
        this.fromFleet = false;
      }
    });
  }

  /** A ban from another host: applied with its end, unless this host's ignore rules say no. */
  private fleetBan(b: FleetBan, log: Logger): void {
    const rj = this.jails.get(b.jail);
    if (!rj) {
      this.fleet?.forget(b.jail, b.ip);
      return;
    }
    const rule = rj.jail.ignoredBy(b.ip);
    if (rule) {
      this.fleet?.forget(b.jail, b.ip);
      log.info(`[${b.jail}] Ignore ${b.ip} by ${rule}: the ban from ${b.origin} is not applied here`);
      return;
    }
    if (rj.jail.ban(b.ip, { time: b.time }, b.end)) log.info(`[${b.jail}] ${b.ip} banned by ${b.origin}`);
  }

  // ---- metrics, JSON API and dashboard ----------------------------------------------------

  private async startHttp(settings: MetricsSettings): Promise<void> {
    const log = this.log.child('fail2ban.server');
    this.metrics = await Metrics.create({
      jails: () => [...this.jails.values()].map((rj) => {
        const c = rj.jail.counts();
        return { name: rj.def.name, banned: c.currentlyBanned, failing: c.currentlyFailed };
      }),
      lag: () =>
        [...this.files.values()].map((f) => {
          let size = f.position;
          try {
            size = fs.statSync(f.path).size;
          } catch {
            // a missing file has nothing left to read
          }
          return { file: f.path, bytes: Math.max(0, size - f.position) };
        }),
      queueDepth: () => this.inFlight,
      fleet: () => this.fleetStatus(),
    });
    const target = new DaemonTarget(this);
    const metrics = this.metrics;
    const activity = (this.activity = new Activity(() => this.clock.now()));
    const listening = HttpListener.listen(
      settings,
      {
        metrics: () => metrics.text(),
        status: () => statusData(target),
        bans: async () => Object.fromEntries([...this.jails.keys()].map((name) => [name, target.bans(name)])),
        unban: async (ip, jail) => {
          if (toFirewallAddress(ip) === undefined) throw new HttpError(400, 'ip must be an IP address or subnet');
          if (jail !== undefined && !this.jails.has(jail)) throw new HttpError(404, 'no such jail');
          let n = 0;
          for (const name of jail !== undefined ? [jail] : [...this.jails.keys()]) n += target.unbanIp(name, ip);
          log.notice(`HTTP: unban ${ip}${jail !== undefined ? ` in ${jail}` : ''}: ${n} ban(s) lifted`);
          return n;
        },
        history: () => activity.history(),
        events: (since) => activity.since(since),
        top: () => this.topOffenders(),
        page: () => dashboardPage(),
      },
      log,
    );
    try {
      this.http = await listening;
    } catch (e) {
      throw new F2bError('CONFIG_VALUE', `[metrics] cannot listen on ${settings.host}:${settings.port}: ${(e as Error).message}`);
    }
    const where = `${this.http.address.host.includes(':') ? `[${this.http.address.host}]` : this.http.address.host}:${this.http.address.port}`;
    log.info(`HTTP listener on ${where}: /metrics, /api/status, /api/bans, /api/unban and the dashboard at /${settings.token ? ' (bearer token required)' : ''}`);
    if (!settings.token && !['127.0.0.1', '::1', 'localhost'].includes(settings.host)) {
      log.warn(`HTTP listener on ${where} without a token: anyone who reaches it reads the bans (set token in [metrics])`);
    }
  }

  /** The dashboard's top 10 addresses and subnets: failures counting now and bans now, over
   *  every jail. */
  private topOffenders(): { addresses: TopRow[]; subnets: TopRow[] } {
    const by = { addresses: new Map<string, TopRow>(), subnets: new Map<string, TopRow>() };
    const add = (ip: string, failures: number, banned: number) => {
      for (const [map, key] of [[by.addresses, ip], [by.subnets, subnetOf(ip)]] as const) {
        const r = map.get(key) ?? { key, failures: 0, banned: 0 };
        r.failures += failures;
        r.banned += banned;
        map.set(key, r);
      }
    };
    for (const rj of this.jails.values()) {
      for (const t of rj.jail.tickets()) add(t.fields.ip ?? t.id, t.failures, 0);
      for (const b of rj.jail.activeBans()) add(b.ip, b.failures, 1);
    }
    const top = (m: Map<string, TopRow>) => [...m.values()].sort((a, b) => b.banned - a.banned || b.failures - a.failures || (a.key < b.key ? -1 : 1)).slice(0, 10);
    return { addresses: top(by.addresses), subnets: top(by.subnets) };
  }

  /** `client fleet status`; null when fleet mode is off. */
  async fleetStatus(): Promise<FleetStatus | null> {
    return this.fleet ? this.fleet.status() : null;
  }

  /** Write the jails' changed failure tickets (inside a commit). */
  private saveTickets(jails: Iterable<RunningJail>): void {
    for (const rj of jails) {
      const c = rj.jail.failures.takeChanges();
      if (c.upserts.length || c.removed.length) this.store.saveTickets(rj.def.name, c.upserts, c.removed);
    }
  }

  // ---- journal -----------------------------------------------------------------------------

  startJournal(rj: RunningJail): void {
    const key = journalCursorKey(rj.def.name);
    const saved = this.store.loadCursor(key);
    const log = this.log.child('fail2ban.filter');
    rj.reader = new JournalReader({
      journal: rj.journal!,
      journalmatch: rj.def.filter.journalmatch,
      findtime: rj.def.findtime,
      savedTime: saved?.time,
      cursor: saved?.cursor,
      clock: this.clock,
      onBatch: (b) => this.onJournalBatch(rj, b),
      onEvent: (e) => {
        const msg = `[${rj.def.name}] journal: ${e.message}`;
        if (e.kind === 'failed') log.error(msg);
        else if (e.kind === 'warning' || e.kind === 'exited') log.warn(msg);
        else log.info(msg);
      },
    });
    rj.reader.start();
  }

  private onJournalBatch(rj: RunningJail, b: JournalBatch): void {
    if (this.stopped) return;
    const now = this.clock.now();
    // matched by the pool as file lines are (the line budget applies), with their entry times
    const scans = !rj.idle && b.lines.length ? this.pool!.scan([rj.spec], b.lines, now, undefined, Float64Array.from(b.times)) : undefined;
    this.inFlight++;
    rj.chain = rj.chain
      .then(async () => {
        const found: FoundFailure[] = [];
        const [scan] = scans ? await scans : [];
        for (const h of scan?.hits ?? []) {
          if (h.ignoredBy !== undefined || !h.hits.length) continue;
          const t = this.failureTime(rj, b.times[h.line], b.initial, now);
          if (t !== null) found.push(...rj.tracker.failures(h.hits, t, now));
        }
        const resolved = await this.resolve([rj], [found]);
        if (this.stopped || this.jails.get(rj.def.name) !== rj) return;
        const last = b.times.length ? b.times[b.times.length - 1] : now;
        this.commit(() => {
          this.addFailures(resolved);
          this.saveTickets([rj]);
          this.store.saveCursor(journalCursorKey(rj.def.name), b.cursor, last);
        });
      })
      .catch((e) => this.log.error(`[${rj.def.name}] failed to process journal entries: ${(e as Error).stack ?? e}`))
      .finally(() => this.landed());
  }

  // ---- time ----------------------------------------------------------------------------------

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

  /** Old bans and tickets leave the database after dbpurgeage (a jail's findtime at least). */
  purge(): void {
    const findtimes = Object.fromEntries([...this.jails.values()].map((rj) => [rj.def.name, rj.def.findtime]));
    try {
      const n = this.store.purge(this.clock.now(), this.dbpurgeage, { findtimes });
      this.log.debug(`Purged the state database: ${n.bans} bans, ${n.tickets} tickets, ${n.positions} positions`);
    } catch (e) {
      this.dbFailed(e, 'purge skipped');
    }
  }

  // ---- operations the control socket asks for ---------------------------------------------

  /** Ban now (client `banip`); false when already banned or not an address. */
  banIp(rj: RunningJail, ip: string): boolean {
    return this.commit(() => rj.jail.ban(ip) !== undefined) ?? false;
  }

  /** Lift a ban and forget it in the database (client `unbanip`); bans lifted. */
  unbanIp(rj: RunningJail, ip: string): number {
    return (
      this.commit(() => {
        const n = rj.jail.unban(ip, 'manual') ? 1 : 0;
        this.store.forgetBan(rj.def.name, ip);
        return n;
      }) ?? 0
    );
  }

  unbanAll(rj: RunningJail): number {
    return (
      this.commit(() => {
        const n = rj.jail.unbanAll('manual');
        this.store.forgetBan(rj.def.name, undefined);
        return n;
      }) ?? 0
    );
  }

  /**
   * Stop one jail: its files and journal let go, its bans lifted from the firewall and its
   * actions stopped. Its bans stay in the database (a start restores them) unless `forget`.
   */
  async stopJail(rj: RunningJail, opts: { forget?: boolean } = {}): Promise<void> {
    const name = rj.def.name;
    if (this.jails.get(name) !== rj) return;
    if (opts.forget) this.unbanAll(rj);
    this.jails.delete(name);
    await rj.reader?.close();
    await rj.chain.catch(() => undefined);
    this.commit(() => this.saveTickets([rj]));
    if (this.tailer) this.syncFiles();
    await rj.actions.stop(rj.jail.takeBans());
    this.log.info(`Jail '${name}' stopped`);
  }

  /**
   * Read the configuration again and apply it (fail2ban's reload): jails no longer configured
   * stop, new ones start, the others take their new filter, settings and actions and keep their
   * bans and failures. `restart` stops and starts the jails instead; `unban` lifts their bans
   * first; DNS answers are looked up again.
   */
  async reload(opts: { jail: string | null; restart: boolean; unban: boolean; ifExists: boolean }): Promise<void> {
    const config = readConfigTree(this.opts.configDir);
    this.log.info(`Reloading the configuration from ${config.source}${opts.jail ? ` for jail '${opts.jail}'` : ''}`);
    this.reportIssues(config);
    const defs = new Map(config.jails.map((d) => [d.name, d]));
    if (opts.jail !== null && !defs.has(opts.jail) && !this.jails.has(opts.jail)) {
      if (opts.ifExists) return;
      throw new F2bError('CONFIG_MISSING', `the jail '${opts.jail}' is not configured in ${config.dir}`);
    }
    this.dns.clear();
    const names = opts.jail !== null ? [opts.jail] : [...new Set([...this.jails.keys(), ...defs.keys()])];
    if (opts.jail === null) {
      this.config = config;
      this.dbpurgeage = config.server.dbpurgeage;
    }
    for (const name of names) {
      const rj = this.jails.get(name);
      if (rj && (!defs.has(name) || opts.restart)) await this.stopJail(rj, { forget: opts.unban });
    }
    const todo: JailParts[] = [];
    for (const name of names) {
      const def = defs.get(name);
      const parts = def && this.build(def);
      // a jail whose new configuration is bad is reported; a running one keeps its old settings
      if (parts) todo.push(parts);
    }
    const changing = new Set(todo.map((p) => p.def.name));
    const kept = [...this.jails.values()].filter((rj) => !changing.has(rj.def.name));
    await this.syncFirewall([...kept.map((rj) => rj.fw), ...todo.map((p) => p.fw)]);
    const started: RunningJail[] = [];
    for (const parts of todo) {
      const rj = this.jails.get(parts.def.name);
      if (rj) {
        if (opts.unban) this.unbanAll(rj);
        await this.update(rj, parts);
      } else {
        started.push(await this.startJail(parts));
      }
    }
    await this.pool?.warm(todo.map((p) => p.spec));
    this.syncFiles();
    for (const rj of started) if (rj.journal) this.startJournal(rj);
  }

  /** A running jail takes new parts (reload, `set`): bans and failures stay. */
  async update(rj: RunningJail, parts: JailParts): Promise<void> {
    const { def } = parts;
    const oldActionKey = rj.actionKey;
    const oldJournalKey = rj.journalKey;
    const oldJournal = rj.journal;
    rj.jail.configure({ maxretry: def.maxretry, maxmatches: def.maxmatches, findtime: def.findtime, bantime: def.bantime });
    rj.jail.ignores = parts.ignores;
    await parts.ignores.prepare();
    if (parts.spec.key !== rj.spec.key) rj.tracker = parts.tracker;
    Object.assign(rj, { def, spec: parts.spec, ignores: parts.ignores, increment: parts.increment, journalKey: parts.journalKey, journal: parts.journal });
    if (parts.actionKey !== oldActionKey) {
      // other actions: the old ones stop (their firewall entries stay: the jail's bans go on),
      // the new ones start and enforce the bans
      const bans = rj.jail.activeBans();
      await rj.actions.stop(bans, { keepFirewall: true });
      rj.fw = parts.fw;
      rj.fwNames = parts.fwNames;
      rj.commands = parts.commands;
      rj.actionKey = parts.actionKey;
      rj.actions = new JailActions(def.name, parts.fw && this.batcher ? { batcher: this.batcher, spec: parts.fw, names: parts.fwNames } : null, parts.commands, this.log.child('fail2ban.actions'), () => this.clock.now());
      await rj.actions.start();
      for (const b of bans) rj.actions.ban(b);
    }
    if (parts.journalKey !== oldJournalKey || !!oldJournal !== !!parts.journal) {
      await rj.reader?.close();
      rj.reader = undefined;
      if (rj.journal) this.startJournal(rj);
    }
    this.log.info(`Jail '${def.name}' reloaded`);
  }

  /** which backends run here (checked once each): true, or the error that says what to install */
  private readonly fwChecked = new Map<BackendKind, true | Error>();

  private async fwCheck(kind: BackendKind): Promise<true | Error> {
    let r = this.fwChecked.get(kind);
    if (r === undefined) {
      try {
        await firewallAvailable(kind);
        r = true;
      } catch (e) {
        r = e as Error;
      }
      this.fwChecked.set(kind, r);
    }
    return r;
  }

  /**
   * Every backend the jails need must run here (an F2bError saying what to install, else). The
   * ipset actions fall back to nftables sets when ipset or iptables is missing and nft is not:
   * the same ports and blocktype, logged once.
   */
  private async checkFirewall(specs: FirewallJailSpec[]): Promise<void> {
    if (this.opts.dryRun) return;
    for (const spec of specs) {
      const kind = spec.backend ?? 'nftables';
      const ok = await this.fwCheck(kind);
      if (ok === true) continue;
      if (kind === 'ipset' && (await this.fwCheck('nftables')) === true) {
        this.log.child('fail2ban.actions').notice(`[${spec.jail}] ${ok.message.split('\n')[0]}: its bans go to nftables sets instead (same ports and blocktype)`);
        spec.backend = 'nftables';
        continue;
      }
      throw ok;
    }
  }

  /**
   * Before jails change (reload): when the firewall entries differ from those it was set up
   * with, it is set up again (which empties it) and every running jail that keeps an entry has
   * its bans blocked again, in one batch.
   */
  async syncFirewall(entries: (FirewallJailSpec | null)[]): Promise<void> {
    if (!this.backend || !this.batcher) return;
    const specs = entries.filter((e): e is FirewallJailSpec => e !== null);
    const key = JSON.stringify(specs);
    if (key === this.fwKey) return;
    await this.batcher.flushNow();
    await this.checkFirewall(specs);
    const n = await this.rebuildFirewall(specs);
    this.fwKey = key;
    this.log.child('fail2ban.actions').info(`Firewall set up again for ${specs.length} jail${specs.length === 1 ? '' : 's'} (${n} active ban${n === 1 ? '' : 's'} blocked again)`);
  }

  /** Sets the firewall up for `specs` (which empties it) and blocks every active ban of those
   *  jails again, in one batch; the number of bans. A failure of the set-up throws; one of the
   *  blocks throws when `strict`, else it is logged and repaired later. */
  private async rebuildFirewall(specs: FirewallJailSpec[], strict = false): Promise<number> {
    await this.backend!.init(specs);
    const names = new Set(specs.map((s) => s.jail));
    const now = this.clock.now();
    const block: FirewallChanges['block'] = [];
    for (const rj of this.jails.values()) {
      if (!names.has(rj.def.name)) continue;
      for (const b of rj.jail.activeBans()) block.push({ jail: rj.def.name, ip: b.ip, timeout: firewallTimeout(b.end, now) });
    }
    if (!block.length) return 0;
    try {
      await this.backend!.update({ block, release: [], unique: true });
    } catch (e) {
      if (strict) throw e;
      const err = e as Error;
      this.log.child('fail2ban.actions').error(`firewall: ${err instanceof F2bError ? err.describe() : err.message} (blocking the active bans again)`);
      this.scheduleRepair();
    }
    return block.length;
  }

  private repairTimer?: NodeJS.Timeout;
  private repairing = false;
  /** back-off while repairs fail: 1 s, then doubling up to 5 min */
  private repairDelayMs = REPAIR_FIRST_MS;

  /** A firewall update failed: repair soon (once; later failures meanwhile change nothing). */
  private scheduleRepair(): void {
    if (this.repairTimer || this.repairing || this.stopped || this.stopping) return;
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined;
      void this.repairFirewall();
    }, this.repairDelayMs);
    this.repairTimer.unref();
  }

  private async repairFirewall(): Promise<void> {
    if (!this.backend || !this.batcher || this.stopped || this.stopping) return;
    const log = this.log.child('fail2ban.actions');
    this.repairing = true;
    const specs = [...this.jails.values()].flatMap((rj) => (rj.fw ? [rj.fw] : []));
    try {
      await this.batcher.flushNow();
      const n = await this.rebuildFirewall(specs, true);
      log.notice(`Firewall repaired: set up again for ${specs.length} jail${specs.length === 1 ? '' : 's'}, ${n} active ban${n === 1 ? '' : 's'} blocked again`);
      this.repairDelayMs = REPAIR_FIRST_MS;
    } catch (e) {
      const err = e as Error;
      this.repairDelayMs = Math.min(this.repairDelayMs * 2, REPAIR_MAX_MS);
      log.error(`Firewall repair failed: ${err instanceof F2bError ? err.describe() : err.message}; bans are kept in memory and the database, trying again in ${Math.round(this.repairDelayMs / 1000)} s`);
      this.repairing = false;
      this.scheduleRepair();
      return;
    }
    this.repairing = false;
  }

  private auditTimer?: NodeJS.Timeout;
  private auditing = false;

  /**
   * Every [firewall] check: whether the tables, sets, chains and rules are all still there. One
   * removed by hand (`nft delete table`, `ipset destroy`, `iptables -F`) is reported and
   * repaired now, not at the next ban's failed update.
   */
  async auditFirewall(): Promise<void> {
    const backend = this.backend;
    if (!backend?.check || this.auditing || this.repairing || this.repairTimer || this.stopped || this.stopping) return;
    const log = this.log.child('fail2ban.actions');
    this.auditing = true;
    try {
      const problems = await backend.check();
      if (!problems.length || this.stopped || this.stopping) return;
      log.error(`Firewall check: ${problems.join('; ')} (changed by hand?): setting it up again`);
    } catch (e) {
      const err = e as Error;
      log.error(`Firewall check failed: ${err instanceof F2bError ? err.describe() : err.message}; setting it up again`);
    } finally {
      this.auditing = false;
    }
    this.scheduleRepair();
  }

  /** Lines read and the resume position per followed file. */
  fileStats(): { path: string; linesRead: number; position: number; firstLineHash?: string }[] {
    return [...this.files.values()].map((f) => ({ path: f.path, linesRead: f.linesRead, position: f.position, firstLineHash: f.firstLineHash }));
  }

  /** Wait until every batch read so far has reached the jails and the firewall (tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.chain));
    await Promise.all([...this.jails.values()].map((rj) => rj.chain));
    await Promise.all([...this.jails.values()].map((rj) => rj.actions.idle()));
    await this.batcher?.flushNow();
  }

  /** The control socket's `stop`: run.ts shuts down as for SIGTERM. */
  requestShutdown(): void {
    this.requestStop();
  }

  /** Stop tailing, lift every ban (they stay in the database for the next start), remove the
   *  firewall table, close the database. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.repairTimer);
    clearInterval(this.purgeTimer);
    clearInterval(this.auditTimer);
    await this.control?.close();
    await this.http?.close();
    // what is queued for the fleet goes out first; the bans lifted at stop are not published
    await this.fleet?.stop();
    this.fleet = undefined;
    await this.tailer?.close();
    // batches read before the stop are applied and saved
    await Promise.all([...this.files.values()].map((f) => f.chain.catch(() => undefined)));
    this.stopped = true;
    for (const rj of this.jails.values()) await rj.reader?.close();
    await Promise.all([...this.jails.values()].map((rj) => rj.chain.catch(() => undefined)));
    if (this.store) {
      this.commit(() => this.saveTickets(this.jails.values()));
      this.writeNow();
    }
    for (const rj of [...this.jails.values()].reverse()) {
      try {
        const bans = this.sink ? this.sink.corked(() => rj.jail.takeBans()) : rj.jail.takeBans();
        await rj.actions.stop(bans);
      } catch (e) {
        this.log.error(`[${rj.def.name}] stopping the actions failed: ${(e as Error).message}`);
      }
      this.log.info(`Jail '${rj.def.name}' stopped`);
    }
    await this.batcher?.close();
    await this.pool?.close();
    clearTimeout(this.flushTimer);
    clearTimeout(this.flushIdle);
    if (this.flushSoon) clearImmediate(this.flushSoon);
    try {
      this.store?.close();
    } catch (e) {
      this.log.error(`state database ${this.dbFile}: ${(e as Error).message} (changes since the last write are lost)`);
    }
    this.log.info('Exiting f2b-fast');
    this.sink?.close();
  }

  /** SIGUSR1: reopen the log file after rotation. */
  reopenLog(): string {
    return this.sink?.reopen() ?? 'flushed';
  }

  get version(): string {
    return packageVersion();
  }
}

/** A state database error's message without the "state database: " the store puts first. */
function dbReason(message: string): string {
  return message.replace(/^state database: /, '');
}

/** A failure ready to count: its jail, and the ignore rule that matched it (null: none). */
interface Resolved {
  rj: RunningJail;
  f: FoundFailure;
  ignoredBy: string | null;
}

/** `2001:db8:1:2::7` with 64 -> `2001:db8:1:2::/64`. */
function prefixOf(address: string, prefix: number): string {
  return formatSubnet(parseSubnet(`${address}/${prefix}`)!);
}

/** The database key of a systemd jail's journal cursor. */
function journalCursorKey(jail: string): string {
  return `journal:${jail}`;
}

/** What a tailer entry depends on: the jails reading the file and their filters. */
function fileKey(jails: RunningJail[]): string {
  return JSON.stringify(jails.map((j) => j.spec.key));
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

export type { FirewallJailSpec };
