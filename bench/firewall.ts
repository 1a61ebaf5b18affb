// Firewall scenarios of issue 6, with the daemon as a process and real nftables inside a network
// namespace this script creates and removes (never the host's own firewall). Not a test: it
// prints figures, and checks that they are right (every address expected is in the kernel set,
// no other).
//
//   node dist/bench/firewall.js [--scenario burst|restart|all] [--attackers 10000] [--bans 100000]
//                               [--warmup LINES] [--runs K] [--quick] [--json FILE]
//
// --quick: 2,000 attackers, 20,000 bans. --json FILE (with --scenario burst or restart) writes a
// ScenarioReport (bench/report.ts) for the suite; a burst report has both cases, the running
// daemon (--warmup, default 20,000 lines then) and the first lines the daemon reads.
//
// burst:   a running daemon (sshd jail, maxretry 3) gets one append of 3 failures from each of
//          N distinct attackers (after --warmup lines of ordinary traffic, default 0); measured:
//          from the end of the write until every attacker is in the kernel's set (seen by
//          traffic: see PROBER; all confirmed with a full listing).
// restart: a state database holding B active bans; measured: from the spawn of `f2b-fast run`
//          until all B are in the kernel's set.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createLinkedPair, netnsAvailable, startTcpServer, type LinkedPair, type Netns } from '../test/helpers/netns';
import { StateStore } from '../src/state/store';
import { row, writeReport, type ScenarioReport } from './report';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
export const TABLE = 'f2bbench';

interface Args {
  scenario: 'burst' | 'restart' | 'all';
  /** burst: lines of ordinary traffic the daemon reads before the burst (0: the burst is the
   *  first thing it reads, its matcher threads cold) */
  warmup: number;
  attackers: number;
  bans: number;
  runs: number;
  /** write a ScenarioReport (bench/report.ts) here; needs --scenario burst or restart */
  json?: string;
}

const USAGE = `usage: node dist/bench/firewall.js [--scenario burst|restart|all] [--attackers N] [--bans N]
                                  [--warmup LINES] [--runs K] [--quick] [--json FILE]`;

function args(): Args {
  const a: Record<string, string> = {};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (!v[i].startsWith('--')) throw new Error(`${v[i]}?\n${USAGE}`);
    if (v[i] === '--quick' || v[i] === '--help') a[v[i].slice(2)] = '1';
    else a[v[i].slice(2)] = v[++i];
  }
  if (a.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = !!a.quick;
  const scenario = (a.scenario ?? 'all') as Args['scenario'];
  if (!['burst', 'restart', 'all'].includes(scenario)) throw new Error(`--scenario burst|restart|all\n${USAGE}`);
  if (a.json && scenario === 'all') throw new Error('--json needs --scenario burst or restart (one report per scenario)');
  const num = (k: string, d: number) => {
    const n = Number(a[k] ?? d);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} takes a whole number\n${USAGE}`);
    return n;
  };
  return {
    scenario,
    attackers: num('attackers', quick ? 2000 : 10_000),
    bans: num('bans', quick ? 20_000 : 100_000),
    warmup: num('warmup', a.json ? (quick ? 5000 : 20_000) : 0),
    runs: Math.max(1, num('runs', 1)),
    json: a.json,
  };
}

/** The i-th distinct attacker: IPv4 from 10.0.0.0/8. */
export const attacker = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export function syslogTime(d = new Date()): string {
  const mon = d.toLocaleString('en-US', { month: 'short' });
  return `${mon} ${String(d.getDate()).padStart(2, ' ')} ${d.toTimeString().slice(0, 8)}`;
}

export function setup(work: string, jailExtra = ''): { conf: string; log: string; db: string; sock: string; out: string } {
  const conf = path.join(work, 'conf');
  fs.cpSync(path.join(ROOT, 'filters'), conf, { recursive: true });
  const log = path.join(work, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 3\nfindtime = 1h\nbantime = 1h\n${jailExtra}`);
  return { conf, log, db: path.join(work, 'state.sqlite3'), sock: path.join(work, 'f2b.sock'), out: path.join(work, 'daemon.log') };
}

