// How fast the daemon catches up with a large existing log at start-up: the native tailer reads
// it from its head, the prefilter drops what no jail can match, the matcher workers take the
// candidate batches in parallel. Dry-run (no firewall), one jail on the file. Not a test.
//
//   node dist/bench/catchup.js [--quick] [--kind sshd|nginx|nginx-error] [--mb 1024 | --lines N] [--runs 3]
//                              [--file F] [--config DIR] [--seed 42] [--f2b-slice MB]
//                              [--json FILE]
//
// Generates the log once (bench/generate.ts, in a temporary directory removed at the end) unless
// --file is given, then runs the daemon on it --runs times, each run in a fresh child process
// (this script again, with --child) with its own state database. --mb picks the line count from
// the generator's average line size (a sample of it); --lines sets it directly. Checked: the
// failures the jail counted equal the generator's ground truth (FILE.truth.json beside --file).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate, FILTER, KINDS, type Kind, type Truth } from './generate';
import { jsonArg, machine, row, summarize, which, writeReport, type ScenarioReport } from './report';

/** What one run (one child process) measured. */
interface RunResult {
  lines: number;
  bytes: number;
  /** ms from Daemon.start until the daemon's start resolved */
  startupMs: number;
  /** s from Daemon.start until every line was read and every batch applied */
  wallS: number;
  /** s of the catch-up itself (after start-up) */
  catchupS: number;
  /** process CPU (user+sys: main thread and matcher workers) over wallS */
  cpuS: number;
  cpuUserS: number;
  cpuSysS: number;
  totalFailed: number;
  currentlyFailed: number;
  totalBanned: number;
  maxRssMB: number;
}

interface Args {
  kind: Kind;
  lines?: number;
  mb: number;
  runs: number;
  file?: string;
  config: string;
  seed: number;
  f2bSlice: number;
  quick: boolean;
  child: boolean;
  json?: string;
}

const FLAGS = new Set(['quick', 'child']);

