// Memory of the daemon while it tracks many failing addresses: `f2b-fast run --dry-run` (a
// process of its own, private config, sshd jail with maxretry 5 and findtime 1d: nobody is
// banned) is fed a log in which N distinct addresses fail once each (current syslog dates, IPv4
// and a share of IPv6). Measured from /proc/PID/status (the whole process: main thread, matcher
// workers, native tailer): VmRSS of the idle daemon before the feed (baseline), VmRSS once the
// jail reports all N failures through the control socket (after a short settle), and VmHWM (the
// peak), and VmRSS again --idle seconds after the count (the same daemon, left alone). Checked:
// `Currently failed` = `Total failed` = N, nobody banned. Not a test.
//
//   node dist/bench/memory.js [--quick] [--addresses 1000000] [--ipv6 0.1] [--runs 3]
//                             [--settle 3] [--idle 120] [--timeout 600] [--f2b-addresses 100000]
//                             [--f2b-runs 1] [--f2b-timeout 120] [--json FILE]
//
// Each run starts a fresh daemon. fail2ban-server, when installed, is run the same way (private
// copy of /etc/fail2ban, a no-op action, backend polling) on --f2b-addresses addresses, its
// ingest bounded by --f2b-timeout seconds (0: not run).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sendCommand } from '../src/control/connect';
import { jsonArg, machine, procMem, row, ROOT, writeReport, type Row, type ScenarioReport } from './report';

const BIN = path.join(ROOT, 'bin/f2b-fast');
const PYTHON = '/usr/bin/python3';
const FAIL2BAN_SERVER = '/usr/bin/fail2ban-server';
const FAIL2BAN_CLIENT = '/usr/bin/fail2ban-client';
const ETC = '/etc/fail2ban';
const MB = 2 ** 20;

interface Args {
  addresses: number;
  ipv6: number;
  runs: number;
  settle: number;
  idle: number;
  timeout: number;
  f2bAddresses: number;
  f2bRuns: number;
  f2bTimeout: number;
  quick: boolean;
  json?: string;
}