export function startDaemon(ns: Netns, s: ReturnType<typeof setup>): ChildProcess {
  // F2B_BENCH_NODE_FLAGS: flags for the daemon's node (for example --cpu-prof, which NODE_OPTIONS refuses)
  const flags = (process.env.F2B_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return ns.start([process.execPath, ...flags, BIN, 'run', '--config', s.conf, '--db', s.db, '--socket', s.sock, '--logtarget', s.out, '--table', TABLE, ...(process.env.F2B_BENCH_KEEP ? ['--loglevel', 'DEBUG'] : [])]);
}

export async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

/** The jail's IPv4 address set (empty while the table does not exist). */
export async function setMembers(ns: Netns): Promise<Set<string>> {
  const out = new Set<string>();
  const r = await ns.exec(['nft', '-j', 'list', 'set', 'inet', TABLE, 'addr-set-sshd'], { timeoutMs: 30_000 });
  if (r.code !== 0) return out;
  const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((x) => x.set)?.set;
  for (const e of set?.elem ?? []) {
    const v = e as { elem?: { val: string } } | string;
    out.add(typeof v === 'string' ? v : (v.elem?.val ?? ''));
  }
  return out;
}

/**
 * Watches, by traffic, when sampled attackers become blocked. `nft get element` cannot do it:
 * it reads the whole set first (1.2 s at 100,000 elements here), so a poll that starts just
 * before the daemon's update ends reports it a second late. Instead a prober in the client
 * namespace holds each sampled address (a /32 on its veth) and connects from it to the
 * daemon's namespace, port 22, where a server listens, every 10 ms (the first address, the
 * one the daemon bans last, alone until it is refused, then the others): connected = not banned;
 * refused = the kernel set holds the address and the jail's rule rejects it (the bundled
 * jail's blocktype; a timeout, which a drop would give, is also what a prober starved of CPU
 * sees, so it never counts). It prints `blocked ADDRESS EPOCH_MS` (the start of the first attempt that failed)
 * for each address, once. The bystander address must stay connected; it prints
 * `bystander-blocked` if not.
 */
const PROBER = `
const net = require('node:net');
const [host, bystander, ...addrs] = process.argv.slice(1);
const now = () => performance.timeOrigin + performance.now();
const pending = new Set(addrs);
// 'connected', 'refused' (the jail's reject) or 'timeout' (a drop, or a prober starved of CPU)
const attempt = (local, ms) => new Promise((resolve) => {
  const s = net.connect({ host, port: 22, localAddress: local });
  const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, ms);
  s.on('connect', () => { clearTimeout(t); s.destroy(); resolve('connected'); });
  s.on('error', (e) => { clearTimeout(t); resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'timeout'); });
});
// a ban is a refusal, and the time is that attempt's start (the time of a timeout says nothing)
const blocked = async (local) => (await attempt(local, 200)) === 'refused';
// the first address is the one the daemon bans last: until it is refused only it is tried (a
// light load: the prober and the server share the machine with the daemon), then the others
const [watch] = addrs;
(async () => {
  process.stdout.write('ready\\n');
  for (let round = 0; ; round++) {
    const started = now();
    const now_ = pending.has(watch) ? [watch] : [...pending];
    await Promise.all(now_.map(async (a) => {
      const t = now();
      if (await blocked(a)) { pending.delete(a); process.stdout.write('blocked ' + a + ' ' + t.toFixed(1) + '\\n'); }
    }));
    if (round % 50 === 0 && (await blocked(bystander))) process.stdout.write('bystander-blocked\\n');
    const wait = 10 - (now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
})();
`;

export interface Prober {
  /** epoch ms at which every sampled address was first seen blocked; NaN past the limit */
  allBlocked(limitMs: number): Promise<number>;
  bystanderBlocked(): boolean;
  stop(): void;
}

/** Sampled attackers: evenly spread over 0..n-1, the last one (the daemon's last ban) included. */
export function sample(n: number, count = 32): number[] {
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(Math.floor((k * (n - 1)) / (count - 1)));
  return [...out];
}

/** `addrs[0]` is the address the daemon bans last. */
export async function startProber(pair: LinkedPair, addrs: string[]): Promise<Prober> {
  const must = async (ns: Netns, argv: string[]) => {
    const r = await ns.exec(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
  };
  // the attackers' addresses live on the client side; the daemon's side routes 10/8 to them
  for (const a of addrs) await must(pair.cli, ['ip', 'addr', 'replace', `${a}/32`, 'dev', 'veth-c']);
  await must(pair.srv, ['ip', 'route', 'replace', '10.0.0.0/8', 'dev', 'veth-s']);
  
  const child = pair.cli.start([process.execPath, '-e', PROBER, pair.addr.srv, pair.addr.bystander, ...addrs]);
  const seen = new Map<string, number>();
  let bystander = false;
  let buf = '';
  let ready!: () => void;
  let errors = '';
  const isReady = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`the prober exited (${code}) before it was ready: ${errors}`)));
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^blocked (\S+) ([\d.]+)$/.exec(line);
      if (m) seen.set(m[1], Number(m[2]));
      else if (line === 'bystander-blocked') bystander = true;
      else if (line === 'ready') ready();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors += d));
  await isReady;
  return {
    async allBlocked(limitMs) {
      const end = Date.now() + limitMs;
      while (seen.size < addrs.length) {
        if (Date.now() > end || child.exitCode !== null) return NaN;
        await new Promise((r) => setTimeout(r, 20));
      }
      return Math.max(...seen.values());
    },
    bystanderBlocked: () => bystander,
    stop: () => void child.kill('SIGTERM'),
  };
}

