// `f2b-fast regex [options] LOG FILTER [IGNOREREGEX]`: what fail2ban-regex does.
// LOG is a file or a literal line; FILTER a filter file, a name from the config's filter.d (with
// options, `sshd[mode=aggressive]`), or a literal failregex.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatFilterSpec, parseFilterSpec, readFilter } from '../config';
import type { FilterDef } from '../config/types';
import { F2bError } from '../errors';
import { FailureTracker, FilterScanner, filterSpecOf, timeCode, type FoundFailure, type LineScan } from '../filter/filter';
import type { FilterSpecMessage } from '../types';
import { defaultConfigDir } from './paths';
import { Prefilter } from '../prefilter';

export interface RegexOptions {
  config?: string;
  json?: boolean;
  now?: string;
  timezone?: string;
  datepattern?: string;
  raw?: boolean;
  usedns?: string;
  maxlines?: string;
  printAllMatched?: boolean;
  printAllMissed?: boolean;
  printAllIgnored?: boolean;
  journal?: boolean;
  prefilter?: boolean;
}

/** `--now`: epoch seconds or an ISO-8601 time. */
export function parseNow(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new F2bError('USAGE', `--now: ${JSON.stringify(text)} is neither epoch seconds nor an ISO-8601 time`);
  return ms / 1000;
}

const FILTER_NAME_RE = /^([\w.-]+)(\[.*\])?$/s;

function loadFilter(spec: string, configDir: string): { def: FilterDef; label: string } {
  if (fs.existsSync(spec) && fs.statSync(spec).isFile()) {
    return { def: readFilter(path.join(configDir, 'filter.d'), path.resolve(spec)), label: `filter file : ${spec}` };
  }
  const name = FILTER_NAME_RE.exec(spec);
  if (name && fs.existsSync(path.join(configDir, 'filter.d', `${name[1]}.conf`))) {
    return { def: readFilter(path.join(configDir, 'filter.d'), spec), label: `filter file : ${spec}, basedir: ${configDir}` };
  }
  const def: FilterDef = { name: 'regex', file: '', options: {}, failregex: [spec], ignoreregex: [], maxlines: 1, usedns: 'warn' };
  return { def, label: `failregex line : ${spec}` };
}

/** Lines of LOG: a file read in chunks, or the literal text (with `\n` escapes) split. */
function* logLines(log: string): Generator<string> {
  if (!fs.existsSync(log)) {
    yield* log.replace(/\\n/g, '\n').split('\n');
    return;
  }
  const fd = fs.openSync(log, 'r');
  const chunk = Buffer.alloc(1 << 22);
  let rest: Buffer = Buffer.alloc(0);
  const decoder = (b: Buffer) => b.toString('utf8').replace(/\r$/, '');
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const buf = Buffer.concat([rest, chunk.subarray(0, n)]);
      let start = 0;
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
        yield decoder(buf.subarray(start, i));
        start = i + 1;
      }
      rest = Buffer.from(buf.subarray(start));
    }
    if (rest.length) yield decoder(rest);
  } finally {
    fs.closeSync(fd);
  }
}

/** One JSON Lines record of `regex --json`. */
export type RegexRecord =
  | { line: number; match: false }
  | { line: number; match: true; ip: string; time: number | null; regex: number; fields: Record<string, string | string[]> };

/**
 * fail2ban-regex's way of running a filter: every failregex is tried on every line ("check
 * all"), no findtime checks, F-NOFAIL results are not failures. Shared by the CLI and the
 * corpus test, so both report the same records.
 */
export class RegexRunner {
  readonly scanner: FilterScanner;
  private readonly tracker: FailureTracker;
  /** lines it rejects skip the regex search (their date still counts); see src/prefilter */
  private readonly prefilter?: Prefilter;

  constructor(
    readonly spec: FilterSpecMessage,
    opts: { prefilter?: boolean } = {},
  ) {
    this.scanner = new FilterScanner(spec);
    this.tracker = new FailureTracker({ usedns: spec.usedns, checkAll: true });
    // not with ignoreregex: a line an early ignoreregex drops counts as "ignored", not "missed"
    if (opts.prefilter && !spec.ignoreregex.length) {
      const p = new Prefilter(spec);
      if (!p.alwaysPass) this.prefilter = p;
    }
  }

