// `f2b-fast import-db SRC`: copies a fail2ban database's bans (and the log positions that still
// apply) into f2b-fast's state database, so that switching from fail2ban keeps its bans and
// bantime.increment history.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readConfigTree } from '../config';
import { F2bError } from '../errors';
import { fail2banDbVersion, importFail2banDb, type ImportCounts } from '../state/fail2ban-db';
import { resolveDbFile } from '../state/location';
import { StateStore } from '../state/store';
import { defaultConfigDir } from './paths';

export interface ImportDbOptions {
  /** fail2ban configuration directory whose fail2ban.conf names the destination (dbfile) */
  config?: string;
  /** destination database, instead of fail2ban.conf's dbfile */
  db?: string;
  /** count what would be imported; change nothing */
  dryRun?: boolean;
  /** print the counts as one JSON object */
  json?: boolean;
}

/** Resolves with the exit code: 0, or 255 after printing why. */
export async function importDbCommand(src: string, opts: ImportDbOptions): Promise<number> {
  try {
    const { dest, maxMatches } = destination(opts);
    fail2banDbVersion(src);
    if (fs.existsSync(dest) && fs.realpathSync(dest) === fs.realpathSync(src)) {
      throw new F2bError(
        'USAGE',
        `${src} is the destination itself (fail2ban.conf's dbfile): f2b-fast reads fail2ban's bans there in place; give --db to copy them into another file`,
      );
    }
    // a dry run works on a copy in memory: not even the destination's layout changes
    const store = opts.dryRun
      ? fs.existsSync(dest)
        ? StateStore.openCopy(dest, { maxMatches })
        : StateStore.open(':memory:', { maxMatches })
      : StateStore.open(dest, { maxMatches });
    let counts: ImportCounts;
    try {
      counts = importFail2banDb(store, src, { now: Date.now() / 1000 });
    } finally {
      store.close();
    }
    process.stdout.write(opts.json ? `${JSON.stringify({ source: src, destination: dest, dryRun: !!opts.dryRun, ...counts })}\n` : summary(src, dest, counts, !!opts.dryRun));
    return 0;
  } catch (e) {
    if (!(e instanceof F2bError)) throw e;
    process.stderr.write(`f2b-fast: import-db: ${e.describe()}\n`);
    return 255;
  }
}

/** --db, else the config tree's dbfile; dbmaxmatches from the config when it is read. */
function destination(opts: ImportDbOptions): { dest: string; maxMatches?: number } {
  if (opts.db !== undefined && opts.config === undefined) return { dest: checkDest(opts.db, '--db') };
  const server = readConfigTree(opts.config ?? defaultConfigDir()).server;
  // the daemon's own file: fail2ban's default dbfile stands for /var/lib/f2b-fast/f2b-fast.sqlite3
  const dest = opts.db !== undefined ? checkDest(opts.db, '--db') : checkDest(resolveDbFile(server.dbfile).file, `fail2ban.conf's dbfile = ${server.dbfile}`);
  return { dest, maxMatches: server.dbmaxmatches };
}

function checkDest(dest: string, what: string): string {
  if (dest.toLowerCase() === 'none' || (dest === ':memory:' && what.startsWith('fail2ban.conf'))) {
    throw new F2bError('USAGE', `${what}: there is no database to import into; give --db FILE`);
  }
  if (dest === ':memory:') throw new F2bError('USAGE', `${what}: an in-memory database would be lost on exit; give --db FILE`);
  return path.resolve(dest);
}

function summary(src: string, dest: string, c: ImportCounts, dryRun: boolean): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    `${dryRun ? 'Dry run: would import' : 'Imported'} ${plural(c.bans, 'ban')} (${c.active} still active) and ${plural(c.history, 'history row')} from ${src} into ${dest}`,
    `${dryRun ? 'Would carry' : 'Carried'} over ${plural(c.positions, 'log position')}; skipped ${plural(c.skipped, 'row')} (already there, or positions that no longer apply)`,
    ...c.notes.map((n) => `  ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}
