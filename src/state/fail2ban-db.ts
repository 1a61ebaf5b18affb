// Reading fail2ban's own database (fail2ban.sqlite3) into our state store: its bans (history
// and latest per ip + jail) and, where they still apply to the file on disk, its log positions.
// fail2ban's layout and quirks are in ../shared/fail2ban-reference.md §5 and §7.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { F2bError } from '../errors';
import { parseBanData, type NewBan, type StateStore } from './store';

/** fail2ban's own schema version (fail2banDb.version) that this reader knows in full. */
export const FAIL2BAN_SCHEMA = 4;

/** fail2ban's `logs` path for its journal position (a time, not a file). */
const JOURNAL_PATH = 'systemd-journal';

/** The longest first line read to check fail2ban's hash (fail2ban itself has no limit). */
const MAX_FIRST_LINE = 1 << 20;

/** How many leading bytes the native tailer hashes (native/tailer/FileTail.cc kHashBytes). */
const TAILER_HASH_BYTES = 64 * 1024;

export interface ImportOptions {
  /** epoch seconds: what "still active" means, and the saved-at time of imported positions */
  now: number;
}

export interface ImportCounts {
  /** latest-ban rows (bips) copied or made newer */
  bans: number;
  /** of those, the ones a restore would bring back (running at `now`, or without end) */
  active: number;
  /** history rows (bans) copied */
  history: number;
  /** log positions carried over */
  positions: number;
  /** source rows not copied: already in the destination, or positions that do not apply */
  skipped: number;
  /** why positions were not carried over, one line each */
  notes: string[];
}

interface SourceBan {
  jail: string;
  ip: string | null;
  timeofban: number;
  bantime: number;
  bancount: number;
  data: unknown;
}

interface SourceLog {
  jail: string;
  path: string | null;
  firstlinemd5: string | null;
  lastfilepos: number | null;
}

/**
 * The hash the native tailer reports as TailEvent.firstLineHash (native/tailer/FileTail.cc):
 * FNV-1a, 64 bits, lowercase hex, over the first line with its '\n', or over the first 64 KiB
 * when the line is longer. `head` is the start of the file; '' when it holds no complete first
 * line yet (as the tailer says).
 */
