// The daemon's state on disk (SQLite, better-sqlite3): bans, open failure tickets, log file
// positions and journal cursors, so that a restart (or a kill -9) neither forgets a ban nor
// counts a log line twice.
//
// `bans` (history) and `bips` (latest ban per ip + jail) have fail2ban's schema-4 columns, so
// operators' sqlite3 queries keep working and fail2ban's own file can be opened in place
// (../shared/fail2ban-reference.md §5). What fail2ban does not persist lives in `f2b_*` tables.
// The daemon writes once per applied log batch (unit()): the tickets it changed, the bans it
// added and the file's new position go together, so a restart re-reads exactly the lines whose
// effects were not saved. With deferWrites() (the daemon's mode) those units are written behind:
// queued in memory, merged, and written by flush() in one transaction, so a burst of three
// batches that create, update and then ban-and-delete the same 10,000 tickets costs the database
// the 10,000 bans, not 50,000 row writes. Every read, and every other write, first writes what
// is queued (read-your-writes), and a unit that reads runs as a real transaction from then on.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { F2bError } from '../errors';
import { roundHalfEven, type FailTicket } from '../jail/failures';

/** The version of the f2b_* layout this code writes (row in f2b_schema). */
export const SCHEMA_VERSION = 2;

/** fail2ban's default for dbmaxmatches. */
export const DEFAULT_MAX_MATCHES = 10;

/** What a ban row's `data` JSON holds: the matched lines, the failure count and any captured
 *  fields (fail2ban writes e.g. `user`, sometimes as a Python list's repr). */
export interface BanData {
  matches: string[];
  failures: number;
  [field: string]: unknown;
}

export interface BanRecord {
  jail: string;
  ip: string;
  /** epoch seconds (whole: fail2ban rounds the ticket's time) */
  timeofban: number;
  /** seconds; -1 = permanent; -2 = unknown (rows fail2ban upgraded from schema 2: the jail's
   *  bantime applies, as fail2ban's restore does) */
  bantime: number;
  /** how many times this ip has been banned in this jail (bantime.increment) */
  bancount: number;
  data: BanData;
}

/** addBan's input: `data` may leave out what it does not know. */
export interface NewBan extends Omit<BanRecord, 'data'> {
  data?: { matches?: readonly string[]; failures?: number; [field: string]: unknown };
}

/** What bantime.increment reads (fail2ban's Fail2BanDb.getBan). */
export interface BanHistory {
  bancount: number;
  timeofban: number;
  bantime: number;
}

export interface BanHistoryQuery {
  /** the jail asking (ignored with overalljails) */
  jail?: string;
  /** bantime.overalljails: sum of bancount and bantime, latest timeofban, over every jail */
  overalljails?: boolean;
  /** only bans with timeofban > since */
  since?: number;
}

/** Every recorded ban of one ip merged (fail2ban's getBansMerged): for action tags such as
 *  <ipmatches> and <ipfailures>. */
export interface MergedBans {
  ip: string;
  /** the oldest timeofban merged */
  time: number;
  /** sum of the bans' failures */
  failures: number;
  /** at most maxMatches lines, in time order, the newest bans' lines kept first */
  matches: string[];
  /** the other data fields (the oldest ban's value wins, as in fail2ban) */
  data: Record<string, unknown>;
}

/** An open failure ticket of a jail (the FailureCounter's state). */
export type StoredTicket = FailTicket;

export interface PositionRecord {
  /** byte offset after the last line read (TailBatch.end) */
  position: number;
  /** TailEvent.firstLineHash of the file the position belongs to ('' = unknown) */
  firstLineHash: string;
  /** lines read up to `position` */
  linesRead: number;
}

export interface CursorRecord {
  cursor: string;
  /** epoch seconds of the entry the cursor points at */
  time: number;
}

export interface StateStoreOptions {
  /** fail2ban.conf's dbmaxmatches: matches kept per ban row (0 = none); default 10 */
  maxMatches?: number;
  /** how long a statement waits for another process's lock; default 5000 */
  busyTimeoutMs?: number;
}

export interface PurgeOptions {
  /** per jail findtime: a ticket is kept while its last failure is newer than
   *  now - max(purgeage, findtime), so a jail with findtime > dbpurgeage (recidive) keeps its
   *  counts */
  findtimes?: Record<string, number>;
}

export interface PurgeCounts {
  bans: number;
  bips: number;
  tickets: number;
  positions: number;
}

/** The columns fail2ban's schema 4 gives both ban tables: a file without them cannot be used. */
const BAN_COLUMNS = ['jail', 'ip', 'timeofban', 'bantime', 'bancount', 'data'];

