// Which files make up one config set, and in what order they are merged.
//
// `read(name)`: NAME.conf, NAME.d/*.conf (sorted), NAME.local, NAME.d/*.local (sorted), the ones
// that exist. Each file is replaced by its include tree: `[INCLUDES] before = ...` files, the file
// itself, then `after = ...` files (one per line, relative to the including file), every file
// followed by its own .local when that exists. An include that names one of its ancestors is
// skipped (fail2ban's cycle rule: only the ancestors count, so a file may be read twice through
// two branches, as fail2ban would). Files that cannot be opened are skipped silently.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFile } from './glob';
import { readIni, type IniFile } from './ini';
import { getOption } from './interpolate';
import { detectDistro, DISTRO_PATHS, type Distro, type Overlay } from './overlay';
import { ConfigStore } from './store';

/** Parsed files by path, shared by every set read for one config tree. */
export class IniCache {
  private readonly files = new Map<string, IniFile | undefined>();

  private distro?: Distro | 'common';
  /** the file read for an include of paths-distro.conf, once one was */
  distroPaths?: string;

  /** where the tree's files really are (see overlay.ts); undefined: a plain directory */
  constructor(readonly overlay?: Overlay) {}

  /** The real file of a path in the tree, or undefined when there is none. */
  real(file: string): string | undefined {
    return this.overlay ? this.overlay.real(file) : isFile(file) ? file : undefined;
  }

  /** What an include of `named` reads: the file, or for a paths-distro.conf that does not exist,
   *  this machine's paths-LAYOUT.conf beside it (overlay.ts). */
  include(named: string): string {
    const found = this.real(named);
    if (found || path.basename(named) !== DISTRO_PATHS) return found ?? named;
    this.distro ??= detectDistro() ?? 'common';
    const stand = path.join(path.dirname(named), `paths-${this.distro}.conf`);
    const real = this.real(stand) ?? this.real(path.join(path.dirname(named), 'paths-common.conf'));
    if (real) this.distroPaths = real;
    return real ?? named;
  }

  get(file: string): IniFile | undefined {
    if (!this.files.has(file)) this.files.set(file, readIni(file));
    return this.files.get(file);
  }
}

function sortedGlob(dir: string, ext: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(ext) && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** The existing files of the set `base` (a path without extension), in merge order. */
export function layerFiles(base: string, overlay?: Overlay): string[] {
  const dir = `${base}.d`;
  if (overlay) {
    const names = [`${base}.conf`, ...overlay.list(dir, '.conf').map((n) => path.join(dir, n)), `${base}.local`, ...overlay.list(dir, '.local').map((n) => path.join(dir, n))];
    return names.map((f) => overlay.real(f)).filter((f): f is string => f !== undefined);
  }
  const all = [`${base}.conf`, ...sortedGlob(dir, '.conf'), `${base}.local`, ...sortedGlob(dir, '.local')];
  return all.filter((f) => fs.existsSync(f));
}

function withLocals(files: string[], overlay?: Overlay): string[] {
  const out: string[] = [];
  for (const f of files) {
    out.push(f);
    const name = f.slice(0, f.length - path.extname(f).length) + '.local';
    const local = overlay ? overlay.real(name) : isFile(name) ? name : undefined;
    if (local && !files.includes(local)) out.push(local);
  }
  return out;
}


/** `files` with their include trees expanded. */
export function expandIncludes(files: string[], cache: IniCache, ancestors: string[] = []): string[] {
  const out: string[] = [];
  for (const f of withLocals(files, cache.overlay)) out.push(...includeTree(f, cache, ancestors));
  return out;
}

function includeTree(file: string, cache: IniCache, ancestors: string[]): string[] {
  const ini = cache.get(file);
  if (!ini) return [];
  const inc = ini.sections.get('INCLUDES');
  const lists: Record<'before' | 'after', string[]> = { before: [], after: [] };
  if (inc) {
    const single = new ConfigStore();
    single.merge(ini);
    for (const which of ['before', 'after'] as const) {
      if (!inc.options.has(which) && !ini.defaults.has(which)) continue;
      const value = getOption(single, 'INCLUDES', which) ?? '';
      for (const name of value.split('\n')) {
        const named = path.isAbsolute(name) ? name : path.join(path.dirname(file), name);
        const target = cache.include(named);
        if (ancestors.includes(target)) continue;
        lists[which].push(...expandIncludes([target], cache, [...ancestors, file]));
      }
    }
  }
  return [...lists.before, file, ...lists.after];
}

/** Reads the given files (includes expanded) into one store. */
export function readFiles(files: string[], cache: IniCache): ConfigStore {
  const store = new ConfigStore();
  for (const f of expandIncludes(files, cache)) {
    const ini = cache.get(f);
    if (ini) store.merge(ini);
  }
  return store;
}

/** Reads the set `base` (e.g. /etc/fail2ban/filter.d/sshd); undefined when none of its files exist. */
export function readLayers(base: string, cache: IniCache): ConfigStore | undefined {
  const files = layerFiles(base, cache.overlay);
  return files.length ? readFiles(files, cache) : undefined;
}

/** What one config tree read shares: parsed files and the sets built from them. */
export class ReadContext {
  readonly cache: IniCache;
  /** files left out of any set read so far (not UTF-8), with the reason */
  readonly skipped = new Map<string, string>();
  private readonly sets = new Map<string, ConfigStore | undefined>();

  /** `basedir`: the tree's root (with an overlay, its virtual root: overlay.root) */
  constructor(
    readonly basedir: string,
    readonly overlay?: Overlay,
  ) {
    this.cache = new IniCache(overlay);
  }

  /** The files of the set `base`, in merge order (before includes). */
  files(base: string): string[] {
    return layerFiles(base, this.overlay);
  }

  /** The layered set at `base` (a path without extension), read once. */
  set(base: string): ConfigStore | undefined {
    if (!this.sets.has(base)) this.keep(base, readLayers(base, this.cache));
    return this.sets.get(base);
  }

  /** One explicit file with its includes (and .local), read once. */
  file(file: string): ConfigStore | undefined {
    const key = `file:${file}`;
    if (!this.sets.has(key)) {
      const store = readFiles([file], this.cache);
      this.keep(key, store.files.length ? store : undefined);
    }
    return this.sets.get(key);
  }

  private keep(key: string, store: ConfigStore | undefined): void {
    this.sets.set(key, store);
    for (const s of store?.skipped ?? []) this.skipped.set(s.file, s.reason);
  }
}
