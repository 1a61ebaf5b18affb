// `f2b-fast run` as a real process for end-to-end tests: inside a network namespace (or, for
// --dry-run only, in the host's), its output collected, stopped by its PID.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Netns } from './netns';

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'bin/f2b-fast');

export interface Running {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

let daemons = 0;
/** Every daemon here keeps its state in memory and its control socket in the temp directory. */
export function isolated(args: string[]): string[] {
  const out = [...args];
  if (!out.includes('--db')) out.push('--db', ':memory:');
  if (!out.includes('--socket')) out.push('--socket', path.join(os.tmpdir(), `f2b-e2e-${process.pid}-${++daemons}.sock`));
  return out;
}

/** The socket isolated() chose (one in the temp directory named by this module), if any. */
function ownSocket(args: string[]): string | undefined {
  const i = args.indexOf('--socket');
  const sock = i >= 0 ? args[i + 1] : undefined;
  return sock && path.dirname(sock) === os.tmpdir() && path.basename(sock).startsWith(`f2b-e2e-${process.pid}-`) ? sock : undefined;
}

/** The process's output and exit; a socket of ours that a killed daemon left is removed then. */
function collect(child: ChildProcess, socket?: string): Running {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (socket) fs.rmSync(socket, { force: true });
      resolve(code);
    }),
  );
  return { child, output: () => out, exit };
}

/** `f2b-fast run ARGS` inside `ns` (with `env` added to its environment). */
export function startDaemon(ns: Netns, args: string[], env: Record<string, string> = {}): Running {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const full = isolated(args);
  return collect(ns.start([...(vars.length ? ['env', ...vars] : []), process.execPath, BIN, 'run', ...full]), ownSocket(full));
}

/** Dry-run touches no firewall, so it may run in the host namespace when netns is unavailable. */
export function startDaemonHost(args: string[]): Running {
  const full = isolated(args);
  return collect(spawn(process.execPath, [BIN, 'run', ...full], { stdio: ['ignore', 'pipe', 'pipe'] }), ownSocket(full));
}

/** SIGTERM, SIGKILL after 10 s; the exit code. */
export async function stopDaemon(d: Running): Promise<number | null> {
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  const code = await d.exit;
  clearTimeout(timer);
  return code;
}

/** Whether the nftables table `table` in `ns` holds `ip` in one of its sets. */
export async function nftHas(ns: Netns, table: string, ip: string): Promise<boolean> {
  const r = await ns.exec(['nft', 'list', 'table', 'inet', table]);
  return r.code === 0 && new RegExp(`[{ ,]${ip.replace(/\./g, '\\.')}[ ,}]`).test(r.stdout);
}
