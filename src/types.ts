// Messages between the stages of f2b-fast, in the order a log line travels:
// native tailer -> prefilter -> matcher workers -> jail runtime -> firewall batcher.
// One file, so that a reader can follow a ban from the tailer to the kernel set.

/** native tailer -> JS: complete lines of one file, one buffer per crossing. With a native
 *  prefilter (Tailer.add's third argument), only the lines some group (jail) may match are in
 *  it; a batch may then hold no line at all and only move `end`. */
export interface TailBatch {
  /** id returned by Tailer.add() */
  fileId: number;
  /** file byte offset of buf[0] */
  base: number;
  /** complete lines; every line (the last one too) ends with '\n' */
  buf: Buffer;
  /** ends[i] = index in buf of the '\n' that ends line i (line i starts after ends[i-1]) */
  ends: Uint32Array;
  /** with a prefilter: masks[i] = the groups that may match line i (bit g = group g) */
  masks?: Uint32Array;
  /** lines read for this batch, the dropped ones included */
  lines: number;
  /** file offset after the last line read: where a restart may resume */
  end: number;
  /** the first-line hash (TailEvent.firstLineHash) of a file that was opened before it had a
   *  complete first line, in the first batch after it got one */
  firstLineHash?: string;
}

/** error: an over-long line, or a problem with the file, reported once while it lasts (a file or
 *  directory this process may not read, a failed read, a path that is a directory);
 *  recovered: that problem is over (the message names it). */
export type TailEventKind = 'opened' | 'rotated' | 'truncated' | 'missing' | 'error' | 'recovered';

/** native tailer -> JS: something happened to a watched file. */
export interface TailEvent {
  fileId: number;
  kind: TailEventKind;
  path: string;
  /** file offset reading continues from, where it applies */
  offset?: number;
  message?: string;
  /** opened / rotated: a hash of the file's first line ('' while it has none), to hand back
   *  with a saved offset (TailStart) */
  firstLineHash?: string;
}

/** JS -> matcher worker: lines of one file, for the filters of the jails reading it. */
export interface MatchTask {
  filters: FilterSpecMessage[];
  /** the lines, or `text`: */
  lines?: string[];
  /** the lines as the tailer hands them over, each ending in '\n' (src/pipeline/lines.ts): one
   *  string crosses to a worker far cheaper than an array of them; the worker splits it */
  text?: string;
  /** per filter: the indexes of the lines it may match (native prefilter), null = all */
  select?: (Uint32Array | null)[];
  /** shared with the pool's watchdog: [filter, line + 1, lines started] (src/pipeline/pool.ts) */
  progress?: SharedArrayBuffer;
  /** [filter, line] pairs, flattened: lines given up after running past the time budget */
  skip?: number[];
  /** journal entries: each line's time, known already (epoch seconds): no date is searched */
  dated?: Float64Array;
  /** reference "now" in epoch seconds, for year inference */
  now: number;
  /** warm-up (MatcherPool.warm): compile the filters, then hold the thread this many ms so that
   *  the other warm-up tasks reach the other threads; no lines */
  warmMs?: number;
}

/** What a worker needs to build a filter: plain data, no functions. */
export interface FilterSpecMessage {
  /** identifies the compiled filter in a worker's cache (same key = same spec) */
  key: string;
  failregex: string[];
  ignoreregex: string[];
  prefregex?: string;
  datepattern?: string;
  maxlines: number;
  usedns: string;
  logtimezone?: string;
}

/** One regex match of a line (see src/filter/filter.ts RegexHit). */
export interface HitMessage {
  regex: number;
  groups: Record<string, string>;
  lines: string[];
}

/** worker -> JS: what one filter found in the lines of a MatchTask. */
export interface FilterScanMessage {
  /** times[i]: epoch seconds of line i's date; NaN = no date found; -Infinity = a template
   *  matched but captured nothing. Every line is reported: undated lines reuse the last date. */
  times: Float64Array;
  /** the lines with regex hits, in line order */
  hits: { line: number; hits: HitMessage[]; ignoredBy?: number; dateText: string }[];
}

/** worker -> JS: one WireScan per MatchTask.filters entry. */
export interface MatchResult {
  scans: WireScan[];
}

/** A FilterScanMessage as it crosses from a worker: the hits as one JSON string. Hits are many
 *  small objects, which postMessage's structured clone makes several times slower to rebuild
 *  on the main thread than JSON.parse does (bench/README.md, "load"). */
export interface WireScan {
  times: Float64Array;
  /** JSON of FilterScanMessage['hits'] */
  hits: string;
}

/** A failure on its way from the filter to a jail. */
export interface Failure {
  /** failure id: the address (or F-ID) as matched */
  id: string;
  /** epoch seconds of the log line (date cut out of the line) */
  time: number;
  /** index of the failregex that matched */
  regex: number;
  /** the named groups of the match (user, ip4, ip6, dns, fid, ...) */
  fields: Record<string, string>;
  /** the log lines the failure came from */
  matches: string[];
}

/** jail runtime -> firewall batcher: one address to block or release. */
export interface FirewallEntry {
  jail: string;
  /** an IPv4/IPv6 address or CIDR subnet */
  ip: string;
  /** seconds until the kernel may expire it by itself; null = permanent */
  timeout: number | null;
}

/** One tick's worth of firewall work: applied as ONE command per backend. */
export interface FirewallChanges {
  block: FirewallEntry[];
  release: FirewallEntry[];
  /** set by the batcher: no address of a jail appears twice (in either list), so the
   *  backends need not deduplicate 100,000 entries again */
  unique?: boolean;
}
