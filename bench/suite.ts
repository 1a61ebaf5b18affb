// The benchmark suite (`npm run bench`): every scenario in a fresh process, one after another,
// each handing back a ScenarioReport (bench/report.ts) with its correctness check; then one
// table, the JSON of the whole run (machine, versions, date) in bench/results/, and a chart.
//
//   node dist/bench/suite.js [--quick] [--only scan,latency,...] [--docs] [--out DIR]
//   node dist/bench/suite.js --render bench/results/suite-DATE.json [--docs]
//
// --quick: a reduced set for development (well under a minute). --docs: also write
// docs/benchmarks.md and docs/benchmarks.svg from this run. --render: present a saved run again
// (tables, Markdown, chart; figures derived from its rows, such as the scan ratios, included). The scenarios that need network
// namespaces (latency, burst, restart) need root; without it they are reported as not run.
// Exit status: 0 every check passed; 1 a check failed; 3 a scenario failed or timed out.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { machine, ROOT, type ScenarioReport } from './report';
import { markdown, svgChart, textTable, withDerived } from './render';

interface Scenario {
  id: string;
  script: string;
  /** arguments besides --json */
  args(quick: boolean): string[];
  /** network namespaces and nft: root only */
  root: boolean;
  timeoutMin(quick: boolean): number;
}

export const SCENARIOS: Scenario[] = [
  { id: 'scan', script: 'scan.js', args: (q) => (q ? ['--quick', '--lines', '20000', '--kind', 'sshd'] : []), root: false, timeoutMin: (q) => (q ? 3 : 180) },
  // --quick: each scenario cut to a few seconds, so that the whole set takes under a minute
  { id: 'latency', script: 'latency.js', args: (q) => (q ? ['--quick', '--rate', '20000', '--seconds', '2', '--attackers', '20', '--grace', '5'] : []), root: true, timeoutMin: (q) => (q ? 3 : 30) },
  { id: 'burst', script: 'firewall.js', args: (q) => ['--scenario', 'burst', ...(q ? ['--quick', '--attackers', '1000', '--warmup', '2000'] : ['--runs', '3'])], root: true, timeoutMin: (q) => (q ? 3 : 20) },
  { id: 'restart', script: 'firewall.js', args: (q) => ['--scenario', 'restart', ...(q ? ['--quick', '--bans', '10000'] : ['--runs', '3'])], root: true, timeoutMin: (q) => (q ? 3 : 20) },
  { id: 'memory', script: 'memory.js', args: (q) => (q ? ['--quick', '--addresses', '20000', '--f2b-addresses', '5000'] : []), root: false, timeoutMin: (q) => (q ? 3 : 30) },
  { id: 'catchup', script: 'catchup.js', args: (q) => (q ? ['--quick', '--mb', '10'] : []), root: false, timeoutMin: (q) => (q ? 3 : 30) },
  // --quick: 20,000 lines/s for 10 s
  { id: 'load', script: 'load.js', args: (q) => (q ? ['--quick'] : []), root: false, timeoutMin: (q) => (q ? 3 : 10) },
];

interface Opts {
  quick: boolean;
  only: string[];
  docs: boolean;
  out: string;
  /** present a saved run again (its tables, Markdown and chart) instead of running */
  render?: string;
}

const USAGE = 'usage: node dist/bench/suite.js [--quick] [--only scan,latency,burst,restart,memory,catchup,load] [--docs] [--out DIR]\n       node dist/bench/suite.js --render bench/results/suite-DATE.json [--docs]';

