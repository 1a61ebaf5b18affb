// Firewall scenarios of issue 6, with the daemon as a process and real nftables inside a network
// namespace this script creates and removes (never the host's own firewall). Not a test: it
// prints figures, and checks that they are right (every address expected is in the kernel set,
// no other).
//
//   node dist/bench/firewall.js [--scenario burst|restart|all] [--attackers 10000] [--bans 100000]
//
// burst:   a running daemon (sshd jail, maxretry 3) gets one append of 3 failures from each of
//          N distinct attackers; measured: from the end of the write until every attacker is in
//          the kernel's set (the last one polled with `nft get element` every 50 ms, which costs the daemon little CPU; all confirmed with a
//          full listing).
// restart: a state database holding B active bans; measured: from the start of `f2b-fast run`
//          until all B are in the kernel's set.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createNetns, netnsAvailable, type Netns } from '../test/helpers/netns';
import { StateStore } from '../src/state/store';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const TABLE = 'f2bbench';

interface Args {
  scenario: 'burst' | 'restart' | 'all';
  attackers: number;
  bans: number;
}

function args(): Args {
  const a: Record<string, string> = {};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  const scenario = (a.scenario ?? 'all') as Args['scenario'];
  if (!['burst', 'restart', 'all'].includes(scenario)) throw new Error('--scenario burst|restart|all');
  return { scenario, attackers: Number(a.attackers ?? 10_000), bans: Number(a.bans ?? 100_000) };
}

/** The i-th distinct attacker: IPv4 from 10.0.0.0/8. */
const attacker = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function syslogTime(d = new Date()): string {
  const mon = d.toLocaleString('en-US', { month: 'short' });
  return `${mon} ${String(d.getDate()).padStart(2, ' ')} ${d.toTimeString().slice(0, 8)}`;
}