function args(argv = process.argv.slice(2)): Args {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error(`bad argument: ${k}`);
    const name = k.slice(2);
    if (FLAGS.has(name)) a[name] = '1';
    else {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      a[name] = argv[++i];
    }
  }
  const kind = (a.kind ?? 'sshd') as Kind;
  if (!KINDS.includes(kind)) throw new Error(`--kind ${KINDS.join('|')}`);
  const quick = a.quick === '1';
  const config = a.config ?? (fs.existsSync('/etc/fail2ban/filter.d') ? '/etc/fail2ban' : path.resolve(__dirname, '../../filters'));
  const num = (k: string, def: number) => {
    const v = a[k] === undefined ? def : Number(a[k]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a number >= 0`);
    return v;
  };
  const runs = Math.max(1, Math.floor(num('runs', quick ? 1 : 3)));
  return {
    kind,
    lines: a.lines === undefined ? undefined : Math.floor(num('lines', 0)),
    mb: num('mb', quick ? 50 : 1024),
    runs,
    file: a.file,
    config,
    seed: Math.floor(num('seed', 42)),
    f2bSlice: num('f2b-slice', quick ? 2 : 20),
    quick,
    child: a.child === '1',
    json: jsonArg(argv),
  };
}

/** The measured part, in a fresh process: start the daemon on `file`, wait until it has read
 *  and applied every one of `lines` lines, print one `RESULT {json}` line. */
async function child(o: Args): Promise<void> {
  // imported here: the parent does not need the daemon's modules
  const { Daemon } = await import('../src/daemon');
  if (!o.file || !o.lines) throw new Error('--child needs --file and --lines');
  const file = o.file;
  const lines = o.lines;
  const bytes = fs.statSync(file).size;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-catchup-run-'));
  try {
    // a private copy of the config with one jail on the file (filter.d from --config). findtime
    // covers the generated dates (March 2025, or March of this year for syslog's year-less
    // dates), maxretry is never reached: every failure is counted, nobody is banned
    const conf = path.join(work, 'conf');
    fs.mkdirSync(conf);
    fs.cpSync(path.join(o.config, 'filter.d'), path.join(conf, 'filter.d'), { recursive: true, dereference: true });
    fs.writeFileSync(
      path.join(conf, 'jail.conf'),
      `[DEFAULT]\nbanaction = nftables-multiport\n[bench]\nenabled = true\nfilter = ${FILTER[o.kind]}\nlogpath = ${file}\nport = 22\n` +
        `findtime = 3650d\nmaxretry = 1000000\nbantime = 1h\nignoreself = false\nignoreip =\n`,
    );
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(work, 'f2b.log'), db: path.join(work, 'state.sqlite3'), socket: null });
    let stopped = false;
    try {
      const t1 = process.hrtime.bigint();
      const deadline = Date.now() + 900_000;
      while ((d.fileStats()[0]?.linesRead ?? 0) < lines) {
        if (Date.now() > deadline) throw new Error(`catch-up did not finish in 15 minutes (${d.fileStats()[0]?.linesRead ?? 0} of ${lines} lines read)`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await d.drain();
      const t2 = process.hrtime.bigint();
      const cpu = process.cpuUsage(cpu0);
      const rj = d.jails.get('bench');
      if (!rj) throw new Error('the bench jail is not running');
      const st = rj.jail.status();
      await d.stop();
      stopped = true;
      const r: RunResult = {
        lines,
        bytes,
        startupMs: Number(t1 - t0) / 1e6,
        wallS: Number(t2 - t0) / 1e9,
        catchupS: Number(t2 - t1) / 1e9,
        cpuS: (cpu.user + cpu.system) / 1e6,
        cpuUserS: cpu.user / 1e6,
        cpuSysS: cpu.system / 1e6,
        totalFailed: st.totalFailed,
        currentlyFailed: st.currentlyFailed,
        totalBanned: st.totalBanned,
        maxRssMB: process.resourceUsage().maxRSS / 1024,
      };
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    } finally {
      if (!stopped) await d.stop();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Newlines in a file, read in 16 MiB chunks. */
function countLines(file: string): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(16 << 20);
  let n = 0;
  try {
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got <= 0) break;
      let i = -1;
      while ((i = buf.indexOf(10, i + 1)) >= 0 && i < got) n++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

/** The first `bytes` of `file`, cut after a newline, written to `out`; returns the bytes written. */
function slice(file: string, bytes: number, out: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(bytes);
    const got = fs.readSync(fd, buf, 0, bytes, 0);
    const end = buf.lastIndexOf(10, got - 1) + 1;
    fs.writeFileSync(out, buf.subarray(0, end));
    return end;
  } finally {
    fs.closeSync(fd);
  }
}

interface SliceTiming {
  bytes: number;
  lines: number;
  wallS: number;
  mbPerS: number;
  command: string;
}

/** fail2ban-regex on the first `mb` MB of the log (one run, killed after 300 s): its speed on this log. */
function timeFail2banRegex(file: string, filter: string, mb: number, work: string): SliceTiming | string {
  const bin = which('fail2ban-regex');
  if (!bin) return 'fail2ban-regex is not installed';
  if (!fs.existsSync('/etc/fail2ban/filter.d')) return '/etc/fail2ban is missing';
  if (mb <= 0) return 'not timed (--f2b-slice 0)';
  if (fs.statSync(file).size < mb * 1e6) return `not timed: the log is smaller than the --f2b-slice of ${mb} MB`;
  const part = path.join(work, 'slice.log');
  const bytes = slice(file, Math.round(mb * 1e6), part);
  const lines = countLines(part);
  const argv = ['-c', '/etc/fail2ban', part, filter];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, argv, { encoding: 'utf8', timeout: 300_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.rmSync(part, { force: true });
  if (r.status !== 0) return `fail2ban-regex on a ${mb} MB slice failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`;
  return { bytes, lines, wallS, mbPerS: bytes / 1e6 / wallS, command: `fail2ban-regex ${argv.join(' ').replace(part, 'SLICE')}` };
}

const fmt = (n: number | null, d = 2) => (n === null ? '-' : n.toFixed(d));

async function parent(o: Args): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-catchup-'));
  try {
    let file: string;
    let truth: Truth | null = null;
    let lines: number;
    let avgLine: number | null = null;
    const tg0 = Date.now();
    if (o.file) {
      file = path.resolve(o.file);
      const tf = `${file}.truth.json`;
      if (fs.existsSync(tf)) truth = JSON.parse(fs.readFileSync(tf, 'utf8')) as Truth;
      lines = truth && truth.kind === o.kind ? truth.lines : countLines(file);
      if (truth && truth.kind !== o.kind) truth = null;
    } else {
      file = path.join(work, `${o.kind}.log`);
      let want = o.lines;
      if (want === undefined) {
        // the generator's average line size, from a sample with the same seed
        const probe = generate(o.kind, 20_000, o.seed, path.join(work, 'probe.log'));
        avgLine = probe.bytes / probe.lines;
        fs.rmSync(path.join(work, 'probe.log'), { force: true });
        fs.rmSync(path.join(work, 'probe.log.truth.json'), { force: true });
        want = Math.max(1, Math.round((o.mb * 1e6) / avgLine));
      }
      process.stderr.write(`catchup: generating ${want} ${o.kind} lines (seed ${o.seed}) ...\n`);
      truth = generate(o.kind, want, o.seed, file);
      lines = truth.lines;
    }
    const genS = (Date.now() - tg0) / 1000;
    const bytes = fs.statSync(file).size;

    const runs: RunResult[] = [];
    const errors: string[] = [];
    for (let i = 0; i < o.runs; i++) {
      const argv = [__filename, '--child', '--kind', o.kind, '--file', file, '--lines', String(lines), '--config', o.config];
      const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 1_000_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
      const m = /^RESULT (.*)$/m.exec(r.stdout ?? '');
      if (r.status !== 0 || !m) {
        errors.push(`run ${i + 1}: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}: ${(r.stderr ?? '').trim().slice(-2000)}`);
        process.stderr.write(`catchup: ${errors[errors.length - 1]}\n`);
        continue;
      }
      const res = JSON.parse(m[1]) as RunResult;
      runs.push(res);
      process.stderr.write(
        `catchup: run ${i + 1}/${o.runs}: ${res.wallS.toFixed(2)} s (start-up ${res.startupMs.toFixed(0)} ms), CPU ${res.cpuS.toFixed(2)} s, ` +
          `${res.totalFailed} failures counted\n`,
      );
    }

    // the check: every run counted the truth's failures (and holds one ticket per address)
    const wantFailures = truth?.failures ?? null;
    const wantAddresses = truth ? Object.keys(truth.addresses).length : null;
    const bad = runs.filter((r) => r.totalFailed !== wantFailures || r.currentlyFailed !== wantAddresses || r.totalBanned !== 0);
    const counted = [...new Set(runs.map((r) => r.totalFailed))].join(', ') || 'none';
    const tickets = [...new Set(runs.map((r) => r.currentlyFailed))].join(', ') || 'none';
    const ok = truth !== null && runs.length === o.runs && bad.length === 0;
    const detail = truth === null
      ? `no ground truth (--file without FILE.truth.json): the jail counted ${counted} failures, not checked`
      : `ground truth ${wantFailures} failures from ${wantAddresses} addresses; the jail counted ${counted} failures, ` +
        `${tickets} addresses tracked, ${[...new Set(runs.map((r) => r.totalBanned))].join(', ') || 'none'} banned, ` +
        `in ${runs.length} of ${o.runs} runs${bad.length ? ` (${bad.length} run(s) differ)` : ''}${errors.length ? `; ${errors.length} run(s) failed` : ''}`;

    const wall = summarize(runs.map((r) => r.wallS));
    const mbps = (r: RunResult) => r.bytes / 1e6 / r.wallS;
    const lps = (r: RunResult) => r.lines / r.wallS;
    const cores = os.availableParallelism();
    // first line: the shape test/bench.test.ts reads
    process.stdout.write(
      `catch-up ${o.kind}: ${lines} lines, ${(bytes / 1e6).toFixed(1)} MB in ${fmt(wall.median)} s ` +
        `(${fmt(summarize(runs.map(mbps)).median, 0)} MB/s, ${Math.round((summarize(runs.map(lps)).median ?? 0) / 1000)}k lines/s), ` +
        `start-up ${fmt(summarize(runs.map((r) => r.startupMs)).median, 0)} ms, process CPU ${fmt(summarize(runs.map((r) => r.cpuS)).median)} s ` +
        `(main thread and workers), ${cores} cores; median of ${runs.length} run(s), each a fresh process\n`,
    );
    for (const [i, r] of runs.entries()) {
      process.stdout.write(
        `  run ${i + 1}: wall ${r.wallS.toFixed(2)} s (start-up ${r.startupMs.toFixed(0)} ms), ${mbps(r).toFixed(1)} MB/s, ` +
          `${Math.round(lps(r) / 1000)}k lines/s, CPU ${r.cpuS.toFixed(2)} s (user ${r.cpuUserS.toFixed(2)}, sys ${r.cpuSysS.toFixed(2)}), ` +
          `peak RSS ${r.maxRssMB.toFixed(0)} MB\n`,
      );
    }
    process.stdout.write(`check: ${truth === null ? 'none' : ok ? 'ok' : 'FAILED'}: ${detail}\n`);

    const slice = timeFail2banRegex(file, FILTER[o.kind], o.f2bSlice, work);
    const hours = (s: number) => (s >= 5400 ? `${(s / 3600).toFixed(1)} hours` : s >= 90 ? `${Math.round(s / 60)} minutes` : `${Math.round(s)} s`);
    let f2bReason: string;
    if (typeof slice === 'string') {
      f2bReason = `a catch-up of the whole log through fail2ban-server would take far longer than f2b-fast's runs ` +
        `(fail2ban-regex did 1.7-1.9 MB/s on sshd, 5.2-5.5 MB/s on nginx in the scan scenario); fail2ban-regex on a slice: ${slice}`;
    } else {
      f2bReason = `left out to keep the scenario short: fail2ban-regex (the same filter, without the server's tickets and database) did ` +
        `${slice.mbPerS.toFixed(2)} MB/s on the first ${(slice.bytes / 1e6).toFixed(1)} MB of this log (${slice.wallS.toFixed(1)} s, its start included), ` +
        `so a catch-up of the ${(bytes / 1e6).toFixed(0)} MB log would take about ${hours(bytes / 1e6 / slice.mbPerS)} a run at that speed ` +
        `(fail2ban-server probably longer); see the scan scenario for fail2ban-regex on whole logs`;
      process.stdout.write(
        `fail2ban-regex on a slice: ${slice.lines} lines, ${(slice.bytes / 1e6).toFixed(1)} MB in ${slice.wallS.toFixed(1)} s ` +
          `(${slice.mbPerS.toFixed(2)} MB/s); the whole log at that speed: ${hours(bytes / 1e6 / slice.mbPerS)}\n`,
      );
    }

    const report: ScenarioReport = {
      scenario: 'catchup',
      title: `daemon start on an existing ${(bytes / 1e6).toFixed(0)} MB ${o.kind} log (${lines} lines): read, prefilter, match in workers, count, state database; dry-run`,
      params: {
        kind: o.kind,
        filter: FILTER[o.kind],
        config: o.config,
        lines,
        bytes,
        mb: +(bytes / 1e6).toFixed(1),
        requestedMb: o.file || o.lines !== undefined ? null : o.mb,
        averageLineBytes: avgLine,
        seed: o.file ? null : o.seed,
        file: o.file ?? null,
        runs: o.runs,
        quick: o.quick,
        generateSeconds: +genS.toFixed(1),
        jail: 'findtime = 3650d, maxretry = 1000000, ignoreself = false (every failure counted, nobody banned)',
        wall: 'from Daemon.start until every line is read and applied (start-up included)',
        cpu: 'process.cpuUsage() of the child over the same span: main thread and matcher workers, user+sys',
        ...machine(),
      },
      rows: [
        row('f2b-fast', 'MB/s', 'MB/s', 'higher', runs.map(mbps)),
        row('f2b-fast', 'lines/s', 'lines/s', 'higher', runs.map(lps)),
        row('f2b-fast', 'wall', 's', 'lower', runs.map((r) => r.wallS), 'start-up included'),
        row('f2b-fast', 'CPU', 's', 'lower', runs.map((r) => r.cpuS), 'user+sys, main thread and workers'),
        row('f2b-fast', 'start-up', 'ms', 'lower', runs.map((r) => r.startupMs)),
      ],
      check: { ok, detail },
      missing: [{ tool: 'fail2ban-server', reason: f2bReason }],
      raw: { runs, errors, fail2banRegexSlice: typeof slice === 'string' ? null : slice },
    };
    writeReport(o.json, report);
    // exit 1: a run failed, or the counts differ from the truth (no truth: nothing to check)
    if (runs.length !== o.runs) return 1;
    return ok || truth === null ? 0 : 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = args();
  if (o.child) await child(o);
  else process.exitCode = await parent(o);
}

main().catch((e: unknown) => {
  process.stderr.write(`catchup: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