function parseOpts(argv: string[]): Opts {
  const o: Opts = { quick: false, only: SCENARIOS.map((s) => s.id), docs: false, out: path.join(ROOT, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--docs') o.docs = true;
    else if (a === '--only') {
      o.only = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = o.only.filter((id) => !SCENARIOS.some((s) => s.id === id));
      if (bad.length || !o.only.length) fail(`--only: unknown scenario ${bad.join(', ') || '(none given)'}`);
    } else if (a === '--out') o.out = path.resolve(argv[++i] ?? fail('--out needs a directory'));
    else if (a === '--render') o.render = path.resolve(argv[++i] ?? fail('--render needs a suite-*.json file'));
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return o;
}

function fail(msg: string): never {
  console.error(`suite: ${msg}\n${USAGE}`);
  process.exit(2);
}

interface Ran {
  report: ScenarioReport;
  command: string;
  exit: number | null;
  signal: string | null;
  seconds: number;
}

/** Runs one scenario script in its own process group, its output prefixed and kept in `logFile`. */
function runScenario(s: Scenario, quick: boolean, jsonFile: string, logFile: string): Promise<Omit<Ran, 'report'> & { report?: ScenarioReport }> {
  const argv = [path.join(__dirname, s.script), ...s.args(quick), '--json', jsonFile];
  const command = `node ${path.relative(ROOT, argv[0])} ${argv.slice(1, -2).join(' ')}`.trim();
  const log = fs.openSync(logFile, 'w');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      console.log(`[${s.id}] time limit of ${s.timeoutMin(quick)} min: killing it`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, s.timeoutMin(quick) * 60_000);
    for (const stream of [child.stdout!, child.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8').on('data', (d: string) => {
        fs.writeSync(log, d);
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          process.stdout.write(`[${s.id}] ${buf.slice(0, nl)}\n`);
          buf = buf.slice(nl + 1);
        }
      });
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(log);
      let report: ScenarioReport | undefined;
      try {
        report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as ScenarioReport;
      } catch {
        // no report: the scenario failed before writing it
      }
      resolve({ report, command, exit: code, signal, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** A scenario that gave no report: its failure, with the end of its output. */
function failedReport(s: Scenario, why: string, logFile: string): ScenarioReport {
  let tail = '';
  try {
    tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' / ');
  } catch {
    // no log
  }
  return { scenario: s.id, title: `${s.id}: no result`, params: {}, rows: [], check: { ok: false, detail: `${why}${tail ? `; last output: ${tail}` : ''}` }, missing: [] };
}

async function main(): Promise<number> {
  const o = parseOpts(process.argv.slice(2));
  if (o.render) {
    const doc = JSON.parse(fs.readFileSync(o.render, 'utf8')) as RunDoc;
    if (doc.suite !== 1 || !Array.isArray(doc.scenarios)) fail(`${o.render} is not a suite result`);
    present(doc, o.render.replace(/\.json$/, ''), o.docs);
    return doc.exitStatus;
  }
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-suite-'));
  fs.mkdirSync(o.out, { recursive: true });
  const logDir = path.join(o.out, `suite-${stamp}-logs`);
  fs.mkdirSync(logDir);
  const isRoot = process.getuid?.() === 0;
  const ran: Ran[] = [];
  let status = 0;
  console.log(`suite: ${o.quick ? 'quick' : 'full'} run of ${o.only.join(', ')}; logs in ${path.relative(ROOT, logDir)}`);
  try {
    for (const s of SCENARIOS.filter((x) => o.only.includes(x.id))) {
      if (s.root && !isRoot) {
        const why = 'not run: needs root (network namespaces and nftables)';
        const report: ScenarioReport = { scenario: s.id, title: `${s.id}: ${why}`, params: {}, rows: [], check: { ok: true, detail: why }, missing: [] };
        ran.push({ report, command: '', exit: null, signal: null, seconds: 0 });
        continue;
      }
      console.log(`suite: ${s.id} ...`);
      const logFile = path.join(logDir, `${s.id}.log`);
      const r = await runScenario(s, o.quick, path.join(work, `${s.id}.json`), logFile);
      const report = r.report ?? failedReport(s, `exited ${r.exit ?? r.signal} without a report`, logFile);
      if (!r.report || (r.exit !== 0 && r.exit !== 1)) status = 3;
      else if (!report.check.ok) status = Math.max(status, 1);
      ran.push({ ...r, report });
      console.log(`suite: ${s.id} done in ${r.seconds.toFixed(0)} s, exit ${r.exit ?? r.signal}, check ${report.check.ok ? 'OK' : 'FAILED'}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  const finished = new Date();
  const base = path.join(o.out, `suite-${stamp}`);
  const doc: RunDoc = {
    suite: 1,
    date: started.toISOString(),
    finished: finished.toISOString(),
    argv: process.argv.slice(2),
    quick: o.quick,
    machine: machine(),
    exitStatus: status,
    scenarios: ran.map((r) => ({ command: r.command, exit: r.exit, signal: r.signal, seconds: r.seconds, ...r.report })),
  };
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(doc, null, 1)}\n`);
  present(doc, base, o.docs);
  return status;
}

/** A whole run as saved in bench/results/suite-*.json. */
interface RunDoc {
  suite: 1;
  date: string;
  finished: string;
  argv: string[];
  quick: boolean;
  machine: Record<string, unknown>;
  exitStatus: number;
  scenarios: (ScenarioReport & { command: string; exit: number | null; signal: string | null; seconds: number })[];
}

/** Prints a run's table and writes its Markdown and chart beside `base`.json (and in docs/). */
function present(doc: RunDoc, base: string, docs: boolean): void {
  const reports = doc.scenarios.map(withDerived);
  const minutes = ((Date.parse(doc.finished) - Date.parse(doc.date)) / 60_000).toFixed(1);
  console.log(`\n${textTable(reports)}`);
  // the command that makes such a run: the run's own arguments, --out aside
  const args: string[] = [];
  for (let i = 0; i < doc.argv.length; i++) {
    if (doc.argv[i] === '--out') i++;
    else args.push(doc.argv[i]);
  }
  const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const m = doc.machine;
  const caption = `${command}, ${doc.date.slice(0, 16).replace('T', ' ')} UTC, ${String(m.cores)} cores (${String(m.cpu)})`;
  const svg = svgChart(reports, caption);
  const md = docsPage(reports, doc, minutes, command, svg ? 'benchmarks.svg' : null);
  fs.writeFileSync(`${base}.md`, md.replace('](benchmarks.svg)', `](${path.basename(base)}.svg)`));
  if (svg) fs.writeFileSync(`${base}.svg`, svg);
  console.log(`suite: results in ${path.relative(ROOT, base)}.{json,md${svg ? ',svg' : ''}} (${minutes} min), exit ${doc.exitStatus}`);
  if (docs) {
    const dir = path.join(ROOT, 'docs');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'benchmarks.md'), md);
    if (svg) fs.writeFileSync(path.join(dir, 'benchmarks.svg'), svg);
    console.log('suite: wrote docs/benchmarks.md and docs/benchmarks.svg');
  }
}

/** The Markdown page of a run: how to reproduce it, where, the chart, every table. */
function docsPage(reports: ScenarioReport[], doc: RunDoc, minutes: string, command: string, svg: string | null): string {
  const m = doc.machine;
  const v = m.versions as Record<string, string | null>;
  const ver = (k: string) => (v[k] ? `${k} ${v[k]!.split('\n')[0]}` : `${k}: not installed`);
  const out = [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` (as root) on ${doc.date.slice(0, 16).replace('T', ' ')} UTC; the run took ${minutes} minutes. Every scenario ran in fresh processes; every figure below is the median of its runs, with their spread. Each scenario also checks that its answer is right (the same failures or bans as the generator's ground truth), so a fast wrong answer cannot pass. How each scenario works: [bench/README.md](../bench/README.md).`,
    '',
    `Machine: ${String(m.cpu)}, ${String(m.cores)} cores, ${String(m.ramGB)} GB RAM, ${String(m.os)}, load average at the end ${(m.loadavg as number[]).map((x) => x.toFixed(2)).join(' ')}.`,
    `Versions: ${['node', 'f2b-fast', 'fail2ban', 'sshguard', 'nft', 'python', 'grep'].map(ver).join('; ')}.`,
    '',
  ];
  if (svg) out.push(`![scan throughput and live latency, f2b-fast beside its rivals](${svg})`, '');
  out.push('## Results', '', markdown(reports), '## Commands', '');
  for (const r of doc.scenarios) out.push(`- ${r.scenario}: ${r.command ? `\`${r.command}\` (${r.seconds.toFixed(0)} s, exit ${r.exit ?? r.signal})` : r.check.detail}`);
  out.push('');
  return out.join('\n');
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`suite: ${(e as Error).stack ?? e}`);
      process.exitCode = 3;
    },
  );
}
