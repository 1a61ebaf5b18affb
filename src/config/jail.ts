// One [jail] section of jail.* resolved into a JailDef, following fail2ban's JailReader:
//
// 1. read `enabled`, `backend`, `filter`; a disabled jail stops here;
// 2. read the filter (`name[k=v]`, default `%(__name__)s[mode=%(mode)s]`) and copy all its
//    combined options into the jail section as `known/<key>`, so the jail may write
//    `failregex = %(known/failregex)s` + more lines;
// 3. read the jail's own options; the filter is read again with them as variables, leaving out
//    the filter options the jail sets itself (a jail `failregex` REPLACES the filter's);
// 4. read each action of the `action` list (`name[k=v][k2=v2]`, one or more per line);
// 5. expand `logpath` globs once (skipped for systemd backends).
//
// fail2ban aborts the whole server when an enabled jail has no log file, or when a jail's
// filter or actions cannot be resolved; f2b-fast reports file:line:jail and skips that jail
// only, like fail2ban already does for a jail whose filter or action file is missing.

import * as fs from 'node:fs';
import { F2bError } from '../errors';
import { readAction, type ResolvedAction } from './action';
import { FILTER_KEYS } from './definition';
import type { ReadContext } from './layers';
import { filterDef, openFilter, type OpenedFilter } from './filter';
import { glob } from './glob';
import { getOption } from './interpolate';
import { parseFilterSpec, splitSpecList } from './spec';
import type { ConfigStore } from './store';
import { str2seconds } from './timespec';
import type { ConfigIssue, JailDef, LogPathDef, SourceRef } from './types';
import { asBool, asInt, splitWords } from './values';

/** The fail2ban version whose config semantics f2b-fast follows (`%(fail2ban_version)s`). */
export const FAIL2BAN_VERSION = '1.0.2';

/** Jail options fail2ban reads by name, in its order; the rest are only variables. */
const JAIL_KEYS = [
  'enabled',
  'backend',
  'maxretry',
  'maxmatches',
  'findtime',
  'bantime',
  'bantime.increment',
  'bantime.factor',
  'bantime.formula',
  'bantime.multipliers',
  'bantime.maxtime',
  'bantime.rndtime',
  'bantime.overalljails',
  'ignorecommand',
  'ignoreself',
  'ignoreip',
  'ignorecache',
  'filter',
  'logtimezone',
  'logencoding',
  'logpath',
  'action',
  ...FILTER_KEYS,
] as const;
const BOOL_KEYS = new Set(['enabled', 'bantime.increment', 'bantime.overalljails', 'ignoreself']);
const INT_KEYS = new Set(['maxretry', 'maxmatches', 'maxlines']);
const DEFAULTS: Record<string, string> = { enabled: 'false', backend: 'auto', filter: '', action: '' };

/** Server-side defaults, used when the config does not set the option at all. */
const SERVER_DEFAULTS = { maxretry: 3, maxmatches: 5, findtime: 600, bantime: 600 } as const;

export interface JailReadOptions {
  /** treat the jail as enabled whatever `enabled` says */
  forceEnable?: boolean;
  /** an enabled jail without log files is a warning, not an error (like `fail2ban-client -d`) */
  allowMissingLogs?: boolean;
}

/** Python's str() of a boolean, as fail2ban's typed options reach %(..)s of filters/actions. */
const pyBool = (b: boolean): string => (b ? 'True' : 'False');

export class JailBuilder {
  private readonly header: SourceRef;

  constructor(
    private readonly ctx: ReadContext,
    private readonly jails: ConfigStore,
    readonly name: string,
    private readonly issues: ConfigIssue[],
    private readonly opts: JailReadOptions = {},
  ) {
    this.header = jails.headers.get(name) ?? { file: '', line: 0 };
  }

  /** file:line of an option of this jail (its own line or [DEFAULT]'s), else the section header */
  private where(key?: string): { file: string; line: number; jail: string } {
    const e = key ? this.jails.entry(this.name, key) : undefined;
    return { file: e?.file ?? this.header.file, line: e?.line ?? this.header.line, jail: this.name };
  }

  private fail(code: ConstructorParameters<typeof F2bError>[0], message: string, key?: string): never {
    throw new F2bError(code, message, this.where(key));
  }

