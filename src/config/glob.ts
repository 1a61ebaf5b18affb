// Shell-style path patterns for `logpath`, expanded once when the config is read, as Python's
// glob.glob does: `*`, `?` and `[...]` (`[!...]` negates) in any path component, no `**`
// recursion, names starting with `.` matched only by a pattern starting with `.`. A path
// without pattern characters is returned if it exists (a dangling symlink counts, as in Python:
// the caller warns about those). Unlike Python, each directory's matches come sorted.

import * as fs from 'node:fs';

const MAGIC = /[*?[]/;

export const hasMagic = (s: string): boolean => MAGIC.test(s);

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const escapeRe = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/** fnmatch-style pattern of one path component as an anchored RegExp. */
export function componentRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^]*';
    else if (c === '?') re += '[^]';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      // keep ranges (a-z), escape everything else
      const cls = body.replace(/[\\^\]\[]/g, '\\$&');
      re += negate ? `[^${cls}]` : body ? `[${cls}]` : '(?!)';
      i = j;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`, 'u');
  } catch {
    return /(?!)/; // e.g. a reversed range [z-a]: matches nothing, like Python's empty range
  }
}

function listDir(dir: string, dirsOnly: boolean): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir || '.', { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => !dirsOnly || e.isDirectory() || (e.isSymbolicLink() && isDir(joinPath(dir || '.', e.name))))
    .map((e) => e.name)
    .sort();
}

function globIn(dir: string, pattern: string, dirsOnly: boolean): string[] {
  if (!hasMagic(pattern)) {
    if (pattern === '') return dirsOnly && isDir(dir) ? [''] : [];
    return lexists(joinPath(dir || '.', pattern)) ? [pattern] : [];
  }
  const re = componentRegExp(pattern);
  const hidden = pattern.startsWith('.');
  return listDir(dir, dirsOnly).filter((n) => (hidden || !n.startsWith('.')) && re.test(n));
}

/** os.path.join of two parts: no normalisation, so results read like the pattern. */
const joinPath = (dir: string, name: string): string => (!dir ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/** Paths matching `pattern`. */
export function glob(pattern: string, dirsOnly = false): string[] {
  if (!hasMagic(pattern)) {
    if (dirsOnly ? isDir(pattern) : pattern.endsWith('/') ? isDir(pattern) : lexists(pattern)) return [pattern];
    return [];
  }
  const slash = pattern.lastIndexOf('/');
  let dir = slash < 0 ? '' : pattern.slice(0, slash + 1);
  if (!/^\/+$/.test(dir)) dir = dir.replace(/\/+$/, '');
  const base = pattern.slice(slash + 1);
  const dirs = dir && hasMagic(dir) ? glob(dir, true) : [dir];
  const out: string[] = [];
  for (const d of dirs) {
    for (const name of globIn(d, base, dirsOnly)) out.push(joinPath(d, name));
  }
  return out;
}
