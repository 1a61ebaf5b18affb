// The PCRE2 forms of patterns translated before (src/filter/pyregex/emit-pcre.ts), kept between
// runs: a filter's date templates alone are a dozen patterns of a few hundred characters, and
// parsing and translating them is a sixth of a `regex` run's start-up.
//
// Next to V8's code cache (src/cli/compile-cache.ts), in node_modules/.cache/f2b-fast/: one JSON
// file per version of the translator, named by a hash of the translator's own compiled code, so
// that a changed translator never reads what an older one wrote. A file that cannot be read or
// written, or does not hold what it should, only means translating again. Turned off by
// F2B_FAST_NO_COMPILE_CACHE=1.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitPcre, type PcreOptions, type PcreTranslation } from '../filter/pyregex/emit-pcre';
import type { ParsedPattern } from '../filter/pyregex/ast';
import { fnv1a } from '../cli/compile-cache';

/** the translator's code: what a cached translation depends on besides the pattern */
const TRANSLATOR = ['ast', 'emit-pcre', 'error', 'parser', 'source', 'unicode', 'width'].map((m) => path.join(__dirname, '..', 'filter', 'pyregex', `${m}.js`));
/** more than this many entries: start again (patterns of filters no longer used pile up) */
const MAX_ENTRIES = 5000;

interface Store {
  file: string;
  entries: Record<string, PcreTranslation>;
  added: boolean;
}

let store: Store | null | undefined;

function open(): Store | null {
  if (process.env.F2B_FAST_NO_COMPILE_CACHE === '1') return null;
  try {
    const code = TRANSLATOR.map((f) => fs.readFileSync(f, 'utf8'));
    const dir = path.join(__dirname, '..', '..', '..', 'node_modules', '.cache', 'f2b-fast');
    const file = path.join(dir, `pcre-${fnv1a(code.join('\0'))}-${fnv1a(code.reverse().join('\0'))}.json`);
    let entries: Record<string, PcreTranslation> = {};
    try {
      const read: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (read && typeof read === 'object' && !Array.isArray(read)) entries = read as Record<string, PcreTranslation>;
    } catch {
      // none yet, or unreadable: start empty
    }
    const s: Store = { file, entries, added: false };
    process.once('exit', () => save(s, dir));
    return s;
  } catch {
    return null;
  }
}

function save(s: Store, dir: string): void {
  if (!s.added) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const entries = Object.keys(s.entries).length > MAX_ENTRIES ? {} : s.entries;
    const tmp = `${s.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(entries));
    fs.renameSync(tmp, s.file);
  } catch {
    // not writable: the next run translates again
  }
}

const valid = (t: PcreTranslation | undefined): t is PcreTranslation =>
  !!t && typeof t.source === 'string' && typeof t.ascii === 'string' && Array.isArray(t.names) && typeof t.rest === 'number';

/**
 * emitPcre(parse(), pattern, opts) for patterns that must parse (their syntax checked already),
 * from the cache when it has it. `keep` is named: 'named' keeps the named groups, 'first' group
 * 1 (a function would not make a key).
 */
export function cachedPcre(pattern: string, parse: () => ParsedPattern, opts: { singleLine?: boolean; keep: 'named' | 'first' }): PcreTranslation {
  if (store === undefined) store = open();
  const key = `${opts.singleLine ? 1 : 0}${opts.keep}\0${pattern}`;
  const hit = store?.entries[key];
  if (valid(hit)) return hit;
  const keep: PcreOptions['keep'] = opts.keep === 'named' ? (_g, name) => name !== undefined : (g) => g === 1;
  const t = emitPcre(parse(), pattern, { singleLine: opts.singleLine, keep });
  if (store) {
    store.entries[key] = t;
    store.added = true;
  }
  return t;
}
