// `f2b-fast regex [options] LOG FILTER [IGNOREREGEX]`: what fail2ban-regex does.
// LOG is a file or a literal line; FILTER a filter file, a name from the config's filter.d (with
// options, `sshd[mode=aggressive]`), or a literal failregex.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFilter } from '../config';
import type { FilterDef } from '../config/types';
import { F2bError } from '../errors';
import { FailureTracker, FilterScanner, timeCode } from '../filter/filter';
import type { FilterSpecMessage } from '../types';
import { defaultConfigDir } from './paths';

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
}

/** `--now`: epoch seconds or an ISO-8601 time. */
export function parseNow(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new F2bError('USAGE', `--now: ${JSON.stringify(text)} is neither epoch seconds nor an ISO-8601 time`);
  return ms / 1000;
}

function loadFilter(spec: string, configDir: string): { def: FilterDef; label: string } {
  if (fs.existsSync(spec) && fs.statSync(spec).isFile()) {
    return { def: readFilter(path.join(configDir, 'filter.d'), path.resolve(spec)), label: `filter file : ${spec}` };
  }
  const name = /^([\w.-]+)(\[.*\])?$/s.exec(spec);
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

export async function regexCommand(log: string, filter: string, ignoreregex: string | undefined, opts: RegexOptions): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const started = process.hrtime.bigint();
  const configDir = opts.config ?? defaultConfigDir();
  const now = opts.now ? parseNow(opts.now) : Date.now() / 1000;
  const { def, label } = loadFilter(filter, configDir);
  if (ignoreregex !== undefined) def.ignoreregex = fs.existsSync(ignoreregex) ? loadFilter(ignoreregex, configDir).def.failregex : [ignoreregex];
  const usedns = opts.raw ? 'raw' : (opts.usedns ?? def.usedns);
  const spec: FilterSpecMessage = {
    key: 'regex',
    failregex: def.failregex,
    ignoreregex: def.ignoreregex,
    prefregex: def.prefregex,
    datepattern: opts.datepattern ?? def.datepattern,
    maxlines: opts.maxlines ? Number(opts.maxlines) : def.maxlines,
    usedns,
    logtimezone: opts.timezone,
  };
  const scanner = new FilterScanner(spec);
  const tracker = new FailureTracker({ usedns, checkAll: true });
  const hitsPerRegex = new Array<number>(spec.failregex.length).fill(0);
  const missed: string[] = [];
  const matched: string[] = [];
  let total = 0;
  let ignored = 0;
  let lineNo = 0;
  let prefMatched = 0;
  for (const line of logLines(log)) {
    lineNo++;
    if (line === '' || line.startsWith('#')) continue;
    total++;
    const scan = scanner.scan(line, now, { checkAll: true });
    const time = tracker.resolveTime(timeCode(scan), now, false);
    if (scan.hits.length || scan.ignoredBy !== undefined) prefMatched++;
    const found = tracker.failures(scan.hits, time, now).filter((f) => !f.fields.nofail);
    for (const f of found) {
      hitsPerRegex[f.regex]++;
      if (opts.json) {
        const { mlfid: _m, nofail: _n, mlfforget: _f, mlfgained: _g, ...fields } = f.fields;
        out(`${JSON.stringify({ line: lineNo, match: true, ip: f.id, time: f.time, regex: f.regex, fields })}\n`);
      }
    }
    if (found.length) matched.push(line);
    else {
      if (scan.ignoredBy !== undefined) ignored++;
      else missed.push(line);
      if (opts.json) out(`${JSON.stringify({ line: lineNo, match: false })}\n`);
    }
  }
  if (opts.json) return 0;

  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  out('\nRunning tests\n=============\n\n');
  out(`Use ${label}\n`);
  if (spec.datepattern) out(`Use      datepattern : ${spec.datepattern.replace(/\n/g, ' ')}\n`);
  out(`Use         log file : ${fs.existsSync(log) ? log : '(literal line)'}\n`);
  out('Use         encoding : UTF-8\n\n\nResults\n=======\n\n');
  if (spec.prefregex) out(`Prefregex: ${prefMatched} total\n|  ${spec.prefregex}\n\`-\n\n`);
  out(`Failregex: ${matched.length} total\n|-  #) [# of hits] regular expression\n`);
  spec.failregex.forEach((r, i) => out(`|  ${String(i + 1).padStart(2)}) [${hitsPerRegex[i]}] ${r}\n`));
  out('`-\n\n');
  out(`Ignoreregex: ${ignored} total\n`);
  spec.ignoreregex.forEach((r, i) => out(`|  ${String(i + 1).padStart(2)}) ${r}\n`));
  out('\nDate template hits:\n|- [# of hits] date format\n');
  for (const [name, hits] of scanner.dates.templateHits) if (hits) out(`|  [${hits}] ${name}\n`);
  out('`-\n\n');
  out(`Lines: ${total} lines, ${ignored} ignored, ${matched.length} matched, ${missed.length} missed\n`);
  out(`[processed in ${secs.toFixed(2)} sec]\n`);
  const list = (title: string, lines: string[], all: boolean | undefined, flag: string) => {
    if (!lines.length) return;
    if (all || lines.length < 20) out(`\n|- ${title}: ${lines.length}\n${lines.map((l) => `|  ${l}`).join('\n')}\n\`-\n`);
    else out(`\n${title}: ${lines.length} - too many to print. Use ${flag} to print all\n`);
  };
  if (opts.printAllMatched) list('Matched line(s)', matched, true, '--print-all-matched');
  list('Missed line(s)', missed, opts.printAllMissed, '--print-all-missed');
  return 0;
}
