// The system log targets of src/log/logger.ts: SYSLOG (a datagram to /dev/log, or to
// fail2ban.conf's `syslogsocket`) and SYSTEMD-JOURNAL (journald's native protocol).
//
// What fail2ban sends, so that rsyslog rules written for it keep matching:
//   <29>fail2ban.actions[1234]: NOTICE [sshd] Ban 192.0.2.10\0
// i.e. `<facility * 8 + severity>`, no timestamp or host name (the syslog daemon adds them), the
// logger name as the tag (`programname` = fail2ban.actions, fail2ban.filter, ...), our pid, the
// level name, the message, and Python's trailing NUL. The journal gets MESSAGE (the message
// alone), PRIORITY, SYSLOG_IDENTIFIER=fail2ban and LOGGER=<logger name>.
//
// Node has no unix datagram sockets, so the datagram itself leaves through the addon
// (native/log/UnixDatagram.cc: one unconnected socket, sendto() per line, never blocking).

import * as fs from 'node:fs';
import * as os from 'node:os';
import { F2bError } from '../errors';
import { loadNative } from '../native';
import type { LogFormatter, LogRecord, LogTarget } from './logger';

/** `syslogsocket = auto`: the platform's socket, as fail2ban picks it. */
export function autoSyslogSocket(): string {
  switch (process.platform) {
    case 'darwin':
      return '/var/run/syslog';
    case 'freebsd':
      return '/var/run/log';
    default:
      return '/dev/log';
  }
}

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** Syslog facilities by the names fail2ban's `facility=` option takes (Python's LOG_*). */
export const FACILITIES: Readonly<Record<string, number>> = {
  KERN: 0,
  USER: 1,
  MAIL: 2,
  DAEMON: 3,
  AUTH: 4,
  SYSLOG: 5,
  LPR: 6,
  NEWS: 7,
  UUCP: 8,
  CRON: 9,
  AUTHPRIV: 10,
  FTP: 11,
  NTP: 12,
  SECURITY: 13,
  CONSOLE: 14,
  SOLCRON: 15,
  LOCAL0: 16,
  LOCAL1: 17,
  LOCAL2: 18,
  LOCAL3: 19,
  LOCAL4: 20,
  LOCAL5: 21,
  LOCAL6: 22,
  LOCAL7: 23,
};

/** The facility number of a `facility=` value, or undefined for a name syslog does not have. */
export function facilityOf(name: string): number | undefined {
  return FACILITIES[name.trim().toUpperCase()];
}

/**
 * Syslog severity of a log level: fail2ban's map for its named levels (CRITICAL 2, ERROR 3,
 * WARNING 4, NOTICE 5, INFO 6, DEBUG 7); a level in between takes the next named one above it,
 * as python-systemd's journal handler maps them. (fail2ban's syslog handler sends its unnamed
 * levels, TRACEDEBUG and HEAVYDEBUG included, as warnings; debug is what they are.)
 */
export function severityOf(level: number): number {
  if (level > 40) return 2;
  if (level > 30) return 3;
  if (level > 25) return 4;
  if (level > 20) return 5;
  if (level > 10) return 6;
  return 7;
}

type Sender = (path: string, data: Buffer) => number;

/** The addon's datagram sender (absent from an addon built before it existed). */
function nativeSender(): Sender {
  const send: Sender | undefined = loadNative().sendUnixDatagram;
  if (!send) {
    throw new F2bError('CONFIG_VALUE', 'this build of the f2b_native addon cannot send to unix datagram sockets (rebuild it: npx node-gyp rebuild)');
  }
  return send;
}

const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));
const { EAGAIN, EWOULDBLOCK, ENOBUFS } = os.constants.errno;

function errnoError(errno: number, path: string): Error {
  const name = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  const hint = errno === os.constants.errno.EPROTOTYPE ? ' (a stream socket: only datagram sockets are supported)' : '';
  return Object.assign(new Error(`${name}: cannot send to ${path}${hint}`), { code: name });
}

function assertSocket(path: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new F2bError('CONFIG_VALUE', `${what} ${path} does not exist or is not a socket`);
  }
  if (!st.isSocket()) throw new F2bError('CONFIG_VALUE', `${what} ${path} does not exist or is not a socket`);
}

/** Most datagrams held while the receiver's queue is full; later lines are lost (and counted). */
const MAX_QUEUED = 10_000;
const RETRY_MS = 20;

