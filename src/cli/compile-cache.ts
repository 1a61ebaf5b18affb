// V8's code cache for f2b-fast's own modules, so that a command does not compile them again at
// every start (a `regex` run spends a tenth of its time there). What Node 22 does with
// module.enableCompileCache(), which it uses where it has it; on Node 20, a require hook: each
// module of dist/ runs from a vm.Script given the cached data of its last run, and the modules
// without valid data (new, changed, or another V8) get it written at exit, with the functions
// that run compiled.
//
// The cache is in node_modules/.cache/f2b-fast/ of the installation (where tools keep theirs),
// one directory per V8 version, one file per module source (named by hashes of its path and
// text). V8 checks the
// data against the source and its own version and flags and rejects what does not fit (the
// module then compiles as usual): a stale or broken cache costs time, never correctness. A cache
// that cannot be written is simply not used; F2B_FAST_NO_COMPILE_CACHE=1 turns it off.

import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

type CompileFn = (this: Module, content: string, filename: string) => unknown;
interface ModuleInternals {
  _compile: CompileFn;
}
interface ModuleStatics {
  enableCompileCache?: (dir?: string) => unknown;
  wrap(content: string): string;
  _resolveFilename(request: string, parent: Module, isMain: boolean, options?: { paths?: string[] }): string;
  _cache: Record<string, Module>;
  _extensions: Record<string, unknown>;
}

/** FNV-1a of a string's UTF-16 code units, as 8 hex digits: names a cache file (V8 checks the
 *  data against the source itself; node:crypto would cost more to load than it saves). */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Turn the cache on for the modules of the installation whose compiled tree is `dist`; false
 *  when it cannot be. */
export function installCompileCache(dist: string): boolean {
  if (process.env.F2B_FAST_NO_COMPILE_CACHE === '1') return false;
  const root = path.resolve(dist, '..');
  const statics = Module as unknown as ModuleStatics;
  const base = path.join(root, 'node_modules', '.cache', 'f2b-fast');
  if (typeof statics.enableCompileCache === 'function') {
    try {
      statics.enableCompileCache(path.join(base, 'node'));
      return true;
    } catch {
      return false;
    }
  }
  const dir = path.join(base, `v8-${process.versions.v8}-${process.arch}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return false;
  }
  // (our modules and those of our dependencies)
  const prefix = root + path.sep;
  const proto = Module.prototype as unknown as ModuleInternals;
  const compile = proto._compile;
  const pending: Array<{ script: vm.Script; file: string }> = [];

  proto._compile = function (this: Module, content: string, filename: string) {
    if (!filename.startsWith(prefix)) return compile.call(this, content, filename);
    const file = path.join(dir, `${fnv1a(filename)}-${fnv1a(content)}-${content.length}.bin`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script(statics.wrap(content), { filename, cachedData });
    if (!cachedData || script.cachedDataRejected) pending.push({ script, file });
    const mod = this;
    const req = ((id: string) => mod.require(id)) as NodeJS.Require;
    req.resolve = ((request: string, options?: { paths?: string[] }) => statics._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
    req.main = require.main;
    req.cache = statics._cache;
    req.extensions = statics._extensions as NodeJS.RequireExtensions;
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    for (const { script, file } of pending) {
      try {
        // (written to a temporary name first: a reader never sees half a file)
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, file);
      } catch {
        // a cache that cannot be written: the next start compiles again
      }
    }
  });
  return true;
}
