// The daemon's end of the control socket: a unix stream socket, mode 0600, owned by the user the
// daemon runs as (root), speaking src/control/protocol.ts. Requests go to a CommandHandler (the
// Transmitter); each connection's requests are answered in order, one at a time.
//
// The socket file is created with the process umask set to 077 around listen(): for a path,
// Node binds synchronously inside listen(), so the file never exists with wider permissions,
// and the umask is back before any other code runs. chmod 0600 afterwards makes the mode exact
// whatever the umask was. (Binding in a private 0700 directory and renaming would do as well,
// but needs a longer path, and socket paths are limited to 107 bytes.)

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { F2bError } from '../errors';
import type { Logger } from '../log/logger';
import { CommandError, LineSplitter, MAX_REQUEST_BYTES, encodeReply, parseRequest, replyError, type Reply } from './protocol';

export interface CommandHandler {
  handle(cmd: string[]): Promise<unknown>;
}

export interface ControlServerOptions {
  /** connections served at once; one more is answered BUSY and closed (default 16) */
  maxConnections?: number;
  /** a connection with no request in progress is closed after this long (default 60 s) */
  idleTimeoutMs?: number;
  /** how long close() lets a request in progress finish before cutting it off (default 2 s) */
  closeGraceMs?: number;
}

/** What is at a socket path: a server that answers, a socket file nobody listens on, nothing. */
export async function probeSocket(socketPath: string, timeoutMs = 1000): Promise<'live' | 'stale' | 'missing'> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      // it accepted nothing in time, but something holds the path: treat it as alive
      resolve('live');
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('live');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ECONNREFUSED') resolve('stale');
      else if (e.code === 'ENOENT') resolve('missing');
      else reject(new F2bError('CONTROL', `cannot probe control socket ${socketPath}: ${e.message}`));
    });
  });
}

/** Send a last reply and close, whatever the peer still sends (unread input must not keep the
 *  socket open). */
function hangUp(sock: net.Socket, reply: Reply): void {
  if (sock.destroyed) return;
  sock.end(encodeReply(reply));
  sock.once('finish', () => sock.destroy());
}

class Connection {
  private readonly lines = new LineSplitter(MAX_REQUEST_BYTES);
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private closing = false;

  constructor(
    readonly sock: net.Socket,
    private readonly handler: CommandHandler,
    private readonly log: Logger,
    idleTimeoutMs: number,
  ) {
    sock.setTimeout(idleTimeoutMs, () => {
      if (this.pending === 0) sock.end();
    });
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (e) => {
      this.log.debug(`control connection: ${e.message}`);
      sock.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    for (const line of this.lines.push(chunk)) {
      if (line.trim() === '') continue;
      this.enqueue(line);
    }
    if (this.lines.overflow) {
      // the rest of that line cannot be told from the next request: answer and hang up
      this.sock.removeAllListeners('data');
      this.sock.pause();
      const reply: Reply = { id: null, ok: false, error: { code: 'TOO_LARGE', message: `request longer than ${MAX_REQUEST_BYTES} bytes` } };
      this.chain = this.chain.then(() => this.hangUp(reply));
    }
  }

  private enqueue(line: string): void {
    this.pending++;
    this.chain = this.chain.then(async () => {
      const reply = await this.answer(line);
      this.pending--;
      this.write(reply);
      if (this.closing && this.pending === 0) this.sock.end();
    });
  }

  private async answer(line: string): Promise<Reply> {
    let id: number | null = null;
    try {
      const req = parseRequest(line);
      id = req.id;
      this.log.debug(`control command ${JSON.stringify(req.cmd)}`);
      try {
        const result = await this.handler.handle(req.cmd);
        // a result JSON cannot hold is our bug: report it as an error, not a broken reply
        JSON.stringify(result);
        return { id, ok: true, result: result ?? null };
      } catch (e) {
        if (e instanceof F2bError) this.log.error(`Command ${JSON.stringify(req.cmd)} has failed: ${e.message}`);
        else this.log.error(`Command ${JSON.stringify(req.cmd)} has failed: ${(e as Error)?.stack ?? e}`);
        return { id, ok: false, error: replyError(e) };
      }
    } catch (e) {
      // not a request (CommandError from parseRequest)
      return { id, ok: false, error: replyError(e instanceof CommandError ? e : new CommandError('INVALID_REQUEST', String(e))) };
    }
  }

  private write(reply: Reply): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(encodeReply(reply));
  }

