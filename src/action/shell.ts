// Running one action command as fail2ban runs it: `/bin/sh -c SCRIPT ARG0 ARG1 ...` (the args
// become $0, $1, ... : the values tags.ts keeps out of the script text), in a process group of
// its own so that a timeout reaches the command's children too: SIGTERM to the group, then,
// after a short grace, SIGKILL to it, as fail2ban does. Never throws: every outcome, including
// a shell that cannot be started, is a ShellResult.

import { spawn, type ChildProcess } from 'node:child_process';

export interface ShellResult {
  /** exit 0 within the time limit */
  ok: boolean;
  /** exit code; null when the shell was killed by a signal or never started */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the time limit passed and the group was killed */
  timedOut: boolean;
  /** the last `maxOutput` bytes of each stream */
  stdout: string;
  stderr: string;
  /** why the shell could not be started (E2BIG for an argument over 128 KiB, ...) */
  error?: string;
}

export interface ShellOptions {
  timeoutMs: number;
  /** between SIGTERM and SIGKILL (fail2ban sleeps 0.2 s) */
  killGraceMs?: number;
  /** bytes of stdout/stderr kept, from the end */
  maxOutput?: number;
  shell?: string;
}

/** How long the output pipes may stay open after the shell exited (a background child still
 *  holding them) before we stop reading; the child itself is left alone, as fail2ban does. */
const LINGER_MS = 500;

/** Keeps the tail of a stream within `max` bytes. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    if (this.size > 2 * this.max) {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all.subarray(all.length - this.max)];
      this.size = this.max;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

export function runShell(script: string, args: readonly string[], opts: ShellOptions): Promise<ShellResult> {
  const grace = opts.killGraceMs ?? 200;
  const max = opts.maxOutput ?? 64 * 1024;
  return new Promise<ShellResult>((resolve) => {
    const out = new Tail(max);
    const err = new Tail(max);
    let timedOut = false;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      // after a timeout nothing of the group may stay behind, even what ignored SIGTERM
      if (timedOut && child) killGroup(child, 'SIGKILL');
      child?.stdout?.destroy();
      child?.stderr?.destroy();
      const code = exit?.code ?? null;
      resolve({ ok: !timedOut && !error && code === 0, code, signal: exit?.signal ?? null, timedOut, stdout: out.text(), stderr: err.text(), error });
    };

    let child: ChildProcess | undefined;
    try {
      // detached: setsid(), so the command and its children form a group we can kill
      child = spawn(opts.shell ?? '/bin/sh', ['-c', script, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      finish(e instanceof Error ? e.message : String(e));
      return;
    }
    const proc = child;
    proc.stdout!.on('data', (b: Buffer) => out.push(b));
    proc.stderr!.on('data', (b: Buffer) => err.push(b));
    proc.on('error', (e) => {
      // the shell could not be started: no exit follows
      if (proc.pid === undefined) finish(e.message);
    });
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      timers.push(setTimeout(() => finish(), LINGER_MS));
    });
    proc.on('close', () => finish());
    timers.push(
      setTimeout(() => {
        if (exit) return;
        timedOut = true;
        killGroup(proc, 'SIGTERM');
        // always followed by SIGKILL: children that ignore SIGTERM, or outlive the shell, go too
        timers.push(setTimeout(() => killGroup(proc, 'SIGKILL'), grace));
      }, opts.timeoutMs),
    );
  });
}
