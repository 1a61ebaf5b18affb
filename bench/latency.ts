// Scenario "latency": how long after an attacker's crossing failure is written to a busy log is
// its address blocked by the kernel? Not a test: it prints figures, and checks that the bans are
// the right ones.
//
//   node dist/bench/latency.js [--quick] [--rate 50000] [--seconds 20] [--attackers 200]
//                              [--near-misses N] [--runs K] [--grace S] [--seed S]
//                              [--tools f2b-fast,fail2ban-server,sshguard] [--detect auto|monitor|poll]
//                              [--json FILE]
//
// Per tool and run, in two network namespaces this script creates and removes (the daemon's,
// with a TCP server on port 22, and the clients', joined by a veth pair; nothing in the host's):
// - the daemon starts on an empty auth.log (sshd jail, maxretry 3, findtime and bantime 1 h);
// - a writer appends sshd lines at a steady --rate lines/s for --seconds, one chunk every 10 ms:
//   benign traffic (logins, sessions, disconnects of 172.16/12 clients) with current syslog
//   dates, plus --attackers addresses (10/8) failing exactly 3 times and --near-misses failing
//   twice (never to be banned), spread over the run by a seeded PRNG (the same plan for every
//   tool and run). The moment each attacker's third failure ("crossing line") was written is
//   taken right after the write call returns;
// - how a ban is seen: by traffic where the tool's firewall rule rejects (f2b-fast, and
//   fail2ban's stock nftables action): every attacker is a /32 of the clients' namespace, and a
//   prober there connects from it to port 22 from the moment its crossing line is written until
//   the connection is refused (every 2 % of the time waited so far, at least every 2 ms and at
//   most 500 ms apart); the ban time is the start of the first refused attempt (the start of
//   the last one that connected is kept too: the ban fell between the two). A tool whose rule
//   drops (sshguard) cannot be seen that way (a timeout is also what a starved prober sees), so
//   `nft monitor` in the daemon's namespace reports its set's new elements as the kernel adds
//   them (the time: when the event reaches us). `--detect poll` lists the set every 20 ms instead
//   (what this script first did for sshguard: its figures were 10-15 ms later than the
//   monitor's, the listing's own granularity); `--detect monitor` uses the monitor for every tool
//   (a cross-check of the prober);
// - latency = ban time - write time, per attacker; a run gives p50, p99 and max. A run where some
//   attacker is not banned within --grace seconds after the end of the writing gives no figures
//   (null), and says how many were missing: a real result, not an error;
// - after the run, the set must hold exactly the attackers: no near-miss, no benign address, none
//   missing (for f2b-fast; for a rival, the bans that did arrive must be attackers).
// Tools run one after another (never two at once), each run on a fresh file and in fresh
// namespaces. Rows are the medians over runs of each run's p50, p99 and max.
//
// Exit: 0 ok; 1 the correctness check failed; 2 bad usage or an error.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createLinkedPair, netnsAvailable, startTcpServer, type LinkedPair, type Netns } from '../test/helpers/netns';
import { attacker, setup, startDaemon, stopDaemon, syslogTime, TABLE, waitForSocket } from './firewall';
import { mulberry32 } from './generate';
import { intOption, machine, percentile, ROOT, row, which, writeReport, type Row, type ScenarioReport } from './report';

const MAXRETRY = 3;
const CHUNK_MS = 10;
const POLL_MS = 20;
/** the prober's attempts from a watched address: every 2 % of the time waited, within these */
const PROBE_MIN_MS = 2;
const PROBE_MAX_MS = 500;
const PYTHON = '/usr/bin/python3';
const FAIL2BAN_SERVER = '/usr/bin/fail2ban-server';
const FAIL2BAN_ETC = '/etc/fail2ban';
const TOOLS = ['f2b-fast', 'fail2ban-server', 'sshguard'] as const;
type ToolName = (typeof TOOLS)[number];

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

// ---- options --------------------------------------------------------------------------------

interface Opts {
  rate: number;
  seconds: number;
  attackers: number;
  nearMisses: number;
  runs: number;
  /** seconds after the end of the writing a tool still has to ban the attackers */
  grace: number;
  seed: number;
  tools: ToolName[];
  /** auto: traffic where the tool's rule rejects, else nft monitor; or one way for all tools */
  detect: 'auto' | 'monitor' | 'poll';
  quick: boolean;
  json?: string;
}

const USAGE = `usage: node dist/bench/latency.js [--quick] [--rate LINES_PER_S] [--seconds S] [--attackers N]
                                 [--near-misses N] [--runs K] [--grace S] [--seed S]
                                 [--tools f2b-fast,fail2ban-server,sshguard] [--detect auto|monitor|poll]
                                 [--json FILE]`;

