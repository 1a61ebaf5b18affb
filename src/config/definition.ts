// A filter.d or action.d file as a jail uses it: its [Definition] options, its [Init] values, and
// the options the jail gives in `name[k=v, ...]` (which win over [Init] and feed %(k)s), combined
// and `<tag>`-substituted the way fail2ban's client does before it talks to the server.
//
// Order of precedence for an option of the combined set: the jail's `name[...]` options, then
// [Init], then [Definition] (read with the jail's options as %(..)s variables). Every [Init] value
// is also kept as `known/<key>`, so `chain = <known/chain>` reaches the file's own default.
// Tags that are not options are looked up as `<sec/opt>` / `<known/opt>` / plain [Definition]
// (or [DEFAULT]) options; the result of that look-up is cached for the reader's life, as in
// fail2ban.

import { F2bError } from '../errors';
import { DEFAULT_SECTION } from './ini';
import { getOption, toVars, type Vars } from './interpolate';
import { KNOWN_PREFIX, type ConfigStore } from './store';
import { substituteTags } from './tags';

/** Options of [Definition] that fail2ban reads by name (the rest are variables). */
export const FILTER_KEYS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'] as const;
export const ACTION_KEYS = [
  'actionstart',
  'actionstart_on_demand',
  'actionstop',
  'actionflush',
  'actionreload',
  'actioncheck',
  'actionrepair',
  'actionrepair_on_unban',
  'actionban',
  'actionprolong',
  'actionreban',
  'actionunban',
  'norestored',
] as const;

const CONDITIONAL_KEY = /^(\w+)(\?.+)$/u;
const SECTION_OPTION = /^([\p{L}\p{N}_-]+)\/([^\s>]+)$/u;

export class Definition {
  /** the jail's `name[...]` options, then [Init] values and their `known/` copies */
  readonly initOpts: Map<string, string>;
  private opts = new Map<string, string>();
  private vars: Vars = new Map();
  private readonly lookups = new Map<string, string | undefined>();

  constructor(
    readonly store: ConfigStore,
    /** the set's first file (NAME.conf, or NAME.local when there is no .conf) */
    readonly file: string,
    private readonly keys: readonly string[],
    spec: Readonly<Record<string, string>>,
  ) {
    this.initOpts = new Map(Object.entries(spec));
  }

  /** Reads [Definition] and [Init] with `given` (the jail's options) as %(..)s variables.
   *  [Definition] options the jail itself sets are left out: the jail's win. With `all`, every
   *  option of [Definition] itself is read (not [DEFAULT]'s), not only the ones fail2ban knows
   *  by name, and without the jail's variables. */
  read(given: Vars | undefined, all: boolean): void {
    const vars = toVars(given, this.initOpts);
    const opts = new Map<string, string>();
    for (const key of this.keys) {
      if (vars.has(key)) continue;
      const v = getOption(this.store, 'Definition', key, vars);
      if (v !== undefined) opts.set(key, v);
    }
    this.vars = vars;
    const init = this.store.sections.get('Init');
    if (init) {
      for (const key of init.keys()) {
        const v = key.startsWith('known/') ? undefined : getOption(this.store, 'Init', key);
        if (v !== undefined) this.initOpts.set(`known/${key}`, v);
        if (!this.initOpts.has(key)) this.initOpts.set(key, v ?? getOption(this.store, 'Init', key) ?? '');
      }
    }
    const def = this.store.sections.get('Definition');
    if (all && def) {
      for (const key of def.keys()) {
        if (opts.has(key)) continue;
        const v = getOption(this.store, 'Definition', key);
        if (v !== undefined) opts.set(key, v);
      }
    }
    this.opts = opts;
  }

  /** The options read, the jail's and [Init]'s over them, with `<tag>`s substituted. Tags in
   *  `ignore` and those with a `?cond` variant are left for the server. */
  combined(ignore: Iterable<string> = []): Map<string, string> {
    const all = new Map([...this.opts, ...this.initOpts]);
    const skip = new Set(ignore);
    for (const key of all.keys()) {
      const cond = CONDITIONAL_KEY.exec(key);
      if (cond) skip.add(cond[1]);
    }
    try {
      return substituteTags(all, { ignore: skip, lookup: (tag) => this.lookup(tag) });
    } catch (e) {
      if (e instanceof F2bError && !e.file) throw new F2bError(e.code, e.message, { file: this.file });
      throw e;
    }
  }

  private lookup(tag: string): string | undefined {
    if (!this.lookups.has(tag)) this.lookups.set(tag, this.find(tag));
    return this.lookups.get(tag);
  }

  /** A tag that is not an option: `<sec/opt>` (sec may be `known` or `default`), else a
   *  [Definition] option read with the jail's variables. */
  private find(tag: string): string | undefined {
    const m = SECTION_OPTION.exec(tag);
    if (m) {
      const sec = m[1].toLowerCase();
      const candidates = sec === 'known' ? [KNOWN_PREFIX + 'Definition', 'Definition'] : sec === 'default' ? [DEFAULT_SECTION] : [m[1]];
      for (const s of candidates) {
        const v = getOption(this.store, s, m[2]);
        if (v !== undefined) return v;
      }
    }
    return getOption(this.store, 'Definition', tag, this.vars);
  }
}
