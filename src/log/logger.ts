// Our own log, in fail2ban's format, so that operators' greps and the recidive jail (which reads
// this log for other jails' bans) keep working:
//   2026-11-24 22:43:49,784 fail2ban.actions        [27676]: NOTICE  [sshd] Ban 192.0.2.10
// i.e. Python's `%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`: the logger
// name padded to 24 characters with the `[` right after it, the level padded to 7.
//
// A LogSink is fail2ban's `logtarget` and `loglevel`: a file, STDOUT, STDERR, SYSOUT, SYSLOG or
// SYSTEMD-JOURNAL (src/log/syslog.ts), each with fail2ban's `[format=, facility=, padding=,
// datetime=]` options; both can change at run time (`set logtarget`, `set loglevel`) and the
// file is reopened after rotation (`flushlogs`, SIGUSR1). Loggers are names over one sink.
// Logging never throws: a target that cannot be written (disk full, socket gone) is reported
// once on stderr, its lost lines are counted, and the daemon goes on.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseFilterSpec } from '../config/spec';
import { F2bError } from '../errors';
import { autoSyslogSocket, facilityOf, JournalTarget, JOURNAL_SOCKET, SyslogTarget } from './syslog';

export type Level = 'CRITICAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG' | 'TRACEDEBUG' | 'HEAVYDEBUG';

export const LEVELS: Readonly<Record<Level, number>> = {
  CRITICAL: 50,
  ERROR: 40,
  WARNING: 30,
  NOTICE: 25,
  INFO: 20,
  DEBUG: 10,
  TRACEDEBUG: 7,
  HEAVYDEBUG: 5,
};

// the words fail2ban's `loglevel` takes (attributes of Python's logging module)
const LEVEL_WORDS: Readonly<Record<string, number>> = { ...LEVELS, WARN: 30, FATAL: 50, MSG: 18, NOTSET: 0 };

/** `loglevel` / `set loglevel`: a level name (CRITICAL ... HEAVYDEBUG) or a number. */
export function parseLevel(text: string | number): number {
  const t = String(text).trim().toUpperCase();
  if (/^\d+$/.test(t)) return Number(t);
  const n = LEVEL_WORDS[t];
  if (n === undefined) {
    throw new F2bError('CONFIG_VALUE', `invalid log level ${JSON.stringify(String(text))} (CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG, HEAVYDEBUG or a number)`);
  }
  return n;
}

