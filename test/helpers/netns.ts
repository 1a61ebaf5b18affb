// Network namespaces for tests that touch a firewall or send traffic. Such a test creates its
// own namespaces and removes them in t.after / finally; nothing runs in the host's namespace.
// Names carry the pid and a random part, so parallel runs never collide.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  /** exit code, or null when killed by a signal (e.g. at the time limit) */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Netns {
  readonly name: string;
  /** Runs argv inside the namespace and waits for it (killed at timeoutMs, default 10 s). */
  exec(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process inside the namespace; destroy() stops it by pid. */
  start(argv: readonly string[]): ChildProcess;
  /** Stops the processes started in it and deletes it; safe to call more than once. */
  destroy(): Promise<void>;
}

export interface LinkedPair {
  /** the "server": 192.0.2.1/24 and 2001:db8::1/64 on veth-s */
  srv: Netns;
  /** the "clients": attacker and bystander addresses on veth-c */
  cli: Netns;
  addr: {
    srv: string;
    attacker: string;
    bystander: string;
    srv6: string;
    attacker6: string;
    bystander6: string;
  };
  destroy(): Promise<void>;
}

/** namespaces alive in this process, removed at exit even if a test forgot */
const live = new Map<string, Set<ChildProcess>>();
let exitHook = false;

function ensureExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const [name, children] of live) {
      for (const c of children) killPid(c.pid, 'SIGKILL');
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5000 });
    }
  });
}

function killPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Runs argv (no shell), with stdin `input`, killed by pid after timeoutMs. */
function run(argv: readonly string[], input = '', timeoutMs = 10_000, track?: Set<ChildProcess>): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    track?.add(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => killPid(child.pid, 'SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      clearTimeout(timer);
      track?.delete(child);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      track?.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function uniqueName(prefix: string): string {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(prefix)) throw new Error(`bad netns prefix '${prefix}'`);
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

let availability: Promise<{ ok: boolean; reason?: string }> | null = null;

/** Can this process create network namespaces? If not, `reason` says why (for t.skip). */
export function netnsAvailable(): Promise<{ ok: boolean; reason?: string }> {
  availability ??= (async () => {
    if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
    if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root (run the tests as root)' };
    const name = uniqueName('f2bt-probe');
    const add = await run(['ip', 'netns', 'add', name]);
    if (add.code !== 0) {
      return { ok: false, reason: `cannot create a network namespace (ip netns add: ${(add.stderr || `exit ${add.code}`).trim()})` };
    }
    await run(['ip', 'netns', 'del', name]);
    return { ok: true };
  })();
  return availability;
}

export async function createNetns(prefix = 'f2bt'): Promise<Netns> {
  ensureExitHook();
  const name = uniqueName(prefix);
  const add = await run(['ip', 'netns', 'add', name]);
  if (add.code !== 0) throw new Error(`ip netns add ${name} failed: ${add.stderr.trim()}`);
  const children = new Set<ChildProcess>();
  live.set(name, children);
  const inside = (argv: readonly string[]) => ['ip', 'netns', 'exec', name, ...argv];
  let destroying: Promise<void> | null = null;

  return {
    name,
    exec: (argv, opts = {}) => run(inside(argv), opts.input, opts.timeoutMs, children),
    start(argv) {
      if (destroying) throw new Error(`netns ${name} is destroyed`);
      const [cmd, ...args] = inside(argv);
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.on('exit', () => children.delete(child));
      child.on('error', () => children.delete(child));
      return child;
    },
    destroy() {
      destroying ??= (async () => {
        await stopAll(children);
        // anything else still inside (a grandchild) was started by us too: stop it by pid
        const pids = await run(['ip', 'netns', 'pids', name], '', 5000);
        for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) killPid(pid, 'SIGKILL');
        const del = await run(['ip', 'netns', 'del', name], '', 10_000);
        live.delete(name);
        if (del.code !== 0 && !/No such file/.test(del.stderr)) throw new Error(`ip netns del ${name} failed: ${del.stderr.trim()}`);
      })();
      return destroying;
    },
  };
}

/** SIGTERM by pid, up to 2 s to exit, then SIGKILL. */
async function stopAll(children: Set<ChildProcess>): Promise<void> {
  const waits = [...children].map(
    (c) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        const kill = setTimeout(() => killPid(c.pid, 'SIGKILL'), 2000);
        const give = setTimeout(resolve, 4000); // bounded even if 'exit' never comes
        c.once('exit', () => {
          clearTimeout(kill);
          clearTimeout(give);
          resolve();
        });
        killPid(c.pid, 'SIGTERM');
      }),
  );
  await Promise.all(waits);
}

