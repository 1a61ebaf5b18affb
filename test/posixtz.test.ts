// POSIX TZ rules against glibc (through python3's time module with the same TZ): offsets at
// instants around every transition, and mktime of wall-clock fields including gaps and repeats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parsePosixTz } from '../src/dates/posixtz';

// (a bare "EST5EDT" is also a zone file name: glibc and ICU read its history, not a rule)
const RULES = [
  'CET-01CEST-02,M3.5.0,M10.5.0',
  'CET-1CEST,M3.5.0,M10.5.0/3',
  'EST5EDT,M3.2.0/2,M11.1.0/2',
  '<+0330>-3:30',
  'AEST-10AEDT,M10.1.0,M4.1.0/3',
  'NZST-12NZDT,M9.5.0,M4.1.0/3',
  'JST-9',
  'UTC0',
  'XYZ3ABC,J60/1,J300',
  'XYZ3ABC2,59,300/0:30',
];

const python = spawnSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' }).status === 0;

test('not POSIX rules: zone names are left to ICU', () => {
  for (const name of ['Europe/Berlin', 'America/New_York', '', 'CET', 'garbage!', 'ABC-']) assert.equal(parsePosixTz(name), undefined, name);
});

test('POSIX TZ rules agree with glibc on offsets and mktime', { skip: !python && 'python3 is not installed' }, () => {
  const instants: number[] = [];
  for (let y = 2003; y <= 2027; y += 4) {
    for (let d = 0; d < 366; d += 1) for (const h of [0, 1, 2, 3, 23]) instants.push(Date.UTC(y, 0, 1 + d, h, 30) / 1000);
  }
  const fields: number[][] = [];
  for (const y of [2004, 2005, 2026]) for (let m = 1; m <= 12; m++) for (let d = 1; d <= 31; d += 1) for (const h of [0, 1, 2, 3]) fields.push([y, m, d, h, 30, 0]);
  const script = `
import json, os, sys, time, calendar
req = json.load(sys.stdin)
out = {}
for tz in req['rules']:
    os.environ['TZ'] = tz
    time.tzset()
    offs = [time.localtime(t).tm_gmtoff for t in req['instants']]
    mk = []
    for (y, m, d, h, mi, s) in req['fields']:
        try:
            calendar.timegm((y, m, d, 0, 0, 0))
            mk.append(time.mktime((y, m, d, h, mi, s, 0, 0, -1)))
        except (ValueError, OverflowError):
            mk.append(None)
    out[tz] = {'offs': offs, 'mk': mk}
print(json.dumps(out))`;
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify({ rules: RULES, instants, fields }), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Record<string, { offs: number[]; mk: (number | null)[] }>;
  let compared = 0;
  for (const rule of RULES) {
    const z = parsePosixTz(rule);
    assert.ok(z, rule);
    const bad: string[] = [];
    instants.forEach((t, i) => {
      compared++;
      if (z.offsetAt(t) !== want[rule].offs[i]) bad.push(`offset at ${new Date(t * 1000).toISOString()}: ${z.offsetAt(t)} != ${want[rule].offs[i]}`);
    });
    fields.forEach((f, i) => {
      const w = want[rule].mk[i];
      // day 31 of a short month: Python normalises it, we are never asked for one
      if (w === null || new Date(Date.UTC(f[0], f[1] - 1, f[2])).getUTCDate() !== f[2]) return;
      compared++;
      const got = z.mktime(f[0], f[1], f[2], f[3], f[4], f[5]);
      if (got !== w) bad.push(`mktime ${f.join(',')}: ${got} != ${w}`);
    });
    assert.deepEqual(bad.slice(0, 10), [], `${rule}: ${bad.length} differences`);
  }
  assert.ok(compared > 100_000, `${compared} values compared`);
});
