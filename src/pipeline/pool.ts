// The matcher pool: piscina workers running src/pipeline/worker.ts on batches of lines.
// A task costs ~140 us of overhead here, so lines cross in batches, never one by one.
// Filters with maxlines > 1 keep a window of lines between calls: they are scanned by one thread
// of their own (`windows`), which keeps each filter's scanner and so its window, one task at a
// time in the order the batches came (workers sharing them would each hold a different window);
// with threads = 0, on the main thread by a local scanner.
//
// Time budget: a regex that backtracks for ever (a crafted line against a pathological filter)
// must cost that line, never the daemon. Each task shares a small progress counter with its
// worker (which filter, which line, how many lines so far); a watchdog stops the worker when one
// line has run past `lineBudgetMs`, and the task runs again without that line. Other tasks keep
// running on the other workers meanwhile (there are always at least two).
//
// Isolation: a filter that has run past the budget once is matched from then on by a thread of
// its own (`isolated`, one worker, started then), in tasks of its own, with a tenth of the budget
// per line (a line of an ordinary filter takes microseconds; this one has shown what a crafted
// line does to it). More crafted lines cost that thread a tenth of the budget each, and they
// wait for each other there; the other filters' batches keep every shared thread, which is
// never stopped for them again. A line given up on the windows' thread costs that line and
// the windows of lines before it (the thread is stopped; the next starts with empty windows).

import * as os from 'node:os';
import * as path from 'node:path';
import Piscina from 'piscina';
import { FilterScanner } from '../filter/filter';
import { fromWire, PROGRESS_FILTER, PROGRESS_LINE, PROGRESS_TICKS, scanLines } from './worker';
import { lineOffsets, splitText } from './lines';
import type { FilterScanMessage, FilterSpecMessage, MatchResult, MatchTask } from '../types';

export interface MatcherPoolOptions {
  /** worker threads; 0 = match on the main thread (tests, `regex` on small inputs); default:
   *  cores - 1, at least 2 (a worker stopped by the time budget must not stall the others) */
  threads?: number;
  /** how long one line may run in one filter before it is given up (default 1000 ms) */
  lineBudgetMs?: number;
  /** told about every line given up */
  onSlowLine?(info: SlowLine): void;
}

export interface SlowLine {
  /** the filter's key (FilterSpecMessage.key) */
  filter: string;
  line: string;
  /** how long it had run when it was stopped */
  ms: number;
  /** the budget it ran past */
  budgetMs: number;
  /** true the first time for a filter: from now on it is matched by a thread of its own */
  isolated: boolean;
}

export const DEFAULT_LINE_BUDGET_MS = 1000;

/** Lines to match: an array, or as the tailer hands them over (`text`: `count` lines, each
 *  ending in '\n'), which crosses to a worker as one string. */
export type Lines = string[] | { text: string; count: number };

const lineCount = (l: Lines) => (Array.isArray(l) ? l.length : l.count);
const lineArray = (l: Lines) => (Array.isArray(l) ? l : splitText(l.text));
/** a task's lines: the array, or the one string */
const taskLines = (l: Lines): Pick<MatchTask, 'lines' | 'text'> => (Array.isArray(l) ? { lines: l } : { text: l.text });

/** A batch is cut into parts for the threads only if each part has at least this many lines. */
const MIN_PART_LINES = 1000;

/** Where `parts` equal parts of n lines start. */
function cutPoints(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, k) => Math.floor((k * n) / parts));
}

/** The lines, each filter's selection (line indexes, ascending, renumbered from the part's
 *  start) and the lines' known times of each part (starting at `starts`). */
function cutParts(
  input: Lines,
  select: (Uint32Array | null)[],
  dated: Float64Array | undefined,
  starts: number[],
): { lines: Lines; select: (Uint32Array | null)[]; dated?: Float64Array }[] {
  const count = lineCount(input);
  const at = Array.isArray(input) ? [] : lineOffsets(input.text, starts.slice(1));
  return starts.map((from, k) => {
    const to = k + 1 < starts.length ? starts[k + 1] : count;
    return {
      lines: Array.isArray(input) ? input.slice(from, to) : { text: input.text.slice(k ? at[k - 1] : 0, k + 1 < starts.length ? at[k] : undefined), count: to - from },
      dated: dated?.slice(from, to),
      select: select.map((sel) => {
        if (!sel) return null;
        let a = 0;
        while (a < sel.length && sel[a] < from) a++;
        let b = a;
        while (b < sel.length && sel[b] < to) b++;
        return sel.slice(a, b).map((i) => i - from);
      }),
    };
  });
}

