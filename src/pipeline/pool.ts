// The matcher pool: piscina workers running src/pipeline/worker.ts on batches of lines.
// A task costs ~140 us of overhead here, so lines cross in batches, never one by one.
// Filters with maxlines > 1 keep a window of lines between calls; they are scanned on the main
// thread, in order, by a local scanner (workers would each hold a different window).

import * as os from 'node:os';
import * as path from 'node:path';
import Piscina from 'piscina';
import { FilterScanner } from '../filter/filter';
import { scanLines } from './worker';
import type { FilterScanMessage, FilterSpecMessage, MatchResult, MatchTask } from '../types';

export interface MatcherPoolOptions {
  /** worker threads; 0 = match on the main thread (tests, `regex` on small inputs) */
  threads?: number;
}

export class MatcherPool {
  private readonly piscina?: Piscina<MatchTask, MatchResult>;
  private readonly local = new Map<string, FilterScanner>();

  constructor(opts: MatcherPoolOptions = {}) {
    const threads = opts.threads ?? Math.max(1, os.availableParallelism() - 1);
    if (threads > 0) {
      this.piscina = new Piscina({
        filename: path.join(__dirname, 'worker.js'),
        minThreads: 1,
        maxThreads: threads,
        idleTimeout: 30_000,
      });
    }
  }

  /** Scan lines with each filter (only its `select`ed lines when given); one result per filter,
   *  in the same order. */
  async scan(filters: FilterSpecMessage[], lines: string[], now: number, select?: (Uint32Array | null)[]): Promise<FilterScanMessage[]> {
    const remote = filters.map((f, i) => ({ f, sel: select?.[i] ?? null })).filter(({ f }) => f.maxlines <= 1);
    const out = new Map<string, FilterScanMessage>();
    if (remote.length && this.piscina) {
      const res = await this.piscina.run({ filters: remote.map((r) => r.f), lines, now, select: remote.map((r) => r.sel) });
      remote.forEach((r, i) => out.set(r.f.key, res.scans[i]));
    }
    for (const [i, f] of filters.entries()) {
      if (out.has(f.key)) continue;
      let s = this.local.get(f.key);
      if (!s) {
        s = new FilterScanner(f);
        this.local.set(f.key, s);
      }
      // a multi-line filter sees every line: its window is made of consecutive lines
      out.set(f.key, scanLines(s, lines, now, f.maxlines > 1 ? null : select?.[i]));
    }
    return filters.map((f) => out.get(f.key)!);
  }

  async close(): Promise<void> {
    await this.piscina?.destroy();
  }
}