function usage(msg?: string): never {
  if (msg) process.stderr.write(`latency: ${msg}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

function parseOpts(argv: string[]): Opts {
  const quick = argv.includes('--quick');
  const o: Opts = { rate: 50_000, seconds: quick ? 5 : 20, attackers: quick ? 50 : 200, nearMisses: -1, runs: quick ? 1 : 3, grace: 30, seed: 42, tools: [...TOOLS], detect: 'auto', quick };
  const int = (v: string | undefined, name: string, lo: number, hi: number): number => intOption(v, name, lo, hi, usage);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--quick': break;
      case '--rate': o.rate = int(argv[++i], a, 100, 1_000_000); break;
      case '--seconds': o.seconds = int(argv[++i], a, 1, 600); break;
      case '--attackers': o.attackers = int(argv[++i], a, 1, 5000); break;
      case '--near-misses': o.nearMisses = int(argv[++i], a, 0, 5000); break;
      case '--runs': o.runs = int(argv[++i], a, 1, 50); break;
      case '--grace': o.grace = int(argv[++i], a, 1, 600); break;
      case '--seed': o.seed = int(argv[++i], a, 0, 0xffffffff); break;
      case '--json': o.json = argv[++i] ?? usage('--json needs a file'); break;
      case '--detect': {
        const d = argv[++i];
        if (d !== 'auto' && d !== 'monitor' && d !== 'poll') usage('--detect takes auto, monitor or poll');
        o.detect = d;
        break;
      }
      case '--tools': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        if (!list.length || list.some((t) => !(TOOLS as readonly string[]).includes(t))) usage(`--tools takes a comma-separated list of ${TOOLS.join(', ')}`);
        o.tools = list as ToolName[];
        break;
      }
      case '-h': case '--help': usage();
      default: usage(`unknown argument ${a}`);
    }
  }
  if (o.nearMisses < 0) o.nearMisses = Math.ceil(o.attackers / 2);
  return o;
}

// ---- the log: what is written, and when -----------------------------------------------------

interface Failure {
  /** ms after the start of the writing */
  at: number;
  ip: string;
  /** the attacker's maxretry-th failure */
  crossing: boolean;
}

interface Plan {
  attackers: string[];
  nearMisses: string[];
  failures: Failure[];
  lines: number;
}

/** A near-miss: 10.128/9, apart from the attackers (10.0/16 for up to 65,536 of them). */
const nearMiss = (j: number) => attacker(0x800000 + j);

/**
 * Attacker i crosses at a time drawn within its slot of 5 %..90 % of the run (so crossings are
 * spread evenly), its earlier failures anywhere before; a near-miss fails twice within 0..95 %.
 */
function makePlan(o: Opts): Plan {
  const rnd = mulberry32(o.seed);
  const span = o.seconds * 1000;
  const failures: Failure[] = [];
  const attackers = Array.from({ length: o.attackers }, (_, i) => attacker(i));
  attackers.forEach((ip, i) => {
    const crossing = span * (0.05 + (0.85 * (i + rnd())) / o.attackers);
    for (let k = 1; k < MAXRETRY; k++) failures.push({ at: rnd() * crossing, ip, crossing: false });
    failures.push({ at: crossing, ip, crossing: true });
  });
  const nearMisses = Array.from({ length: o.nearMisses }, (_, j) => nearMiss(j));
  for (const ip of nearMisses) for (let k = 1; k < MAXRETRY; k++) failures.push({ at: rnd() * span * 0.95, ip, crossing: false });
  failures.sort((a, b) => a.at - b.at);
  return { attackers, nearMisses, failures, lines: Math.round((o.rate * span) / 1000) };
}

/** Benign client of session s: 172.16.0.0/12. */
const client = (s: number) => `172.${16 + ((s >> 16) & 15)}.${(s >> 8) & 255}.${s & 255}`;

/**
 * The i-th benign line: a session of five lines (a key or password login, its pam session, a
 * client disconnect, the session's end), none a failure for the stock sshd filter (fail2ban and
 * f2b-fast take the login and the disconnect as no-failure lines). Pids 2000..21999.
 */
function benignLine(stamp: string, i: number): string {
  const s = Math.floor(i / 5);
  const ip = client(s);
  const head = `${stamp} web1 sshd[${2000 + (s % 20_000)}]: `;
  switch (i % 5) {
    case 0: return `${head}${s % 3 ? 'Accepted publickey for deploy' : 'Accepted password for alice'} from ${ip} port ${1024 + (s % 60_000)} ssh2${s % 3 ? ': ED25519 SHA256:Zm9vYmFyYmF6cXV4' : ''}\n`;
    case 1: return `${head}pam_unix(sshd:session): session opened for user ${s % 3 ? 'deploy(uid=1000)' : 'alice(uid=1001)'} by (uid=0)\n`;
    case 2: return `${head}Received disconnect from ${ip} port ${1024 + (s % 60_000)}:11: disconnected by user\n`;
    case 3: return `${head}Disconnected from user ${s % 3 ? 'deploy' : 'alice'} ${ip} port ${1024 + (s % 60_000)}\n`;
    default: return `${head}pam_unix(sshd:session): session closed for user ${s % 3 ? 'deploy' : 'alice'}\n`;
  }
}

/** The n-th failure line (its own pid, 30000..59999: no benign session shares it). */
function failureLine(stamp: string, ip: string, n: number): string {
  const who = n % 2 ? 'root' : 'invalid user admin';
  return `${stamp} web1 sshd[${30_000 + (n % 30_000)}]: Failed password for ${who} from ${ip} port ${20_000 + (n % 40_000)} ssh2\n`;
}

interface WriterStats {
  lines: number;
  bytes: number;
  ms: number;
  /** the latest a chunk was written after its due time */
  maxLagMs: number;
}

/**
 * Appends the plan's lines at the steady rate, a chunk every CHUNK_MS (a late chunk catches up).
 * onCrossing gets each attacker's crossing line and the epoch ms after its write returned.
 * Bounded: it stops --seconds + 10 s after it began, whatever is left.
 */
async function writeLog(file: string, o: Opts, p: Plan, onCrossing: (ip: string, at: number) => void): Promise<WriterStats> {
  const fd = fs.openSync(file, 'a');
  const t0 = now();
  const stop = t0 + o.seconds * 1000 + 10_000;
  let written = 0;
  let benign = 0;
  let next = 0;
  let bytes = 0;
  let maxLagMs = 0;
  try {
    for (let tick = 1; (written < p.lines || next < p.failures.length) && now() < stop; tick++) {
      const due = t0 + tick * CHUNK_MS;
      await sleep(due - now());
      maxLagMs = Math.max(maxLagMs, now() - due);
      const elapsed = now() - t0;
      const stamp = syslogTime();
      const chunk: string[] = [];
      const crossings: string[] = [];
      for (; next < p.failures.length && p.failures[next].at <= elapsed; next++) {
        const f = p.failures[next];
        chunk.push(failureLine(stamp, f.ip, next));
        if (f.crossing) crossings.push(f.ip);
      }
      const target = Math.min(p.lines, Math.floor((o.rate * elapsed) / 1000));
      while (written + chunk.length < target) chunk.push(benignLine(stamp, benign++));
      const data = chunk.join('');
      fs.writeSync(fd, data);
      const at = now();
      written += chunk.length;
      bytes += Buffer.byteLength(data);
      for (const ip of crossings) onCrossing(ip, at);
    }
  } finally {
    fs.closeSync(fd);
  }
  if (next < p.failures.length) throw new Error(`the writer fell behind: ${p.failures.length - next} failure lines not written in time`);
  return { lines: written, bytes, ms: now() - t0, maxLagMs };
}

// ---- seeing bans ----------------------------------------------------------------------------

/**
 * The prober, in the clients' namespace: `watch ADDRESS` on stdin starts connecting from that
 * address to port 22 of the daemon's namespace until refused (the jail's reject: the address is
 * in the kernel set), then prints `blocked ADDRESS EPOCH_MS LAST_MS` (the start of the refused
 * attempt, and of the last one that connected). An attempt starts 2 % of the time waited so far
 * after the previous one began, within PROBE_MIN_MS..PROBE_MAX_MS: fine at first, and a light
 * load when a tool lags by seconds with hundreds of addresses pending. A timeout never
 * counts (a drop, or a prober starved of CPU). `check ADDRESS` tries once and prints `checked
 * ADDRESS connected|refused|timeout`. The bystander must stay reachable: it is tried every
 * 500 ms, and `bystander-blocked` printed if refused. It exits when its stdin closes.
 */
const PROBER = `
const net = require('node:net');
const [host, bystander] = process.argv.slice(1);
const now = () => performance.timeOrigin + performance.now();
const attempt = (local, ms) => new Promise((resolve) => {
  const s = net.connect({ host, port: 22, localAddress: local });
  const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, ms);
  s.on('connect', () => { clearTimeout(t); s.destroy(); resolve('connected'); });
  s.on('error', (e) => { clearTimeout(t); resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'timeout'); });
});
const watched = new Map();
const probe = async (a, w) => {
  w.busy = true;
  const t = now();
  const r = await attempt(a, 300);
  w.busy = false;
  if (r === 'refused') { watched.delete(a); process.stdout.write('blocked ' + a + ' ' + t.toFixed(1) + ' ' + w.last.toFixed(1) + ' ' + w.timeouts + '\\n'); return; }
  if (r === 'connected') w.last = t;
  else w.timeouts++;
  w.next = t + Math.min(${PROBE_MAX_MS}, Math.max(${PROBE_MIN_MS}, (t - w.since) * 0.02));
};
setInterval(() => {
  const t = now();
  for (const [a, w] of watched) if (!w.busy && t >= w.next) probe(a, w);
}, 1);
setInterval(async () => { if ((await attempt(bystander, 300)) === 'refused') process.stdout.write('bystander-blocked\\n'); }, 500);
let buf = '';
process.stdin.setEncoding('utf8').on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const [cmd, a] = buf.slice(0, nl).split(' ');
    buf = buf.slice(nl + 1);
    if (cmd === 'watch' && !watched.has(a)) watched.set(a, { since: now(), next: 0, last: now(), timeouts: 0, busy: false });
    if (cmd === 'check') attempt(a, 1000).then((r) => process.stdout.write('checked ' + a + ' ' + r + '\\n'));
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write('ready\\n');
`;

/** Where a tool's bans are seen from, and when each attacker was first seen banned. */
interface Watcher {
  /** how: by traffic, nft monitor or listings (for the output) */
  how: string;
  /** the crossing line of ip was just written */
  watch(ip: string): void;
  /** epoch ms each address was first seen banned */
  seen: Map<string, number>;
  /** epoch ms each address was last seen not banned (the ban fell between the two) */
  before: Map<string, number>;
  /** attempts that timed out (neither connected nor refused) before the ban was seen, by address */
  timeouts: Map<string, number>;
  /** of these addresses, the ones it cannot see banned now (traffic: not refused) */
  unconfirmed(addrs: string[]): Promise<string[]>;
  bystanderBlocked(): boolean;
  stop(): Promise<void>;
}

/** Runs argv in ns and throws unless it exits 0. */
async function must(ns: Netns, argv: string[], input?: string): Promise<void> {
  const r = await ns.exec(argv, { input, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${ns.name}: ${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** Reads a child's stdout line by line. */
function onLines(child: ChildProcess, f: (line: string) => void): void {
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      f(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

/**
 * Starts the prober with every attacker as a /32 of the clients' veth (the daemon's side routes
 * 10/8 back), and checks that each one connects before anything is written.
 */
async function trafficWatcher(pair: LinkedPair, attackers: string[]): Promise<Watcher> {
  await must(pair.cli, ['ip', '-batch', '-'], attackers.map((a) => `addr replace ${a}/32 dev veth-c\n`).join(''));
  await must(pair.srv, ['ip', 'route', 'replace', '10.0.0.0/8', 'dev', 'veth-s']);
  const child = pair.cli.start([process.execPath, '-e', PROBER, pair.addr.srv, pair.addr.bystander]);
  const seen = new Map<string, number>();
  const before = new Map<string, number>();
  const timeouts = new Map<string, number>();
  const checked = new Map<string, string>();
  let bystander = false;
  let ready = false;
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors += d));
  onLines(child, (line) => {
    const m = /^(blocked|checked) (\S+) (\S+)(?: (\S+) (\S+))?$/.exec(line);
    if (m?.[1] === 'blocked' && !seen.has(m[2])) {
      seen.set(m[2], Number(m[3]));
      before.set(m[2], Number(m[4]));
      if (Number(m[5]) > 0) timeouts.set(m[2], Number(m[5]));
    } else if (m?.[1] === 'checked') checked.set(m[2], m[3]);
    else if (line === 'bystander-blocked') bystander = true;
    else if (line === 'ready') ready = true;
  });
  /** one more attempt from each address: the ones not refused */
  const unconfirmed = async (addrs: string[]) => {
    for (const a of addrs) checked.delete(a);
    for (const a of addrs) child.stdin!.write(`check ${a}\n`);
    await until(() => addrs.every((a) => checked.has(a)), 10_000, () => `the prober did not check ${addrs.length} addresses in 10 s`);
    return addrs.filter((a) => checked.get(a) !== 'refused');
  };
  const stop = async () => {
    child.stdin!.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    clearTimeout(t);
  };
  try {
    await until(() => ready, 10_000, () => `the prober was not ready within 10 s: ${errors}`);
    for (const a of attackers) child.stdin!.write(`check ${a}\n`);
    await until(() => checked.size === attackers.length, 20_000, () => `the prober checked ${checked.size} of ${attackers.length} addresses in 20 s: ${errors}`);
    const bad = [...checked].filter(([, r]) => r !== 'connected');
    if (bad.length) throw new Error(`before the run, ${bad.length} attacker addresses did not connect (${bad.slice(0, 5).map(([a, r]) => `${a}: ${r}`).join(', ')})`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { how: 'traffic (refused connections)', watch: (ip) => void child.stdin!.write(`watch ${ip}\n`), seen, before, timeouts, unconfirmed, bystanderBlocked: () => bystander, stop };
}

/** An nft set: family, table, set name. */
interface SetRef {
  family: string;
  table: string;
  set: string;
}

/** The set's IPv4 elements, or null when it cannot be listed (no table yet). */
async function listSet(ns: Netns, s: SetRef): Promise<Set<string> | null> {
  const r = await ns.exec(['nft', '-j', 'list', 'set', s.family, s.table, s.set], { timeoutMs: 30_000 });
  if (r.code !== 0) return null;
  const out = new Set<string>();
  const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((x) => x.set)?.set;
  for (const e of set?.elem ?? []) {
    // a plain address, {elem: {val, timeout, ...}} (sets with timeouts), or {prefix: ...}
    const v = e as string | { elem?: { val: unknown } };
    const val = typeof v === 'string' ? v : v.elem?.val;
    out.add(typeof val === 'string' ? val : JSON.stringify(val ?? e));
  }
  return out;
}

/** --detect poll: the set listed every POLL_MS; the time is the end of the first listing that holds the address. */
function pollWatcher(ns: Netns, s: SetRef): Watcher {
  const seen = new Map<string, number>();
  const before = new Map<string, number>();
  let running = true;
  let last = now();
  const loop = (async () => {
    while (running) {
      const started = now();
      const members = await listSet(ns, s);
      const at = now();
      for (const m of members ?? []) if (!seen.has(m)) {
        seen.set(m, at);
        before.set(m, last);
      }
      last = started;
      await sleep(POLL_MS - (now() - started));
    }
  })();
  return {
    how: `nft set ${s.family} ${s.table} ${s.set} listed every ${POLL_MS} ms`,
    watch: () => {},
    seen,
    before,
    timeouts: new Map(),
    unconfirmed: async () => [],
    bystanderBlocked: () => false,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Our own table, in the daemon's namespace, for checking that the monitor is live. */
const MONITOR_CHECK = 'f2blatmon';

/**
 * For a tool whose rule drops: `nft monitor new elements` in the daemon's namespace reports each
 * element when the kernel adds it; the time is when its line reaches this process (a pipe and
 * our event loop after the kernel's commit: an upper bound, by about a millisecond). Before the
 * run, an element added to a table of our own must come through (the monitor is live).
 */
async function monitorWatcher(ns: Netns, s: SetRef): Promise<Watcher> {
  const child = ns.start(['nft', 'monitor', 'new', 'elements']);
  const output = capture(child, false);
  const seen = new Map<string, number>();
  let live = false;
  onLines(child, (line) => {
    const at = now();
    const m = /^add element (\S+) (\S+) (\S+) \{ (.*) \}$/.exec(line);
    if (m?.[2] === MONITOR_CHECK) live = true;
    if (!m || m[1] !== s.family || m[2] !== s.table || m[3] !== s.set) return;
    // "10.0.0.5", "10.0.0.5 timeout 1h expires 59m59s", several in one line: the addresses
    for (const e of m[4].split(', ').map((x) => x.split(' ')[0])) if (!seen.has(e)) seen.set(e, at);
  });
  const stop = async () => stopChild(child, 2000);
  try {
    const end = Date.now() + 10_000;
    for (let i = 1; !live; i++) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`nft monitor did not report an element within 10 s: ${output()}`);
      await must(ns, ['nft', `add table ip ${MONITOR_CHECK}; add set ip ${MONITOR_CHECK} s { type ipv4_addr; }; add element ip ${MONITOR_CHECK} s { 198.18.0.${i % 250} }`]);
      await sleep(50);
    }
    await must(ns, ['nft', 'delete', 'table', 'ip', MONITOR_CHECK]);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    how: `nft monitor (events of set ${s.family} ${s.table} ${s.set} as the kernel adds its elements)`,
    watch: () => {},
    seen,
    before: new Map(),
    timeouts: new Map(),
    unconfirmed: async () => [],
    bystanderBlocked: () => false,
    stop,
  };
}

async function until(cond: () => boolean, limitMs: number, fail: () => string): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(fail());
    await sleep(20);
  }
}

// ---- the tools ------------------------------------------------------------------------------

interface Running {
  /** the log file the tool reads */
  log: string;
  /** `Total failed` of its sshd jail when it can tell (NaN when not) */
  totalFailed(): Promise<number>;
  /** the tail of its log and output, for diagnostics */
  diagnostics(): string;
  /** anything worth saying about how it ran (its backend, ...) */
  notes(): string[];
  stop(): Promise<void>;
}

interface Tool {
  name: ToolName;
  /** null when it can run here, else why not */
  unavailable(): string | null;
  /** where its bans go (in the daemon's namespace) */
  set: SetRef;
  /** by default: traffic where its rule rejects, else nft monitor (--detect overrides) */
  detect: 'traffic' | 'monitor';
  start(ns: Netns, work: string): Promise<Running>;
}

/** Runs argv on the host (a client talking to a daemon's unix socket), bounded. */
function runHost(argv: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const failedOf = (out: string) => Number(/Total failed:\s*(\d+)/.exec(out)?.[1] ?? NaN);

function tailOf(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/** Keeps the last 8 KB of a child's output, stderr and (unless read elsewhere) stdout, and keeps its pipes drained. */
function capture(child: ChildProcess, stdout = true): () => string {
  let out = '';
  const keep = (d: string) => (out = (out + d).slice(-8192));
  if (stdout) child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  return () => out;
}

/** Stops a child by pid: SIGTERM, SIGKILL after limitMs. */
async function stopChild(child: ChildProcess, limitMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), limitMs);
  await exited;
  clearTimeout(t);
}

const f2bFast: Tool = {
  name: 'f2b-fast',
  unavailable: () => null,
  set: { family: 'inet', table: TABLE, set: 'addr-set-sshd' },
  detect: 'traffic',
  async start(ns, work) {
    const s = setup(work);
    const child = startDaemon(ns, s);
    const output = capture(child);
    await waitForSocket(s.sock, 30_000);
    if (child.exitCode !== null) throw new Error(`f2b-fast exited (${child.exitCode}): ${output()}`);
    const client = () => runHost([process.execPath, path.join(ROOT, 'bin/f2b-fast'), 'client', '--socket', s.sock, 'status', 'sshd']);
    return {
      log: s.log,
      totalFailed: async () => failedOf((await client()).stdout),
      diagnostics: () => `${output()}\n${tailOf(s.out)}`,
      notes: () => ['backend auto (inotify on Linux)'],
      stop: () => stopDaemon(child),
    };
  },
};

/**
 * fail2ban-server from Debian, on a private copy of /etc/fail2ban made at run time: jail.d
 * emptied (Debian's enables sshd on the system's auth log), its own socket, pid file, database
 * and log; the sshd jail on our file with the stock nftables-multiport action (table inet
 * f2b-table, set addr-set-sshd, reject) and the default backend (auto).
 */
const fail2ban: Tool = {
  name: 'fail2ban-server',
  unavailable() {
    for (const f of [PYTHON, FAIL2BAN_SERVER, path.join(FAIL2BAN_ETC, 'jail.conf'), path.join(FAIL2BAN_ETC, 'action.d/nftables-multiport.conf')]) {
      if (!fs.existsSync(f)) return `not installed (${f} is missing)`;
    }
    return null;
  },
  set: { family: 'inet', table: 'f2b-table', set: 'addr-set-sshd' },
  detect: 'traffic',
  async start(ns, work) {
    const conf = path.join(work, 'fail2ban');
    fs.cpSync(FAIL2BAN_ETC, conf, { recursive: true });
    for (const f of fs.readdirSync(path.join(conf, 'jail.d'))) fs.rmSync(path.join(conf, 'jail.d', f), { recursive: true, force: true });
    const file = (name: string) => path.join(work, `fail2ban.${name}`);
    const log = path.join(work, 'auth.log');
    fs.writeFileSync(log, '');
    fs.writeFileSync(path.join(conf, 'fail2ban.local'), `[DEFAULT]\nloglevel = INFO\nlogtarget = ${file('log')}\nsocket = ${file('sock')}\npidfile = ${file('pid')}\ndbfile = ${file('sqlite3')}\nallowipv6 = auto\n`);
    fs.writeFileSync(path.join(conf, 'jail.local'), `[DEFAULT]\nbanaction = nftables-multiport\n\n[sshd]\nenabled = true\nlogpath = ${log}\nmaxretry = ${MAXRETRY}\nfindtime = 1h\nbantime = 1h\n`);
    const child = ns.start([PYTHON, FAIL2BAN_SERVER, '-c', conf, '-x', '-f']);
    const output = capture(child);
    const client = () => runHost([PYTHON, '/usr/bin/fail2ban-client', '-c', conf, '-s', file('sock'), 'status', 'sshd']);
    const end = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`fail2ban-server exited (${child.exitCode}): ${output()}\n${tailOf(file('log'))}`);
      if ((await client()).code === 0) break;
      if (Date.now() > end) throw new Error(`fail2ban-server's sshd jail did not answer within 60 s: ${tailOf(file('log'))}`);
      await sleep(200);
    }
    return {
      log,
      totalFailed: async () => failedOf((await client()).stdout),
      diagnostics: () => `${output()}\n${tailOf(file('log'))}`,
      notes: () => {
        const uses = /Jail 'sshd' uses (\w+)/.exec(tailOf(file('log'), 1000))?.[1];
        return [`backend auto (default; it chose ${uses ?? 'an unknown backend'}${uses === 'poller' ? ': pyinotify is not installed' : ''})`, 'stock action nftables-multiport (its table is created at the first ban)'];
      },
      // a fail2ban far behind takes long to stop; its figures are taken by then
      stop: () => stopChild(child, 5000),
    };
  },
};

