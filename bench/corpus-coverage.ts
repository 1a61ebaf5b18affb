// How much of fail2ban's own sample corpus our bundled filters (filters/filter.d) get right: for
// every bundled filter with a sample file of the same name in the installed fail2ban package,
// the corpus is run through OUR filter exactly as test/corpus.test.ts runs it through the stock
// one (same clock, zone, variants and filterOptions), and each annotated line is counted:
//   failures found: annotated match:true, one failure for the annotated host
//     (exact: every annotated field, user and time included, equal too)
//   wrong host: annotated match:true, a failure for another address
//   missed: annotated match:true, nothing found
//   false matches: annotated match:false (or unannotated), a failure found anyway
// Usage: node dist/bench/corpus-coverage.js [--json] [--missed] [--filters DIR] [FILTER...]
//   --filters DIR: a filter.d other than the bundled one

import * as helpers from '../test/helpers/corpus';

process.env.TZ = helpers.TEST_TZ;

import * as fs from 'node:fs';
import * as path from 'node:path';

const BUNDLED = path.resolve(__dirname, '../../filters/filter.d');

export interface Coverage {
  filter: string;
  annotatedFailures: number;
  found: number;
  exact: number;
  wrongHost: number;
  missed: number;
  nonFailures: number;
  falseMatches: number;
  /** lines behind the counts other than `exact`, for --missed */
  problems: string[];
}

/** The bundled filters that have a corpus file of the same name. */
export function coveredFilters(dir = BUNDLED): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.conf') && !f.endsWith('common.conf'))
    .map((f) => f.slice(0, -5))
    .filter((n) => fs.existsSync(path.join(helpers.CORPUS_DIR, n)))
    .sort();
}

export function coverage(name: string, dir = BUNDLED): Coverage {
  const run = helpers.runFilterSamples(name, dir);
  const c: Coverage = { filter: name, annotatedFailures: 0, found: 0, exact: 0, wrongHost: 0, missed: 0, nonFailures: 0, falseMatches: 0, problems: [] };
  for (const check of run.checks) {
    const p = check.problem ?? '';
    const where = `${check.file}:${check.lineNo} ${check.variant}: ${p}\n    ${check.line}`;
    if (p.startsWith('line matched when it should not')) {
      c.nonFailures++;
      c.falseMatches++;
      c.problems.push(where);
    } else if (p.startsWith('line not matched')) {
      c.annotatedFailures++;
      c.missed++;
      c.problems.push(where);
    } else if (!p) {
      if (check.failure) {
        c.annotatedFailures++;
        c.found++;
        c.exact++;
      } else c.nonFailures++;
    } else {
      c.annotatedFailures++;
      if (/(^|; )host /.test(p) || p.startsWith('several regexes')) c.wrongHost++;
      else c.found++;
      c.problems.push(where);
    }
  }
  return c;
}

function main(argv: string[]): number {
  const json = argv.includes('--json');
  const missed = argv.includes('--missed');
  const at = argv.indexOf('--filters');
  const dir = at >= 0 ? argv[at + 1] : BUNDLED;
  if (!dir) {
    process.stderr.write('--filters needs a filter.d directory\n');
    return 2;
  }
  const names = argv.filter((a, i) => !a.startsWith('--') && !(at >= 0 && i === at + 1));
  if (!fs.existsSync(helpers.CORPUS_DIR)) {
    process.stderr.write(`fail2ban's sample corpus is not installed (${helpers.CORPUS_DIR}): apt-get install fail2ban\n`);
    return 2;
  }
  const rows = (names.length ? names : coveredFilters(dir)).map((n) => coverage(n, dir));
  if (json) {
    process.stdout.write(`${JSON.stringify(rows.map(({ problems, ...r }) => (missed ? { ...r, problems } : r)), null, 2)}\n`);
    return 0;
  }
  const head = ['filter', 'failures', 'found', 'exact', 'wrong host', 'missed', 'non-failures', 'false matches'];
  const table = rows.map((r) => [r.filter, r.annotatedFailures, r.found, r.exact, r.wrongHost, r.missed, r.nonFailures, r.falseMatches].map(String));
  const sum = (k: keyof Coverage) => rows.reduce((a, r) => a + (r[k] as number), 0);
  table.push(['total', sum('annotatedFailures'), sum('found'), sum('exact'), sum('wrongHost'), sum('missed'), sum('nonFailures'), sum('falseMatches')].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${[line(head), ...table.map(line)].join('\n')}\n`);
  const total = sum('annotatedFailures');
  process.stdout.write(`\n${sum('found')} of ${total} annotated failures found (${((100 * sum('found')) / Math.max(1, total)).toFixed(1)} %), ${sum('falseMatches')} of ${sum('nonFailures')} non-failures matched, over ${rows.length} filters\n`);
  if (missed) for (const r of rows) for (const p of r.problems) process.stdout.write(`${r.filter}: ${p}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
