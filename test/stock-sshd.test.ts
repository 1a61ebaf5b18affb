// The stock fail2ban sshd filter (read from /etc/fail2ban at run time, never copied) against
// fail2ban's own annotated sshd sample log, in every mode the log's filterOptions name.
// fail2ban's harness fixes now at 2005-08-14 12:00 CEST and reads annotated times as local CET.
// (logtype=journal variants and the rest of the corpus belong to the full corpus suite.)

process.env.TZ = 'Europe/Berlin';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { readFilter } from '../src/config';
import { FailureTracker, FilterScanner, filterSpecOf, timeCode } from '../src/filter/filter';
import { normalizeAddress } from '../src/net/ip';

const CORPUS = '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/sshd';
const FILTER_D = '/etc/fail2ban/filter.d';
const NOW = 1124013600;

interface Annotated {
  no: number;
  text: string;
  expect: { match: boolean; host?: string; time?: string; user?: string; attempts?: number; constraint?: string };
}

/** The only constraint forms the corpus uses: name/opts.get('k') compared with == or !=. */
function constraintHolds(expr: string, name: string, opts: Record<string, string>): boolean {
  const m = /^\s*(name|opts\.get\('([\w.]+)'\))\s*(==|!=)\s*'([^']*)'\s*$/.exec(expr);
  if (!m) throw new Error(`unsupported constraint ${JSON.stringify(expr)}`);
  const left = m[1] === 'name' ? name : opts[m[2]];
  return m[3] === '==' ? left === m[4] : left !== m[4];
}

function blocks(): { options: Record<string, string>[]; lines: Annotated[] }[] {
  const out: { options: Record<string, string>[]; lines: Annotated[] }[] = [{ options: [{}], lines: [] }];
  let pending: Annotated['expect'] | undefined;
  fs.readFileSync(CORPUS, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      let m: RegExpExecArray | null;
      if ((m = /^#\s*filterOptions:\s*(.*)$/.exec(text))) {
        const o = JSON.parse(m[1]) as Record<string, string> | Record<string, string>[];
        out.push({ options: Array.isArray(o) ? o : [o], lines: [] });
      } else if ((m = /^#\s*failJSON:\s*(.*)$/.exec(text))) pending = JSON.parse(m[1]) as Annotated['expect'];
      else if (!text.startsWith('#') && text.trim()) {
        out[out.length - 1].lines.push({ no: i + 1, text, expect: pending ?? { match: false } });
        pending = undefined;
      }
    });
  return out;
}

test('stock sshd filter: every annotated line of fail2ban\'s sshd sample, every mode', (t) => {
  if (!fs.existsSync(CORPUS) || !fs.existsSync(`${FILTER_D}/sshd.conf`)) {
    t.skip('fail2ban is not installed (apt-get install fail2ban)');
    return;
  }
  const problems: string[] = [];
  let checked = 0;
  for (const block of blocks()) {
    for (const opts of block.options) {
      const cond = opts['test.condition'];
      if (cond !== undefined && !constraintHolds(cond.replace(/==/, ' == '), 'sshd', opts)) continue;
      const filterOpts = Object.entries(opts).filter(([k]) => !k.startsWith('test.'));
      const def = readFilter(FILTER_D, filterOpts.length ? `sshd[${filterOpts.map(([k, v]) => `${k}="${v}"`).join(', ')}]` : 'sshd');
      const scanner = new FilterScanner(filterSpecOf(def, { key: 'sshd', usedns: 'raw' }));
      const tracker = new FailureTracker({ usedns: 'raw', checkAll: true });
      for (const l of block.lines) {
        const scan = scanner.scan(l.text, NOW, { checkAll: true });
        const time = tracker.resolveTime(timeCode(scan), NOW, false);
        const found = tracker.failures(scan.hits, time, NOW).filter((f) => !f.fields.nofail);
        const e = l.expect;
        if (e.constraint && !constraintHolds(e.constraint, 'sshd', opts)) continue;
        checked++;
        const where = `line ${l.no} ${JSON.stringify(opts)}: ${l.text}`;
        if (!e.match) {
          if (found.length) problems.push(`${where}\n  unexpected failure ${found.map((f) => f.id).join(', ')}`);
          continue;
        }
        if (found.length !== 1) {
          problems.push(`${where}\n  expected one failure, got ${found.length}`);
          continue;
        }
        const f = found[0];
        if (e.host !== undefined && f.id !== (normalizeAddress(e.host) ?? e.host)) problems.push(`${where}\n  host ${f.id} != ${e.host}`);
        if (e.user !== undefined && f.fields.user !== e.user) problems.push(`${where}\n  user ${f.fields.user} != ${e.user}`);
        if (e.time !== undefined && Math.floor(f.time ?? NaN) !== Date.parse(e.time) / 1000) problems.push(`${where}\n  time ${f.time} != ${e.time}`);
        if (e.attempts !== undefined && f.matches.length !== e.attempts) problems.push(`${where}\n  attempts ${f.matches.length} != ${e.attempts}`);
      }
    }
  }
  assert.ok(checked > 250, `only ${checked} annotated lines were checked`);
  assert.deepEqual(problems, []);
});
