// How fast the JS prefilter (src/prefilter) is, and how much of a log it drops, next to the exact
// JS scan (RegexRunner) it saves. Not a test: numbers depend on the machine.
//
//   node dist/bench/prefilter.js [--kind sshd|nginx] [--lines 1000000] [--sample 100000] [--file F]
//
// Generates the log with bench/generate.ts unless --file is given (then --kind picks the filter).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate, FILTER, type Kind } from './generate';
import { Prefilter } from '../src/prefilter';
import { RegexRunner } from '../src/cli/regex';
import { readFilter } from '../src/config';
import type { FilterSpecMessage } from '../src/types';

function args(): { kind: Kind; lines: number; sample: number; file?: string; filterDir: string } {
  const a: Record<string, string> = {};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  const kind = (a.kind ?? 'sshd') as Kind;
  if (kind !== 'sshd' && kind !== 'nginx') throw new Error('--kind sshd|nginx');
  return { kind, lines: Number(a.lines ?? 1_000_000), sample: Number(a.sample ?? 100_000), file: a.file, filterDir: a['filter-dir'] ?? '/etc/fail2ban/filter.d' };
}

function main(): void {
  const o = args();
  let file = o.file;
  if (!file) {
    file = path.join(os.tmpdir(), `f2b-prefilter-${o.kind}-${o.lines}.log`);
    if (!fs.existsSync(file)) generate(o.kind, o.lines, 1, file);
  }
  const def = readFilter(o.filterDir, FILTER[o.kind]);
  const spec: FilterSpecMessage = {
    key: 'bench', failregex: def.failregex, ignoreregex: def.ignoreregex, prefregex: def.prefregex,
    datepattern: def.datepattern, maxlines: def.maxlines, usedns: 'raw',
  };
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const now = Date.UTC(2025, 2, 9) / 1000;

  const pf = new Prefilter(spec);
  // (a) the prefilter alone, over every line (one warm-up pass)
  let passed = 0;
  for (let i = 0; i < Math.min(lines.length, 50_000); i++) pf.test(lines[i]);
  let t = process.hrtime.bigint();
  for (const l of lines) if (pf.test(l)) passed++;
  const pfSec = Number(process.hrtime.bigint() - t) / 1e9;

  // (b) the exact JS scan, no prefilter, on a sample
  const sample = lines.slice(0, Math.min(o.sample, lines.length));
  const plain = new RegexRunner(spec);
  let failuresPlain = 0;
  t = process.hrtime.bigint();
  for (const l of sample) failuresPlain += plain.process(l, now).found.length;
  const plainSec = Number(process.hrtime.bigint() - t) / 1e9;

  // (c) prefilter, then the exact scan on passing lines; dropped lines still give their date to
  //     the detector and the tracker (the rule test/prefilter.test.ts proves identical)
  const gated = new RegexRunner(spec);
  let failuresGated = 0;
  t = process.hrtime.bigint();
  for (const l of sample) {
    if (pf.test(l)) failuresGated += gated.process(l, now).found.length;
    else gated.passDate(l, now);
  }
  const gatedSec = Number(process.hrtime.bigint() - t) / 1e9;

  // (d) prefilter, then the exact scan on passing lines only (dropped lines skip date parsing)
  const skip = new RegexRunner(spec);
  let failuresSkip = 0;
  t = process.hrtime.bigint();
  for (const l of sample) if (pf.test(l)) failuresSkip += skip.process(l, now).found.length;
  const skipSec = Number(process.hrtime.bigint() - t) / 1e9;

  const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en')} lines/s`;
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`file ${file}: ${lines.length} lines; filter ${FILTER[o.kind]}; node ${process.version}, ${os.cpus()[0]?.model ?? '?'}`);
  out(`literals ${JSON.stringify(pf.literals)} pref ${JSON.stringify(pf.prefLiterals)}`);
  out(`(a) Prefilter.test, all lines:          ${rate(lines.length, pfSec)} (${pfSec.toFixed(2)} s); dropped ${lines.length - passed} = ${((100 * (lines.length - passed)) / lines.length).toFixed(1)}%`);
  out(`(b) RegexRunner, no prefilter, sample:  ${rate(sample.length, plainSec)} (${sample.length} lines, ${failuresPlain} failures)`);
  out(`(c) prefilter + RegexRunner, dropped lines still date-parsed: ${rate(sample.length, gatedSec)} (${failuresGated} failures)`);
  out(`(d) prefilter + RegexRunner, dropped lines skipped entirely: ${rate(sample.length, skipSec)} (${failuresSkip} failures)`);
  out(`RE2 gate alternation: ${pf.re2}`);
}

main();