/** MIGRATIONS[v] takes the f2b_* layout from version v to v + 1. bans/bips are created only if
 *  missing: on fail2ban's own file they are already there (with a foreign key to its `jails`
 *  table, which we never enable). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
     bantime INTEGER NOT NULL, bancount INTEGER NOT NULL DEFAULT 1, data JSON);
   CREATE INDEX IF NOT EXISTS bans_jail_timeofban_ip ON bans(jail, timeofban);
   CREATE INDEX IF NOT EXISTS bans_jail_ip ON bans(jail, ip);
   CREATE INDEX IF NOT EXISTS bans_ip ON bans(ip);
   CREATE TABLE IF NOT EXISTS bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL,
     bantime INTEGER NOT NULL, bancount INTEGER NOT NULL DEFAULT 1, data JSON, PRIMARY KEY(ip, jail));
   CREATE INDEX IF NOT EXISTS bips_timeofban ON bips(timeofban);
   CREATE INDEX IF NOT EXISTS bips_ip ON bips(ip);
   CREATE TABLE f2b_tickets(jail TEXT NOT NULL, id TEXT NOT NULL, first REAL NOT NULL, last REAL NOT NULL,
     retry INTEGER NOT NULL, failures INTEGER NOT NULL, matches JSON NOT NULL, fields JSON NOT NULL,
     PRIMARY KEY(jail, id)) WITHOUT ROWID;
   CREATE INDEX f2b_tickets_last ON f2b_tickets(last);
   CREATE TABLE f2b_positions(path TEXT PRIMARY KEY, position INTEGER NOT NULL, first_line_hash TEXT NOT NULL,
     lines_read INTEGER NOT NULL, saved_at REAL NOT NULL) WITHOUT ROWID;
   CREATE TABLE f2b_cursors(key TEXT PRIMARY KEY, cursor TEXT NOT NULL, time REAL NOT NULL) WITHOUT ROWID;`,
  // 2: a restart reads a jail's bans a page at a time, in ban order (currentBansPage), and
  // their times from the index alone (currentBanTimesPage)
  `CREATE INDEX IF NOT EXISTS bips_jail_timeofban_ip_bantime ON bips(jail, timeofban, ip, bantime);`,
];

interface BanRow {
  jail: string;
  ip: string;
  timeofban: number;
  bantime: number;
  bancount: number;
  data: unknown;
}

interface TicketRow {
  id: string;
  first: number;
  last: number;
  retry: number;
  failures: number;
  matches: string;
  fields: string;
}

/** One `matches` entry as a line: fail2ban stores a line cut around its date as
 *  [before, date, after]; joined, it is the line again (fail2ban's Ticket.getMatches). */
function matchLine(m: unknown): string {
  if (typeof m === 'string') return m;
  if (Array.isArray(m)) return m.map((p) => (typeof p === 'string' ? p : String(p))).join('');
  return String(m);
}

/**
 * A ban row's `data` column as BanData: fail2ban writes a UTF-8 JSON blob, we write JSON text;
 * a value that does not parse counts as {} (fail2ban's loader does the same).
 */
export function parseBanData(raw: unknown): BanData {
  let obj: unknown = {};
  if (raw !== null && raw !== undefined) {
    try {
      obj = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw));
    } catch {
      obj = {};
    }
  }
  // obj is ours (just parsed): it becomes the result, without copies (a restart reads 100,000)
  const rec: Record<string, unknown> = obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : {};
  rec.matches = Array.isArray(rec.matches) ? rec.matches.map(matchLine) : [];
  // a row without a count stands for one failure (fail2ban's getBansMerged reads it so)
  rec.failures = typeof rec.failures === 'number' && Number.isFinite(rec.failures) ? rec.failures : 1;
  return rec as BanData;
}

/**
 * A state database error (code STATE_DB, `file` set). `sqlite` is SQLite's extended code when
 * SQLite raised it; `lost` says the file can no longer hold the state: SQLite finds it corrupt
 * or not a database, or it was removed or replaced under the open connection. A lost file is
 * moved aside and rebuilt (src/state/recover.ts); any other error (full, locked, read-only)
 * may pass: the writes stay queued.
 */
export class StateDbError extends F2bError {
  readonly sqlite?: string;
  readonly lost: boolean;

  constructor(message: string, file: string, o: { sqlite?: string; lost?: boolean } = {}) {
    super('STATE_DB', message, { file });
    this.sqlite = o.sqlite;
    this.lost = o.lost ?? isCorruptCode(o.sqlite);
  }
}

