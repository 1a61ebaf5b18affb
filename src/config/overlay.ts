// Which directories a config tree is read from.
//
// A tree is one directory, read as fail2ban reads /etc/fail2ban. Two additions:
//   - The bundled jail.conf includes `paths-distro.conf`. When no such file exists (none is
//     shipped), the include reads the paths file of this machine's layout beside it instead:
//     paths-debian.conf, paths-rhel.conf or paths-arch.conf, chosen from /etc/os-release or
//     F2B_FAST_DISTRO, else paths-common.conf alone (layers.ts). A copy of the bundled tree
//     keeps working; a real paths-distro.conf (or .local) wins.
//   - A user directory without jail.conf (holding jail.local, jail.d/, maybe filter.d/ or
//     action.d/ additions), or a single jail.local file: laid over the bundled tree, as if its
//     files had been copied into it. A user file replaces the bundled file of the same name;
//     every set (jail.conf, jail.d/*.conf, jail.local, jail.d/*.local, and the same for each
//     filter and action) is the union of both directories' files.
// Paths inside the tree are "virtual": built from the bundled root, mapped to the real file
// (user's first) when read. Errors name the real file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFile } from './glob';

/** The bundled config tree (filters/ at the package root). */
export const BUNDLED_CONFIG = path.resolve(__dirname, '../../../filters');

/** The include name in the bundled jail.conf that stands for this machine's paths file. */
export const DISTRO_PATHS = 'paths-distro.conf';

export const DISTROS = ['debian', 'rhel', 'arch'] as const;
export type Distro = (typeof DISTROS)[number];

/**
 * This machine's log layout from os-release's ID and ID_LIKE: Debian and Ubuntu (debian), RHEL,
 * Fedora, CentOS, Rocky, Alma, Amazon Linux (rhel), Arch and Manjaro (arch). F2B_FAST_DISTRO
 * (one of those three, or "common") overrides it. Undefined: none of them, so only
 * paths-common.conf applies.
 */
export function detectDistro(env: NodeJS.ProcessEnv = process.env, osRelease = '/etc/os-release'): Distro | undefined {
  const forced = env.F2B_FAST_DISTRO?.trim().toLowerCase();
  if (forced) return (DISTROS as readonly string[]).includes(forced) ? (forced as Distro) : undefined;
  let text = '';
  try {
    text = fs.readFileSync(osRelease, 'utf8');
  } catch {
    return undefined;
  }
  const field = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm').exec(text)?.[1]?.toLowerCase() ?? '';
  const ids = `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/).filter(Boolean);
  if (ids.some((i) => i === 'debian' || i === 'ubuntu')) return 'debian';
  if (ids.some((i) => ['rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'amzn'].includes(i))) return 'rhel';
  if (ids.some((i) => i === 'arch' || i === 'archlinux' || i === 'manjaro')) return 'arch';
  return undefined;
}


function under(root: string, p: string): string | undefined {
  const rel = path.relative(root, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : undefined;
}

export interface OverlayTop {
  /** the user's directory */
  dir: string;
  /** only these files of it (relative name -> real file), e.g. a single jail.local given by path */
  files?: ReadonlyMap<string, string>;
}

/** Maps the virtual paths of a tree rooted at `root` to real files. */
export class Overlay {
  constructor(
    /** the virtual root: the bundled tree */
    readonly root: string,
    readonly top: OverlayTop,
  ) {}

  private relOf(p: string): string | undefined {
    if (!this.top.files) {
      const rel = under(this.top.dir, p);
      if (rel) return rel;
    }
    return under(this.root, p);
  }

  private topFile(rel: string): string | undefined {
    const real = this.top.files ? this.top.files.get(rel) : path.join(this.top.dir, rel);
    return real && isFile(real) ? real : undefined;
  }

  /** The real file a path stands for, or undefined when it exists nowhere. */
  real(p: string): string | undefined {
    const rel = this.relOf(p);
    if (rel === undefined) return isFile(p) ? p : undefined;
    return this.topFile(rel) ?? (isFile(path.join(this.root, rel)) ? path.join(this.root, rel) : undefined);
  }

  /** The names ending in `ext` in the virtual directory `dir` (both layers), sorted. */
  list(dir: string, ext: string): string[] {
    const rel = this.relOf(dir) ?? '';
    const names = new Set<string>();
    const add = (d: string) => {
      try {
        for (const n of fs.readdirSync(d)) if (n.endsWith(ext) && !n.startsWith('.')) names.add(n);
      } catch {
        // a missing directory adds nothing
      }
    };
    add(path.join(this.root, rel));
    if (this.top?.files) {
      for (const k of this.top.files.keys()) if (path.dirname(k) === (rel || '.') && k.endsWith(ext)) names.add(path.basename(k));
    } else add(path.join(this.top.dir, rel));
    return [...names].sort();
  }

  /** For messages: "DIR over the bundled tree ROOT". */
  describe(): string {
    const what = this.top.files ? [...this.top.files.values()].join(', ') : this.top.dir;
    return `${what} over the bundled tree ${this.root}`;
  }
}
