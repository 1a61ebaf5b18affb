// bench/: the generator is deterministic and its ground truth is what its lines say; the scan
// scenario runs end to end. No timing is asserted here (design.md: measured in bench/ only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './helpers/tmp';
import { generate, Kind, Truth } from '../bench/generate';

const ROOT = path.resolve(__dirname, '../..');

function gen(dir: string, kind: Kind, seed: number, name: string, lines = 3000): { bytes: Buffer; truth: Truth } {
  const out = path.join(dir, name);
  const truth = generate(kind, lines, seed, out);
  return { bytes: fs.readFileSync(out), truth };
}

for (const kind of ['sshd', 'nginx'] as const) {
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

test('ground truth agrees with the failure lines in the generated logs', (t) => {
  const dir = tmpDir(t);
  for (const [kind, count] of [['sshd', countSshd], ['nginx', countNginx]] as const) {
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
