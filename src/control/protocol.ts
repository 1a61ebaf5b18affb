// The control socket's wire format: newline-delimited JSON over a unix stream socket.
//
//   request  {"id":1,"cmd":["status","sshd"]}
//   reply    {"id":1,"ok":true,"result":[["Filter",[...]],["Actions",[...]]]}
//            {"id":1,"ok":false,"error":{"code":"UNKNOWN_JAIL","message":"...","jail":"nojail"}}
//
// `cmd` is the command list fail2ban-client hands fail2ban-server (fail2ban pickles it; we do not:
// nothing of Python crosses this socket). Results are the JSON analogue of fail2ban's Python
// results, so that src/control/format.ts can print them as fail2ban-client does. One connection
// carries any number of requests; they are answered one at a time, in order. A line that is not
// a request gets an error reply with id null and the connection stays open (the framing is still
// intact); a line longer than MAX_REQUEST_BYTES gets a TOO_LARGE reply and the connection is
// closed (the rest of that line cannot be told from the next request).

import { F2bError } from '../errors';

export const MAX_REQUEST_BYTES = 1024 * 1024;
/** What a client accepts in one reply line (a ban list of a large jail is long, not unbounded). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export interface Request {
  id: number;
  cmd: string[];
}

export type ReplyErrorCode =
  /** the line is not JSON */
  | 'INVALID_JSON'
  /** JSON, but not {id: number, cmd: string[]} */
  | 'INVALID_REQUEST'
  /** a request line longer than MAX_REQUEST_BYTES; the connection is closed after the reply */
  | 'TOO_LARGE'
  /** too many connections at once; the connection is closed after the reply */
  | 'BUSY'
  /** no such command ("Invalid command", as fail2ban) */
  | 'INVALID_COMMAND'
  /** a command that lacks an argument (fail2ban: "Sorry but the command is invalid") */
  | 'INVALID_ARGS'
  | 'UNKNOWN_JAIL'
  /** a fail2ban command f2b-fast does not implement; the message names it */
  | 'UNSUPPORTED'
  /** an argument that is not a valid value (a number, a time, a log level, ...) */
  | 'INVALID_VALUE'
  /** anything else that went wrong while running the command */
  | 'FAILED';

export interface ReplyError {
  /** a ReplyErrorCode, or the code of the F2bError the daemon threw (e.g. CONFIG_VALUE) */
  code: string;
  /** what fail2ban-client prints for the error */
  message: string;
  /** the jail of an UNKNOWN_JAIL error */
  jail?: string;
}

export type Reply = { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: ReplyError };

/** An error a command answers with; the daemon (ControlTarget) throws it too. */
export class CommandError extends F2bError {
  constructor(
    readonly reply: ReplyErrorCode,
    message: string,
    jail?: string,
  ) {
    super('CONTROL', message, { jail });
  }
}

export const unknownJail = (jail: string) => new CommandError('UNKNOWN_JAIL', `Sorry but the jail '${jail}' does not exist`, jail);

/** The reply error for anything a command threw. */
export function replyError(e: unknown): ReplyError {
  if (e instanceof CommandError) {
    const err: ReplyError = { code: e.reply, message: e.message };
    if (e.reply === 'UNKNOWN_JAIL' && e.jail !== undefined) err.jail = e.jail;
    return err;
  }
  if (e instanceof F2bError) return { code: e.code, message: e.describe() };
  return { code: 'FAILED', message: e instanceof Error ? e.message : String(e) };
}

export function encodeRequest(req: Request): string {
  return `${JSON.stringify(req)}\n`;
}

export function encodeReply(reply: Reply): string {
  return `${JSON.stringify(reply)}\n`;
}

/** Parse one request line; a CommandError (INVALID_JSON / INVALID_REQUEST) when it is not one. */
export function parseRequest(line: string): Request {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new CommandError('INVALID_JSON', `request is not JSON: ${(e as Error).message}`);
  }
  const o = v as { id?: unknown; cmd?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new CommandError('INVALID_REQUEST', 'request must be an object {"id": number, "cmd": [string, ...]}');
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id)) throw new CommandError('INVALID_REQUEST', 'request "id" must be an integer');
  if (!Array.isArray(o.cmd) || o.cmd.length === 0 || !o.cmd.every((c) => typeof c === 'string')) {
    throw new CommandError('INVALID_REQUEST', 'request "cmd" must be a non-empty list of strings');
  }
  return { id: o.id, cmd: o.cmd as string[] };
}

/** Parse one reply line (client side); throws F2bError(CONTROL) when it is not one. */
export function parseReply(line: string): Reply {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new F2bError('CONTROL', `the server sent a reply that is not JSON: ${line.slice(0, 200)}`);
  }
  const o = v as Partial<{ id: unknown; ok: unknown; result: unknown; error: { code?: unknown; message?: unknown } }> | null;
  const idOk = o !== null && typeof o === 'object' && (o.id === null || typeof o.id === 'number');
  if (idOk && o.ok === true) return { id: o.id as number | null, ok: true, result: o.result ?? null };
  if (idOk && o.ok === false && typeof o.error?.code === 'string' && typeof o.error.message === 'string') {
    return { id: o.id as number | null, ok: false, error: o.error as ReplyError };
  }
  throw new F2bError('CONTROL', `the server sent a malformed reply: ${line.slice(0, 200)}`);
}

/**
 * Cuts a byte stream into lines, holding at most `max` bytes of an unfinished line. push()
 * returns the complete lines; `overflow` turns true (and stays) once a line exceeds `max`.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  overflow = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    if (this.overflow) return lines;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.held + nl - start > this.max) {
        this.overflow = true;
        return lines;
      }
      this.parts.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.held = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.held += chunk.length - start;
      if (this.held > this.max) {
        this.overflow = true;
        this.parts = [];
        return lines;
      }
      this.parts.push(chunk.subarray(start));
    }
    return lines;
  }
}
