// The native matcher (native/match) from JavaScript: a filter compiled for it, and whole-file
// matching with its batches handed over in file order.
//
// The matcher runs fail2ban's date detector (where the date is), the prefregex, failregexes and
// ignoreregexes with Python's semantics (PCRE2, from src/filter/pyregex/emit-pcre.ts) and the
// F-MLFID session logic, all in C++ threads; JavaScript reads the time of a date only for the
// lines that carry a failure (DateDetector.timeAt). It is built only where PCRE2 is (see
// native/pcre2-config.js); nativeMatcher() says whether this build has it.

import { loadNative, type NativeFilter, type NativeFilterSpec, type NativeMatchBatch, type NativePrefilter, type NativeRegexSpec } from '../native';
import { parsePython } from '../filter/pyregex/parser';
import { cachedPcre } from './pcre-cache';
import { checkFilterGroups, groupNamesOf, parseFailRegex, type ParsedFailRegex } from '../filter/filter';
import { F2bError } from '../errors';
import type { DateDetector } from '../dates/detector';
import type { FilterSpecMessage } from '../types';
import { ChunkOrder, scanThreads } from '../scan/filescan';

/** Why this build or this filter cannot use the native matcher, or null when it can. */
export function nativeMatcherMissing(): string | null {
  const native = loadNative();
  return native.NativeFilter && native.matchFile && native.RegexTally
    ? null
    : 'this build of f2b-fast has no native matcher (it was built without PCRE2: apt-get install libpcre2-dev, then npm rebuild)';
}

/**
 * The native form of a filter: its date templates in `dates`' starting order, the prefregex,
 * failregexes and ignoreregexes in PCRE2. Throws F2bError (FILTER_REGEX) for a filter that is
 * not valid, with the messages FilterScanner gives, and a plain Error where the filter is valid
 * but the native matcher cannot take it (maxlines > 1, a regex without a PCRE2 form).
 */
export function nativeFilterSpec(spec: FilterSpecMessage, dates: DateDetector): NativeFilterSpec {
  const pref = spec.prefregex && spec.prefregex.trim() ? parseFailRegex(spec.prefregex, spec.usedns, false, 'prefregex') : undefined;
  const multi = Math.max(1, spec.maxlines || 1) > 1;
  const fail = spec.failregex.map((r, i) => parseFailRegex(r, spec.usedns, multi, `failregex #${i + 1}`));
  const ignore = spec.ignoreregex.map((r, i) => parseFailRegex(r, spec.usedns, false, `ignoreregex #${i + 1}`));
  checkFilterGroups(spec, pref && groupNamesOf(pref.parsed), fail.map((f) => groupNamesOf(f.parsed)));
  if (multi) throw new Error('maxlines > 1 (multi-line buffers are matched in JavaScript)');
  // (the buffers are one line and '\n': the `.+$` of <F-CONTENT> need not walk to the end; the
  // fields are the named groups, a template's span is its group 1)
  const pcre = (r: ParsedFailRegex): NativeRegexSpec => cachedPcre(r.expanded, () => r.parsed, { singleLine: true, keep: 'named' });
  return {
    templates: dates.entries.map(({ tpl, weight }) => ({
      ...cachedPcre(tpl.pythonSource, () => parsePython(tpl.pythonSource, {}), { keep: 'first' }),
      name: tpl.name,
      flags: tpl.flags,
      weight,
    })),
    prefregex: pref ? pcre(pref) : null,
    failregex: fail.map(pcre),
    ignoreregex: ignore.map(pcre),
  };
}

/** The filter compiled natively, or why the native matcher cannot take it; throws F2bError
 *  for a filter that is not valid. */
export function compileNativeFilter(spec: FilterSpecMessage, dates: DateDetector): { filter: NativeFilter } | { reason: string } {
  const missing = nativeMatcherMissing();
  if (missing) return { reason: missing };
  let native: NativeFilterSpec;
  try {
    native = nativeFilterSpec(spec, dates);
  } catch (e) {
    if (e instanceof F2bError) throw e;
    return { reason: (e as Error).message };
  }
  try {
    return { filter: new (loadNative().NativeFilter!)(native) };
  } catch (e) {
    return { reason: `PCRE2: ${(e as Error).message}` };
  }
}

export interface MatchFileOptions {
  threads?: number;
  /** leave out (but count) empty lines and lines starting with '#' (what `regex` skips) */
  skipComments?: boolean;
  /** try every failregex on a line (fail2ban-regex), not only up to the first hit */
  checkAll?: boolean;
  /** keep the text of the lines with records (default true; else only offsets and lengths) */
  keepText?: boolean;
  /** the reference time (epoch seconds) */
  now: number;
  onProgress?(scanned: number, size: number): void;
}

/**
 * Matches a whole file in parallel chunks; onBatch sees the batches in FILE order, with `base`
 * the number of lines before the batch's chunk (record line numbers are relative to it). The
 * prefilter (optional) drops lines no regex can match before they are matched.
 */
export async function matchFile(
  file: string,
  filter: NativeFilter,
  prefilter: NativePrefilter | null,
  opts: MatchFileOptions,
  onBatch: (batch: NativeMatchBatch, base: number) => void,
): Promise<{ size: number; lines: number; skipped: number }> {
  const native = loadNative();
  if (!native.matchFile) throw new Error(nativeMatcherMissing()!);
  const order = new ChunkOrder<NativeMatchBatch>(onBatch, opts.onProgress);
  const res = await native.matchFile(
    file,
    filter,
    prefilter,
    { threads: scanThreads(opts.threads), skipComments: opts.skipComments ?? false, checkAll: opts.checkAll ?? false, keepText: opts.keepText ?? true, now: opts.now },
    order.take,
  );
  order.finish(file, res.chunks);
  return { size: res.size, lines: order.lines, skipped: order.skipped };
}
