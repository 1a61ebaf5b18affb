// bench/: the generator is deterministic and its ground truth is what its lines say; the scan
// scenario and the suite run end to end; the suite's tables and chart show what the reports
// hold. No timing is asserted here (design.md: measured in bench/ only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './helpers/tmp';
import { generate, Kind, Truth } from '../bench/generate';
import { percentile, row, summarize, type ScenarioReport } from '../bench/report';
import { markdown, svgChart, textTable } from '../bench/render';

const ROOT = path.resolve(__dirname, '../..');

function gen(dir: string, kind: Kind, seed: number, name: string, lines = 3000): { bytes: Buffer; truth: Truth } {
  const out = path.join(dir, name);
  const truth = generate(kind, lines, seed, out);
  return { bytes: fs.readFileSync(out), truth };
}

for (const kind of ['sshd', 'nginx', 'nginx-error'] as const) {
  test(`generate ${kind}: same seed -> same bytes, other seed -> other bytes`, (t) => {
    const dir = tmpDir(t);
    const a = gen(dir, kind, 7, 'a.log');
    const b = gen(dir, kind, 7, 'b.log');
    const c = gen(dir, kind, 8, 'c.log');
    assert.equal(a.truth.lines, 3000);
    assert.ok(a.bytes.equals(b.bytes), 'same seed must give identical bytes');
    assert.deepEqual(a.truth, b.truth);
    assert.ok(!a.bytes.equals(c.bytes), 'another seed must give another log');
    assert.equal(fs.readFileSync(path.join(dir, 'a.log.truth.json'), 'utf8'), fs.readFileSync(path.join(dir, 'b.log.truth.json'), 'utf8'));
  });
}

/** Failure lines counted from the text alone (an independent reading of what the generator wrote). */
function countSshd(text: string): Map<string, number> {
  const fail = /sshd\[(\d+)\]: (?:Failed (?:password|none|keyboard-interactive\/pam) for (?:invalid user )?\S* from (\S+)|Failed publickey for invalid user \S+ from (\S+)|Invalid user \S* from (\S+)|error: maximum authentication attempts exceeded for \S+ from (\S+)|User \S+ from (\S+) not allowed because|Received disconnect from (\S+) port \d+:3: |error: PAM: Authentication failure for illegal user \S+ from (\S+)|ROOT LOGIN REFUSED FROM (\S+)|(Disconnecting: Too many authentication failures))/;
  const lastIp = new Map<string, string>();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = fail.exec(line);
    if (!x) continue;
    const ip = x.slice(2, 10).find((v) => v !== undefined) ?? (x[10] ? lastIp.get(x[1]) : undefined);
    assert.ok(ip, `no address for ${line}`);
    lastIp.set(x[1], ip);
    m.set(ip, (m.get(ip) ?? 0) + 1);
  }
  return m;
}

function countNginx(text: string): Map<string, number> {
  const fail = /^(\S+) - \S+ \[[^\]]+\] "(?:GET|POST|HEAD) \/\/?(?:wp-(?:login|signup|admin)\.php|(?:typo3\/|xampp\/|admin\/)?(?:pma|(?:php)?[Mm]y[Aa]dmin)|cgi-bin|mysqladmin|roundcube|(?:ext)?mail|horde|(?:v-?)?webmail)\S* HTTP\/1\.1" 404 /;
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = fail.exec(line);
    if (x) m.set(x[1], (m.get(x[1]) ?? 0) + 1);
  }
  return m;
}

function countNginxError(text: string): Map<string, number> {
  const fail = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*\d+ user "[^"]*":? (?:password mismatch|was not found in "[^"]*"), client: (\S+), server: /;
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = fail.exec(line);
    if (x) m.set(x[1], (m.get(x[1]) ?? 0) + 1);
  }
  return m;
}

test('ground truth agrees with the failure lines in the generated logs', (t) => {
  const dir = tmpDir(t);
  for (const [kind, count] of [['sshd', countSshd], ['nginx', countNginx], ['nginx-error', countNginxError]] as const) {
    const { bytes, truth } = gen(dir, kind, 11, `${kind}.log`, 20000);
    const counted = count(bytes.toString('utf8'));
    assert.deepEqual(Object.fromEntries([...counted].sort()), truth.addresses, kind);
    const total = [...counted.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, truth.failures);
    assert.equal(truth.bytes, bytes.length);
    assert.ok(truth.failures > 0.005 * truth.lines && truth.failures < 0.08 * truth.lines, `${kind}: failure share ${truth.failures}/${truth.lines}`);
    assert.ok(Object.keys(truth.addresses).some((a) => a.includes(':')), `${kind}: some IPv6 attackers`);
  }
});

