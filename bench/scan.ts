// Scenario "scan": how fast is one pass over a log file, next to fail2ban-regex and grep, and
// does f2b-fast find exactly the failures fail2ban does.
//
//   node dist/bench/scan.js [--quick] [--lines N] [--runs K] [--kind sshd|nginx|nginx-error|all]
//                           [--f2b-runs K] [--seed S] [--timeout S] [--max-minutes M]
//
// Every sample is a fresh child process under /usr/bin/time; samples of the rivals are
// interleaved (run 1 of each, then run 2, ...) so drift on the machine hits all alike.
// Exit: 0 ok; 1 a correctness mismatch; 2 bad usage; 3 a rival failed or a time bound was hit.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FILTER, generate, Kind, KINDS, Truth } from './generate';
import { intOption, machine, ROOT, row, which, writeReport, type Row } from './report';

const BIN = path.join(ROOT, 'bin/f2b-fast');
const RESULTS = path.join(ROOT, 'bench/results');

/**
 * The filters' fixed strings, by hand, for the grep baseline: what a person would grep for.
 * Wider than the filters (grep also counts pam_unix notices, the "PAM n more" line, sudo's auth
 * failure, and any 404-less hit on a bot path), so its count is a speed baseline, not an answer.
 */
export const GREP: Record<Kind, string> = {
  sshd: 'Failed |Invalid user|Illegal user|illegal user|authentication failure|Authentication failure|maximum authentication|Too many authentication|not allowed because|ROOT LOGIN REFUSED|User not known|Auth fail|refused connect',
  nginx: 'roundcube|webmail|horde|/mail|/extmail|pma|[Mm]y[Aa]dmin|wp-login\\.php|wp-signup\\.php|wp-admin\\.php|cgi-bin|mysqladmin',
  'nginx-error': 'password mismatch|was not found in',
};

