// The command line as a user runs it: `f2b-fast regex` (human and --json), --help, --version,
// exit codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/f2b-fast');
const SAMPLES = path.join(ROOT, 'filters/samples/sshd.log');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('regex --json prints one object per failure and one per missed line, with fields', () => {
  const r = cli(['regex', '--json', '--now', '2024-06-01T00:00:00Z', '--timezone', 'UTC', '-c', path.join(ROOT, 'filters'), SAMPLES, 'sshd']);
  assert.equal(r.code, 0, r.err);
  const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const first = rows.find((x) => x.match === true);
  assert.deepEqual(first, {
    line: 7,
    match: true,
    ip: '192.0.2.10',
    time: Date.parse('2024-03-05T10:11:12Z') / 1000,
    regex: 0,
    fields: { user: 'root', ip4: '192.0.2.10' },
  });
  const v6 = rows.find((x) => x.ip === '2001:db8::7');
  assert.equal((v6?.fields as Record<string, string>).ip6, '2001:db8::7');
  // the injection samples: the address sshd wrote, never the one inside the user name or the
  // method's details
  const inj = rows.filter((x) => x.match === true && (x.fields as Record<string, string>).user?.includes('203.0.113.66'));
  assert.deepEqual(
    inj.map((x) => x.ip),
    ['192.0.2.50', '192.0.2.27'],
  );
  assert.deepEqual(rows.filter((x) => x.ip === '203.0.113.66'), []);
  assert.ok(rows.some((x) => x.match === false && typeof x.line === 'number'));
  // every non-comment line of the file is reported exactly once or as failures
  const lines = fs.readFileSync(SAMPLES, 'utf8').split('\n');
  for (const row of rows) assert.ok(!lines[(row.line as number) - 1].startsWith('#'));
});

test('regex takes a literal line and a literal failregex; the summary counts them', () => {
  const line = 'Jan  2 03:04:05 host sshd[1]: Invalid user bob from 192.0.2.7 port 22';
  const r = cli(['regex', '--now', '2024-06-01T00:00:00Z', line, 'Invalid user <F-USER>\\S+</F-USER> from <HOST>']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Failregex: 1 total/);
  assert.match(r.out, /Lines: 1 lines, 0 ignored, 1 matched, 0 missed/);
  assert.match(r.out, /Date template hits:\n\|- \[# of hits\] date format\n\|  \[1\] /);
  const j = cli(['regex', '--json', '--now', '2024-06-01T00:00:00Z', '--timezone', 'UTC', line, 'Invalid user <F-USER>\\S+</F-USER> from <HOST>']);
  const row = JSON.parse(j.out.trim()) as { ip: string; time: number; fields: { user: string } };
  assert.equal(row.ip, '192.0.2.7');
  assert.equal(row.fields.user, 'bob');
  assert.equal(row.time, Date.parse('2024-01-02T03:04:05Z') / 1000);
});

test('regex with filter options selects a mode', () => {
  const line = 'Mar  5 10:12:00 web1 sshd[1300]: Did not receive identification string from 192.0.2.70 port 60000';
  const base = ['regex', '--json', '--now', '2024-06-01T00:00:00Z', '-c', path.join(ROOT, 'filters'), line];
  assert.equal(JSON.parse(cli([...base, 'sshd']).out).match, false);
  assert.equal(JSON.parse(cli([...base, 'sshd[mode=ddos]']).out).ip, '192.0.2.70');
});

test('--help and --version exit 0; usage errors exit 2; a bad config exits 255', (t) => {
  const help = cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /run \[options\]/);
  assert.match(help.out, /regex \[options\] <log> <filter>/);
  assert.match(cli(['run', '--help']).out, /--dry-run/);
  const v = cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out.trim(), /^\d+\.\d+\.\d+$/);
  assert.equal(cli(['no-such-command']).code, 2);
  assert.equal(cli(['regex']).code, 2);
  const dir = tmpDir(t);
  const r = cli(['run', '--config', dir, '--dry-run']);
  assert.equal(r.code, 255);
  assert.match(r.err, new RegExp(dir.replace(/[.]/g, '\\.')));
});
