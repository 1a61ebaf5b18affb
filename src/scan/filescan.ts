// Whole-file scans with the native scanner (native/scan): the file is cut into chunks at line
// starts, one C++ thread per chunk runs the RE2 prefilter over large reads, and only candidate
// lines cross into JavaScript, in batches. The chunks finish in any order; scanFile() hands the
// batches to its caller in FILE order with absolute line numbers, so that a caller that keeps
// state between lines (sessions, the last date) sees what a sequential reader would.

import * as os from 'node:os';
import { loadNative, type NativeFileBatch, type NativePrefilter } from '../native';
import { filterParts, type GateLiteral } from '../prefilter/native';
import type { FilterSpecMessage } from '../types';

export const MAX_GROUPS = 32;

/** Candidate lines of a file, in file order: a NativeFileBatch (same buffer, offsets and masks)
 *  with its line numbers made absolute (1-based in the file). */
export type CandidateBatch = Pick<NativeFileBatch, 'buf' | 'ends' | 'offsets' | 'masks' | 'lineNos' | 'skippedLineNos'>;

export interface FileScanOptions {
  /** scan threads (chunks); default: the machine's parallelism */
  threads?: number;
  /** leave out (but count) empty lines and lines starting with '#' (what `regex` skips) */
  skipComments?: boolean;
  /** bytes scanned so far and the file's size, now and then */
  onProgress?(scanned: number, size: number): void;
}

export interface FileScanResult {
  /** bytes scanned (the size when the scan started) */
  size: number;
  /** every line of the file */
  lines: number;
  /** of them, empty or comment lines (skipComments) */
  skipped: number;
}

/** Scan a file with a compiled prefilter; onBatch sees the candidates in file order. */
export async function scanFile(
  file: string,
  prefilter: NativePrefilter,
  opts: FileScanOptions,
  onBatch: (batch: CandidateBatch) => void,
): Promise<FileScanResult> {
  const native = loadNative();
  const threads = Math.max(1, Math.min(64, Math.floor(opts.threads ?? os.availableParallelism())));
  // chunks[c]: batches waiting for chunks before c to finish
  const waiting = new Map<number, NativeFileBatch[]>();
  const scanned: number[] = [];
  let current = 0;
  let base = 0;
  let lines = 0;
  let skipped = 0;
  let failure: unknown;

  const deliver = (b: NativeFileBatch) => {
    if (b.ends.length || b.skippedLineNos.length) {
      const rebase = (xs: Float64Array) => xs.map((x) => x + base + 1);
      onBatch({ buf: b.buf, ends: b.ends, lineNos: rebase(b.lineNos), offsets: b.offsets, masks: b.masks, skippedLineNos: rebase(b.skippedLineNos) });
    }
    if (b.done) {
      base += b.lines ?? 0;
      lines += b.lines ?? 0;
      skipped += b.skipped ?? 0;
      current++;
    }
  };
  const onNative = (b: NativeFileBatch) => {
    if (failure !== undefined) return;
    try {
      scanned[b.chunk] = b.scanned;
      if (opts.onProgress) opts.onProgress(scanned.reduce((a, x) => a + (x ?? 0), 0), b.size);
      if (b.chunk !== current) {
        const q = waiting.get(b.chunk) ?? [];
        q.push(b);
        waiting.set(b.chunk, q);
        return;
      }
      deliver(b);
      // a finished chunk releases the next one's queue (and maybe more)
      for (let q = waiting.get(current); q; q = waiting.get(current)) {
        waiting.delete(current);
        const at = current;
        for (const x of q) deliver(x);
        if (current === at) break; // that chunk is not done yet: its next batches come live
      }
    } catch (e) {
      failure = e;
    }
  };
  const res = await native.scanFile(file, prefilter, { threads, skipComments: opts.skipComments ?? false }, onNative);
  if (failure !== undefined) throw failure;
  if (current !== res.chunks) throw new Error(`scanFile ${file}: ${res.chunks - current} chunk(s) never finished`);
  return { size: res.size, lines, skipped };
}

/**
 * The native prefilter of one filter for `regex`: one group per failregex (so that a candidate
 * says which failregexes to try), then one per ignoreregex (whose hits `regex` counts as
 * "ignored"). null when it could drop nothing, or has more groups than the native side takes.
 */
export function filterPrefilter(spec: FilterSpecMessage): { prefilter: NativePrefilter; failregexes: number } | null {
  const n = spec.failregex.length + spec.ignoreregex.length;
  if (n === 0 || n > MAX_GROUPS || Math.max(1, spec.maxlines || 1) > 1) return null;
  let patterns: string[];
  let literals: (GateLiteral[] | null)[];
  try {
    const { fail, ignore } = filterParts(spec, true);
    patterns = [...fail, ...ignore].map((x) => x.pattern);
    literals = [...fail, ...ignore].map((x) => x.literals);
  } catch {
    return null; // a pattern that does not parse: the exact matcher reports it
  }
  if (patterns.some((p) => p === '')) return null;
  const lits = literals.every((l) => l !== null) ? (literals as GateLiteral[][]) : undefined;
  try {
    return { prefilter: new (loadNative().Prefilter)(patterns, lits), failregexes: spec.failregex.length };
  } catch {
    return null; // a pattern RE2 rejects (our bug, not the filter's): every line is read in JS
  }
}
