// Loads the f2b_native addon (binding.gyp) and describes what it exports: the tailer
// (native/tailer), the scanner (native/scan) and, when built with PCRE2, the matcher
// (native/match).
// Works from the sources (src/) and from the compiled tree (dist/src/).
// F2B_NATIVE_ADDON=/abs/path/f2b_native.node loads another build instead: native/test-sanitized.sh
// runs the tailer suite against an ASan/UBSan build that way.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TailBatch, TailEvent } from './types';

export interface NativeTailer {
  readonly backend: 'inotify' | 'poll';
  add(path: string, start: 'head' | 'tail' | number | { offset: number; firstLineHash?: string }, prefilter?: NativePrefilter): number;
  remove(fileId: number): void;
  /** the consumer is done with this many bytes of the file's batches (their buf lengths);
   *  RangeError if fewer are in flight */
  release(fileId: number, bytes: number): void;
  flow(): TailFlow;
  close(): Promise<void>;
}

/** The tailer's back-pressure (native/tailer/FlowGate.hh): bytes of batches handed over and not
 *  released, the limit (0: none), whether the tail thread waits for a release now, how many
 *  times it has waited, and how many files it holds back (half the limit in flight each). */
export interface TailFlow {
  bytesInFlight: number;
  limit: number;
  waiting: boolean;
  waits: number;
  held: number;
}

/** A compiled native prefilter (native/scan/Prefilter.hh): one RE2 pattern per group (a jail,
 *  or a failregex); '' = the group takes every line. At most 32 groups. */
export interface NativePrefilter {
  readonly groups: number;
  /** true when some group takes every line (nothing is dropped) */
  readonly passesAll: boolean;
  /** true when a literal search (native/scan/LiteralGate.hh) runs in front of RE2 */
  readonly literalGate: boolean;
  /** the candidate lines of a buffer: [begins[i], ends[i]) without the '\n', masks[i] = groups;
   *  literalMasks: the coarser masks the native matcher uses (the groups of the literals found
   *  in the line, no RE2 where the literal gate runs) */
  scan(buf: Buffer, opts?: { literalMasks?: boolean }): { begins: Uint32Array; ends: Uint32Array; masks: Uint32Array };
}

/** What every batch of a parallel file scan (scanFile, matchFile) carries about its chunk. */
export interface NativeChunkBatch {
  chunk: number;
  /** with skipComments: 0-based line numbers within the chunk of the empty and comment lines
   *  counted for this batch */
  skippedLineNos: Float64Array;
  /** bytes of the chunk scanned so far, and the size of the whole scan */
  scanned: number;
  size: number;
  /** the chunk's last batch: then lines / skipped are its totals */
  done: boolean;
  lines?: number;
  skipped?: number;
}

/** One batch of candidate lines of scanFile, from one chunk of the file, in file order. */
export interface NativeFileBatch extends NativeChunkBatch {
  /** the candidate lines, each followed by '\n'; ends[i] = index of line i's '\n' */
  buf: Buffer;
  ends: Uint32Array;
  /** 0-based line numbers within the chunk */
  lineNos: Float64Array;
  /** file offsets of the lines */
  offsets: Float64Array;
  masks: Uint32Array;
}

/** A filter compiled for the native matcher (native/match/Filter.hh): PCRE2 sources made by
 *  src/filter/pyregex/emit-pcre.ts, names per group number (index 0 unused). */
export interface NativeRegexSpec {
  source: string;
  names: Array<string | null>;
  /** the form for ASCII-only subjects (see PcreTranslation) */
  ascii?: string;
  /** the group a `.+$` tail extends to the end of the subject (0 = none) */
  rest?: number;
}

export interface NativeFilterSpec {
  /** the date templates in the detector's starting order */
  templates: Array<NativeRegexSpec & { name: string; flags: number; weight: number }>;
  prefregex: NativeRegexSpec | null;
  failregex: NativeRegexSpec[];
  ignoreregex: NativeRegexSpec[];
}

export interface NativeFilter {
  /** the field names the records use, by index */
  readonly fieldNames: string[];
}

/** An opaque handle on the records of one matchFile batch (C++ memory, freed with the handle). */
export type NativeRecords = { readonly __nativeRecords: unique symbol };

/** One batch of matchFile, from one chunk of the file, in that chunk's order. */
export interface NativeMatchBatch extends NativeChunkBatch {
  /** records of lines with a hit, an ignoreregex hit or a regex that gave up */
  records: NativeRecords;
  count: number;
  /** candidate lines matched for this batch */
  candidates: number;
  /** (done) the chunk's date templates in its detector's final order: [template index, hits] */
  templateHits?: Array<[number, number]>;
}

