// The config reader: an unchanged fail2ban tree (/etc/fail2ban) in, resolved jails out, with
// fail2ban's semantics (see ARCHITECTURE.md and fail2ban-reference.md §2-3). The pieces:
//   ini.ts (one file) -> layers.ts + store.ts (layering, includes, KNOWN/) ->
//   interpolate.ts (%(x)s) -> definition.ts + tags.ts (filter/action files, <tag>s) ->
//   filter.ts, action.ts, jail.ts (JailDef) ; timespec.ts (time values), server.ts.

import * as path from 'node:path';
import { F2bError } from '../errors';
import { DEFAULT_SECTION } from './ini';
import { openTree, treeSource } from './source';
import { FAIL2BAN_VERSION, JailBuilder, type JailReadOptions } from './jail';
import { readServer } from './server';
import type { ConfigIssue, ConfigTree, JailDef } from './types';

export { readFilter } from './filter';
export { formatFilterSpec, parseFilterSpec } from './spec';
export { str2seconds } from './timespec';
export { BUNDLED_CONFIG, detectDistro, Overlay } from './overlay';
export { openTree, treeSource, type TreeSource } from './source';

export interface ReadTreeOptions extends JailReadOptions {
  /** read only this jail (it must exist) */
  jailName?: string;
  /** the tree a directory without jail.conf is laid over (default: the bundled filters/) */
  bundled?: string;
}

/** Reads fail2ban.* (server options) and jail.* (jail.conf, jail.d/*.conf, jail.local,
 *  jail.d/*.local, with their includes) of the tree `dir` names (see treeSource). Returns the
 *  enabled jails that resolved, in section order; a bad jail is reported in `issues` (severity
 *  'error', with file, line and jail) and left out while the others are returned. Throws
 *  F2bError when `dir` is not a tree, or when a file of the jail set has an error outside any
 *  jail section (fail2ban refuses the whole config then, and so do we). */
export function readConfigTree(dir: string, opts: ReadTreeOptions = {}): ConfigTree {
  const source = treeSource(dir, opts.bundled);
  const basedir = source.root;
  const base = path.join(basedir, 'jail');
  const ctx = openTree(source);
  const server = readServer(ctx);
  const jails = ctx.set(base)!;

  // problems inside a jail section spoil that jail only; anywhere else, the whole set
  const broken = new Map<string, F2bError[]>();
  for (const p of jails.problems) {
    if (!p.section || p.section === DEFAULT_SECTION || p.section === 'INCLUDES') throw p.error;
    broken.set(p.section, [...(broken.get(p.section) ?? []), p.error]);
  }
  // always available to %(..)s, overriding the files, as in fail2ban
  const builtin = { file: '', line: 0 };
  jails.defaults.set('fail2ban_version', { value: FAIL2BAN_VERSION, ...builtin });
  jails.defaults.set('fail2ban_confpath', { value: basedir, ...builtin });

  let names = jails.sectionNames().filter((n) => n !== 'INCLUDES');
  if (opts.jailName !== undefined) {
    if (!names.includes(opts.jailName)) {
      throw new F2bError('CONFIG_MISSING', `jail '${opts.jailName}' is not defined`, { file: `${base}.conf`, jail: opts.jailName });
    }
    names = [opts.jailName];
  }
  const issues: ConfigIssue[] = [];
  const out: JailDef[] = [];
  for (const name of names) {
    const errors = broken.get(name);
    if (errors) {
      for (const e of errors) issues.push(issueOf(e, name));
      continue;
    }
    try {
      const jail = new JailBuilder(ctx, jails, name, issues, opts).build();
      if (jail) out.push(jail);
    } catch (e) {
      if (!(e instanceof F2bError)) throw e;
      issues.push(issueOf(e, name));
    }
  }
  for (const [file, reason] of ctx.skipped) issues.push({ severity: 'warning', message: reason, file });
  const paths = ctx.cache.distroPaths ? ` (paths from ${path.basename(ctx.cache.distroPaths)})` : '';
  const described = `${source.overlay?.describe() ?? source.dir}${paths}`;
  return { dir: source.dir, root: source.root, overlay: source.overlay, source: described, server, jails: out, issues };
}

function issueOf(e: F2bError, jail: string): ConfigIssue {
  const issue: ConfigIssue = { severity: 'error', message: e.message, jail: e.jail ?? jail };
  if (e.file) issue.file = e.file;
  if (e.line) issue.line = e.line;
  return issue;
}
