// fail2ban's sample corpus, run the way fail2ban's own sample test runs it
// (fail2ban/tests/samplestestcase.py, read at run time from the installed package):
//   - "# failJSON: {...}" describes the next line; "# filterOptions: {...} | [{...}, ...]" starts a
//     block run through every listed filter variant; "# fileOptions:" merges into each variant;
//     "# addFILE: name" appends another sample file to this filter's run;
//   - variants are cached by name + options for the whole run, so state (sessions, last date)
//     carries on between blocks of the same variant, as in fail2ban;
//   - check-all mode, raw hosts, no findtime checks; logtype=journal lines are entries timed at
//     the test's now, not dated lines;
//   - a line matches when exactly one failure (not F-NOFAIL, not pending) comes out, and every
//     annotated key compares equal; every failregex of every variant must produce a result once.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatFilterSpec, readFilter } from '../../src/config';
import { RegexRunner, type RegexRecord } from '../../src/cli/regex';
import { filterSpecOf } from '../../src/filter/filter';
import { normalizeAddress } from '../../src/net/ip';
import { parsePosixTz } from '../../src/dates/posixtz';
import { Prefilter } from '../../src/prefilter';

export const F2B_PKG = '/usr/lib/python3/dist-packages/fail2ban';
export const CORPUS_DIR = path.join(F2B_PKG, 'tests/files/logs');
export const TEST_FILTER_DIR = path.join(F2B_PKG, 'tests/config/filter.d');
export const STOCK_FILTER_DIR = '/etc/fail2ban/filter.d';
/** fail2ban's test clock: 2005-08-14 12:00 CEST */
export const TEST_NOW = 1124013600;
/** fail2ban's test zone: CET with EU daylight saving, as a POSIX TZ rule */
export const TEST_TZ = 'CET-01CEST-02,M3.5.0,M10.5.0';

export interface Check {
  filter: string;
  variant: string;
  file: string;
  lineNo: number;
  line: string;
  /** the annotation says the line is a failure */
  failure: boolean;
  problem?: string;
}

export interface VariantRun {
  variant: string;
  /** the FILTER argument that selects this variant: `name[opt="v", ...]` */
  filterSpec: string;
  runner: RegexRunner;
  /** failregex indexes that produced a result at least once */
  used: Set<number>;
  /** every line processed with this variant, as `regex --json` would report it */
  records: RegexRecord[];
  /** the corpus lines fed to this variant, in order (for replaying through the CLI) */
  lines: { text: string; entry: boolean }[];
  /** with runFilterSamples(..., { prefilter }): the variant's prefilter and the lines it dropped */
  prefilter?: Prefilter;
  dropped?: number;
}

export interface SampleRunOptions {
  /**
   * Run a prefilter (src/prefilter) on each line before the scan. A dropped line:
   *  - 'gate': skips only the regex search: its date is still split off (the date detector keeps
   *    its template order) and fed to the failure tracker (the "last date"), and it is recorded
   *    as not matching. Identical records with and without prefilter = the prefilter is sound.
   *  - 'skip': skips everything (no date detection, no tracker): shows whether the dates of
   *    dropped lines matter.
   * Default: no prefilter (unchanged behaviour).
   */
  prefilter?: 'gate' | 'skip';
}


export interface FilterRun {
  name: string;
  checks: Check[];
  variants: Map<string, VariantRun>;
}

type Opts = Record<string, string>;

/** The expressions fail2ban's corpus uses in test.condition and constraint: comparisons of
 *  `name` or `opts.get('k')` with a string, joined by `and` / `or`. Anything else throws. */