test('scan --quick runs end to end and writes its JSON', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/scan.js'), '--quick', '--lines', '2000', '--runs', '1', '--kind', 'sshd', '--max-minutes', '2', '--timeout', '60'],
    { encoding: 'utf8', timeout: 90_000, cwd: ROOT });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const file = /^results: (.+)$/m.exec(r.stdout)?.[1];
  assert.ok(file && fs.existsSync(file), `no results file in:\n${r.stdout}`);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    scenario: string; machine: { cores: number; versions: Record<string, string | null> };
    results: { kind: string; lines: number; check: { compared: string[]; mismatches: number } }[];
  };
  fs.unlinkSync(file);
  assert.equal(doc.scenario, 'scan');
  assert.ok(doc.machine.cores > 0);
  assert.equal(doc.results.length, 1);
  assert.equal(doc.results[0].lines, 2000);
  assert.equal(doc.results[0].check.mismatches, 0);
  assert.ok(doc.results[0].check.compared.includes('f2b-fast'));
  if (!doc.machine.versions.fail2ban) {
    t.skip('fail2ban-regex is not installed: f2b-fast was checked against ground truth only');
    return;
  }
  assert.ok(doc.results[0].check.compared.includes('fail2ban-regex'));
});

test('catchup runs end to end on a small log and reads every line', () => {
  for (const kind of ['sshd', 'nginx']) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/catchup.js'), '--kind', kind, '--lines', '3000'], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^catch-up ${kind}: 3000 lines, [\\d.]+ MB in [\\d.]+ s`));
  }
});

test('load runs end to end: every line written is applied and each jail counts its truth, the hostile one too', (t) => {
  const json = path.join(tmpDir(t), 'load.json');
  const argv = ['--rate', '4000', '--seconds', '2', '--files', '2', '--pool-seconds', '1', '--hostile', '1', '--drain', '60', '--json', json];
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/load.js'), ...argv], { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
  // exit 1 may be a slow machine's backlog or RSS verdict; the counts must hold regardless
  assert.ok(r.status === 0 || r.status === 1, r.stdout + r.stderr);
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as ScenarioReport & { raw: { counts: { ok: boolean; problems: string[] }; jails: { jail: string; totalFailed: number }[]; warnings: number; crafted: number } };
  assert.equal(report.scenario, 'load');
  assert.deepEqual(report.raw.counts.problems, []);
  assert.equal(report.raw.counts.ok, true, report.check.detail);
  assert.deepEqual(report.raw.jails.map((j) => j.jail).sort(), ['f00-sshd-a', 'f00-sshd-b', 'f01-nginx-a', 'f01-nginx-b', 'hostile']);
  assert.equal(report.raw.jails.find((j) => j.jail === 'hostile')?.totalFailed, 2);
  assert.equal(report.raw.crafted, 2);
  assert.equal(report.raw.warnings, 2);
  assert.match(r.stdout, /^load: 3 files \(sshd, nginx, hostile\), 5 jails, 2 s: written [\d.]+k lines\/s/);
});

// ---- the suite: report helpers, rendering, and one quick run ----

const fakeReports = (): ScenarioReport[] => [
  {
    scenario: 'scan',
    title: 'scan <of> 1000 lines',
    params: {},
    rows: [
      row('f2b-fast summary', 'sshd: lines/s', 'lines/s', 'higher', [2_000_000, 2_500_000, 3_000_000]),
      row('fail2ban-regex summary', 'sshd: lines/s', 'lines/s', 'higher', [20_000]),
      row('grep -cE', 'sshd: lines/s', 'lines/s', 'higher', [9_000_000]),
    ],
    check: { ok: true, detail: 'same failures' },
    missing: [],
  },
  {
    scenario: 'latency',
    title: 'latency',
    params: {},
    rows: [row('f2b-fast', 'p50 latency', 'ms', 'lower', [40, 60]), { ...row('fail2ban-server', 'p50 latency', 'ms', 'lower', [900]), atLeast: true }],
    check: { ok: false, detail: 'a|b' },
    missing: [{ tool: 'sshguard', reason: 'not installed' }],
  },
];