/** Before the measure: every sampled address connects (none is blocked yet). */
export async function probeBaseline(p: Prober, n: number): Promise<void> {
  const early = await p.allBlocked(300);
  if (!Number.isNaN(early) || p.bystanderBlocked()) throw new Error(`sampled addresses were blocked before the scenario began (of ${n})`);
}

/**
 * When every attacker is in the set: the prober's time for the sampled ones (among them the
 * one the daemon bans or restores last), then listings until one holds all N (its end is an
 * upper bound). A listing soon after a large update may miss elements: the kernel grows the
 * set's hash table in the background, and a dump that walks it meanwhile skips some (addresses
 * the prober had seen dropped were missing from such listings here), so one short listing is
 * no proof of a missing element. Returns ms from t0 (epoch ms); NaN past the limit.
 */
async function waitForAll(ns: Netns, p: Prober, want: number, t0: number, limitMs: number): Promise<{ seenMs: number; confirmedMs: number; listings: number }> {
  const seen = await p.allBlocked(limitMs);
  if (Number.isNaN(seen)) return { seenMs: NaN, confirmedMs: NaN, listings: 0 };
  for (let listings = 1; ; listings++) {
    const members = await setMembers(ns);
    if (members.size >= want) return { seenMs: seen - t0, confirmedMs: Date.now() - t0, listings };
    if (Date.now() - t0 > limitMs) return { seenMs: NaN, confirmedMs: NaN, listings };
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForSocket(sock: string, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!fs.existsSync(sock)) {
    if (Date.now() > end) throw new Error(`the daemon did not create ${sock} in ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `Total failed` of the sshd jail, through the control socket (NaN when it does not answer). */
export function totalFailed(sock: string): number {
  const r = spawnSync(process.execPath, [BIN, 'client', '--socket', sock, 'status', 'sshd'], { encoding: 'utf8', timeout: 30_000 });
  return Number(/Total failed:\s*(\d+)/.exec(r.stdout ?? '')?.[1] ?? NaN);
}

/**
 * A running daemon's day before the burst: `lines` lines of ordinary sshd traffic (one failure
 * each from distinct addresses of 172.16/12, below maxretry, between accepted logins), read
 * and counted before the burst comes.
 */
async function warmUp(s: ReturnType<typeof setup>, lines: number): Promise<void> {
  if (lines <= 0) return;
  const stamp = syslogTime();
  const out: string[] = [];
  let failures = 0;
  for (let i = 0; i < lines; i++) {
    const ip = `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`;
    if (i % 4 === 3) out.push(`${stamp} web1 sshd[${2000 + (i % 3000)}]: Accepted publickey for deploy from ${ip} port 40000 ssh2: ED25519 SHA256:abc\n`);
    else {
      out.push(`${stamp} web1 sshd[${2000 + (i % 3000)}]: Failed password for invalid user u${i} from ${ip} port 40000 ssh2\n`);
      failures++;
    }
  }
  fs.appendFileSync(s.log, out.join(''));
  const end = Date.now() + 60_000;
  while (!(totalFailed(s.sock) >= failures)) {
    if (Date.now() > end) throw new Error(`the daemon did not count the ${failures} warm-up failures within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function burst(pair: LinkedPair, n: number, warmup: number): Promise<Record<string, unknown>> {
  const ns = pair.srv;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-burst-'));
  const s = setup(work);
  const prober = await startProber(pair, [...new Set([n - 1, ...sample(n)])].map(attacker));
  const child = startDaemon(ns, s);
  try {
    await waitForSocket(s.sock, 30_000);
    await warmUp(s, warmup);
    await probeBaseline(prober, n);
    const lines: string[] = [];
    const stamp = syslogTime();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) lines.push(`${stamp} web1 sshd[${1000 + (i % 5000)}]: Failed password for root from ${attacker(i)} port ${20000 + round} ssh2\n`);
    }
    const data = lines.join('');
    fs.appendFileSync(s.log, data);
    const t0 = Date.now();
    if (process.env.F2B_BENCH_KEEP) console.error(`burst written at ${new Date(t0).toISOString()}`);
    const ms = await waitForAll(ns, prober, n, t0, 60_000);
    const members = await setMembers(ns);
    let missing = 0;
    for (let i = 0; i < n; i++) if (!members.has(attacker(i))) missing++;
    return { scenario: 'burst', warmupLines: warmup, attackers: n, lines: lines.length, bytes: data.length, allInSetMs: Math.round(ms.seenMs), confirmedMs: Math.round(ms.confirmedMs), listings: ms.listings, inSet: members.size, missing, extra: members.size - (n - missing), bystanderBlocked: prober.bystanderBlocked() };
  } finally {
    prober.stop();
    await stopDaemon(child);
    if (process.env.F2B_BENCH_KEEP) console.error(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

async function restart(pair: LinkedPair, bans: number): Promise<Record<string, unknown>> {
  const ns = pair.srv;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-restart-'));
  const s = setup(work);
  let prober: Prober | undefined;
  try {
    const store = StateStore.open(s.db);
    const now = Math.floor(Date.now() / 1000);
    // bans made over the last two minutes: the daemon restores them oldest first
    const timeofban = (i: number) => now - 120 + Math.floor((i * 100) / bans);
    store.transaction(() => {
      for (let i = 0; i < bans; i++) store.addBan({ jail: 'sshd', ip: attacker(i), timeofban: timeofban(i), bantime: 3600, bancount: 1, data: { matches: [], failures: 3 } });
    });
    store.close();
    // the ban restored last (oldest first, then by address text) is among the sampled ones
    let last = bans - 1;
    for (let i = 0; i < bans; i++) if (timeofban(i) === timeofban(bans - 1) && attacker(i) > attacker(last)) last = i;
    prober = await startProber(pair, [...new Set([last, ...sample(bans)])].map(attacker));
    await probeBaseline(prober, bans);
    const t0 = Date.now();
    if (process.env.F2B_BENCH_KEEP) console.error(`daemon started at ${new Date(t0).toISOString()}`);
    const child = startDaemon(ns, s);
    try {
      const ms = await waitForAll(ns, prober, bans, t0, 120_000);
      const members = await setMembers(ns);
      let missing = 0;
      for (let i = 0; i < bans; i++) if (!members.has(attacker(i))) missing++;
      return { scenario: 'restart', bans, allInSetMs: Math.round(ms.seenMs), confirmedMs: Math.round(ms.confirmedMs), listings: ms.listings, inSet: members.size, missing, bystanderBlocked: prober.bystanderBlocked() };
    } finally {
      await stopDaemon(child);
    }
  } finally {
    prober?.stop();
    if (process.env.F2B_BENCH_KEEP) console.error(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A run is right when every attacker is in the set, nothing else is, and the bystander passes. */
function runOk(r: Record<string, unknown>): boolean {
  return r.missing === 0 && (r.extra ?? 0) === 0 && r.bystanderBlocked === false && Number.isFinite(r.allInSetMs as number);
}

function checkDetail(records: Record<string, unknown>[]): string {
  const bad = records.filter((r) => !runOk(r));
  const what = records[0]?.scenario === 'burst' ? `${records[0].attackers} attackers` : `${records[0]?.bans} bans`;
  if (!bad.length) return `every run (${records.length}): all ${what} in the kernel set, no other address, the bystander never blocked`;
  return bad.map((r) => `run with missing ${r.missing}, extra ${r.extra ?? 0}, bystander blocked ${r.bystanderBlocked}, allInSetMs ${r.allInSetMs}`).join('; ');
}

function report(o: Args, records: Record<string, unknown>[]): ScenarioReport {
  const missing = [{ tool: 'fail2ban-server', reason: 'fail2ban runs one action process per address, one after the other: not measured here; the latency scenario runs fail2ban-server beside f2b-fast' }];
  const ms = (rs: Record<string, unknown>[]) => rs.map((r) => Number(r.allInSetMs));
  if (o.scenario === 'burst') {
    const warm = records.filter((r) => Number(r.warmupLines) > 0);
    const cold = records.filter((r) => Number(r.warmupLines) === 0);
    return {
      scenario: 'burst',
      title: `${o.attackers} attackers cross maxretry (3) in one append of ${3 * o.attackers} lines: time until all are in the nftables set`,
      params: { attackers: o.attackers, warmupLines: o.warmup, runs: o.runs, target: '1 s' },
      rows: [
        ...(warm.length ? [row('f2b-fast', `all in set, running daemon (read ${o.warmup} lines before)`, 'ms', 'lower', ms(warm))] : []),
        row('f2b-fast', 'all in set, the first lines the daemon reads', 'ms', 'lower', ms(cold)),
      ],
      check: { ok: records.every(runOk), detail: checkDetail(records) },
      missing,
      raw: records,
    };
  }
  return {
    scenario: 'restart',
    title: `a state database with ${o.bans} active bans: time from spawning f2b-fast run until all are in the nftables set`,
    params: { bans: o.bans, runs: o.runs, target: '2 s' },
    rows: [row('f2b-fast', 'all in set after start', 'ms', 'lower', ms(records))],
    check: { ok: records.every(runOk), detail: checkDetail(records) },
    missing,
    raw: records,
  };
}

async function main(): Promise<number> {
  const o = args();
  const ok = await netnsAvailable();
  if (!ok.ok) throw new Error(`network namespaces unavailable: ${ok.reason}`);
  // the daemon's namespace (srv, with a TCP server on port 22) and the attackers' (cli)
  const pair = await createLinkedPair('f2bfw');
  const records: Record<string, unknown>[] = [];
  const record = (r: Record<string, unknown>) => {
    console.log(JSON.stringify(r));
    records.push(r);
  };
  try {
    await startTcpServer(pair.srv, 22);
    for (let run = 0; run < o.runs; run++) {
      if (o.scenario !== 'restart') {
        record(await burst(pair, o.attackers, o.warmup));
        // with a report, the first-lines case too (the matcher's code not yet compiled by V8)
        if (o.json && o.warmup > 0) record(await burst(pair, o.attackers, 0));
      }
      if (o.scenario !== 'burst') record(await restart(pair, o.bans));
    }
  } finally {
    await pair.destroy();
  }
  if (o.json) writeReport(o.json, report(o, records));
  return records.every(runOk) ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