/** SQLITE_CORRUPT (and its extended codes) and SQLITE_NOTADB: the file's content is bad. */
function isCorruptCode(code: string | undefined): boolean {
  return code !== undefined && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/** How long a write waits for another process's lock while writes are failing: the retries
 *  of a locked database must not stall the daemon for the whole busy timeout each. */
const FAILING_BUSY_TIMEOUT_MS = 100;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Writes queued by a write-behind store (deferWrites), later writes of a key in place of
 *  earlier ones. */
interface QueuedWrites {
  /** new bans and forgotten ones, in the order they came (a ban after a forget stays) */
  bans: (BanRecord | ForgetBans)[];
  /** jail -> ticket id -> the ticket to write (the live object: written as it is at flush time,
   *  its state after the last complete unit) or null to delete */
  tickets: Map<string, Map<string, StoredTicket | null>>;
  positions: Map<string, [PositionRecord, number]>;
  cursors: Map<string, [string, number]>;
  rows: number;
  /** when the oldest of these writes was queued (performance.now()), 0 when none is */
  since: number;
}

/** An operator's unban queued (forgetBan): the rows of `ip` (every ip when
 *  undefined) in `jail` (every jail when undefined) go. */
interface ForgetBans {
  forget: true;
  jail: string | undefined;
  ip: string | undefined;
}

function noWrites(): QueuedWrites {
  return { bans: [], tickets: new Map(), positions: new Map(), cursors: new Map(), rows: 0, since: 0 };
}

/** Adds `later` to `into` (later writes of a key win). */
function mergeWrites(into: QueuedWrites, later: QueuedWrites): void {
  for (const b of later.bans) into.bans.push(b);
  for (const [jail, m] of later.tickets) {
    let to = into.tickets.get(jail);
    if (!to) into.tickets.set(jail, (to = new Map()));
    for (const [id, t] of m) to.set(id, t);
  }
  for (const [k, v] of later.positions) into.positions.set(k, v);
  for (const [k, v] of later.cursors) into.cursors.set(k, v);
  into.rows += later.rows;
  if (later.since && (!into.since || later.since < into.since)) into.since = later.since;
}

export class StateStore {
  readonly file: string;
  readonly maxMatches: number;
  readonly #db: Database.Database;
  readonly #tx: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #s: ReturnType<typeof prepareStatements>;
  /** write-behind (deferWrites): what is queued, the open unit's writes so far included */
  #defer = false;
  #pending = noWrites();
  #inUnit = false;
  /** the open unit became a real transaction (it read, or made a write that is not deferred);
   *  what was queued is in it, and queued again if it rolls back */
  #unitTx = false;
  #carried: QueuedWrites | null = null;
  /** the last write failed (full, locked, ...): until one succeeds, reads do not try to write
   *  the queue first (they see the database without it), and writes wait a short busy timeout */
  #failing = false;
  readonly #busyTimeoutMs: number;
  /** the file's device and inode when opened (null: in memory): flush() notices when the path
   *  no longer leads to it (removed or replaced under the open connection) */
  readonly #identity: string | null;
  /** the latest position per file and cursor per key saved or loaded through this store: what
   *  a rebuilt database needs besides the jails' bans and tickets (src/state/recover.ts) */
  readonly #progress = { positions: new Map<string, [PositionRecord, number]>(), cursors: new Map<string, CursorRecord>() };

  private constructor(file: string, db: Database.Database, maxMatches: number, busyTimeoutMs: number, identity: string | null) {
    this.file = file;
    this.#db = db;
    this.maxMatches = maxMatches;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#identity = identity;
    this.#s = prepareStatements(db);
    this.#tx = db.transaction((fn: () => unknown) => {
      const r = fn();
      // better-sqlite3 commits when fn returns: a promise would commit before its work is done
      if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
        throw new TypeError('StateStore.transaction(fn): fn must be synchronous');
      }
      return r;
    });
  }

  /**
   * Opens (creating it and its directory, mode 0700, if missing) the state database `file`, or
   * an in-memory one for ':memory:'. Throws F2bError('STATE_DB'), its `file` set (describe()
   * shows it), when the file cannot be opened, is not a database, is corrupt, has a newer
   * f2b-fast layout, or holds fail2ban tables older than schema 4.
   */
  static open(file: string, opts: StateStoreOptions = {}): StateStore {
    const maxMatches = checkMaxMatches(opts.maxMatches);
    const memory = file === ':memory:';
    let db: Database.Database | undefined;
    try {
      if (!memory) {
        fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
        // create it 0600 ourselves: ban rows hold log lines (user names, addresses). SQLite
        // takes an empty file as an empty database, and gives its -wal/-shm files this mode.
        try {
          fs.closeSync(fs.openSync(file, 'wx', 0o600));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
      const busy = opts.busyTimeoutMs ?? 5000;
      db = new Database(file, { timeout: busy });
      // refuse a file we cannot use before changing anything in it (such as its journal mode)
      const version = checkLayout(db, file);
      if (!memory) {
        // WAL: a commit appends to the -wal file and is durable once write() returns, so a
        // process killed at any moment (SIGKILL, OOM) loses no committed transaction; the OS
        // still holds the bytes. synchronous=NORMAL skips the fsync per commit: only a power
        // loss or kernel crash can lose the last commits, and the file stays consistent even
        // then. (fail2ban runs synchronous=OFF with an in-memory journal, which can corrupt.)
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') throw new Error(`cannot switch to WAL journal mode (got ${String(mode)})`);
      }
      db.pragma('synchronous = NORMAL');
      migrate(db, version);
      return new StateStore(file, db, maxMatches, busy, memory ? null : fileIdentity(file));
    } catch (e) {
      db?.close();
      if (e instanceof F2bError) throw e;
      const code = sqliteCode(e);
      throw new StateDbError(`cannot open the state database: ${errorText(e)}${code ? ` (${code})` : ''}`, file, { sqlite: code });
    }
  }

  /** An in-memory copy of an existing database (for dry runs: changes never reach the file). */
  static openCopy(file: string, opts: StateStoreOptions = {}): StateStore {
    const maxMatches = checkMaxMatches(opts.maxMatches);
    let db: Database.Database | undefined;
    try {
      const src = new Database(file, { readonly: true, fileMustExist: true, timeout: opts.busyTimeoutMs ?? 5000 });
      let image: Buffer;
      try {
        image = src.serialize();
      } finally {
        src.close();
      }
      // header bytes 18-19 say "WAL" (2) in our files; an in-memory image cannot be in WAL
      // mode, so mark it as a rollback-journal database (1) before loading it
      if (image.length >= 20) image[18] = image[19] = 1;
      db = new Database(image);
      migrate(db, checkLayout(db, file));
      return new StateStore(file, db, maxMatches, opts.busyTimeoutMs ?? 5000, null);
    } catch (e) {
      db?.close();
      if (e instanceof F2bError) throw e;
      throw new F2bError('STATE_DB', `cannot read the state database: ${errorText(e)}`, { file });
    }
  }

  /**
   * Runs fn in one transaction: everything it does is committed together, or (if it throws)
   * not at all. Nested calls become savepoints. fn must be synchronous. BEGIN IMMEDIATE takes
   * the write lock up front, so another process writing too waits (busy timeout) instead of
   * failing at its first write.
   */
  transaction<T>(fn: () => T): T {
    this.#sync();
    return this.#guard(() => this.#tx.immediate(fn) as T);
  }

  /**
   * Write-behind from now on: addBan, saveTickets, savePosition and saveCursor are queued and
   * written by flush() (or before the next read or other write). The caller decides when to
   * flush; a process killed before it loses the queued writes as a whole, never part of a unit.
   */
  deferWrites(): void {
    this.#defer = true;
  }

  /**
   * Runs fn as one unit: its writes are saved together, in one transaction. Without
   * deferWrites() it is transaction(fn). With it, the writes are queued (nothing is written
   * yet); if fn reads the database or makes a write that is not deferred, what is queued goes
   * into a transaction that stays open until fn returns, so fn reads its own writes and the
   * unit commits whole. If fn throws, what it wrote in that transaction is rolled back and what
   * it queued stays queued: the caller's memory keeps its changes too (a bug path; the daemon
   * reports it).
   */
  unit<T>(fn: () => T): T {
    if (!this.#defer) return this.transaction(fn);
    if (this.#inUnit || this.#db.inTransaction) return fn(); // part of the open unit or transaction
    this.#inUnit = true;
    let ok = false;
    try {
      const r = fn();
      ok = true;
      return r;
    } finally {
      const tx = this.#unitTx;
      const carried = this.#carried;
      this.#inUnit = this.#unitTx = false;
      this.#carried = null;
      if (tx) this.#endUnitTx(ok, carried);
    }
  }

  #endUnitTx(ok: boolean, carried: QueuedWrites | null): void {
    if (ok && this.#db.inTransaction) {
      try {
        this.#guard(() => this.#s.commit.run());
        return;
      } catch (e) {
        this.#requeue(carried);
        throw e;
      }
    }
    this.#requeue(carried);
  }

  /** After a failed transaction: roll it back and queue again what it carried. */
  #requeue(carried: QueuedWrites | null): void {
    if (this.#db.inTransaction) this.#guard(() => this.#s.rollback.run());
    if (carried) this.#putBack(carried);
  }

  /** Writes taken from the queue and not written: in front of it again (later writes win). */
  #putBack(w: QueuedWrites): void {
    mergeWrites(w, this.#pending);
    this.#pending = w;
  }

  /** Writes what is queued in one transaction; returns how many rows that was. Inside a unit,
   *  opens the unit's transaction instead (see unit()). If the write fails, the error is thrown
   *  (the caller reports it) and the writes stay queued. */
  flush(): number {
    if (!this.#defer || this.#db.inTransaction) return 0;
    const w = this.#pending;
    if (w.rows === 0) return 0;
    if (this.#inUnit) {
      this.#sync();
      return w.rows;
    }
    this.#pending = noWrites();
    try {
      this.#checkIdentity();
      this.#guard(() => this.#tx.immediate(() => this.#apply(w)));
    } catch (e) {
      // kept for the next flush (a locked or full database may recover)
      this.#putBack(w);
      this.#setFailing(true);
      throw e;
    }
    this.#setFailing(false);
    return w.rows;
  }

  /** Whether the last write failed (and no write has succeeded since). */
  get failing(): boolean {
    return this.#failing;
  }

  #setFailing(on: boolean): void {
    if (on === this.#failing) return;
    this.#failing = on;
    try {
      this.#db.pragma(`busy_timeout = ${on ? Math.min(FAILING_BUSY_TIMEOUT_MS, this.#busyTimeoutMs) : this.#busyTimeoutMs}`);
    } catch {
      // a connection that cannot even take a pragma fails the next write again
    }
  }

  /** Throws a lost StateDbError when the path no longer leads to the file opened (removed, or
   *  replaced by another file): SQLite would go on writing to the unlinked one. */
  #checkIdentity(): void {
    if (this.#identity === null) return;
    const now = fileIdentity(this.file);
    if (now === this.#identity) return;
    throw new StateDbError(now === null ? 'the file was removed while open' : 'the file was replaced by another one while open', this.file, { lost: true });
  }

  /** SQLite's quick_check of the file: null when it passes, else its first finding. */
  quickCheck(): string | null {
    const r = this.#guard(() => this.#db.pragma('quick_check(1)', { simple: true }));
    return r === 'ok' ? null : String(r);
  }

  /** The latest position of each file and cursor of each journal this store saved or loaded. */
  progress(): { positions: Map<string, [PositionRecord, number]>; cursors: Map<string, CursorRecord> } {
    return { positions: new Map(this.#progress.positions), cursors: new Map(this.#progress.cursors) };
  }

  /** Closes the connection without writing what is queued (a lost file: the caller rebuilds
   *  the state elsewhere); errors of the close are ignored. */
  abandon(): void {
    this.#pending = noWrites();
    try {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    } catch {
      // the file is beyond use
    }
    try {
      this.#db.close();
    } catch {
      // the same
    }
  }

  /** Queued rows not yet written (write-behind), and how long the oldest has waited (ms). */
  get pendingWrites(): { rows: number; ageMs: number } {
    const { rows, since } = this.#pending;
    return { rows, ageMs: rows ? performance.now() - since : 0 };
  }

  // ---- bans ----

  /**
   * Records a ban: a history row (bans) and the ip's latest row in the jail (bips), as
   * fail2ban's addBan does. timeofban is rounded to whole seconds (Python's round); matches
   * keep the last maxMatches lines, none with maxMatches 0.
   */
  addBan(ban: NewBan): void {
    const rec = this.#normalize(ban);
    const q = this.#queueFor();
    if (q) {
      q.bans.push(rec);
      q.rows++;
    } else this.#atomic(() => this.#writeBan(rec));
  }

  #writeBan(rec: BanRecord): void {
    const data = JSON.stringify(rec.data);
    this.#s.insertBan.run(rec.jail, rec.ip, rec.timeofban, rec.bantime, rec.bancount, data);
    this.#s.replaceBip.run(rec.ip, rec.jail, rec.timeofban, rec.bantime, rec.bancount, data);
  }

  /**
   * Adds a history row unless the same ban (jail, ip, timeofban, bantime, bancount) is there
   * already; returns whether it did (for imports, which must be idempotent).
   */
  addBanHistory(ban: NewBan): boolean {
    this.#sync();
    const rec = this.#normalize(ban);
    return this.#guard(() => {
      const r = this.#s.insertBanIfAbsent.run({ ...rec, data: JSON.stringify(rec.data) });
      return r.changes > 0;
    });
  }

  /** Makes `ban` the ip's latest ban in its jail (bips) if there is none or it is newer;
   *  returns whether it did. */
  mergeLatestBan(ban: NewBan): boolean {
    this.#sync();
    const rec = this.#normalize(ban);
    return this.#guard(() => {
      const r = this.#s.upsertBipIfNewer.run(rec.ip, rec.jail, rec.timeofban, rec.bantime, rec.bancount, JSON.stringify(rec.data));
      return r.changes > 0;
    });
  }

  /** Manual unban: forgets the ip's bans (history and latest) in `jail`, or in every jail when
   *  jail is undefined. Returns how many jails had a latest-ban row for it. */
  deleteBan(jail: string | undefined, ip: string): number {
    this.#sync();
    return this.#atomic(() => this.#forget(jail, ip));
  }

  /** deleteBan (ip given) or deleteBans, queued with the other writes under deferWrites() (so
   *  it neither waits for nor stops on a database that fails), else at once. */
  forgetBan(jail: string | undefined, ip: string | undefined): void {
    const q = this.#queueFor();
    if (q) {
      q.bans.push({ forget: true, jail, ip });
      q.rows++;
    } else this.#atomic(() => this.#forget(jail, ip));
  }

  #forget(jail: string | undefined, ip: string | undefined): number {
    if (ip === undefined) {
      if (jail === undefined) {
        this.#s.deleteBansAll.run();
        return this.#s.deleteBipsAll.run().changes;
      }
      this.#s.deleteBansJail.run(jail);
      return this.#s.deleteBipsJail.run(jail).changes;
    }
    if (jail === undefined) {
      this.#s.deleteBansIp.run(ip);
      return this.#s.deleteBipsIp.run(ip).changes;
    }
    this.#s.deleteBansJailIp.run(jail, ip);
    return this.#s.deleteBipsJailIp.run(jail, ip).changes;
  }

  /** `unban --all`: forgets every ban of `jail` (or of every jail). Returns the latest-ban rows
   *  removed. */
  deleteBans(jail?: string): number {
    this.#sync();
    return this.#atomic(() => this.#forget(jail, undefined));
  }

  /**
   * One page of a jail's bans to restore, as currentBans(now, jail) orders them: the first
   * `limit` after `after` (the last row of the page before; null: from the start). A restart
   * reads 100,000 bans in pages so that the first reach the firewall while the rest are read.
   */
  currentBansPage(now: number, jail: string, after: { timeofban: number; ip: string } | null, limit: number): BanRecord[] {
    this.#syncRead();
    return this.#guard(() => {
      const rows = (
        after === null ? this.#s.currentJailFirst.all(now, jail, limit) : this.#s.currentJailAfter.all(now, jail, after.timeofban, after.ip, limit)
      ) as [string, string, number, number, number, unknown][];
      return rows.map(([jail, ip, timeofban, bantime, bancount, data]) => toBanRecord({ jail, ip, timeofban, bantime, bancount, data }));
    });
  }

  /** currentBansPage without the data, as [ip, timeofban, bantime] (no object per row): what
   *  the firewall needs of each ban. `after` is the last row of the page before. */
  currentBanTimesPage(now: number, jail: string, after: readonly [string, number, number] | null, limit: number): [string, number, number][] {
    this.#syncRead();
    return this.#guard(
      () => (after === null ? this.#s.banTimesFirst.all(now, jail, limit) : this.#s.banTimesAfter.all(now, jail, after[1], after[0], limit)) as [string, number, number][],
    );
  }

  /**
   * The bans to restore: latest-ban rows still running at `now` (timeofban + bantime > now) or
   * without end (bantime -1, and -2 = unknown), one per ip and jail, ordered by jail and time.
   * Capping bantime to the jail's current maximum is the caller's (fail2ban's restore rule).
   */
  currentBans(now: number, jail?: string): BanRecord[] {
    this.#syncRead();
    return this.#guard(() => {
      const rows = (jail === undefined ? this.#s.currentAll.all(now) : this.#s.currentJail.all(now, jail)) as [string, string, number, number, number, unknown][];
      return rows.map(([jail, ip, timeofban, bantime, bancount, data]) => toBanRecord({ jail, ip, timeofban, bantime, bancount, data }));
    });
  }

  /**
   * What bantime.increment needs about an ip, with fail2ban's getBan semantics, read from the
   * latest-ban rows: with `overalljails`, sum(bancount), max(timeofban) and sum(bantime) over
   * every jail (a permanent -1 is summed as is, as fail2ban does); else the row of `jail`, or
   * without a jail the ip's most recent row. undefined = never banned (within `since`).
   */
  banHistory(ip: string, q: BanHistoryQuery = {}): BanHistory | undefined {
    this.#syncRead();
    const since = q.since ?? -Infinity;
    return this.#guard(() => {
      let row: BanHistory | undefined;
      if (q.overalljails) row = this.#s.historyOverall.get(ip, since) as BanHistory | undefined;
      else if (q.jail !== undefined) row = this.#s.historyJail.get(ip, q.jail, since) as BanHistory | undefined;
      else row = this.#s.historyLatest.get(ip, since) as BanHistory | undefined;
      // an aggregate over no rows still yields one row, of NULLs
      return row && row.timeofban !== null ? { bancount: row.bancount, timeofban: row.timeofban, bantime: row.bantime } : undefined;
    });
  }

  /** Every recorded ban of `ip` (in `jail`, or in any jail) merged into one ticket, as
   *  fail2ban's getBansMerged does; undefined when there is none. */
  mergedBans(ip: string, jail?: string): MergedBans | undefined {
    this.#syncRead();
    const rows = this.#guard(() => (jail === undefined ? this.#s.historyRowsIp.all(ip) : this.#s.historyRowsJailIp.all(ip, jail)) as { timeofban: number; data: unknown }[]);
    if (rows.length === 0) return undefined;
    // newest first: each older ban's lines go in front while there is room
    let matches: string[] = [];
    let failures = 0;
    let data: Record<string, unknown> = {};
    let time = rows[0].timeofban;
    for (const row of rows) {
      const d = parseBanData(row.data);
      const room = this.maxMatches - matches.length;
      if (room > 0) matches = [...d.matches.slice(-room), ...matches];
      failures += d.failures;
      const { matches: _m, failures: _f, ...rest } = d;
      data = { ...data, ...rest };
      time = row.timeofban;
    }
    return { ip, time, failures, matches, data };
  }

  /** The jails in which `ip` is banned at `now` (by the latest-ban rows), sorted. */
  bannedJails(ip: string, now: number): string[] {
    this.#syncRead();
    return this.#guard(() => this.#s.bannedJails.all(ip, now) as string[]);
  }

  // ---- failure tickets ----

  /** Writes a jail's changed tickets and drops the ones that left it (banned, expired). */
  saveTickets(jail: string, upserts: readonly StoredTicket[], removedIds: readonly string[]): void {
    if (upserts.length === 0 && removedIds.length === 0) return;
    const q = this.#queueFor();
    if (q) {
      // queued as the live ticket: a later unit's change of it is written instead
      let m = q.tickets.get(jail);
      if (!m) q.tickets.set(jail, (m = new Map()));
      const before = m.size;
      for (const t of upserts) m.set(t.id, t);
      for (const id of removedIds) m.set(id, null);
      q.rows += m.size - before;
      return;
    }
    this.#atomic(() => {
      for (const t of upserts) this.#writeTicket(jail, t);
      for (const id of removedIds) this.#s.deleteTicket.run(jail, id);
    });
  }

  #writeTicket(jail: string, t: StoredTicket): void {
    this.#s.upsertTicket.run(jail, t.id, t.first, t.last, t.retry, t.failures, JSON.stringify(t.matches), JSON.stringify(t.fields));
  }

  /** A jail's open tickets, oldest last failure first. */
  loadTickets(jail: string): StoredTicket[] {
    this.#syncRead();
    return this.#guard(() =>
      (this.#s.loadTickets.all(jail) as TicketRow[]).map((r) => ({
        id: r.id,
        first: r.first,
        last: r.last,
        retry: r.retry,
        failures: r.failures,
        matches: parseJson(r.matches, [] as string[], Array.isArray),
        fields: parseJson(r.fields, {} as Record<string, string>, isPlainObject),
      })),
    );
  }

  /** Forgets the tickets of `jail` (or of every jail); returns how many. */
  clearTickets(jail?: string): number {
    this.#sync();
    return this.#guard(() => (jail === undefined ? this.#s.clearTicketsAll.run() : this.#s.clearTicketsJail.run(jail)).changes);
  }

  // ---- positions and cursors ----

  /** Where reading `file` resumes. `savedAt` (epoch seconds, the daemon's clock) lets purge()
   *  forget positions of files gone for longer than dbpurgeage. */
  savePosition(file: string, pos: PositionRecord, savedAt: number): void {
    this.#progress.positions.set(file, [{ position: pos.position, firstLineHash: pos.firstLineHash, linesRead: pos.linesRead }, savedAt]);
    const q = this.#queueFor();
    if (q) {
      if (!q.positions.has(file)) q.rows++;
      q.positions.set(file, [{ position: pos.position, firstLineHash: pos.firstLineHash, linesRead: pos.linesRead }, savedAt]);
    } else this.#guard(() => this.#s.savePosition.run(file, pos.position, pos.firstLineHash, pos.linesRead, savedAt));
  }

  loadPosition(file: string): PositionRecord | undefined {
    this.#syncRead();
    const pos = this.#guard(() => this.#s.loadPosition.get(file) as PositionRecord | undefined);
    if (pos && !this.#progress.positions.has(file)) this.#progress.positions.set(file, [pos, 0]);
    return pos;
  }

  /** A journal reader's cursor under `key` (e.g. the jail's journalmatch), with the entry's time. */
  saveCursor(key: string, cursor: string, time: number): void {
    this.#progress.cursors.set(key, { cursor, time });
    const q = this.#queueFor();
    if (q) {
      if (!q.cursors.has(key)) q.rows++;
      q.cursors.set(key, [cursor, time]);
    } else this.#guard(() => this.#s.saveCursor.run(key, cursor, time));
  }

  loadCursor(key: string): CursorRecord | undefined {
    this.#syncRead();
    const c = this.#guard(() => this.#s.loadCursor.get(key) as CursorRecord | undefined);
    if (c && !this.#progress.cursors.has(key)) this.#progress.cursors.set(key, c);
    return c;
  }

  // ---- upkeep ----

  /**
   * fail2ban's hourly purge, plus ours: history rows with timeofban < now - purgeage; latest-ban
   * rows when also not permanent and timeofban + 3 * bantime < now - purgeage (they still feed
   * bantime.increment until then); tickets whose last failure is older than
   * now - max(purgeage, the jail's findtime); positions saved before now - purgeage whose file
   * no longer exists (a file that exists keeps its position however idle it is).
   */
  purge(now: number, purgeage: number, opts: PurgeOptions = {}): PurgeCounts {
    this.#sync();
    const limit = now - purgeage;
    // fail2ban compares bips against int(now) - purgeage
    const bipsLimit = Math.trunc(now) - purgeage;
    return this.#atomic(() => {
      const bans = this.#s.purgeBans.run(limit).changes;
      const bips = this.#s.purgeBips.run(bipsLimit, bipsLimit).changes;
      let tickets = 0;
      const findtimes = opts.findtimes ?? {};
      const longer = Object.keys(findtimes).filter((j) => findtimes[j] > purgeage);
      for (const jail of longer) tickets += this.#s.purgeTicketsJail.run(jail, now - findtimes[jail]).changes;
      tickets += this.#s.purgeTicketsExcept.run(limit, JSON.stringify(longer)).changes;
      let positions = 0;
      for (const file of this.#s.stalePositions.all(limit) as string[]) {
        if (!fileExists(file)) positions += this.#s.deletePosition.run(file).changes;
      }
      return { bans, bips, tickets, positions };
    });
  }

  /** Writes what is queued, then closes the database (idempotent). A unit still open (a
   *  transaction) is rolled back. */
  close(): void {
    if (!this.#db.open) return;
    try {
      if (!this.#inUnit) this.flush();
    } finally {
      this.#db.close();
    }
  }

  /** Where a deferred write goes: the queue, or null = write it now (write-through, or inside
   *  a transaction). */
  #queueFor(): QueuedWrites | null {
    if (!this.#defer || this.#db.inTransaction) return null;
    this.#pending.since ||= performance.now();
    return this.#pending;
  }

  /** Before a read: #sync(), unless writes are failing: then the read sees the database without
   *  the queue (a full or locked database must not stop a unit that reads, e.g. the ban history
   *  of bantime.increment; the queue is written when the database takes writes again). */
  #syncRead(): void {
    if (!this.#failing) this.#sync();
  }

  /** Before a read or an undeferred write: write what is queued. Inside a unit, open the unit's
   *  transaction with the queue (the unit's writes so far included) in it. */
  #sync(): void {
    if (!this.#defer || this.#db.inTransaction || this.#pending.rows === 0) return;
    if (!this.#inUnit) {
      this.flush();
      return;
    }
    const carried = this.#pending;
    this.#pending = noWrites();
    try {
      this.#guard(() => {
        this.#s.beginImmediate.run();
        this.#apply(carried);
      });
    } catch (e) {
      // the unit goes on queued, as if nothing had been tried
      this.#requeue(carried);
      this.#setFailing(true);
      throw e;
    }
    this.#unitTx = true;
    this.#carried = carried;
  }

  #apply(w: QueuedWrites): void {
    for (const b of w.bans) {
      if ('forget' in b) this.#forget(b.jail, b.ip);
      else this.#writeBan(b);
    }
    for (const [jail, m] of w.tickets) {
      for (const [id, ticket] of m) {
        if (ticket) this.#writeTicket(jail, ticket);
        else this.#s.deleteTicket.run(jail, id);
      }
    }
    for (const [file, [pos, savedAt]] of w.positions) this.#s.savePosition.run(file, pos.position, pos.firstLineHash, pos.linesRead, savedAt);
    for (const [key, [cursor, time]] of w.cursors) this.#s.saveCursor.run(key, cursor, time);
  }

  #normalize(ban: NewBan): BanRecord {
    // the other fields, then matches (the last dbmaxmatches; none with 0), then failures;
    // spelled out: the spreads cost 7 µs a ban, 70 ms of a 10,000-ban burst
    const src: NonNullable<NewBan['data']> = ban.data ?? {};
    const data = {} as BanData;
    for (const k of Object.keys(src)) if (k !== 'matches' && k !== 'failures') data[k] = src[k];
    if (this.maxMatches > 0) data.matches = (src.matches ?? []).slice(-this.maxMatches);
    data.failures = src.failures ?? 1;
    return {
      jail: ban.jail,
      ip: ban.ip,
      timeofban: roundHalfEven(ban.timeofban),
      bantime: ban.bantime,
      bancount: ban.bancount,
      data,
    };
  }

  /** fn atomically: in the caller's transaction if there is one (no savepoint per row), else
   *  in its own. */
  #atomic<T>(fn: () => T): T {
    return this.#guard(() => (this.#db.inTransaction ? fn() : (this.#tx.immediate(fn) as T)));
  }

  /** SQLite's errors as F2bError('STATE_DB') naming the file; others pass through. */
  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof Database.SqliteError) {
        throw new StateDbError(`state database: ${e.message} (${e.code})`, this.file, { sqlite: e.code });
      }
      throw e;
    }
  }
}

