// Reads annotated sample logs (fail2ban's "# failJSON:" format) and checks a filter against them.
// Used for our own filters/samples and, later, fail2ban's corpus.

import * as fs from 'node:fs';
import { FailureTracker, FilterScanner, filterSpecOf, timeCode, type FoundFailure } from '../../src/filter/filter';
import type { FilterDef } from '../../src/config/types';

export interface Expectation {
  match: boolean;
  host?: string;
  user?: string;
  time?: string;
  desc?: string;
}

export interface SampleLine {
  lineNo: number;
  text: string;
  expect: Expectation;
  /** filter options in force for this line (from the last "# filterOptions:") */
  options: Record<string, string>;
}

export function readSamples(file: string): SampleLine[] {
  return readAnnotated(file).samples;
}

/** An injection template: a line whose client-controlled part is `{{U}}` (see injectJSON). */
export interface InjectionTemplate {
  lineNo: number;
  template: string;
  /** the address the line must blame whatever {{U}} holds (or not match at all) */
  host: string;
  /** characters the service never lets into that field (sshd cuts user names at ':', a quoted
   *  field has its quotes escaped, ...): payloads holding one are not tried there */
  without?: string;
  options: Record<string, string>;
}

/** "# injectJSON: {"host": "..."}" before a line with {{U}}: an injection template. */
export function readInjections(file: string): InjectionTemplate[] {
  return readAnnotated(file).injections;
}

function readAnnotated(file: string): { samples: SampleLine[]; injections: InjectionTemplate[] } {
  const samples: SampleLine[] = [];
  const injections: InjectionTemplate[] = [];
  let pending: Expectation | undefined;
  let inject: { host: string; without?: string } | undefined;
  let options: Record<string, string> = {};
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const opt = /^#\s*filterOptions:\s*(.*)$/.exec(text);
      const fj = /^#\s*failJSON:\s*(.*)$/.exec(text);
      const ij = /^#\s*injectJSON:\s*(.*)$/.exec(text);
      if (opt) options = JSON.parse(opt[1]) as Record<string, string>;
      else if (fj) pending = JSON.parse(fj[1]) as Expectation;
      else if (ij) inject = JSON.parse(ij[1]) as { host: string; without?: string };
      else if (text.startsWith('#') || text.trim() === '') return;
      else if (inject) {
        if (!text.includes('{{U}}')) throw new Error(`${file}:${i + 1}: an injectJSON template needs {{U}}`);
        injections.push({ lineNo: i + 1, template: text, host: inject.host, options, ...(inject.without ? { without: inject.without } : {}) });
        inject = undefined;
      } else {
        samples.push({ lineNo: i + 1, text, expect: pending ?? { match: false }, options });
        pending = undefined;
      }
    });
  return { samples, injections };
}

/** "2024-03-05T10:11:12" read as UTC -> epoch seconds */
export function utcEpoch(iso: string): number {
  return Date.parse(`${iso}Z`) / 1000;
}

export interface SampleResult {
  line: SampleLine;
  failures: FoundFailure[];
  problems: string[];
}

/** The lines of one event through a fresh failure tracker, in check-all mode: its failures
 *  (F-NOFAIL ones left out). */
export function eventFailures(scanner: FilterScanner, lines: readonly string[], now: number): FoundFailure[] {
  const tracker = new FailureTracker({ usedns: 'raw', checkAll: true });
  const out: FoundFailure[] = [];
  for (const line of lines) {
    const scan = scanner.scan(line, now, { checkAll: true });
    const time = tracker.resolveTime(timeCode(scan), now, false);
    for (const f of tracker.failures(scan.hits, time, now)) if (!f.fields.nofail) out.push(f);
  }
  return out;
}

/** Run lines through a filter in order (check-all mode, as fail2ban's own sample tests do). */
export function runSamples(def: FilterDef, lines: SampleLine[], now: number, logtimezone?: string): SampleResult[] {
  const scanner = new FilterScanner(filterSpecOf(def, { key: def.name, usedns: 'raw', logtimezone }));
  const tracker = new FailureTracker({ usedns: 'raw', checkAll: true });
  return lines.map((line) => {
    const scan = scanner.scan(line.text, now, { checkAll: true });
    const time = tracker.resolveTime(timeCode(scan), now, false);
    const failures = tracker.failures(scan.hits, time, now).filter((f) => !f.fields.nofail);
    const problems: string[] = [];
    const e = line.expect;
    if (!e.match) {
      if (failures.length) problems.push(`expected no match, got ${failures.map((f) => f.id).join(', ')}`);
    } else if (failures.length !== 1) {
      problems.push(`expected exactly one failure, got ${failures.length}`);
    } else {
      const f = failures[0];
      if (e.host !== undefined && f.id !== e.host) problems.push(`host ${f.id} != ${e.host}`);
      if (e.user !== undefined && f.fields.user !== e.user) problems.push(`user ${f.fields.user} != ${e.user}`);
      if (e.time !== undefined && f.time !== utcEpoch(e.time)) problems.push(`time ${f.time} != ${utcEpoch(e.time)} (${e.time})`);
    }
    return { line, failures, problems };
  });
}
