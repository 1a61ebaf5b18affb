// A state database that can no longer be used - SQLite finds it corrupt or not a database, or it
// was removed or replaced under the open connection - is moved aside (FILE.corrupt-TIMESTAMP,
// with its -wal and -shm files, for an operator to look at) and a fresh one takes its place:
//   at start:     what the bad file still yields row by row (salvage), then the daemon starts on
//                 it; bans a killed run left in the firewall are adopted by the daemon;
//   while running: the ended bans the bad file still yields (the history bantime.increment
//                 reads), then the daemon's whole state from memory: every jail's active bans
//                 with their times, its open failure tickets, each file's position and each
//                 journal's cursor (rebuildState).
// Errors that may pass (disk full, locked, read-only) are not handled here: the writes stay
// queued in the store and the daemon retries them (src/daemon.ts writeNow).

import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Ban } from '../jail/jail';
import type { FailTicket } from '../jail/failures';
import { StateDbError, StateStore, type StateStoreOptions } from './store';

/** Where a bad file goes: FILE.corrupt-20261204T095012Z (-2, -3, ... if taken). */
export function asideName(file: string, at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let name = `${file}.corrupt-${stamp}`;
  for (let n = 2; fs.existsSync(name); n++) name = `${file}.corrupt-${stamp}-${n}`;
  return name;
}

/** Renames `file` and its -wal and -shm files to asideName(file); returns the new name, or null
 *  when there was no file (removed under the daemon). */
