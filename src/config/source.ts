// Which directories a --config argument stands for (see overlay.ts for the two-layer case).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { F2bError } from '../errors';
import { isDir, isFile } from './glob';
import { ReadContext } from './layers';
import { BUNDLED_CONFIG, Overlay } from './overlay';

/** Where a tree is read from (see overlay.ts). */
export interface TreeSource {
  /** the directory (or jail.local file) as given */
  dir: string;
  /** the root of the paths built while reading: `dir`, or the bundled tree under an overlay */
  root: string;
  overlay?: Overlay;
}

/**
 * How a --config argument is read: a directory with jail.conf is a tree of its own; a directory
 * without jail.conf, or a single .local/.conf file (read as jail.local), is laid over the
 * bundled tree. Throws
 * F2bError(CONFIG_MISSING) when it is none of those.
 */
export function treeSource(given: string, bundled = BUNDLED_CONFIG): TreeSource {
  const dir = given.length > 1 ? given.replace(/\/+$/, '') : given;
  if (isFile(dir)) {
    if (!/\.(local|conf)$/.test(dir)) {
      throw new F2bError('CONFIG_MISSING', `${given} is neither a config directory nor a jail.local file`, { file: given });
    }
    const top = { dir: path.dirname(dir), files: new Map([['jail.local', dir]]) };
    return { dir, root: bundled, overlay: new Overlay(bundled, top) };
  }
  if (!isDir(dir)) throw new F2bError('CONFIG_MISSING', `config directory ${given} does not exist`, { file: given });
  const base = path.join(dir, 'jail');
  if (fs.existsSync(`${base}.conf`)) return { dir, root: dir };
  if (fs.existsSync(`${base}.local`) || isDir(`${base}.d`)) {
    return { dir, root: bundled, overlay: new Overlay(bundled, { dir }) };
  }
  throw new F2bError('CONFIG_MISSING', `neither jail.conf nor jail.local (nor jail.d/) in ${dir}`, { file: `${base}.conf` });
}

/** A reader for the tree `source`. */
export function openTree(source: TreeSource): ReadContext {
  return new ReadContext(source.root, source.overlay);
}


/** A reader for `given` when only its fail2ban.conf is wanted (client -c): its tree as the
 *  daemon reads it (laid over the bundled tree where treeSource says so), else the directory as
 *  it is, which may hold a fail2ban.conf alone. */
export function openServerConfig(given: string, bundled = BUNDLED_CONFIG): ReadContext {
  try {
    return openTree(treeSource(given, bundled));
  } catch (e) {
    if (!(e instanceof F2bError)) throw e;
    return new ReadContext(given.length > 1 ? given.replace(/\/+$/, '') : given);
  }
}
