// Whole-file scans with the native scanner (native/scan): the file is cut into chunks at line
// starts, one C++ thread per chunk runs the RE2 prefilter over large reads, and only candidate
// lines cross into JavaScript, in batches. The chunks finish in any order; scanFile() hands the
// batches to its caller in FILE order with absolute line numbers, so that a caller that keeps
// state between lines (sessions, the last date) sees what a sequential reader would.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { loadNative, type NativeChunkBatch, type NativeFileBatch, type NativePrefilter } from '../native';
import { filterParts, LiteralSample, type GateLiteral } from '../prefilter/native';
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

/**
 * Hands the batches of a parallel scan to `deliver` in FILE order: the chunks finish in any
 * order, and a batch of chunk c waits until chunks before c are done. `base` is the number of
 * lines before the batch's chunk. A throwing deliver stops the deliveries (see `failure`).
 */
export class ChunkOrder<B extends NativeChunkBatch> {
  /** lines and skipped lines of the chunks delivered */
  lines = 0;
  skipped = 0;
  /** chunks done */
  current = 0;
  failure: unknown;
  private readonly waiting = new Map<number, B[]>();
  private readonly scanned: number[] = [];
  private base = 0;

  constructor(
    private readonly deliver: (b: B, base: number) => void,
    private readonly onProgress?: (scanned: number, size: number) => void,
  ) {}

  /** the native scan's callback */
  readonly take = (b: B): void => {
    if (this.failure !== undefined) return;
    try {
      this.scanned[b.chunk] = b.scanned;
      if (this.onProgress) this.onProgress(this.scanned.reduce((a, x) => a + (x ?? 0), 0), b.size);
      if (b.chunk !== this.current) {
        const q = this.waiting.get(b.chunk) ?? [];
        q.push(b);
        this.waiting.set(b.chunk, q);
        return;
      }
      this.pass(b);
      // a finished chunk releases the next one's queue (and maybe more)
      for (let q = this.waiting.get(this.current); q; q = this.waiting.get(this.current)) {
        this.waiting.delete(this.current);
        const at = this.current;
        for (const x of q) this.pass(x);
        if (this.current === at) break; // that chunk is not done yet: its next batches come live
      }
    } catch (e) {
      this.failure = e;
    }
  };

  /** after the scan: rethrows a delivery's error, checks that every chunk finished */
  finish(file: string, chunks: number): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.current !== chunks) throw new Error(`scan of ${file}: ${chunks - this.current} chunk(s) never finished`);
  }

  private pass(b: B): void {
    this.deliver(b, this.base);
    if (b.done) {
      this.base += b.lines ?? 0;
      this.lines += b.lines ?? 0;
      this.skipped += b.skipped ?? 0;
      this.current++;
    }
  }
}

/** The scan threads to use: opts.threads, else the machine's parallelism (1 to 64). */
export function scanThreads(threads?: number): number {
  return Math.max(1, Math.min(64, Math.floor(threads ?? os.availableParallelism())));
}

/** Scan a file with a compiled prefilter; onBatch sees the candidates in file order. */
export async function scanFile(
  file: string,
  prefilter: NativePrefilter,
  opts: FileScanOptions,
  onBatch: (batch: CandidateBatch) => void,
): Promise<FileScanResult> {
  const native = loadNative();
  const order = new ChunkOrder<NativeFileBatch>((b, base) => {
    if (b.ends.length || b.skippedLineNos.length) {
      const rebase = (xs: Float64Array) => xs.map((x) => x + base + 1);
      onBatch({ buf: b.buf, ends: b.ends, lineNos: rebase(b.lineNos), offsets: b.offsets, masks: b.masks, skippedLineNos: rebase(b.skippedLineNos) });
    }
  }, opts.onProgress);
  const res = await native.scanFile(file, prefilter, { threads: scanThreads(opts.threads), skipComments: opts.skipComments ?? false }, order.take);
  order.finish(file, res.chunks);
  return { size: res.size, lines: order.lines, skipped: order.skipped };
}

/**
 * The native prefilter of one filter for `regex`: one group per failregex (so that a candidate
 * says which failregexes to try), then one per ignoreregex (whose hits `regex` counts as
 * "ignored"). null when it could drop nothing, or has more groups than the native side takes.
 * `sample`: literal counts of the log (fileSample), for the choice of the gate's literals.
 */
export function filterPrefilter(spec: FilterSpecMessage, sample?: LiteralSample): { prefilter: NativePrefilter; failregexes: number } | null {
  const n = spec.failregex.length + spec.ignoreregex.length;
  if (n === 0 || n > MAX_GROUPS || Math.max(1, spec.maxlines || 1) > 1) return null;
  let patterns: string[];
  let literals: (GateLiteral[] | null)[];
  try {
    const { fail, ignore } = filterParts(spec, true, sample);
    patterns = [...fail, ...ignore].map((x) => x.pattern);
    literals = [...fail, ...ignore].map((x) => x.literals);
  } catch {
    return null; // a pattern that does not parse: the exact matcher reports it
  }
  if (patterns.some((p) => p === '')) return null;
  const lits = literals.every((l) => l !== null) ? (literals as GateLiteral[][]) : undefined;
  try {
    return { prefilter: new (loadNative().Prefilter)(patterns, lits, sample?.bytes), failregexes: spec.failregex.length };
  } catch {
    return null; // a pattern RE2 rejects (our bug, not the filter's): every line is read in JS
  }
}

/** How much of a log fileSample reads: some 600 lines, enough to tell a literal in most lines
 *  from one in few, and quick to count literals in (it is done at every start). */
const SAMPLE_BYTES = 64 << 10;

/** The literal counts of a log's first 64 KiB, for filterPrefilter; undefined for an empty or
 *  unreadable file (the literals are then chosen by length). */
export function fileSample(file: string): LiteralSample | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(SAMPLE_BYTES);
      const n = fs.readSync(fd, buf, 0, SAMPLE_BYTES, 0);
      return n > 0 ? new LiteralSample(buf.subarray(0, n)) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
