// `f2b-fast regex [options] LOG FILTER [IGNOREREGEX]`: what fail2ban-regex does.
// LOG is a file or a literal line; FILTER a filter file, a name from the config's filter.d (with
// options, `sshd[mode=aggressive]`), or a literal failregex.

import * as fs from 'node:fs';
import * as path from 'node:path';
// the filter reader and the spec syntax only: the config index would load the jail and action
// resolvers (and the firewall module) that `regex` never uses
import { readFilter } from '../config/filter';
import { formatFilterSpec, parseFilterSpec } from '../config/spec';
import type { FilterDef } from '../config/types';
import { F2bError } from '../errors';
import { escapeControls } from '../log/logger';
import { FailureTracker, FilterScanner, failureId, filterDateDetector, filterSpecOf, timeCode, type FoundFailure, type LineScan } from '../filter/filter';
import type { DateDetector } from '../dates/detector';
import { loadNative, type NativeFailure, type NativeFilter as NativeMatchFilter } from '../native';
import { compileNativeFilter, matchFile } from '../match/native';
import type { FilterSpecMessage } from '../types';
import { defaultConfigDir } from './paths';
import { fileSample, filterPrefilter, scanFile, type FileScanResult } from '../scan/filescan';
import { progressBar } from './progress';
import { intOption } from './options';

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
  /** false (--no-prefilter): read every line in JS instead of the native scanner */
  prefilter?: boolean;
  /** scan threads of the native scanner (default: the machine's parallelism) */
  threads?: string;
  /** draw a progress bar on stderr (default: when stderr is a terminal) */
  progress?: boolean;
  /** auto | native | js: which engine matches a log file (see src/match/native.ts) */
  matcher?: string;
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
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const buf = Buffer.concat([rest, chunk.subarray(0, n)]);
      let start = 0;
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
        yield decodeLine(buf, start, i);
        start = i + 1;
      }
      rest = Buffer.from(buf.subarray(start));
    }
    if (rest.length) yield decodeLine(rest, 0, rest.length);
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

  constructor(readonly spec: FilterSpecMessage) {
    this.scanner = new FilterScanner(spec);
    this.tracker = new FailureTracker({ usedns: spec.usedns, checkAll: true });
  }

  /**
   * One line; `entryTime` set = a journal entry's text, timed by the entry (no date parsing).
   * `found` are the failures; `results` also holds the F-NOFAIL ones (pending sessions, with no
   * id yet, are in neither).
   *
   * With the native prefilter, lines it dropped are never seen: `only` is its answer for this
   * line (which failregexes may match), and `lookback` yields the lines dropped since the last
   * line processed, newest first, so that an undated line still takes the date of the last
   * dated line before it, as when every line is processed.
   */
  process(
    text: string,
    now: number,
    entryTime?: number,
    opts: { only?: number; lookback?: () => Iterable<string> } = {},
  ): { scan: LineScan; found: FoundFailure[]; results: FoundFailure[] } {
    const scanOpts = { checkAll: true, only: opts.only };
    const scan = entryTime === undefined ? this.scanner.scan(text, now, scanOpts) : this.scanner.scanDated(text, entryTime, scanOpts);
    const code = timeCode(scan);
    if (Number.isNaN(code) && opts.lookback) {
      for (const line of opts.lookback()) {
        const d = this.scanner.splitDate(line, now);
        if (d.time !== null) {
          this.tracker.resolveTime(d.time, now, false);
          break;
        }
      }
    }
    const time = this.tracker.resolveTime(code, now, false);
    const results = this.tracker.failures(scan.hits, time, now);
    return { scan, found: results.filter((f) => !f.fields.nofail), results };
  }

  /** A line whose regex search is skipped: its date still moves the detector's template order
   *  and the tracker's "last date", exactly as a scanned line's would. */
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

const MAX_LISTED = 21;
type Kind = 'matched' | 'ignored' | 'missed';

interface Tally {
  /** "Date template hits": hits per template name, in the detector's final order */
  templateHits: ReadonlyMap<string, number>;
  total: number;
  /** missed lines that are not in listed.missed (dropped by the prefilter, or matched natively) */
  unlisted: number;
  prefMatched: number;
  hitsPerRegex: number[];
  ignoreHits: number[];
  count: Record<Kind, number>;
  listed: Record<Kind, string[]>;
}

export type NativeFilter = NonNullable<ReturnType<typeof filterPrefilter>>;

/**
 * Runs the filter over the log and counts as fail2ban-regex does: a line with an F-NOFAIL
 * result or an ignoreregex hit is "ignored" (even if another regex found a failure in it), else
 * "matched" if a failure was found, else "missed"; hits count every result of a regex, F-NOFAIL
 * ones included. With `native`, the lines it drops are "missed" without being read.
 */
