// A matcher worker (piscina): date detection and exact regex matching for a batch of lines.
// Filters are compiled once per worker and cached by key. Stateless per line, so any worker can
// take any batch; the stateful half (sessions, last date, counting) stays on the main thread.

import { FilterScanner, timeCode } from '../filter/filter';
import { splitText } from './lines';
import type { FilterSpecMessage, FilterScanMessage, MatchResult, MatchTask, WireScan } from '../types';

const cache = new Map<string, FilterScanner>();

/** Int32 slots of MatchTask.progress, read by the pool's watchdog */
export const PROGRESS_FILTER = 0;
export const PROGRESS_LINE = 1;
export const PROGRESS_TICKS = 2;

function scannerFor(spec: FilterSpecMessage): FilterScanner {
  let s = cache.get(spec.key);
  if (!s) {
    s = new FilterScanner(spec);
    cache.set(spec.key, s);
  }
  return s;
}

/**
 * Scan every line with one filter, or only the `select`ed ones (the native prefilter's
 * candidates for this filter; the others get a NaN time, as undated lines do). `before(i)` runs
 * before line i and may skip it (true). Exported for the main-thread path (multi-line filters).
 */
export function scanLines(
  scanner: FilterScanner,
  lines: string[],
  now: number,
  select?: Uint32Array | null,
  before?: (line: number) => boolean,
  dated?: Float64Array,
): FilterScanMessage {
  const times = new Float64Array(lines.length);
  const hits: FilterScanMessage['hits'] = [];
  if (select || before) times.fill(NaN);
  const count = select ? select.length : lines.length;
  for (let k = 0; k < count; k++) {
    const i = select ? select[k] : k;
    if (before && before(i)) continue;
    const r = dated ? scanner.scanDated(lines[i], dated[i]) : scanner.scan(lines[i], now);
    times[i] = timeCode(r);
    // no ignoredBy key when there is none: the same object as one that crossed as JSON
    if (r.ignoredBy !== undefined) hits.push({ line: i, hits: r.hits, ignoredBy: r.ignoredBy, dateText: r.dateText });
    else if (r.hits.length) hits.push({ line: i, hits: r.hits, dateText: r.dateText });
  }
  return { times, hits };
}

export default function match(task: MatchTask): MatchResult {
  if (task.warmMs !== undefined) {
    for (const f of task.filters) scannerFor(f);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.warmMs);
    return { scans: [] };
  }
  const lines = task.lines ?? splitText(task.text ?? '');
  const p = task.progress ? new Int32Array(task.progress) : null;
  const skip = new Set<number>();
  for (let i = 0; i + 1 < (task.skip?.length ?? 0); i += 2) skip.add(task.skip![i] * 0x1_0000_0000 + task.skip![i + 1]);
  return {
    scans: task.filters.map((f, fi) =>
      toWire(
        scanLines(scannerFor(f), lines, task.now, task.select?.[fi], p ? (i) => {
          Atomics.store(p, PROGRESS_FILTER, fi);
          Atomics.store(p, PROGRESS_LINE, i + 1);
          Atomics.add(p, PROGRESS_TICKS, 1);
          return skip.has(fi * 0x1_0000_0000 + i);
        } : undefined, task.dated),
      ),
    ),
  };
}

/** A scan as it crosses to the main thread (see WireScan). */
export function toWire(scan: FilterScanMessage): WireScan {
  return { times: scan.times, hits: JSON.stringify(scan.hits) };
}

/** A scan as it came from a worker. */
export function fromWire(scan: WireScan): FilterScanMessage {
  return { times: scan.times, hits: JSON.parse(scan.hits) as FilterScanMessage['hits'] };
}