/** The parts' results as one per filter: times end to end, hits renumbered from the start. */
function joinParts(results: FilterScanMessage[][], starts: number[]): FilterScanMessage[] {
  return results[0].map((_, fi) => {
    const total = results.reduce((n, r) => n + r[fi].times.length, 0);
    const times = new Float64Array(total);
    const hits: FilterScanMessage['hits'] = [];
    results.forEach((r, k) => {
      const scan = r[fi];
      times.set(scan.times, starts[k]);
      // the hits came from the worker, ours to change
      for (const h of scan.hits) {
        h.line += starts[k];
        hits.push(h);
      }
    });
    return { times, hits };
  });
}

export class MatcherPool {
  private readonly piscina?: Piscina<MatchTask, MatchResult>;
  /** the thread of the filters that ran past the budget (started with the first of them) */
  private isolated?: Piscina<MatchTask, MatchResult>;
  /** the keys of those filters */
  private readonly suspects = new Set<string>();
  /** the thread of the multi-line filters (started with the first batch for one), and the end
   *  of its last task: the next waits for it, so that every window sees its lines in order */
  private windows?: Piscina<MatchTask, MatchResult>;
  private windowsDone: Promise<unknown> = Promise.resolve();
  private readonly local = new Map<string, FilterScanner>();
  private readonly budget: number;
  /** the per-line budget of the isolated filters */
  private readonly isolatedBudget: number;
  private readonly onSlowLine?: (info: SlowLine) => void;

  constructor(opts: MatcherPoolOptions = {}) {
    const threads = opts.threads ?? Math.max(2, os.availableParallelism() - 1);
    this.budget = opts.lineBudgetMs ?? DEFAULT_LINE_BUDGET_MS;
    this.isolatedBudget = Math.max(10, Math.floor(this.budget / 10));
    this.onSlowLine = opts.onSlowLine;
    if (threads > 0) {
      this.piscina = workers(threads);
      this.threads = threads;
    }
  }

  /** the filters matched by the isolated thread (they ran past the budget) */
  get isolatedFilters(): string[] {
    return [...this.suspects];
  }

  private threads = 0;

  /**
   * Compile `filters` in every worker before the first lines come (a burst would otherwise wait
   * for each worker to compile them). Each warm-up task holds its thread a moment so that the
   * next one goes to another thread.
   */
  async warm(filters: FilterSpecMessage[]): Promise<void> {
    const remote = filters.filter((f) => f.maxlines <= 1);
    if (!this.piscina || !remote.length) return;
    await Promise.all(Array.from({ length: this.threads }, () => this.piscina!.run({ filters: remote, lines: [], now: 0, warmMs: 50 })));
  }