/** The level name fail2ban prints for a level number. */
export function levelName(level: number): string {
  switch (level) {
    case 50:
      return 'CRITICAL';
    case 40:
      return 'ERROR';
    case 30:
      return 'WARNING';
    case 25:
      return 'NOTICE';
    case 20:
      return 'INFO';
    case 18:
      return 'MSG';
    case 10:
      return 'DEBUG';
    case 7:
      return 'TRACE';
    case 5:
      return 'HEAVY';
    case 0:
      return 'NOTSET';
  }
  // fail2ban names the other levels below 50 so that a short format does not cut "Level 3"
  return level > 0 && level < 50 ? `#${String(level).padStart(2, '0')}-Lev.` : `Level ${level}`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time as `YYYY-mm-dd HH:MM:SS,mmm`. */
export function formatLogTime(ms: number): string {
  // a burst logs thousands of lines in the same millisecond: format it once
  if (ms === lastTime.ms) return lastTime.text;
  const d = new Date(ms);
  const text =
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())},${String(d.getMilliseconds()).padStart(3, '0')}`;
  lastTime.ms = ms;
  lastTime.text = text;
  return text;
}

const lastTime = { ms: NaN, text: '' };

/** Control characters in a message: escaped as \\xNN. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Text from log lines made safe for a terminal or a syslog parser: control characters (tab
 *  and new line aside) written as `\xNN`. */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : text;
}

/** One line to log, before formatting. */
export interface LogRecord {
  /** epoch milliseconds */
  time: number;
  /** logger name: fail2ban.actions, fail2ban.filter, ... */
  name: string;
  level: number;
  /** control characters already escaped */
  message: string;
}

export type LogFormatter = (rec: LogRecord) => string;

/** Where formatted records go (one class per target kind). Errors are returned, never thrown. */
export interface LogTarget {
  readonly kind: string;
  /** for "Changed logging target to ..." */
  readonly describe: string;
  write(rec: LogRecord): Error | null;
  /** a file: open the path again (after logrotate); the others: send what is held back */
  reopen(): Error | null;
  close(): void;
  /** hold lines back until uncork(), to write them together (targets that can) */
  cork?(): void;
  uncork?(): Error | null;
}

/** The default line: fail2ban's format with or without the time and the padding. */
export function defaultFormatter(opts: { datetime: boolean; padding: boolean }): LogFormatter {
  const pid = process.pid;
  // `NAME[PID]: LEVEL ` per logger name and level, made once (a restart logs 100,000 lines)
  const heads = new Map<string, string>();
  return (r) => {
    const key = `${r.name}\0${r.level}`;
    let head = heads.get(key);
    if (head === undefined) {
      const name = opts.padding ? r.name.padEnd(24) : r.name;
      const level = opts.padding ? levelName(r.level).padEnd(7) : levelName(r.level);
      head = `${name}[${pid}]: ${level} `;
      if (heads.size < 1000) heads.set(key, head);
    }
    return opts.datetime ? `${formatLogTime(r.time)} ${head}${r.message}` : `${head}${r.message}`;
  };
}

// the record attributes a `format=` may name (Python logging's, where we have them)
const START = Date.now();
const FIELDS: Readonly<Record<string, (r: LogRecord) => string | number>> = {
  asctime: (r) => formatLogTime(r.time),
  created: (r) => r.time / 1000,
  msecs: (r) => r.time % 1000,
  relativeCreated: (r) => r.time - START,
  name: (r) => r.name,
  levelname: (r) => levelName(r.level),
  levelno: (r) => r.level,
  message: (r) => r.message,
  process: () => process.pid,
  processName: () => 'MainProcess',
  threadName: () => 'MainThread',
};

/**
 * A `format=` option: Python's %-style logging format (`%(name)-24s`, `%(process)d`,
 * `%(msecs)03d`, `%%`) over the fields above. Throws F2bError for a field or conversion we do
 * not have, so that `set logtarget` refuses it and keeps the old target.
 */
export function compileLogFormat(format: string): LogFormatter {
  const parts: (string | LogFormatter)[] = [];
  const spec = /%(?:%|\((\w+)\)([-0 +#]*)(\d*)(?:\.(\d+))?([sdifr]))/g;
  let last = 0;
  for (let m = spec.exec(format); m; m = spec.exec(format)) {
    parts.push(format.slice(last, m.index));
    last = spec.lastIndex;
    if (m[0] === '%%') {
      parts.push('%');
      continue;
    }
    const [, key, flags, width, precision, conv] = m;
    const get = FIELDS[key];
    if (!get) throw new F2bError('CONFIG_VALUE', `logtarget format: unknown field %(${key})s (${Object.keys(FIELDS).join(', ')})`);
    const w = width ? Number(width) : 0;
    const left = flags.includes('-');
    const zero = flags.includes('0') && !left && conv !== 's' && conv !== 'r';
    parts.push((r) => {
      const v = get(r);
      let text: string;
      if (conv === 'd' || conv === 'i') text = String(Math.trunc(Number(v)));
      else if (conv === 'f') text = Number(v).toFixed(precision ? Number(precision) : 6);
      else text = precision ? String(v).slice(0, Number(precision)) : String(v);
      if (text.length >= w) return text;
      if (left) return text.padEnd(w);
      if (zero) return text.startsWith('-') ? `-${text.slice(1).padStart(w - 1, '0')}` : text.padStart(w, '0');
      return text.padStart(w);
    });
  }
  const rest = format.slice(last);
  if (/%/.test(rest.replace(/%%/g, ''))) throw new F2bError('CONFIG_VALUE', `logtarget format: cannot read ${JSON.stringify(rest)}`);
  parts.push(rest.replace(/%%/g, '%'));
  return (r) => parts.map((p) => (typeof p === 'string' ? p : p(r))).join('');
}

/**
 * A file target: appended to, created 0600 (what fail2ban's umask 077 gives). Each line is
 * written when logged, except while the sink is corked (LogSink.cork: the daemon's transactions,
 * which may log 10,000 bans or restore 100,000): then the lines wait and go out in one write.
 */
class FileTarget implements LogTarget {
  readonly kind = 'FILE';
  private fd: number;
  private corked = false;
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(
    private readonly path: string,
    private readonly format: LogFormatter,
  ) {
    try {
      this.fd = fs.openSync(path, 'a', 0o600);
    } catch (e) {
      throw new F2bError('CONFIG_VALUE', `unable to log to ${JSON.stringify(path)}: ${(e as Error).message}`);
    }
  }

  get describe(): string {
    return this.path;
  }

  write(rec: LogRecord): Error | null {
    const line = `${this.format(rec)}\n`;
    if (!this.corked) return writeAll(this.fd, Buffer.from(line, 'utf8'));
    this.pending.push(line);
    this.pendingChars += line.length;
    return this.pendingChars >= 256 * 1024 ? this.flush() : null;
  }

  cork(): void {
    this.corked = true;
  }

  /** Write the lines held back, and write each line when logged again. */
  uncork(): Error | null {
    this.corked = false;
    return this.flush();
  }

  private flush(): Error | null {
    if (!this.pending.length || this.fd < 0) return null;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    return writeAll(this.fd, Buffer.from(text, 'utf8'));
  }

  reopen(): Error | null {
    const held = this.flush();
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'a', 0o600);
    } catch (e) {
      return e as Error; // keep writing to the old file rather than to nothing
    }
    const old = this.fd;
    this.fd = fd;
    closeQuietly(old);
    return held;
  }

  close(): void {
    this.flush();
    closeQuietly(this.fd);
    this.fd = -1;
  }
}

function writeAll(fd: number, buf: Buffer): Error | null {
  try {
    for (let off = 0; off < buf.length; ) {
      const n = fs.writeSync(fd, buf, off);
      if (n <= 0) return new Error(`short write (${off} of ${buf.length} bytes)`);
      off += n;
    }
    return null;
  } catch (e) {
    return e as Error;
  }
}

function closeQuietly(fd: number): void {
  try {
    if (fd > 2) fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** STDOUT, SYSOUT, STDERR: through process.stdout/stderr. Writes to files and terminals are
 *  synchronous; to a pipe they are too until it is full: then (a reader slower than the daemon)
 *  lines wait in memory, and a `kill -9` loses them. Bans and counts never depend on them. */
class StreamTarget implements LogTarget {
  private readonly onError: (e: Error) => void;
  /** set by the first failure: stdout/stderr never come back (EPIPE) */
  private broken?: Error;

  constructor(
    readonly kind: 'STDOUT' | 'SYSOUT' | 'STDERR',
    private readonly format: LogFormatter,
    lateError: (e: Error) => void,
  ) {
    // an EPIPE on a closed stdout arrives as an event; without a listener it would kill us
    this.onError = (e) => {
      if (this.broken) return;
      this.broken = e;
      lateError(e);
    };
    this.stream.on('error', this.onError);
  }

  get describe(): string {
    return this.kind;
  }

  private get stream(): NodeJS.WriteStream {
    return this.kind === 'STDERR' ? process.stderr : process.stdout;
  }

  write(rec: LogRecord): Error | null {
    if (this.broken) return this.broken;
    try {
      this.stream.write(`${this.format(rec)}\n`);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  reopen(): Error | null {
    return null;
  }

  close(): void {
    this.stream.off('error', this.onError);
  }
}

/** The stderr of closed sinks, shared: one 'error' listener on process.stderr however many
 *  sinks a process closes (tests close dozens). */
let closedSinkTarget: StreamTarget | undefined;
const afterClose = (): StreamTarget => (closedSinkTarget ??= new StreamTarget('STDERR', defaultFormatter({ datetime: true, padding: true }), () => undefined));

/** The options fail2ban's logtarget takes in brackets: `SYSLOG[facility=local1, padding=0]`. */
export interface LogTargetOptions {
  format?: string;
  facility?: string;
  padding?: string;
  datetime?: string;
}

/** `TARGET[k=v, ...]` -> the target (STDOUT, ..., or a path as written) and its options. */
export function parseLogTarget(spec: string): { target: string; options: LogTargetOptions } {
  const { name, options } = parseFilterSpec(spec.trim());
  const target = name.trim();
  if (!target) throw new F2bError('CONFIG_VALUE', 'logtarget: empty target');
  return { target, options };
}

const SPECIAL = new Set(['STDOUT', 'STDERR', 'SYSOUT', 'SYSLOG', 'SYSTEMD-JOURNAL']);

/** Python's _as_bool: 1, on, true, yes (any case) are true. */
const asBool = (v: string) => ['1', 'on', 'true', 'yes'].includes(v.trim().toLowerCase());

/**
 * What `f2b-fast test-config` says about a logtarget without opening it: F2bError for what
 * setTarget would refuse outright (syntax, format), warnings for what would make the daemon
 * fall back to STDERR (a file it cannot create, a missing socket) or use a default.
 */
export function checkLogTarget(spec: string, syslogsocket = 'auto', journalSocket = JOURNAL_SOCKET): string[] {
  const { target, options } = parseLogTarget(spec);
  if (options.format) compileLogFormat(options.format);
  const warnings: string[] = [];
  if (options.facility !== undefined && facilityOf(options.facility) === undefined) {
    warnings.push(`logtarget: unknown facility ${JSON.stringify(options.facility)}: DAEMON is used`);
  }
  const socketMissing = (p: string) => {
    try {
      return !fs.statSync(p).isSocket();
    } catch {
      return true;
    }
  };
  const upper = target.toUpperCase();
  if (upper === 'SYSLOG') {
    const socket = syslogsocket === 'auto' ? autoSyslogSocket() : syslogsocket;
    if (socketMissing(socket)) warnings.push(`logtarget SYSLOG: ${socket} does not exist or is not a socket: the daemon would log to STDERR`);
  } else if (upper === 'SYSTEMD-JOURNAL') {
    if (socketMissing(journalSocket)) warnings.push(`logtarget SYSTEMD-JOURNAL: ${journalSocket} does not exist or is not a socket: the daemon would log to STDERR`);
  } else if (!SPECIAL.has(upper)) {
    const exists = fs.existsSync(target);
    try {
      fs.accessSync(exists ? target : path.dirname(target), fs.constants.W_OK);
      if (exists && !fs.statSync(target).isFile()) warnings.push(`logtarget ${target} is not a regular file`);
    } catch (e) {
      warnings.push(`logtarget ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: this user cannot write it (the daemon would log to STDERR)`);
    }
  }
  return warnings;
}

export interface LogSinkOptions {
  /** loglevel (default INFO) */
  level?: string | number;
  /** fail2ban.conf's syslogsocket: a path, or `auto` (default) = /dev/log on Linux */
  syslogsocket?: string;
  /** journald's native socket (default /run/systemd/journal/socket) */
  journalSocket?: string;
  /** where the sink's own trouble goes (default: stderr) */
  report?: (text: string) => void;
}

/** What a target spec opens to, and what to say about it once it is in place. */
interface Opened {
  target: LogTarget;
  warnings: string[];
}

const reportToStderr = (text: string): void => {
  try {
    process.stderr.write(`f2b-fast: ${text}\n`);
  } catch {
    // stderr itself is gone: nowhere left to say it
  }
};

/** Where log lines go, and from which level: fail2ban's logtarget and loglevel. */
export class LogSink {
  private current: LogTarget;
  private spec: string;
  private threshold = LEVELS.INFO;
  private levelSpec = 'INFO';
  private socket: string;
  private readonly journalSocket: string;
  private readonly report: (text: string) => void;
  /** set while the target fails: why, and how many lines were lost */
  private failure?: { reason: string; lost: number };

  /** A target that cannot be opened here is replaced by STDERR, with a warning: the daemon
   *  keeps running and logging. (setTarget, at run time, refuses instead.) */
  constructor(target: string, opts: LogSinkOptions = {}) {
    this.report = opts.report ?? reportToStderr;
    this.socket = opts.syslogsocket ?? 'auto';
    this.journalSocket = opts.journalSocket ?? JOURNAL_SOCKET;
    if (opts.level !== undefined) this.setLevel(opts.level);
    let opened: Opened;
    try {
      opened = this.open(target);
      this.spec = target.trim();
    } catch (e) {
      opened = this.open('STDERR');
      opened.warnings.push(`${(e as Error).message}; logging to STDERR instead`);
      this.spec = 'STDERR';
    }
    this.current = opened.target;
    for (const w of opened.warnings) this.write('fail2ban.server', 'WARNING', w);
  }

  /** The target as set (`get logtarget`). */
  get target(): string {
    return this.spec;
  }

  /** The level threshold (`get loglevel` prints levelText). */
  get level(): number {
    return this.threshold;
  }

  get levelText(): string {
    return this.levelSpec;
  }

  /** The syslog socket as set (`get syslogsocket`): a path or `auto`. */
  get syslogsocket(): string {
    return this.socket;
  }

  /** `set loglevel`: takes effect for the next line of every logger on this sink. */
  setLevel(level: string | number): void {
    this.threshold = parseLevel(level);
    // a number from parseLevel() reads back as its name; what a user typed reads back as typed
    const named = levelName(this.threshold);
    this.levelSpec = typeof level === 'number' && !/^(#|Level )/.test(named) ? named : String(level).trim().toUpperCase();
  }

  isEnabledFor(level: Level | number): boolean {
    return (typeof level === 'number' ? level : LEVELS[level]) >= this.threshold;
  }

  /**
   * `set logtarget`: the new target is opened first; if that fails, F2bError is thrown and the
   * old target stays. Every line goes to exactly one of them: the switch happens between lines.
   */
  setTarget(spec: string): void {
    if (spec.trim() === this.spec) return;
    this.replace(spec);
  }

  /** `set syslogsocket`: a SYSLOG target moves to the new socket (or refuses it, keeping the old). */
  setSyslogSocket(socket: string): void {
    const old = this.socket;
    if (socket === old) return;
    this.socket = socket;
    if (this.current.kind !== 'SYSLOG') return;
    try {
      this.replace(this.spec);
    } catch (e) {
      this.socket = old;
      throw e;
    }
  }

  private replace(spec: string): void {
    const opened = this.open(spec);
    const old = this.current;
    const failure = this.failure;
    this.current = opened.target;
    if (this.corkDepth) this.current.cork?.();
    this.spec = spec.trim();
    this.failure = undefined;
    old.close();
    if (failure) opened.warnings.push(`${failure.lost} log lines were lost at ${old.describe} (${failure.reason})`);
    for (const w of opened.warnings) this.write('fail2ban.server', 'WARNING', w);
    this.write('fail2ban.server', 'INFO', `Changed logging target to ${opened.target.describe}`);
  }

  private open(spec: string): Opened {
    const { target, options } = parseLogTarget(spec);
    const upper = target.toUpperCase();
    const kind = SPECIAL.has(upper) ? upper : 'FILE';
    const warnings: string[] = [];
    const late = (e: Error) => this.failed(e);
    const format = (datetime: boolean, padding: boolean): LogFormatter =>
      options.format
        ? compileLogFormat(options.format)
        : defaultFormatter({
            datetime: options.datetime !== undefined ? asBool(options.datetime) : datetime,
            padding: options.padding !== undefined ? asBool(options.padding) : padding,
          });
    let facility: number | undefined;
    if (options.facility !== undefined) {
      facility = facilityOf(options.facility);
      if (facility === undefined) warnings.push(`unable to set facility ${JSON.stringify(options.facility)}, using DAEMON`);
    }
    switch (kind) {
      case 'STDOUT':
      case 'STDERR':
        return { target: new StreamTarget(kind, format(true, true), late), warnings };
      case 'SYSOUT':
        return { target: new StreamTarget('SYSOUT', format(false, true), late), warnings };
      case 'SYSLOG': {
        const socket = this.socket === 'auto' ? autoSyslogSocket() : this.socket;
        // syslog adds the time and the host itself; fail2ban sends no padding there
        return { target: new SyslogTarget(socket, facility ?? 3, format(false, false), late), warnings };
      }
      case 'SYSTEMD-JOURNAL':
        // the journal gets the message alone (fail2ban sets no format on that handler either)
        return { target: new JournalTarget(this.journalSocket, facility, late), warnings };
      default:
        return { target: new FileTarget(target, format(true, true)), warnings };
    }
  }

  write(name: string, level: Level | number, message: string, now = Date.now()): void {
    const n = typeof level === 'number' ? level : LEVELS[level];
    if (n < this.threshold) return;
    // control characters from log lines never reach a terminal or a syslog parser raw
    const err = this.current.write({ time: now, name, level: n, message: escapeControls(message) });
    if (err) this.failed(err);
    else if (this.failure) this.recovered();
  }

  private failed(e: Error): void {
    if (this.failure) {
      this.failure.lost++;
      return;
    }
    const reason = e.message;
    this.failure = { reason, lost: 1 };
    this.report(`cannot write the log to ${this.current.describe}: ${reason}; lines are lost until it works again`);
  }

  private recovered(): void {
    const { reason, lost } = this.failure!;
    this.failure = undefined;
    this.report(`the log works again at ${this.current.describe} (${lost} lines lost)`);
    this.write('fail2ban.server', 'WARNING', `${lost} log lines were lost (${reason})`);
  }

  /**
   * Run fn with the target corked: a file target writes the lines fn logs in one go at the end
   * (the daemon's transactions: a burst's thousands of Found/Ban lines, a restart's Restore Ban
   * lines). Nested calls cork once.
   */
  corked<T>(fn: () => T): T {
    if (this.corkDepth++ === 0) this.current.cork?.();
    try {
      return fn();
    } finally {
      if (--this.corkDepth === 0) {
        const err = this.current.uncork?.();
        if (err) this.failed(err);
      }
    }
  }

  private corkDepth = 0;

  /** `flushlogs` / SIGUSR1: a file target is opened again (logrotate moved it away); the
   *  others send what they hold. Returns what fail2ban's flushlogs answers. */
  reopen(): 'rolled over' | 'flushed' {
    const err = this.current.reopen();
    if (err) this.failed(err);
    const file = this.current.kind === 'FILE';
    this.write('fail2ban.server', 'INFO', `${file ? 'rollover' : 'flush'} performed on ${this.current.describe}`);
    return file ? 'rolled over' : 'flushed';
  }

  /** Closes the target; lines logged after this go to stderr. */
  close(): void {
    const old = this.current;
    this.current = afterClose();
    this.spec = 'STDERR';
    this.failure = undefined;
    old.close();
  }
}

/** A named logger (`fail2ban.actions`, `fail2ban.filter`, ...) over a shared sink. */
export class Logger {
  /**
   * `threshold`, when given, sets the sink's level (the level belongs to the sink, so that
   * `set loglevel` reaches every logger at once).
   */
  constructor(
    private readonly sink: LogSink | null,
    readonly name: string,
    threshold?: number,
  ) {
    if (sink && threshold !== undefined) sink.setLevel(threshold);
  }

  child(name: string): Logger {
    return new Logger(this.sink, name);
  }

  isEnabledFor(level: Level | number): boolean {
    return this.sink !== null && this.sink.isEnabledFor(level);
  }

  log(level: Level | number, message: string): void {
    this.sink?.write(this.name, level, message);
  }
  critical(m: string): void {
    this.log('CRITICAL', m);
  }
  error(m: string): void {
    this.log('ERROR', m);
  }
  warn(m: string): void {
    this.log('WARNING', m);
  }
  notice(m: string): void {
    this.log('NOTICE', m);
  }
  info(m: string): void {
    this.log('INFO', m);
  }
  debug(m: string): void {
    this.log('DEBUG', m);
  }
}

/** A logger that discards everything (tests, library use). */
export const silentLogger = new Logger(null, 'fail2ban');
