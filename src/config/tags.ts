// `<tag>` substitution among the options of a filter or action, done when the config is read
// (fail2ban's substituteRecursiveTags). The regex tags (<HOST>, <F-USER>, ...) and the action's
// ticket tags (<ip>, <matches>, ...) are not options, so they stay for the later stages.
//
// Every option value is scanned for `<name>` (no space, `<` or `>` inside); the innermost tag is
// found first, so `<lt_<logtype>/x>` becomes `<lt_file/x>` before that is looked up. A tag is
// replaced by the option of that name (its `?cond` variant first when a condition is given),
// else by what `lookup` finds (e.g. `<sec/opt>`, `<known/opt>`); unknown tags stay as they are.
// The scan restarts where a replacement was inserted, so replacements are expanded in turn. A
// tag that refers to itself, or any one tag replaced more than 25 times inside one value, is an
// error. Passes repeat while a pass made a replacement that left tags behind.

import { F2bError } from '../errors';

const MAX_REPLACEMENTS = 25;
const TAG = /<([^ <>]+)>/g;

function findTag(value: string, from: number): RegExpExecArray | null {
  TAG.lastIndex = from;
  return TAG.exec(value);
}

export interface TagOptions {
  /** tags neither replaced nor expanded (their values are left as they are) */
  ignore?: ReadonlySet<string>;
  /** e.g. "family=inet6": prefer `tag?family=inet6` values */
  conditional?: string;
  /** fallback for tags that are not among the options */
  lookup?: (tag: string) => string | undefined;
}

/** Returns a copy of `tags` with `<tag>` references substituted. Throws F2bError(CONFIG_INTERPOLATION). */
export function substituteTags(tags: ReadonlyMap<string, string>, opts: TagOptions = {}): Map<string, string> {
  const ignore = opts.ignore ?? new Set<string>();
  const out = new Map(tags);
  const done = new Set<string>();
  const counts = new Map<string, Map<string, number>>();
  for (let again = true; again; ) {
    again = false;
    for (const [tag, orig] of out) {
      if (ignore.has(tag) || done.has(tag)) continue;
      let value = orig;
      const count = counts.get(tag) ?? new Map<string, number>();
      for (let m = findTag(value, 0); m; ) {
        const ref = m[1];
        if (ignore.has(ref)) {
          m = findTag(value, m.index + m[0].length);
          continue;
        }
        if (ref === tag || (count.get(ref) ?? 1) > MAX_REPLACEMENTS) {
          throw new F2bError(
            'CONFIG_INTERPOLATION',
            `<${tag}> cannot be resolved: it refers to itself through <${ref}> (value: ${JSON.stringify(value.slice(0, 200))})`,
          );
        }
        let repl = opts.conditional ? out.get(`${ref}?${opts.conditional}`) : undefined;
        repl ??= out.get(ref) ?? opts.lookup?.(ref);
        if (repl === undefined) {
          m = findTag(value, m.index + m[0].length);
          continue;
        }
        value = value.split(`<${ref}>`).join(repl);
        count.set(ref, (count.get(ref) ?? 0) + 1);
        m = findTag(value, m.index);
      }
      if (value !== orig) {
        if (findTag(value, 0)) {
          counts.set(tag, count);
          again = true;
        }
        out.set(tag, value);
      }
      if (!value.includes('<')) done.add(tag);
    }
  }
  return out;
}
