// A matcher worker (piscina): date detection and exact regex matching for a batch of lines.
// Filters are compiled once per worker and cached by key. Stateless per line, so any worker can
// take any batch; the stateful half (sessions, last date, counting) stays on the main thread.

import { FilterScanner, timeCode } from '../filter/filter';
import type { FilterSpecMessage, FilterScanMessage, MatchResult, MatchTask } from '../types';

const cache = new Map<string, FilterScanner>();

function scannerFor(spec: FilterSpecMessage): FilterScanner {
  let s = cache.get(spec.key);
  if (!s) {
    s = new FilterScanner(spec);
    cache.set(spec.key, s);
  }
  return s;
}

/** Scan every line with one filter, or only the `select`ed ones (the native prefilter's
 *  candidates for this filter; the others get a NaN time, as undated lines do). Exported for the
 *  main-thread path (multi-line filters). */
export function scanLines(scanner: FilterScanner, lines: string[], now: number, select?: Uint32Array | null): FilterScanMessage {
  const times = new Float64Array(lines.length);
  const hits: FilterScanMessage['hits'] = [];
  if (select) times.fill(NaN);
  const count = select ? select.length : lines.length;
  for (let k = 0; k < count; k++) {
    const i = select ? select[k] : k;
    const r = scanner.scan(lines[i], now);
    times[i] = timeCode(r);
    if (r.hits.length || r.ignoredBy !== undefined) hits.push({ line: i, hits: r.hits, ignoredBy: r.ignoredBy, dateText: r.dateText });
  }
  return { times, hits };
}

export default function match(task: MatchTask): MatchResult {
  return { scans: task.filters.map((f, i) => scanLines(scannerFor(f), task.lines, task.now, task.select?.[i])) };
}
