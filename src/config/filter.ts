// filter.d/NAME as a jail (or `f2b-fast regex`) uses it: located, read with the jail's options,
// and turned into a FilterDef. The regex tags (<HOST>, <F-USER>, ...) stay for the matcher.

import * as path from 'node:path';
import { F2bError } from '../errors';
import { Definition, FILTER_KEYS } from './definition';
import { isFile } from './glob';
import { toVars } from './interpolate';
import { ReadContext } from './layers';
import { openTree, treeSource, type TreeSource } from './source';
import { parseFilterSpec } from './spec';
import type { ConfigStore } from './store';
import type { FilterDef } from './types';
import { asInt, splitLines } from './values';

export interface OpenedFilter {
  def: Definition;
  name: string;
  options: Record<string, string>;
}

type Where = { file?: string; line?: number; jail?: string };

export interface FilterReport {
  warn(message: string, key: string): void;
  where(key: string): Where;
}

const USEDNS = new Set(['yes', 'warn', 'no', 'raw']);
const DEFAULT_MAXLINES = 1;
const DEFAULT_USEDNS = 'warn';

function open(store: ConfigStore, file: string, name: string, options: Record<string, string>, backend: string): OpenedFilter {
  store.assertClean();
  const def = new Definition(store, file, FILTER_KEYS, options);
  // fail2ban sets `logtype` from the backend unless the jail or the filter's [Definition] does
  if (!def.initOpts.get('logtype') && !store.sections.get('Definition')?.has('logtype')) {
    def.initOpts.set('logtype', backend.startsWith('systemd') ? 'journal' : 'file');
  }
  return { def, name, options };
}

/** filter.d/NAME of the config tree; undefined when none of its files exist. */
export function openFilter(ctx: ReadContext, name: string, options: Record<string, string>, backend: string): OpenedFilter | undefined {
  const base = path.join(ctx.basedir, 'filter.d', name);
  const store = ctx.set(base);
  return store && open(store, ctx.files(base)[0], name, options, backend);
}

/** The FilterDef the server ends up with. fail2ban sends the filter's values, then the jail's:
 *  for usedns, maxlines and prefregex the filter's are placed last (they win), for datepattern
 *  the jail's; regex and journalmatch lists are appended. The filter only carries an option
 *  the jail does not set itself, unless the jail passed it as `filter = name[key=...]`. */
export function filterDef(filter: OpenedFilter | undefined, jail: ReadonlyMap<string, string>, report: FilterReport): FilterDef {
  const f = filter?.def.combined() ?? new Map<string, string>();
  const pick = (key: string, filterWins: boolean) => (filterWins ? f.get(key) ?? jail.get(key) : jail.get(key) ?? f.get(key));
  const maxlinesText = pick('maxlines', true);
  const maxlines = maxlinesText === undefined ? DEFAULT_MAXLINES : asInt(maxlinesText, 'maxlines', report.where('maxlines'));
  if (maxlines <= 0) throw new F2bError('CONFIG_VALUE', `maxlines must be greater than zero, not ${maxlines}`, report.where('maxlines'));
  let usedns = (pick('usedns', true) ?? DEFAULT_USEDNS).toLowerCase();
  if (!USEDNS.has(usedns)) {
    report.warn(`usedns ${JSON.stringify(usedns)} is not yes, warn, no or raw: using 'no', as fail2ban does`, 'usedns');
    usedns = 'no';
  }
  const def: FilterDef = {
    name: filter?.name ?? '',
    file: filter?.def.file ?? '',
    options: filter?.options ?? {},
    failregex: [...splitLines(f.get('failregex')), ...splitLines(jail.get('failregex'))],
    ignoreregex: [...splitLines(f.get('ignoreregex')), ...splitLines(jail.get('ignoreregex'))],
    maxlines,
    usedns: usedns as FilterDef['usedns'],
  };
  const prefregex = pick('prefregex', true);
  if (prefregex) def.prefregex = prefregex;
  const datepattern = pick('datepattern', false);
  if (datepattern !== undefined) def.datepattern = datepattern;
  const journalmatch = [...splitLines(f.get('journalmatch')), ...splitLines(jail.get('journalmatch'))];
  if (journalmatch.length) def.journalmatch = journalmatch.join('\n');
  return def;
}

/** A filter by name (`sshd`, `sshd[mode=aggressive]`) from `filterDir` (a filter.d folder or
 *  the config folder holding one; a folder laid over the bundled tree, see source.ts, finds the
 *  bundled filters too), or by path to a filter file, as fail2ban-regex finds it: a
 *  file inside a filter.d folder is read with its .d/ and .local layers, any other file on its
 *  own (with its includes). `vars` are a jail's options: %(..)s variables for the filter, and
 *  those that are filter options (failregex, usedns, ...) override the filter's as a jail's do;
 *  `backend` chooses logtype (file, or journal for systemd). */
export function readFilter(filterDir: string, nameWithOptions: string, vars: Readonly<Record<string, string>> = {}): FilterDef {
  const { name, options } = parseFilterSpec(nameWithOptions);
  const dir = filterDir.replace(/(.)\/+$/, '$1');
  const backend = vars.backend ?? 'auto';
  // a config directory laid over the bundled tree (or the bundled tree): its filter.d is both
  const overlay = path.basename(dir) !== 'filter.d' && !name.includes('/') ? overlaySource(dir) : undefined;
  const filterD = overlay ? path.join(overlay.root, 'filter.d') : path.basename(dir) === 'filter.d' ? dir : path.join(dir, 'filter.d');
  const tries = name.slice(-6).includes('.') ? [name] : [name, `${name}.conf`, `${name}.local`];
  const locate = (t: string) => (t.includes('/') ? t : overlay?.overlay ? overlay.overlay.real(path.join(filterD, t)) : path.join(filterD, t));
  const found = tries.map(locate).find((f) => f !== undefined && isFile(f));
  const where = overlay ? `${path.join(dir, 'filter.d')} or ${filterD}` : filterD;
  if (!found) throw new F2bError('FILTER_MISSING', `filter '${name}' not found in ${where}`, { file: path.join(filterD, `${name}.conf`) });
  let opened: OpenedFilter | undefined;
  if (overlay) {
    opened = openFilter(openTree(overlay), path.basename(found, path.extname(found)), options, backend);
  } else if (path.basename(path.dirname(found)) === 'filter.d') {
    const ctx = new ReadContext(path.dirname(path.dirname(found)));
    opened = openFilter(ctx, path.basename(found, path.extname(found)), options, backend);
  } else {
    const store = new ReadContext(path.dirname(found)).file(found);
    if (store) opened = open(store, found, path.basename(found, path.extname(found)), options, backend);
  }
  if (!opened) throw new F2bError('FILTER_MISSING', `cannot read filter file ${found}`, { file: found });
  const jail = toVars(vars);
  opened.def.read(jail, false);
  const report: FilterReport = { warn: () => undefined, where: () => ({ file: found }) };
  return filterDef(opened, jail, report);
}

/** The overlay `dir` stands for as a config tree, if it is one (see source.ts). */
function overlaySource(dir: string): TreeSource | undefined {
  try {
    const source = treeSource(dir);
    return source.overlay ? source : undefined;
  } catch {
    return undefined;
  }
}
