// Where f2b-fast keeps its state database. fail2ban.conf's `dbfile` names fail2ban's own file by
// default (/var/lib/fail2ban/fail2ban.sqlite3); f2b-fast never writes into that file, so that a
// host can go back to fail2ban: that default becomes /var/lib/f2b-fast/f2b-fast.sqlite3, and
// `f2b-fast import-db` copies fail2ban's bans over. Any other path is used as written; `None`
// (fail2ban's "no database") keeps the state in memory only.

import * as path from 'node:path';

export const FAIL2BAN_DEFAULT_DBFILE = '/var/lib/fail2ban/fail2ban.sqlite3';
export const DEFAULT_DBFILE = '/var/lib/f2b-fast/f2b-fast.sqlite3';
/** the in-memory store: nothing survives a restart */
export const MEMORY_DB = ':memory:';

export interface DbLocation {
  /** an absolute path, or MEMORY_DB */
  file: string;
  /** why the file differs from what fail2ban.conf says, for the log */
  note?: string;
}

/** The database file from fail2ban.conf's dbfile, or from an explicit override (`run --db`). */
export function resolveDbFile(dbfile: string, override?: string): DbLocation {
  const given = (override ?? dbfile).trim();
  if (given.toLowerCase() === 'none' || given === MEMORY_DB) return { file: MEMORY_DB };
  if (override === undefined && path.resolve(given) === FAIL2BAN_DEFAULT_DBFILE) {
    return {
      file: DEFAULT_DBFILE,
      note: `dbfile is fail2ban's own ${FAIL2BAN_DEFAULT_DBFILE}: f2b-fast leaves it alone and keeps its state in ${DEFAULT_DBFILE} (bring fail2ban's bans over with 'f2b-fast import-db ${FAIL2BAN_DEFAULT_DBFILE}')`,
    };
  }
  return { file: path.resolve(given) };
}