export function moveAside(file: string, at: Date = new Date()): string | null {
  if (!fs.existsSync(file)) {
    // a removed database's journal files are of no use without it
    for (const ext of ['-wal', '-shm']) fs.rmSync(file + ext, { force: true });
    return null;
  }
  const to = asideName(file, at);
  fs.renameSync(file, to);
  for (const ext of ['-wal', '-shm']) {
    try {
      fs.renameSync(file + ext, to + ext);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return to;
}

/** What a bad file still yielded: rows per table. */
export type Salvaged = Record<string, number>;

/** The tables copied from a bad file, with their columns (fail2ban's and ours). */
const TABLES: Record<string, string[]> = {
  bans: ['jail', 'ip', 'timeofban', 'bantime', 'bancount', 'data'],
  bips: ['ip', 'jail', 'timeofban', 'bantime', 'bancount', 'data'],
  f2b_tickets: ['jail', 'id', 'first', 'last', 'retry', 'failures', 'matches', 'fields'],
  f2b_positions: ['path', 'position', 'first_line_hash', 'lines_read', 'saved_at'],
  f2b_cursors: ['key', 'cursor', 'time'],
};

/**
 * Copies into the (new, not yet opened by a StateStore) database `into` the rows of `bad` that
 * SQLite can still read, table by table, row by row: a table stops at its first unreadable
 * page. With `endedBefore`, only the ban rows whose ban ended before it (the ban history; the
 * daemon's memory holds the rest); nothing when the file cannot be opened at all.
 */
export function salvage(bad: string, into: string, endedBefore?: number): Salvaged {
  const out: Salvaged = {};
  let src: Database.Database | undefined;
  const dst = new Database(into);
  try {
    src = new Database(bad, { readonly: true, fileMustExist: true });
    const tables = endedBefore === undefined ? Object.keys(TABLES) : ['bans', 'bips'];
    for (const table of tables) {
      const cols = TABLES[table].join(', ');
      const where = endedBefore === undefined ? '' : ` WHERE bantime >= 0 AND timeofban + bantime <= ${Number(endedBefore)}`;
      const insert = dst.prepare(`INSERT OR IGNORE INTO ${table}(${cols}) VALUES (${TABLES[table].map(() => '?').join(', ')})`);
      let n = 0;
      dst.exec('BEGIN');
      try {
        for (const row of src.prepare(`SELECT ${cols} FROM ${table}${where}`).raw(true).iterate() as IterableIterator<unknown[]>) {
          insert.run(...row);
          n++;
        }
      } catch {
        // the first page SQLite cannot read ends this table; what came before is kept
      }
      dst.exec('COMMIT');
      out[table] = n;
    }
  } catch {
    // not openable (garbage, or the header is gone): nothing to salvage
  } finally {
    src?.close();
    dst.close();
  }
  return out;
}

export interface OpenedState {
  store: StateStore;
  /** the file was unusable and moved here (null: removed), with why and what it still gave */
  moved?: { to: string | null; why: string; salvaged: Salvaged };
}

/**
 * Opens the state database; a file SQLite finds corrupt or not a database is moved aside, and a
 * fresh one is opened with what the bad file still yields. Other errors (a newer layout, old
 * fail2ban tables, no permission) throw as StateStore.open does: those need the operator.
 */
export function openState(file: string, opts: StateStoreOptions = {}, at: Date = new Date()): OpenedState {
  try {
    return { store: checked(StateStore.open(file, opts)) };
  } catch (e) {
    if (!(e instanceof StateDbError) || !e.lost) throw e;
    const to = moveAside(file, at);
    StateStore.open(file, opts).close();
    const salvaged = to ? salvage(to, file) : {};
    return { store: StateStore.open(file, opts), moved: { to, why: e.message, salvaged } };
  }
}

/** The store, after SQLite's quick_check of its file passed (else it is closed and a lost
 *  StateDbError thrown): a file whose header is sound can still hold bad pages. */
function checked(store: StateStore): StateStore {
  const problem = store.quickCheck();
  if (problem === null) return store;
  store.abandon();
  throw new StateDbError(`state database: quick_check: ${problem.replace(/\s*\n\s*/g, '; ')}`, store.file, { lost: true });
}

/** A running jail's state, as rebuildState writes it. */
export interface LiveJail {
  name: string;
  bans: readonly Ban[];
  tickets: readonly FailTicket[];
}

export interface RebuildCounts {
  bans: number;
  tickets: number;
  positions: number;
  cursors: number;
}

/**
 * Queues into `store` (a fresh database, write-behind) the daemon's whole state: every jail's
 * active bans with their times and data, its open failure tickets, and the positions and
 * cursors `progress` holds (StateStore.progress() of the store that was lost). The caller
 * flushes (and retries while that fails, as for any write).
 */
export function rebuildState(
  store: StateStore,
  jails: Iterable<LiveJail>,
  progress: ReturnType<StateStore['progress']>,
  now: number,
): RebuildCounts {
  const counts: RebuildCounts = { bans: 0, tickets: 0, positions: 0, cursors: 0 };
  store.unit(() => {
    for (const j of jails) {
      for (const b of j.bans) {
        store.addBan({
          jail: j.name,
          ip: b.ip,
          timeofban: b.time,
          bantime: b.end === Infinity ? -1 : b.bantime,
          bancount: b.bancount,
          data: { matches: b.matches, failures: b.failures, ...b.fields },
        });
        counts.bans++;
      }
      if (j.tickets.length) store.saveTickets(j.name, j.tickets, []);
      counts.tickets += j.tickets.length;
    }
    for (const [file, [pos, savedAt]] of progress.positions) {
      store.savePosition(file, pos, savedAt || now);
      counts.positions++;
    }
    for (const [key, c] of progress.cursors) {
      store.saveCursor(key, c.cursor, c.time);
      counts.cursors++;
    }
  });
  return counts;
}

export interface Replaced {
  store: StateStore;
  /** where the bad file went (null: it had been removed) */
  to: string | null;
  salvaged: Salvaged;
  counts: RebuildCounts;
}

/**
 * While running: `old` (the daemon's store) can no longer be used. Closes it without writing,
 * moves `file` aside, opens a fresh database at `file` (write-behind) with the ended bans the
 * bad file still yields, and queues the daemon's whole state into it (rebuildState). Throws
 * when the fresh database cannot be made (its directory full or read-only): `old` is closed
 * then, and the caller keeps the state elsewhere.
 */
export function replaceLost(
  old: StateStore,
  file: string,
  opts: StateStoreOptions,
  jails: Iterable<LiveJail>,
  now: number,
  at: Date = new Date(),
): Replaced {
  const progress = old.progress();
  // closed first: its last checkpoint goes to the file it has open, and the journal files it
  // removes by name are still its own
  old.abandon();
  const to = file === ':memory:' ? null : moveAside(file, at);
  StateStore.open(file, opts).close();
  const salvaged = to ? salvage(to, file, now) : {};
  const store = StateStore.open(file, opts);
  store.deferWrites();
  return { store, to, salvaged, counts: rebuildState(store, jails, progress, now) };
}

/** "12 bans rows, 3 bips rows" from salvage()'s counts (only the tables that gave rows). */
export function describeSalvaged(s: Salvaged): string {
  const parts = Object.entries(s)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${n} ${t} row${n === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : 'nothing';
}