  private warn(message: string, key?: string): void {
    this.issues.push({ severity: 'warning', message, ...this.where(key) });
  }

  private get(key: string): string | undefined {
    return getOption(this.jails, this.name, key);
  }

  /** The jail, or undefined when it is disabled. Throws F2bError (with file, line, jail). */
  build(): JailDef | undefined {
    try {
      return this.resolve();
    } catch (e) {
      if (e instanceof F2bError && !e.jail) {
        const where = e.file ? { file: e.file, line: e.line } : this.header;
        throw new F2bError(e.code, e.message, { ...where, jail: this.name });
      }
      throw e;
    }
  }

  private resolve(): JailDef | undefined {
    const enabled = asBool(this.get('enabled') ?? DEFAULTS.enabled);
    if (!enabled && !this.opts.forceEnable) return undefined;

    // pass 1: only what the filter needs
    const first = new Map<string, string>([
      ['enabled', pyBool(enabled)],
      ['backend', this.get('backend') ?? DEFAULTS.backend],
      ['filter', this.get('filter') ?? DEFAULTS.filter],
    ]);
    const filter = this.openFilter(first.get('filter')!, first.get('backend')!);
    if (filter) {
      filter.def.read(first, true);
      this.mergeKnown(filter.def.combined());
    } else {
      this.warn('no filter set for this jail', 'filter');
    }

    // pass 2: every jail option, now that %(known/...)s can be resolved
    const jail = new Map<string, string>();
    const ints = new Map<string, number>();
    for (const key of JAIL_KEYS) {
      const v = this.get(key) ?? DEFAULTS[key];
      if (v === undefined) continue;
      jail.set(key, v);
      if (INT_KEYS.has(key)) ints.set(key, asInt(v, key, this.where(key)));
    }
    // the filter and actions see the jail's options typed, as Python prints them
    const vars = new Map([...jail].map(([k, v]) => [k, BOOL_KEYS.has(k) ? pyBool(asBool(v)) : String(ints.get(k) ?? v)]));
    filter?.def.read(vars, false);
    const actions = this.readActions(jail.get('action') ?? '', vars);

    const report = { warn: (m: string, k: string) => this.warn(m, k), where: (k: string) => this.where(k) };
    const resolvedFilter = filterDef(filter, jail, report);
    const backend = jail.get('backend')!;
    const banaction = this.optional('banaction') ?? '';
    const def: JailDef = {
      name: this.name,
      source: this.header,
      enabled,
      filter: resolvedFilter,
      logpaths: backend.startsWith('systemd') ? [] : this.logpaths(jail.get('logpath')),
      backend,
      maxretry: ints.get('maxretry') ?? SERVER_DEFAULTS.maxretry,
      maxmatches: ints.get('maxmatches') ?? SERVER_DEFAULTS.maxmatches,
      findtime: this.seconds(jail, 'findtime') ?? SERVER_DEFAULTS.findtime,
      bantime: Math.trunc(this.seconds(jail, 'bantime') ?? SERVER_DEFAULTS.bantime),
      ignoreip: splitWords(jail.get('ignoreip') ?? ''),
      ignoreself: jail.has('ignoreself') ? asBool(jail.get('ignoreself')!) : true,
      ignorecommand: jail.get('ignorecommand') ?? '',
      port: this.optional('port') ?? '',
      protocol: this.optional('protocol') ?? '',
      chain: this.chain(banaction, actions),
      banaction,
      actions: actions.map((a) => a.def),
      logencoding: jail.get('logencoding') ?? 'auto',
      options: this.allOptions(),
    };
    if (jail.has('logtimezone')) def.logtimezone = jail.get('logtimezone');
    return def;
  }

  /** An option that is only a variable (port, banaction, ...); undefined when it does not
   *  resolve, which fail2ban only notices if something uses it. */
  private optional(key: string): string | undefined {
    try {
      return this.get(key);
    } catch {
      return undefined;
    }
  }

  private seconds(jail: Map<string, string>, key: string): number | undefined {
    const v = jail.get(key);
    if (v === undefined) return undefined;
    try {
      return str2seconds(v);
    } catch (e) {
      this.fail('CONFIG_VALUE', `${key}: ${(e as Error).message}`, key);
    }
  }

