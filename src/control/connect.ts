// The client's end of the control socket: connect, send commands, read the replies
// (src/control/protocol.ts). Socket failures are SocketErrors; socketErrorMessage words them as
// fail2ban-client does, so operators see the messages they know.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { F2bError } from '../errors';
import { LineSplitter, MAX_REPLY_BYTES, encodeRequest, parseReply, type Reply } from './protocol';

/** A failure of the socket itself (not an error reply): the server is not there, not ours to
 *  reach, too slow, or went away. */
export class SocketError extends F2bError {
  constructor(
    /** ENOENT, ECONNREFUSED, EACCES, ETIMEDOUT, ECONNRESET, ... */
    readonly errno: string,
    readonly socketPath: string,
  ) {
    super('CONTROL', `${socketPath}: ${pythonErrorText(errno)}`);
  }
}

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ECONNREFUSED: 'Connection refused',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTDIR: 'Not a directory',
  EAGAIN: 'Resource temporarily unavailable',
};

/** How Python prints the socket error: "[Errno 111] Connection refused", or "timed out". */
function pythonErrorText(errno: string): string {
  if (errno === 'ETIMEDOUT') return 'timed out';
  const n = (os.constants.errno as Record<string, number>)[errno];
  const text = STRERROR[errno] ?? errno;
  return n === undefined ? text : `[Errno ${n}] ${text}`;
}

/**
 * What fail2ban-client logs when the socket fails: a missing path, a path the user may not write
 * (not root), or a socket nobody answers on. For `ping` (errorOnly) only the error itself.
 */
export function socketErrorMessage(e: SocketError, errorOnly = false): string {
  const p = e.socketPath;
  if (!fs.existsSync(p)) return `Failed to access socket path: ${p}. Is f2b-fast running?`;
  try {
    fs.accessSync(p, fs.constants.W_OK);
  } catch {
    return `Permission denied to socket: ${p}, (you must be root)`;
  }
  if (e.errno === 'EACCES' || e.errno === 'EPERM') return `Permission denied to socket: ${p}, (you must be root)`;
  const err = pythonErrorText(e.errno);
  return errorOnly ? err : `[${err}] Unable to contact server. Is it running?`;
}

/** One connection to the control socket; requests are answered in the order they are sent. */
export class ControlConnection {
  private readonly lines = new LineSplitter(MAX_REPLY_BYTES);
  private readonly waiting: { id: number; resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private nextId = 1;
  private failure?: SocketError | F2bError;

  private constructor(
    private readonly sock: net.Socket,
    readonly socketPath: string,
  ) {
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (e: NodeJS.ErrnoException) => this.fail(new SocketError(e.code ?? 'EIO', socketPath)));
    // the server hung up before answering: fail2ban-client reports it as a reset connection
    sock.on('close', () => this.fail(new SocketError('ECONNRESET', socketPath)));
  }

  /** Connect within `timeoutMs`; rejects with a SocketError. */
  static open(socketPath: string, timeoutMs: number): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new SocketError('ETIMEDOUT', socketPath));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new ControlConnection(sock, socketPath));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SocketError(e.code ?? 'EIO', socketPath));
      });
    });
  }

  /** Send one command; resolves with the reply (ok or error), rejects with a SocketError when
   *  no reply comes within `timeoutMs` or the connection fails. */
  request(cmd: string[], timeoutMs: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SocketError('ETIMEDOUT', this.socketPath));
      }, timeoutMs);
      this.waiting.push({ id, resolve, reject, timer });
      this.sock.write(encodeRequest({ id, cmd }));
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroySoon();
  }

  private onData(chunk: Buffer): void {
    for (const line of this.lines.push(chunk)) {
      if (line.trim() === '') continue;
      let reply: Reply;
      try {
        reply = parseReply(line);
      } catch (e) {
        this.fail(e as F2bError);
        return;
      }
      // replies come in request order; an id null reply (BUSY, TOO_LARGE) answers the oldest
      const w = this.waiting.shift();
      if (!w) continue;
      clearTimeout(w.timer);
      w.resolve(reply);
    }
    if (this.lines.overflow) this.fail(new F2bError('CONTROL', `reply longer than ${MAX_REPLY_BYTES} bytes`));
  }

  private fail(e: SocketError | F2bError): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
    this.sock.destroy();
  }
}

/** Connect, send one command, close: what one fail2ban-client call does. */
export async function sendCommand(socketPath: string, cmd: string[], timeoutMs: number): Promise<Reply> {
  const conn = await ControlConnection.open(socketPath, timeoutMs);
  try {
    return await conn.request(cmd, timeoutMs);
  } finally {
    conn.close();
  }
}
