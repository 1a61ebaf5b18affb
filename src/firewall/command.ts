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
  if (r.code !== 0) throw new F2bError('FIREWALL_UNAVAILABLE', `${unavailable} (${(r.stderr || r.stdout).trim().split('\n').slice(0, 3).join(' / ')})`);
  return r.stdout.trim();
}
