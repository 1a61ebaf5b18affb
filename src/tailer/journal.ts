// The systemd journal backend (`backend = systemd`): a journalctl child process follows the
// journal and prints one JSON object per entry; each becomes a log line as fail2ban writes it
// (HOST IDENT[PID]: MESSAGE), timed by the entry rather than by a date in its text.
//
//   const reader = new JournalReader({ journal: parseSystemdBackend(def.backend),
//     journalmatch: def.filter.journalmatch, findtime: def.findtime,
//     onBatch: (b) => ..., onEvent: (e) => ... });
//   await reader.start();   // throws F2bError('JOURNAL') when journalctl is missing or fails
//   ...
//   await reader.close();
//
// journalctl rather than libsystemd: no second native dependency, and the journal's file format,
// rotation and inotify handling stay systemd's own. Matching (journalmatch) happens in journalctl.

import { spawn, type ChildProcess } from 'node:child_process';
import { systemClock, type Clock } from '../clock';
import { glob } from '../config/glob';
import { parseFilterSpec } from '../config/spec';
import { F2bError } from '../errors';

/** The journal a jail reads: the options of `backend = systemd[...]`, validated. */
export interface JournalOptions {
  /** a directory of journal files (`--directory`, or `--root` with the OS_ROOT flag) */
  journalpath?: string;
  /** journal file patterns (globs), expanded when the reader starts */
  journalfiles?: string[];
  /** sd_journal_open flags, resolved (default SYSTEM = 4 without path or files, else 0) */
  journalflags: number;
  namespace?: string;
}

/** JournalReader -> daemon: the entries of one read from journalctl's output. */
export interface JournalBatch {
  /** each entry as fail2ban's log line (formatEntry) */
  lines: string[];
  /** times[i]: epoch seconds (fractional) of lines[i], from the entry */
  times: number[];
  /** cursor of the last entry read (skipped ones included): where a restart resumes. A batch
   *  may hold no line (its entries were older than the start time, or unusable): it only moves
   *  the cursor */
  cursor: string;
  /** entries that were already in the journal at start (fail2ban's "not in operation"): old
   *  failures are dropped, times are not treated as clock problems */
  initial: boolean;
}

export type JournalEventKind = 'started' | 'operation' | 'warning' | 'exited' | 'failed';

/** JournalReader -> daemon: what happened to the journalctl process. */
export interface JournalEvent {
  kind: JournalEventKind;
  message: string;
  pid?: number;
}

// sd_journal_open flags (sd-journal.h)
const LOCAL_ONLY = 1;
const RUNTIME_ONLY = 2;
const SYSTEM = 4;
const CURRENT_USER = 8;
const OS_ROOT = 16;
const ALL_NAMESPACES = 32;
const INCLUDE_DEFAULT_NAMESPACE = 64;
const KNOWN_FLAGS = 127;
const DEFAULT_FLAGS = SYSTEM;

/** Bounds on what one entry may cost: a JSON line longer than `maxEntryBytes` is skipped (with a
 *  warning), a formatted line is cut to `maxLineChars` (the file tailer's line limit). */
export const JOURNAL_LIMITS = { maxEntryBytes: 4 * 1024 * 1024, maxLineChars: 1024 * 1024 } as const;

const BACKEND_KEYS = ['journalpath', 'journalfiles', 'journalflags', 'namespace'];

/** Python's int(s) (base 10: white space, sign, `_` between digits) or null. */
function pyInt(s: string): bigint | null {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(s);
  return m ? BigInt(m[1] + m[2].replace(/_/g, '')) : null;
}

/** Python's int(s, 0) for the prefixed forms (0x, 0o, 0b), or null. */
function pyIntPrefixed(s: string): bigint | null {
  const m = /^\s*([+-]?)0([xob])((?:_?[0-9a-f])+)\s*$/i.exec(s);
  if (!m) return null;
  const base = m[2].toLowerCase();
  const digits = m[3].replace(/_/g, '');
  const ok = base === 'x' ? true : base === 'o' ? /^[0-7]+$/.test(digits) : /^[01]+$/.test(digits);
  if (!ok) return null;
  const v = BigInt(`0${base}${digits}`);
  return m[1] === '-' ? -v : v;
}