/**
 * sshguard, when installed: the pipeline its /usr/sbin/sshguard script builds (log tail, parser,
 * blocker, backend), on our file, with its default threshold (30: three ssh failures of 10), its
 * loopback whitelist and block and detection times of an hour, and its nftables backend (table
 * ip sshguard, set attackers, rule drop): run from its parts so that the host's
 * /etc/sshguard/sshguard.conf (journal reader, backend) plays no part. In its own session, so
 * that stop() ends the whole pipeline by the leader's pid (as its script does with `kill 0`).
 */
const SSHGUARD_LIBEXEC = ['/usr/libexec/sshguard', '/usr/lib/sshguard', '/usr/local/libexec/sshguard'];
const SSHGUARD_PARTS = ['sshg-logtail', 'sshg-parser', 'sshg-blocker', 'sshg-fw-nft-sets'];
const SSHGUARD_SET: SetRef = { family: 'ip', table: 'sshguard', set: 'attackers' };
const sshguardLibexec = () => SSHGUARD_LIBEXEC.find((d) => fs.existsSync(path.join(d, 'sshg-blocker')));
const sshguard: Tool = {
  name: 'sshguard',
  unavailable() {
    if (!which('sshguard')) return 'not installed (no sshguard binary on PATH or in /usr/sbin)';
    const lib = sshguardLibexec();
    if (!lib) return `installed, but its sshg-blocker is in none of ${SSHGUARD_LIBEXEC.join(', ')}`;
    const absent = SSHGUARD_PARTS.filter((f) => !fs.existsSync(path.join(lib, f)));
    return absent.length ? `installed, but without ${absent.map((f) => path.join(lib, f)).join(', ')}` : null;
  },
  set: SSHGUARD_SET,
  detect: 'monitor',
  async start(ns, work) {
    const lib = sshguardLibexec()!;
    const log = path.join(work, 'auth.log');
    fs.writeFileSync(log, '');
    const [tail, parser, blocker, backend] = SSHGUARD_PARTS.map((f) => path.join(lib, f));
    // on TERM (sent to the whole group) the shell waits for its pipeline to end, then exits
    const pipeline = `${tail} '${log}' | ${parser} | ${blocker} -a 30 -p 3600 -s 3600 -w 127.0.0.0/8 | ${backend} &`;
    const child = ns.start(['setsid', '--wait', 'sh', '-c', `trap 'wait; exit 0' TERM; ${pipeline} wait`]);
    const output = capture(child);
    const group = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // gone
      }
    };
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      group('SIGTERM');
      const t = setTimeout(() => {
        group('SIGKILL');
        child.kill('SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(t);
    };
    try {
      // its backend creates the table when it starts; then a moment for tail to reach the end of the file
      const end = Date.now() + 10_000;
      while ((await listSet(ns, SSHGUARD_SET)) === null) {
        if (child.exitCode !== null || Date.now() > end) throw new Error(`sshguard's backend did not create its set within 10 s: ${output()}`);
        await sleep(50);
      }
      await sleep(500);
    } catch (e) {
      await stop();
      throw e;
    }
    return {
      log,
      totalFailed: async () => NaN,
      diagnostics: () => output(),
      notes: () => ['its parts run as its script runs them: sshg-logtail (tail -F) | sshg-parser | sshg-blocker -a 30 | sshg-fw-nft-sets'],
      stop,
    };
  },
};

