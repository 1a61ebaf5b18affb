// Running a firewall tool: an argv array (never a shell), the script on stdin (a pipe, or an
// unlinked file when it is large), a time limit.
// Backends take a CommandRunner so that tests can count or fake the processes they start.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { F2bError } from '../errors';

export interface CommandResult {
  /** exit code, or null when the process was killed by a signal */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv[0] with the rest as arguments and `input` on stdin. */
export type CommandRunner = (argv: readonly string[], input: string) => Promise<CommandResult>;

/** Input up to this size goes through a pipe; more through an unlinked file (inputFile). */
const PIPE_INPUT_MAX = 64 * 1024;

/**
 * A large script (100,000 bans: 4 MB) as a file descriptor the command reads as stdin: a
 * file created in the temp directory (0600, a random name, never an existing one), unlinked
 * at once, written without moving its offset. Through a pipe the script trickles in 64 KB at
 * a time, one turn of our event loop each, and the command waits whenever the main thread is
 * busy (a restart restoring the next page of bans); a file it reads at its own pace. Null when
 * the file cannot be made (the temp directory full or read-only): the pipe then.
 */
function inputFile(input: string): number | null {
  let fd: number;
  const file = path.join(os.tmpdir(), `.f2b-fast-input-${process.pid}-${randomBytes(8).toString('hex')}`);
  try {
    const { O_CREAT, O_EXCL, O_RDWR, O_NOFOLLOW } = fs.constants;
    fd = fs.openSync(file, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW, 0o600);
  } catch {
    return null;
  }
  try {
    fs.unlinkSync(file);
    const buf = Buffer.from(input, 'utf8');
    // positional writes: the offset the command starts reading at stays 0
    for (let at = 0; at < buf.length; ) at += fs.writeSync(fd, buf, at, buf.length - at, at);
    return fd;
  } catch {
    fs.closeSync(fd);
    try {
      fs.unlinkSync(file);
    } catch {
      // unlinked already
    }
    return null;
  }
}

/**
 * The real runner. A command that outlives timeoutMs is killed (SIGKILL, by its pid) and
 * reported as FIREWALL_COMMAND; a program that is not installed is FIREWALL_UNAVAILABLE.
 */
export function spawnRunner(timeoutMs = 60_000): CommandRunner {
  return (argv, input) =>
    new Promise<CommandResult>((resolve, reject) => {
      const fd = input.length > PIPE_INPUT_MAX ? inputFile(input) : null;
      let child;
      try {
        child = spawn(argv[0], argv.slice(1), { stdio: [fd ?? 'pipe', 'pipe', 'pipe'] });
      } finally {
        // the command holds its own copy of the descriptor
        if (fd !== null) fs.closeSync(fd);
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        } catch {
          // it exited meanwhile
        }
      }, timeoutMs);
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      // a command that exits before reading all of stdin must not crash us with EPIPE
      child.stdin?.on('error', () => {});
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          e.code === 'ENOENT'
            ? new F2bError('FIREWALL_UNAVAILABLE', `${argv[0]} is not installed (${e.message})`)
            : new F2bError('FIREWALL_COMMAND', `cannot run ${argv[0]}: ${e.message}`),
        );
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(new F2bError('FIREWALL_COMMAND', `${argv.join(' ')} did not finish within ${timeoutMs} ms and was killed`));
          return;
        }
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin?.end(input);
    });
}

/**
 * Runs a backend's probe command (`nft --version`, `pfctl -s info`, ...): its stdout, or
 * F2bError('FIREWALL_UNAVAILABLE') with `unavailable` (what to install) and what went wrong.
 */
export async function probeTool(run: CommandRunner, argv: readonly string[], unavailable: string): Promise<string> {
  let r: CommandResult;
  try {
    r = await run(argv, '');
  } catch (e) {
    throw new F2bError('FIREWALL_UNAVAILABLE', `${unavailable} (${(e as Error).message})`);
  }
  if (r.code !== 0) throw new F2bError('FIREWALL_UNAVAILABLE', `${unavailable} (${firstLines(r)})`);
  return r.stdout.trim();
}

/** What a failed command said, on one line: its first lines of stderr (else stdout). */
export function firstLines(r: CommandResult): string {
  const text = (r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ');
  return text || `exit code ${r.code}`;
}

/** The first ten of a list of problems, and how many more. */
export function summary(items: string[]): string {
  return items.slice(0, 10).join('; ') + (items.length > 10 ? `; and ${items.length - 10} more` : '');
}

/** A backend's commands one at a time, in call order: a failed one does not stop the next. */
export class Serial {
  private queue: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }
}