function checkMaxMatches(v: number | undefined): number {
  const n = v ?? DEFAULT_MAX_MATCHES;
  if (!Number.isInteger(n) || n < 0) throw new TypeError('Expected maxMatches to be a non-negative integer');
  return n;
}

/** The file's f2b_* layout version (0 = none yet); throws for a newer layout, or for ban
 *  tables without fail2ban schema 4's columns. */
function checkLayout(db: Database.Database, file: string): number {
  const hasTable = (name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  const version = hasTable('f2b_schema') ? ((db.prepare('SELECT max(version) FROM f2b_schema').pluck().get() as number | null) ?? 0) : 0;
  if (version > SCHEMA_VERSION) {
    throw new F2bError(
      'STATE_DB',
      `the state database's layout version ${version} is newer than this f2b-fast knows (${SCHEMA_VERSION}): upgrade f2b-fast, or point dbfile at another file`,
      { file },
    );
  }
  for (const table of ['bans', 'bips']) {
    if (!hasTable(table)) continue;
    const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    const missing = BAN_COLUMNS.filter((c) => !have.has(c));
    if (missing.length) {
      throw new F2bError(
        'STATE_DB',
        `table ${table} lacks column(s) ${missing.join(', ')} (a fail2ban database older than schema 4?): point dbfile at a new file and copy the bans with \`f2b-fast import-db ${file}\``,
        { file },
      );
    }
  }
  return version;
}

/** Brings the f2b_* layout from `version` to SCHEMA_VERSION. */
function migrate(db: Database.Database, version: number): void {
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS f2b_schema(version INTEGER NOT NULL)');
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.exec('DELETE FROM f2b_schema');
    db.prepare('INSERT INTO f2b_schema(version) VALUES (?)').run(SCHEMA_VERSION);
  }).immediate();
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const control = {
    beginImmediate: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
  };
  const banCols = 'jail, ip, timeofban, bantime, bancount, data';
  const running = '(timeofban + bantime > ? OR bantime <= -1)';
  return {
    ...control,
    insertBan: p(`INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) VALUES (?, ?, ?, ?, ?, ?)`),
    replaceBip: p(`INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES (?, ?, ?, ?, ?, ?)`),
    insertBanIfAbsent: p(
      `INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data)
       SELECT @jail, @ip, @timeofban, @bantime, @bancount, @data WHERE NOT EXISTS (SELECT 1 FROM bans
         WHERE jail = @jail AND ip = @ip AND timeofban = @timeofban AND bantime = @bantime AND bancount = @bancount)`,
    ),
    upsertBipIfNewer: p(
      `INSERT INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(ip, jail) DO UPDATE SET timeofban = excluded.timeofban, bantime = excluded.bantime,
         bancount = excluded.bancount, data = excluded.data WHERE excluded.timeofban > bips.timeofban`,
    ),
    deleteBansIp: p('DELETE FROM bans WHERE ip = ?'),
    deleteBipsIp: p('DELETE FROM bips WHERE ip = ?'),
    deleteBansJailIp: p('DELETE FROM bans WHERE jail = ? AND ip = ?'),
    deleteBipsJailIp: p('DELETE FROM bips WHERE jail = ? AND ip = ?'),
    deleteBansAll: p('DELETE FROM bans'),
    deleteBipsAll: p('DELETE FROM bips'),
    deleteBansJail: p('DELETE FROM bans WHERE jail = ?'),
    deleteBipsJail: p('DELETE FROM bips WHERE jail = ?'),
    // rows as arrays: a restart reads 100,000 of them, and row objects cost twice the time
    currentAll: p(`SELECT ${banCols} FROM bips WHERE ${running} ORDER BY jail, timeofban, ip`).raw(true),
    currentJail: p(`SELECT ${banCols} FROM bips WHERE ${running} AND jail = ? ORDER BY timeofban, ip`).raw(true),
    currentJailFirst: p(`SELECT ${banCols} FROM bips WHERE ${running} AND jail = ? ORDER BY timeofban, ip LIMIT ?`).raw(true),
    banTimesFirst: p(`SELECT ip, timeofban, bantime FROM bips WHERE ${running} AND jail = ? ORDER BY timeofban, ip LIMIT ?`).raw(true),
    banTimesAfter: p(`SELECT ip, timeofban, bantime FROM bips WHERE ${running} AND jail = ? AND (timeofban, ip) > (?, ?) ORDER BY timeofban, ip LIMIT ?`).raw(true),
    currentJailAfter: p(`SELECT ${banCols} FROM bips WHERE ${running} AND jail = ? AND (timeofban, ip) > (?, ?) ORDER BY timeofban, ip LIMIT ?`).raw(true),
    historyOverall: p(
      'SELECT sum(bancount) AS bancount, max(timeofban) AS timeofban, sum(bantime) AS bantime FROM bips WHERE ip = ? AND timeofban > ?',
    ),
    historyJail: p('SELECT bancount, timeofban, bantime FROM bips WHERE ip = ? AND jail = ? AND timeofban > ?'),
    historyLatest: p('SELECT bancount, timeofban, bantime FROM bips WHERE ip = ? AND timeofban > ? ORDER BY timeofban DESC, jail LIMIT 1'),
    historyRowsIp: p('SELECT timeofban, data FROM bans WHERE ip = ? ORDER BY timeofban DESC'),
    historyRowsJailIp: p('SELECT timeofban, data FROM bans WHERE ip = ? AND jail = ? ORDER BY timeofban DESC'),
    bannedJails: p(`SELECT jail FROM bips WHERE ip = ? AND ${running} ORDER BY jail`).pluck(),
    upsertTicket: p(
      `INSERT OR REPLACE INTO f2b_tickets(jail, id, first, last, retry, failures, matches, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteTicket: p('DELETE FROM f2b_tickets WHERE jail = ? AND id = ?'),
    loadTickets: p('SELECT id, first, last, retry, failures, matches, fields FROM f2b_tickets WHERE jail = ? ORDER BY last, id'),
    clearTicketsAll: p('DELETE FROM f2b_tickets'),
    clearTicketsJail: p('DELETE FROM f2b_tickets WHERE jail = ?'),
    savePosition: p('INSERT OR REPLACE INTO f2b_positions(path, position, first_line_hash, lines_read, saved_at) VALUES (?, ?, ?, ?, ?)'),
    loadPosition: p('SELECT position, first_line_hash AS firstLineHash, lines_read AS linesRead FROM f2b_positions WHERE path = ?'),
    deletePosition: p('DELETE FROM f2b_positions WHERE path = ?'),
    stalePositions: p('SELECT path FROM f2b_positions WHERE saved_at < ?').pluck(),
    saveCursor: p('INSERT OR REPLACE INTO f2b_cursors(key, cursor, time) VALUES (?, ?, ?)'),
    loadCursor: p('SELECT cursor, time FROM f2b_cursors WHERE key = ?'),
    purgeBans: p('DELETE FROM bans WHERE timeofban < ?'),
    purgeBips: p('DELETE FROM bips WHERE timeofban < ? AND bantime != -1 AND timeofban + bantime * 3 < ?'),
    purgeTicketsJail: p('DELETE FROM f2b_tickets WHERE jail = ? AND last < ?'),
    purgeTicketsExcept: p('DELETE FROM f2b_tickets WHERE last < ? AND jail NOT IN (SELECT value FROM json_each(?))'),
  };
}

function toBanRecord(r: BanRow): BanRecord {
  return { jail: r.jail, ip: r.ip, timeofban: r.timeofban, bantime: r.bantime, bancount: r.bancount, data: parseBanData(r.data) };
}

function isPlainObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseJson<T>(text: string, fallback: T, ok: (v: unknown) => boolean): T {
  try {
    const v: unknown = JSON.parse(text);
    return ok(v) ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

/** false only when the path is certainly gone (ENOENT, ENOTDIR); an unreadable one counts. */
function fileExists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

/** "device:inode" of the file at `file`, null when there is none. */
function fileIdentity(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function sqliteCode(e: unknown): string | undefined {
  return e instanceof Database.SqliteError ? e.code : undefined;
}