  private openFilter(spec: string, backend: string): OpenedFilter | undefined {
    if (!spec) return undefined;
    let parsed;
    try {
      parsed = parseFilterSpec(spec);
    } catch (e) {
      this.fail('CONFIG_VALUE', `invalid filter definition: ${(e as Error).message}`, 'filter');
    }
    const found = openFilter(this.ctx, parsed.name, parsed.options, backend);
    if (!found) this.fail('FILTER_MISSING', `filter '${parsed.name}' not found (no filter.d/${parsed.name}.conf or .local)`, 'filter');
    return found;
  }

  /** The filter's combined options become `known/<key>` options of the jail section. */
  private mergeKnown(combined: Map<string, string>): void {
    const section = this.jails.section(this.name);
    for (const [k, v] of combined) {
      if (!k.startsWith('known/')) section.set(`known/${k}`, { value: v, ...this.header });
    }
  }

  private readActions(list: string, vars: Map<string, string>): ResolvedAction[] {
    const out: ResolvedAction[] = [];
    for (const raw of splitSpecList(list)) {
      const item = raw.trim();
      if (!item) continue;
      let spec;
      try {
        spec = parseFilterSpec(item);
      } catch (e) {
        this.fail('CONFIG_VALUE', `invalid action definition: ${(e as Error).message}`, 'action');
      }
      out.push(readAction(this.ctx, this.name, spec, vars));
    }
    if (!out.length) this.warn('no actions defined for this jail', 'action');
    return out;
  }

  /** `chain`, with `<known/chain>` (stock default) resolved the way the banaction resolves it. */
  private chain(banaction: string, actions: ResolvedAction[]): string | undefined {
    const raw = this.optional('chain');
    if (raw === undefined || !raw.includes('<')) return raw;
    return actions.find((a) => a.def.name === banaction)?.combined?.get('chain');
  }

  private logpaths(value: string | undefined): LogPathDef[] {
    if (value === undefined) return [];
    const out: LogPathDef[] = [];
    let found = 0;
    for (const line of value.split('\n')) {
      // fail2ban cuts at the last space: the word after it must be head or tail
      const cut = line.lastIndexOf(' ');
      const pattern = cut < 0 ? line : line.slice(0, cut);
      const mode = cut < 0 ? 'head' : line.slice(cut + 1).toLowerCase();
      if (!pattern) continue;
      const files: string[] = [];
      for (const f of glob(pattern)) {
        if (fs.existsSync(f)) files.push(f);
        else this.warn(`${f} is a dangling link, thus cannot be monitored`, 'logpath');
      }
      if (!files.length && !this.opts.allowMissingLogs && !/[*?[]/.test(pattern)) {
        // fail2ban refuses to start here; f2b-fast watches the path and reads the file from its
        // first line once it appears (a service installed later, a log not yet rotated in)
        this.warn(`${pattern} does not exist yet: watching for it`, 'logpath');
        files.push(pattern);
      }
      if (files.length && mode !== 'head' && mode !== 'tail') {
        this.fail('CONFIG_VALUE', `logpath ${JSON.stringify(line)}: the word after the last space must be head or tail`, 'logpath');
      }
      found += files.length;
      out.push({ pattern, files, start: mode === 'tail' ? 'tail' : 'head' });
    }
    if (!found) {
      const message = `have not found any log file for ${this.name} jail (logpath = ${value.split('\n').join(', ')})`;
      if (!this.opts.allowMissingLogs) this.fail('LOGPATH_MISSING', message, 'logpath');
      this.warn(message, 'logpath');
    }
    return out;
  }

  /** Every option the jail sees (its own and [DEFAULT]'s), interpolated, over fail2ban's
   *  defaults for enabled/backend/filter/action; options whose interpolation fails are left
   *  out (fail2ban only fails on those it uses). */
  private allOptions(): Record<string, string> {
    const out: Record<string, string> = { ...DEFAULTS };
    const keys = new Set([...this.jails.defaults.keys(), ...(this.jails.sections.get(this.name)?.keys() ?? [])]);
    for (const key of keys) {
      if (key.startsWith('known/')) continue;
      const v = this.optional(key);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
}

