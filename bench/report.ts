// What every benchmark scenario hands to the suite (bench/suite.ts): one ScenarioReport, written
// as JSON to the file named by `--json FILE`. A scenario script stays runnable on its own (it
// prints its own lines too); the suite runs each in a fresh process and reads this file.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** One figure of one tool: the median of its runs, with the spread. */
export interface Row {
  /** f2b-fast, fail2ban-regex, fail2ban-server, sshguard, grep, ... */
  tool: string;
  /** what is measured: "wall", "lines/s", "p50 latency", "RSS", ... */
  metric: string;
  unit: string;
  /** null: the tool ran but gave no figure (see note) */
  median: number | null;
  min: number | null;
  max: number | null;
  runs: number;
  /** lower is better (times, memory) or higher (throughput) */
  better: 'lower' | 'higher';
  /** the true figure is at least this (a tool that did not finish: the part that did) */
  atLeast?: boolean;
  note?: string;
}

export interface ScenarioReport {
  /** scan, latency, burst, restart, memory, catchup */
  scenario: string;
  /** one line: what was run, on what */
  title: string;
  params: Record<string, unknown>;
  rows: Row[];
  /** the correctness check behind the figures (same bans or failures as the ground truth) */
  check: { ok: boolean; detail: string };
  /** rivals that were not run, and why (not installed, ...) */
  missing: { tool: string; reason: string }[];
  /** the scenario's own detail (samples, per-run records) */
  raw?: unknown;
}

export function summarize(values: number[]): { median: number | null; min: number | null; max: number | null; runs: number } {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { median: null, min: null, max: null, runs: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], runs: v.length };
}

/** A row from the samples of one tool and metric. */
export function row(tool: string, metric: string, unit: string, better: Row['better'], samples: number[], note?: string): Row {
  return { tool, metric, unit, better, ...summarize(samples), ...(note ? { note } : {}) };
}

/** The p-th percentile (0-100) of values, nearest rank; NaN when empty. */
export function percentile(values: number[], p: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

/** An option's whole-number value in lo..hi; anything else goes to `usage` (which exits). */
export function intOption(v: string | undefined, name: string, lo: number, hi: number, usage: (msg: string) => never): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) usage(`${name} must be an integer in ${lo}..${hi}`);
  return n;
}

/** `--json FILE` from argv, if given. */
export function jsonArg(argv: string[] = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf('--json');
  return i >= 0 ? argv[i + 1] : undefined;
}

export function writeReport(file: string | undefined, r: ScenarioReport): void {
  if (!file) return;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
}

export function sh(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : null;
}

/** The full path of `cmd` on PATH (or in the sbin directories rivals live in), or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** VmRSS and VmHWM of a process, bytes (null once it is gone). */
export function procMem(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** The machine and the versions a result was measured with. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  const gitRev = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    ramGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg(),
    versions: {
      node: process.version,
      'f2b-fast': `${pkg.version}${gitRev ? ` (${gitRev}${dirty ? ', dirty tree' : ''})` : ''}`,
      fail2ban: sh('fail2ban-regex', ['-V']),
      sshguard: which('sshguard') ? (sh('sshguard', ['-v']) ?? 'installed') : null,
      nft: sh('nft', ['--version']),
      python: sh('python3', ['--version']),
      grep: sh('grep', ['--version'])?.split('\n')[0] ?? null,
    },
  };
}