  /** Scan lines with each filter (only its `select`ed lines when given); one result per filter,
   *  in the same order. `dated`: each line's time is known (journal entries): no date is
   *  searched in them. */
  async scan(filters: FilterSpecMessage[], input: Lines, now: number, select?: (Uint32Array | null)[], dated?: Float64Array): Promise<FilterScanMessage[]> {
    const count = lineCount(input);
    const remote = filters.map((f, i) => ({ f, sel: select?.[i] ?? null })).filter(({ f }) => f.maxlines <= 1);
    const out = new Map<string, FilterScanMessage>();
    // queued before anything is awaited: in the order of the calls
    const multi = filters.filter((f) => f.maxlines > 1);
    let windowsRun: Promise<FilterScanMessage[]> | undefined;
    if (multi.length && this.piscina) {
      this.windows ??= workers(1);
      const pool = this.windows;
      // a multi-line filter sees every line: its window is made of consecutive lines
      windowsRun = this.windowsDone.then(() => this.runGuarded(pool, input, { filters: multi, now, dated }));
      this.windowsDone = windowsRun.catch(() => undefined);
    }
    if (remote.length && this.piscina) {
      const shared = remote.filter((r) => !this.suspects.has(r.f.key));
      const alone = remote.filter((r) => this.suspects.has(r.f.key));
      const runs: Promise<void>[] = [];
      if (shared.length) {
        const filters = shared.map((r) => r.f);
        const select = shared.map((r) => r.sel);
        // a large batch (a burst: the tailer hands 10,000 lines at once) is cut into one part per
        // thread, matched side by side: every thread works on it, none waits for the next batch
        const parts = count >= 2 * MIN_PART_LINES ? Math.min(this.threads, Math.floor(count / MIN_PART_LINES)) : 1;
        const starts = cutPoints(count, parts);
        const pool = this.piscina;
        runs.push(
          (parts > 1
            ? Promise.all(
                cutParts(input, select, dated, starts).map((p) => this.runGuarded(pool, p.lines, { filters, now, select: p.select, dated: p.dated })),
              ).then((r) => joinParts(r, starts))
            : this.runGuarded(pool, input, { filters, now, select, dated })
          ).then((res) => shared.forEach((r, i) => out.set(r.f.key, res[i]))),
        );
      }
      if (alone.length) {
        this.isolated ??= workers(1);
        const task = { filters: alone.map((r) => r.f), now, select: alone.map((r) => r.sel), dated };
        runs.push(this.runGuarded(this.isolated, input, task, this.isolatedBudget).then((res) => alone.forEach((r, i) => out.set(r.f.key, res[i]))));
      }
      await Promise.all(runs);
    }
    const windowed = windowsRun && (await windowsRun);
    if (windowed) multi.forEach((f, i) => out.set(f.key, windowed[i]));
    let lines: string[] | undefined;
    for (const [i, f] of filters.entries()) {
      if (out.has(f.key)) continue;
      lines ??= lineArray(input);
      let s = this.local.get(f.key);
      if (!s) {
        s = new FilterScanner(f);
        this.local.set(f.key, s);
      }
      // (threads = 0) a multi-line filter sees every line: its window is made of consecutive lines
      out.set(f.key, scanLines(s, lines, now, f.maxlines > 1 ? null : select?.[i], undefined, dated));
    }
    return filters.map((f) => out.get(f.key)!);
  }

  /** Run a task under the watchdog; a line that runs past the budget is skipped and the task run
   *  again (lines given up stay given up). */
  private async runGuarded(pool: Piscina<MatchTask, MatchResult>, input: Lines, task: Omit<MatchTask, 'lines' | 'text'>, budget = this.budget): Promise<FilterScanMessage[]> {
    const skip: number[] = [];
    for (;;) {
      const progress = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
      const ac = new AbortController();
      let ticks = 0;
      let since = Date.now();
      // queued tasks have no ticks yet: their time does not count
      const timer = setInterval(() => {
        const t = Atomics.load(progress, PROGRESS_TICKS);
        if (t !== ticks || t === 0) {
          ticks = t;
          since = Date.now();
        } else if (Date.now() - since >= budget) {
          ac.abort();
        }
      }, Math.max(5, Math.floor(budget / 10)));
      try {
        const res = await pool.run({ ...task, ...taskLines(input), progress: progress.buffer as SharedArrayBuffer, skip }, { signal: ac.signal });
        return res.scans.map(fromWire);
      } catch (e) {
        if (!ac.signal.aborted) throw e;
        const f = Atomics.load(progress, PROGRESS_FILTER);
        const l = Atomics.load(progress, PROGRESS_LINE) - 1;
        if (l < 0) throw e; // cannot happen: aborted only while a line runs
        skip.push(f, l);
        const key = task.filters[f].key;
        // a filter on the shared threads moves to the isolated one (the multi-line filters'
        // thread is theirs already)
        const isolated = pool === this.piscina && !this.suspects.has(key);
        if (isolated) this.suspects.add(key);
        this.onSlowLine?.({ filter: key, line: lineArray(input)[l], ms: Date.now() - since, budgetMs: budget, isolated });
      } finally {
        clearInterval(timer);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.piscina?.destroy(), this.isolated?.destroy(), this.windows?.destroy()]);
  }
}

function workers(threads: number): Piscina<MatchTask, MatchResult> {
  return new Piscina({
    filename: path.join(__dirname, 'worker.js'),
    // every thread from the start, and kept: a burst must not wait for threads to start
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 30_000,
  });
}