/**
 * `systemd[journalpath=..., journalfiles=..., journalflags=..., namespace=...]` as fail2ban reads
 * it (the options its FilterSystemd accepts; any other is an error, as there). journalflags
 * defaults to 4 (system journals only; F2B_SYSTEMD_DEFAULT_FLAGS overrides) unless a path or
 * files are given. Combinations libsystemd rejects, or journalctl cannot express, are errors
 * here, at configuration time.
 */
export function parseSystemdBackend(backend: string, env: NodeJS.ProcessEnv = process.env): JournalOptions {
  const bad = (why: string) => new F2bError('CONFIG_VALUE', `backend = ${backend}: ${why}`);
  const spec = parseFilterSpec(backend.trim());
  if (spec.name.trim().toLowerCase() !== 'systemd') throw bad('not a systemd backend');
  for (const key of Object.keys(spec.options)) {
    if (!BACKEND_KEYS.includes(key)) throw bad(`unknown option ${key} (expected ${BACKEND_KEYS.join(', ')})`);
  }
  const o = spec.options;
  const out: JournalOptions = { journalflags: 0 };
  if (o.journalpath !== undefined) {
    if (!o.journalpath) throw bad('journalpath is empty');
    out.journalpath = o.journalpath;
  }
  if (o.journalfiles !== undefined) {
    // fail2ban's splitwords: commas, spaces and new lines separate
    const files = o.journalfiles.split(/[ ,\n]+/).filter(Boolean);
    if (!files.length) throw bad('journalfiles is empty');
    out.journalfiles = files;
  }
  if (out.journalpath && out.journalfiles) throw bad('journalpath and journalfiles cannot both be given');
  if (o.namespace !== undefined) {
    // journalctl's own `*` and `+name` forms are flags in fail2ban (32, 64), not names
    if (!/^[^\s/*+\-.][^\s/]*$/.test(o.namespace)) throw bad(`namespace ${JSON.stringify(o.namespace)} is not a journal namespace name`);
    out.namespace = o.namespace;
  }

  let flags: bigint | null;
  let from: string;
  if (o.journalflags !== undefined) {
    flags = pyInt(o.journalflags);
    from = `journalflags = ${o.journalflags}`;
  } else if (out.journalpath || out.journalfiles) {
    flags = 0n;
    from = '';
  } else {
    const fromEnv = env.F2B_SYSTEMD_DEFAULT_FLAGS;
    flags = fromEnv === undefined ? BigInt(DEFAULT_FLAGS) : pyInt(fromEnv);
    from = `F2B_SYSTEMD_DEFAULT_FLAGS = ${fromEnv}`;
  }
  if (flags === null || flags < 0n || flags > BigInt(KNOWN_FLAGS)) {
    throw bad(`${from}: expected an integer from 0 to ${KNOWN_FLAGS} (sd_journal_open flags: 1 local only, 2 runtime only, 4 system, 8 current user, 16 OS root, 32 all namespaces, 64 include the default namespace)`);
  }
  const f = Number(flags);
  if (f & RUNTIME_ONLY) throw bad(`${from}: the runtime-only flag (2) has no journalctl equivalent; use journalpath = /run/log/journal instead`);
  if (out.journalfiles && f !== 0) throw bad(`${from}: journal flags cannot be combined with journalfiles (libsystemd opens files without flags)`);
  if (out.journalpath && f & ~(SYSTEM | CURRENT_USER | OS_ROOT)) {
    throw bad(`${from}: with journalpath only the flags 4 (system), 8 (current user) and 16 (OS root) apply`);
  }
  if (f & OS_ROOT && !out.journalpath) throw bad(`${from}: the OS-root flag (16) needs journalpath (the root directory)`);
  out.journalflags = f;
  return out;
}

/** shlex.split (POSIX mode, no comments), as fail2ban splits each journalmatch line. */
function shellWords(s: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error('no closing quotation');
      word = (word ?? '') + s.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\')) j++;
        text += s[j];
      }
      if (j >= s.length) throw new Error('no closing quotation');
      word = (word ?? '') + text;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= s.length) throw new Error('no escaped character');
      word = (word ?? '') + s[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/**
 * A filter's `journalmatch` (one match per line; `FIELD=value` terms, `+` for OR) as journalctl's
 * positional arguments. Lines are ORed, as fail2ban adds each with a disjunction. Terms are
 * checked as libsystemd checks a match (a field name of A-Z, 0-9 and `_`, not starting with
 * `__`, then `=`), so none can be read by journalctl as an option or a path.
 */
export function parseJournalMatch(journalmatch: string | undefined): string[] {
  const groups: string[][] = [];
  for (const line of (journalmatch ?? '').split('\n')) {
    if (!line.trim()) continue;
    let words: string[];
    try {
      words = shellWords(line);
    } catch (e) {
      throw new F2bError('CONFIG_VALUE', `journalmatch ${JSON.stringify(line)}: ${(e as Error).message}`);
    }
    let group: string[] = [];
    for (const w of words) {
      if (w === '+') {
        if (group.length) groups.push(group);
        group = [];
      } else if (/^(?!__)[A-Z0-9_]+=/.test(w)) {
        group.push(w);
      } else {
        throw new F2bError('CONFIG_VALUE', `journalmatch ${JSON.stringify(line)}: ${JSON.stringify(w)} is not FIELD=value (a field name is upper case letters, digits and _)`);
      }
    }
    if (group.length) groups.push(group);
  }
  return groups.flatMap((g, i) => (i ? ['+', ...g] : g));
}

/** The fields formatEntry reads; journalctl adds __CURSOR, __REALTIME_TIMESTAMP,
 *  __MONOTONIC_TIMESTAMP and _BOOT_ID itself. */
const OUTPUT_FIELDS = ['_HOSTNAME', 'SYSLOG_IDENTIFIER', '_COMM', 'SYSLOG_PID', '_PID', 'MESSAGE', '_SOURCE_REALTIME_TIMESTAMP', '_SOURCE_MONOTONIC_TIMESTAMP'];

/**
 * journalctl's options for the journal `o` names (journalfiles expanded now; a pattern matching
 * nothing is an error). Without the local-only flag (fail2ban's default), `--merge`: it is that
 * flag's absence, and it keeps `--follow` from limiting the output to the last boot.
 */
export function journalSource(o: JournalOptions): string[] {
  const args: string[] = [];
  const f = o.journalflags;
  if (o.journalfiles) {
    const files = new Set<string>();
    for (const pattern of o.journalfiles) for (const file of glob(pattern)) files.add(file);
    if (!files.size) throw new F2bError('CONFIG_VALUE', `journalfiles = ${o.journalfiles.join(' ')}: no such journal file`);
    for (const file of [...files].sort()) args.push(`--file=${file}`);
  } else if (o.journalpath) {
    args.push(f & OS_ROOT ? `--root=${o.journalpath}` : `--directory=${o.journalpath}`);
  } else if (f & ALL_NAMESPACES) {
    args.push('--namespace=*');
  } else if (o.namespace !== undefined) {
    args.push(`--namespace=${f & INCLUDE_DEFAULT_NAMESPACE ? '+' : ''}${o.namespace}`);
  }
  if (f & SYSTEM) args.push('--system');
  if (f & CURRENT_USER) args.push('--user');
  if (!(f & LOCAL_ONLY)) args.push('--merge');
  return args;
}

/** A field's values as text: a string, bytes (journalctl's array of numbers for a value that is
 *  not printable UTF-8: decoded with U+FFFD for invalid bytes), or an array of those (a field
 *  the entry holds more than once). null (a value journalctl left out) has none. */
function fieldValues(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (typeof v === 'number') return [String(v)];
  if (!Array.isArray(v)) return [];
  if (v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return [Buffer.from(v as number[]).toString('utf8')];
  return v.flatMap(fieldValues);
}

/** The first value of a field, '' for none (Python's falsy). */
const field = (entry: Record<string, unknown>, name: string): string => fieldValues(entry[name])[0] ?? '';

/** Epoch seconds of a microsecond field, or null. */
function usecTime(v: string): number | null {
  return /^\d{1,16}$/.test(v) ? Number(v) / 1e6 : null;
}

/** `%12.6f` of a microsecond count given as digits. */
function monotonicText(usec: string): string {
  const digits = usec.padStart(7, '0');
  return `${BigInt(digits.slice(0, -6))}.${digits.slice(-6)}`.padStart(12);
}

/** fail2ban's `[%i]` of a PID field: an integer (Python's int(), then int(v, 0)), else as is. */
function pidText(v: string): string {
  const n = pyInt(v) ?? pyIntPrefixed(v);
  return `[${n === null ? v : n.toString()}]`;
}

/**
 * One journal entry (journalctl's JSON) as fail2ban's FilterSystemd formats it: `_HOSTNAME`, then
 * `SYSLOG_IDENTIFIER` (else `_COMM`) with `[SYSLOG_PID]` (else `[_PID]`) and `:`, for the kernel
 * its monotonic time as `[%12.6f]`, then MESSAGE (a repeated MESSAGE joined by spaces); the parts
 * joined by a space and every new line written as the two characters `\n`. The time is
 * `_SOURCE_REALTIME_TIMESTAMP`, else `__REALTIME_TIMESTAMP`. null for an entry without either.
 * A line longer than JOURNAL_LIMITS.maxLineChars is cut there.
 */
export function formatEntry(entry: Record<string, unknown>): { line: string; time: number } | null {
  const time = usecTime(field(entry, '_SOURCE_REALTIME_TIMESTAMP')) ?? usecTime(field(entry, '__REALTIME_TIMESTAMP'));
  if (time === null) return null;
  const parts: string[] = [];
  const host = field(entry, '_HOSTNAME');
  if (host) parts.push(host);
  const ident = field(entry, 'SYSLOG_IDENTIFIER') || field(entry, '_COMM');
  if (ident) {
    const pid = field(entry, 'SYSLOG_PID') || field(entry, '_PID');
    const tag = `${ident}${pid ? pidText(pid) : ''}:`;
    parts.push(tag);
    if (tag === 'kernel:') {
      const mono = /^\d+$/.test(field(entry, '_SOURCE_MONOTONIC_TIMESTAMP')) ? field(entry, '_SOURCE_MONOTONIC_TIMESTAMP') : field(entry, '__MONOTONIC_TIMESTAMP');
      if (/^\d+$/.test(mono)) parts.push(`[${monotonicText(mono)}]`);
    }
  }
  parts.push(fieldValues(entry.MESSAGE).join(' '));
  let line = parts.join(' ').replace(/\n/g, '\\n');
  if (line.length > JOURNAL_LIMITS.maxLineChars) {
    let end = JOURNAL_LIMITS.maxLineChars;
    const c = line.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end--; // do not cut a surrogate pair in two
    line = line.slice(0, end);
  }
  return { line, time };
}

export interface JournalRestartOptions {
  /** first delay before restarting an exited journalctl (doubles per failure); default 1000 */
  minDelayMs?: number;
  /** the longest delay; default 60000 */
  maxDelayMs?: number;
  /** failures in a row (a run that read nothing and lasted under maxDelayMs) before giving up
   *  with a 'failed' event; default 20 */
  maxFailures?: number;
}

export interface JournalReaderOptions {
  journal: JournalOptions;
  /** the jail's filter's journalmatch (one match per line); none = every entry */
  journalmatch?: string;
  /** the jail's findtime (seconds): reading starts at max(savedTime, now - findtime) */
  findtime: number;
  /** epoch seconds of the last entry read by a previous run (fail2ban's saved journal time) */
  savedTime?: number;
  /** resume after this entry (a JournalBatch.cursor of a previous run) instead of at a time;
   *  entries older than the start time are still skipped */
  cursor?: string;
  onBatch(batch: JournalBatch): void;
  onEvent?(event: JournalEvent): void;
  clock?: Clock;
  /** journalctl's environment (its PATH finds it); default process.env */
  env?: NodeJS.ProcessEnv;
  restart?: JournalRestartOptions;
  /** how long the start-up query may take; default 30000 */
  startTimeoutMs?: number;
}

interface LastEntry {
  cursor: string;
  realtime: number;
}

const STDERR_LINES_PER_RUN = 20;

/**
 * Follows the journal with `journalctl --follow --output=json` (no shell). Entries reach onBatch
 * once per read from the pipe. A journalctl that exits is restarted from the last cursor after a
 * doubling delay; too many failures in a row end with a 'failed' event.
 */
export class JournalReader {
  readonly #opts: JournalReaderOptions;
  readonly #clock: Clock;
  readonly #onEvent: (e: JournalEvent) => void;
  readonly #matches: string[];
  #source: string[] = [];
  /** reading starts here (epoch seconds) unless a cursor is known */
  #since = 0;
  #cursor: string | undefined;
  /** the cursor was given by the caller and has not been confirmed by an entry yet */
  #cursorUnconfirmed = false;
  /** the last matching entry when started; entries up to it are "initial" */
  #startEntry: LastEntry | null = null;
  #initial = false;
  #child: ChildProcess | undefined;
  /** the start-up query, while it runs */
  #probe: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  #started = false;
  // the current run
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #discarding = false;
  #runEntries = 0;
  #runStarted = 0;
  #stderr = '';
  #stderrLines: string[] = [];
  #stderrReported = 0;

  constructor(opts: JournalReaderOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('Expected options to be an object');
    if (typeof opts.onBatch !== 'function') throw new TypeError('Expected options.onBatch to be a function');
    if (!Number.isFinite(opts.findtime) || opts.findtime < 0) throw new TypeError('Expected options.findtime to be a non-negative number');
    if (opts.cursor !== undefined && (typeof opts.cursor !== 'string' || !opts.cursor || /[\0\n]/.test(opts.cursor))) {
      throw new TypeError('Expected options.cursor to be a non-empty string without NUL or new line');
    }
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#onEvent = opts.onEvent ? opts.onEvent.bind(opts) : () => {};
    this.#matches = parseJournalMatch(opts.journalmatch);
    this.#cursor = opts.cursor;
    this.#cursorUnconfirmed = opts.cursor !== undefined;
  }

  /** The cursor of the last entry read (to save for a restart). */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** The running journalctl's PID, if one runs. */
  get pid(): number | undefined {
    return this.#child?.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  /** The arguments of the follow command for the current position (for logs and tests). */
  followArgs(): string[] {
    const start = this.#cursor !== undefined ? `--after-cursor=${this.#cursor}` : `--since=@${Math.max(0, this.#since).toFixed(6)}`;
    return ['--follow', '--no-tail', '--no-pager', '--all', '--output=json', `--output-fields=${OUTPUT_FIELDS.join(',')}`, ...this.#source, start, ...(this.#matches.length ? ['--', ...this.#matches] : [])];
  }

  /**
   * Asks journalctl for the newest matching entry (what counts as already there), then starts
   * following. Rejects with F2bError('JOURNAL') when journalctl is missing or fails (bad path,
   * namespace, permissions), F2bError('CONFIG_VALUE') when journalfiles match nothing.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('JournalReader.start() was already called');
    this.#started = true;
    this.#source = journalSource(this.#opts.journal);
    const now = this.#clock.now();
    this.#since = Math.max(this.#opts.savedTime ?? 0, now - this.#opts.findtime);
    if (!this.#matches.length) {
      this.#emit({ kind: 'warning', message: "no journalmatch: the filter's regexes see every journal entry, which is slow" });
    }
    this.#startEntry = await this.#lastEntry();
    const s = this.#startEntry;
    // nothing old to read when the journal has no matching entry, or its newest one is the saved
    // position or older than the start time
    this.#initial = s !== null && s.cursor !== this.#cursor && !(this.#cursor === undefined && s.realtime < this.#since);
    if (this.#closed) return;
    await this.#spawnFollower(true);
    if (!this.#initial) this.#emit({ kind: 'operation', message: 'reading new journal entries' });
  }

  /** Kills journalctl (by PID) and waits for it to exit. Nothing is delivered once called. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#probe?.kill('SIGKILL');
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await this.#exited;
      clearTimeout(killer);
    }
    await this.#exited;
  }

  #journalctl(args: string[]): ChildProcess {
    return spawn('journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.#opts.env ?? process.env });
  }

  #spawnError(e: NodeJS.ErrnoException, args: string[]): F2bError {
    if (e.code === 'ENOENT') {
      const env = this.#opts.env ?? process.env;
      return new F2bError('JOURNAL', `journalctl was not found (PATH=${env.PATH ?? ''}): backend = systemd needs it; install the systemd package`);
    }
    return new F2bError('JOURNAL', `journalctl ${args.join(' ')}: ${e.message}`);
  }

  /** `journalctl -n 1` with the same journal and matches: the newest entry, or null. */
  #lastEntry(): Promise<LastEntry | null> {
    const args = ['--lines=1', '--no-pager', '--output=json', '--output-fields=__CURSOR', ...this.#source, ...(this.#matches.length ? ['--', ...this.#matches] : [])];
    const timeoutMs = this.#opts.startTimeoutMs ?? 30000;
    return new Promise((resolve, reject) => {
      const child = this.#journalctl(args);
      this.#probe = child;
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let done = false;
      let settle!: () => void;
      this.#exited = new Promise((r) => (settle = r));
      const finish = (result: LastEntry | null | F2bError) => {
        if (done) return;
        done = true;
        settle();
        clearTimeout(timer);
        this.#probe = undefined;
        if (result instanceof F2bError) reject(result);
        else resolve(result);
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new F2bError('JOURNAL', `journalctl ${args.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      child.stdout!.on('data', (b: Buffer) => {
        if (outBytes < JOURNAL_LIMITS.maxEntryBytes) out.push(b);
        outBytes += b.length;
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (err.length < 4096) err += b.toString('utf8');
      });
      // a failed spawn (ENOENT) may never be followed by 'close'
      child.on('error', (e) => finish(this.#spawnError(e, args)));
      child.on('close', (code, signal) => {
        if (this.#closed) return finish(null);
        if (code !== 0) {
          return finish(new F2bError('JOURNAL', `journalctl ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim() || 'no message'}`));
        }
        const text = Buffer.concat(out).toString('utf8').trim();
        if (!text) return finish(null);
        try {
          const e = JSON.parse(text.split('\n').pop()!) as Record<string, unknown>;
          const cursor = field(e, '__CURSOR');
          const realtime = usecTime(field(e, '__REALTIME_TIMESTAMP'));
          finish(cursor && realtime !== null ? { cursor, realtime } : null);
        } catch (e) {
          finish(new F2bError('JOURNAL', `journalctl ${args.join(' ')}: unreadable output (${(e as Error).message})`));
        }
      });
    });
  }

  /** Starts `journalctl --follow` from the current position; resolves once it runs. The first
   *  start rejects when it cannot spawn; a restart schedules the next one instead. */
  #spawnFollower(first: boolean): Promise<void> {
    const args = this.followArgs();
    const child = this.#journalctl(args);
    this.#child = child;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#discarding = false;
    this.#runEntries = 0;
    this.#runStarted = Date.now();
    this.#stderr = '';
    this.#stderrLines = [];
    this.#stderrReported = 0;
    let settle!: () => void;
    this.#exited = new Promise((resolve) => (settle = resolve));
    let ended = false;
    const end = (): boolean => {
      if (ended) return false;
      ended = true;
      if (this.#child === child) this.#child = undefined;
      settle();
      return true;
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.#child === child) this.#onData(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.#child === child) this.#onStderr(chunk);
    });
    child.on('close', (code, signal) => {
      if (end()) this.#onExit(code, signal);
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        this.#emit({ kind: 'started', message: `journalctl ${args.join(' ')}`, pid: child.pid });
        resolve();
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (child.pid !== undefined) return this.#warn(`journalctl (pid ${child.pid}): ${e.message}`);
        // a failed spawn (ENOENT) may never be followed by 'close'
        if (!end()) return;
        const err = this.#spawnError(e, args);
        if (first) return reject(err);
        this.#scheduleRestart(err.message);
        resolve();
      });
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const lines: string[] = [];
    const times: number[] = [];
    let batchInitial = this.#initial;
    let moved = false;
    const flush = () => {
      // (onBatch may close the reader)
      if (moved && !this.#closed) this.#opts.onBatch({ lines: lines.splice(0), times: times.splice(0), cursor: this.#cursor!, initial: batchInitial });
      moved = false;
    };
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.#hold(chunk.subarray(start));
        break;
      }
      let json: Buffer | null = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.#discarding) {
        this.#discarding = false;
        json = null;
      } else if (this.#pending.length) {
        json = this.#pendingBytes + json.length > JOURNAL_LIMITS.maxEntryBytes ? null : Buffer.concat([...this.#pending, json]);
        if (json === null) this.#tooLong();
        this.#pending = [];
        this.#pendingBytes = 0;
      } else if (json.length > JOURNAL_LIMITS.maxEntryBytes) {
        this.#tooLong();
        json = null;
      }
      if (json === null || json.length === 0) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(json.toString('utf8'));
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error('not an object');
      } catch (e) {
        this.#warn(`unreadable journalctl output skipped (${(e as Error).message}): ${json.subarray(0, 200).toString('utf8')}`);
        continue;
      }
      const cursor = field(entry, '__CURSOR');
      if (!cursor) {
        this.#warn('a journal entry without __CURSOR was skipped');
        continue;
      }
      this.#runEntries++;
      this.#cursorUnconfirmed = false;
      const realtime = usecTime(field(entry, '__REALTIME_TIMESTAMP'));
      const formatted = formatEntry(entry);
      // fail2ban's switch to "in operation": past the newest entry at start (its cursor, or a
      // later receive time), or an entry from the last second
      const s = this.#startEntry;
      if (this.#initial && ((s && realtime !== null && realtime > s.realtime) || (formatted && formatted.time >= this.#clock.now() - 1))) {
        this.#initial = false;
      }
      if (this.#initial !== batchInitial) {
        flush();
        batchInitial = this.#initial;
        this.#emit({ kind: 'operation', message: 'reading new journal entries' });
      }
      this.#cursor = cursor;
      moved = true;
      // a resumed cursor may lie before the start time: those entries are history
      const old = this.#initial && realtime !== null && realtime < this.#since;
      if (formatted && !old) {
        lines.push(formatted.line);
        times.push(formatted.time);
      } else if (!formatted) {
        this.#warn(`a journal entry without a usable timestamp was skipped (${cursor})`);
      }
      if (this.#initial && s && cursor === s.cursor) {
        flush();
        this.#initial = false;
        batchInitial = false;
        this.#emit({ kind: 'operation', message: 'reading new journal entries' });
      }
    }
    flush();
  }

  /** Keeps the start of an entry whose end is in a later chunk (bounded). */
  #hold(part: Buffer): void {
    if (this.#discarding || part.length === 0) return;
    if (this.#pendingBytes + part.length > JOURNAL_LIMITS.maxEntryBytes) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#discarding = true;
      this.#tooLong();
      return;
    }
    this.#pending.push(part);
    this.#pendingBytes += part.length;
  }

  #tooLong(): void {
    this.#warn(`a journal entry over ${JOURNAL_LIMITS.maxEntryBytes} bytes of JSON was skipped`);
  }

  #warn(message: string): void {
    this.#emit({ kind: 'warning', message });
  }

  #emit(event: JournalEvent): void {
    if (!this.#closed) this.#onEvent(event);
  }

  #onStderr(chunk: Buffer): void {
    this.#stderr += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.#stderr.indexOf('\n')) >= 0) {
      const line = this.#stderr.slice(0, nl).trim();
      this.#stderr = this.#stderr.slice(nl + 1);
      if (!line) continue;
      this.#stderrLines = [...this.#stderrLines.slice(-4), line.slice(0, 500)];
      if (this.#stderrReported++ < STDERR_LINES_PER_RUN) this.#warn(`journalctl: ${line.slice(0, 500)}`);
    }
    if (this.#stderr.length > 4096) this.#stderr = this.#stderr.slice(-4096);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#closed) return;
    if (this.#stderr.trim()) this.#stderrLines.push(this.#stderr.trim().slice(0, 500));
    const why = `journalctl exited (${signal ?? `exit ${code}`})${this.#stderrLines.length ? `: ${this.#stderrLines.join(' / ')}` : ''}`;
    // a saved cursor journalctl cannot seek to: start over from the start time instead
    if (this.#cursorUnconfirmed && this.#stderrLines.some((l) => /cursor/i.test(l))) {
      this.#cursor = undefined;
      this.#cursorUnconfirmed = false;
      this.#warn(`${why}; reading from the start time instead of the saved cursor`);
    }
    this.#scheduleRestart(why);
  }

  #scheduleRestart(why: string): void {
    if (this.#closed) return;
    const r = this.#opts.restart ?? {};
    const minDelay = r.minDelayMs ?? 1000;
    const maxDelay = r.maxDelayMs ?? 60000;
    const maxFailures = r.maxFailures ?? 20;
    // a run that read entries, or lasted, was a success: the next failure starts the count anew
    if (this.#runEntries > 0 || Date.now() - this.#runStarted >= maxDelay) this.#failures = 0;
    this.#failures++;
    if (this.#failures > maxFailures) {
      this.#emit({ kind: 'failed', message: `${why}; gave up after ${maxFailures} failed restarts` });
      return;
    }
    const delay = Math.min(maxDelay, minDelay * 2 ** (this.#failures - 1));
    this.#emit({ kind: 'exited', message: `${why}; restarting in ${delay} ms from ${this.#cursor ? 'the last entry read' : 'the start time'}` });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      void this.#spawnFollower(false);
    }, delay);
  }
}