interface Opts {
  lines: number;
  runs: number;
  f2bRuns: number;
  kinds: Kind[];
  seed: number;
  timeoutS: number;
  maxMinutes: number;
  quick: boolean;
  /** write a ScenarioReport (bench/report.ts) for the suite here */
  json?: string;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`scan: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/scan.js [--quick] [--lines N] [--runs K] [--kind sshd|nginx|nginx-error|all] [--f2b-runs K] [--seed S] [--timeout SECONDS] [--max-minutes M] [--json FILE]\n');
  process.exit(2);
}

function parseOpts(argv: string[]): Opts {
  const quick = argv.includes('--quick');
  const o: Opts = { lines: quick ? 50_000 : 1_000_000, runs: quick ? 1 : 3, f2bRuns: -1, kinds: [...KINDS], seed: 42, timeoutS: 1800, maxMinutes: 180, quick };
  const int = (v: string | undefined, name: string, lo: number, hi: number): number => intOption(v, name, lo, hi, usage);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--quick': break;
      case '--lines': o.lines = int(argv[++i], a, 1, 50_000_000); break;
      case '--runs': o.runs = int(argv[++i], a, 1, 50); break;
      case '--f2b-runs': o.f2bRuns = int(argv[++i], a, 0, 50); break;
      case '--seed': o.seed = int(argv[++i], a, 0, 0xffffffff); break;
      case '--timeout': o.timeoutS = int(argv[++i], a, 1, 86_400); break;
      case '--max-minutes': o.maxMinutes = int(argv[++i], a, 1, 24 * 60); break;
      case '--json': o.json = argv[++i] ?? usage('--json needs a file'); break;
      case '--kind': {
        const k = argv[++i];
        if (k === 'all') o.kinds = [...KINDS];
        else if (KINDS.includes(k as Kind)) o.kinds = [k as Kind];
        else usage(`--kind must be ${KINDS.join(', ')} or all`);
        break;
      }
      case '-h': case '--help': usage();
      default: usage(`unknown argument ${a}`);
    }
  }
  if (o.f2bRuns < 0) o.f2bRuns = o.runs;
  return o;
}

interface Sample {
  wallS: number;
  userS: number | null;
  sysS: number | null;
  maxRssKB: number | null;
  exit: number | null;
  signal: string | null;
}

interface Rival {
  id: string;
  tool: 'f2b-fast' | 'fail2ban-regex' | 'grep';
  mode: string;
  argv: string[];
  env?: Record<string, string>;
  runs: number;
  okExit: number[];
  samples: Sample[];
  /** stdout of the first sample, kept for the checks */
  stdoutFile: string;
  missing?: string;
}

/** One sample: `argv` in a fresh process group under /usr/bin/time, killed (whole group) at the timeout. */
function runOnce(r: Rival, work: string, timeoutS: number, first: boolean): Promise<Sample> {
  const timeFile = path.join(work, `${r.id}.time`);
  const out = first ? r.stdoutFile : path.join(work, `${r.id}.out.tmp`);
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(path.join(work, `${r.id}.err`), 'w');
  try { fs.unlinkSync(timeFile); } catch { /* absent */ }
  const argv = ['-f', '%e %U %S %M', '-o', timeFile, '--', ...r.argv];
  const t0 = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', argv, { stdio: ['ignore', outFd, errFd], detached: true, env: { ...process.env, ...r.env } });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutS * 1000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      let userS: number | null = null, sysS: number | null = null, maxRssKB: number | null = null;
      let exit = code;
      try {
        // GNU time writes "Command exited with non-zero status N" before the format line
        const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
        const st = /non-zero status (\d+)/.exec(lines.join('\n'));
        if (st) exit = Number(st[1]);
        const f = lines[lines.length - 1].split(' ').map(Number);
        if (f.length === 4 && f.every(Number.isFinite)) [, userS, sysS, maxRssKB] = f;
      } catch { /* killed before time wrote */ }
      resolve({ wallS, userS, sysS, maxRssKB, exit, signal });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Stats { runs: number; wall: { median: number; min: number; max: number }; cpuS: number | null; maxRssMB: number | null; linesPerS: number; mbPerS: number }

function stats(r: Rival, truth: Truth): Stats | null {
  const ok = r.samples.filter((s) => s.exit !== null && r.okExit.includes(s.exit));
  if (ok.length === 0) return null;
  const walls = ok.map((s) => s.wallS);
  const w = median(walls);
  const cpus = ok.filter((s) => s.userS !== null).map((s) => s.userS! + s.sysS!);
  const rss = ok.filter((s) => s.maxRssKB !== null).map((s) => s.maxRssKB! / 1024);
  return {
    runs: ok.length,
    wall: { median: w, min: Math.min(...walls), max: Math.max(...walls) },
    cpuS: cpus.length ? median(cpus) : null,
    maxRssMB: rss.length ? median(rss) : null,
    linesPerS: truth.lines / w,
    mbPerS: truth.bytes / 1e6 / w,
  };
}

function countMap(ips: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const ip of ips) m.set(ip, (m.get(ip) ?? 0) + 1);
  return m;
}

function* fastIps(file: string): Generator<string> {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"match":true')) continue;
    const o = JSON.parse(line) as { ip?: string };
    if (typeof o.ip === 'string') yield o.ip;
  }
}

function* lineIps(file: string): Generator<string> {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (line.trim()) yield line.trim();
}

/** Compare address -> count maps; returns printable differences (empty when equal). */
function diff(named: [string, Map<string, number>][]): string[] {
  const keys = new Set<string>();
  for (const [, m] of named) for (const k of m.keys()) keys.add(k);
  const out: string[] = [];
  for (const k of [...keys].sort()) {
    const vals = named.map(([, m]) => m.get(k) ?? 0);
    if (vals.some((v) => v !== vals[0])) out.push(`  ${k.padEnd(40)} ${named.map(([n], i) => `${n}=${vals[i]}`).join('  ')}`);
  }
  return out;
}

function summaryCounts(file: string): string | null {
  try {
    const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(fs.readFileSync(file, 'utf8'));
    return m ? `${m[3]} matched, ${m[2]} ignored, ${m[4]} missed` : null;
  } catch { return null; }
}

function loud(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stdout.write(`\n${bar}\n${lines.join('\n')}\n${bar}\n\n`);
}

const fmt = (n: number | null | undefined, d = 2) => (n === null || n === undefined ? '-' : n.toFixed(d));
const big = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

async function main(): Promise<number> {
  const o = parseOpts(process.argv.slice(2));
  const deadline = Date.now() + o.maxMinutes * 60_000;
  if (!fs.existsSync('/usr/bin/time')) usage('/usr/bin/time (GNU time) is required to measure CPU and RSS');
  const f2bRegex = which('fail2ban-regex');
  const config = fs.existsSync('/etc/fail2ban/filter.d') ? '/etc/fail2ban' : path.join(ROOT, 'filters');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-bench-scan-'));
  const started = new Date();
  const report: Record<string, unknown>[] = [];
  const table: string[] = [];
  const ratios: string[] = [];
  const rows: Row[] = [];
  const checks: string[] = [];
  let status = 0;
  process.stdout.write(`scan: ${o.lines} lines, ${o.runs} run(s) (fail2ban-regex: ${o.f2bRuns}), seed ${o.seed}, filters from ${config}, work dir ${work}\n`);
  if (!f2bRegex) process.stdout.write('scan: fail2ban-regex is NOT installed: its columns are reported as missing\n');

  try {
    for (const kind of o.kinds) {
      const log = path.join(work, `${kind}.log`);
      const g0 = Date.now();
      const truth = generate(kind, o.lines, o.seed, log);
      process.stdout.write(`[${kind}] generated ${truth.lines} lines, ${(truth.bytes / 1e6).toFixed(1)} MB, ${truth.failures} failures from ${Object.keys(truth.addresses).length} addresses in ${((Date.now() - g0) / 1000).toFixed(1)} s\n`);
      const filter = FILTER[kind];
      const node = process.execPath;
      const mk = (id: string, tool: Rival['tool'], mode: string, argv: string[], runs: number, okExit = [0], env?: Record<string, string>): Rival =>
        ({ id: `${kind}-${id}`, tool, mode, argv, runs, okExit, env, samples: [], stdoutFile: path.join(work, `${kind}-${id}.out`) });
      const rivals: Rival[] = [
        mk('fast', 'f2b-fast', 'summary', [node, BIN, 'regex', '-c', config, log, filter], o.runs),
        mk('fast-json', 'f2b-fast', '--json', [node, BIN, 'regex', '--json', '-c', config, log, filter], o.runs),
        mk('f2b', 'fail2ban-regex', 'summary', ['fail2ban-regex', '-c', config, log, filter], o.f2bRuns),
        mk('f2b-ip', 'fail2ban-regex', '-o ip', ['fail2ban-regex', '-c', config, '-o', 'ip', log, filter], Math.max(1, o.f2bRuns)),
        // grep exits 1 when it counts 0; LC_ALL=C: byte matching, grep's fastest path
        mk('grep', 'grep', '-cE', ['grep', '-cE', GREP[kind], log], o.runs, [0, 1], { LC_ALL: 'C' }),
      ];
      if (!f2bRegex) for (const r of rivals) if (r.tool === 'fail2ban-regex') r.missing = 'fail2ban-regex not on PATH';

      const maxRuns = Math.max(...rivals.map((r) => r.runs));
      let timedOut = false;
      for (let run = 0; run < maxRuns && !timedOut; run++) {
        for (const r of rivals) {
          if (r.missing || run >= r.runs) continue;
          if (Date.now() > deadline) {
            loud([`TIME BOUND: --max-minutes ${o.maxMinutes} reached; stopping before ${r.id} run ${run + 1}`]);
            timedOut = true;
            status = 3;
            break;
          }
          const s = await runOnce(r, work, o.timeoutS, run === 0);
          r.samples.push(s);
          process.stdout.write(`[${kind}] ${r.tool} ${r.mode} run ${run + 1}/${r.runs}: ${s.wallS.toFixed(2)} s wall, exit ${s.exit ?? s.signal}\n`);
          if (s.exit === null || !r.okExit.includes(s.exit)) {
            const err = fs.readFileSync(path.join(work, `${r.id}.err`), 'utf8').slice(-2000);
            loud([`${r.tool} ${r.mode} FAILED (exit ${s.exit}, signal ${s.signal}${s.signal ? `; timeout ${o.timeoutS} s?` : ''})`, err]);
            status = 3;
          }
        }
      }

      // --- correctness: f2b-fast vs fail2ban-regex vs ground truth, as (address, count) sets
      const byId = (id: string) => rivals.find((r) => r.id === `${kind}-${id}`)!;
      const okFirst = (r: Rival) => r.samples.length > 0 && r.samples[0].exit === 0;
      const truthMap = new Map(Object.entries(truth.addresses));
      const maps: [string, Map<string, number>][] = [['truth', truthMap]];
      const fastJson = byId('fast-json');
      const f2bIp = byId('f2b-ip');
      let fastMap: Map<string, number> | null = null;
      let f2bMap: Map<string, number> | null = null;
      if (okFirst(fastJson)) maps.push(['f2b-fast', (fastMap = countMap(fastIps(fastJson.stdoutFile)))]);
      if (okFirst(f2bIp)) maps.push(['fail2ban-regex', (f2bMap = countMap(lineIps(f2bIp.stdoutFile)))]);
      const d = diff(maps);
      const total = (m: Map<string, number> | null) => (m ? [...m.values()].reduce((a, b) => a + b, 0) : null);
      const check = {
        compared: maps.map(([n]) => n),
        failures: { truth: truth.failures, 'f2b-fast': total(fastMap), 'fail2ban-regex': total(f2bMap) },
        addresses: { truth: truthMap.size, 'f2b-fast': fastMap?.size ?? null, 'fail2ban-regex': f2bMap?.size ?? null },
        mismatches: d.length,
        firstMismatches: d.slice(0, 50),
        summaryLine: { 'f2b-fast': summaryCounts(byId('fast').stdoutFile), 'fail2ban-regex': summaryCounts(byId('f2b').stdoutFile) },
        grepCount: okFirst(byId('grep')) || byId('grep').samples[0]?.exit === 1 ? Number(fs.readFileSync(byId('grep').stdoutFile, 'utf8').trim()) : null,
      };
      if (!fastMap) {
        loud([`[${kind}] CORRECTNESS NOT CHECKED: f2b-fast --json did not run successfully`]);
        status = Math.max(status, 1);
      } else if (d.length) {
        loud([`[${kind}] CORRECTNESS MISMATCH: ${d.length} address(es) differ between ${check.compared.join(', ')}`, ...d.slice(0, 20), d.length > 20 ? `  ... ${d.length - 20} more in the JSON` : '']);
        status = 1;
      } else {
        process.stdout.write(`[${kind}] correctness OK: ${check.compared.join(' = ')}: ${truth.failures} failures from ${truthMap.size} addresses\n`);
      }
      checks.push(`${kind}: ${!fastMap ? 'f2b-fast --json did not run' : d.length ? `${d.length} addresses differ` : `${check.compared.join(' = ')} (${truth.failures} failures from ${truthMap.size} addresses)`}`);
      if (!f2bMap) process.stdout.write(`[${kind}] fail2ban-regex comparison SKIPPED: ${f2bRegex ? 'it did not run successfully' : 'not installed'}\n`);
      const sl = check.summaryLine;
      if (sl['f2b-fast'] && sl['fail2ban-regex'] && sl['f2b-fast'] !== sl['fail2ban-regex']) {
        process.stdout.write(`[${kind}] NOTE summary counters differ (not a failure-set mismatch): f2b-fast "${sl['f2b-fast']}" vs fail2ban-regex "${sl['fail2ban-regex']}"\n`);
      }

      // --- table rows and ratios
      const st = new Map(rivals.map((r) => [r.id, r.missing ? null : stats(r, truth)]));
      for (const r of rivals) {
        const s = st.get(r.id);
        const name = `${kind.padEnd(5)} ${r.tool.padEnd(14)} ${r.mode.padEnd(8)}`;
        if (r.missing) table.push(`${name} missing: ${r.missing}`);
        else if (!s) table.push(`${name} no successful run`);
        else table.push(`${name} ${String(s.runs).padStart(4)} ${fmt(s.wall.median).padStart(8)} ${`${fmt(s.wall.min)}-${fmt(s.wall.max)}`.padStart(13)} ${fmt(s.cpuS).padStart(8)} ${fmt(s.maxRssMB, 0).padStart(7)} ${big(s.linesPerS).padStart(9)} ${fmt(s.mbPerS, 1).padStart(7)}`);
      }
      const ratio = (a: string, b: string, label: string) => {
        const sa = st.get(`${kind}-${a}`), sb = st.get(`${kind}-${b}`);
        const v = sa && sb ? sb.wall.median / sa.wall.median : null;
        // CPU ratio too: on a loaded machine wall time also measures the neighbours
        const c = sa?.cpuS && sb?.cpuS ? sb.cpuS / sa.cpuS : null;
        ratios.push(`${kind.padEnd(5)} ${label.padEnd(52)} ${v === null ? 'n/a' : `${v.toFixed(2)}x`} wall, ${c === null ? 'n/a' : `${c.toFixed(2)}x`} cpu`);
        return v;
      };
      for (const r of rivals) {
        if (r.missing) continue;
        const ok = r.samples.filter((x) => x.exit !== null && r.okExit.includes(x.exit));
        const tool = `${r.tool} ${r.mode}`;
        rows.push(row(tool, `${kind}: lines/s`, 'lines/s', 'higher', ok.map((x) => truth.lines / x.wallS)));
        rows.push(row(tool, `${kind}: wall`, 's', 'lower', ok.map((x) => x.wallS)));
        rows.push(row(tool, `${kind}: CPU`, 's', 'lower', ok.filter((x) => x.userS !== null).map((x) => x.userS! + x.sysS!)));
        rows.push(row(tool, `${kind}: peak RSS`, 'MB', 'lower', ok.filter((x) => x.maxRssKB !== null).map((x) => x.maxRssKB! / 1024)));
      }
      const vsF2b = ratio('fast', 'f2b', 'f2b-fast summary speed-up over fail2ban-regex summary');
      ratio('fast-json', 'f2b-ip', 'f2b-fast --json speed-up over fail2ban-regex -o ip');
      const vsGrep = ratio('grep', 'fast', 'f2b-fast summary time / grep -cE time (slower by)');
      ratios.push(`${kind.padEnd(5)} budget (design.md): >=100x fail2ban-regex ${vsF2b === null ? 'n/a' : vsF2b >= 100 ? 'MET' : 'NOT MET'}; within 4x of grep ${vsGrep === null ? 'n/a' : vsGrep <= 4 ? 'MET' : 'NOT MET'}`);

      report.push({
        kind, filter, lines: truth.lines, bytes: truth.bytes, seed: o.seed, truthFailures: truth.failures,
        grepPattern: GREP[kind], check,
        rivals: rivals.map((r) => ({ tool: r.tool, mode: r.mode, command: r.argv.join(' ').replace(work, '$WORK'), env: r.env ?? {}, missing: r.missing ?? null, stats: st.get(r.id), samples: r.samples })),
        ratios: { f2bFastOverFail2banRegex: vsF2b, f2bFastOverGrepTime: vsGrep },
      });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  const head = `${'kind'.padEnd(5)} ${'tool'.padEnd(14)} ${'mode'.padEnd(8)} ${'runs'.padStart(4)} ${'wall s'.padStart(8)} ${'min-max'.padStart(13)} ${'cpu s'.padStart(8)} ${'RSS MB'.padStart(7)} ${'lines/s'.padStart(9)} ${'MB/s'.padStart(7)}`;
  process.stdout.write(`\n${head}\n${'-'.repeat(head.length)}\n${table.join('\n')}\n\n${ratios.join('\n')}\n`);

  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `scan-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({
    scenario: 'scan', date: started.toISOString(), finished: new Date().toISOString(),
    argv: process.argv.slice(2), options: o, config, machine: machine(), exitStatus: status, results: report,
  }, null, 1) + '\n');
  process.stdout.write(`\nresults: ${file}\n`);
  writeReport(o.json, {
    scenario: 'scan',
    title: `fail2ban-regex's job on ${o.lines} generated lines (${o.kinds.map((k) => `${k}: ${FILTER[k]}`).join(', ')}), each tool in a fresh process`,
    params: { lines: o.lines, runs: o.runs, fail2banRegexRuns: o.f2bRuns, seed: o.seed, config, kinds: o.kinds },
    rows,
    check: { ok: status !== 1 && checks.length === o.kinds.length, detail: `failure addresses and counts, f2b-fast --json vs fail2ban-regex -o ip vs the generator's ground truth: ${checks.join('; ')}` },
    missing: f2bRegex ? [] : [{ tool: 'fail2ban-regex', reason: 'not on PATH (Debian: apt-get install fail2ban)' }],
    raw: { results: report, ratios },
  });
  if (status) process.stdout.write(`scan: exit ${status} (${status === 1 ? 'correctness mismatch' : 'a rival failed or a time bound was hit'})\n`);
  return status;
}

if (require.main === module) {
  main().then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`scan: ${(e as Error).stack}\n`); process.exitCode = 3; });
}