  /**
   * One line; `entryTime` set = a journal entry's text, timed by the entry (no date parsing).
   * `found` are the failures; `results` also holds the F-NOFAIL ones (pending sessions, with no
   * id yet, are in neither).
   */
  process(text: string, now: number, entryTime?: number): { scan: LineScan; found: FoundFailure[]; results: FoundFailure[] } {
    if (this.prefilter && !this.prefilter.test(text)) {
      this.passDate(text, now, entryTime);
      return { scan: { time: null, emptyDate: false, dateText: '', hits: [] }, found: [], results: [] };
    }
    const scan = entryTime === undefined ? this.scanner.scan(text, now, { checkAll: true }) : this.scanner.scanDated(text, entryTime, { checkAll: true });
    const time = this.tracker.resolveTime(timeCode(scan), now, false);
    const results = this.tracker.failures(scan.hits, time, now);
    return { scan, found: results.filter((f) => !f.fields.nofail), results };
  }

  /** A line the prefilter dropped: no regex search, but its date still moves the detector's
   *  template order and the tracker's "last date", exactly as a scanned line's would. */
  passDate(text: string, now: number, entryTime?: number): void {
    let code: number;
    if (entryTime !== undefined) code = entryTime;
    else {
      const d = this.scanner.splitDate(text, now);
      code = timeCode({ time: d.time, emptyDate: d.empty });
    }
    this.tracker.resolveTime(code, now, false);
  }

  static records(lineNo: number, found: FoundFailure[]): RegexRecord[] {
    if (!found.length) return [{ line: lineNo, match: false }];
    return found.map((f) => {
      const { mlfid: _m, nofail: _n, mlfforget: _f, mlfgained: _g, ...rest } = f.fields;
      const fields: Record<string, string | string[]> = rest;
      if (f.users) fields.users = f.users;
      return { line: lineNo, match: true, ip: f.id, time: f.time, regex: f.regex, fields };
    });
  }
}

/** Errors of a filter that does not compile name the filter's file. */
function withFilterFile<T>(file: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof F2bError && file && !e.file) throw new F2bError(e.code, e.message, { file });
    throw e;
  }
}

/** `name[opts]` with one more option added unless already given. */
function withOption(filter: string, key: string, value: string): string {
  const { name, options } = parseFilterSpec(filter);
  return options[key] !== undefined ? filter : formatFilterSpec(name, { ...options, [key]: value });
}