/** A failure of RegexTally.feed: a result without F-NOFAIL, with its line's date position
 *  (UTF-16 indexes of the winning template's match, for JavaScript to read the time). */
export interface NativeFailure {
  /** 1-based line number */
  line: number;
  regex: number;
  fields: Record<string, string>;
  users?: string[];
  /** the line's text (absent when matchFile was told not to keep texts) */
  text?: string;
  offset: number;
  /** the winning date template (index in NativeFilterSpec.templates), -1 = no date */
  tpl: number;
  dateStart?: number;
  dateEnd?: number;
  /** the end of the winning search (-1: the whole line) */
  dateEndpos?: number;
  dateEmpty?: boolean;
}

export interface NativeTallySummary {
  prefMatched: number;
  matched: number;
  ignored: number;
  hitsPerRegex: number[];
  ignoreHits: number[];
  listedMatched: string[];
  listedIgnored: string[];
  /** with keepText false, the listed lines' [file offset, bytes] instead */
  listedMatchedAt: Array<[number, number]>;
  listedIgnoredAt: Array<[number, number]>;
  /** lines on which a regex gave up (PCRE2's match limit), and the first of them (regex: the
   *  failregex index, failregexes + i for ignoreregex i, -2 for the prefregex) */
  limitLines: number;
  limits: Array<{ line: number; regex: number }>;
}

export interface NativeRegexTally {
  feed(records: NativeRecords, lineBase: number): NativeFailure[];
  summary(): NativeTallySummary;
}

export interface NativeAddon {
  /** literals: per group, literals one of which every line its pattern matches contains (all
   *  groups or none); sample: the start of the log (the literal search's tables follow it) */
  Prefilter: new (patterns: string[], literals?: { text: string; ci: boolean }[][], sample?: Buffer) => NativePrefilter;
  /** byte pair and hashed triple counts of a log sample (src/prefilter/native.ts LiteralSample):
   *  [pairs, triples, lower-cased pairs, lower-cased triples] */
  sampleTables(sample: Buffer): [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  scanFile(
    path: string,
    prefilter: NativePrefilter,
    opts: { threads: number; skipComments?: boolean },
    onBatch: (batch: NativeFileBatch) => void,
  ): Promise<{ size: number; chunks: number }>;
  Tailer: new (
    backend: 'auto' | 'inotify' | 'poll',
    pollIntervalMs: number,
    onBatch: (batch: TailBatch) => void,
    onEvent: (event: TailEvent) => void,
    maxBytesInFlight?: number,
  ) => NativeTailer;
  tailerLimits: { batchBytes: number; batchLines: number; maxLineBytes: number };
  /** sends one datagram to a unix datagram socket (syslog, journald): 0 or an errno */
  sendUnixDatagram(path: string, data: Buffer): number;
  /** the native matcher: absent when the addon was built without PCRE2 */
  NativeFilter?: new (spec: NativeFilterSpec) => NativeFilter;
  RegexTally?: new (
    filter: NativeFilter,
    opts: { failures?: boolean; listAllMatched?: boolean; listAllIgnored?: boolean; listMax?: number },
  ) => NativeRegexTally;
  matchFile?(
    path: string,
    filter: NativeFilter,
    prefilter: NativePrefilter | null,
    opts: { threads: number; skipComments?: boolean; checkAll?: boolean; keepText?: boolean; now?: number },
    onBatch: (batch: NativeMatchBatch) => void,
  ): Promise<{ size: number; chunks: number }>;
}

const ADDON = path.join('build', 'Release', 'f2b_native.node');
// The repository root, seen from src/ and from dist/src/.
const CANDIDATES = [path.join(__dirname, '..', ADDON), path.join(__dirname, '..', '..', ADDON)];

let loaded: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  const override = process.env.F2B_NATIVE_ADDON;
  if (override !== undefined && override !== '') {
    if (!path.isAbsolute(override) || !fs.existsSync(override)) {
      throw new Error(`F2B_NATIVE_ADDON=${override}: expected the absolute path of an existing f2b_native.node`);
    }
    loaded = require(override) as NativeAddon;
    return loaded;
  }
  const file = CANDIDATES.find((candidate) => fs.existsSync(candidate));
  if (!file) {
    throw new Error(`f2b_native addon not found (looked for ${CANDIDATES.join(' and ')}); build it with: npx node-gyp rebuild`);
  }
  loaded = require(file) as NativeAddon;
  return loaded;
}