/**
 * Two namespaces joined by a veth pair: `srv` has 192.0.2.1 (and 2001:db8::1), `cli` has the
 * attacker 192.0.2.10 and the bystander 192.0.2.20 (and 2001:db8::10, 2001:db8::20). Links and
 * loopback are up. Both namespaces go away with destroy(); deleting one end removes the veth.
 */
export async function createLinkedPair(prefix = 'f2bt'): Promise<LinkedPair> {
  const srv = await createNetns(`${prefix}-s`);
  let cli: Netns | null = null;
  const destroy = async () => {
    await Promise.all([srv.destroy(), cli?.destroy()]);
  };
  try {
    cli = await createNetns(`${prefix}-c`);
    const c = cli;
    const must = async (ns: Netns, argv: string[]) => {
      const r = await ns.exec(argv);
      if (r.code !== 0) throw new Error(`${ns.name}: ${argv.join(' ')} failed: ${r.stderr.trim()}`);
    };
    // created inside srv with its peer moved straight into cli: no interface ever in the host
    await must(srv, ['ip', 'link', 'add', 'veth-s', 'type', 'veth', 'peer', 'name', 'veth-c', 'netns', c.name]);
    await must(srv, ['ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'veth-s']);
    await must(srv, ['ip', '-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'veth-s', 'nodad']);
    await must(c, ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'veth-c']);
    await must(c, ['ip', 'addr', 'add', '192.0.2.20/24', 'dev', 'veth-c']);
    await must(c, ['ip', '-6', 'addr', 'add', '2001:db8::10/64', 'dev', 'veth-c', 'nodad']);
    await must(c, ['ip', '-6', 'addr', 'add', '2001:db8::20/64', 'dev', 'veth-c', 'nodad']);
    for (const [ns, dev] of [[srv, 'veth-s'], [c, 'veth-c']] as const) {
      await must(ns, ['ip', 'link', 'set', 'lo', 'up']);
      await must(ns, ['ip', 'link', 'set', dev, 'up']);
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    srv,
    cli,
    addr: {
      srv: '192.0.2.1',
      attacker: '192.0.2.10',
      bystander: '192.0.2.20',
      srv6: '2001:db8::1',
      attacker6: '2001:db8::10',
      bystander6: '2001:db8::20',
    },
    destroy,
  };
}

/** Starts a TCP server in `ns` on [::]:port (IPv4 too) that greets and closes; resolves once it listens. */
export async function startTcpServer(ns: Netns, port: number, timeoutMs = 5000): Promise<ChildProcess> {
  const script = `
    const s = require('node:net').createServer((c) => { c.on('error', () => {}); c.end('hi\\n'); });
    s.listen(${Number(port)}, '::', () => process.stdout.write('ready\\n'));
    process.on('SIGTERM', () => process.exit(0));`;
  const child = ns.start([process.execPath, '-e', script]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => done(new Error(`server in ${ns.name} not ready within ${timeoutMs} ms: ${err}`)), timeoutMs);
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      if (e) reject(e);
      else resolve();
    };
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('ready')) done();
    });
    child.once('exit', (code) => done(new Error(`server in ${ns.name} exited (${code}): ${err}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

export type ConnectResult = 'connected' | 'refused' | 'timeout' | `error:${string}`;

/** One TCP connection attempt from inside `ns`, from localAddress, bounded by timeoutMs. */
export async function tryConnect(
  ns: Netns,
  o: { host: string; port: number; localAddress: string; timeoutMs?: number },
): Promise<ConnectResult> {
  const timeoutMs = o.timeoutMs ?? 1500;
  const script = `
    const [host, port, localAddress, ms] = process.argv.slice(1);
    const s = require('node:net').connect({ host, port: Number(port), localAddress });
    const done = (r) => { process.stdout.write(r); s.destroy(); process.exit(0); };
    setTimeout(() => done('timeout'), Number(ms));
    s.on('connect', () => done('connected'));
    s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + e.code));`;
  const r = await ns.exec([process.execPath, '-e', script, o.host, String(o.port), o.localAddress, String(timeoutMs)], {
    timeoutMs: timeoutMs + 5000,
  });
  const out = r.stdout.trim();
  return (out || `error:exit ${r.code} ${r.stderr.trim()}`) as ConnectResult;
}