export function evalCondition(expr: string, name: string, opts: Opts): boolean {
  return expr.split(/\s+or\s+/).some((conj) =>
    conj.split(/\s+and\s+/).every((atom) => {
      const m = /^\s*(not\s+)?(name|opts\.get\((['"])([\w.-]+)\3\))\s*(==|!=)\s*(['"])(.*?)\6\s*$/.exec(atom);
      if (!m) throw new Error(`unsupported condition ${JSON.stringify(expr)}`);
      const left = m[2] === 'name' ? name : opts[m[4]];
      const eq = left === m[7];
      return (m[5] === '==' ? eq : !eq) !== !!m[1];
    }),
  );
}

const TEST_ZONE = parsePosixTz(TEST_TZ)!;

/** Naive local "YYYY-mm-ddTHH:MM:SS[.fff]" in fail2ban's test zone -> epoch seconds, as Python's
 *  time.mktime reads the annotations (the POSIX rule module is checked against glibc). */
export function cetEpoch(iso: string): number {
  const m = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:\.(\d+))?$/.exec(iso);
  if (!m) throw new Error(`bad time ${iso}`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  return TEST_ZONE.mktime(y, mo, d, h, mi, s) + (m[7] ? Number(`0.${m[7]}`) : 0);
}

/**
 * filter.d with the stock filters and fail2ban's two zzz-* test filters beside them. The zzz
 * filters include `../../../../../../../config/filter.d/common.conf` (a path that only resolves
 * in fail2ban's source tree), so the tree sits seven levels below a root whose config/filter.d
 * is the same directory.
 */
export function makeFilterTree(tmp: string): string {
  const dir = path.join(tmp, 'a/b/c/d/e/f/filter.d');
  fs.cpSync(STOCK_FILTER_DIR, dir, { recursive: true });
  for (const f of fs.readdirSync(TEST_FILTER_DIR)) if (f.startsWith('zzz-')) fs.copyFileSync(path.join(TEST_FILTER_DIR, f), path.join(dir, f));
  fs.mkdirSync(path.join(tmp, 'config'));
  fs.symlinkSync(dir, path.join(tmp, 'config/filter.d'));
  return dir;
}

/** The filters fail2ban's test runs: every stock filter.d/*.conf but the *common.conf includes,
 *  and the zzz-* test filters. */
export function corpusFilters(filterDir: string): string[] {
  return fs
    .readdirSync(filterDir)
    .filter((f) => f.endsWith('.conf') && !f.endsWith('common.conf') && !f.startsWith('.'))
    .map((f) => f.slice(0, -5))
    .sort();
}

function compare(e: Record<string, unknown>, f: { id: string; time: number | null; fields: Record<string, string>; matches: string[]; users?: string[] }): string | undefined {
  const problems: string[] = [];
  for (const [k, want] of Object.entries(e)) {
    if (k === 'time' || k === 'match' || k === 'desc' || k === 'constraint') continue;
    let got: unknown = k === 'users' ? f.users : f.fields[k];
    if (got === undefined && k === 'host') got = f.id;
    if (got === undefined && k === 'attempts') got = f.matches.length;
    if (Array.isArray(want) || Array.isArray(got)) {
      const a = JSON.stringify([...((got as string[]) ?? [])].sort());
      const b = JSON.stringify([...((want as string[]) ?? [])].sort());
      if (a !== b) problems.push(`${k} ${a} != ${b}`);
      continue;
    }
    if (k === 'host' && typeof got === 'string' && typeof want === 'string') {
      const ga = normalizeAddress(got);
      const wa = normalizeAddress(want);
      if ((ga && wa ? ga !== wa : got !== want)) problems.push(`host ${got} != ${want}`);
      continue;
    }
    if ((got ?? null) !== (want ?? null)) problems.push(`${k} ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  }
  if (typeof e.time === 'string') {
    const want = cetEpoch(e.time);
    if (f.time !== want) problems.push(`time ${f.time} != ${want} (${e.time})`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/** The date part of a scan, as FilterScanner.scan computes it (same detector calls, in order). */

/** Run one filter's sample file(s) through f2b-fast the way fail2ban's sample test does. */
export function runFilterSamples(name: string, filterDir: string, sampleOpts: SampleRunOptions = {}): FilterRun {
  const run: FilterRun = { name, checks: [], variants: new Map() };
  const variant = (opts: Opts): VariantRun => {
    const fltOpts: Opts = {};
    for (const [k, v] of Object.entries(opts)) if (!k.startsWith('test.')) fltOpts[k] = v;
    const key = name + (opts['test.filter-name'] ?? (Object.keys(fltOpts).length ? JSON.stringify(fltOpts) : ''));
    let v = run.variants.get(key);
    if (!v) {
      const filterSpec = formatFilterSpec(name, fltOpts);
      const def = readFilter(filterDir, filterSpec);
      const runner = new RegexRunner(filterSpecOf(def, { key, usedns: 'raw' }));
      v = { variant: key, filterSpec, runner, used: new Set(), records: [], lines: [] };
      if (sampleOpts.prefilter) {
        v.prefilter = new Prefilter(runner.spec);
        v.dropped = 0;
      }
      run.variants.set(key, v);
    }
    return v;
  };

  const files = [name];
  let common: Opts = {};
  let tests: { v: VariantRun; opts: Opts }[] | null = null;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi];
    // some sample files have CRLF line ends; fail2ban strips '\r\n' from every line
    const lines = fs.readFileSync(path.join(CORPUS_DIR, file), 'utf8').split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    let ignoreBlock = false;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      let lineNo = i + 1;
      let faildata: Record<string, unknown> = {};
      const m = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/.exec(line);
      if (m) {
        const data = JSON.parse(m[2]) as unknown;
        if (m[1] === 'fileOptions') {
          common = data as Opts;
          continue;
        }
        if (m[1] === 'filterOptions') {
          tests = [];
          ignoreBlock = false;
          for (const fd of Array.isArray(data) ? (data as Opts[]) : [data as Opts]) {
            const opts = { ...common, ...fd };
            if (opts['test.condition']) ignoreBlock = !evalCondition(opts['test.condition'], name, opts);
            if (!ignoreBlock) tests.push({ v: variant(opts), opts });
          }
          continue;
        }
        if (m[1] === 'addFILE') {
          files.push(data as string);
          continue;
        }
        faildata = data as Record<string, unknown>;
        i++;
        if (i >= lines.length) break;
        line = lines[i];
        lineNo = i + 1;
      } else if (ignoreBlock || line.startsWith('#') || !line.trim()) {
        continue;
      }
      if (ignoreBlock) continue;
      if (!tests) tests = [{ v: variant({}), opts: {} }];
      for (const { v, opts } of tests) {
        if (typeof faildata.constraint === 'string' && !evalCondition(faildata.constraint, name, opts)) continue;
        const journal = opts.logtype === 'journal';
        const text = journal && opts['test.prefix-line'] ? opts['test.prefix-line'] + line : line;
        v.lines.push({ text, entry: journal });
        if (v.prefilter && !v.prefilter.test(text)) {
          v.dropped!++;
          if (sampleOpts.prefilter === 'gate') {
            v.runner.passDate(text, TEST_NOW, journal ? TEST_NOW : undefined);
          }
          v.records.push(...RegexRunner.records(v.lines.length, []));
          const check: Check = { filter: name, variant: v.variant, file, lineNo, line: text, failure: !!faildata.match };
          if (faildata.match) check.problem = 'line not matched when it should have been (dropped by the prefilter)';
          run.checks.push(check);
          continue;
        }
        const { scan, found } = v.runner.process(text, TEST_NOW, journal ? TEST_NOW : undefined);
        v.records.push(...RegexRunner.records(v.lines.length, found));
        for (const h of scan.hits) v.used.add(h.regex);
        const check: Check = { filter: name, variant: v.variant, file, lineNo, line: text, failure: !!faildata.match };
        if (!found.length) {
          if (faildata.match) check.problem = 'line not matched when it should have been';
        } else if (!faildata.match) {
          check.problem = `line matched when it should not have been: ${found.map((f) => f.id).join(', ')}`;
        } else if (found.length !== 1) {
          check.problem = `several regexes matched: ${found.map((f) => f.regex).join(', ')}`;
        } else {
          check.problem = compare(faildata, found[0]);
        }
        run.checks.push(check);
      }
    }
  }
  return run;
}
