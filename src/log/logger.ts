// Log lines in fail2ban's format, so that operators' greps and the recidive jail keep working:
//   2026-11-24 22:43:49,784 fail2ban.actions        [27676]: NOTICE  [sshd] Ban 192.0.2.10
// The logger name is padded to 24 characters and the level to 7, as fail2ban does.

import * as fs from 'node:fs';

export type Level = 'CRITICAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';

const LEVELS: Record<Level, number> = { CRITICAL: 50, ERROR: 40, WARNING: 30, NOTICE: 25, INFO: 20, DEBUG: 10 };

export function parseLevel(text: string): number {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) return Number(t);
  if (t === 'WARN') return LEVELS.WARNING;
  if (t === 'TRACEDEBUG') return 7;
  if (t === 'HEAVYDEBUG') return 5;
  const n = LEVELS[t as Level];
  if (n === undefined) throw new Error(`unknown log level ${JSON.stringify(text)}`);
  return n;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time as `YYYY-mm-dd HH:MM:SS,mmm`. */
export function formatLogTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())},${String(d.getMilliseconds()).padStart(3, '0')}`
  );
}

/** Where log lines go: a file path, STDOUT, STDERR or SYSOUT (stdout without timestamps). */
export class LogSink {
  private fd: number;
  private readonly withTime: boolean;

  constructor(readonly target: string) {
    const t = target.trim();
    const upper = t.toUpperCase();
    this.withTime = upper !== 'SYSOUT';
    if (upper === 'STDOUT' || upper === 'SYSOUT') this.fd = 1;
    else if (upper === 'STDERR' || upper === 'SYSLOG' || upper === 'SYSTEMD-JOURNAL') this.fd = 2;
    else this.fd = fs.openSync(t, 'a', 0o640);
  }

  write(name: string, level: Level, message: string, now = Date.now()): void {
    const head = this.withTime ? `${formatLogTime(now)} ` : '';
    // control characters from log lines never reach a terminal raw
    const safe = message.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    const line = `${head}${name.padEnd(24)} [${process.pid}]: ${level.padEnd(7)} ${safe}\n`;
    fs.writeSync(this.fd, line);
  }

  /** SIGUSR1 / flushlogs: reopen a file target (after logrotate). */
  reopen(): void {
    if (this.fd > 2) {
      const old = this.fd;
      this.fd = fs.openSync(this.target.trim(), 'a', 0o640);
      fs.closeSync(old);
    }
  }

  close(): void {
    if (this.fd > 2) fs.closeSync(this.fd);
    this.fd = 2;
  }
}

/** A named logger (`fail2ban.actions`, `fail2ban.filter`, ...) over a shared sink. */
export class Logger {
  constructor(
    private readonly sink: LogSink | null,
    readonly name: string,
    private readonly threshold: number = LEVELS.INFO,
  ) {}

  child(name: string): Logger {
    return new Logger(this.sink, name, this.threshold);
  }

  log(level: Level, message: string): void {
    if (this.sink && LEVELS[level] >= this.threshold) this.sink.write(this.name, level, message);
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