/**
 * Datagrams to one unix socket. A full receiver queue (EAGAIN: the syslog daemon is busy) holds
 * lines back, in order, and retries on a timer; any other failure (the socket gone while the
 * daemon restarts, ...) is returned for the sink to report, and the next line tries again.
 */
class DatagramSender {
  private readonly send: Sender = nativeSender();
  private readonly queue: Buffer[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    readonly path: string,
    /** failures found later, on the retry timer */
    private readonly onLateError: (e: Error) => void,
  ) {}

  write(data: Buffer): Error | null {
    if (this.queue.length) return this.hold(data);
    const errno = this.send(this.path, data);
    if (errno === 0) return null;
    if (errno === EAGAIN || errno === EWOULDBLOCK || errno === ENOBUFS) return this.hold(data);
    return errnoError(errno, this.path);
  }

  private hold(data: Buffer): Error | null {
    if (this.queue.length >= MAX_QUEUED) return new Error(`${this.path} accepts no more lines (${MAX_QUEUED} held back)`);
    this.queue.push(data);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), RETRY_MS);
      this.timer.unref();
    }
    return null;
  }

  /** Send what was held back; true when nothing is left. */
  flush(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length) {
      const errno = this.send(this.path, this.queue[0]);
      if (errno === EAGAIN || errno === EWOULDBLOCK || errno === ENOBUFS) {
        this.timer = setTimeout(() => this.flush(), RETRY_MS);
        this.timer.unref();
        return false;
      }
      this.queue.shift();
      if (errno !== 0) this.onLateError(errnoError(errno, this.path));
    }
    return true;
  }

  close(): void {
    if (!this.flush()) {
      const lost = this.queue.length;
      this.queue.length = 0;
      clearTimeout(this.timer);
      this.onLateError(new Error(`${this.path} was still busy at close: ${lost} lines not sent`));
    }
  }
}

/** A target that sends one datagram per record to a unix datagram socket. */
abstract class DatagramTarget implements LogTarget {
  abstract readonly kind: string;
  abstract readonly describe: string;
  protected readonly sender: DatagramSender;

  constructor(socket: string, what: string, onLateError: (e: Error) => void) {
    assertSocket(socket, what);
    this.sender = new DatagramSender(socket, onLateError);
  }

  /** The exact datagram of one record. */
  abstract datagram(rec: LogRecord): Buffer;

  write(rec: LogRecord): Error | null {
    return this.sender.write(this.datagram(rec));
  }

  reopen(): Error | null {
    this.sender.flush();
    return null;
  }

  close(): void {
    this.sender.close();
  }
}

/** SYSLOG[facility=..., format=..., padding=..., datetime=...] */
export class SyslogTarget extends DatagramTarget {
  readonly kind = 'SYSLOG';

  constructor(
    socket: string,
    private readonly facility: number,
    private readonly format: LogFormatter,
    onLateError: (e: Error) => void,
  ) {
    super(socket, 'syslog socket', onLateError);
  }

  get describe(): string {
    return `SYSLOG (${this.sender.path})`;
  }

  datagram(rec: LogRecord): Buffer {
    return Buffer.from(`<${this.facility * 8 + severityOf(rec.level)}>${this.format(rec)}\0`, 'utf8');
  }
}

/** SYSTEMD-JOURNAL: journald's native protocol (KEY=value lines, one entry per datagram). */
export class JournalTarget extends DatagramTarget {
  readonly kind = 'SYSTEMD-JOURNAL';
  readonly describe = 'SYSTEMD-JOURNAL';

  constructor(
    socket: string,
    /** SYSLOG_FACILITY, when the target names one */
    private readonly facility: number | undefined,
    onLateError: (e: Error) => void,
  ) {
    super(socket, "journald's socket", onLateError);
  }

  datagram(rec: LogRecord): Buffer {
    const parts: Buffer[] = [field('MESSAGE', rec.message), field('PRIORITY', String(severityOf(rec.level)))];
    parts.push(field('SYSLOG_IDENTIFIER', 'fail2ban'), field('LOGGER', rec.name));
    if (this.facility !== undefined) parts.push(field('SYSLOG_FACILITY', String(this.facility)));
    return Buffer.concat(parts);
  }
}

/** One journal field: `KEY=value\n`, or for a value holding a newline the binary form
 *  `KEY\n` + 64-bit little-endian length + value + `\n`. */
function field(key: string, value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  if (!v.includes(0x0a)) return Buffer.concat([Buffer.from(`${key}=`), v, Buffer.from('\n')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(v.length));
  return Buffer.concat([Buffer.from(`${key}\n`), len, v, Buffer.from('\n')]);
}