function setup(work: string, jailExtra = ''): { conf: string; log: string; db: string; sock: string; out: string } {
  const conf = path.join(work, 'conf');
  fs.cpSync(path.join(ROOT, 'filters'), conf, { recursive: true });
  const log = path.join(work, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 3\nfindtime = 1h\nbantime = 1h\n${jailExtra}`);
  return { conf, log, db: path.join(work, 'state.sqlite3'), sock: path.join(work, 'f2b.sock'), out: path.join(work, 'daemon.log') };
}

function startDaemon(ns: Netns, s: ReturnType<typeof setup>): ChildProcess {
  return ns.start([process.execPath, BIN, 'run', '--config', s.conf, '--db', s.db, '--socket', s.sock, '--logtarget', s.out, '--table', TABLE]);
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

/** Elements in the jail's IPv4 address set (0 while the table does not exist). */
async function setSize(ns: Netns): Promise<number> {
  const r = await ns.exec(['nft', '-j', 'list', 'set', 'inet', TABLE, 'addr-set-sshd'], { timeoutMs: 30_000 });
  if (r.code !== 0) return 0;
  const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((x) => x.set)?.set;
  return set?.elem?.length ?? 0;
}

async function setMembers(ns: Netns): Promise<Set<string>> {
  const r = await ns.exec(['nft', '-j', 'list', 'set', 'inet', TABLE, 'addr-set-sshd'], { timeoutMs: 30_000 });
  const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((x) => x.set)?.set;
  const out = new Set<string>();
  for (const e of set?.elem ?? []) {
    const v = e as { elem?: { val: string } } | string;
    out.add(typeof v === 'string' ? v : (v.elem?.val ?? ''));
  }
  return out;
}

/**
 * Poll until the set holds `want` elements, `last` (the address the daemon bans last) among
 * them. Polling a cheap `nft get element` for `last` finds the moment (listing 100,000 elements
 * takes over a second itself); a full listing then confirms that every element is there.
 * Returns ms from t0 to the first sight of `last` with every element confirmed, and to the end
 * of the listing that confirmed them (an upper bound); NaN past the limit.
 */
async function waitForAll(ns: Netns, last: string, want: number, t0: number, limitMs: number): Promise<{ seenMs: number; confirmedMs: number }> {
  let seen = NaN;
  for (;;) {
    const now = performance.now();
    if (now - t0 > limitMs) return { seenMs: NaN, confirmedMs: NaN };
    if (Number.isNaN(seen)) {
      const r = await ns.exec(['nft', 'get', 'element', 'inet', TABLE, 'addr-set-sshd', `{ ${last} }`], { timeoutMs: 10_000 });
      if (r.code !== 0) {
        await new Promise((res) => setTimeout(res, 50));
        continue;
      }
      seen = performance.now() - t0;
    }
    const n = await setSize(ns);
    if (n >= want) return { seenMs: seen, confirmedMs: performance.now() - t0 };
    // not all there yet: the next sighting counts
    seen = NaN;
  }
}

async function waitForSocket(sock: string, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!fs.existsSync(sock)) {
    if (Date.now() > end) throw new Error(`the daemon did not create ${sock} in ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function burst(ns: Netns, n: number): Promise<Record<string, unknown>> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-burst-'));
  const s = setup(work);
  const child = startDaemon(ns, s);
  try {
    await waitForSocket(s.sock, 30_000);
    const lines: string[] = [];
    const stamp = syslogTime();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) lines.push(`${stamp} web1 sshd[${1000 + (i % 5000)}]: Failed password for root from ${attacker(i)} port ${20000 + round} ssh2\n`);
    }
    const data = lines.join('');
    fs.appendFileSync(s.log, data);
    const t0 = performance.now();
    if (process.env.F2B_BENCH_KEEP) console.error(`burst written at ${new Date().toISOString()}`);
    const ms = await waitForAll(ns, attacker(n - 1), n, t0, 60_000);
    const members = await setMembers(ns);
    let missing = 0;
    for (let i = 0; i < n; i++) if (!members.has(attacker(i))) missing++;
    return { scenario: 'burst', attackers: n, lines: lines.length, bytes: data.length, allInSetMs: Math.round(ms.seenMs), confirmedMs: Math.round(ms.confirmedMs), inSet: members.size, missing, extra: members.size - (n - missing) };
  } finally {
    await stopDaemon(child);
    if (process.env.F2B_BENCH_KEEP) console.error(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

async function restart(ns: Netns, bans: number): Promise<Record<string, unknown>> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-restart-'));
  const s = setup(work);
  try {
    const store = StateStore.open(s.db);
    const now = Math.floor(Date.now() / 1000);
    store.transaction(() => {
      for (let i = 0; i < bans; i++) store.addBan({ jail: 'sshd', ip: attacker(i), timeofban: now - 60, bantime: 3600, bancount: 1, data: { matches: [], failures: 3 } });
    });
    store.close();
    const t0 = performance.now();
    if (process.env.F2B_BENCH_KEEP) console.error(`daemon started at ${new Date().toISOString()}`);
    const child = startDaemon(ns, s);
    try {
      const ms = await waitForAll(ns, attacker(bans - 1), bans, t0, 120_000);
      const members = await setMembers(ns);
      let missing = 0;
      for (let i = 0; i < bans; i++) if (!members.has(attacker(i))) missing++;
      return { scenario: 'restart', bans, allInSetMs: Math.round(ms.seenMs), confirmedMs: Math.round(ms.confirmedMs), inSet: members.size, missing };
    } finally {
      await stopDaemon(child);
    }
  } finally {
    if (process.env.F2B_BENCH_KEEP) console.error(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = args();
  const ok = await netnsAvailable();
  if (!ok.ok) throw new Error(`network namespaces unavailable: ${ok.reason}`);
  const ns = await createNetns('f2bfw');
  try {
    if (o.scenario !== 'restart') console.log(JSON.stringify(await burst(ns, o.attackers)));
    if (o.scenario !== 'burst') console.log(JSON.stringify(await restart(ns, o.bans)));
  } finally {
    await ns.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
