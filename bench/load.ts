// Sustained live load: a writer (this process) appends to --files log files at --rate lines/s in
// all for --seconds; a daemon in a child process (this script again with --child: Daemon
// in-process, dry-run, no socket) follows them with two jails on each file. Every second the
// writer samples lines written against lines the daemon has applied (the backlog), the daemon
// process's VmRSS and its CPU. Then the writer stops, the daemon drains, and each jail's count of
// failures is checked against the generator's ground truth. Not a test.
//
//   node dist/bench/load.js [--quick] [--rate 200000] [--seconds 60] [--files 10]
//                           [--kinds sshd,nginx] [--pool-seconds 2] [--seed 42] [--drain 300]
//                           [--hostile N] [--config DIR] [--json FILE]
//
// Content: each file repeats a pool of generated lines (bench/generate.ts: --kinds in turn, seed
// --seed + file number) of --pool-seconds of that file's share of the rate; the writer writes
// whole pools only (--seconds is rounded up to a multiple of --pool-seconds), so the truth is the
// pool's failures times the pools written. --hostile N adds an 11th file and jail whose filter
// backtracks for ever in V8 on a crafted line: N crafted lines a second, each with a line the
// filter counts; the figures of the other ten files show what the crafted lines cost them.

import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syslogTime } from './firewall';
import { generate, FILTER, KINDS, type Kind } from './generate';
import { jsonArg, machine, procMem, row, sh, summarize, writeReport, type ScenarioReport } from './report';

const MB = 2 ** 20;
const HOSTILE_JAIL = 'hostile';
/** (?:a+)+b backtracks exponentially in V8 on a run of a's without the b */
const HOSTILE_FILTER = '[Definition]\nfailregex = ^\\s*\\S+ app\\[\\d+\\]: <HOST> (?:a+)+b$\n';

interface Args {
  rate: number;
  seconds: number;
  files: number;
  kinds: Kind[];
  poolSeconds: number;
  seed: number;
  drain: number;
  hostile: number;
  config: string;
  quick: boolean;
  child?: string;
  json?: string;
}

function usage(msg: string): never {
  process.stderr.write(
    `load: ${msg}\nusage: node dist/bench/load.js [--quick] [--rate 200000] [--seconds 60] [--files 10] [--kinds sshd,nginx] ` +
      '[--pool-seconds 2] [--seed 42] [--drain 300] [--hostile N] [--config DIR] [--json FILE]\n',
  );
  process.exit(2);
}

function args(argv = process.argv.slice(2)): Args {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) usage(`bad argument: ${k}`);
    if (k === '--quick') a.quick = '1';
    else {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      a[k.slice(2)] = argv[++i];
    }
  }
  const quick = a.quick === '1';
  const int = (k: string, def: number, lo: number, hi: number): number => {
    const v = a[k] === undefined ? def : Number(a[k]);
    if (!Number.isInteger(v) || v < lo || v > hi) usage(`--${k} must be an integer in ${lo}..${hi}`);
    return v;
  };
  const kinds = (a.kinds ?? 'sshd,nginx').split(',') as Kind[];
  if (!kinds.length || kinds.some((k) => !KINDS.includes(k))) usage(`--kinds: a list of ${KINDS.join(', ')}`);
  return {
    rate: int('rate', quick ? 20_000 : 200_000, 10, 10_000_000),
    seconds: int('seconds', quick ? 10 : 60, 2, 3600),
    files: int('files', 10, 1, 30),
    kinds,
    poolSeconds: int('pool-seconds', 2, 1, 60),
    seed: int('seed', 42, 0, 2 ** 31),
    drain: int('drain', 300, 1, 3600),
    hostile: int('hostile', 0, 0, 100),
    config: a.config ?? (fs.existsSync('/etc/fail2ban/filter.d') ? '/etc/fail2ban' : path.resolve(__dirname, '../../filters')),
    quick,
    child: a.child,
    json: jsonArg(argv),
  };
}

// --- the child: the daemon, answering the parent's questions over IPC ---------------------------

type Ask = { type: 'sample' } | { type: 'status' } | { type: 'stop' };

export interface JailCount {
  jail: string;
  totalFailed: number;
  currentlyFailed: number;
  totalBanned: number;
}

