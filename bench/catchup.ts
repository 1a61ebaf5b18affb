// How fast the daemon catches up with a large existing log at start-up: the native tailer reads
// it from its head, the prefilter drops what no jail can match, the matcher workers take the
// candidate batches in parallel. Dry-run (no firewall), one jail on the file. Not a test.
//
//   node dist/bench/catchup.js [--kind sshd|nginx] [--lines 1000000] [--file F] [--config DIR]
//
// Generates the log with bench/generate.ts unless --file is given (--kind picks the jail).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate, FILTER, type Kind } from './generate';
import { Daemon } from '../src/daemon';

function args(): { kind: Kind; lines: number; file?: string; config: string } {
  const a: Record<string, string> = {};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  const kind = (a.kind ?? 'sshd') as Kind;
  if (kind !== 'sshd' && kind !== 'nginx') throw new Error('--kind sshd|nginx');
  const config = a.config ?? (fs.existsSync('/etc/fail2ban/filter.d') ? '/etc/fail2ban' : path.resolve(__dirname, '../../filters'));
  return { kind, lines: Number(a.lines ?? 1_000_000), file: a.file, config };
}

async function main(): Promise<void> {
  const o = args();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-catchup-'));
  try {
    const file = o.file ?? path.join(work, `${o.kind}.log`);
    if (!o.file) generate(o.kind, o.lines, 42, file);
    const lines = fs.readFileSync(file).reduce((n, b) => n + (b === 10 ? 1 : 0), 0);
    const bytes = fs.statSync(file).size;
    // a private copy of the config with one jail on the file (filter.d from --config)
    const conf = path.join(work, 'conf');
    fs.mkdirSync(conf);
    fs.cpSync(path.join(o.config, 'filter.d'), path.join(conf, 'filter.d'), { recursive: true, dereference: true });
    fs.writeFileSync(path.join(conf, 'jail.conf'), `[DEFAULT]\nbanaction = nftables-multiport\n[bench]\nenabled = true\nfilter = ${FILTER[o.kind]}\nlogpath = ${file}\nport = 22\n`);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(work, 'f2b.log'), db: path.join(work, 'state.sqlite3'), socket: null });
    const t1 = process.hrtime.bigint();
    const deadline = Date.now() + 600_000;
    while ((d.fileStats()[0]?.linesRead ?? 0) < lines) {
      if (Date.now() > deadline) throw new Error('catch-up did not finish in 10 minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
    await d.drain();
    const t2 = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpu0);
    await d.stop();
    const secs = Number(t2 - t1) / 1e9;
    process.stdout.write(
      `catch-up ${o.kind}: ${lines} lines, ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s ` +
        `(${(bytes / 1e6 / secs).toFixed(0)} MB/s, ${Math.round(lines / secs / 1000)}k lines/s), ` +
        `start-up ${(Number(t1 - t0) / 1e6).toFixed(0)} ms, process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s ` +
        `(main thread and workers), ${os.availableParallelism()} cores\n`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`catchup: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
