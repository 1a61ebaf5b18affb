// A real redis-server for a test: on loopback, on a free port, without persistence, in the
// test's temporary directory; stopped by its PID when the test ends (or earlier, by kill()).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { TestContext } from 'node:test';
import { tmpDir } from './tmp';

export const REDIS_SERVER = '/usr/bin/redis-server';

export function haveRedis(): boolean {
  return spawnSync(REDIS_SERVER, ['--version']).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Answers PING on `port` within `ms`? */
async function pong(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, host);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(ms, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export class RedisServer {
  private proc?: ChildProcess;

  constructor(
    readonly port: number,
    readonly dir: string,
    /** the address to listen on (inside a namespace: `ns` runs it there) */
    readonly host = '127.0.0.1',
    readonly ns?: string,
    /** TLS only: `port` is then the TLS port (no plain one) */
    readonly tls?: { cert: string; key: string; ca: string },
  ) {}

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts it and waits until it answers (10 s at most). */
  async start(): Promise<void> {
    const ports = this.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.tls.cert, '--tls-key-file', this.tls.key, '--tls-ca-cert-file', this.tls.ca, '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    const args = [REDIS_SERVER, ...ports, '--bind', this.host, '--dir', this.dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const [cmd, ...rest] = this.ns ? ['ip', 'netns', 'exec', this.ns, ...args] : args;
    this.proc = spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'] });
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) throw new Error(`redis-server exited with ${this.proc.exitCode}`);
      if (this.ns || this.tls ? this.cliPing() : await pong(this.host, this.port, 500)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${this.host}:${this.port} did not answer within 10 s`);
  }

  private cliPing(): boolean {
    try {
      return this.cli('PING').trim() === 'PONG';
    } catch {
      return false;
    }
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** redis-cli against it; its output. */
  cli(...args: string[]): string {
    const base = ['-h', this.host, '-p', String(this.port), ...(this.tls ? ['--tls', '--cacert', this.tls.ca] : []), ...args];
    const r = this.ns ? spawnSync('ip', ['netns', 'exec', this.ns, 'redis-cli', ...base], { encoding: 'utf8' }) : spawnSync('redis-cli', base, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
}

/** A running redis-server for this test, stopped when it ends. */
export async function startRedis(t: TestContext, opts: { host?: string; ns?: string; port?: number; tls?: RedisServer['tls'] } = {}): Promise<RedisServer> {
  const server = new RedisServer(opts.port ?? (await freePort()), tmpDir(t, 'f2b-fast-redis-'), opts.host, opts.ns, opts.tls);
  t.after(() => server.kill());
  await server.start();
  return server;
}

/** A CA and a certificate for 127.0.0.1 signed by it (PEM files in `dir`), made with openssl. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => `${dir}/${n}`;
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=f2b-fast test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  run('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('san.ext'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}