  private hangUp(reply: Reply): void {
    hangUp(this.sock, reply);
  }

  /** Server closing: end now if idle, else after the requests in progress are answered. */
  shutdown(): void {
    this.closing = true;
    if (this.pending === 0) this.sock.end();
  }
}

export class ControlServer {
  private readonly conns = new Set<Connection>();
  private closed = false;

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    private readonly opts: Required<ControlServerOptions>,
    /** the socket file's identity, so that close() never removes a successor's socket */
    private readonly file: { dev: number; ino: number },
  ) {}

  /**
   * Listen on `socketPath`: its directory is created (0755) when missing; a live server there is
   * an F2bError('CONTROL'); a stale socket file (nobody listening) is replaced; anything else at
   * the path is refused.
   */
  static async listen(socketPath: string, handler: CommandHandler, log: Logger, options: ControlServerOptions = {}): Promise<ControlServer> {
    const opts: Required<ControlServerOptions> = { maxConnections: 16, idleTimeoutMs: 60_000, closeGraceMs: 2_000, ...options };
    const dir = path.dirname(socketPath);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      fs.chmodSync(dir, 0o755);
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(socketPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new F2bError('CONTROL', `control socket ${socketPath}: ${(e as Error).message}`);
    }
    if (st && !st.isSocket()) throw new F2bError('CONTROL', `${socketPath} exists and is not a socket: refusing to replace it (check fail2ban.conf's socket)`);
    if (st) {
      const state = await probeSocket(socketPath);
      if (state === 'live') throw new F2bError('CONTROL', `a server is already listening on ${socketPath} (is f2b-fast or fail2ban running?)`);
      if (state === 'stale') {
        log.info(`Removing stale control socket ${socketPath}`);
        fs.rmSync(socketPath, { force: true });
      }
    }

    let self: ControlServer | undefined;
    const server = net.createServer((sock) => self?.accept(sock, handler, log));
    const previous = process.umask(0o077);
    try {
      server.listen(socketPath);
    } finally {
      process.umask(previous);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'another server took the path first' : e.message;
        reject(new F2bError('CONTROL', `cannot listen on ${socketPath}: ${why}`));
      });
    });
    fs.chmodSync(socketPath, 0o600);
    const { dev, ino } = fs.statSync(socketPath);
    server.on('error', (e) => log.error(`control socket ${socketPath}: ${e.message}`));
    self = new ControlServer(socketPath, server, opts, { dev, ino });
    log.debug(`Control socket listening on ${socketPath}`);
    return self;
  }

  private accept(sock: net.Socket, handler: CommandHandler, log: Logger): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    if (this.conns.size >= this.opts.maxConnections) {
      log.warn(`control socket: more than ${this.opts.maxConnections} connections at once, refusing one`);
      sock.on('error', () => sock.destroy());
      hangUp(sock, { id: null, ok: false, error: { code: 'BUSY', message: 'too many control connections at once, try again' } });
      return;
    }
    const conn = new Connection(sock, handler, log, this.opts.idleTimeoutMs);
    this.conns.add(conn);
    sock.once('close', () => this.conns.delete(conn));
  }

  /** Stop listening and remove the socket file; requests in progress get closeGraceMs to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) c.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.closeGraceMs);
    });
    if ((await Promise.race([done, grace])) === 'timeout') {
      for (const c of this.conns) c.sock.destroy();
      await done;
    }
    clearTimeout(timer);
    // libuv unlinks the path when the listener closes; make sure of it, but only if the file is
    // still ours (a new daemon may already listen there during a restart)
    try {
      const st = fs.lstatSync(this.socketPath);
      if (st.dev === this.file.dev && st.ino === this.file.ino) fs.rmSync(this.socketPath, { force: true });
    } catch {
      // gone already
    }
  }
}
