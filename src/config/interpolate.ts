// `%(name)s` interpolation, as fail2ban's ConfigParser does it on every option read.
//
// A reference is looked up, lower-cased, in: the caller's variables, the section, [DEFAULT].
// fail2ban adds `%(__name__)s` (the section being read) and `%(sec/opt)s` references: `sec` is
// another section (its raw value, else [DEFAULT]'s), `default`, or `known` (the value this
// section had before a later file redefined it, else [DEFAULT]'s). A referenced value is
// interpolated in turn, in the context of the section first asked for, at most 10 levels deep.
// `%%` is a literal `%`; any other `%` is an error.

import { F2bError } from '../errors';
import { DEFAULT_SECTION } from './ini';
import { KNOWN_PREFIX, type ConfigStore } from './store';

const MAX_DEPTH = 10;
const REFERENCE = /%\(([^)]+)\)s/y;
const SECTION_REFERENCE = /%\(([\p{L}\p{N}_-]+\/([^)]+))\)s/gu;

/** Extra variables, looked up before the section; keys lower-case (see toVars). */
export type Vars = ReadonlyMap<string, string>;

const NO_VARS: Vars = new Map();

/** Variables from plain options, keys lower-cased as ConfigParser does. */
export function toVars(...layers: (Readonly<Record<string, string>> | ReadonlyMap<string, string> | undefined)[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const layer of layers) {
    if (!layer) continue;
    const items = layer instanceof Map ? layer.entries() : Object.entries(layer);
    for (const [k, v] of items) out.set(k.toLowerCase(), v);
  }
  return out;
}

/** Value of `option` in `section` with %(..)s expanded; undefined when the section (other than
 *  DEFAULT) or the option does not exist. Throws F2bError(CONFIG_INTERPOLATION) pointing at the
 *  line that defines the option. */
export function getOption(store: ConfigStore, section: string, option: string, vars: Vars = NO_VARS, raw = false): string | undefined {
  if (section !== DEFAULT_SECTION && !store.sections.has(section)) return undefined;
  const key = option.toLowerCase();
  const entry = store.entry(section, key);
  const value = vars.get(key) ?? entry?.value;
  if (value === undefined || raw) return value;
  const where = entry ?? store.headers.get(section);
  return new Interpolation(store, section, key, vars, where).expand(value);
}

class Interpolation {
  /** `__name__` and the `sec/opt` values mapped in, as fail2ban adds them to the lookup chain */
  private readonly extra = new Map<string, string>();
  /** the references being expanded, outermost first (for error messages) */
  private readonly path: string[] = [];

  constructor(
    private readonly store: ConfigStore,
    private readonly section: string,
    private readonly option: string,
    private readonly vars: Vars,
    private readonly where: { file: string; line: number } | undefined,
  ) {}

  expand(value: string): string {
    const out: string[] = [];
    this.some(out, value, 1);
    return out.join('');
  }

  /** Blames the innermost option that has a line of its own: that is where the bad text is. */
  private fail(message: string): never {
    let where = this.where;
    for (const key of this.path) where = this.store.entry(this.section, key) ?? where;
    const chain = [this.option, ...this.path].join(' -> ');
    throw new F2bError('CONFIG_INTERPOLATION', `[${this.section}] ${chain}: ${message}`, where ?? {});
  }

  private lookup(key: string): string | undefined {
    return this.extra.get(key) ?? this.vars.get(key) ?? this.store.entry(this.section, key)?.value;
  }

  private some(out: string[], rest: string, depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`more than ${MAX_DEPTH} levels of %(..)s references`);
    this.extra.set('__name__', this.section);
    this.mapSectionOptions(rest);
    let i = 0;
    while (i < rest.length) {
      const p = rest.indexOf('%', i);
      if (p < 0) {
        out.push(rest.slice(i));
        return;
      }
      out.push(rest.slice(i, p));
      const c = rest[p + 1];
      if (c === '%') {
        out.push('%');
        i = p + 2;
      } else if (c === '(') {
        REFERENCE.lastIndex = p;
        const m = REFERENCE.exec(rest);
        if (!m) this.fail(`bad %(..)s reference at ${JSON.stringify(rest.slice(p, p + 30))}`);
        const name = m[1].toLowerCase();
        const v = this.lookup(name);
        if (v === undefined) this.fail(`%(${m[1]})s is not defined`);
        if (v.includes('%')) {
          this.path.push(name);
          this.some(out, v, depth + 1);
          this.path.pop();
        } else out.push(v);
        i = p + m[0].length;
      } else {
        this.fail(`'%' must be followed by '%' or '(' (write %% for a literal %), found ${JSON.stringify(rest.slice(p, p + 30))}`);
      }
    }
  }

  /** Makes `%(sec/opt)s` references in `rest` resolvable (fail2ban's _map_section_options). Like
   *  fail2ban, it maps the name as written but looks it up lower-cased, so only lower-case
   *  section names work there. */
  private mapSectionOptions(rest: string): void {
    if (!rest.includes('/') || !rest.includes('%(')) return;
    for (const m of rest.matchAll(SECTION_REFERENCE)) {
      const [, ref, opt] = m;
      if (this.lookup(ref) !== undefined) continue;
      const sec = ref.slice(0, ref.length - opt.length - 1);
      const lower = sec.toLowerCase();
      let v: string | undefined;
      if (lower === 'known') {
        v = this.store.sections.get(KNOWN_PREFIX + this.section)?.get(opt)?.value;
      } else if (lower !== 'default') {
        const s = this.store.sections.get(sec);
        if (!s) continue;
        v = s.get(opt)?.value;
      }
      v ??= this.store.defaults.get(opt)?.value;
      if (v !== undefined) this.extra.set(ref, v);
    }
  }
}