const ALL: Tool[] = [f2bFast, fail2ban, sshguard];

// ---- one run --------------------------------------------------------------------------------

interface RunResult {
  tool: ToolName;
  run: number;
  detect: string;
  notes: string[];
  writer?: WriterStats;
  /** per attacker: ms from the crossing line's write to the ban being seen */
  latencyMs: Record<string, number>;
  /** null when some attacker was not banned in time */
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** over the attackers that were banned, whether or not all were */
  observed: { p50: number; p99: number; max: number };
  /** how far before the time seen each ban may have come (the last check it was not there), median and max */
  resolutionMs: { median: number; max: number };
  banned: number;
  attackers: number;
  missing: string[];
  nearMissesBanned: string[];
  otherBanned: string[];
  /** attackers in the final set that the watcher never saw banned, though they are (the ban came after the limit) */
  bannedLate: string[];
  /** attackers in the final set whose traffic was not refused (traffic detection failed) */
  inSetUnseen: string[];
  /** prober attempts that timed out before the ban was seen, by attacker */
  probeTimeouts: Record<string, number>;
  bystanderBlocked: boolean;
  /** failures the tool counted by the end (NaN: it cannot tell) and the plan's */
  totalFailed: number;
  expectedFailures: number;
  /** ms after the end of the writing the wait ended */
  waitedMs: number;
  /** the run's wall time: namespaces, daemon and prober; writing; waiting and checking; stopping */
  phasesMs?: { setup: number; write: number; wait: number; stop: number };
  error?: string;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Waits until every attacker is seen banned and the tool has counted every failure (when it can tell), or the limit. */
async function settle(w: Watcher, t: Running, p: Plan, expected: number, limitMs: number): Promise<{ failed: number }> {
  const end = now() + limitMs;
  while (now() < end && p.attackers.some((a) => !w.seen.has(a))) await sleep(50);
  let failed = await t.totalFailed();
  while (now() < end && !Number.isNaN(failed) && failed < expected) {
    await sleep(200);
    failed = await t.totalFailed();
  }
  // a tool that cannot tell how far it read: a second for late (wrong) bans to show
  if (Number.isNaN(failed)) await sleep(Math.min(1000, Math.max(0, end - now())));
  return { failed };
}

/** The set after the run: the union of three listings (a listing can miss elements while the kernel grows the set). */
async function finalSet(ns: Netns, s: SetRef, seen: Map<string, number>): Promise<Set<string>> {
  const all = new Set<string>();
  for (let i = 0; i < 3; i++) {
    for (const m of (await listSet(ns, s)) ?? []) all.add(m);
    if ([...seen.keys()].every((a) => all.has(a))) break;
    await sleep(100);
  }
  return all;
}

function watcherFor(how: Tool['detect'] | 'poll', tool: Tool, pair: LinkedPair, p: Plan): Promise<Watcher> {
  if (how === 'traffic') return trafficWatcher(pair, p.attackers);
  if (how === 'monitor') return monitorWatcher(pair.srv, tool.set);
  return Promise.resolve(pollWatcher(pair.srv, tool.set));
}

async function runOnce(tool: Tool, o: Opts, p: Plan, run: number): Promise<RunResult> {
  const pair = await createLinkedPair('f2blat');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-latency-'));
  let running: Running | undefined;
  let watcher: Watcher | undefined;
  let result: RunResult | undefined;
  const marks: number[] = [now()];
  try {
    await startTcpServer(pair.srv, 22);
    running = await tool.start(pair.srv, work);
    watcher = await watcherFor(o.detect === 'auto' ? tool.detect : o.detect, tool, pair, p);
    const w = watcher;
    marks.push(now());
    const written = new Map<string, number>();
    const writer = await writeLog(running.log, o, p, (ip, at) => {
      written.set(ip, at);
      w.watch(ip);
    });
    const endOfWriting = now();
    marks.push(endOfWriting);
    const expected = MAXRETRY * p.attackers.length + (MAXRETRY - 1) * p.nearMisses.length;
    const { failed } = await settle(w, running, p, expected, o.grace * 1000);
    const waitedMs = now() - endOfWriting;
    const members = await finalSet(pair.srv, tool.set, w.seen);
    const inSet = p.attackers.filter((a) => !w.seen.has(a) && members.has(a));
    const unseen = await w.unconfirmed(inSet);
    const late = inSet.filter((a) => !unseen.includes(a));
    marks.push(now());
    result = judge(tool, run, p, { written, watcher: w, members, writer, failed, expected, waitedMs, notes: running.notes(), late, unseen });
  } catch (e) {
    if (running && process.env.F2B_BENCH_KEEP) console.error(running.diagnostics());
    throw e;
  } finally {
    await watcher?.stop();
    await running?.stop();
    await pair.destroy();
    if (process.env.F2B_BENCH_KEEP) console.error(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
  marks.push(now());
  const phase = (i: number) => Math.round(marks[i + 1] - marks[i]);
  return { ...result, phasesMs: { setup: phase(0), write: phase(1), wait: phase(2), stop: phase(3) } };
}

interface Observed {
  written: Map<string, number>;
  watcher: Watcher;
  members: Set<string>;
  writer: WriterStats;
  failed: number;
  expected: number;
  waitedMs: number;
  notes: string[];
  late: string[];
  unseen: string[];
}

function judge(tool: Tool, run: number, p: Plan, s: Observed): RunResult {
  const latencyMs: Record<string, number> = {};
  const missing: string[] = [];
  const resolution: number[] = [];
  for (const a of p.attackers) {
    const at = s.watcher.seen.get(a);
    const w = s.written.get(a);
    if (at === undefined || w === undefined) {
      missing.push(a);
      continue;
    }
    latencyMs[a] = round1(at - w);
    const before = s.watcher.before.get(a);
    if (before !== undefined) resolution.push(at - Math.max(w, before));
  }
  const lat = Object.values(latencyMs);
  const observed = { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.length ? Math.max(...lat) : NaN };
  const attackers = new Set(p.attackers);
  const near = new Set(p.nearMisses);
  const complete = missing.length === 0;
  return {
    tool: tool.name,
    run,
    detect: s.watcher.how,
    notes: s.notes,
    writer: { ...s.writer, ms: Math.round(s.writer.ms), maxLagMs: round1(s.writer.maxLagMs) },
    latencyMs,
    p50: complete ? observed.p50 : null,
    p99: complete ? observed.p99 : null,
    max: complete ? observed.max : null,
    observed,
    resolutionMs: { median: round1(percentile(resolution, 50)), max: resolution.length ? round1(Math.max(...resolution)) : NaN },
    banned: lat.length,
    attackers: p.attackers.length,
    missing,
    nearMissesBanned: [...s.members].filter((m) => near.has(m)),
    otherBanned: [...s.members].filter((m) => !near.has(m) && !attackers.has(m)),
    bannedLate: s.late,
    inSetUnseen: s.unseen,
    probeTimeouts: Object.fromEntries(s.watcher.timeouts),
    bystanderBlocked: s.watcher.bystanderBlocked(),
    totalFailed: s.failed,
    expectedFailures: s.expected,
    waitedMs: Math.round(s.waitedMs),
  };
}

// ---- the report -----------------------------------------------------------------------------

/** Whether the bans that arrived were right (and, when `all`, every attacker was banned). */
function runRight(r: RunResult, all: boolean): boolean {
  if (r.error) return !all;
  const wrong = r.nearMissesBanned.length > 0 || r.otherBanned.length > 0 || r.bystanderBlocked || r.inSetUnseen.length > 0;
  return !wrong && (!all || (r.missing.length === 0 && r.totalFailed === r.expectedFailures));
}

const phases = (r: RunResult) => (r.phasesMs ? `; phases ${Object.entries(r.phasesMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}` : '');

function describeRun(r: RunResult, grace: number): string {
  if (r.error) return `${r.tool} run ${r.run}: error: ${r.error}`;
  const ms = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : `${Math.round(x)} ms`);
  const figures = r.p50 === null ? `${r.missing.length} of ${r.attackers} not banned within ${grace} s after the end of the run (of the ${r.banned} banned: p50 ${ms(r.observed.p50)}, p99 ${ms(r.observed.p99)}, max ${ms(r.observed.max)})` : `p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, max ${ms(r.max)}`;
  const counted = Number.isNaN(r.totalFailed) ? '' : `, failures counted ${r.totalFailed}/${r.expectedFailures}`;
  const timeouts = Object.values(r.probeTimeouts).reduce((a, b) => a + b, 0);
  const unseen = `${timeouts ? `, ${timeouts} probe attempts timed out` : ''}${r.bannedLate.length ? `, ${r.bannedLate.length} more banned just after the limit` : ''}${r.inSetUnseen.length ? `, ${r.inSetUnseen.length} attackers IN THE SET BUT NOT REFUSED` : ''}`;
  return `${r.tool} run ${r.run}: ${figures}; banned ${r.banned}/${r.attackers}, near-misses banned ${r.nearMissesBanned.length}, others banned ${r.otherBanned.length}${r.bystanderBlocked ? ', BYSTANDER BLOCKED' : ''}${unseen}${counted}${Number.isFinite(r.resolutionMs.median) ? `; resolution median ${r.resolutionMs.median} ms` : ''}; writer ${r.writer?.lines} lines in ${r.writer?.ms} ms (max lag ${r.writer?.maxLagMs} ms)${phases(r)}`;
}

function rowsOf(tool: ToolName, runs: RunResult[], grace: number): Row[] {
  const incomplete = runs.filter((r) => r.error || r.p50 === null);
  const note = incomplete.length
    ? incomplete.map((r) => (r.error ? `run ${r.run}: error` : `run ${r.run}: ${r.missing.length} of ${r.attackers} not banned within ${grace} s after the end of the run`)).join('; ')
    : undefined;
  const v = (f: (r: RunResult) => number | null) => runs.map((r) => f(r) ?? NaN);
  // a run where some attackers were never banned in time: its figures over those that were are
  // lower bounds of the true ones (the others took longer), shown as such
  const bound = incomplete.length > 0 && incomplete.every((r) => !r.error && r.banned > 0);
  const fig = (done: (r: RunResult) => number | null, seen: (r: RunResult) => number) => (bound ? v((r) => (r.p50 === null ? seen(r) : done(r))) : v(done));
  const lat = (x: Row) => (bound ? { ...x, atLeast: true, note: `${note}: at least this (the figure of those banned in time)` } : x);
  return [
    lat(row(tool, 'p50 latency', 'ms', 'lower', fig((r) => r.p50, (r) => r.observed.p50), note)),
    lat(row(tool, 'p99 latency', 'ms', 'lower', fig((r) => r.p99, (r) => r.observed.p99), note)),
    lat(row(tool, 'max latency', 'ms', 'lower', fig((r) => r.max, (r) => r.observed.max), note)),
    row(tool, 'banned in time', '%', 'higher', v((r) => (r.error ? null : (100 * r.banned) / r.attackers))),
  ];
}

function checkOf(results: RunResult[], grace: number): ScenarioReport['check'] {
  const ours = results.filter((r) => r.tool === 'f2b-fast');
  const rivals = results.filter((r) => r.tool !== 'f2b-fast');
  const ok = ours.every((r) => runRight(r, true)) && rivals.every((r) => runRight(r, false));
  const detail = results.map((r) => describeRun(r, grace)).join(' | ');
  return { ok, detail: `${ok ? 'ok' : 'FAILED'}: f2b-fast must ban exactly the attackers, every failure counted; a rival's bans that arrived must be attackers. ${detail}` };
}

function printSummary(o: Opts, p: Plan, results: RunResult[], rows: Row[], missing: ScenarioReport['missing'], check: ScenarioReport['check']): void {
  console.log(`\nlatency: sshd log appended at ${o.rate} lines/s for ${o.seconds} s (${p.lines} lines), ${p.attackers.length} attackers x ${MAXRETRY} failures, ${p.nearMisses.length} near-misses x ${MAXRETRY - 1}; ${o.runs} run(s) per tool`);
  const seen = new Set<string>();
  for (const r of results) {
    if (!seen.has(r.tool)) console.log(`  ${r.tool}: bans seen by ${r.detect}${r.notes.length ? `; ${r.notes.join('; ')}` : ''}`);
    seen.add(r.tool);
  }
  console.log(`\n${'tool'.padEnd(16)} ${'metric'.padEnd(15)} ${'median'.padStart(9)} ${'min-max'.padStart(17)}  runs`);
  for (const r of rows) {
    const f = (x: number | null) => (x === null ? '-' : r.unit === '%' ? x.toFixed(0) : Math.round(x).toString());
    console.log(`${r.tool.padEnd(16)} ${r.metric.padEnd(15)} ${`${f(r.median)} ${r.unit}`.padStart(9)} ${`${f(r.min)}-${f(r.max)}`.padStart(17)}  ${r.runs}${r.note ? `  (${r.note})` : ''}`);
  }
  for (const m of missing) console.log(`missing: ${m.tool}: ${m.reason}`);
  console.log(`\ncheck: ${check.ok ? 'ok' : 'FAILED'}`);
  for (const r of results) console.log(`  ${describeRun(r, o.grace)}`);
}

async function main(): Promise<number> {
  const o = parseOpts(process.argv.slice(2));
  const ns = await netnsAvailable();
  if (!ns.ok) throw new Error(`network namespaces unavailable: ${ns.reason}`);
  const p = makePlan(o);
  const missing: ScenarioReport['missing'] = [];
  const tools = ALL.filter((t) => {
    const why = o.tools.includes(t.name) ? t.unavailable() : 'not selected (--tools)';
    if (why) missing.push({ tool: t.name, reason: why });
    return !why;
  });
  const results: RunResult[] = [];
  const started = new Date();
  for (const t of tools) {
    for (let run = 1; run <= o.runs; run++) {
      let r: RunResult;
      try {
        r = await runOnce(t, o, p, run);
      } catch (e) {
        r = { tool: t.name, run, error: (e as Error).message, detect: '', notes: [], latencyMs: {}, p50: null, p99: null, max: null, observed: { p50: NaN, p99: NaN, max: NaN }, resolutionMs: { median: NaN, max: NaN }, banned: 0, attackers: p.attackers.length, missing: p.attackers, nearMissesBanned: [], otherBanned: [], bannedLate: [], inSetUnseen: [], probeTimeouts: {}, bystanderBlocked: false, totalFailed: NaN, expectedFailures: NaN, waitedMs: NaN };
      }
      results.push(r);
      console.log(describeRun(r, o.grace));
    }
  }
  const rows = tools.flatMap((t) => rowsOf(t.name, results.filter((r) => r.tool === t.name), o.grace));
  const check = checkOf(results, o.grace);
  const { json, ...params } = o;
  writeReport(json, {
    scenario: 'latency',
    title: `live latency: sshd log appended at ${o.rate} lines/s for ${o.seconds} s, ${o.attackers} attackers (${MAXRETRY} failures each) and ${p.nearMisses.length} near-misses; ms from the crossing line's write to the address in the kernel set`,
    params: { ...params, lines: p.lines, maxretry: MAXRETRY, chunkMs: CHUNK_MS, started: started.toISOString() },
    rows,
    check,
    missing,
    raw: { machine: machine(), runs: results },
  });
  printSummary(o, p, results, rows, missing, check);
  return check.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(2);
    },
  );
}