export function tailerFirstLineHash(head: Buffer): string {
  const window = head.subarray(0, TAILER_HASH_BYTES);
  const nl = window.indexOf(0x0a);
  if (nl < 0 && window.length < TAILER_HASH_BYTES) return '';
  const len = nl < 0 ? window.length : nl + 1;
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < len; i++) {
    h ^= BigInt(window[i]);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** A fail2ban database opened read-only, with what its schema version has. */
class Fail2banSource {
  readonly version: number;
  readonly #db: Database.Database;
  readonly #banCols: Set<string>;
  readonly #hasBips: boolean;
  readonly #hasLogs: boolean;

  constructor(readonly file: string) {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (e) {
      throw new F2bError('STATE_DB', `cannot open it: ${(e as Error).message}`, { file });
    }
    this.#db = db;
    try {
      const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
      if (!tables.has('fail2banDb')) {
        const what = tables.has('f2b_schema') ? "an f2b-fast state database, not fail2ban's" : 'not a fail2ban database (no fail2banDb table)';
        throw new F2bError('STATE_DB', what, { file });
      }
      const version = db.prepare('SELECT version FROM fail2banDb LIMIT 1').pluck().get();
      if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
        throw new F2bError('STATE_DB', 'fail2banDb holds no schema version', { file });
      }
      if (version > FAIL2BAN_SCHEMA) {
        throw new F2bError('STATE_DB', `fail2ban schema ${version} is newer than f2b-fast reads (1 to ${FAIL2BAN_SCHEMA})`, { file });
      }
      this.version = version;
      this.#banCols = tables.has('bans') ? columns(db, 'bans') : new Set();
      if (tables.has('bans')) {
        for (const c of ['jail', 'ip', 'timeofban']) {
          if (!this.#banCols.has(c)) throw new F2bError('STATE_DB', `table bans has no column ${c}`, { file });
        }
      }
      // schema 4 added bips; before it, fail2ban's own upgrade derives it from bans
      this.#hasBips = tables.has('bips');
      this.#hasLogs = tables.has('logs') && ['jail', 'path', 'firstlinemd5', 'lastfilepos'].every((c) => columns(db, 'logs').has(c));
    } catch (e) {
      db.close();
      if (e instanceof F2bError) throw e;
      throw new F2bError('STATE_DB', `cannot read it: ${(e as Error).message}`, { file });
    }
  }

  /** History rows, oldest first. Before schema 3 there is no bantime (-2: unknown, fail2ban's
   *  own upgrade marker) and no bancount (1). */
  history(): IterableIterator<SourceBan> {
    return this.#bans('SELECT jail, ip, timeofban, %s FROM bans ORDER BY timeofban, rowid');
  }

  /** Latest-ban rows, oldest first. Before schema 4 there is no bips table: like fail2ban's
   *  upgrade, take each ip's newest history row per jail (SQLite takes the bare columns of a
   *  max() query from the row holding the maximum). */
  latest(): IterableIterator<SourceBan> {
    if (this.#hasBips) return this.#db.prepare('SELECT jail, ip, timeofban, bantime, bancount, data FROM bips ORDER BY timeofban, rowid').iterate() as IterableIterator<SourceBan>;
    return this.#bans('SELECT jail, ip, max(timeofban) AS timeofban, %s FROM bans GROUP BY jail, ip ORDER BY timeofban');
  }

  #bans(sql: string): IterableIterator<SourceBan> {
    if (this.#banCols.size === 0) return [][Symbol.iterator]();
    const col = (name: string, otherwise: string) => (this.#banCols.has(name) ? name : `${otherwise} AS ${name}`);
    const rest = `${col('bantime', '-2')}, ${col('bancount', '1')}, ${col('data', 'NULL')}`;
    return this.#db.prepare(sql.replace('%s', rest)).iterate() as IterableIterator<SourceBan>;
  }

  logs(): SourceLog[] {
    if (!this.#hasLogs) return [];
    return this.#db.prepare('SELECT jail, path, firstlinemd5, lastfilepos FROM logs ORDER BY path, jail').all() as SourceLog[];
  }

  close(): void {
    this.#db.close();
  }
}

function columns(db: Database.Database, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
}

function toNewBan(row: SourceBan): NewBan | undefined {
  if (row.ip === null || row.ip === '' || typeof row.timeofban !== 'number') return undefined;
  const data = parseBanData(row.data);
  return {
    jail: row.jail,
    ip: String(row.ip),
    timeofban: row.timeofban,
    bantime: typeof row.bantime === 'number' ? row.bantime : -2,
    bancount: typeof row.bancount === 'number' ? row.bancount : 1,
    data,
  };
}

/** Checks that `srcPath` is a fail2ban database this reader knows; returns its schema version.
 *  Throws F2bError('STATE_DB') otherwise. */
export function fail2banDbVersion(srcPath: string): number {
  if (!fs.existsSync(srcPath)) throw new F2bError('STATE_DB', 'no such file', { file: srcPath });
  const src = new Fail2banSource(srcPath);
  src.close();
  return src.version;
}

/**
 * Copies fail2ban's database `srcPath` (read-only; schema 4, or 1-3 as fail2ban's own upgrade
 * would read them) into `store`, in one transaction: history rows not already there, latest-ban
 * rows where newer than the store's, and log positions (see importPositions). Idempotent.
 * Throws F2bError('STATE_DB') when srcPath is missing or not a fail2ban database.
 */
export function importFail2banDb(store: StateStore, srcPath: string, opts: ImportOptions): ImportCounts {
  if (!fs.existsSync(srcPath)) throw new F2bError('STATE_DB', 'no such file', { file: srcPath });
  const src = new Fail2banSource(srcPath);
  const counts: ImportCounts = { bans: 0, active: 0, history: 0, positions: 0, skipped: 0, notes: [] };
  try {
    store.transaction(() => {
      // one source statement at a time: better-sqlite3 holds the connection while one iterates
      for (const row of src.history()) {
        const ban = toNewBan(row);
        if (ban && store.addBanHistory(ban)) counts.history++;
        else counts.skipped++;
      }
      for (const row of src.latest()) {
        const ban = toNewBan(row);
        if (!ban || !store.mergeLatestBan(ban)) {
          counts.skipped++;
          continue;
        }
        counts.bans++;
        // what a restore would bring back (store.currentBans)
        if (ban.bantime <= -1 || ban.timeofban + ban.bantime > opts.now) counts.active++;
      }
      importPositions(store, src.logs(), opts.now, counts);
    });
  } catch (e) {
    if (e instanceof F2bError) throw e;
    throw new F2bError('STATE_DB', `cannot import it: ${(e as Error).message}`, { file: srcPath });
  } finally {
    src.close();
  }
  return counts;
}

/**
 * fail2ban keeps, per jail and file, the byte offset it read up to and the SHA-1 (in a column
 * named firstlinemd5) of the file's first line; our tailer checks its own FNV-1a hash instead,
 * so a position carries over only where the file on disk still starts with the line fail2ban
 * hashed: then its offset is valid for that file, and our hash is computed from the same line.
 * The offset must fall at a line start. A file several jails read resumes at the smallest of
 * their offsets: re-reading a few lines is better than losing some. A position the store
 * already has (the daemon's own) wins. The journal's row (a time, not a cursor) is left out.
 */
function importPositions(store: StateStore, logs: SourceLog[], now: number, counts: ImportCounts): void {
  const byPath = new Map<string, SourceLog[]>();
  for (const row of logs) {
    if (row.path === null || row.path === JOURNAL_PATH) {
      counts.skipped++;
      counts.notes.push(`${row.path ?? '(no path)'} [${row.jail}]: a journal position is a time, not a cursor; not carried over`);
      continue;
    }
    byPath.set(row.path, [...(byPath.get(row.path) ?? []), row]);
  }
  for (const [file, rows] of byPath) {
    if (store.loadPosition(file)) {
      counts.skipped += rows.length;
      continue;
    }
    const head = readHead(file);
    let best: { position: number; firstLineHash: string } | undefined;
    for (const row of rows) {
      const why = checkPosition(file, head, row);
      if (typeof why === 'string') {
        counts.skipped++;
        counts.notes.push(`${file} [${row.jail}]: ${why}; reading starts as for a new file`);
        continue;
      }
      if (!best || why.position < best.position) best = why;
      else counts.skipped++;
    }
    if (!best) continue;
    store.savePosition(file, { ...best, linesRead: countLines(file, best.position) }, now);
    counts.positions++;
  }
}

interface FileHead {
  /** the first line with its '\n', or undefined when there is none within MAX_FIRST_LINE */
  firstLine?: Buffer;
  /** the file's first bytes (at least TAILER_HASH_BYTES when it is that long) */
  bytes: Buffer;
  size: number;
  error?: string;
}

function readHead(file: string): FileHead {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { bytes: Buffer.alloc(0), size: 0, error: code === 'ENOENT' ? 'the file no longer exists' : `cannot read it (${code ?? (e as Error).message})` };
  }
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, MAX_FIRST_LINE));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const bytes = buf.subarray(0, n);
    const nl = bytes.indexOf(0x0a);
    return { bytes, size, firstLine: nl < 0 ? undefined : bytes.subarray(0, nl + 1) };
  } finally {
    fs.closeSync(fd);
  }
}

