// Running a firewall tool: an argv array (never a shell), the script on stdin, a time limit.
// Backends take a CommandRunner so that tests can count or fake the processes they start.

import { spawn } from 'node:child_process';
import { F2bError } from '../errors';

export interface CommandResult {
  /** exit code, or null when the process was killed by a signal */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv[0] with the rest as arguments and `input` on stdin. */
export type CommandRunner = (argv: readonly string[], input: string) => Promise<CommandResult>;

/**
 * The real runner. A command that outlives timeoutMs is killed (SIGKILL, by its pid) and
 * reported as FIREWALL_COMMAND; a program that is not installed is FIREWALL_UNAVAILABLE.
 */
export function spawnRunner(timeoutMs = 60_000): CommandRunner {
  return (argv, input) =>
    new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
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
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      // a command that exits before reading all of stdin must not crash us with EPIPE
      child.stdin.on('error', () => {});
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
      child.stdin.end(input);
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