export async function regexCommand(log: string, filter: string, ignoreregex: string | undefined, opts: RegexOptions): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const started = process.hrtime.bigint();
  const configDir = opts.config ?? defaultConfigDir();
  const now = opts.now ? parseNow(opts.now) : Date.now() / 1000;
  // journal entries are matched with the filter's journal prefix (logtype = journal), like the
  // systemd backend does
  const filterArg = opts.journal && !fs.existsSync(filter) && FILTER_NAME_RE.test(filter) ? withOption(filter, 'logtype', 'journal') : filter;
  const { def, label } = loadFilter(filterArg, configDir);
  if (ignoreregex !== undefined) def.ignoreregex = fs.existsSync(ignoreregex) ? loadFilter(ignoreregex, configDir).def.failregex : [ignoreregex];
  const usedns = opts.raw ? 'raw' : (opts.usedns ?? def.usedns);
  const runner = withFilterFile(def.file, () =>
    new RegexRunner(
      filterSpecOf(def, {
        key: 'regex',
        usedns,
        logtimezone: opts.timezone,
        ...(opts.datepattern !== undefined && { datepattern: opts.datepattern }),
        ...(opts.maxlines !== undefined && { maxlines: Number(opts.maxlines) }),
      }),
      { prefilter: opts.prefilter === true },
    ),
  );
  const spec = runner.spec;
  // fail2ban-regex's counters: a line with an F-NOFAIL result or an ignoreregex hit is
  // "ignored" (even if another regex found a failure in it), else "matched" if a failure was
  // found, else "missed"; hits count every result of a regex, F-NOFAIL ones included
  const hitsPerRegex = new Array<number>(spec.failregex.length).fill(0);
  const ignoreHits = new Array<number>(spec.ignoreregex.length).fill(0);
  const MAX_LISTED = 21;
  const listed = { matched: [] as string[], ignored: [] as string[], missed: [] as string[] };
  const count = { matched: 0, ignored: 0, missed: 0 };
  const keep = (kind: 'matched' | 'ignored' | 'missed', line: string, all: boolean | undefined) => {
    count[kind]++;
    if (all || (kind !== 'matched' && listed[kind].length < MAX_LISTED)) listed[kind].push(line);
  };
  let total = 0;
  let lineNo = 0;
  let prefMatched = 0;
  for (const line of logLines(log)) {
    lineNo++;
    if (line === '' || line.startsWith('#')) continue;
    total++;
    const { scan, found, results } = runner.process(line, now, opts.journal ? now : undefined);
    if (scan.hits.length || scan.ignoredBy !== undefined) prefMatched++;
    for (const f of results) hitsPerRegex[f.regex]++;
    if (scan.ignoredBy !== undefined) ignoreHits[scan.ignoredBy]++;
    if (opts.json) {
      for (const r of RegexRunner.records(lineNo, found)) out(`${JSON.stringify(r)}\n`);
      continue;
    }
    if (scan.ignoredBy !== undefined || results.length > found.length) keep('ignored', line, opts.printAllIgnored);
    else if (found.length) keep('matched', line, opts.printAllMatched);
    else keep('missed', line, opts.printAllMissed);
  }
  if (opts.json) return 0;

  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  out('\nRunning tests\n=============\n\n');
  out(`Use ${label}\n`);
  if (spec.datepattern) out(`Use      datepattern : ${spec.datepattern.replace(/\n/g, ' ')}\n`);
  out(`Use         log file : ${fs.existsSync(log) ? log : '(literal line)'}\n`);
  out('Use         encoding : UTF-8\n\n\nResults\n=======\n\n');
  if (spec.prefregex) out(`Prefregex: ${prefMatched} total\n|  ${spec.prefregex}\n\`-\n\n`);
  const regexList = (title: string, regexes: string[], hits: number[]) => {
    out(`${title}: ${hits.reduce((a, b) => a + b, 0)} total\n|-  #) [# of hits] regular expression\n`);
    regexes.forEach((r, i) => hits[i] && out(`|  ${String(i + 1).padStart(2)}) [${hits[i]}] ${r}\n`));
    out('`-\n\n');
  };
  regexList('Failregex', spec.failregex, hitsPerRegex);
  regexList('Ignoreregex', spec.ignoreregex, ignoreHits);
  out('Date template hits:\n|- [# of hits] date format\n');
  for (const [name, hits] of runner.scanner.dates.templateHits) if (hits) out(`|  [${hits}] ${name}\n`);
  out('`-\n\n');
  out(`Lines: ${total} lines, ${count.ignored} ignored, ${count.matched} matched, ${count.missed} missed\n`);
  out(`[processed in ${secs.toFixed(2)} sec]\n`);
  const list = (title: string, kind: 'matched' | 'ignored' | 'missed', all: boolean | undefined, flag: string) => {
    if (!count[kind]) return;
    if (all || count[kind] < MAX_LISTED - 1) out(`\n|- ${title} line(s): ${count[kind]}\n${listed[kind].map((l) => `|  ${l}`).join('\n')}\n\`-\n`);
    else out(`\n${title} line(s): too many to print. Use ${flag} to print all ${count[kind]} lines\n`);
  };
  if (opts.printAllMatched) list('Matched', 'matched', true, '--print-all-matched');
  list('Ignored', 'ignored', opts.printAllIgnored, '--print-all-ignored');
  list('Missed', 'missed', opts.printAllMissed, '--print-all-missed');
  return 0;
}