async function child(conf: string): Promise<void> {
  // imported here: the parent does not need the daemon's modules
  const { Daemon } = await import('../src/daemon');
  const work = path.dirname(conf);
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(work, 'f2b.log'), db: path.join(work, 'state.sqlite3'), socket: null });
  const send = (m: unknown): void => void process.send!(m);
  process.on('message', (m: Ask) => {
    if (m.type === 'sample') send({ type: 'sample', positions: Object.fromEntries(d.fileStats().map((f) => [f.path, f.position])) });
    else if (m.type === 'status') {
      void d.drain().then(() => {
        const jails: JailCount[] = [...d.jails.entries()].map(([jail, rj]) => {
          const st = rj.jail.status();
          return { jail, totalFailed: st.totalFailed, currentlyFailed: st.currentlyFailed, totalBanned: st.totalBanned };
        });
        send({ type: 'status', jails });
      });
    } else if (m.type === 'stop') void d.stop().then(() => process.exit(0));
  });
  send({ type: 'ready' });
}

// --- the parent: content, writer, sampler, report -------------------------------------------------

/** One log file: its pool of lines (whole lines, repeated), where its lines start, what is written. */
interface LogFile {
  path: string;
  kind: Kind | 'hostile';
  pool: Buffer;
  /** starts[i] = byte offset of pool line i; starts[lines] = pool.length */
  starts: Uint32Array;
  poolFailures: number;
  fd: number;
  /** lines to write in all, lines and bytes written so far */
  total: number;
  lines: number;
  bytes: number;
}

function lineStarts(pool: Buffer): Uint32Array {
  const out: number[] = [0];
  for (let i = pool.indexOf(10); i >= 0; i = pool.indexOf(10, i + 1)) out.push(i + 1);
  return Uint32Array.from(out);
}

/** Lines of `f` that end at or before byte `pos` of the file (pos is always a line end). */
function linesAt(f: LogFile, pos: number): number {
  const n = f.starts.length - 1;
  const cycles = Math.floor(pos / f.pool.length);
  const rest = pos - cycles * f.pool.length;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (f.starts[mid] <= rest) lo = mid;
    else hi = mid - 1;
  }
  return cycles * n + lo;
}

/** Appends lines [f.lines, upTo) of the repeated pool. */
function writeLines(f: LogFile, upTo: number): void {
  const n = f.starts.length - 1;
  while (f.lines < upTo) {
    const at = f.lines % n;
    const end = Math.min(n, at + (upTo - f.lines));
    const chunk = f.pool.subarray(f.starts[at], f.starts[end]);
    fs.writeSync(f.fd, chunk);
    f.bytes += chunk.length;
    f.lines += end - at;
  }
}

/** user+system CPU seconds of a process (all its threads), or of one thread (`/proc/PID/task/TID`),
 *  or null once it is gone. */
function procCpu(pid: number, hz: number, tid?: number): number | null {
  try {
    const s = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after the command: state is field 3, utime 14, stime 15
    return (Number(f[11]) + Number(f[12])) / hz;
  } catch {
    return null;
  }
}