async function tallyLines(runner: RegexRunner, log: string, now: number, opts: RegexOptions, native: NativeFilter | null, out: (s: string) => void): Promise<Tally> {
  const spec = runner.spec;
  const t: Tally = {
    get templateHits() {
      return runner.scanner.dates.templateHits;
    },
    total: 0,
    unlisted: 0,
    prefMatched: 0,
    hitsPerRegex: new Array<number>(spec.failregex.length).fill(0),
    ignoreHits: new Array<number>(spec.ignoreregex.length).fill(0),
    count: { matched: 0, ignored: 0, missed: 0 },
    listed: { matched: [], ignored: [], missed: [] },
  };
  const keep = (kind: Kind, line: string, all: boolean | undefined) => {
    t.count[kind]++;
    if (all || (kind !== 'matched' && t.listed[kind].length < MAX_LISTED)) t.listed[kind].push(line);
  };
  const tallyOne = (lineNo: number, line: string, r: ReturnType<RegexRunner['process']>) => {
    const { scan, found, results } = r;
    if (scan.hits.length || scan.ignoredBy !== undefined) t.prefMatched++;
    for (const f of results) t.hitsPerRegex[f.regex]++;
    if (scan.ignoredBy !== undefined) t.ignoreHits[scan.ignoredBy]++;
    if (opts.json) {
      for (const r of RegexRunner.records(lineNo, found)) out(`${JSON.stringify(r)}\n`);
      return;
    }
    if (scan.ignoredBy !== undefined || results.length > found.length) keep('ignored', line, opts.printAllIgnored);
    else if (found.length) keep('matched', line, opts.printAllMatched);
    else keep('missed', line, opts.printAllMissed);
  };

  if (!native) {
    let lineNo = 0;
    for (const line of logLines(log)) {
      lineNo++;
      if (line === '' || line.startsWith('#')) continue;
      t.total++;
      tallyOne(lineNo, line, runner.process(line, now, opts.journal ? now : undefined));
    }
    return t;
  }

  const progress = progressBar(opts, log);
  const gaps = new JsonGaps(out);
  const res = await scanCandidates(
    runner,
    log,
    native,
    { now, threads: intOption('threads', opts.threads, 1), onProgress: progress?.update },
    (lineNo, line, r) => {
      if (opts.json) gaps.at(lineNo);
      tallyOne(lineNo, line, r);
    },
    opts.json ? (nos) => { for (const n of nos) gaps.skip(n); } : undefined,
  );
  if (opts.json) gaps.upTo(res.lines + 1);
  progress?.done();
  t.total = res.lines - res.skipped;
  t.unlisted = t.total - res.read;
  t.count.missed += t.unlisted;
  return t;
}

/**
 * --json's records for the lines between those read: a {"match": false} for each, except the
 * empty and comment lines (skip()), which have none. Lines come in order.
 */
class JsonGaps {
  private next = 1;
  private readonly skipped: number[] = [];
  private si = 0;

  constructor(private readonly out: (s: string) => void) {}

  /** an empty or comment line: no record */
  skip(lineNo: number): void {
    this.skipped.push(lineNo);
  }

  /** the records of the lines before `lineNo`, which is read (and gets its own) */
  at(lineNo: number): void {
    this.upTo(lineNo);
    this.next = Math.max(this.next, lineNo + 1);
  }

  /** the records of the lines before `lineNo` */
  upTo(lineNo: number): void {
    for (; this.next < lineNo; this.next++) {
      while (this.si < this.skipped.length && this.skipped[this.si] < this.next) this.si++;
      if (this.si < this.skipped.length && this.skipped[this.si] === this.next) continue;
      this.out(`{"line":${this.next},"match":false}\n`);
    }
  }
}

/**
 * tallyLines with the native matcher: the file is matched in C++ threads (dates, regexes,
 * sessions and counters), and JavaScript sees only the failures (--json: it reads their times)
 * and the totals. Missed lines are never listed here (unlisted).
 */