function checkPosition(file: string, head: FileHead, row: SourceLog): { position: number; firstLineHash: string } | string {
  if (head.error) return head.error;
  const pos = row.lastfilepos;
  if (typeof pos !== 'number' || !Number.isSafeInteger(pos) || pos < 0) return `no usable position (${String(pos)})`;
  if (!row.firstlinemd5) return 'fail2ban saved no first-line hash';
  if (!head.firstLine) return 'the file has no complete first line fail2ban could have hashed';
  if (createHash('sha1').update(head.firstLine).digest('hex') !== row.firstlinemd5) {
    return 'the first line changed since fail2ban saved its position (rotated)';
  }
  if (pos > head.size) return `the file is shorter (${head.size} bytes) than fail2ban's position ${pos}`;
  if (pos > 0 && !endsLineAt(file, pos)) return `fail2ban's position ${pos} is not at a line start`;
  return { position: pos, firstLineHash: tailerFirstLineHash(head.bytes) };
}

function endsLineAt(file: string, pos: number): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    return fs.readSync(fd, b, 0, 1, pos - 1) === 1 && b[0] === 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

/** Lines before byte `end` (a line start), for PositionRecord.linesRead. */
function countLines(file: string, end: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let lines = 0;
    for (let at = 0; at < end; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
      if (n <= 0) break;
      for (let i = buf.indexOf(0x0a, 0); i >= 0 && i < n; i = buf.indexOf(0x0a, i + 1)) lines++;
      at += n;
    }
    return lines;
  } finally {
    fs.closeSync(fd);
  }
}