interface Sample {
  /** s since the writer started */
  t: number;
  /** of the ordinary files (the hostile one aside) */
  writtenLines: number;
  processedLines: number;
  backlogLines: number;
  backlogBytes: number;
  rssMB: number;
  /** CPU seconds of the daemon process since the writer started */
  cpuS: number;
  /** of its main thread alone (the one that applies every batch) */
  mainCpuS: number;
  /** how long the daemon took to answer the sample, ms */
  answerMs: number;
  /** the machine's 1-minute load average */
  load1: number;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : NaN;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Questions to the daemon's process and its answers, each bounded in time; all fail if it exits. */
class ChildLink {
  readonly #waiting = new Map<string, { resolve(m: unknown): void; reject(e: Error): void }[]>();
  exited = false;
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { type: string }) => this.#waiting.get(m.type)?.shift()?.resolve(m));
    proc.on('exit', (code, signal) => {
      this.exited = true;
      const e = new Error(`the daemon's process exited (${code ?? signal})`);
      for (const list of this.#waiting.values()) list.splice(0).forEach((w) => w.reject(e));
    });
  }
  /** The child's next message of this type (after sending `ask`, if given). */
  next<T>(type: string, ask: Ask | null, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error("the daemon's process has exited"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the daemon did not answer '${type}' within ${timeoutMs} ms`)), timeoutMs);
      const list = this.#waiting.get(type) ?? [];
      list.push({ resolve: (m) => (clearTimeout(timer), resolve(m as T)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.#waiting.set(type, list);
      if (ask) this.proc.send(ask);
    });
  }
}

function jailConf(files: LogFile[]): string {
  const out = ['[DEFAULT]', 'banaction = nftables-multiport', 'port = 0:65535', 'findtime = 1d', 'bantime = 1h', 'ignoreself = false', 'ignoreip =', ''];
  files.forEach((f, i) => {
    if (f.kind === 'hostile') {
      out.push(`[${HOSTILE_JAIL}]`, 'enabled = true', 'filter = bench-hostile', `logpath = ${f.path}`, 'maxretry = 1000000', '');
      return;
    }
    // two jails on each file: the same filter, counting apart (maxretry never reached)
    for (const [suffix, maxretry] of [['a', 1_000_000], ['b', 999_999]] as const) {
      out.push(`[f${String(i).padStart(2, '0')}-${f.kind}-${suffix}]`, 'enabled = true', `filter = ${FILTER[f.kind]}`, `logpath = ${f.path}`, `maxretry = ${maxretry}`, '');
    }
  });
  return out.join('\n');
}

/** The hostile file's pool: per line pair, a crafted line (skipped by the time budget) and one the filter counts. */
function hostilePool(pairs: number): Buffer {
  const stamp = syslogTime();
  const lines: string[] = [];
  for (let i = 0; i < pairs; i++) {
    lines.push(`${stamp} web1 app[1]: 192.0.2.70 ${'a'.repeat(40)}!\n`, `${stamp} web1 app[1]: 198.51.100.${(i % 200) + 1} aab\n`);
  }
  return Buffer.from(lines.join(''));
}

async function parent(o: Args): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-load-'));
  let proc: ChildProcess | undefined;
  try {
    const hz = Number(sh('getconf', ['CLK_TCK'])) || 100;
    const perFile = o.rate / o.files;
    const poolLines = Math.max(1, Math.round(perFile * o.poolSeconds));
    const cycles = Math.ceil(o.seconds / o.poolSeconds);
    const seconds = cycles * o.poolSeconds;
    const t0g = Date.now();
    const files: LogFile[] = [];
    for (let i = 0; i < o.files; i++) {
      const kind = o.kinds[i % o.kinds.length];
      const poolPath = path.join(work, `pool-${i}.log`);
      const truth = generate(kind, poolLines, o.seed + i, poolPath);
      const pool = fs.readFileSync(poolPath);
      fs.rmSync(poolPath);
      fs.rmSync(`${poolPath}.truth.json`);
      const p = path.join(work, `f${String(i).padStart(2, '0')}-${kind}.log`);
      files.push({ path: p, kind, pool, starts: lineStarts(pool), poolFailures: truth.failures, fd: -1, total: cycles * poolLines, lines: 0, bytes: 0 });
    }
    if (o.hostile) {
      const pool = hostilePool(o.hostile * o.poolSeconds);
      const p = path.join(work, 'hostile.log');
      files.push({ path: p, kind: 'hostile', pool, starts: lineStarts(pool), poolFailures: o.hostile * o.poolSeconds, fd: -1, total: cycles * 2 * o.hostile * o.poolSeconds, lines: 0, bytes: 0 });
    }
    const normal = files.filter((f) => f.kind !== 'hostile');
    for (const f of files) {
      fs.writeFileSync(f.path, '');
      f.fd = fs.openSync(f.path, 'a');
    }
    const conf = path.join(work, 'conf');
    fs.mkdirSync(conf);
    fs.cpSync(path.join(o.config, 'filter.d'), path.join(conf, 'filter.d'), { recursive: true, dereference: true });
    if (o.hostile) fs.writeFileSync(path.join(conf, 'filter.d/bench-hostile.conf'), HOSTILE_FILTER);
    fs.writeFileSync(path.join(conf, 'jail.conf'), jailConf(files));
    const genS = (Date.now() - t0g) / 1000;

    const load0 = os.loadavg();
    proc = fork(__filename, ['--child', conf], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const link = new ChildLink(proc);
    await link.next('ready', null, 60_000);
    const pid = proc.pid!;
    const rss0 = procMem(pid)!.rss / MB;
    process.stderr.write(
      `load: daemon ${pid} ready (VmRSS ${rss0.toFixed(0)} MB), ${files.length} files, ${files.length * 2 - (o.hostile ? 1 : 0)} jails; ` +
        `writing ${o.rate} lines/s for ${seconds} s (load average ${load0.map((x) => x.toFixed(2)).join(' ')})\n`,
    );

    // the writer: every few ms each file is brought up to its share of the lines due by now
    const samples: Sample[] = [];
    const cpu0 = procCpu(pid, hz) ?? 0;
    const main0 = procCpu(pid, hz, pid) ?? 0;
    const wcpu0 = process.cpuUsage();
    const t0 = performance.now();
    let writing = true;
    const writer = (async () => {
      for (;;) {
        const t = (performance.now() - t0) / 1000;
        let left = false;
        for (const f of files) {
          const per = f.kind === 'hostile' ? 2 * o.hostile : perFile;
          writeLines(f, Math.min(f.total, Math.floor(t * per)));
          if (f.lines < f.total) left = true;
        }
        if (!left) break;
        await sleep(5);
      }
      writing = false;
      return (performance.now() - t0) / 1000;
    })();

    const sample = async (): Promise<Sample> => {
      const asked = performance.now();
      const m = await link.next<{ positions: Record<string, number> }>('sample', { type: 'sample' }, 30_000);
      const answerMs = performance.now() - asked;
      let writtenLines = 0;
      let processedLines = 0;
      let backlogBytes = 0;
      for (const f of normal) {
        const pos = m.positions[f.path] ?? 0;
        const done = linesAt(f, pos);
        writtenLines += f.lines;
        processedLines += done;
        backlogBytes += f.bytes - pos;
      }
      return {
        t: (performance.now() - t0) / 1000,
        writtenLines,
        processedLines,
        backlogLines: writtenLines - processedLines,
        backlogBytes,
        rssMB: (procMem(pid)?.rss ?? NaN) / MB,
        cpuS: (procCpu(pid, hz) ?? NaN) - cpu0,
        mainCpuS: (procCpu(pid, hz, pid) ?? NaN) - main0,
        answerMs,
        load1: os.loadavg()[0],
      };
    };

    let next = 1000;
    while (writing) {
      const wait = next - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      if (!writing) break;
      const s = await sample();
      samples.push(s);
      next += 1000;
      if (Math.round(s.t) % 10 === 0) {
        process.stderr.write(
          `load: ${s.t.toFixed(0)} s: written ${s.writtenLines}, applied ${s.processedLines}, backlog ${s.backlogLines} lines ` +
            `(${(s.backlogBytes / MB).toFixed(1)} MB), VmRSS ${s.rssMB.toFixed(0)} MB\n`,
        );
      }
    }
    const writeS = await writer;
    const wcpu = process.cpuUsage(wcpu0);
    const atStop = await sample();

    // drain: every written byte applied, bounded by --drain
    const deadline = performance.now() + o.drain * 1000;
    let last = atStop;
    const allApplied = async (): Promise<boolean> => {
      const m = await link.next<{ positions: Record<string, number> }>('sample', { type: 'sample' }, 30_000);
      return files.every((f) => (m.positions[f.path] ?? 0) === f.bytes);
    };
    while (!(await allApplied()) && performance.now() < deadline) await sleep(100);
    last = await sample();
    const drained = last.backlogLines === 0;
    const drainS = last.t - writeS;
    const status = await link.next<{ jails: JailCount[] }>('status', { type: 'status' }, 120_000);
    const rssEnd = last.rssMB;
    const loadEnd = os.loadavg();
    const warnings = o.hostile ? (fs.readFileSync(path.join(work, 'f2b.log'), 'utf8').match(/was skipped: /g) ?? []).length : 0;
    link.proc.send({ type: 'stop' });
    const deadlineExit = Date.now() + 60_000;
    while (!link.exited && Date.now() < deadlineExit) await sleep(50);
    if (!link.exited) proc.kill('SIGKILL');

    // --- figures ---
    const written = normal.reduce((n, f) => n + f.lines, 0);
    const writeRate = written / writeS;
    const processedRate = atStop.processedLines / writeS;
    const half = seconds / 2;
    const first = samples.filter((s) => s.t <= half);
    const second = samples.filter((s) => s.t > half);
    const windows: { end: number; backlogLines: number; backlogMB: number; rssMB: number; load1: number }[] = [];
    for (let end = 10; end <= seconds; end += 10) {
      const s = [...samples].reverse().find((x) => x.t <= end + 0.5);
      if (s) windows.push({ end, backlogLines: s.backlogLines, backlogMB: +(s.backlogBytes / MB).toFixed(2), rssMB: +s.rssMB.toFixed(1), load1: s.load1 });
    }
    const backlogFirst = mean(first.map((s) => s.backlogLines));
    const backlogSecond = mean(second.map((s) => s.backlogLines));
    const backlogSlope = slope(second.map((s) => s.t), second.map((s) => s.backlogLines));
    const rss = samples.map((s) => s.rssMB);
    const rssSummary = summarize(rss);
    const rssFirstMax = Math.max(...first.map((s) => s.rssMB));
    const rssSecondMax = Math.max(...second.map((s) => s.rssMB));
    // over the second half: the first seconds are the warm-up (RSS climbs from the idle daemon's)
    const rssSlope = slope(second.map((s) => s.t), second.map((s) => s.rssMB)) * 60;
    const cpuPct = samples.map((s, i) => (100 * (s.cpuS - (i ? samples[i - 1].cpuS : 0))) / (s.t - (i ? samples[i - 1].t : 0)));

    // --- checks ---
    const truthOf = (f: LogFile): number => f.poolFailures * cycles;
    const countProblems: string[] = [];
    for (const j of status.jails) {
      const f = j.jail === HOSTILE_JAIL ? files.find((x) => x.kind === 'hostile') : normal[Number(/^f(\d+)-/.exec(j.jail)?.[1] ?? -1)];
      if (!f) countProblems.push(`${j.jail}: no such file`);
      else if (j.totalFailed !== truthOf(f) || j.totalBanned !== 0) countProblems.push(`${j.jail}: ${j.totalFailed} failures (truth ${truthOf(f)}), ${j.totalBanned} banned`);
    }
    const wantJails = normal.length * 2 + (o.hostile ? 1 : 0);
    if (status.jails.length !== wantJails) countProblems.push(`${status.jails.length} jails running, ${wantJails} configured`);
    const crafted = o.hostile ? cycles * o.hostile * o.poolSeconds : 0;
    if (o.hostile && warnings !== crafted) countProblems.push(`${warnings} lines skipped by the time budget, ${crafted} crafted`);
    const countsOk = drained && countProblems.length === 0;
    const backlogSlack = o.rate * 0.25;
    const backlogOk = backlogSecond <= backlogFirst + backlogSlack;
    const rssOk = rssSecondMax <= 1.1 * rssFirstMax;
    // a quick run is too short for a trend (the first ten seconds are the daemon's warm-up): its
    // verdicts on backlog and RSS are shown, only the counts decide
    const ok = countsOk && (o.quick || (backlogOk && rssOk));
    const totalTruth = normal.reduce((n, f) => n + 2 * truthOf(f), 0);
    const detail =
      `counts: ${countsOk ? 'ok' : 'FAILED'} (${drained ? `drained ${drainS.toFixed(1)} s after the writer stopped` : `NOT drained within ${o.drain} s: ${last.backlogLines} lines left`}; ` +
      `${status.jails.length} jails, ${totalTruth} failures in the ordinary jails' truth${o.hostile ? `, hostile: ${warnings} lines skipped of ${crafted} crafted` : ''}` +
      `${countProblems.length ? `; ${countProblems.slice(0, 5).join('; ')}` : ', every jail counted its truth, nobody banned'}); ` +
      `backlog not growing: ${backlogOk ? 'ok' : 'FAILED'} (mean ${Math.round(backlogSecond)} lines in the second half, ${Math.round(backlogFirst)} in the first; ` +
      `allowed: first + ${backlogSlack} lines = 0.25 s of input); ` +
      `RSS stable: ${rssOk ? 'ok' : 'FAILED'} (max ${rssSecondMax.toFixed(0)} MB in the second half, ${rssFirstMax.toFixed(0)} MB in the first; allowed: +10 %)` +
      `${o.quick ? '; --quick: only the counts decide' : ''}`;

    const fmtK = (n: number): string => `${(n / 1000).toFixed(1)}k`;
    process.stdout.write(
      `load: ${files.length} files (${normal.map((f) => f.kind).join(', ')}${o.hostile ? ', hostile' : ''}), ${status.jails.length} jails, ${seconds} s: ` +
        `written ${fmtK(writeRate)} lines/s, applied ${fmtK(processedRate)} lines/s while writing; drained ${drained ? `${drainS.toFixed(1)} s` : 'NO'} after\n` +
        `  backlog at each 10 s (lines / MB; load average): ${windows.map((w) => `${w.end}s ${w.backlogLines} / ${w.backlogMB}; ${w.load1.toFixed(1)}`).join(', ')}\n` +
        `  backlog mean: first half ${Math.round(backlogFirst)} lines, second half ${Math.round(backlogSecond)}; slope in the second half ${backlogSlope.toFixed(0)} lines/s\n` +
        `  VmRSS: idle ${rss0.toFixed(0)} MB; while writing min ${rssSummary.min?.toFixed(0)}, median ${rssSummary.median?.toFixed(0)}, max ${rssSummary.max?.toFixed(0)} MB ` +
        `(first half max ${rssFirstMax.toFixed(0)}, second half max ${rssSecondMax.toFixed(0)}); slope in the second half ${rssSlope.toFixed(1)} MB/min; after the drain ${rssEnd.toFixed(0)} MB\n` +
        `  daemon CPU: ${(atStop.cpuS / writeS * 100).toFixed(0)} % of one core on average (max ${Math.max(...cpuPct).toFixed(0)} % in a second; ` +
        `main thread ${(atStop.mainCpuS / writeS * 100).toFixed(0)} %), ${os.availableParallelism()} cores; ` +
        `writer CPU ${((wcpu.user + wcpu.system) / 1e6).toFixed(1)} s; daemon answered the samples in ${summarize(samples.map((s) => s.answerMs)).median?.toFixed(0)} ms (median), ` +
        `max ${Math.max(...samples.map((s) => s.answerMs)).toFixed(0)} ms\n` +
        `  load average: ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(' ')} at the end\n` +
        `check: ${ok ? 'ok' : 'FAILED'}: ${detail}\n`,
    );

    const report: ScenarioReport = {
      scenario: 'load',
      title:
        `sustained load: ${o.rate} lines/s for ${seconds} s into ${normal.length} files (${[...new Set(normal.map((f) => f.kind))].join(', ')}), 2 jails each` +
        `${o.hostile ? `, plus a hostile file: ${o.hostile} crafted line(s)/s against a backtracking filter` : ''}; dry-run`,
      params: {
        rate: o.rate,
        seconds,
        files: normal.length,
        kinds: o.kinds,
        jails: status.jails.length,
        poolLines: poolLines,
        poolSeconds: o.poolSeconds,
        seed: o.seed,
        hostile: o.hostile,
        config: o.config,
        quick: o.quick,
        generateSeconds: +genS.toFixed(1),
        loadavgStart: load0,
        loadavgEnd: loadEnd,
        jail: 'two per file: the same stock filter, maxretry 1000000 and 999999 (never reached), findtime 1d, ignoreself false',
        backlog: 'lines written minus lines the daemon has applied (saved with their file position), sampled every second',
        rss: 'VmRSS of the daemon process (all threads) from /proc/PID/status, every second while writing',
        criteria: 'backlog: mean of the second half <= mean of the first + 0.25 s of input; RSS: max of the second half <= 1.1 x max of the first',
        ...machine(),
      },
      rows: [
        row('f2b-fast', 'write rate', 'lines/s', 'higher', [writeRate]),
        row('f2b-fast', 'applied rate', 'lines/s', 'higher', [processedRate], o.hostile ? 'the ten ordinary files' : undefined),
        row('f2b-fast', 'backlog, second half', 'lines', 'lower', [backlogSecond], 'mean'),
        row('f2b-fast', 'backlog, max', 'lines', 'lower', [Math.max(...samples.map((s) => s.backlogLines))]),
        row('f2b-fast', 'drain', 's', 'lower', [drainS], 'after the writer stopped'),
        row('f2b-fast', 'RSS', 'MB', 'lower', rss, 'VmRSS every second while writing'),
        row('f2b-fast', 'RSS slope', 'MB/min', 'lower', [rssSlope], 'second half'),
        row('f2b-fast', 'CPU', '% of a core', 'lower', [(atStop.cpuS / writeS) * 100], 'the daemon process, while writing'),
        row('f2b-fast', 'CPU, main thread', '% of a core', 'lower', [(atStop.mainCpuS / writeS) * 100]),
      ],
      check: { ok, detail },
      missing: [{ tool: 'fail2ban-server', reason: 'at the 16-40k lines/s fail2ban-regex reaches on one core (scan scenario), fail2ban-server cannot follow 200,000 lines/s' }],
      raw: { samples, windows, jails: status.jails, counts: { ok: countsOk, problems: countProblems, drained, drainS }, backlogOk, rssOk, idleRssMB: rss0, rssAfterDrainMB: rssEnd, writeS, warnings, crafted },
    };
    writeReport(o.json, report);
    return ok ? 0 : 1;
  } finally {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = args();
  if (o.child) await child(o.child);
  else process.exitCode = await parent(o);
}

main().catch((e: unknown) => {
  process.stderr.write(`load: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 3;
});