async function tallyNative(
  spec: FilterSpecMessage,
  dates: DateDetector,
  filter: NativeMatchFilter,
  log: string,
  now: number,
  opts: RegexOptions,
  out: (s: string) => void,
): Promise<Tally> {
  const rt = new (loadNative().RegexTally!)(filter, {
    failures: !!opts.json,
    listAllMatched: opts.printAllMatched,
    listAllIgnored: opts.printAllIgnored,
    listMax: MAX_LISTED,
  });
  const progress = progressBar(opts, log);
  const prefilter = filterPrefilter(spec, fileSample(log))?.prefilter ?? null;
  const fd = fs.openSync(log, 'r');
  try {
    const times = opts.json ? new FailureTimes(fd, dates, () => filterDateDetector(spec, true), now) : undefined;
    const gaps = new JsonGaps(out);
    const hits = new Map<number, number>();
    let order: number[] = [];
    // (the summary lists a few lines, read from the file at the end; --json needs each failure's text)
    const keepText = !!(opts.json || opts.printAllMatched || opts.printAllIgnored);
    const res = await matchFile(log, filter, prefilter, { threads: intOption('threads', opts.threads, 1), skipComments: true, checkAll: true, keepText, now, onProgress: progress?.update }, (b, base) => {
      if (opts.json) for (const n of b.skippedLineNos) gaps.skip(n + base + 1);
      if (b.count) {
        const failures = rt.feed(b.records, base);
        for (const f of failures) {
          gaps.at(f.line);
          const id = failureId(f.fields, spec.usedns)!;
          const found: FoundFailure = { regex: f.regex, id: id.id, dns: id.dns, time: times!.time(f), fields: id.fields, matches: [], users: f.users };
          for (const r of RegexRunner.records(f.line, [found])) out(`${JSON.stringify(r)}\n`);
        }
      }
      if (b.done && b.templateHits) {
        for (const [i, n] of b.templateHits) hits.set(i, (hits.get(i) ?? 0) + n);
        order = b.templateHits.map(([i]) => i);
      }
    });
    if (opts.json) gaps.upTo(res.lines + 1);
    progress?.done();
    const s = rt.summary();
    for (const l of s.limits) {
      const what = l.regex === -2 ? 'the prefregex' : l.regex < spec.failregex.length ? `failregex #${l.regex + 1}` : `ignoreregex #${l.regex - spec.failregex.length + 1}`;
      process.stderr.write(`WARNING: line ${l.line}: ${what} gave up on the line (PCRE2's backtracking limit); the line counts as not matched by it\n`);
    }
    if (s.limitLines > s.limits.length) process.stderr.write(`WARNING: ${s.limitLines - s.limits.length} more line(s) where a regex gave up\n`);
    const total = res.lines - res.skipped;
    const missed = total - s.matched - s.ignored;
    const read = ([offset, bytes]: [number, number]) => {
      const b = Buffer.alloc(bytes);
      fs.readSync(fd, b, 0, bytes, offset);
      return decodeLine(b, 0, bytes);
    };
    return {
      templateHits: new Map(order.map((i) => [dates.entries[i].tpl.name, hits.get(i) ?? 0])),
      total,
      unlisted: missed,
      prefMatched: s.prefMatched,
      hitsPerRegex: s.hitsPerRegex,
      ignoreHits: s.ignoreHits,
      count: { matched: s.matched, ignored: s.ignored, missed },
      listed: { matched: [...s.listedMatched, ...s.listedMatchedAt.map(read)], ignored: [...s.listedIgnored, ...s.listedIgnoredAt.map(read)], missed: [] },
    };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The time of each failure the native matcher found, as RegexRunner resolves it: the line's own
 * date (read here, at the place the matcher found it), else the last date before it if under 60 s
 * old (looked for backwards through the file, each stretch of it once), else `now` for a date
 * template that matched empty text, else null.
 */
class FailureTimes {
  private lastDate: number | null = null;
  /** file offset before which lines have been looked at */
  private seen = 0;
  private lookback?: DateDetector;

  constructor(
    private readonly fd: number,
    private readonly dates: DateDetector,
    private readonly makeDetector: () => DateDetector,
    private readonly now: number,
  ) {}

  time(f: NativeFailure): number | null {
    let code = NaN;
    if (f.tpl >= 0 && f.dateEmpty) code = -Infinity;
    else if (f.tpl >= 0 && f.text !== undefined) code = this.dates.timeAt(f.tpl, f.text, f.dateStart!, f.dateEndpos! < 0 ? f.text.length : f.dateEndpos!, this.now);
    if (Number.isFinite(code)) {
      this.lastDate = code;
      this.seen = Math.max(this.seen, f.offset);
      return code;
    }
    if (this.seen < f.offset) {
      this.lookback ??= this.makeDetector();
      for (const line of linesBackward(this.fd, this.seen, f.offset)) {
        const t = this.lookback.match(line, this.now)?.time;
        if (t !== undefined && Number.isFinite(t)) {
          this.lastDate = t;
          break;
        }
      }
      this.seen = f.offset;
    }
    if (this.lastDate !== null && this.lastDate > this.now - 60) return this.lastDate;
    return code === -Infinity ? this.now : null;
  }
}

/**
 * The native path of RegexRunner over a log file: the scanner drops the lines no regex (nor
 * ignoreregex) can match, and only the others are processed, each with the failregexes the
 * prefilter says may match it and a lookback over the dropped lines before it for an undated
 * line. Empty and comment lines are left out, as `regex` does. Calls `visit` per line read.
 */
export async function scanCandidates(
  runner: RegexRunner,
  log: string,
  native: NativeFilter,
  opts: { now: number; entryTime?: number; threads?: number; skipComments?: boolean; onProgress?: (done: number, size: number) => void },
  visit: (lineNo: number, line: string, r: ReturnType<RegexRunner['process']>) => void,
  /** the numbers of empty and comment lines (skipComments), before the lines read after them */
  visitSkipped?: (lineNos: Float64Array) => void,
): Promise<FileScanResult & { read: number }> {
  const fd = fs.openSync(log, 'r');
  try {
    const failMask = native.failregexes >= 32 ? 0xffffffff : 2 ** native.failregexes - 1;
    let prevEnd = 0; // file offset after the last line handed to the runner
    let read = 0;
    const res = await scanFile(log, native.prefilter, { skipComments: opts.skipComments ?? true, threads: opts.threads, onProgress: opts.onProgress }, (b) => {
      if (visitSkipped && b.skippedLineNos.length) visitSkipped(b.skippedLineNos);
      let start = 0;
      for (let i = 0; i < b.ends.length; i++) {
        const end = b.ends[i];
        const line = decodeLine(b.buf, start, end);
        const offset = b.offsets[i];
        const from = prevEnd;
        const r = runner.process(line, opts.now, opts.entryTime, { only: b.masks[i] & failMask, lookback: () => linesBackward(fd, from, offset) });
        visit(b.lineNos[i], line, r);
        prevEnd = offset + (end - start) + 1;
        start = end + 1;
        read++;
      }
    });
    return { ...res, read };
  } finally {
    fs.closeSync(fd);
  }
}

/** A line's text as the JS reader makes it: UTF-8, a trailing '\r' removed. */
function decodeLine(buf: Buffer, start: number, end: number): string {
  const s = buf.toString('utf8', start, end);
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

/** The non-empty, non-comment lines of fd's [from, to) (whole lines: `from` is a line start,
 *  to - 1 a '\n'), newest first: RegexRunner's lookback over lines the prefilter dropped. */
function* linesBackward(fd: number, from: number, to: number): Generator<string> {
  const BLOCK = 1 << 16;
  const wanted = (line: string) => line !== '' && !line.startsWith('#');
  let pending = Buffer.alloc(0); // a line's end whose start lies in the block read next
  let first = true;
  for (let pos = to; pos > from; ) {
    const n = Math.min(BLOCK, pos - from);
    pos -= n;
    const block = Buffer.alloc(n);
    fs.readSync(fd, block, 0, n, pos);
    const buf = pending.length ? Buffer.concat([block, pending]) : block;
    let end = buf.length;
    if (first) {
      first = false;
      if (end > 0 && buf[end - 1] === 10) end--; // the '\n' of the newest line
    }
    while (end > 0) {
      const nl = buf.lastIndexOf(10, end - 1);
      if (nl < 0) break;
      const line = decodeLine(buf, nl + 1, end);
      if (wanted(line)) yield line;
      end = nl;
    }
    pending = buf.subarray(0, end);
  }
  const line = decodeLine(pending, 0, pending.length);
  if (wanted(line)) yield line;
}

export async function regexCommand(log: string, filter: string, ignoreregex: string | undefined, opts: RegexOptions): Promise<number> {
  // stdout in 64 KiB writes: --json writes a record per line
  const buffered: string[] = [];
  let bufferedLength = 0;
  const flush = () => {
    if (buffered.length) process.stdout.write(buffered.join(''));
    buffered.length = 0;
    bufferedLength = 0;
  };
  const out = (s: string) => {
    buffered.push(s);
    bufferedLength += s.length;
    if (bufferedLength >= 1 << 16) flush();
  };
  try {
    return await regexRun(log, filter, ignoreregex, opts, out);
  } finally {
    flush();
  }
}

/** What `regex` prints, as one string (tests compare the engines with it). */
export async function regexOutput(log: string, filter: string, ignoreregex: string | undefined, opts: RegexOptions): Promise<string> {
  const parts: string[] = [];
  await regexRun(log, filter, ignoreregex, opts, (s) => parts.push(s));
  return parts.join('');
}

async function regexRun(log: string, filter: string, ignoreregex: string | undefined, opts: RegexOptions, out: (s: string) => void): Promise<number> {
  const started = process.hrtime.bigint();
  intOption('threads', opts.threads, 1);
  const configDir = opts.config ?? defaultConfigDir();
  const now = opts.now ? parseNow(opts.now) : Date.now() / 1000;
  // journal entries are matched with the filter's journal prefix (logtype = journal), like the
  // systemd backend does
  const filterArg = opts.journal && !fs.existsSync(filter) && FILTER_NAME_RE.test(filter) ? withOption(filter, 'logtype', 'journal') : filter;
  const { def, label } = loadFilter(filterArg, configDir);
  if (ignoreregex !== undefined) def.ignoreregex = fs.existsSync(ignoreregex) ? loadFilter(ignoreregex, configDir).def.failregex : [ignoreregex];
  const usedns = opts.raw ? 'raw' : (opts.usedns ?? def.usedns);
  const spec = filterSpecOf(def, {
    key: 'regex',
    usedns,
    logtimezone: opts.timezone,
    ...(opts.datepattern !== undefined && { datepattern: opts.datepattern }),
    ...(opts.maxlines !== undefined && { maxlines: Number(opts.maxlines) }),
  });
  const matcher = opts.matcher ?? 'auto';
  if (!['auto', 'native', 'js'].includes(matcher)) throw new F2bError('USAGE', `--matcher: expected auto, native or js, not ${JSON.stringify(matcher)}`);
  // The native scanner reads a log FILE and hands over only the lines some regex may match;
  // the summary and --json need no other. --print-all-missed (the text of every missed line)
  // and --journal read every line in JS, and so does a run whose few missed lines must be
  // listed (a second pass).
  const isFile = fs.existsSync(log) && fs.statSync(log).isFile();
  const useNative = opts.prefilter !== false && isFile && !opts.printAllMissed && !opts.journal;
  let tally: Tally | undefined;
  if (matcher !== 'js') {
    let why: string | undefined;
    if (!useNative) {
      why = !isFile ? 'LOG is not a file' : opts.journal ? '--journal reads every line in JS' : opts.printAllMissed ? '--print-all-missed reads every line in JS' : '--no-prefilter reads every line in JS';
    } else {
      // compile errors name the filter file (and are the same as the JS path's)
      const dates = withFilterFile(def.file, () => filterDateDetector(spec, true));
      const c = withFilterFile(def.file, () => compileNativeFilter(spec, dates));
      if ('filter' in c) tally = await tallyNative(spec, dates, c.filter, log, now, opts, out);
      else why = c.reason;
    }
    if (!tally && matcher === 'native') throw new F2bError('USAGE', `--matcher native: ${why}`);
  }
  if (!tally) {
    const runner = withFilterFile(def.file, () => new RegexRunner(spec));
    // (a filter whose regexes leave the prefilter nothing to drop gets null: every line is read)
    tally = await tallyLines(runner, log, now, opts, useNative ? filterPrefilter(spec, fileSample(log)) : null, out);
  }
  if (!opts.json && tally.unlisted && tally.count.missed > 0 && tally.count.missed < MAX_LISTED - 1) {
    // the missed lines are listed, and some of them were never read: read them all
    tally = await tallyLines(new RegexRunner(spec), log, now, opts, null, out);
  }
  const { templateHits, count, listed, hitsPerRegex, ignoreHits, prefMatched, total } = tally;
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
  for (const [name, hits] of templateHits) if (hits) out(`|  [${hits}] ${name}\n`);
  out('`-\n\n');
  out(`Lines: ${total} lines, ${count.ignored} ignored, ${count.matched} matched, ${count.missed} missed\n`);
  out(`[processed in ${secs.toFixed(2)} sec]\n`);
  const list = (title: string, kind: 'matched' | 'ignored' | 'missed', all: boolean | undefined, flag: string) => {
    if (!count[kind]) return;
    // (control characters escaped: a log line's escape sequences never reach the terminal)
    if (all || count[kind] < MAX_LISTED - 1) out(`\n|- ${title} line(s): ${count[kind]}\n${listed[kind].map((l) => `|  ${escapeControls(l)}`).join('\n')}\n\`-\n`);
    else out(`\n${title} line(s): too many to print. Use ${flag} to print all ${count[kind]} lines\n`);
  };
  if (opts.printAllMatched) list('Matched', 'matched', true, '--print-all-matched');
  list('Ignored', 'ignored', opts.printAllIgnored, '--print-all-ignored');
  list('Missed', 'missed', opts.printAllMissed, '--print-all-missed');
  return 0;
}