function args(argv = process.argv.slice(2)): Args {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error(`bad argument: ${k}`);
    if (k === '--quick') a.quick = '1';
    else {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      a[k.slice(2)] = argv[++i];
    }
  }
  const quick = a.quick === '1';
  const num = (k: string, def: number) => {
    const v = a[k] === undefined ? def : Number(a[k]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a number >= 0`);
    return v;
  };
  const addresses = Math.floor(num('addresses', quick ? 100_000 : 1_000_000));
  if (addresses < 1 || addresses > 16_000_000) throw new Error('--addresses must be 1..16000000');
  const ipv6 = num('ipv6', 0.1);
  if (ipv6 > 1) throw new Error('--ipv6 is a share, 0..1');
  return {
    addresses,
    ipv6,
    runs: Math.max(1, Math.floor(num('runs', quick ? 1 : 3))),
    settle: num('settle', quick ? 1 : 3),
    idle: num('idle', quick ? 0 : 120),
    timeout: num('timeout', 600),
    f2bAddresses: Math.min(addresses, Math.floor(num('f2b-addresses', quick ? 10_000 : 100_000))),
    f2bRuns: Math.max(1, Math.floor(num('f2b-runs', 1))),
    f2bTimeout: num('f2b-timeout', quick ? 20 : 120),
    quick,
    json: jsonArg(argv),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** syslog's date in local time, as the daemons read it: `Dec  3 21:02:45`. */
function syslogTime(d = new Date()): string {
  const mon = d.toLocaleString('en-US', { month: 'short' });
  return `${mon} ${String(d.getDate()).padStart(2, ' ')} ${d.toTimeString().slice(0, 8)}`;
}

/** The i-th address: IPv4 from 10.0.0.0/8, or (a share `ipv6` of them, spread evenly) IPv6 from
 *  2001:db8::/32 in canonical form. All distinct. */
function address(i: number, ipv6: number): string {
  // groups 3 and 4 never 0 nor above ffff: one canonical spelling for each
  if (Math.floor((i + 1) * ipv6) > Math.floor(i * ipv6)) return `2001:db8:${((i >>> 15) + 1).toString(16)}:${((i & 0x7fff) + 1).toString(16)}::1`;
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** n lines, one sshd failure from each of n distinct addresses, all dated now. */
function feed(n: number, ipv6: number): { data: Buffer; v6: number } {
  const stamp = syslogTime();
  const parts: string[] = [];
  let v6 = 0;
  for (let i = 0; i < n; i++) {
    const ip = address(i, ipv6);
    if (ip.includes(':')) v6++;
    parts.push(`${stamp} web1 sshd[${1000 + (i % 30000)}]: Failed password for invalid user u${i % 1000} from ${ip} port ${1024 + (i % 60000)} ssh2\n`);
  }
  return { data: Buffer.from(parts.join('')), v6 };
}

interface Counts {
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
}

/** The numbers of a jail's status tree ([["Filter", [["Currently failed", n], ...]], ...]). */
function countsOf(tree: unknown): Counts {
  const found: Record<string, number> = {};
  const walk = (x: unknown) => {
    if (!Array.isArray(x)) return;
    if (x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'number') found[x[0]] = x[1];
    for (const y of x) walk(y);
  };
  walk(tree);
  return { currentlyFailed: found['Currently failed'] ?? NaN, totalFailed: found['Total failed'] ?? NaN, currentlyBanned: found['Currently banned'] ?? NaN };
}

/** `status sshd` of f2b-fast through its control socket; null when it does not answer. */
async function f2bFastCounts(sock: string): Promise<Counts | null> {
  try {
    const r = await sendCommand(sock, ['status', 'sshd'], 10_000);
    return r.ok ? countsOf(r.result) : null;
  } catch {
    return null;
  }
}

/** `status sshd` of fail2ban-server through fail2ban-client; null when it does not answer. */
function fail2banCounts(conf: string, sock: string): Counts | null {
  const r = spawnSync(FAIL2BAN_CLIENT, ['-c', conf, '-s', sock, 'status', 'sshd'], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) return null;
  const num = (k: string) => Number(new RegExp(`${k}:\\s*(\\d+)`).exec(r.stdout)?.[1] ?? NaN);
  return { currentlyFailed: num('Currently failed'), totalFailed: num('Total failed'), currentlyBanned: num('Currently banned') };
}

/** SIGTERM by PID, SIGKILL after 60 s; resolves once it has exited (or 70 s at most). */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  let done!: () => void;
  const exited = new Promise<void>((r) => (done = r));
  child.once('exit', () => done());
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const giveUp = setTimeout(done, 70_000);
  await exited;
  clearTimeout(kill);
  clearTimeout(giveUp);
}

const fileSize = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);

/** One run of one tool. Memory in bytes, times in seconds. */
interface MemRun {
  tool: string;
  addresses: number;
  /** the jail's counts when the measure was taken */
  counts: Counts;
  /** all N counted within the time bound */
  complete: boolean;
  baselineRss: number;
  /** right when the count reached N */
  rssAtCount: number;
  /** after the settle: the figure reported as RSS */
  rss: number;
  peakRss: number;
  bytesPerAddress: number;
  ingestS: number;
  /** RSS --idle seconds after the count (NaN when --idle 0) */
  rssIdle: number;
  /** database file (and its -wal) after the daemon stopped */
  dbBytes: number;
  /** RSS samples during the settle, MB */
  settleMB: number[];
}

interface Tool {
  name: string;
  start(work: string, log: string): { child: ChildProcess; db: string; counts: () => Promise<Counts | null> };
  /** how often to ask for the counts, ms */
  pollMs: number;
}

/** Runs one daemon: start, idle baseline, feed, wait for N counted, settle, stop. */
async function measure(tool: Tool, data: Buffer, n: number, timeoutS: number, settleS: number, idleS: number): Promise<MemRun> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `f2b-memory-${tool.name}-`));
  const log = path.join(work, 'auth.log');
  fs.writeFileSync(log, '');
  let child: ChildProcess | undefined;
  let stderr = '';
  try {
    const t = tool.start(work, log);
    child = t.child;
    child.on('error', (e) => (stderr += `\n${e.message}`));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.stdout?.resume();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${tool.name} did not start: ${stderr.trim()}`);
    // ready: the jail answers its status
    const readyBy = Date.now() + 60_000;
    while (!(await t.counts())) {
      if (child.exitCode !== null || Date.now() > readyBy) throw new Error(`${tool.name} did not answer on its socket within 60 s (exit ${child.exitCode}): ${stderr.trim()}`);
      await sleep(200);
    }
    await sleep(1000);
    const base = procMem(pid);
    if (!base) throw new Error(`${tool.name} exited before the feed: ${stderr.trim()}`);

    const t0 = process.hrtime.bigint();
    fs.appendFileSync(log, data);
    const end = Date.now() + timeoutS * 1000;
    let counts: Counts | null = null;
    let complete = false;
    for (;;) {
      counts = (await t.counts()) ?? counts;
      if (counts && counts.totalFailed >= n) {
        complete = true;
        break;
      }
      if (Date.now() > end || child.exitCode !== null) break;
      await sleep(tool.pollMs);
    }
    const ingestS = Number(process.hrtime.bigint() - t0) / 1e9;
    const atCount = procMem(pid);
    const countedAt = Date.now();
    const settleMB: number[] = [];
    const settleEnd = Date.now() + settleS * 1000;
    while (Date.now() < settleEnd) {
      await sleep(250);
      const m = procMem(pid);
      if (m) settleMB.push(+(m.rss / MB).toFixed(1));
    }
    counts = (await t.counts()) ?? counts;
    const after = procMem(pid);
    if (!after || !atCount || !counts) throw new Error(`${tool.name} exited during the measure: ${stderr.trim()}`);
    // the same daemon left idle: what it gives back (V8 shrinks its heap some time after a load)
    let idle: { rss: number; hwm: number } | null = null;
    if (idleS > 0) {
      await sleep(Math.max(0, idleS * 1000 - (Date.now() - countedAt)));
      idle = procMem(pid);
    }
    await stopChild(child);
    const tracked = counts.currentlyFailed;
    return {
      tool: tool.name,
      addresses: n,
      counts,
      complete,
      baselineRss: base.rss,
      rssAtCount: atCount.rss,
      rss: after.rss,
      peakRss: after.hwm,
      bytesPerAddress: tracked > 0 ? (after.rss - base.rss) / tracked : NaN,
      ingestS,
      rssIdle: idle ? idle.rss : NaN,
      dbBytes: fileSize(t.db) + fileSize(`${t.db}-wal`),
      settleMB,
    };
  } finally {
    if (child) await stopChild(child);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const f2bFast = (): Tool => ({
  name: 'f2b-fast',
  pollMs: 100,
  start(work, log) {
    const conf = path.join(work, 'conf');
    fs.cpSync(path.join(ROOT, 'filters'), conf, { recursive: true });
    // the bundled jail.conf enables sshd; nobody reaches 5 failures, so nobody is banned
    fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nenabled = true\nlogpath = ${log}\nmaxretry = 5\nfindtime = 1d\nbantime = 1h\nignoreself = false\n`);
    const db = path.join(work, 'state.sqlite3');
    const sock = path.join(work, 'f2b.sock');
    const child = spawn(process.execPath, [BIN, 'run', '--dry-run', '--config', conf, '--db', db, '--socket', sock, '--logtarget', path.join(work, 'daemon.log')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { child, db, counts: () => f2bFastCounts(sock) };
  },
});

const fail2ban = (): Tool => ({
  name: 'fail2ban-server',
  // each poll is a fail2ban-client process (0.3 s of CPU beside the server)
  pollMs: 2000,
  start(work, log) {
    // Debian's /etc/fail2ban, jail.d emptied (it enables sshd on the system's journal), its own
    // socket, pid file, database and log, and an action that does nothing (no firewall)
    const conf = path.join(work, 'conf');
    fs.cpSync(ETC, conf, { recursive: true });
    const jailD = path.join(conf, 'jail.d');
    for (const f of fs.readdirSync(jailD)) fs.rmSync(path.join(jailD, f), { recursive: true, force: true });
    const db = path.join(work, 'fail2ban.sqlite3');
    const sock = path.join(work, 'fail2ban.sock');
    fs.writeFileSync(
      path.join(conf, 'fail2ban.local'),
      `[DEFAULT]\nloglevel = INFO\nlogtarget = ${path.join(work, 'fail2ban.log')}\nsocket = ${sock}\npidfile = ${path.join(work, 'fail2ban.pid')}\ndbfile = ${db}\nallowipv6 = auto\n`,
    );
    fs.writeFileSync(path.join(conf, 'action.d/bench-noop.conf'), '[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n');
    fs.writeFileSync(
      path.join(conf, 'jail.local'),
      `[sshd]\nenabled = true\nbackend = polling\nlogpath = ${log}\naction = bench-noop\nmaxretry = 5\nfindtime = 1d\nbantime = 1h\nignoreself = false\n`,
    );
    const child = spawn(PYTHON, [FAIL2BAN_SERVER, '-c', conf, '-x', '-f'], { stdio: ['ignore', 'pipe', 'pipe'] });
    return { child, db, counts: async () => fail2banCounts(conf, sock) };
  },
});

const mb = (b: number) => b / MB;

function printRun(r: MemRun, i: number, of: number): void {
  process.stdout.write(
    `  ${r.tool} run ${i + 1}/${of}: ${r.addresses} addresses, counted ${r.counts.totalFailed} (currently failed ${r.counts.currentlyFailed}, ` +
      `banned ${r.counts.currentlyBanned})${r.complete ? '' : ' INCOMPLETE'} in ${r.ingestS.toFixed(2)} s; baseline ${mb(r.baselineRss).toFixed(1)} MB, ` +
      `RSS ${mb(r.rssAtCount).toFixed(1)} MB at the count, ${mb(r.rss).toFixed(1)} MB settled, ` +
      `${Number.isNaN(r.rssIdle) ? '' : `${mb(r.rssIdle).toFixed(1)} MB after idling, `}peak ${mb(r.peakRss).toFixed(1)} MB, ` +
      `${Math.round(r.bytesPerAddress)} bytes/address, database ${mb(r.dbBytes).toFixed(1)} MB\n`,
  );
}

function rowsOf(tool: string, runs: MemRun[], note?: string): Row[] {
  const rows = [
    row(tool, 'RSS', 'MB', 'lower', runs.map((r) => mb(r.rss)), note),
    row(tool, 'peak RSS', 'MB', 'lower', runs.map((r) => mb(r.peakRss)), note),
    row(tool, 'bytes/address', 'bytes', 'lower', runs.map((r) => r.bytesPerAddress), note),
    row(tool, 'baseline RSS', 'MB', 'lower', runs.map((r) => mb(r.baselineRss)), note),
    row(tool, 'ingest', 's', 'lower', runs.map((r) => r.ingestS), note),
    row(tool, 'RSS after idle', 'MB', 'lower', runs.map((r) => mb(r.rssIdle)), `${note ? `${note}; ` : ''}the same daemon, --idle seconds after the count`),
    row(tool, 'database', 'MB', 'lower', runs.map((r) => mb(r.dbBytes)), note),
  ];
  return rows.filter((r) => r.runs > 0);
}

async function main(): Promise<number> {
  const o = args();
  const { data, v6 } = feed(o.addresses, o.ipv6);
  process.stderr.write(`memory: ${o.addresses} addresses (${v6} IPv6), ${(data.length / 1e6).toFixed(1)} MB of log\n`);

  const ours: MemRun[] = [];
  const errors: string[] = [];
  for (let i = 0; i < o.runs; i++) {
    try {
      const r = await measure(f2bFast(), data, o.addresses, o.timeout, o.settle, o.idle);
      ours.push(r);
      printRun(r, i, o.runs);
    } catch (e) {
      errors.push(`f2b-fast run ${i + 1}: ${(e as Error).message}`);
      process.stderr.write(`memory: ${errors[errors.length - 1]}\n`);
    }
  }

  const missing: ScenarioReport['missing'] = [];
  const theirs: MemRun[] = [];
  const f2bN = o.f2bAddresses;
  if (!fs.existsSync(FAIL2BAN_SERVER) || !fs.existsSync(FAIL2BAN_CLIENT) || !fs.existsSync(path.join(ETC, 'filter.d/sshd.conf'))) {
    missing.push({ tool: 'fail2ban-server', reason: `not installed (${FAIL2BAN_SERVER} or ${ETC}/filter.d/sshd.conf missing)` });
  } else if (o.f2bTimeout <= 0 || f2bN <= 0) {
    missing.push({ tool: 'fail2ban-server', reason: 'disabled (--f2b-timeout 0 or --f2b-addresses 0)' });
  } else {
    // the first f2bN lines of the same feed: the same addresses, the same share of IPv6
    let cut = 0;
    for (let k = 0; k < f2bN; k++) cut = data.indexOf(10, cut) + 1;
    for (let i = 0; i < o.f2bRuns; i++) {
      try {
        const r = await measure(fail2ban(), data.subarray(0, cut), f2bN, o.f2bTimeout, o.settle, o.idle);
        theirs.push(r);
        printRun(r, i, o.f2bRuns);
      } catch (e) {
        errors.push(`fail2ban-server run ${i + 1}: ${(e as Error).message}`);
        process.stderr.write(`memory: ${errors[errors.length - 1]}\n`);
      }
    }
    if (!theirs.length) missing.push({ tool: 'fail2ban-server', reason: `failed: ${errors.filter((e) => e.startsWith('fail2ban')).join('; ')}` });
  }

  // the check: every f2b-fast run tracked exactly N failures, counted N, banned nobody
  const bad = ours.filter((r) => !r.complete || r.counts.currentlyFailed !== o.addresses || r.counts.totalFailed !== o.addresses || r.counts.currentlyBanned !== 0);
  const ok = ours.length === o.runs && bad.length === 0;
  const list = (f: (r: MemRun) => number) => [...new Set(ours.map(f))].join(', ') || 'none';
  let detail =
    `f2b-fast: ${o.addresses} addresses fed; currently failed ${list((r) => r.counts.currentlyFailed)}, total failed ` +
    `${list((r) => r.counts.totalFailed)}, banned ${list((r) => r.counts.currentlyBanned)} in ${ours.length} of ${o.runs} runs`;
  if (theirs.length) {
    detail += `; fail2ban-server (${f2bN} addresses): currently failed ${[...new Set(theirs.map((r) => r.counts.currentlyFailed))].join(', ')}, ` +
      `total failed ${[...new Set(theirs.map((r) => r.counts.totalFailed))].join(', ')}` +
      `${theirs.some((r) => !r.complete) ? ` (not all counted within ${o.f2bTimeout} s)` : ''}`;
  }

  const rows = rowsOf('f2b-fast', ours, `${o.addresses} addresses`);
  if (theirs.length) {
    const incomplete = theirs.some((r) => !r.complete);
    rows.push(...rowsOf('fail2ban-server', theirs,
      `${f2bN} addresses (not ${o.addresses})${incomplete ? `; not all counted within ${o.f2bTimeout} s: bytes/address over those counted` : ''}`));
  }

  const med = (tool: string, metric: string) => rows.find((r) => r.tool === tool && r.metric === metric)?.median ?? NaN;
  process.stdout.write(
    `memory: f2b-fast tracking ${o.addresses} failing addresses: RSS ${med('f2b-fast', 'RSS').toFixed(1)} MB ` +
      `(baseline ${med('f2b-fast', 'baseline RSS').toFixed(1)} MB, peak ${med('f2b-fast', 'peak RSS').toFixed(1)} MB), ` +
      `${Math.round(med('f2b-fast', 'bytes/address'))} bytes/address, ingest ${med('f2b-fast', 'ingest').toFixed(2)} s, ` +
      `database ${med('f2b-fast', 'database').toFixed(1)} MB; median of ${ours.length} run(s)\n`,
  );
  if (theirs.length) {
    process.stdout.write(
      `memory: fail2ban-server tracking ${f2bN} failing addresses: RSS ${med('fail2ban-server', 'RSS').toFixed(1)} MB ` +
        `(baseline ${med('fail2ban-server', 'baseline RSS').toFixed(1)} MB, peak ${med('fail2ban-server', 'peak RSS').toFixed(1)} MB), ` +
        `${Math.round(med('fail2ban-server', 'bytes/address'))} bytes/address, ingest ${med('fail2ban-server', 'ingest').toFixed(2)} s; ` +
        `median of ${theirs.length} run(s)\n`,
    );
  }
  process.stdout.write(`check: ${ok ? 'ok' : 'FAILED'}: ${detail}\n`);

  writeReport(o.json, {
    scenario: 'memory',
    title: `daemon RSS while tracking ${o.addresses} failing addresses (one failure each, ${v6} IPv6), sshd jail, dry-run`,
    params: {
      addresses: o.addresses,
      ipv6Addresses: v6,
      logBytes: data.length,
      runs: o.runs,
      settleSeconds: o.settle,
      idleSeconds: o.idle,
      timeoutSeconds: o.timeout,
      fail2banAddresses: f2bN,
      fail2banRuns: o.f2bRuns,
      fail2banTimeoutSeconds: o.f2bTimeout,
      quick: o.quick,
      jail: 'sshd, maxretry 5, findtime 1d, bantime 1h, ignoreself false (nobody banned)',
      method: 'VmRSS and VmHWM from /proc/PID/status of the daemon process (all its threads); baseline: idle, 1 s after it answered its socket; ' +
        'RSS: after the jail reported all N failures and a settle; bytes/address = (RSS - baseline) / currently failed; MB = 2^20 bytes',
      command: { 'f2b-fast': 'bin/f2b-fast run --dry-run --config DIR --db FILE --socket SOCK --logtarget FILE', 'fail2ban-server': `${PYTHON} ${FAIL2BAN_SERVER} -c DIR -x -f` },
      ...machine(),
    },
    rows,
    check: { ok, detail },
    missing,
    raw: { runs: [...ours, ...theirs], errors },
  });
  return ok ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`memory: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