test('report helpers: medians, spreads and nearest-rank percentiles, non-finite samples left out', () => {
  assert.deepEqual(summarize([3, 1, 2, NaN]), { median: 2, min: 1, max: 3, runs: 3 });
  assert.deepEqual(summarize([4, 1]), { median: 2.5, min: 1, max: 4, runs: 2 });
  assert.deepEqual(summarize([]), { median: null, min: null, max: null, runs: 0 });
  const v = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 99), 99);
  assert.equal(percentile(v, 100), 100);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('rendering: the text and Markdown tables hold every row, check and missing rival; the chart scales its bars', () => {
  const reports = fakeReports();
  const text = textTable(reports);
  assert.match(text, /sshd: lines\/s\s+f2b-fast summary\s+2,500,000 lines\/s\s+2,000,000–3,000,000\s+3/);
  assert.match(text, /latency: check FAILED: a\|b/);
  assert.match(text, /latency: sshguard not run: not installed/);
  const md = markdown(reports);
  assert.match(md, /\| p50 latency \| f2b-fast \| 50.0 ms \| 40.0–60.0 \| 2 \|/);
  assert.match(md, /Check: \*\*FAILED\*\*\. a\\\|b/);
  // a lower bound (a rival that did not keep up) says so
  assert.match(md, /\| p50 latency \| fail2ban-server \| ≥ 900 ms \|/);
  assert.match(md, /### scan\n\nscan <of> 1000 lines\n/);
  const svg = svgChart(reports, 'caption <x>')!;
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && svg.trim().endsWith('</svg>'));
  assert.ok(!/<x>|<of>/.test(svg), 'text is escaped');
  assert.match(svg, /fail2ban-server: ≥ 900 ms \(did not keep up\)/);
  // one bar per tool with a figure; on the log scale a faster tool has the longer bar
  const widths = [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="(\d+)" height="\d+" class="(m|o)"><title>([^<]+)<\/title>/g)].map((m) => ({ w: Number(m[1]), mine: m[2] === 'm', title: m[3] }));
  assert.equal(widths.length, 5);
  const by = (s: string) => widths.find((x) => x.title.startsWith(s))!;
  assert.ok(by('grep').w > by('f2b-fast summary').w && by('f2b-fast summary').w > by('fail2ban-regex').w);
  assert.ok(by('fail2ban-server').w > by('f2b-fast:').w);
  assert.ok(by('f2b-fast summary').mine && !by('grep').mine);
  assert.equal(svgChart([{ ...reports[0], scenario: 'memory' }], 'c'), null);
});

test('the suite runs a scenario in its own process and writes the run\'s JSON and Markdown', (t) => {
  const out = tmpDir(t);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/suite.js'), '--quick', '--only', 'scan', '--out', out], { encoding: 'utf8', timeout: 240_000, cwd: ROOT });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const files = fs.readdirSync(out);
  const json = files.find((f) => /^suite-.*\.json$/.test(f));
  assert.ok(json && files.some((f) => /^suite-.*\.md$/.test(f)) && files.some((f) => /^suite-.*\.svg$/.test(f)), files.join(' '));
  const doc = JSON.parse(fs.readFileSync(path.join(out, json!), 'utf8')) as { quick: boolean; machine: { cores: number }; scenarios: (ScenarioReport & { exit: number; command: string })[] };
  assert.equal(doc.quick, true);
  assert.ok(doc.machine.cores > 0);
  assert.equal(doc.scenarios.length, 1);
  const scan = doc.scenarios[0];
  assert.equal(scan.scenario, 'scan');
  assert.equal(scan.exit, 0);
  assert.equal(scan.check.ok, true, scan.check.detail);
  assert.match(scan.command, /^node dist\/bench\/scan\.js --quick/);
  const fast = scan.rows.find((x) => x.tool === 'f2b-fast summary' && x.metric === 'sshd: lines/s');
  assert.ok(fast && fast.runs === 1 && fast.median! > 0, JSON.stringify(scan.rows));
  assert.match(r.stdout, /scan: check OK/);
});

test('corpus-coverage counts what a filter finds and wrongly matches in fail2ban\'s corpus; the bundled filters match none of its non-failures', (t) => {
  const corpus = '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs';
  assert.ok(fs.existsSync(corpus), `fail2ban's sample corpus is missing (${corpus}): apt-get install fail2ban`);
  const script = path.join(__dirname, '../bench/corpus-coverage.js');
  type Row = { filter: string; annotatedFailures: number; found: number; exact: number; wrongHost: number; missed: number; nonFailures: number; falseMatches: number };
  const run = (...args: string[]): Row[] => {
    const r = spawnSync(process.execPath, [script, '--json', ...args], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Row[];
  };
  const bundled = run();
  assert.ok(bundled.length >= 30, `${bundled.length} bundled filters have a corpus file`);
  for (const row of bundled) {
    assert.equal(row.falseMatches, 0, `${row.filter} matches fail2ban's non-failures`);
    assert.ok(row.found > 0, `${row.filter} finds none of fail2ban's failures`);
    assert.equal(row.found + row.wrongHost + row.missed, row.annotatedFailures, row.filter);
  }
  // the counting itself: a filter that blames any address, and one that matches nothing
  const dir = path.join(tmpDir(t), 'filter.d');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'sshd.conf'), '[Definition]\nfailregex = ^.*?<ADDR>\n');
  fs.writeFileSync(path.join(dir, 'dropbear.conf'), '[Definition]\nfailregex = ^this never appears <ADDR>$\n');
  const [any, none] = run('--filters', dir, 'sshd', 'dropbear');
  assert.ok(any.falseMatches > 0 && any.falseMatches <= any.nonFailures, JSON.stringify(any));
  assert.ok(any.wrongHost > 0, JSON.stringify(any));
  assert.equal(none.found, 0);
  assert.equal(none.missed, none.annotatedFailures);
  assert.ok(none.annotatedFailures > 0);
});
